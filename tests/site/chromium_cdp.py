"""A small headless-Chromium driver over the DevTools protocol on a pipe (no extra package).

Chromium started with `--remote-debugging-pipe` reads protocol messages from file descriptor 3
and writes its answers and events to descriptor 4, each a JSON object ended by a NUL byte. This
module opens one tab, loads pages, records console errors, uncaught exceptions and every
request's URL, evaluates JavaScript and takes screenshots.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)
"""The flags the browser runs with (the issue's, plus the pipe and no shared-memory limits)."""


def _high(fds: tuple[int, int]) -> tuple[int, int]:
    """The two descriptors moved to numbers >= 10, so bash's `3<&N 4>&M` cannot clash (bash,
    not sh: dash takes single-digit descriptors only)."""
    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds)
    for fd in fds:
        os.close(fd)
    return moved[0], moved[1]


class BrowserError(RuntimeError):
    """The browser exited, answered with an error, or did not answer in time."""


def find_chromium() -> str | None:
    """The Chromium executable on PATH, or None."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def install_chromium() -> str | None:
    """Install Debian's `chromium` with apt-get when possible (root, apt-get present); the
    executable, or None when it cannot be installed here."""
    if find_chromium():
        return find_chromium()
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-qq", "chromium"]
    if subprocess.run(command, env=env, capture_output=True, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(command, env=env, capture_output=True, timeout=900)
    return find_chromium()


@dataclass
class PageLog:
    """What happened while a page was open.

    Attributes:
        errors: console errors, uncaught exceptions and error log entries, as text.
        requests: the URL of every request the page made.
    """

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class Browser:
    """One headless Chromium with one tab, driven over the DevTools pipe."""

    def __init__(self, executable: str, profile: Path, width: int = 1280, height: int = 900):
        commands_read, self._commands = _high(os.pipe())
        self._events, events_write = _high(os.pipe())
        shell = f'exec "$0" "$@" 3<&{commands_read} 4>&{events_write}'
        profile.mkdir(parents=True, exist_ok=True)
        self._stderr = profile / "chromium-stderr.log"
        with self._stderr.open("wb") as stderr:
            self._process = subprocess.Popen(
                ["bash", "-c", shell, executable, *FLAGS, f"--user-data-dir={profile}"],
                pass_fds=(commands_read, events_write),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        os.close(commands_read)
        os.close(events_write)
        self._buffer = b""
        self._next_id = 0
        self._pending: list[dict[str, Any]] = []
        self.log = PageLog()
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})
        self._session: str | None = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", metrics)

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        """Send a command to the tab and return its result."""
        return self._call(method, params, timeout, self._session)

    def _call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = 30,
        session: str | None = None,
    ) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            os.write(self._commands, json.dumps(message).encode() + b"\0")
        except BrokenPipeError as error:
            raise BrowserError(f"Chromium exited before {method}: {self._tail()}") from error
        answer = self._wait(lambda m: m.get("id") == message["id"], timeout, method)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def _wait(self, wanted: Any, timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for index, message in enumerate(self._pending):
                if wanted(message):
                    return self._pending.pop(index)
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer to {what} within {timeout} s")
            ready, _, _ = select.select([self._events], [], [], left)
            if ready:
                self._read()

    def _read(self) -> None:
        chunk = os.read(self._events, 1 << 20)
        if not chunk:
            raise BrowserError(f"Chromium exited (status {self._process.poll()}): {self._tail()}")
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\0")
        for raw in complete:
            message = json.loads(raw)
            self._record(message)
            if "id" in message or message.get("method") == "Page.loadEventFired":
                self._pending.append(message)

    def _record(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            texts = [str(arg.get("value", arg.get("description", ""))) for arg in params["args"]]
            self.log.errors.append("console: " + " ".join(texts))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.log.errors.append(f"exception: {text}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            self.log.errors.append(f"log: {entry['text']} {entry.get('url', '')}".strip())
        elif method == "Page.javascriptDialogOpening":
            self.log.errors.append(f"dialog: {params['type']} {params['message']!r}")
        elif method == "Network.requestWillBeSent":
            self.log.requests.append(params["request"]["url"])

    def _tail(self) -> str:
        lines = self._stderr.read_text(errors="replace").splitlines()
        return " | ".join(line for line in lines[-8:] if "dbus" not in line) or "no message"

    def open(self, url: str, timeout: float = 30) -> PageLog:
        """Load `url` and wait for its load event; returns the page's (fresh) log."""
        self.log = PageLog()
        self._pending = [m for m in self._pending if "id" in m]
        self.call("Page.navigate", {"url": url})
        self._wait(lambda m: m.get("method") == "Page.loadEventFired", timeout, f"load of {url}")
        return self.log

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30, poll: float = 0.1) -> Any:
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value or time.monotonic() > deadline:
                return value
            time.sleep(poll)

    def screenshot(self, path: Path, max_height: int = 6000) -> None:
        """Save a PNG of the whole page (cut at `max_height` CSS pixels)."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height)}
        params = {"format": "png", "captureBeyondViewport": True, "clip": {**clip, "scale": 1}}
        data = self.call("Page.captureScreenshot", params, timeout=60)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        """Close the browser and its pipes."""
        with contextlib.suppress(BrowserError, OSError):
            self._call("Browser.close", timeout=5)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._commands)
        os.close(self._events)
