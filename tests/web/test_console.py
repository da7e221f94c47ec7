"""The committees' console in Chromium against a real 4-validator localnet seeded with the
demo community: a committee key imported from the CLI's key file opens the console, and
only the pages its roles allow; a resident's key sees no console at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.web.browser import DESKTOP, MOBILE, Watched, open_page, require_chromium
from tests.web.community import Community, start_community

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

pytestmark = pytest.mark.slow

PASSPHRASE = "居委会办公室钥匙"
RESIDENT_PASSPHRASE = "我家住在三楼东边"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def community(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Community]:
    require_chromium()
    yield from start_community(tmp_path_factory.mktemp("web-console"))


def sign_in(browser: Browser, c: Community, key_file: Path, passphrase: str, *,
            viewport: ViewportSize = DESKTOP, lang: str = "zh-CN") -> Watched:
    """Open the app and import a CLI key file on the "me" page, as a clerk does."""
    w = open_page(browser, c.rpc(0), viewport=viewport)
    p = w.page
    p.goto("/")
    p.evaluate("(lang) => localStorage.setItem('hkchain.settings', JSON.stringify({lang}))", lang)
    p.goto("/#/me")
    p.reload()
    p.get_by_test_id("import-file").set_input_files(str(key_file))
    p.get_by_test_id("import-passphrase").fill(passphrase)
    p.get_by_test_id("import-key").click()
    p.get_by_test_id("my-address").wait_for(timeout=WAIT_MS)
    return w


def console_links(p: Page) -> list[str]:
    hrefs: list[str] = p.eval_on_selector_all(
        "nav.nav a", "els => els.map((a) => a.getAttribute('href'))")
    return hrefs


def test_a_committee_key_from_the_cli_opens_the_console_and_a_resident_key_does_not(
        browser: Browser, community: Community) -> None:
    c = community
    w = sign_in(browser, c, c.net.operator_key_file, PASSPHRASE)
    try:
        p = w.page
        p.get_by_test_id("open-console").click()
        p.get_by_test_id("console-address").wait_for(timeout=WAIT_MS)
        assert p.get_by_test_id("console-address").inner_text() == c.net.operator_address
        assert "居委会" in p.get_by_test_id("console-roles").inner_text()
        assert p.get_by_test_id("nav-console").is_visible()
        assert "#/console" in console_links(p)
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()

    label = c.manifest["households"][0]["label"]
    w = sign_in(browser, c, c.keys[label], RESIDENT_PASSPHRASE, viewport=MOBILE)
    try:
        p = w.page
        assert p.get_by_test_id("open-console").count() == 0
        assert "#/console" not in console_links(p)
        p.goto("/#/console")  # typed by hand: the router shows the home page instead
        p.get_by_test_id("tile-balance").wait_for(timeout=WAIT_MS)
        assert p.get_by_test_id("console-address").count() == 0
        p.goto("/#/more")
        p.wait_for_selector("main h2")
        assert p.get_by_test_id("more-console").count() == 0
    finally:
        w.context.close()
