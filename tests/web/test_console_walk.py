"""A clerk's walk through every page of the committees' console, and the chain explorer, on
a phone (390 × 844) in zh-CN, against the seeded 4-validator localnet with a short flow
on top (an owners' vote under way and a bill issued).

The pages are read from the app's own router (web/static/js/routes.js): every route with
roles is visited with a key that holds one of them, and so is the first page each one
links to (a vote, a notice, an activity, a block…), so a page added to the router is
walked without changing this test. On each page:

- no hash-like hex (17 or more hex digits, letters among them) is shown as text, except
  inside an element marked ``data-technical`` (a hash, key or signature shown on purpose,
  to be copied or compared);
- no unix time (10 or 13 digits) is shown;
- no catalogue key is shown raw and i18n.js warned of no missing message;
- the page is no wider than the phone;
- every distinct action button in the page gives visible feedback when pressed: the page
  changes around it, a dialog, alert or status appears, the form says what is missing,
  the app goes to another page, or a file is downloaded.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.web.browser import MOBILE, Watched, open_page, require_chromium
from tests.web.community import Community, start_community
from tests.web.test_screens import keys_shown

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

PASSPHRASE = "居委会办公室钥匙"
WAIT_MS = 60_000
FEEDBACK_MS = 4_000
FEEDBACK_POLL_MS = 100
HEX = re.compile(r"[0-9a-fA-F]{17,}")
UNIX_TIME = re.compile(r"(?<![\d.,])(?:\d{10}|\d{13})(?![\d.,])")
# The role each console key is picked for: the localnet's committee key, else the first
# actor of the demo community holding the role.
COMMITTEE_ROLES = {"committee", "validator", "observer"}

# Visible text nodes outside [data-technical]: what the clerk reads.
SHOWN_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest('[data-technical], script, style, template')) continue;
    if (!el.checkVisibility() || !n.nodeValue.trim()) continue;
    out.push([n.nodeValue, el.outerHTML.slice(0, 160)]);
  }
  for (const el of document.querySelectorAll('input:not([type=hidden]):not([type=file]), textarea')) {
    if (el.closest('[data-technical]') || !el.checkVisibility() || !el.value) continue;
    out.push([el.value, el.outerHTML.slice(0, 160)]);
  }
  return out;
}"""

# Before a button is pressed: watch its surroundings, the dialogs and alerts, the hash.
ARM = """(b) => {
  const box = b.closest('form, dialog, article, section, details, .card') || document.querySelector('main');
  const w = { changed: false, hash: location.hash, box, b };
  const alerts = () => [...document.querySelectorAll('dialog[open], [role=dialog], [role=alert], [role=status], .notice')]
    .filter((e) => e.checkVisibility()).length;
  w.alerts = alerts(); w.count = alerts;
  w.observer = new MutationObserver((ms) => {
    for (const m of ms) {
      if (m.target === b || box.contains(m.target) || (m.target.nodeType === 1 && m.target.closest('dialog'))) w.changed = true;
      for (const n of m.addedNodes) if (n.nodeType === 1 && (n.matches('dialog') || n.querySelector('dialog'))) w.changed = true;
    }
  });
  w.observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  w.form = b.form || null;
  window.hkchainWalk = w;
}"""

# The visible, enabled buttons of the page by name (its text, else its aria-label); given
# a name, the first such button is marked data-walk for the test to press.
FIND_BUTTONS = """(label) => {
  for (const b of document.querySelectorAll('[data-walk]')) b.removeAttribute('data-walk');
  const name = (b) => b.innerText.trim() || (b.getAttribute('aria-label') || '').trim();
  const all = [...document.querySelectorAll('main button')]
    .filter((b) => b.checkVisibility() && !b.disabled && !b.closest('dialog'));
  if (label === null) return all.map(name);
  const b = all.find((x) => name(x) === label);
  if (b) b.setAttribute('data-walk', '');
  return b ? [name(b)] : [];
}"""

FEEDBACK = """() => {
  const w = window.hkchainWalk;
  if (!w) return 'reloaded';
  if (w.changed) return 'changed';
  if (!w.b.isConnected) return 'removed';
  if (location.hash !== w.hash) return 'navigated';
  if (w.count() > w.alerts) return 'alert';
  if (w.form && !w.form.checkValidity()) return 'invalid';
  return null;
}"""


@dataclass
class Found:
    problems: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)
    pressed: list[tuple[str, str, str]] = field(default_factory=list)  # page, button, feedback


@pytest.fixture(scope="module")
def community(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Community]:
    require_chromium()
    running = start_community(tmp_path_factory.mktemp("web-console-walk"))
    c = next(running)
    try:
        # A short flow on top of the demo: an owners' vote under way and a bill issued.
        pid = c.ok("gov", "propose", "--category", "7", "--title", "加装电梯",
                   "--text", "在 3 号楼加装一部电梯，费用由一至六层业主按面积分摊。")["result"]
        c.ok("gov", "vote", str(pid), "yes", key=c.manifest["households"][1]["label"])
        c.ok("property", "issue-bill", "--household", c.addresses[c.manifest["households"][0]["label"]],
             "--period", "2027-04", key="property-co")
        yield c
    finally:
        running.close()  # stops the localnet


def warnings_into(warnings: list[str]) -> Any:
    return lambda m: warnings.append(m.text) if m.type == "warning" else None


def downloads_into(downloads: list[Any]) -> Any:
    return lambda d: downloads.append(d)


def console_keys(c: Community) -> dict[str, Path]:
    """The committee's key, a validator's (node 0's node.key: the validators page's forms),
    and, for each other role of the demo's actors, its first holder."""
    keys = {"committee": c.net.operator_key_file, "validator": c.net.nodes[0].home / "node.key"}
    for actor in c.manifest["actors"]:
        if actor["role"] not in keys:
            keys[actor["role"]] = Path(actor["key"])
    return keys


def signed_in(browser: Browser, c: Community, key_file: Path) -> Watched:
    w = open_page(browser, c.rpc(0), viewport=MOBILE, locale="zh-CN")
    p = w.page
    p.goto("/")
    p.evaluate("() => localStorage.setItem('hkchain.settings', JSON.stringify({lang: 'zh-CN', elder: false}))")
    p.goto("/#/me")
    p.reload()
    p.get_by_test_id("import-file").set_input_files(str(key_file))
    p.get_by_test_id("import-passphrase").fill(PASSPHRASE)
    p.get_by_test_id("import-key").click()
    p.get_by_test_id("my-address").wait_for(timeout=WAIT_MS)
    return w


def routes(p: Page) -> dict[str, list[str]]:
    """Every route of the console (with roles) from the app's router, and the explorer."""
    found: dict[str, list[str]] = p.evaluate("""async () => {
        const m = await import('/static/js/routes.js');
        return Object.fromEntries(Object.entries(m.ROUTES).filter(([, r]) => r.roles).map(([k, r]) => [k, r.roles]));
    }""")
    return {**found, "explorer": ["committee"]}


def show(p: Page, hash_: str) -> None:
    """The page as a clerk reads it: loaded, with every folded section opened."""
    p.goto("/#/" + hash_)
    p.wait_for_selector("main h2")
    p.wait_for_load_state("networkidle")
    p.wait_for_function("() => !document.querySelector('main').innerText.includes('正在读取')", timeout=WAIT_MS)
    if p.evaluate("() => [...document.querySelectorAll('main details:not([open])')].map((d) => { d.open = true; }).length"):
        p.wait_for_load_state("networkidle")
        p.wait_for_function("() => !document.querySelector('main').innerText.includes('正在读取')", timeout=WAIT_MS)


def check_page(w: Watched, where: str, found: Found, warnings: list[str]) -> None:
    p = w.page
    found.visited.append(where)
    width, inner = p.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width > inner:
        found.problems.append(f"{where}: {width} px wide on a {inner} px screen")
    shown: list[list[str]] = p.evaluate(SHOWN_TEXT)
    for text, html in shown:
        for m in HEX.findall(text):
            if re.search(r"[a-fA-F]", m):
                found.problems.append(f"{where}: raw hex {m!r} in {html}")
        for m in UNIX_TIME.findall(text):
            found.problems.append(f"{where}: a unix time {m!r} in {html}")
        raw = keys_shown(text)
        if raw:
            found.problems.append(f"{where}: catalogue keys shown raw {raw} in {html}")
    missing = [m for m in warnings if m.startswith("missing message")]
    if missing:
        found.problems.append(f"{where}: {missing}")
    warnings.clear()


def press_buttons(w: Watched, hash_: str, found: Found, downloads: list[Any]) -> None:
    """Press each distinct action button of the page once and see that something shows."""
    p = w.page
    labels = list(dict.fromkeys(p.evaluate(FIND_BUTTONS, None)))
    for label in labels:
        show(p, hash_)
        if not p.evaluate(FIND_BUTTONS, label):
            continue  # the page changed since (a live update): nothing to press
        button = p.locator("[data-walk]")
        if not label:
            found.problems.append(f"{hash_}: a button without a name: {button.evaluate('(b) => b.outerHTML')}")
        button.evaluate(ARM)
        before = len(downloads)
        try:
            button.click(timeout=5_000)
        except PlaywrightError as exc:  # a button that cannot be pressed is a finding
            found.problems.append(f"{hash_}: the button {label!r} cannot be pressed ({type(exc).__name__})")
            continue
        # The page's own signs, or a download (seen only here, as Playwright delivers its
        # event): whichever comes first, checked every FEEDBACK_POLL_MS.
        feedback = ""
        deadline = time.monotonic() + FEEDBACK_MS / 1000
        while not feedback and time.monotonic() < deadline:
            try:
                feedback = str(p.wait_for_function(FEEDBACK, timeout=FEEDBACK_POLL_MS).json_value())
            except PlaywrightTimeout:
                feedback = "download" if len(downloads) > before else ""
        if not feedback:  # no feedback within the time is the finding
            found.problems.append(f"{hash_}: the button {label!r} gives no visible feedback")
        found.pressed.append((hash_, label, feedback))
        if p.locator("dialog[open]").count():
            p.reload()  # leaves the dialog unanswered: nothing is signed


def test_a_clerk_walks_every_console_page_on_a_phone_in_chinese(browser: Browser, community: Community) -> None:
    c = community
    found = Found()
    opened: set[str] = set()
    names: list[str] = []
    for role, key_file in console_keys(c).items():
        w = signed_in(browser, c, key_file)
        warnings: list[str] = []
        downloads: list[Any] = []
        w.page.on("console", warnings_into(warnings))
        w.page.on("download", downloads_into(downloads))
        try:
            names = names or list(routes(w.page))
            for name in names:
                show(w.page, name)
                if not w.page.url.endswith("#/" + name):
                    continue  # not a page this key's roles open (the router showed home)
                opened.add(name)
                # The first page this one links to (a vote, a notice, a block…).
                sub = w.page.evaluate("(n) => { const a = document.querySelector(`main a[href^='#/${n}/']`);"
                                      " return a ? a.getAttribute('href').slice(2) : null; }", name)
                for hash_ in [name] + ([sub] if sub else []):
                    show(w.page, hash_)
                    check_page(w, f"{hash_} ({role})", found, warnings)
                    press_buttons(w, hash_, found, downloads)
            assert w.csp_violations() == [], w.csp_violations()
        finally:
            w.context.close()
    assert not found.problems, "\n".join(found.problems)
    assert opened == set(names), f"no key of the demo opens {set(names) - opened}: give the walk one"
    assert {"console", "households", "property", "governance", "noticeboard", "organise", "grants",
            "validators", "dashboard", "explorer"} <= opened
    assert len(found.visited) >= 20, found.visited
    assert len(found.pressed) >= 20, found.pressed
    assert any(page == "validators" for page, _, _ in found.pressed), "the validator's forms were pressed"
