"""Every resident page, the chain explorer and the committees' dashboard in zh and en, mobile (390×844)
and desktop, and in elder mode:
no console error, no CSP violation, nothing wider than the phone, no catalogue key shown
raw, and no critical accessibility violation (axe-core, vendored). With
HKCHAIN_UPDATE_SCREENSHOTS=1 the screenshots are written to docs/screenshots/."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.request import urlopen

import pytest

import web
from tests.analytics.chain import Chain, start_chain
from tests.web.browser import DESKTOP, MOBILE, Watched, open_page, require_chromium
from tests.web.community import Community, start_community
from tests.web.test_dashboard import PASSPHRASE as DASHBOARD_PASSPHRASE
from tests.web.test_dashboard import open_dashboard, wait_indexed
from tests.web.test_dashboard import sign_in as dashboard_sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
AXE = (web.VENDOR_DIR / "axe-core" / "axe.min.js").read_text()
PASSPHRASE = "我家住在三楼东边"
WAIT_MS = 60_000
PAGES = ["home", "bills", "votes", "vote", "activities", "culture", "services", "notices",
         "proposals", "merchants", "statement", "explorer", "block", "me"]
# The committees' console pages of households and property, each with the key whose roles
# open it (the localnet's committee key, the property company's).
CONSOLE_PAGES = [("console", "committee"), ("households", "committee"), ("property", "property-co")]
# The console pages of votes, notices, activities, roles and validators, seen with the
# committee's key; "{pid}" is the open vote. Those in COMMITTEE_SHOTS are kept as
# docs/screenshots/console-<name>-<lang>-<layout>.png.
COMMITTEE_PAGES = ["governance", "governance/{pid}", "noticeboard", "noticeboard/1", "organise", "organise/1",
                   "grants", "validators"]
COMMITTEE_SHOTS = {"governance/{pid}": "vote", "noticeboard/1": "notice", "organise/1": "activity",
                   "grants": "roles", "validators": "validators"}
# What each screenshot shows first (scrolled to, below the sticky top bar).
COMMITTEE_FOCUS = {"governance/{pid}": "tally", "noticeboard/1": "notice-receipts"}
KEYS = set(json.loads((web.STATIC_DIR / "i18n" / "zh-CN.json").read_text()))
_WORDS = re.compile(r"[\w.]+")
# Keys with characters outside [\w.] ("explorer.kind.new-view") are searched one by one.
_OTHER_KEYS = [(k, re.compile(rf"(?<![\w.]){re.escape(k)}(?![\w.])"))
               for k in sorted(KEYS) if not _WORDS.fullmatch(k)]


def keys_shown(text: str) -> list[str]:
    """The catalogue keys that stand in ``text`` as words of their own, not inside a longer
    identifier: a whole run of word characters and dots that is a key. One pass over the
    text, where a search per key recompiled a thousand patterns for every text (re keeps
    512) and took minutes of a page walk."""
    found = KEYS.intersection(_WORDS.findall(text))
    found.update(k for k, pattern in _OTHER_KEYS if pattern.search(text))
    return sorted(found)


@pytest.fixture(scope="module")
def community(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Community]:
    require_chromium()
    yield from start_community(tmp_path_factory.mktemp("web-screens"))


@pytest.fixture(scope="module")
def open_vote(community: Community) -> int:
    """A vote under way (two neighbours have voted) and a bill due for the household shown."""
    c = community
    doc = c.ok("gov", "propose", "--category", "7", "--title", "加装电梯",
               "--text", "在 3 号楼加装一部电梯，费用由一至六层业主按面积分摊。")
    pid: int = doc["result"]
    for i, choice in ((1, "yes"), (2, "no")):
        c.ok("gov", "vote", str(pid), choice, key=c.manifest["households"][i]["label"])
    c.ok("property", "issue-bill", "--household", c.addresses[c.manifest["households"][0]["label"]],
         "--period", "2027-04", "--extra", "Bicycle shed=80", key="property-co")
    return pid


@pytest.fixture(scope="module")
def busy_block(community: Community) -> int:
    """The height of the block with the most txs of the seeded community (for the
    explorer's block page: many contracts' events and receipts)."""
    doc = json.loads(urlopen(f"{community.rpc(0)}/v1/blocks?from=1&limit=100").read())
    return int(max(doc["blocks"], key=lambda b: len(b["txs"]))["height"])


def _signed_in(browser: Browser, c: Community, viewport: Any, lang: str, elder: bool = False,
               key_file: Path | None = None) -> Watched:
    """The app with a key imported on "me": the first household's, or ``key_file``."""
    w = open_page(browser, c.rpc(0), viewport=viewport)
    p = w.page
    p.goto("/")
    p.evaluate("([lang, elder]) => localStorage.setItem('hkchain.settings', JSON.stringify({lang, elder}))",
               [lang, elder])
    p.goto("/#/me")
    p.reload()
    label = c.manifest["households"][0]["label"]
    p.get_by_test_id("import-file").set_input_files(str(key_file or c.keys[label]))
    p.get_by_test_id("import-passphrase").fill(PASSPHRASE)
    p.get_by_test_id("import-key").click()
    p.get_by_test_id("my-address").wait_for(timeout=WAIT_MS)
    return w


def _show(p: Page, name: str, pid: int, block: int = 0) -> None:
    p.goto(f"/#/votes/{pid}" if name == "vote" else f"/#/explorer/{block}" if name == "block" else f"/#/{name}")
    p.wait_for_selector("main h2")
    p.wait_for_load_state("networkidle")
    p.wait_for_function("() => !document.querySelector('main').innerText.includes('正在读取') && "
                        "!document.querySelector('main').innerText.includes('Loading…')", timeout=WAIT_MS)


def _check(w: Watched, name: str, wide: int) -> None:
    p = w.page
    assert p.evaluate("document.documentElement.scrollWidth") <= wide, f"{name} is wider than the screen"
    # Protocol identifiers (a call's "culture.like", a tx hash) are shown on purpose and
    # marked translate="no"; a catalogue key anywhere else is a missing message.
    text = p.evaluate("""() => {
        let text = document.body.innerText;
        for (const el of document.querySelectorAll('[translate="no"]')) text = text.replace(el.innerText, ' ');
        return text;
    }""")
    raw = keys_shown(text)
    assert not raw, f"{name} shows catalogue keys: {raw}"


def _axe(p: Page) -> list[dict[str, Any]]:
    p.evaluate(AXE + "\n;0")
    result: list[dict[str, Any]] = p.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                                         nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' '))}));
    }""")
    return result


def test_keys_shown_finds_what_a_search_per_key_finds() -> None:
    keys = sorted(KEYS)
    dashed = next(k for k in keys if "-" in k)
    plain = [k for k in keys if "." in k][:3]
    texts = [
        f"请看 {plain[0]} 与 {dashed}。",  # two keys as words
        f"{plain[1]}.",  # a sentence's full stop after a key
        f"x{plain[1]} .{plain[2]} {plain[2]}x",  # inside longer identifiers: none
        f"确认{plain[0]}",  # after a Chinese character, which is a word character too
        "nothing here",
        " ".join(keys),
    ]
    for text in texts:
        want = sorted(k for k in KEYS if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w.])", text))
        assert keys_shown(text) == want, text
    assert keys_shown(texts[0]) == sorted([plain[0], dashed])
    assert keys_shown(texts[-1]) == keys


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("layout", ["mobile", "desktop"])
def test_every_page_renders_cleanly_and_accessibly(
        browser: Browser, community: Community, open_vote: int, busy_block: int, lang: str, layout: str) -> None:
    viewport = MOBILE if layout == "mobile" else DESKTOP
    w = _signed_in(browser, community, viewport, lang)
    try:
        for name in PAGES:
            _show(w.page, name, open_vote, busy_block)
            _check(w, name, viewport["width"])
            critical = [v for v in _axe(w.page) if v["impact"] == "critical"]
            assert not critical, f"{name}: {critical}"
            if os.environ.get("HKCHAIN_UPDATE_SCREENSHOTS") == "1" and name in (
                    "home", "bills", "vote", "activities", "culture", "block"):
                SHOTS.mkdir(parents=True, exist_ok=True)
                w.page.screenshot(path=str(SHOTS / f"{name}-{lang}-{layout}.png"))
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()


def test_elder_mode_is_large_and_has_few_choices(browser: Browser, community: Community, open_vote: int) -> None:
    w = _signed_in(browser, community, MOBILE, "zh-CN", elder=True)
    try:
        p = w.page
        _show(p, "home", open_vote)
        size = p.evaluate("parseFloat(getComputedStyle(document.querySelector('.tile .label')).fontSize)")
        assert size >= 22
        assert p.locator("main a:visible, main button:visible").count() <= 5
        assert p.locator("nav.nav a:visible").count() <= 5
        _show(p, "vote", open_vote)
        for box in p.locator("main button:visible").all():
            b = box.bounding_box()
            assert b is not None and b["height"] >= 60
        critical = [v for v in _axe(p) if v["impact"] in ("critical", "serious")]
        assert not critical, critical
        if os.environ.get("HKCHAIN_UPDATE_SCREENSHOTS") == "1":
            _show(p, "home", open_vote)
            p.screenshot(path=str(SHOTS / "home-elder-zh-CN-mobile.png"))
            _show(p, "vote", open_vote)
            p.locator("[data-testid=tally]").scroll_into_view_if_needed()
            p.screenshot(path=str(SHOTS / "vote-elder-zh-CN-mobile.png"))
        assert w.console_errors == []
    finally:
        w.context.close()


@pytest.fixture(scope="module")
def analytics_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """A localnet whose node runs the analytics indexer, with the demo community and a mixed
    load: the committees' dashboard has figures to draw (and small cells to hide)."""
    require_chromium()
    yield from start_chain(tmp_path_factory.mktemp("web-screens-dashboard"), analytics=True)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("layout", ["mobile", "desktop"])
def test_the_dashboard_renders_cleanly_and_accessibly(
        browser: Browser, analytics_chain: Chain, lang: str, layout: str) -> None:
    viewport = MOBILE if layout == "mobile" else DESKTOP
    wait_indexed(analytics_chain)
    w = dashboard_sign_in(browser, analytics_chain.rpc_url, analytics_chain.net.operator_key_file, DASHBOARD_PASSPHRASE,
                          viewport=viewport, lang=lang)
    try:
        p = w.page
        open_dashboard(p, "district")
        p.wait_for_load_state("networkidle")
        assert p.locator("canvas[data-testid^=chart-]").count() >= 8, "the seeded figures are drawn"
        _check(w, "dashboard", viewport["width"])
        critical = [v for v in _axe(p) if v["impact"] == "critical"]
        assert not critical, critical
        if os.environ.get("HKCHAIN_UPDATE_SCREENSHOTS") == "1":
            SHOTS.mkdir(parents=True, exist_ok=True)
            p.screenshot(path=str(SHOTS / f"dashboard-{lang}-{layout}.png"))
            p.evaluate("document.querySelector('[data-testid=dashboard-section-fees]').scrollIntoView();"
                       "window.scrollBy(0, -70)")  # below the sticky top bar
            p.screenshot(path=str(SHOTS / f"dashboard-fees-{lang}-{layout}.png"))
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("layout", ["mobile", "desktop"])
def test_the_households_and_property_console_pages_render_cleanly_and_accessibly(
        browser: Browser, community: Community, open_vote: int, lang: str, layout: str) -> None:
    viewport = MOBILE if layout == "mobile" else DESKTOP
    for name, who in CONSOLE_PAGES:
        key_file = community.net.operator_key_file if who == "committee" else community.keys[who]
        w = _signed_in(browser, community, viewport, lang, key_file=key_file)
        try:
            _show(w.page, name, open_vote)
            _check(w, name, viewport["width"])
            critical = [v for v in _axe(w.page) if v["impact"] == "critical"]
            assert not critical, f"{name}: {critical}"
            if os.environ.get("HKCHAIN_UPDATE_SCREENSHOTS") == "1":
                SHOTS.mkdir(parents=True, exist_ok=True)
                w.page.screenshot(path=str(SHOTS / f"console-{name}-{lang}-{layout}.png"), full_page=layout == "desktop")
            assert w.console_errors == [] and w.csp_violations() == [], (name, w.console_errors)
        finally:
            w.context.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("layout", ["mobile", "desktop"])
def test_the_votes_notices_activities_roles_and_validators_pages_render_cleanly_and_accessibly(
        browser: Browser, community: Community, open_vote: int, lang: str, layout: str) -> None:
    viewport = MOBILE if layout == "mobile" else DESKTOP
    w = _signed_in(browser, community, viewport, lang, key_file=community.net.operator_key_file)
    try:
        p = w.page
        for name in COMMITTEE_PAGES:
            p.goto("/#/" + name.format(pid=open_vote))
            p.wait_for_selector("main h2")
            assert p.url.endswith("#/" + name.format(pid=open_vote))
            p.wait_for_load_state("networkidle")
            p.wait_for_function("() => !document.querySelector('main').innerText.includes('正在读取') && "
                                "!document.querySelector('main').innerText.includes('Loading…')", timeout=WAIT_MS)
            _check(w, name, viewport["width"])
            critical = [v for v in _axe(p) if v["impact"] == "critical"]
            assert not critical, f"{name}: {critical}"
            if os.environ.get("HKCHAIN_UPDATE_SCREENSHOTS") == "1" and name in COMMITTEE_SHOTS:
                SHOTS.mkdir(parents=True, exist_ok=True)
                if name in COMMITTEE_FOCUS:
                    p.evaluate("(id) => { document.querySelector(`[data-testid=${id}]`).scrollIntoView();"
                               " window.scrollBy(0, -70); }", COMMITTEE_FOCUS[name])
                p.screenshot(path=str(SHOTS / f"console-{COMMITTEE_SHOTS[name]}-{lang}-{layout}.png"))
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()
