"""A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (standard library only).

Chromium reads JSON commands, each ended by a NUL byte, from file descriptor 3 and writes
responses and events the same way to file descriptor 4. No websocket, no port, nothing to
install.
"""

import base64
import fcntl
import json
import os
import select
import subprocess
import time


class CDPError(Exception):
    pass


class Browser:
    """One headless Chromium and one page in it."""

    def __init__(self, chromium="chromium", width=1400, height=900, profile=None, log=None):
        # Pipes: we write commands into to_chrome, Chromium reads them as fd 3; Chromium writes
        # to from_chrome as fd 4, we read them.
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()

        def child_fds():
            # In the child, put Chromium's ends on 3 and 4: first copy both above 9 (closed on
            # exec) so that neither dup2 can overwrite the other. pass_fds keeps 3 and 4 open
            # (both exist here: the four pipe ends took the lowest free numbers) and closes the rest.
            read_end = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
            write_end = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        args = [
            chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--window-size=%d,%d" % (width, height), "--remote-debugging-pipe",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-sync", "--mute-audio",
            "--force-device-scale-factor=1", "--lang=en-US",
        ]
        if profile:
            args.append("--user-data-dir=" + profile)
        args.append("about:blank")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log or subprocess.DEVNULL,
                                     stderr=log or subprocess.DEVNULL, preexec_fn=child_fds,
                                     close_fds=True, pass_fds=(3, 4), start_new_session=True)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._w = to_chrome_w
        self._r = from_chrome_r
        self._buffer = b""
        self._next_id = 0
        self.session = None
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
            self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                     session=False)["sessionId"]
            self.call("Page.enable")
            self.call("Runtime.enable")
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self.close()
            raise

    def _read_message(self, deadline):
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CDPError("no answer from Chromium in time")
            ready, _, _ = select.select([self._r], [], [], min(remaining, 1.0))
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise CDPError("Chromium closed the debugging pipe (exit code %s)" % self.proc.poll())
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=True, timeout=60):
        self._next_id += 1
        command = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            command["sessionId"] = self.session
        data = json.dumps(command).encode() + b"\0"
        while data:
            written = os.write(self._w, data)
            data = data[written:]
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise CDPError("%s: %s" % (method, message["error"]))
                return message.get("result", {})

    def evaluate(self, expression, timeout=60):
        """The value of a JavaScript expression (awaited if it is a promise)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError("JavaScript failed: %s" % text)
        return result.get("result", {}).get("value")

    def navigate(self, url):
        self.call("Page.navigate", {"url": url})

    def wait_for(self, expression, timeout, interval=0.25):
        """Polls a JavaScript expression until it is truthy; returns its value, or None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except CDPError:
                value = None
            if value:
                return value
            if time.monotonic() >= deadline:
                return None
            time.sleep(interval)

    def screenshot(self, path, height=None):
        """Saves the viewport as PNG; with height, only its top `height` pixels."""
        params = {"format": "png", "captureBeyondViewport": False}
        if height:
            metrics = self.call("Page.getLayoutMetrics")["cssVisualViewport"]
            params["clip"] = {"x": 0, "y": 0, "width": metrics["clientWidth"], "height": height, "scale": 1}
        data = self.call("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except (CDPError, OSError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
