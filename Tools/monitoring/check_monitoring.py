#!/usr/bin/env python3
"""End-to-end check of `gradalert watch --metrics-listen` against real Prometheus and Alertmanager.

    check_monitoring.py --gradalert PATH [--rate 600] [--alert-timeout 60] [--settle 10] [--keep]

Run it with the Python of Tools/compat's venv (TensorBoard's loader computes the expected values).
It needs Debian's `prometheus` and `prometheus-alertmanager` (prometheus, promtool,
prometheus-alertmanager, amtool on PATH). What it does:

 1. Validates the shipped files: `promtool check rules` and `promtool test rules` on
    docs/prometheus/gradalert-rules.yml, `promtool check config` on docs/prometheus/prometheus.yml,
    `amtool check-config` on docs/prometheus/alertmanager.yml, and that the latter routes a
    GradalertCriticalIncident alert to its own incident-grouped route.
 2. Starts Prometheus (scrape and rule evaluation every 1 s) and Alertmanager on free loopback
    ports with temporary configs and data (servers.py), loading the shipped rules, and a webhook
    receiver; then `gradalert watch LOGDIR --metrics-listen 127.0.0.1:PORT --interval 0.5`.
 3. Replays three real training runs from Tests/Fixtures/training into LOGDIR at --rate
    records/s per file, all at once (replay.py): one whose RNN layer explodes first (critical,
    origin `rnn`), one data-parallel run with two ranks written at the same time (a healthy rank
    and one that grows to +Inf), its name holding a quote, a backslash and non-ASCII letters,
    and a healthy run.
 4. When the writers are done, computes each file's final values with TensorBoard's loader and
    asserts over PromQL that gradalert_last_step, gradalert_gradient_norm,
    gradalert_gradient_norm_step, gradalert_loss and gradalert_last_step_timestamp_seconds are
    exactly those values, for every run and stream (ranks are matched to streams by their values;
    each rank must have a stream of its own). Values compare as IEEE doubles, bit for bit (NaN
    equal to NaN): a float32 in the file widens exactly to a double, gradalert exports doubles,
    and Prometheus' API prints the shortest decimal that reads back as the same double. A global
    norm that gradalert must derive from layer norms (the run logs no global norm) compares to
    sqrt(sum of squares) within 1e-12 relative, or as the same NaN/Inf.
 5. Asserts that every critical incident gradalert exported fired GradalertCriticalIncident in
    Prometheus and reached the webhook with its run, stream, incident and origin labels; that each
    exploding run's first notification came within --alert-timeout seconds of the replay writing
    its labelled explosion step (the latency is printed); that the origin is the labelled layer
    where the run logs per-layer norms, and empty where it logs only a global norm; that healthy
    streams raised none; and, after --settle seconds, that each incident was notified as firing
    exactly once.
 6. Stops gradalert with SIGTERM (it must exit 0), then the servers; removes every temporary file
    (--keep keeps them and prints where).

Exit status: 0 all passed, 1 a check failed (what, and the logs that explain it, are printed),
2 a setup problem (a missing binary or fixture). Ctrl-C and SIGTERM stop everything too.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import replay as replaylib  # noqa: E402
import servers as serverslib  # noqa: E402

RULES = os.path.join(ROOT, "docs", "prometheus", "gradalert-rules.yml")
RULES_TEST = os.path.join(ROOT, "docs", "prometheus", "gradalert-rules.test.yml")
PROMETHEUS_EXAMPLE = os.path.join(ROOT, "docs", "prometheus", "prometheus.yml")
ALERTMANAGER_EXAMPLE = os.path.join(ROOT, "docs", "prometheus", "alertmanager.yml")
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures", "training")
ALERT = "GradalertCriticalIncident"

# The runs replayed: a run folder name, and one fixture run per rank.
RUNS = [
    ("rnn-long-seq", ["exploding/rnn_long_seq"]),
    ('ddp/ranks "β"\\γ', ["healthy/warmup_cosine_deep", "exploding/lr_range_test_growth"]),
    ("spirals-sgd", ["healthy/spirals_mlp_sgd"]),
]

# Alertmanager for the check: the route of docs/prometheus/alertmanager.yml for critical
# incidents (one group per incident) and its inhibition, with second-scale timers.
ROUTE = {
    "receiver": "webhook",
    "group_by": ["alertname", "instance", "run"],
    "group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h",
    "routes": [{
        "matchers": [f'alertname = "{ALERT}"'],
        "receiver": "webhook",
        "group_by": ["instance", "run", "stream", "incident"],
        "group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h",
    }],
}
INHIBIT = [{
    "source_matchers": [f'alertname = "{ALERT}"'],
    "target_matchers": ['alertname = "GradalertGradientNormNonFinite"'],
    "equal": ["instance", "run", "stream"],
}]


class Failure(Exception):
    """A check failed; the message says which and why."""


class SetupError(Exception):
    pass


def log(message: str = ""):
    print(message, flush=True)


def fmt(value) -> str:
    if value is None:
        return "absent"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if math.isfinite(value) and value == int(value) and abs(value) < 2**53:
            return repr(value)
        return f"{value!r} ({struct.pack('>d', value).hex()})"
    return repr(value)


# --- 1. the shipped files -------------------------------------------------------------------

def run_tool(argv: list[str], what: str, cwd: str | None = None) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise SetupError(f"{argv[0]} not found (apt-get install prometheus prometheus-alertmanager)")
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise Failure(f"{what}: `{' '.join(argv)}` exited {done.returncode}:\n{output}")
    return output


def check_shipped_files():
    run_tool(["promtool", "check", "rules", RULES], "the shipped rules")
    run_tool(["promtool", "test", "rules", os.path.basename(RULES_TEST)], "the rules' unit tests",
             cwd=os.path.dirname(RULES_TEST))
    run_tool(["promtool", "check", "config", PROMETHEUS_EXAMPLE], "the example Prometheus config")
    run_tool(["amtool", "check-config", ALERTMANAGER_EXAMPLE], "the example Alertmanager config")
    tree = run_tool(["amtool", "config", "routes", "--config.file", ALERTMANAGER_EXAMPLE], "the example route")
    if f'alertname="{ALERT}"' not in tree:
        raise Failure(f"docs/prometheus/alertmanager.yml has no route of its own for {ALERT}:\n{tree}")
    # The check's ROUTE stands in for the example's (with second-scale timers): keep them in step.
    with open(ALERTMANAGER_EXAMPLE) as handle:
        example = handle.read()
    wanted = "group_by: [" + ", ".join(ROUTE["routes"][0]["group_by"]) + "]"
    if wanted not in example:
        raise Failure(f"docs/prometheus/alertmanager.yml no longer groups {ALERT} by `{wanted}`, as "
                      "check_monitoring.py's ROUTE does: change both together")
    log("ok   shipped rules (promtool check + unit tests), prometheus.yml, alertmanager.yml")


# --- 2. gradalert watch ---------------------------------------------------------------------

class Watch:
    def __init__(self, binary: str, logdir: str, port: int, workdir: str):
        self.address = f"127.0.0.1:{port}"
        self.log_path = os.path.join(workdir, "gradalert-watch.log")
        argv = [binary, "watch", logdir, "--metrics-listen", self.address, "--interval", "0.5"]
        self.process = serverslib.Process("gradalert watch", argv, self.log_path)

    def wait_healthy(self, timeout: float = 30.0):
        def healthy():
            if not self.process.running():
                raise Failure("gradalert watch stopped: " + self.process.describe_exit())
            status, _ = serverslib.http_get(f"http://{self.address}/healthz", timeout=2)
            return status == 200

        serverslib.wait_for(healthy, timeout, f"gradalert watch to answer /healthz on {self.address}",
                            on_timeout=self.process.describe_exit)

    def stop(self) -> int | None:
        return self.process.stop(timeout=10)


# --- 4. values ------------------------------------------------------------------------------

def same(expected, got, derived: bool = False) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    if derived and math.isfinite(expected) and math.isfinite(got):
        return abs(got - expected) <= 1e-12 * abs(expected)
    return replaylib.same_float(expected, got)


def metric_map(servers, name: str) -> dict[tuple[str, str], float]:
    out = {}
    for sample in servers.query(f'{name}{{job="{servers.job}"}}'):
        key = (sample["metric"].get("run", ""), sample["metric"].get("stream", ""))
        if key in out:
            raise Failure(f"{name} has two series for run {key[0]!r} stream {key[1]!r}: "
                          f"{servers.query(name)}")
        out[key] = sample["value"]
    return out


METRICS = [  # metric, key of replay.expected_values
    ("gradalert_last_step", "last_step"),
    ("gradalert_gradient_norm", "norm"),
    ("gradalert_gradient_norm_step", "norm_step"),
    ("gradalert_loss", "loss"),
]


def observed(servers) -> dict[str, dict]:
    return {name: metric_map(servers, name) for name, _ in METRICS + [("gradalert_last_step_timestamp_seconds", "")]}


def stream_matches(expected: dict, got: dict, key: tuple) -> list[str]:
    """The differences between one file's expected values and one stream's exported ones."""
    problems = []
    for name, field in METRICS:
        want = expected[field]
        if want is not None:
            want = float(want)
        have = got[name].get(key)
        if not same(want, have, derived=field == "norm" and expected["norm_derived"]):
            problems.append(f"{name}: expected {fmt(want)}, got {fmt(have)}")
    stamp = got["gradalert_last_step_timestamp_seconds"].get(key)
    if not any(same(wall, stamp) for wall in expected["last_step_wall_times"]):
        problems.append(f"gradalert_last_step_timestamp_seconds: expected one of "
                        f"{[fmt(w) for w in expected['last_step_wall_times']]}, got {fmt(stamp)}")
    return problems


def match_streams(expectations: list[dict], got: dict) -> tuple[dict, list[str]]:
    """Matches each replayed file to the stream that holds its values. Returns
    ({(run, rank): stream}, problems)."""
    streams_of: dict[str, set] = {}
    for series in got["gradalert_last_step"]:
        streams_of.setdefault(series[0], set()).add(series[1])
    runs = sorted({e["run"] for e in expectations})
    problems = []
    unexpected = sorted(set(streams_of) - set(runs))
    if unexpected:
        problems.append(f"runs exported that were not written: {unexpected!r}")
    mapping = {}
    for run in runs:
        files = [e for e in expectations if e["run"] == run]
        streams = sorted(streams_of.get(run, set()))
        if len(streams) != len(files):
            problems.append(f"run {run!r}: {len(files)} concurrent writer(s) written, "
                            f"gradalert_last_step has stream(s) {streams!r}")
            continue
        if len(files) > 1 and streams != [str(i) for i in range(len(files))]:
            problems.append(f"run {run!r}: streams {streams!r}, expected {[str(i) for i in range(len(files))]}")
        best = None
        for permutation in itertools.permutations(streams):
            diffs = {f["rank"]: stream_matches(f, got, (run, stream)) for f, stream in zip(files, permutation)}
            count = sum(len(d) for d in diffs.values())
            if best is None or count < best[0]:
                best = (count, permutation, diffs)
        _, permutation, diffs = best
        for f, stream in zip(files, permutation):
            mapping[(run, f["rank"])] = stream
            for problem in diffs[f["rank"]]:
                problems.append(f"run {run!r} stream {stream} (rank {f['rank']}, {rel(f['source'])}): {problem}")
    return mapping, problems


def rel(path: str) -> str:
    """A replayed file by its fixture run (exploding/rnn_long_seq)."""
    return os.path.relpath(os.path.dirname(path), FIXTURES)


# --- 5. incidents -----------------------------------------------------------------------------

def origin_names(origin: str, layer: str) -> bool:
    """Whether an origin (a series name such as `gnorm/rnn` or `grad_norm/dense_3`) names `layer`."""
    parts = origin.split("/")
    return origin == layer or layer in parts


def incident_key(labels: dict) -> tuple:
    return (labels.get("instance", ""), labels.get("run", ""), labels.get("stream", ""), labels.get("incident", ""))


def firing_notifications(webhook) -> dict[tuple, list]:
    """Per incident (instance, run, stream, incident): the notifications that carried it firing."""
    out: dict[tuple, list] = {}
    for notification in webhook.snapshot():
        for alert in notification.alerts:
            labels = alert.get("labels", {})
            if labels.get("alertname") == ALERT and alert.get("status") == "firing":
                out.setdefault(incident_key(labels), []).append((notification, alert))
    return out


def exported_incidents(servers) -> dict[tuple, dict]:
    """Every critical incident series Prometheus scraped in the last 15 minutes (also those
    gradalert has dropped since)."""
    result = servers.query(f'max_over_time(gradalert_incident_open{{job="{servers.job}",severity="critical"}}[15m])')
    return {incident_key(s["metric"]): s["metric"] for s in result}


def incidents_counted_and_seen(servers) -> tuple[dict, dict]:
    """Per (run, stream): incidents gradalert counted (gradalert_incidents_opened_total, every
    kind and severity) and distinct incident ids Prometheus saw as gradalert_incident_open series
    in the last 15 minutes. They differ when an incident came and went between two scrapes."""
    counted = {(s["metric"].get("run", ""), s["metric"].get("stream", "")): s["value"] for s in servers.query(
        f'sum by (run, stream) (gradalert_incidents_opened_total{{job="{servers.job}"}})')}
    seen: dict[tuple, set] = {}
    for s in servers.query(f'max_over_time(gradalert_incident_open{{job="{servers.job}"}}[15m])'):
        labels = s["metric"]
        seen.setdefault((labels.get("run", ""), labels.get("stream", "")), set()).add(labels.get("incident", ""))
    return counted, {key: len(ids) for key, ids in seen.items()}


def fired_in_prometheus(servers) -> set[tuple]:
    """Incidents whose alert Prometheus reports firing in /api/v1/alerts (keep_firing_for keeps
    closed ones there for 10 minutes), or reported firing at some point (its ALERTS series)."""
    firing = {incident_key(a["labels"]) for a in servers.alerts()
              if a["labels"].get("alertname") == ALERT and a["state"] == "firing"}
    result = servers.query(f'max_over_time(ALERTS{{alertname="{ALERT}",alertstate="firing"}}[15m])')
    return firing | {incident_key(s["metric"]) for s in result}


# --- the check --------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gradalert", required=True, help="the gradalert executable")
    parser.add_argument("--rate", type=float, default=600.0, help="records/s per replayed file (600)")
    parser.add_argument("--alert-timeout", type=float, default=60.0,
                        help="seconds from an explosion being written to its webhook notification (60)")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds to wait after the last first notification before counting (10)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary files and print where")
    args = parser.parse_args(argv)

    binary = shutil.which(args.gradalert) or args.gradalert
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        log(f"check_monitoring: {args.gradalert} is not an executable file")
        return 2
    began = time.monotonic()
    log(f"==> monitoring check: gradalert watch --metrics-listen, Prometheus, Alertmanager ({binary})")
    workdir = tempfile.mkdtemp(prefix="gradalert-monitoring-check.")
    watch = None
    servers = None
    replay = None
    try:
        with serverslib.terminate_on_sigterm():
            check_shipped_files()
            logdir = os.path.join(workdir, "logdir")
            os.mkdir(logdir)
            replay = replaylib.Replay(
                logdir, [(run, [os.path.join(FIXTURES, src) for src in sources]) for run, sources in RUNS],
                rate=args.rate, wall_time="now")
            with open(os.path.join(FIXTURES, "labels.json")) as handle:
                labels = json.load(handle)["runs"]

            # gradalert first: it starts while Prometheus takes its ~5 s to discover Alertmanager.
            port = serverslib.free_port()
            watch = Watch(binary, logdir, port, workdir)
            servers = serverslib.Servers(targets=[f"127.0.0.1:{port}"], rules_files=[RULES],
                                         route=ROUTE, inhibit_rules=INHIBIT, keep_workdir=args.keep,
                                         log=lambda m: log("     " + m))
            servers.also_watch.append(watch.process)
            servers.__enter__()
            watch.wait_healthy()
            servers.wait_for_targets_up()
            log(f"ok   gradalert watch up on {watch.address} (pid {watch.process.pid}), scraped by Prometheus")

            written = time.monotonic()
            replay.start()
            total_records = sum(len(f.records) for f in replay.files)
            if not replay.join(timeout=total_records / args.rate + 60):
                raise Failure("the replay did not finish in time")
            took = time.monotonic() - written
            log(f"ok   replayed {total_records} records into {len(replay.files)} files of {len(RUNS)} runs "
                f"in {took:.1f} s ({args.rate:g} records/s per file)")

            try:
                expectations = replaylib.expected_for(replay)
            except AssertionError as error:
                raise Failure(f"the replay changed a value: {error}") from None
            mapping = check_values(servers, expectations)
            check_incidents(servers, replay, expectations, mapping, labels, args)

            code = watch.stop()
            if code != 0:
                raise Failure(f"gradalert watch exited {code} on SIGTERM (expected 0):\n"
                              + watch.process.describe_exit())
            log("ok   gradalert watch stopped cleanly on SIGTERM")
        log(f"==> monitoring check passed in {time.monotonic() - began:.1f} s")
        return 0
    except Failure as failure:
        log(f"\nFAILED: {failure}")
        if watch is not None:
            log(f"\ngradalert watch log ({watch.log_path}):\n{serverslib.tail(watch.log_path, 40)}")
        if servers is not None:
            log("\n" + servers.logs())
        return 1
    except SetupError as error:
        log(f"\nFAILED (setup): {error}")
        return 2
    except serverslib.ServerError as error:
        log(f"\nFAILED: {error}")
        if watch is not None:
            log(f"\ngradalert watch log ({watch.log_path}):\n{serverslib.tail(watch.log_path, 40)}")
        if servers is not None:
            log("\n" + servers.logs())
        return 1
    except KeyboardInterrupt:
        log("\ninterrupted; stopping everything")
        return 130
    finally:
        if replay is not None:
            replay.stop()
        if watch is not None:
            watch.stop()
        if servers is not None:
            try:
                servers.stop()
            except serverslib.ServerError as error:
                log(f"warning: {error}")
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def check_values(servers, expectations: list[dict]) -> dict:
    """Asserts the final values; returns {(run, rank): stream}. The writers are done, so the values
    only move towards the final ones: compare until they all match, for up to 30 s (a poll, a
    scrape and a margin), and report the differences left at the end."""
    outcome = {}

    def compare():
        got = observed(servers)
        mapping, problems = match_streams(expectations, got)
        runs = servers.query(f'gradalert_runs{{job="{servers.job}"}}')
        if [r["value"] for r in runs] != [float(len(RUNS))]:
            problems.append(f"gradalert_runs: expected {len(RUNS)}, got {[fmt(r['value']) for r in runs]}")
        outcome.update(mapping=mapping, problems=problems)
        return not problems

    try:
        servers.wait_for(compare, 30, "the exported values to equal what the replay wrote", interval=0.5)
    except serverslib.ServerError as error:
        if not outcome.get("problems"):
            raise
        raise Failure("exported values differ from what the replay wrote (after 30 s):\n  "
                      + "\n  ".join(outcome["problems"])) from error
    mapping = outcome["mapping"]
    log("ok   PromQL values equal what was written (bit for bit), per run and stream:")
    for e in expectations:
        stream = mapping[(e["run"], e["rank"])]
        derived = " (derived from layer norms)" if e["norm_derived"] else ""
        log(f"       {e['run']!r} stream {stream} <- {rel(e['source'])}: last_step {e['last_step']}, "
            f"norm {fmt(e['norm'])}{derived} at {e['norm_step']}, loss {fmt(e['loss'])}")
    return mapping


def check_incidents(servers, replay, expectations, mapping, labels, args) -> None:
    # Which streams must raise a critical incident, and with which origin: from labels.json.
    must, quiet = {}, set()
    for f in replay.files:
        fixture = os.path.relpath(os.path.dirname(f.source), FIXTURES)
        label = labels[fixture]
        key = (f.run, mapping[(f.run, f.rank)])
        if label["exploding"] and (label["first_nonfinite_step"] is not None or label["kind_expected"] == "spike"):
            if f.tags.layer_norms:
                origin = label["origin_layer"]  # per-layer norms: the labelled layer, if any
            elif f.tags.norm:
                origin = ""  # only a global norm: no layer can be named
            else:
                origin = None
            onset = label["first_explosion_step"]
            written = min((times for step, times in f.steps.items() if step >= onset), default=None)
            must[key] = {"origin": origin, "onset": onset, "written": written, "fixture": fixture}
        elif not label["exploding"]:
            quiet.add(key)

    def notified():
        firing = firing_notifications(servers.webhook)
        have = {(k[1], k[2]) for k in firing}
        return all(key in have for key in must)

    def state():
        firing = firing_notifications(servers.webhook)
        lines = [f"webhook got firing {ALERT} notifications for: {sorted(firing) or 'nothing'}"]
        try:
            lines.append(f"critical incidents exported: {sorted(exported_incidents(servers))}")
            lines.append("Prometheus alerts: " + json.dumps(
                [(a['labels'].get('alertname'), a['labels'].get('run'), a['state']) for a in servers.alerts()],
                ensure_ascii=False))
        except serverslib.ServerError as error:
            lines.append(str(error))
        return "\n".join(lines)

    # Bounded from the moment the first explosion was written.
    deadline_from = min(m["written"][1] for m in must.values())
    remaining = args.alert_timeout - (time.monotonic() - deadline_from)
    servers.wait_for(notified, max(remaining, 0.1),
                     f"webhook notifications of {ALERT} for {sorted(must)} within {args.alert_timeout:g} s "
                     "of the explosions being written", interval=0.1, on_timeout=state)
    last_first = max(n.received_monotonic for entries in firing_notifications(servers.webhook).values()
                     for n, _ in entries[:1])
    time.sleep(max(0.0, args.settle - (time.monotonic() - last_first)))

    firing = firing_notifications(servers.webhook)
    exported = exported_incidents(servers)
    fired = fired_in_prometheus(servers)
    problems = []
    log(f"ok   {ALERT} notified for every exploding stream; incidents after a {args.settle:g} s settle:")
    for key in sorted(set(exported) | set(firing)):
        instance, run, stream, incident = key
        entries = firing.get(key, [])
        series = exported.get(key)
        origin = series.get("origin", "") if series else "?"
        latency = ""
        if entries:
            first, alert = entries[0]
            labels_sent = alert["labels"]
            if series is not None and labels_sent.get("origin", "") != series.get("origin", ""):
                problems.append(f"incident {incident!r}: webhook origin {labels_sent.get('origin', '')!r}, "
                                f"Prometheus series origin {origin!r}")
            for needed in ("run", "stream", "incident", "kind", "severity"):
                if not labels_sent.get(needed):
                    problems.append(f"incident {incident!r}: the webhook alert has no {needed} label: {labels_sent}")
            if not alert.get("annotations", {}).get("summary"):
                problems.append(f"incident {incident!r}: the webhook alert has no summary annotation")
            latency = f", notified {first.received_wall - replay.started_wall:.1f} s after the replay began"
        if series is None:
            problems.append(f"incident {incident!r} was notified but Prometheus never scraped its series")
        if key not in fired:
            problems.append(f"incident {incident!r} ({run!r} stream {stream}) never fired {ALERT} in Prometheus")
        if len(entries) != 1:
            problems.append(f"incident {incident!r} ({run!r} stream {stream}) was notified as firing "
                            f"{len(entries)} times, expected exactly once")
        if (run, stream) in quiet:
            problems.append(f"incident {incident!r} on a stream labelled healthy ({run!r} stream {stream})")
        log(f"       {run!r} stream {stream} incident {incident!r} kind {(series or {}).get('kind', '?')} "
            f"origin {origin!r}: {len(entries)} firing notification(s){latency}")

    counted, seen = incidents_counted_and_seen(servers)
    for key in sorted(set(counted) | set(seen)):
        if counted.get(key, 0) != seen.get(key, 0):
            problems.append(f"{key[0]!r} stream {key[1]}: gradalert_incidents_opened_total counts "
                            f"{fmt(counted.get(key, 0.0))} incidents, but Prometheus saw {seen.get(key, 0)} "
                            "incident ids in gradalert_incident_open: an incident came and went between "
                            "scrapes (or the counter counted an escalation as a new incident)")

    for (run, stream), need in sorted(must.items()):
        mine = {k: v for k, v in exported.items() if (k[1], k[2]) == (run, stream)}
        notes = [v for k, v in firing.items() if (k[1], k[2]) == (run, stream)]
        first = min(n.received_monotonic for entries in notes for n, _ in entries[:1])
        latency = first - need["written"][1]
        log(f"       {run!r} stream {stream} ({need['fixture']}): step {need['onset']} written -> first "
            f"notification {latency:.1f} s")
        if latency > args.alert_timeout:
            problems.append(f"{run!r} stream {stream}: first notification {latency:.1f} s after the explosion "
                            f"was written (bound {args.alert_timeout:g} s)")
        if need["origin"] is not None:
            origins = sorted({v.get("origin", "") for v in mine.values()})
            if need["origin"] == "":
                if any(origins):
                    problems.append(f"{run!r} stream {stream}: the run logs only a global norm, yet incidents "
                                    f"name origins {origins}")
            elif not any(origin_names(o, need["origin"]) for o in origins):
                problems.append(f"{run!r} stream {stream}: no incident names the labelled origin layer "
                                f"{need['origin']!r} (origins: {origins})")
    if problems:
        raise Failure("incidents and notifications:\n  " + "\n  ".join(problems))
    log("ok   each critical incident fired once in Prometheus and reached the webhook exactly once, "
        "with run, stream, incident, kind and origin; every counted incident was scraped as a series")


if __name__ == "__main__":
    sys.exit(main())
