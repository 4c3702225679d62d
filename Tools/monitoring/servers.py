"""Real Prometheus and Alertmanager on 127.0.0.1, for the monitoring check.

Standard library only (Python 3.11). Starts Debian's `prometheus` and
`prometheus-alertmanager` on free loopback ports with temporary configs and data
folders, low intervals (scrape and rule evaluation every second, Alertmanager
group_wait 1 s), scraping the given targets and loading the given rules files;
and a webhook receiver (http.server in a thread) that records every notification
Alertmanager delivers. Everything is stopped, and the temporary folder removed,
when the `with` block ends: normally, on an exception, on Ctrl-C, and on SIGTERM
(turned into an exception by `terminate_on_sigterm`).

    with Servers(targets=["127.0.0.1:9464"], rules_files=[rules]) as servers:
        servers.wait_for_targets_up()
        value = servers.query_one('gradalert_runs')
        servers.wait_for(lambda: servers.webhook.notifications, timeout=60,
                         what="a webhook notification")

Configs are written as JSON, which YAML (and so both servers) accepts.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"  # Debian's name; upstream calls it `alertmanager`


class ServerError(RuntimeError):
    """A server did not start, stopped, or answered with an error. The message says which, with
    the command line and the tail of its log where that helps."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_binary(name: str, fallbacks: tuple[str, ...] = ()) -> str:
    for candidate in (name, *fallbacks):
        path = shutil.which(candidate)
        if path:
            return path
    raise ServerError(
        f"{name} not found on PATH; on Debian: apt-get install -y --no-install-recommends "
        "prometheus prometheus-alertmanager"
    )


def tail(path: str, lines: int = 25) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", "replace")
    except OSError as error:
        return f"(no log: {error})"
    kept = text.splitlines()[-lines:]
    return "\n".join("    " + line for line in kept) if kept else "    (empty)"


def problems_in_log(path: str, lines: int = 15) -> str:
    """The last `lines` warn/error lines of a Prometheus or Alertmanager log (logfmt), or its
    last few lines when it has none."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace").splitlines()
    except OSError as error:
        return f"    (no log: {error})"
    bad = [line for line in text if "level=warn" in line or "level=error" in line]
    if not bad:
        return "    (none; last lines:)\n" + "\n".join("    " + line for line in text[-5:])
    return "\n".join("    " + line for line in bad[-lines:])


@contextlib.contextmanager
def terminate_on_sigterm():
    """Within the block, SIGTERM raises KeyboardInterrupt in the main thread, so `with` blocks
    unwind and stop their servers, as they do on Ctrl-C."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- child processes ------------------------------------------------------------------------

_libc = None
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    pass
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # Runs in the child between fork and exec: if this Python process is killed outright
    # (SIGKILL, OOM), the kernel sends the child SIGTERM instead of leaving it running.
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Process:
    """A child process whose stdout and stderr go to one log file."""

    def __init__(self, name: str, argv: list[str], log_path: str, env: dict | None = None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")
        try:
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
                # Its own session: a Ctrl-C in the terminal reaches us, and we stop it in order.
                start_new_session=True,
                preexec_fn=_die_with_parent if _libc is not None else None,
            )
        except OSError as error:
            self._log.close()
            raise ServerError(f"{name}: cannot start {argv[0]}: {error}") from None
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def describe_exit(self) -> str:
        code = self.popen.poll()
        how = "is still running" if code is None else (
            f"exited with status {code}" if code >= 0 else f"was killed by signal {-code}")
        return (f"{self.name} {how}\n  command: {' '.join(self.argv)}\n"
                f"  last lines of {self.log_path}:\n{tail(self.log_path)}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` seconds. Returns the exit status."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(5)
        self._log.close()
        return self.popen.returncode


# --- HTTP helpers ---------------------------------------------------------------------------

def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2,
             on_timeout: Callable[[], str] | None = None) -> Any:
    """Calls `predicate` until it returns something truthy (returned) or `timeout` seconds pass
    (ServerError saying `what` was awaited, plus `on_timeout()`'s details). Exceptions from the
    predicate count as "not yet"; the last one is reported."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            result = predicate()
            if result:
                return result
        except (OSError, ValueError, KeyError, ServerError) as error:
            last_error = error
        if time.monotonic() >= deadline:
            details = []
            if last_error is not None:
                details.append(f"last error: {last_error}")
            if on_timeout is not None:
                details.append(on_timeout())
            raise ServerError(f"timed out after {timeout:g} s waiting for {what}"
                              + "".join("\n" + d for d in details))
        time.sleep(interval)


# --- webhook receiver -----------------------------------------------------------------------

@dataclass
class Notification:
    """One POST from Alertmanager: its JSON body (Alertmanager's webhook payload, version 4) and
    when it arrived."""
    received_wall: float
    received_monotonic: float
    path: str
    payload: dict

    @property
    def alerts(self) -> list[dict]:
        return self.payload.get("alerts", [])


@dataclass
class WebhookReceiver:
    """An HTTP server in a thread that records every POST as a Notification and answers 200."""
    host: str = "127.0.0.1"
    port: int = 0
    notifications: list[Notification] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/alertmanager"

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                now_wall, now_mono = time.time(), time.monotonic()
                try:
                    payload = json.loads(body)
                except ValueError as error:
                    with receiver._lock:
                        receiver.errors.append(f"not JSON ({error}): {body[:200]!r}")
                    self.send_response(400)
                    self.end_headers()
                    return
                with receiver._lock:
                    receiver.notifications.append(Notification(now_wall, now_mono, self.path, payload))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):  # quiet
                pass

        self._server = http.server.ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook", daemon=True)
        self._thread.start()

    def snapshot(self) -> list[Notification]:
        with self._lock:
            return list(self.notifications)

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# --- the servers ----------------------------------------------------------------------------

class Servers:
    """Prometheus + Alertmanager + webhook receiver, as a context manager.

    targets: "host:port" strings scraped as job `job` (metrics path /metrics).
    rules_files: loaded by Prometheus (paths are made absolute).
    route / inhibit_rules: Alertmanager's; the receiver named "webhook" is the recorder, and a
        route without a receiver gets it. Defaults: group by run and incident, group_wait 1 s.
    """

    def __init__(self, targets: list[str], rules_files: list[str] = (), job: str = "gradalert",
                 scrape_interval: str = "1s", evaluation_interval: str = "1s",
                 route: dict | None = None, inhibit_rules: list[dict] | None = None,
                 keep_workdir: bool = False, startup_timeout: float = 30.0, log=print):
        self.targets = list(targets)
        self.rules_files = [os.path.abspath(path) for path in rules_files]
        self.job = job
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.route = route
        self.inhibit_rules = inhibit_rules or []
        self.keep_workdir = keep_workdir
        self.startup_timeout = startup_timeout
        self.log = log
        self.workdir: str | None = None
        self.prometheus: Process | None = None
        self.alertmanager: Process | None = None
        self.webhook = WebhookReceiver()
        self.prometheus_url = ""
        self.alertmanager_url = ""
        # Other processes whose death should end a wait at once (the exporter under test).
        self.also_watch: list[Process] = []

    # lifecycle

    def __enter__(self) -> "Servers":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self):
        prometheus_bin = find_binary(PROMETHEUS)
        alertmanager_bin = find_binary(ALERTMANAGER, ("alertmanager",))
        for path in self.rules_files:
            if not os.path.isfile(path):
                raise ServerError(f"rules file {path} does not exist")
        self.workdir = tempfile.mkdtemp(prefix="gradalert-monitoring.")
        self.webhook.start()

        am_port = free_port()
        am_config = os.path.join(self.workdir, "alertmanager.yml")
        with open(am_config, "w") as handle:
            json.dump(self.alertmanager_config(), handle, indent=1)
        am_data = os.path.join(self.workdir, "alertmanager-data")
        os.mkdir(am_data)
        self.alertmanager_url = f"http://127.0.0.1:{am_port}"
        self.alertmanager = Process("alertmanager", [
            alertmanager_bin,
            f"--config.file={am_config}",
            f"--storage.path={am_data}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",  # no HA gossip: nothing to bind on 9094
            "--log.level=info",
        ], os.path.join(self.workdir, "alertmanager.log"))

        prom_port = free_port()
        prom_config = os.path.join(self.workdir, "prometheus.yml")
        with open(prom_config, "w") as handle:
            json.dump(self.prometheus_config(f"127.0.0.1:{am_port}"), handle, indent=1)
        prom_data = os.path.join(self.workdir, "prometheus-data")
        os.mkdir(prom_data)
        self.prometheus_url = f"http://127.0.0.1:{prom_port}"
        self.prometheus = Process("prometheus", [
            prometheus_bin,
            f"--config.file={prom_config}",
            f"--storage.tsdb.path={prom_data}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--storage.tsdb.retention.time=1d",
            # Resend firing alerts to Alertmanager every 2 s instead of every minute; it
            # deduplicates, so this only shortens the worst case after a lost send.
            "--rules.alert.resend-delay=2s",
            "--log.level=info",
        ], os.path.join(self.workdir, "prometheus.log"))

        self._wait_ready(self.alertmanager, self.alertmanager_url + "/-/ready")
        self._wait_ready(self.prometheus, self.prometheus_url + "/-/ready")
        # Prometheus must know its Alertmanager before an alert can be delivered.
        wait_for(lambda: self.api("/api/v1/alertmanagers")["activeAlertmanagers"],
                 self.startup_timeout, "Prometheus to discover its Alertmanager",
                 on_timeout=lambda: self.prometheus.describe_exit())
        if self.rules_files:
            groups = self.api("/api/v1/rules")["groups"]
            if not groups:
                raise ServerError(f"Prometheus loaded no rule groups from {self.rules_files}\n"
                                  + self.prometheus.describe_exit())
        self.log(f"prometheus {self.prometheus_url} (pid {self.prometheus.pid}), "
                 f"alertmanager {self.alertmanager_url} (pid {self.alertmanager.pid}), "
                 f"webhook {self.webhook.url}; workdir {self.workdir}")

    def stop(self):
        failures = []
        for process in (self.prometheus, self.alertmanager):
            if process is None:
                continue
            try:
                process.stop()
            except Exception as error:  # keep stopping the others
                failures.append(f"{process.name}: {error}")
        self.webhook.stop()
        if self.workdir and os.path.isdir(self.workdir):
            if self.keep_workdir:
                self.log(f"kept {self.workdir}")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
        if failures:
            raise ServerError("stopping: " + "; ".join(failures))

    def _wait_ready(self, process: Process, url: str):
        def ready():
            if not process.running():
                raise _Exited()
            status, _ = http_get(url, timeout=2)
            return status == 200

        try:
            wait_for(ready, self.startup_timeout, f"{process.name} to be ready at {url}",
                     on_timeout=process.describe_exit)
        except _Exited:
            raise ServerError(f"{process.name} did not start: " + process.describe_exit()) from None

    # configs

    def prometheus_config(self, alertmanager_address: str) -> dict:
        return {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "rule_files": self.rules_files,
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager_address]}]}]},
            "scrape_configs": [{
                "job_name": self.job,
                "static_configs": [{"targets": self.targets}],
            }],
        }

    def alertmanager_config(self) -> dict:
        route = dict(self.route) if self.route else {
            "group_by": ["instance", "run", "stream", "incident"],
            "group_wait": "1s",
            "group_interval": "2s",
            "repeat_interval": "1h",
        }
        route.setdefault("receiver", "webhook")
        return {
            "route": route,
            "receivers": [{
                "name": "webhook",
                "webhook_configs": [{"url": self.webhook.url, "send_resolved": True}],
            }],
            "inhibit_rules": self.inhibit_rules,
        }

    # queries

    def api(self, path: str, params: dict | None = None, base: str | None = None) -> Any:
        """GET a Prometheus (or, with base=, Alertmanager) API path; returns `data` of a
        successful Prometheus answer, or the decoded JSON for other APIs."""
        url = (base or self.prometheus_url) + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, body = http_get(url)
        try:
            document = json.loads(body)
        except ValueError:
            raise ServerError(f"GET {url}: HTTP {status}, not JSON: {body[:300]!r}") from None
        if isinstance(document, dict) and document.get("status") in ("success", "error"):
            # Prometheus' envelope
            if document["status"] != "success":
                raise ServerError(f"GET {url}: {document.get('errorType')}: {document.get('error')}")
            return document["data"]
        if status != 200:
            raise ServerError(f"GET {url}: HTTP {status}: {body[:300]!r}")
        return document

    def query(self, expr: str) -> list[dict]:
        """An instant PromQL query; returns the result vector as
        [{"metric": {labels}, "value": float, "text": the value string as Prometheus sent it}]."""
        data = self.api("/api/v1/query", {"query": expr})
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": float(data["result"][1]), "text": data["result"][1]}]
        if data["resultType"] != "vector":
            raise ServerError(f"query {expr!r}: expected a vector, got {data['resultType']}")
        return [{"metric": sample["metric"], "value": float(sample["value"][1]), "text": sample["value"][1]}
                for sample in data["result"]]

    def query_one(self, expr: str) -> float:
        result = self.query(expr)
        if len(result) != 1:
            raise ServerError(f"query {expr!r}: expected one sample, got {len(result)}: {result}")
        return result[0]["value"]

    def alerts(self) -> list[dict]:
        """Prometheus' active alerts (pending and firing)."""
        return self.api("/api/v1/alerts")["alerts"]

    def alertmanager_alerts(self) -> list[dict]:
        return self.api("/api/v2/alerts", base=self.alertmanager_url)

    def targets_health(self) -> list[dict]:
        return self.api("/api/v1/targets")["activeTargets"]

    def wait_for_targets_up(self, timeout: float = 30.0):
        def all_up():
            active = self.targets_health()
            return len(active) == len(self.targets) and all(t["health"] == "up" for t in active)

        def details():
            try:
                rows = [f"  {t['scrapeUrl']}: {t['health']} {t.get('lastError', '')}" for t in self.targets_health()]
            except ServerError as error:
                rows = [str(error)]
            return "targets:\n" + "\n".join(rows)

        wait_for(all_up, timeout, f"Prometheus to scrape {self.targets} successfully", on_timeout=details)

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2,
                 on_timeout: Callable[[], str] | None = None) -> Any:
        """`wait_for`, which also fails at once if a server has died."""

        def checked():
            for process in (self.prometheus, self.alertmanager, *self.also_watch):
                if process is not None and not process.running():
                    raise _Exited(process.describe_exit())
            return predicate()

        try:
            return wait_for(checked, timeout, what, interval, on_timeout)
        except _Exited as exited:
            raise ServerError(f"while waiting for {what}: {exited}") from None

    def logs(self) -> str:
        """For a failure report: each server's warnings and errors (or, with none, its last
        lines), and each target's last scrape."""
        parts = []
        for process in (self.prometheus, self.alertmanager):
            if process is not None:
                parts.append(f"{process.name} log ({process.log_path}), "
                             f"warnings and errors:\n{problems_in_log(process.log_path)}")
        if self.prometheus is not None and self.prometheus.running():
            try:
                for target in self.targets_health():
                    parts.append(f"target {target['scrapeUrl']}: {target['health']}, last scrape "
                                 f"{target.get('lastScrape')}, error {target.get('lastError') or 'none'}")
            except ServerError as error:
                parts.append(str(error))
        return "\n".join(parts)


class _Exited(Exception):
    pass
