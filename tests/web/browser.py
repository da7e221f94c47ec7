"""Chromium for the browser tests: where it is, how it is launched, and a page wrapper that
records what the tests must be able to fail on (console errors, CSP violations, every
request the page makes).

Outside CI a machine without Chromium skips these tests with the reason; under CI
(``CI=true``) a missing Chromium or Playwright fails them, so they can never silently
not run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Request, ViewportSize, WebSocket

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MOBILE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1366, "height": 900}
INSTALL_HINT = "apt-get install -y chromium fonts-noto-cjk; pip install -e '.[test]'"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def find_chromium() -> str | None:
    override = os.environ.get("HKCHAIN_CHROMIUM")
    if override:
        return override if Path(override).is_file() else None
    for path in CHROMIUM_CANDIDATES:
        if Path(path).is_file():
            return path
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """The Chromium executable, or skip (fail under CI) with the reason."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = f"Playwright is not installed ({INSTALL_HINT})"
        if in_ci():
            pytest.fail(reason + " — under CI the browser tests must run")
        pytest.skip(reason)
    exe = find_chromium()
    if exe is None:
        reason = f"no Chromium found at {', '.join(CHROMIUM_CANDIDATES)} or on PATH ({INSTALL_HINT})"
        if in_ci():
            pytest.fail(reason + " — under CI the browser tests must run")
        pytest.skip(reason)
    return exe


@contextmanager
def launch() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    exe = require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    """A page and what it did: console errors, CSP reports, requests."""

    page: Page
    context: BrowserContext
    console_errors: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    ws_sent: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console_errors if "Content Security Policy" in m]


def download(page: Page, test_id: str, path: Path) -> Path:
    """Press the element ``test_id`` and save the file it downloads to ``path``."""
    with page.expect_download() as dl:
        page.get_by_test_id(test_id).click()
    dl.value.save_as(path)
    return path


def open_page(browser: Browser, base_url: str, *, viewport: ViewportSize = MOBILE,
              locale: str = "zh-CN", **options: Any) -> Watched:
    context = browser.new_context(viewport=viewport, locale=locale, timezone_id="Europe/London",
                                  base_url=base_url, service_workers="block", **options)
    context.set_default_timeout(30_000)
    page = context.new_page()
    watched = Watched(page, context)
    page.on("console", lambda m: watched.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watched.console_errors.append(f"page error: {e}"))
    context.on("request", lambda r: watched.requests.append(r))

    def on_websocket(ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: watched.ws_sent.append(
            payload if isinstance(payload, str) else payload.decode("latin-1")))

    page.on("websocket", on_websocket)
    return watched
