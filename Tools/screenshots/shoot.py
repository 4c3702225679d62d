#!/usr/bin/env python3
"""Screenshots of a running TensorBoard that shows `gradalert demo`'s runs.

    shoot.py --url http://127.0.0.1:PORT/ --out docs/images [--only NAME ...]

Drives headless Chromium through the DevTools protocol (cdp.py, standard library only) rather
than `chromium --screenshot`, because a one-shot screenshot cannot wait for TensorBoard's charts
to finish drawing, nor set what the pictures need: no outlier clipping, no smoothing, a
logarithmic y axis. For each picture it loads the page fresh, waits until the charts hold the
expected data (each shot's `ready` test, bounded by --timeout), lets it settle, and saves the
page, cut just below the last card.

TensorBoard URL state used (TensorBoard 2.21):
  Time Series (Angular):  /?tagFilter=RE&runFilter=RE&runColorGroup=regex:RE#timeseries
                          (query parameters, before the #; forceSVG=true draws lines as SVG)
  legacy dashboards:      /#histograms&tagFilter=RE&regexInput=RE  (regexInput filters runs)
  settings:               localStorage "_tb_global_settings" (ignoreOutliers, scalarSmoothing,
                          timeSeriesSettingsPaneOpened, stepSelectorEnabled, timeSeriesCardMinWidth)
  log-scale y axis:       only from a card's menu ("More line chart options" -> "Toggle Y-axis
                          log scale"), so it is clicked.
"""

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ beside the script
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, CDPError  # noqa: E402

WIDTH, HEIGHT = 1400, 900

# Finds elements inside shadow roots too (the legacy dashboards are Polymer).
DEEP = r"""
window.__deepAll = function (selector) {
  const out = [];
  const walk = root => {
    root.querySelectorAll(selector).forEach(e => out.push(e));
    root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) walk(e.shadowRoot); });
  };
  walk(document);
  return out;
};
"""

SETTINGS = {
    "ignoreOutliers": False,           # show the explosion, do not clip it away
    "scalarSmoothing": 0,              # raw values
    "timeSeriesSettingsPaneOpened": False,
    "stepSelectorEnabled": False,      # no step cursor and data table under each chart
    "timeSeriesCardMinWidth": 520,     # two charts side by side
}


def q(value):
    return urllib.parse.quote(value, safe="")


def timeseries(tags, runs, svg=True):
    params = [("tagFilter", tags), ("runFilter", runs), ("runColorGroup", "regex:" + runs)]
    if svg:
        params.insert(0, ("forceSVG", "true"))
    return "?" + "&".join("%s=%s" % (k, q(v)) for k, v in params) + "#timeseries"


def legacy(plugin, tags, runs):
    return "#%s&tagFilter=%s&regexInput=%s" % (plugin, q(tags), q(runs))


# Every scalar card has `series` lines drawn (SVG paths with a stroke, not the NaN triangles).
def scalar_cards_ready(cards, series):
    return """(() => {
      const cards = [...document.querySelectorAll('scalar-card')];
      if (cards.length < %d) return false;
      if (document.querySelector('scalar-card mat-progress-bar')) return false;
      return cards.every(c => c.querySelectorAll('line-chart .series-view svg path:not(.triangle)').length >= %d);
    })()""" % (cards, series)


LOG_SCALE = """(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const buttons = [...document.querySelectorAll('scalar-card button[aria-label="More line chart options"]')];
  for (const button of buttons) {
    button.click();
    await sleep(400);
    const item = [...document.querySelectorAll('.cdk-overlay-container button')]
      .find(e => e.textContent.includes('Toggle Y-axis log scale'));
    if (!item) return 'no "Toggle Y-axis log scale" item in the card menu';
    item.click();
    await sleep(400);
  }
  return buttons.length ? true : 'no scalar card';
})()"""


def legacy_ready(loader, cards, drawn=None):
    """At least `cards` loaders of this kind, none still loading; with `drawn`, at least `cards`
    of those chart elements have SVG paths in them."""
    extra = "true"
    if drawn:
        extra = "__deepAll(%s).filter(e => (e.shadowRoot || e).querySelectorAll('path').length > 0).length >= %d" % (
            json.dumps(drawn), cards)
    return """(() => {
      const loaders = __deepAll(%s);
      return loaders.length >= %d && loaders.every(l => !l.dataLoading) && %s;
    })()""" % (json.dumps(loader), cards, extra)


SHOTS = [
    {
        "name": "timeseries-lr-too-high",
        "what": "Time Series: grad_norm/global and loss, log y axis; learning rate too high, against three remedies",
        "url": timeseries(r"^(grad_norm/global|loss)$", r"^lr-too-high/(baseline|lower-lr|clip|adam)$"),
        "ready": scalar_cards_ready(2, 4),
        "action": LOG_SCALE,
        "clip": "scalar-card",
    },
    {
        "name": "timeseries-unbounded-activation",
        "what": "Time Series: grad_norm/global and loss, log y axis; the ReLU recurrent net, tanh and clipping",
        "url": timeseries(r"^(grad_norm/global|loss)$", r"^unbounded-activation/(baseline|tanh|clip)$"),
        "ready": scalar_cards_ready(2, 2),
        "action": LOG_SCALE,
        "clip": "scalar-card",
    },
    {
        "name": "histograms",
        "what": "Histograms: grad/layers.2.weight of the learning-rate runs, one slice every 30 steps",
        "url": legacy("histograms", r"^grad/layers\.2\.weight$", r"^lr-too-high/(baseline|lower-lr|clip|label-smoothing)$"),
        "ready": legacy_ready("tf-histogram-loader", 4, "vz-histogram-timeseries"),
        "clip": "tf-category-paginated-view",
        "clip_first": True,
    },
    {
        "name": "distributions",
        "what": "Distributions: the same histograms as percentile bands over steps",
        "url": legacy("distributions", r"^grad/layers\.2\.weight$", r"^lr-too-high/(baseline|lower-lr|clip|label-smoothing)$"),
        "ready": legacy_ready("tf-distribution-loader", 4),
        "clip": "tf-category-paginated-view",
        "clip_first": True,
    },
    {
        "name": "text-alerts",
        "what": "Text: the gradalert/alerts Markdown of lr-too-high/baseline, scrolled to its first incident",
        "url": legacy("text", r"^gradalert/alerts$", r"^lr-too-high/baseline$"),
        "ready": """(() => {
          const loaders = __deepAll('tf-text-loader');
          return loaders.length > 0 && __deepAll('tf-text-loader')[0].shadowRoot.querySelectorAll('.text').length >= 1;
        })()""",
        # Texts are listed newest step first: scroll the first card to its last (earliest) one.
        "action": """(() => {
          const root = __deepAll('tf-text-loader')[0].shadowRoot;
          const box = root.querySelector('.container');
          const steps = root.querySelectorAll('.step-container');
          const last = steps[steps.length - 1];
          box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
          return true;
        })()""",
        "clip": "tf-category-paginated-view",
        "clip_first": True,
    },
    {
        "name": "images-gradient-flow",
        "what": "Time Series image cards: the gradient-flow picture of an explosion, a dead net and two fixes",
        "url": timeseries(r"^gradient-flow$", r"^(lr-too-high/(baseline|lower-lr)|init-too-large/(kaiming|lower-lr))$", svg=False),
        "ready": """(() => {
          const images = [...document.querySelectorAll('image-card img')];
          return images.length >= 4 && images.every(i => i.complete && i.naturalWidth > 0);
        })()""",
        "clip": "image-card",
    },
]


def bottom_of(browser, selector, first_only):
    """The page y just below the last (or first) element matching selector, or None."""
    return browser.evaluate("""(() => {
      const all = __deepAll(%s).filter(e => e.getBoundingClientRect().height > 0);
      if (!all.length) return null;
      const chosen = %s ? [all[0]] : all;
      return Math.max(...chosen.map(e => e.getBoundingClientRect().bottom));
    })()""" % (json.dumps(selector), "true" if first_only else "false"))


def shoot(browser, base, shot, out_dir, timeout, settle):
    browser.navigate("about:blank")
    browser.wait_for("location.href === 'about:blank'", 10)
    browser.navigate(base + shot["url"])
    if not browser.wait_for("document.readyState === 'complete'", timeout):
        raise CDPError("page did not load")
    browser.evaluate(DEEP)
    started = time.monotonic()
    if not browser.wait_for(shot["ready"], timeout):
        raise CDPError("no data on the page after %d s (test: %s)" % (timeout, " ".join(shot["ready"].split())[:200]))
    waited = time.monotonic() - started
    time.sleep(settle)
    if "action" in shot:
        result = browser.evaluate(shot["action"])
        if result is not True and not isinstance(result, int):
            raise CDPError("action failed: %s" % result)
        time.sleep(settle)
    # No focus ring on a clicked button; the pointer off the page, so no hover state or tooltip.
    browser.evaluate("document.activeElement && document.activeElement.blur && document.activeElement.blur(), true")
    browser.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": WIDTH - 2, "y": HEIGHT - 2})
    time.sleep(0.3)
    height = HEIGHT
    if shot.get("clip"):
        bottom = bottom_of(browser, shot["clip"], shot.get("clip_first", False))
        if bottom:
            height = int(min(HEIGHT, bottom + 16))
    path = os.path.join(out_dir, shot["name"] + ".png")
    browser.screenshot(path, height=height)
    return path, waited, height


def wait_for_tensorboard(base, runs, server_log, timeout):
    """Until TensorBoard lists every run and has scalar tags for each (and, with server_log, its
    data server has logged a finished load cycle). False on timeout."""
    deadline = time.monotonic() + timeout
    wanted = set(runs)
    while time.monotonic() < deadline:
        try:
            loaded = True
            if server_log:
                with open(server_log, "rb") as f:
                    loaded = b"Finished load cycle" in f.read()
            listed = set(json.load(urllib.request.urlopen(base + "data/runs", timeout=5)))
            tags = json.load(urllib.request.urlopen(base + "data/plugin/scalars/tags", timeout=5))
            if loaded and wanted <= listed and all(tags.get(run) for run in wanted):
                return True
        except (OSError, ValueError, urllib.error.URLError):
            pass
        time.sleep(0.5)
    return False


def main():
    # A TERM (from take.sh's cleanup, or timeout) still closes Chromium through the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="TensorBoard's address, e.g. http://127.0.0.1:6006/")
    parser.add_argument("--out", help="folder for the PNG files")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "chromium"))
    parser.add_argument("--only", action="append", default=[], help="only this shot (repeatable)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for each page's data")
    parser.add_argument("--settle", type=float, default=1.5, help="seconds to let drawing finish")
    parser.add_argument("--list", action="store_true", help="list the shots and exit")
    parser.add_argument("--wait-for-runs", nargs="+", metavar="RUN", default=[],
                        help="first wait (up to --timeout) until TensorBoard serves these runs")
    parser.add_argument("--server-log", help="TensorBoard's log: also wait for the data server's "
                        "'Finished load cycle' (needs --extra_data_server_flags=--verbose)")
    parser.add_argument("--wait-only", action="store_true", help="only wait, take no picture")
    args = parser.parse_args()

    if args.list:
        for shot in SHOTS:
            print("%-32s %s" % (shot["name"], shot["what"]))
        return 0
    if not args.url:
        parser.error("--url is needed")
    base = args.url if args.url.endswith("/") else args.url + "/"
    if args.wait_for_runs:
        started = time.monotonic()
        if not wait_for_tensorboard(base, args.wait_for_runs, args.server_log, args.timeout):
            print("TensorBoard at %s did not serve the runs %s within %d s" % (base, " ".join(args.wait_for_runs), args.timeout),
                  file=sys.stderr)
            return 1
        print("  TensorBoard serves %d runs (after %.1f s)" % (len(args.wait_for_runs), time.monotonic() - started))
    if args.wait_only:
        return 0
    if not args.out:
        parser.error("--out is needed")
    os.makedirs(args.out, exist_ok=True)
    shots = [s for s in SHOTS if not args.only or s["name"] in args.only]
    if args.only and len(shots) != len(args.only):
        parser.error("unknown shot; choose from: " + ", ".join(s["name"] for s in SHOTS))

    failures = 0
    with tempfile.TemporaryDirectory(prefix="gradalert-chromium.") as profile:
        log = open(os.path.join(profile, "chromium.log"), "wb")
        browser = Browser(args.chromium, WIDTH, HEIGHT, profile=os.path.join(profile, "profile"), log=log)
        try:
            # TensorBoard keeps its settings in localStorage: set them once for this origin.
            try:
                browser.navigate(base + "#timeseries")
                browser.wait_for("document.readyState === 'complete'", args.timeout)
                browser.evaluate("localStorage.setItem('_tb_global_settings', %s)" % json.dumps(json.dumps(SETTINGS)))
            except CDPError as error:
                print("cannot open TensorBoard at %s: %s" % (base, error), file=sys.stderr)
                return 1
            for shot in shots:
                try:
                    path, waited, height = shoot(browser, base, shot, args.out, args.timeout, args.settle)
                    print("  %-32s %s (data after %.1f s, 1400x%d)" % (shot["name"], path, waited, height))
                except CDPError as error:
                    failures += 1
                    print("  %-32s FAILED: %s" % (shot["name"], error), file=sys.stderr)
        finally:
            browser.close()
            log.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
