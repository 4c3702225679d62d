#!/usr/bin/env python3
"""Runs `gradalert demo` (the README's first command) with a release build and checks what it
promises (issue 18):

  - it finishes well under 60 seconds;
  - every cause's baseline explodes: `gradalert scan --format json` of the logdir, run separately,
    calls it exploding or nonfinite;
  - every remedy family has a run where it is the fix: outcome "fixed" in the demo's
    gradalert-demo.json, and the separate scan calls that run healthy;
  - the demo's words agree with the scan: a "fixed" run is one the scan calls healthy, a healthy
    run is "fixed" unless it learned too little (then the words say so), and a "did not help" or
    "delayed" run is not healthy; every "fixed…" run reached 90% accuracy and every "learned
    little" run did not;
  - the report it writes is there (Tools/check then opens it in Chromium).

    check_demo.py GRADALERT LOGDIR

Standard library only.
"""
import json
import os
import subprocess
import sys
import time

FAMILIES = [
    "lower_learning_rate", "clip_gradients", "better_initialisation", "smoother_activations",
    "normalisation", "residual_connections", "adaptive_optimiser", "smoother_loss",
]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    gradalert, logdir = sys.argv[1], sys.argv[2]
    started = time.time()
    demo = subprocess.run([gradalert, "demo", "--logdir", logdir], capture_output=True, text=True)
    seconds = time.time() - started
    sys.stdout.write(demo.stdout)
    if demo.returncode != 0:
        sys.exit("check_demo: gradalert demo exited %d: %s" % (demo.returncode, demo.stderr))
    failures = []
    if seconds >= 60:
        failures.append("the demo took %.1f s (the promise: under 60 s)" % seconds)

    summary = json.load(open(logdir + "/gradalert-demo.json"))
    scan = subprocess.run([gradalert, "scan", logdir, "--format", "json", "--fail-on", "never"],
                          capture_output=True, text=True, check=True)
    verdicts = {run["run"]: run["verdict"] for run in json.loads(scan.stdout)["runs"]}

    fixed_families = set()
    runs = 0
    for cause in summary["causes"]:
        for run in cause["runs"]:
            runs += 1
            name, verdict = run["run"], verdicts.get(run["run"])
            if verdict is None:
                failures.append("%s: not found by gradalert scan" % name)
                continue
            if verdict != run["verdict"]:
                failures.append("%s: the demo says %s, scan says %s" % (name, run["verdict"], verdict))
            if run["baseline"]:
                if verdict not in ("exploding", "nonfinite"):
                    failures.append("%s: a baseline that does not explode (%s)" % (name, verdict))
                continue
            outcome = run["outcome"]
            agrees = (outcome == "fixed" or outcome.startswith("no explosion, but it learned little")) \
                if verdict == "healthy" else outcome != "fixed" and not outcome.startswith("no explosion, but it learned")
            if not agrees:
                failures.append("%s: outcome %r but scan verdict %s" % (name, outcome, verdict))
            accuracy = run.get("accuracy")
            if outcome.startswith("fixed") and (accuracy is None or accuracy < 0.9):
                failures.append("%s: outcome %r at accuracy %s (fixed needs 90%%)" % (name, outcome, accuracy))
            if outcome.startswith("no explosion, but it learned little") and (accuracy is None or accuracy >= 0.9):
                failures.append("%s: outcome %r at accuracy %s" % (name, outcome, accuracy))
            if outcome == "fixed":
                fixed_families.add(run["remedy"])
    for family in FAMILIES:
        if family not in fixed_families:
            failures.append("no run where the remedy family %s is the fix" % family)
    if not os.path.getsize(logdir + "/gradalert-report.html"):
        failures.append("the report is empty")

    if failures:
        sys.exit("check_demo: FAILED\n  " + "\n  ".join(failures))
    print("check_demo: %d causes, %d runs in %.1f s; every baseline explodes; all %d remedy families fix "
          "their cause in at least one run; the demo's words agree with gradalert scan"
          % (len(summary["causes"]), runs, seconds, len(FAMILIES)))


if __name__ == "__main__":
    main()
