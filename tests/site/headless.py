"""Headless Chromium for the browser tests: Debian's `chromium`, driven by Playwright.

The browser is installed by `make browser` (which `make test` runs), never from a test: where it
is missing the browser tests are skipped, with the reason. Playwright never downloads a browser
here (`playwright install` is not used); it launches the one on PATH. A `Tab` records, for each
page it opens, the console errors, uncaught exceptions, failed requests, dialogs and the URL of
every request.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    FloatRect,
    Request,
    ViewportSize,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeout

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]
"""The flags Chromium runs with (offline and headless; no shared-memory limit in containers)."""
SKIP = "Chromium is not installed: run `make browser` (Debian: apt-get install chromium)"
"""Why the browser tests are skipped where no Chromium is on PATH."""


def chromium_executable() -> str | None:
    """The Chromium executable on PATH, or None."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageLog:
    """What happened while a page was open.

    Attributes:
        errors: console errors, uncaught exceptions, failed requests and dialogs, as text.
        requests: the URL of every request the page made.
    """

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class Tab:
    """One page of the browser at a fixed viewport (CSS pixels, device scale 1)."""

    def __init__(self, browser: Browser, width: int = 1280, height: int = 900) -> None:
        viewport = ViewportSize(width=width, height=height)
        self._context = browser.new_context(viewport=viewport, device_scale_factor=1)
        self.page = self._context.new_page()
        self.log = PageLog()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.log.errors.append(f"exception: {error}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("request", lambda request: self.log.requests.append(request.url))
        self.page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "assert"):
            where = message.location.get("url", "")
            self.log.errors.append(f"console: {message.text} {where}".strip())

    def _failed(self, request: Request) -> None:
        self.log.errors.append(f"request failed: {request.url} ({request.failure})")

    def _dialog(self, dialog: Dialog) -> None:
        self.log.errors.append(f"dialog: {dialog.type} {dialog.message!r}")
        dialog.dismiss()

    def open(self, url: str, timeout_s: float = 60) -> PageLog:
        """Load `url` and wait for its load event; the page's (fresh) log."""
        self.log = PageLog()
        self.page.goto(url, wait_until="load", timeout=timeout_s * 1000)
        return self.log

    def evaluate(self, function: str) -> Any:
        """The (JSON-serialisable) value of a JavaScript function called in the page."""
        return self.page.evaluate(function)

    def wait_for(self, function: str, timeout_s: float = 60) -> Any:
        """The value of a JavaScript function once it is truthy (checked on every animation
        frame); None if it is not within `timeout_s`."""
        try:
            handle = self.page.wait_for_function(function, timeout=timeout_s * 1000)
        except PlaywrightTimeout:
            return None
        return handle.json_value()

    def screenshot(self, path: Path, max_height: int = 6000) -> None:
        """Save a PNG of the whole page (cut at `max_height` CSS pixels)."""
        width, height = self.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
        )
        clip = FloatRect(x=0, y=0, width=width, height=min(height, max_height))
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=path, full_page=True, clip=clip)

    def close(self) -> None:
        """Close the page and its browser context."""
        self._context.close()
