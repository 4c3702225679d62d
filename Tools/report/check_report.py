#!/usr/bin/env python3
"""Opens `gradalert report`'s page in a real browser and checks it.

    check_report.py GRADALERT [--logdir DIR] [--screenshot PNG] [--docs DIR] [--chromium PATH]
    check_report.py --page FILE --logdir DIR GRADALERT     (check a page written before)

Writes the report of a logdir (default Tests/Fixtures/training) with the given gradalert binary,
loads it in headless Chromium through the DevTools protocol (cdp.py, over
--remote-debugging-pipe: standard library only), and checks:

  - no console error, no uncaught exception, and no network request (the page is one
    self-contained file: anything it tried to load would be a request);
  - no <script> in the page;
  - one table row per run, and a drawn section per run (or, past 200 runs, per alerting run),
    as many runs as `gradalert scan --format json` finds;
  - a global-norm chart for every drawn run with gradient series, a loss chart for every one
    with a loss, at least one heatmap; every chart laid out with a non-zero size once its
    section is open, every norm and loss chart with a line or dots, each line inside its plot;
  - nothing wider than the window;
and saves a screenshot of the top of the page (--screenshot), or the documentation's pictures
(--docs DIR: report-summary.png, the table; report-run.png, the section of --docs-run). Exits 1 with a message per failed check, 2
when it cannot run (no binary, no Chromium). Takes a few seconds.
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the script
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Tools", "screenshots"))
from cdp import Browser, CDPError  # noqa: E402

WIDTH, HEIGHT = 1100, 900
DRAWN_RUN_LIMIT = 200  # ReportPage.drawnRunLimit

# Everything the checks need, measured in the page with all sections open.
MEASURE = r"""(() => {
  document.querySelectorAll('details.run').forEach(d => d.open = true);
  const box = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
    const frame = svg.querySelector('rect.frame');
    const f = frame ? frame.getBBox() : null;
    const lines = [...svg.querySelectorAll('path.line, path.dots')].map(p => {
      const b = p.getBBox();
      return {x: b.x, y: b.y, w: b.width, h: b.height, length: p.classList.contains('line') ? p.getTotalLength() : 0};
    });
    return {kind: svg.classList[1], size: box(svg), frame: f ? {x: f.x, y: f.y, w: f.width, h: f.height} : null,
            lines: lines, empty: !!svg.querySelector('text.empty'), section: (svg.closest('details.run') || {}).id || null};
  });
  return {
    ready: document.readyState,
    scripts: document.scripts.length,
    rows: document.querySelectorAll('table.runs tbody tr').length,
    sections: document.querySelectorAll('details.run').length,
    charts: charts,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    title: document.title,
  };
})()"""


class RecordingBrowser(Browser):
    """cdp.Browser that keeps the events Chromium sends (console messages, exceptions, requests)."""

    def __init__(self, *args, **kwargs):
        self.events = []
        super().__init__(*args, **kwargs)

    def _read_message(self, deadline):
        message = super()._read_message(deadline)
        if "method" in message:
            self.events.append(message)
        return message

    def element_screenshot(self, selector, path, max_height=None, pad=8):
        """Saves the part of the page an element covers (the whole element, scrolled or not)."""
        rect = self.evaluate("""(() => { const e = document.querySelector(%s); if (!e) return null;
            const r = e.getBoundingClientRect();
            return {x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height}; })()"""
                             % json.dumps(selector))
        if not rect:
            raise CDPError("no element %s to photograph" % selector)
        height = rect["h"] + 2 * pad if max_height is None else min(max_height, rect["h"] + 2 * pad)
        clip = {"x": max(0, rect["x"] - pad), "y": max(0, rect["y"] - pad), "width": rect["w"] + 2 * pad,
                "height": height, "scale": 1}
        data = self.call("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


def problems_in_events(events, page_url):
    problems = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            problems.append("console %s: %s" % (params["type"], text))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            problems.append("uncaught exception: %s" % (details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            problems.append("browser error (%s): %s %s" % (entry.get("source"), entry.get("text"), entry.get("url", "")))
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if url != page_url:
                problems.append("the page tried to load %s" % url)
    return problems


def expected_from_scan(gradalert, logdir, cwd):
    out = subprocess.run([gradalert, "scan", logdir, "--format", "json", "--fail-on", "never"],
                         capture_output=True, text=True, timeout=300, cwd=cwd)
    if out.returncode != 0:
        raise SystemExit("check_report: gradalert scan failed (%d): %s" % (out.returncode, out.stderr.strip()))
    runs = json.loads(out.stdout)["runs"]
    many = len(runs) > DRAWN_RUN_LIMIT
    drawn = [r for r in runs if not many or r["verdict"] != "healthy"][:DRAWN_RUN_LIMIT]
    return {
        "runs": len(runs),
        "sections": len(drawn),
        "norm": sum(1 for r in drawn if r["series"]["gradient"]),
        "loss": sum(1 for r in drawn if r["series"]["loss"]),
    }


def check(measured, expected):
    problems = []
    if measured["ready"] != "complete":
        problems.append("the page did not finish loading (%s)" % measured["ready"])
    if measured["scripts"]:
        problems.append("the page has %d <script> elements; it should need none" % measured["scripts"])
    if measured["rows"] != expected["runs"]:
        problems.append("the runs table has %d rows for %d runs" % (measured["rows"], expected["runs"]))
    if measured["sections"] != expected["sections"]:
        problems.append("%d run sections, expected %d" % (measured["sections"], expected["sections"]))
    charts = measured["charts"]
    for kind in ("norm", "loss"):
        count = sum(1 for c in charts if c["kind"] == kind)
        if count != expected[kind]:
            problems.append("%d %s charts, expected %d" % (count, kind, expected[kind]))
    if expected["sections"] and not any(c["kind"] == "heatmap" for c in charts):
        problems.append("no gradient-flow heatmap")
    for chart in charts:
        where = "%s chart in %s" % (chart["kind"], chart["section"])
        if chart["size"][0] < 100 or chart["size"][1] < 40:
            problems.append("%s is laid out at %.0fx%.0f px" % (where, chart["size"][0], chart["size"][1]))
        if chart["kind"] in ("norm", "loss"):
            if not chart["lines"] and not chart["empty"]:
                problems.append("%s draws no line, and does not say it has no finite value" % where)
            frame = chart["frame"]
            for line in chart["lines"]:
                if frame and (line["x"] < frame["x"] - 1 or line["y"] < frame["y"] - 1 or
                              line["x"] + line["w"] > frame["x"] + frame["w"] + 1 or
                              line["y"] + line["h"] > frame["y"] + frame["h"] + 1):
                    problems.append("%s: a line leaves its plot (%r outside %r)" % (where, line, frame))
    if measured["scrollWidth"] > measured["innerWidth"]:
        problems.append("the page is %d px wide in a %d px window" % (measured["scrollWidth"], measured["innerWidth"]))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gradalert", help="the gradalert binary")
    parser.add_argument("--logdir", help="the logdir to report on (default: Tests/Fixtures/training)")
    parser.add_argument("--page", help="check this page instead of writing one")
    parser.add_argument("--screenshot", help="save the top of the page here (PNG)")
    parser.add_argument("--docs", help="save the documentation's pictures (report-*.png) in this folder")
    parser.add_argument("--docs-run", default="exploding/deep_relu_warmup_too_high",
                        help="the run whose section report-run.png shows")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "chromium"))
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()

    started = time.monotonic()
    gradalert = os.path.abspath(args.gradalert)
    if not (os.path.isfile(gradalert) and os.access(gradalert, os.X_OK)):
        print("check_report: no gradalert binary at %s" % args.gradalert, file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="gradalert-report-check.")
    try:
        return run_checks(args, gradalert, work, started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_checks(args, gradalert, work, started):
    # The fixtures are named relative to the repository, as the page then shows them.
    logdir, cwd = (os.path.abspath(args.logdir), None) if args.logdir else ("Tests/Fixtures/training", ROOT)
    page = args.page
    if not page:
        page = os.path.join(work, "report.html")
        out = subprocess.run([gradalert, "report", logdir, "-o", page, "--fail-on", "never"],
                             capture_output=True, text=True, timeout=600, cwd=cwd)
        if out.returncode != 0 or not os.path.isfile(page):
            print("check_report: gradalert report failed (%d): %s" % (out.returncode, out.stderr.strip()), file=sys.stderr)
            return 1
        print(out.stdout.strip())
    size = os.path.getsize(page)
    expected = expected_from_scan(gradalert, logdir, cwd)
    page_url = "file://" + os.path.abspath(page)

    try:
        browser = RecordingBrowser(chromium=args.chromium, width=WIDTH, height=HEIGHT,
                                   profile=os.path.join(work, "profile"))
    except (OSError, CDPError) as error:
        print("check_report: cannot start %s: %s" % (args.chromium, error), file=sys.stderr)
        return 2
    try:
        browser.call("Log.enable")
        browser.call("Network.enable")
        browser.navigate(page_url)
        if not browser.wait_for("document.readyState === 'complete'", args.timeout):
            print("check_report: the page did not load within %.0f s" % args.timeout, file=sys.stderr)
            return 1
        if args.screenshot:
            browser.screenshot(args.screenshot)
        measured = browser.evaluate(MEASURE)
        problems = check(measured, expected)
        if args.docs:
            os.makedirs(args.docs, exist_ok=True)
            browser.evaluate("document.querySelectorAll('details.run').forEach(d => d.open = false); true")
            browser.element_screenshot("main", os.path.join(args.docs, "report-summary.png"), max_height=760)
            section = browser.evaluate("""(() => {
                const link = [...document.querySelectorAll('table.runs a')].find(a => a.textContent === %s);
                const d = link ? document.querySelector(link.getAttribute('href')) : document.querySelector('details.run');
                if (!d) return null; d.open = true; return d.id; })()""" % json.dumps(args.docs_run))
            if section:
                browser.element_screenshot("#" + section, os.path.join(args.docs, "report-run.png"))
        browser.evaluate("true")  # collects the events sent so far
        problems += problems_in_events(browser.events, page_url)
    except CDPError as error:
        print("check_report: %s" % error, file=sys.stderr)
        return 1
    finally:
        browser.close()

    charts = measured["charts"]
    summary = "%d runs, %d sections, %d norm / %d loss / %d heatmap charts, %d KB, %.1f s" % (
        measured["rows"], measured["sections"], sum(c["kind"] == "norm" for c in charts),
        sum(c["kind"] == "loss" for c in charts), sum(c["kind"] == "heatmap" for c in charts),
        (size + 512) // 1024, time.monotonic() - started)
    if problems:
        for problem in problems:
            print("check_report: " + problem, file=sys.stderr)
        print("check_report: FAILED (%s)" % summary, file=sys.stderr)
        return 1
    print("check_report: the page renders in %s without errors (%s)" % (args.chromium, summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
