#!/usr/bin/env python3
"""Prototype of new detector rules for issue 17, on the series gradalert exports.

Issue 17: explosions at step 0-2 (before any history) and repeated cliffs in noisy, clipped runs.
This file holds

1. a Python port of the current rules (``SeriesMonitor``/``ExplosionDetector`` at the commit the
   baseline binary was built from: nonfinite, spike with its early-steps rule, absolute bound,
   ceiling, closing and re-baselining, growth, vanishing, collapse), checked against
   ``gradalert scan`` alert for alert (``--check``);
2. the proposed rules, each switchable and with its parameters in ``Params``:
   - ``early`` (part of the spike rule's early-steps test, critical): while a gradient-norm series
     has 1-9 baseline values, a value >= 10x the median of its values so far is a spike when a loss
     logged at the same step is >= 2x the median of its own values so far (the loss's first 10);
     the bare early-steps test (100x) is unchanged;
   - ``cliffs`` (a new kind, critical, global norms only): a cliff is a value >= 10x the lower of
     the spike baseline's median and the series' starting level (the median of its first 20
     values), and >= the highest median the baseline has had (the spike rule's ceiling), judged
     once the baseline holds 10 values; an excursion is a cliff whose previous value was not one;
     the rule alerts at the 2nd excursion within the series' last 50 values, and the episode
     closes when the last 50 values hold none;
   - the tag fix: a gradient tag that mentions clipping (the post-clip norm) is not a layer norm;
     it is kept out of the rules (so a run's gradient histograms are no longer dropped for its
     sake), and its presence says that clipping is active (the cliffs message says so);
3. the evaluation of the current rules + the new ones on labelled sets, scored exactly as
   ``Tools/evaluate_detector.py`` scores the binary, and a +-50% sweep of every threshold.

Series come from ``gradalert export`` (the binary given with ``--gradalert``), so the prototype sees
exactly what the detector sees. The tag fix is emulated with two exports: one whose gradient pattern
leaves out tags that mention clipping (so a run's gradient histograms are no longer dropped for the
sake of a "layer" norm that is really the post-clip norm), one of the clip tags alone.

    Tools/detector_prototype.py --gradalert PATH [--check] [--sweep] [--baseline] [SET ...]

Default sets: Tests/Fixtures/training, Tests/Fixtures/detection. Pass the development set
(shared/detection-devset) and a generated folder (/tmp/detection-gen) as extra sets.
"""

import argparse
import copy
import csv
import io
import math
import os
import subprocess
import sys
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import evaluate_detector as ev  # noqa: E402

LOG10 = math.log10
GRAD_ROLES = ("global_gradient_norm", "layer_gradient_norm")
# The fixed classification, emulated on the export: gradient tags that do not mention clipping...
FIXED_GRAD_TAGS = r"^(?!.*clip).*(grad|gnorm)"
# ...and the post-clip norms alone.
CLIP_TAGS = r"^(?=.*clip).*(grad|gnorm)"


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------


class Params:
    """Every threshold: the current defaults (docs/detector.md) and the proposed rules'."""

    def __init__(self, **kw):
        # Current rules.
        self.spike_window = 50
        self.spike_min_history = 10
        self.spike_z = 6.0
        self.spike_min_ratio = 10.0
        self.spike_min_above_ceiling = 1.0
        self.spike_early_min_ratio = 100.0
        self.spike_absolute_bound = 1e6
        self.spike_mad_floor = 0.05
        self.spike_close_ratio = 3.0
        self.growth_window = 20
        self.growth_min_factor = 4.0
        self.growth_min_increasing = 0.75
        self.growth_min_fit = 0.8
        self.growth_min_above_baseline = 2.0
        self.vanishing_floor = 1e-8
        self.vanishing_window = 50
        self.collapse_decades = 3.0
        self.collapse_window = 50
        self.collapse_fraction = 0.9
        self.collapse_loss_progress = 0.5
        self.recovery_points = 5
        # Proposed: early jump corroborated by the loss.
        self.early = True
        self.early_norm_ratio = 10.0     # the norm: >= this x the median of its values so far
        self.early_loss_ratio = 2.0      # the loss at the same step: >= this x the median of its values so far
        self.early_steps = 10            # only while the series has fewer baseline values than this
        # Proposed: repeated cliffs.
        self.cliffs = True
        self.cliffs_ratio = 10.0         # a cliff: >= this x the baseline median (and >= the ceiling)
        self.cliffs_count = 2            # this many cliffs (separate excursions)...
        self.cliffs_window = 50          # ...within this many values of the series
        self.cliffs_roles = ("global_gradient_norm",)
        # The usual level a cliff is measured against: "rolling" (the spike baseline's median) or
        # "min" (the lower of that and the series' starting level, the median of its first
        # cliffs_start_values values: a run whose floor rises with its cliffs does not hide them).
        self.cliffs_reference = "min"
        self.cliffs_start_values = 20
        for k, v in kw.items():
            if not hasattr(self, k):
                raise KeyError(k)
            setattr(self, k, v)

    def copy(self, **kw):
        p = copy.copy(self)
        for k, v in kw.items():
            if not hasattr(p, k):
                raise KeyError(k)
            setattr(p, k, v)
        return p


def baseline_params():
    return Params(early=False, cliffs=False)


# --------------------------------------------------------------------------
# The current rules, ported
# --------------------------------------------------------------------------


class Window:
    """The last `capacity` values; median and MAD as SlidingWindow computes them."""

    def __init__(self, capacity):
        self.capacity = max(1, capacity)
        self.values = []

    def append(self, v):
        self.values.append(v)
        if len(self.values) > self.capacity:
            del self.values[0]

    def clear(self):
        self.values = []

    def __len__(self):
        return len(self.values)

    def median(self):
        s = sorted(self.values)
        n = len(s)
        return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2

    def mad(self, center):
        d = sorted(abs(v - center) for v in self.values)
        n = len(d)
        return d[n // 2] if n % 2 else (d[n // 2 - 1] + d[n // 2]) / 2


class Episode:
    def __init__(self, severity, baseline_log=None):
        self.severity = severity
        self.baseline_log = baseline_log
        self.normal_run = 0
        self.points_open = 0


def alert(kind, severity, name, role, step, value, baseline, ratio, message):
    return {"kind": kind, "severity": severity, "tag": name, "role": role, "step": step,
            "value": value, "baseline": baseline, "ratio": ratio, "message": message}


def f3(v):
    """Three significant digits, as the detector prints numbers."""
    if v is None:
        return "-"
    if not math.isfinite(v):
        return "NaN" if v != v else ("Inf" if v > 0 else "-Inf")
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        e = int(math.floor(LOG10(abs(v))))
        return "%se%d" % (("%.3g" % (v / 10 ** e)), e)
    return "%.3g" % v


class SeriesMonitor:
    def __init__(self, name, role, p):
        self.name, self.role, self.p = name, role, p
        self.baseline = Window(p.spike_window)
        self.recent = Window(p.growth_window)
        self.points = 0
        self.ever_nonzero = False
        self.below_floor = 0
        self.collapsed_flags = []
        self.loss_window = Window(max(1, p.collapse_window)) if role == "loss" else None
        self.loss_start_median = None
        self.open = {}
        self.highest_median = -math.inf
        self.collapse_ceiling = -math.inf
        self.in_spike_regime = False
        self.absurd_at_open = False
        # Proposed rules' state.
        self.values_so_far = []          # early rule: positive finite values while early (<= early_steps)
        self.cliff_flags = []            # cliffs rule: did a cliff start at each of the last cliffs_window values
        self.in_cliff = False            # cliffs rule: the previous value was over the cliff line
        self.start_values = []           # cliffs rule: log10 of the first cliffs_start_values positive values
        self.last_jump = None            # loss: this step's ratio to the median of its values so far

    @property
    def loss_progress(self):
        if self.loss_start_median is None or self.loss_start_median <= 0 or self.loss_window is None:
            return None
        return self.loss_window.median() / self.loss_start_median

    def has_open(self):
        return bool(self.open)

    def recover(self, kind, normal):
        ep = self.open.get(kind)
        if ep is None:
            return
        if normal:
            ep.normal_run += 1
            if ep.normal_run >= self.p.recovery_points:
                del self.open[kind]
        else:
            ep.normal_run = 0

    def observe(self, step, value, loss_progress, ctx):
        p = self.p
        self.points += 1
        alerts = []
        is_norm = self.role in GRAD_ROLES
        if not math.isfinite(value):
            if "nonfinite" not in self.open:
                self.open["nonfinite"] = Episode("critical")
                what = "NaN" if value != value else ("+Inf" if value > 0 else "-Inf")
                alerts.append(alert("nonfinite", "critical", self.name, self.role, step, value, None, None,
                                    "%s is %s at step %d" % (self.name, what, step)))
            self.open["nonfinite"].normal_run = 0
            self.recent.clear()
            self.below_floor = 0
            if self.role == "loss":
                self.last_jump = None
            return alerts
        self.recover("nonfinite", True)
        if value != 0:
            self.ever_nonzero = True
        if self.loss_window is not None:
            self.loss_window.append(value)
            if self.loss_start_median is None and len(self.loss_window) == p.collapse_window:
                self.loss_start_median = self.loss_window.median()
        x = LOG10(value) if value > 0 else -math.inf

        # Proposed early rule, loss side: remember how far this step's loss jumped over its own
        # values so far (read by the norms of the same step, which the detector looks at after the
        # losses).
        if self.role == "loss":
            self.last_jump = None
            if value > 0 and self.values_so_far and len(self.values_so_far) < p.early_steps:
                m = median(self.values_so_far)
                self.last_jump = (value / m, m)
            if value > 0 and len(self.values_so_far) < p.early_steps:
                self.values_so_far.append(value)

        alerts += self.evaluate_spike(step, value, x, ctx)
        if value > 0 and len(self.start_values) < p.cliffs_start_values:
            self.start_values.append(x)

        if value > 0:
            self.recent.append(x)
        else:
            self.recent.clear()
        if is_norm:
            above = (len(self.baseline) < p.spike_min_history or value <= 0
                     or x - self.baseline.median() >= LOG10(p.growth_min_above_baseline))
            sig = self.growth_signal() if above else None
            if sig:
                if "growth" not in self.open:
                    self.open["growth"] = Episode("warning")
                    rise, fit = sig
                    alerts.append(alert("growth", "warning", self.name, self.role, step, value,
                                        10 ** self.recent.values[0], 10 ** rise,
                                        "%s grew %sx over the last %d points" % (self.name, f3(10 ** rise), len(self.recent))))
                self.open["growth"].normal_run = 0
            else:
                self.recover("growth", True)
            # Vanishing.
            if value < p.vanishing_floor:
                self.below_floor += 1
                if self.below_floor >= p.vanishing_window and self.ever_nonzero and "vanishing" not in self.open:
                    self.open["vanishing"] = Episode("warning")
                    alerts.append(alert("vanishing", "warning", self.name, self.role, step, value, p.vanishing_floor,
                                        None, "%s has stayed below %s" % (self.name, f3(p.vanishing_floor))))
                if "vanishing" in self.open:
                    self.open["vanishing"].normal_run = 0
            else:
                self.below_floor = 0
                self.recover("vanishing", True)
            # Collapse.
            if p.collapse_window > 0:
                ceiling = self.collapse_ceiling
                collapsed = ceiling > -math.inf and (value == 0 or x < ceiling - p.collapse_decades)
                self.collapsed_flags.append(collapsed)
                if len(self.collapsed_flags) > p.collapse_window:
                    del self.collapsed_flags[0]
                count = sum(self.collapsed_flags)
                needed = max(1, int(math.ceil(p.collapse_fraction * p.collapse_window)))
                enough = len(self.collapsed_flags) == p.collapse_window and count >= needed
                if (enough and loss_progress is not None and loss_progress >= p.collapse_loss_progress
                        and self.ever_nonzero and "collapse" not in self.open):
                    self.open["collapse"] = Episode("warning")
                    alerts.append(alert("collapse", "warning", self.name, self.role, step, value, 10 ** ceiling,
                                        value / 10 ** ceiling, "%s collapsed" % self.name))
                if "collapse" in self.open and count * 2 < p.collapse_window:
                    del self.open["collapse"]
        return alerts

    def growth_signal(self):
        p = self.p
        if len(self.recent) < p.growth_window or p.growth_window < 3:
            return None
        y = self.recent.values
        n = float(len(y))
        mx = (n - 1) / 2
        my = sum(y) / n
        sxy = sxx = syy = 0.0
        inc = 0
        for i, v in enumerate(y):
            dx, dy = i - mx, v - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
            if i > 0 and v > y[i - 1]:
                inc += 1
        if sxx <= 0 or syy <= 0:
            return None
        rise = sxy / sxx * (n - 1)
        fit = sxy * sxy / (sxx * syy)
        if rise >= LOG10(p.growth_min_factor) and fit >= p.growth_min_fit and inc / (n - 1) >= p.growth_min_increasing:
            return rise, fit
        return None

    def evaluate_spike(self, step, value, x, ctx):
        p = self.p
        alerts = []
        is_grad = self.role != "loss"
        if value <= 0:
            self.recover("spike", True)
            self.note_cliff(False)
            return alerts
        ep = self.open.get("spike")
        if ep is not None:
            ep.points_open += 1
            if ep.points_open >= p.spike_window:
                del self.open["spike"]
                self.baseline.clear()
                self.highest_median = -math.inf
                if self.collapse_ceiling > -math.inf:
                    self.in_spike_regime = True
                self.baseline.append(x)
                self.note_cliff(False)
                return alerts
            if ep.baseline_log is not None:
                normal = x - ep.baseline_log <= LOG10(p.spike_close_ratio)
            else:
                normal = value < p.spike_absolute_bound
            self.recover("spike", normal)
            if "spike" not in self.open and normal:
                self.baseline.append(x)
            self.note_cliff(False)
            return alerts
        fired = None
        cliff = False
        if len(self.baseline) >= p.spike_min_history:
            med = self.baseline.median()
            self.highest_median = max(self.highest_median, med)
            if self.in_spike_regime and med <= self.collapse_ceiling + LOG10(p.spike_close_ratio):
                self.in_spike_regime = False
            if not self.in_spike_regime:
                self.collapse_ceiling = max(self.collapse_ceiling, med)
            above_ceiling = x - self.highest_median >= LOG10(p.spike_min_above_ceiling)
            if x - med >= LOG10(p.spike_min_ratio) - 1e-9 and 10 ** (x - med) >= p.spike_min_ratio and above_ceiling:
                mad = 1.4826 * self.baseline.mad(med)
                z = (x - med) / max(mad, p.spike_mad_floor)
                if z >= p.spike_z:
                    fired = (med, "%s = %s at step %d is %sx its recent median %s (robust z %s)" % (
                        self.name, f3(value), step, f3(10 ** (x - med)), f3(10 ** med), f3(z)))
            # Proposed: repeated cliffs (a value far over the usual level, however noisy the series).
            if p.cliffs and self.role in p.cliffs_roles:
                ref = med
                if p.cliffs_reference == "min" and self.start_values:
                    ref = min(med, median(self.start_values))
                cliff = x - ref >= LOG10(p.cliffs_ratio) - 1e-9 and above_ceiling
                self.note_cliff(cliff)
                n = sum(self.cliff_flags)
                if cliff and self.cliff_flags[-1] and fired is None and n >= p.cliffs_count and "cliffs" not in self.open:
                    self.open["cliffs"] = Episode("critical", ref)
                    first = len(self.cliff_flags) - self.cliff_flags.index(True)
                    z = (x - med) / max(1.4826 * self.baseline.mad(med), p.spike_mad_floor)
                    clip = ctx.get("clipping")
                    level = ("its usual level %s (median of its last %d values)" % (f3(10 ** med), len(self.baseline))
                             if ref == med else "its starting level %s (median of its first %d values; recent median %s)"
                             % (f3(10 ** ref), len(self.start_values), f3(10 ** med)))
                    msg = ("%s = %s at step %d is %sx %s: the %s jump over %sx in its last %d values. Repeated "
                           "cliffs: the gradients keep exploding, in a series too noisy for the spike test "
                           "(robust z %s)%s" % (
                               self.name, f3(value), step, f3(10 ** (x - ref)), level, ordinal(n), f3(p.cliffs_ratio),
                               first, f3(z),
                               ("; clipping is active (%s is logged): it caps the updates, not the gradients" % clip)
                               if clip else ""))
                    a = alert("cliffs", "critical", self.name, self.role, step, value, 10 ** ref, 10 ** (x - ref), msg)
                    a["rule"] = "cliffs"
                    alerts.append(a)
        elif len(self.baseline) > 0:
            med = self.baseline.median()
            ratio = 10 ** (x - med)
            if ratio >= p.spike_early_min_ratio:
                fired = (med, "%s = %s at step %d is %sx the median of its first %d points" % (
                    self.name, f3(value), step, f3(ratio), len(self.baseline)))
            elif p.early and is_grad and len(self.baseline) < p.early_steps and ratio >= p.early_norm_ratio:
                # Proposed: an early jump the loss corroborates.
                jump = ctx.get("loss_jump")
                if p.early_loss_ratio <= 0 and jump is None:
                    jump = (float("nan"), float("nan"))     # sweep only: no corroboration asked for
                if jump is not None and (p.early_loss_ratio <= 0 or jump[0] >= p.early_loss_ratio):
                    fired = (med, "%s = %s at step %d is %sx the median of its first %d values, and the loss jumped "
                             "with it (%sx its own, to %s): the first updates blew the model up" % (
                                 self.name, f3(value), step, f3(ratio), len(self.baseline), f3(jump[0]),
                                 f3(jump[0] * jump[1])), "early")
            self.note_cliff(False)
        else:
            self.note_cliff(False)
        if fired is None and is_grad and p.spike_absolute_bound and value >= p.spike_absolute_bound:
            fired = (None, "%s = %s at step %d: no healthy gradient is this large (bound %s)" % (
                self.name, f3(value), step, f3(p.spike_absolute_bound)))
        if fired is not None:
            self.open["spike"] = Episode("critical", fired[0])
            base = 10 ** fired[0] if fired[0] is not None else None
            ratio = value / base if base else (value / p.spike_absolute_bound if p.spike_absolute_bound else None)
            a = alert("spike", "critical", self.name, self.role, step, value, base, ratio, fired[1])
            if len(fired) == 3:
                a["rule"] = fired[2]
            alerts.append(a)
            self.absurd_at_open = fired[0] is None
        else:
            self.baseline.append(x)
        return alerts

    def note_cliff(self, cliff):
        """Cliffs rule: one more value judged; the episode closes once the window holds no cliff."""
        if not (self.p.cliffs and self.role in self.p.cliffs_roles):
            return
        # Count excursions, not values: a series that stays over the line (growth, a new level) is
        # one excursion, and the growth and spike rules speak for it.
        self.cliff_flags.append(bool(cliff) and not self.in_cliff)
        self.in_cliff = bool(cliff)
        if len(self.cliff_flags) > self.p.cliffs_window:
            del self.cliff_flags[0]
        if "cliffs" in self.open and not any(self.cliff_flags):
            del self.open["cliffs"]


def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def ordinal(n):
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, "%dth" % n)


class Detector:
    """One segment of one run: series registered in order of appearance, losses first at each step."""

    def __init__(self, p, clipping=None):
        self.p = p
        self.monitors = OrderedDict()
        self.alerts = []
        self.clipping = clipping

    def observe(self, step, points):
        """points: [(name, role, value)] of one step."""
        raised = []
        for name, role, _ in points:
            if name not in self.monitors:
                self.monitors[name] = SeriesMonitor(name, role, self.p)
        losses = [(n, r, v) for n, r, v in points if r == "loss"]
        others = [(n, r, v) for n, r, v in points if r != "loss"]
        for n, r, v in losses:
            raised += self.monitors[n].observe(step, v, None, {})
        progress = None
        for m in self.monitors.values():
            if m.role == "loss" and m.loss_progress is not None:
                progress = m.loss_progress if progress is None else min(progress, m.loss_progress)
        # The largest loss jump of this step (the early rule's corroboration).
        jump = None
        for n, r, v in losses:
            j = self.monitors[n].last_jump
            if j is not None and (jump is None or j[0] > jump[0]):
                jump = j
        ctx = {"loss_jump": jump, "clipping": self.clipping}
        for n, r, v in others:
            raised += self.monitors[n].observe(step, v, progress, ctx)
        for a in raised:
            a["step"] = step
        self.alerts += raised
        return raised


# --------------------------------------------------------------------------
# Series from gradalert export
# --------------------------------------------------------------------------


def export(binary, root, grad_tags=None):
    cmd = [binary, "export", root, "--format", "csv"]
    if grad_tags:
        cmd += ["--grad-tags", grad_tags]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True).stdout
    runs = OrderedDict()
    for r in csv.DictReader(io.StringIO(out)):
        seg = runs.setdefault(r["run"], OrderedDict()).setdefault(int(r["segment"]), OrderedDict())
        seg.setdefault(int(r["step"]), []).append((r["tag"], r["role"], float(r["value"])))
    return runs


def load_series(binary, root, fixed_tags=True):
    """{run: {segment: {step: [(tag, role, value)]}}} and {run: clipped tag or None}."""
    if not fixed_tags:
        return export(binary, root), {}
    runs = export(binary, root, FIXED_GRAD_TAGS)
    clip = export(binary, root, CLIP_TAGS)
    clipping = {}
    for run, segs in clip.items():
        tags = {t for seg in segs.values() for pts in seg.values() for t, role, _ in pts if role != "loss"}
        if tags:
            clipping[run] = sorted(tags)[0]
    return runs, clipping


def detect(runs, clipping, p):
    """{run: [alerts]} with the segment in each alert."""
    out = {}
    for run, segs in runs.items():
        alerts = []
        for seg, steps in segs.items():
            d = Detector(p, clipping.get(run))
            for step in sorted(steps):
                for a in d.observe(step, steps[step]):
                    a["segment"] = seg
                    alerts.append(a)
        out[run] = alerts
    return out


# --------------------------------------------------------------------------
# Checks, evaluation, sweeps
# --------------------------------------------------------------------------


def check_port(binary, sets):
    """The port with the new rules off must raise exactly the binary's alerts (kind, tag, step, segment)."""
    ok = True
    for path in sets:
        name, root, labels = ev.load_set(path)
        runs, _ = load_series(binary, root, fixed_tags=False)
        mine = detect(runs, {}, baseline_params())
        theirs = ev.scan(binary, root)
        for run in sorted(set(mine) | set(theirs)):
            a = [(x["segment"], x["step"], x["kind"], x["tag"]) for x in mine.get(run, [])]
            b = [(x["segment"], x["step"], x["kind"], x["tag"]) for x in theirs.get(run, [])]
            if sorted(a) != sorted(b):
                ok = False
                print("MISMATCH %s %s\n  port:   %s\n  binary: %s" % (name, run, sorted(a)[:8], sorted(b)[:8]))
        print("port check %s: %s" % (name, "identical alerts" if ok else "differences above"))
    return ok


def evaluate(binary, sets, p, fixed_tags=True, cache=None):
    results = []
    for path in sets:
        name, root, labels = ev.load_set(path)
        key = (root, fixed_tags)
        if cache is not None and key in cache:
            runs, clipping = cache[key]
        else:
            runs, clipping = load_series(binary, root, fixed_tags)
            if cache is not None:
                cache[key] = (runs, clipping)
        results.append((name, ev.score(labels, detect(runs, clipping, p))))
    return results


def brief(results):
    rows = [r for _, rs in results for r in rs]
    s = ev.summarize(rows)
    by_class = {}
    for c in sorted({r["class"] for r in rows}):
        sub = ev.summarize([r for r in rows if r["class"] == c])
        by_class[c] = sub
    return s, by_class


SWEEPS = [
    ("early_norm_ratio", 10.0, (3.0, 5.0, 7.5, 10.0, 12.5, 15.0)),
    ("early_loss_ratio", 2.0, (0.0, 1.0, 1.5, 2.0, 2.5, 3.0)),
    ("early_steps", 10, (5, 8, 10, 12, 15)),
    ("cliffs_ratio", 10.0, (5.0, 7.5, 10.0, 12.5, 15.0)),
    ("cliffs_count", 2, (1, 2, 3)),
    ("cliffs_window", 50, (25, 38, 50, 62, 75)),
    ("cliffs_start_values", 20, (10, 15, 20, 25, 30)),
    ("cliffs_reference", "min", ("rolling", "min")),
]


def class_cell(rows, c):
    sub = [r for r in rows if r["class"] == c]
    if not sub:
        return "–"
    s = ev.summarize(sub)
    return "%d/%d (%s / %s)" % (s["flagged"], s["exploding"], ev.fmt(s["latency_median"]), ev.fmt(s["latency_max"]))


def training_changes(binary, p, cache):
    """Training runs whose verdict or first alert differ from the binary's (the issue's must-not)."""
    path = ev.DEFAULT_SETS[0]
    name, root, labels = ev.load_set(path)
    key = ("scan", root)
    if key not in cache:
        cache[key] = ev.scan(binary, root)
    theirs = cache[key]
    if (root, True) not in cache:
        cache[(root, True)] = load_series(binary, root, True)
    runs, clipping = cache[(root, True)]
    mine = detect(runs, clipping, p)
    out = []
    for run in sorted(labels):
        a, b = theirs.get(run, []), mine.get(run, [])
        if verdict(a) != verdict(b) or first(a) != first(b):
            out.append("%s: %s, %s -> %s, %s" % (run, verdict(a), first(a), verdict(b), first(b)))
    return out


def sweep(binary, sets, p):
    """Each new threshold from 50% to 150% of its default (others at their defaults): recall and
    latency (median / max, steps) per class, false alarms, and changes on the training fixtures."""
    cache = {}
    print("| parameter | value | early | cliffs | growth_nan | false alarms | training runs changed |")
    print("|---|---|---|---|---|---|---|")
    for name, default, values in SWEEPS:
        for v in values:
            q = p.copy(**{name: v})
            rows = [r for _, rs in evaluate(binary, sets, q, cache=cache) for r in rs]
            s = ev.summarize(rows)
            changes = training_changes(binary, q, cache)
            print("| %s | %s%s | %s | %s | %s | %d/%d %s | %s |" % (
                name, ev.fmt(v), " (default)" if v == default else "",
                class_cell(rows, "early"), class_cell(rows, "cliffs"), class_cell(rows, "growth_nan"),
                s["false_alarms"], s["healthy"], ", ".join(s["false_alarm_runs"]),
                "; ".join(changes) or "none"), flush=True)


def verdict(alerts):
    if any(a["kind"] == "nonfinite" for a in alerts):
        return "nonfinite"
    if any(a["severity"] == "critical" for a in alerts):
        return "exploding"
    return "warning" if alerts else "healthy"


def first(alerts):
    if not alerts:
        return None
    a = min(alerts, key=lambda a: (a.get("segment", 0), a["step"]))
    return "%d %s" % (a["step"], a["kind"])


def compare(binary, sets, p):
    """Per run: the binary's verdict and first alert against the prototype's (current + new rules,
    fixed tags). Prints the runs where either changed."""
    print("| set | run | label | binary: verdict, first alert | prototype: verdict, first alert, first critical |")
    print("|---|---|---|---|---|")
    changed = 0
    for path in sets:
        name, root, labels = ev.load_set(path)
        theirs = ev.scan(binary, root)
        runs, clipping = load_series(binary, root)
        mine = detect(runs, clipping, p)
        for run in sorted(labels):
            a, b = theirs.get(run, []), mine.get(run, [])
            crit = [x for x in b if x["severity"] == "critical"]
            if verdict(a) != verdict(b) or first(a) != first(b):
                changed += 1
                print("| %s | %s | %s | %s, %s | %s, %s, %s |" % (
                    os.path.basename(name), run, labels[run]["class"], verdict(a), first(a), verdict(b), first(b),
                    first(crit)))
    print("\n%d runs changed" % changed)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="*", help="labelled sets (default: the two committed ones)")
    ap.add_argument("--gradalert", required=True, help="a gradalert binary (for export, and scan with --check)")
    ap.add_argument("--check", action="store_true", help="check the port against gradalert scan, then stop")
    ap.add_argument("--baseline", action="store_true", help="score the ported current rules only (old tags)")
    ap.add_argument("--no-early", action="store_true", help="leave the early-jump rule out")
    ap.add_argument("--no-cliffs", action="store_true", help="leave the cliffs rule out")
    ap.add_argument("--old-tags", action="store_true", help="without the post-clip tag fix")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    ap.add_argument("--compare", action="store_true", help="runs whose verdict or first alert the new rules change")
    ap.add_argument("--sweep", action="store_true", help="sweep each new threshold over 50%%..150%%")
    ap.add_argument("--no-runs", action="store_true", help="leave out the per-run table")
    ap.add_argument("--alerts", action="store_true", help="print every alert of the new rules")
    args = ap.parse_args(argv)
    sets = args.sets or ev.DEFAULT_SETS
    if args.check:
        return 0 if check_port(args.gradalert, sets) else 1
    p = baseline_params() if args.baseline else Params()
    if args.no_early:
        p.early = False
    if args.no_cliffs:
        p.cliffs = False
    for kv in args.set:
        k, _, v = kv.partition("=")
        cur = getattr(p, k)
        setattr(p, k, type(cur)(v) if not isinstance(cur, bool) else v.lower() in ("1", "true", "yes"))
    if args.sweep:
        sweep(args.gradalert, sets, p)
        return 0
    if args.compare:
        compare(args.gradalert, sets, p)
        return 0
    fixed = not (args.baseline or args.old_tags)
    results = evaluate(args.gradalert, sets, p, fixed_tags=fixed)
    ev.report(results, per_run=not args.no_runs)
    if args.alerts:
        for path in sets:
            name, root, labels = ev.load_set(path)
            runs, clipping = load_series(args.gradalert, root, fixed)
            for run, alerts in detect(runs, clipping, p).items():
                for a in alerts:
                    if a.get("rule"):
                        print("%s %s [%s] %s" % (os.path.basename(name), run, a["rule"], a["message"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
