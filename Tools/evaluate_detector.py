#!/usr/bin/env python3
"""Score gradalert's detector on labelled sets of real training runs, in one command.

    Tools/evaluate_detector.py --gradalert .build/release/gradalert [SET ...]

A labelled set is a folder with a ``labels.json`` and the runs, either beside it
(``Tests/Fixtures/training``) or under ``runs/`` (``Tests/Fixtures/detection``, the detection
development set, a folder made by ``Tools/fixtures/detection_runs.py``). Without SET arguments the
two committed sets are scored: ``Tests/Fixtures/training`` and ``Tests/Fixtures/detection``.

For each set, ``gradalert scan ROOT --format json`` is run once, and every labelled run is scored:

- **recall**: exploding runs with a critical alert (any segment; the restart run's explosion is in a
  segment a later one overwrote, and counts);
- **false alarms**: healthy runs with any alert, named;
- **latency**: first critical alert step minus the labelled onset, in steps, and in logged steps
  (divided by how often the run logs gradient data; histogram-only runs log every 2-25 steps).
  Negative: flagged before the labelled onset.

Results are printed per class, per set and overall, then per run. Classes come from the labels:
``healthy``; ``early`` (onset at step 0-2, before any history); ``growth_nan`` (the norm ends
non-finite); ``cliffs`` (repeated finite jumps, the detection sets); and for the training set's
schema its ``kind_expected`` (``spike``, ``growth``, ``nonfinite``). A ``class`` field in a
labels.json wins.

The two labels.json schemas:

- training (``format: gradalert-training-labels/1``): ``runs`` is an object keyed by run name,
  with ``exploding``, ``first_explosion_step``, ``first_nonfinite_step``, ``kind_expected`` and
  ``logging.grad_every``;
- detection (the development set's): ``runs`` is a list of objects with ``run``, ``explodes``,
  ``onset_step``, ``first_nonfinite_step``, ``grad_log_every``.

Exit status: 0 whatever the scores; 2 on a usage error (no binary, a folder without labels.json, a
scan that fails). ``--json FILE`` also writes every number as JSON. Other tools (the Python
prototype of new rules, ``Tools/detector_prototype.py``) import ``load_set`` and ``score`` to
score their own alerts the same way.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_SETS = [os.path.join(ROOT, "Tests/Fixtures/training"), os.path.join(ROOT, "Tests/Fixtures/detection")]
CLASS_ORDER = ["early", "cliffs", "growth_nan", "spike", "growth", "nonfinite", "healthy"]


class UsageError(Exception):
    pass


# --------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------


def load_set(path):
    """(name, scan root, {run: label}) where a label is a dict with exploding, onset, class,
    every (logging interval of gradient data), first_logged (first logged step at or after the
    onset) and nonfinite."""
    path = os.path.abspath(path)
    labels_path = os.path.join(path, "labels.json")
    if not os.path.isfile(labels_path):
        raise UsageError("%s: no labels.json" % path)
    with open(labels_path) as f:
        doc = json.load(f)
    runs = doc.get("runs")
    out = {}
    if isinstance(runs, dict):          # training schema
        for name, r in runs.items():
            onset = r.get("first_explosion_step")
            logging_ = r.get("logging") or {}
            every = logging_.get("grad_every") or 1
            klass = r.get("class")
            if klass is None:
                if not r.get("exploding"):
                    klass = "healthy"
                elif onset is not None and onset <= 2:
                    klass = "early"
                else:
                    klass = r.get("kind_expected") or "spike"
            out[name] = {
                "exploding": bool(r.get("exploding")), "onset": onset, "class": klass, "every": every,
                "first_logged": r.get("first_explosion_logged_step", onset) if onset is not None else None,
                "nonfinite": r.get("first_nonfinite_step"),
            }
    elif isinstance(runs, list):        # detection schema
        for r in runs:
            onset = r.get("onset_step")
            klass = r.get("class")
            if klass is None:
                if not r.get("explodes"):
                    klass = "healthy"
                elif onset is not None and onset <= 2:
                    klass = "early"
                elif r.get("first_nonfinite_step") is not None:
                    klass = "growth_nan"
                else:
                    klass = "cliffs"
            first_logged = r.get("first_grad_log_step_at_or_after_onset")
            out[r["run"]] = {
                "exploding": bool(r.get("explodes")), "onset": onset, "class": klass,
                "every": r.get("grad_log_every") or 1,
                "first_logged": first_logged if first_logged is not None else onset,
                "nonfinite": r.get("first_nonfinite_step"),
            }
    else:
        raise UsageError("%s: labels.json has no runs" % labels_path)
    scan_root = os.path.join(path, "runs") if os.path.isdir(os.path.join(path, "runs")) else path
    name = os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path
    return name, scan_root, out


# --------------------------------------------------------------------------
# Scanning
# --------------------------------------------------------------------------


def scan(binary, root, extra=()):
    """{run: [alert, ...]} from gradalert scan --format json (alerts as the JSON gives them)."""
    cmd = [binary, "scan", root, "--format", "json"] + list(extra)
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as e:
        raise UsageError("cannot run %s: %s" % (binary, e))
    if proc.returncode not in (0, 1):
        raise UsageError("%s exited %d: %s" % (" ".join(cmd), proc.returncode, proc.stderr.strip()[:500]))
    doc = json.loads(proc.stdout)
    return {r["run"]: r.get("alerts", []) for r in doc["runs"]}


# --------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------


def score(labels, alerts_by_run):
    """One row per labelled run. alerts_by_run: {run: [alert dicts with kind, severity, tag, step]}.
    A labelled run that the scan did not find counts as silent (and is marked missing)."""
    rows = []
    for run in sorted(labels):
        lab = labels[run]
        alerts = alerts_by_run.get(run)
        missing = alerts is None
        alerts = alerts or []
        alerts = sorted(alerts, key=lambda a: (a.get("segment", 0), a["step"]))
        critical = [a for a in alerts if a["severity"] == "critical"]
        first = alerts[0] if alerts else None
        first_crit = critical[0] if critical else None
        row = {"run": run, "class": lab["class"], "exploding": lab["exploding"], "onset": lab["onset"],
               "every": lab["every"], "missing": missing, "alerts": len(alerts),
               "first_alert": first and {"step": first["step"], "kind": first["kind"], "tag": first["tag"],
                                          "severity": first["severity"]},
               "first_critical": first_crit and {"step": first_crit["step"], "kind": first_crit["kind"],
                                                  "tag": first_crit["tag"]}}
        if lab["exploding"]:
            row["flagged"] = first_crit is not None
            if first_crit is not None and lab["onset"] is not None:
                lat = first_crit["step"] - lab["onset"]
                row["latency"] = lat
                ref = lab["first_logged"] if lab["first_logged"] is not None else lab["onset"]
                # In logged steps: how many logged gradient values after the first one at or after
                # the onset the alert came (negative: before the onset).
                d = first_crit["step"] - ref
                row["latency_logged"] = d // lab["every"] if d >= 0 else -((-d + lab["every"] - 1) // lab["every"])
        else:
            row["false_alarm"] = bool(alerts)
        rows.append(row)
    return rows


def summarize(rows):
    expl = [r for r in rows if r["exploding"]]
    healthy = [r for r in rows if not r["exploding"]]
    lat = [r["latency"] for r in expl if "latency" in r]
    latl = [r["latency_logged"] for r in expl if "latency_logged" in r]
    return {
        "runs": len(rows), "exploding": len(expl), "flagged": sum(r["flagged"] for r in expl),
        "healthy": len(healthy), "false_alarms": sum(r["false_alarm"] for r in healthy),
        "false_alarm_runs": [r["run"] for r in healthy if r["false_alarm"]],
        "missed_runs": [r["run"] for r in expl if not r["flagged"]],
        "latency_median": statistics.median(lat) if lat else None, "latency_max": max(lat) if lat else None,
        "latency_min": min(lat) if lat else None,
        "latency_logged_median": statistics.median(latl) if latl else None,
        "latency_logged_max": max(latl) if latl else None,
    }


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, float):
        return ("%.1f" % v).rstrip("0").rstrip(".")
    return str(v)


def summary_line(label, s):
    rec = "%d/%d" % (s["flagged"], s["exploding"]) if s["exploding"] else "–"
    fa = "%d/%d" % (s["false_alarms"], s["healthy"]) if s["healthy"] else "–"
    lat = "%s / %s" % (fmt(s["latency_median"]), fmt(s["latency_max"])) if s["latency_median"] is not None else "–"
    latl = ("%s / %s" % (fmt(s["latency_logged_median"]), fmt(s["latency_logged_max"]))
            if s["latency_logged_median"] is not None else "–")
    early = fmt(s["latency_min"]) if s["latency_min"] is not None and s["latency_min"] < 0 else ""
    return "| %s | %s | %s | %s | %s | %s |" % (label, rec, fa, lat, latl, early)


def report(results, out=sys.stdout, per_run=True):
    """results: [(set name, rows)]. Prints the markdown tables."""
    header = ("| %s | recall (critical) | false alarms | latency median / max (steps) | "
              "latency median / max (logged steps) | earliest (before onset) |")
    rule = "|---|---|---|---|---|---|"
    all_rows = [r for _, rows in results for r in rows]
    print("### Per class (all sets)\n", file=out)
    print(header % "class", file=out)
    print(rule, file=out)
    classes = sorted({r["class"] for r in all_rows},
                     key=lambda c: (CLASS_ORDER.index(c) if c in CLASS_ORDER else len(CLASS_ORDER), c))
    for c in classes:
        print(summary_line(c, summarize([r for r in all_rows if r["class"] == c])), file=out)
    print(summary_line("**all**", summarize(all_rows)), file=out)
    print("\n### Per set\n", file=out)
    print(header % "set", file=out)
    print(rule, file=out)
    for name, rows in results:
        print(summary_line(name, summarize(rows)), file=out)
        for c in classes:
            sub = [r for r in rows if r["class"] == c]
            if sub:
                print(summary_line("&nbsp;&nbsp;%s" % c, summarize(sub)), file=out)
    s = summarize(all_rows)
    print("\nFalse alarms: %s" % (", ".join(s["false_alarm_runs"]) or "none"), file=out)
    print("Missed explosions: %s" % (", ".join(s["missed_runs"]) or "none"), file=out)
    if not per_run:
        return
    print("\n### Per run\n", file=out)
    print("| set | run | class | onset | every | first critical (step kind tag) | latency | logged | "
          "first alert if not critical | verdict |", file=out)
    print("|---|---|---|---|---|---|---|---|---|---|", file=out)
    for name, rows in results:
        for r in rows:
            fc = r["first_critical"]
            fa = r["first_alert"]
            if r["exploding"]:
                verdict = "ok" if r["flagged"] else "**missed**"
            else:
                verdict = "**false alarm**" if r["false_alarm"] else "ok"
            if r["missing"]:
                verdict += " (run not found by the scan)"
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                os.path.basename(name), r["run"], r["class"], fmt(r["onset"]), r["every"],
                "%d %s %s" % (fc["step"], fc["kind"], fc["tag"]) if fc else "–",
                fmt(r.get("latency")), fmt(r.get("latency_logged")),
                "%d %s %s %s" % (fa["step"], fa["severity"], fa["kind"], fa["tag"]) if (fa and not fc) else "",
                verdict), file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("sets", nargs="*", help="labelled sets (folders with labels.json); default: %s" %
                    ", ".join(os.path.relpath(p, ROOT) for p in DEFAULT_SETS))
    ap.add_argument("--gradalert", required=True, help="the gradalert binary")
    ap.add_argument("--scan-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for gradalert scan (repeatable), e.g. --scan-arg=--spike-ratio=5")
    ap.add_argument("--json", metavar="FILE", help="also write every number as JSON")
    ap.add_argument("--no-runs", action="store_true", help="leave out the per-run table")
    args = ap.parse_args(argv)
    try:
        if not (os.path.isfile(args.gradalert) and os.access(args.gradalert, os.X_OK)):
            raise UsageError("%s: not an executable file" % args.gradalert)
        results = []
        for path in args.sets or DEFAULT_SETS:
            name, root, labels = load_set(path)
            results.append((name, score(labels, scan(args.gradalert, root, args.scan_arg))))
    except UsageError as e:
        print("evaluate_detector: %s" % e, file=sys.stderr)
        return 2
    report(results, per_run=not args.no_runs)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sets": [{"set": n, "runs": rows, "summary": summarize(rows)} for n, rows in results],
                       "summary": summarize([r for _, rows in results for r in rows])}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
