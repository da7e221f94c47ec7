"""The app's shell: served by the node with a strict CSP, Chinese first with English one
tap away, Shanghai times, a mobile and a desktop layout, and the elder mode."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import web
from node.webapp import CONTENT_SECURITY_POLICY
from tests.web.browser import DESKTOP, Watched

JS_FILES = sorted((web.STATIC_DIR / "js").rglob("*.js"))


def _catalogue(name: str) -> dict[str, str]:
    doc = json.loads((web.STATIC_DIR / "i18n" / f"{name}.json").read_text())
    assert isinstance(doc, dict)
    return doc


# --- static checks: no browser needed ---------------------------------------------------


def test_html_has_no_inline_script_or_style() -> None:
    for path in web.STATIC_DIR.rglob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, f"{path.name}: inline script {tag}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{path.name}: inline event handler"
        assert not re.search(r"\sstyle\s*=", text), f"{path.name}: inline style"


@pytest.mark.parametrize("path", JS_FILES, ids=lambda p: p.name)
def test_scripts_use_no_eval_or_html_injection(path: Path) -> None:
    text = path.read_text()
    for bad in ("eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert bad not in text, f"{path.name} uses {bad}"


def test_catalogues_have_the_same_keys_and_cover_every_message_used() -> None:
    zh, en = _catalogue("zh-CN"), _catalogue("en")
    assert sorted(zh) == sorted(en)
    used: set[str] = set()
    for path in JS_FILES:
        used.update(re.findall(r"\bt\('([a-z0-9_.]+)'", path.read_text()))
    missing = sorted(k for k in used if k not in zh)
    assert not missing, f"messages used but not in the catalogues: {missing}"
    for key, text in zh.items():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", en[key])), key


# --- served by the node --------------------------------------------------------------------


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_the_node_serves_the_app_with_a_strict_csp(base_url: str) -> None:
    status, headers, body = _get(base_url + "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "script-src 'self' 'wasm-unsafe-eval'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert b'<script type="module" src="/static/js/main.js">' in body
    status, headers, _ = _get(base_url + "/static/js/main.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    for bad in ("/static/../node/rpc.py", "/static/%2e%2e/setup.cfg", "/vendor/VENDORED.md.bak",
                "/static/js/missing.js"):
        assert _get(base_url + bad)[0] == 404, bad


# --- in Chromium ---------------------------------------------------------------------------


def _open(page: Watched, path: str = "/") -> None:
    page.page.goto(path)
    page.page.wait_for_selector("main h2")


def test_chinese_first_then_english(page: Watched) -> None:
    _open(page)
    p = page.page
    assert p.locator("html").get_attribute("lang") == "zh-CN"
    assert p.locator("header h1").inner_text() == "虹口社区"
    p.get_by_test_id("chain-line").filter(has_text="北京时间").wait_for()
    p.get_by_test_id("lang-switch").click()
    p.locator("header h1", has_text="Hongkou Community").wait_for()
    assert p.locator("html").get_attribute("lang") == "en"
    p.get_by_test_id("chain-line").filter(has_text="Beijing time").wait_for()
    p.reload()
    p.locator("header h1", has_text="Hongkou Community").wait_for()  # the choice is kept
    assert page.console_errors == []


def test_times_are_shanghai_whatever_the_device_zone(page: Watched) -> None:
    _open(page)
    # The context runs in Europe/London; 0 ms is 08:00 on 1 January 1970 in Shanghai.
    shown = page.page.evaluate("import('/static/js/i18n.js').then(m => m.fmt.time(0))")
    assert "1970" in shown and "08:00" in shown
    points = page.page.evaluate("import('/static/js/i18n.js').then(m => m.fmt.points(1234567))")
    assert points == "1,234,567 积分"
    area = page.page.evaluate("import('/static/js/i18n.js').then(m => m.fmt.area(8905))")
    assert area == "89.05 平方米"


def test_csp_blocks_inline_and_foreign_scripts(page: Watched) -> None:
    # (eval cannot be tried from here: code the test injects runs with the debugger's
    # rights, which CSP does not apply to; the header test above pins 'unsafe-eval' out.)
    _open(page)
    p = page.page
    ran = p.evaluate("""() => new Promise((resolve) => {
        window.__inline = false;
        document.addEventListener('securitypolicyviolation', () => resolve(window.__inline), {once: true});
        const s = document.createElement('script');
        s.textContent = 'window.__inline = true';
        document.body.appendChild(s);
    })""")
    assert ran is False
    directive = p.evaluate("""() => new Promise((resolve) => {
        document.addEventListener('securitypolicyviolation', (e) => resolve(e.effectiveDirective), {once: true});
        const s = document.createElement('script');
        s.src = 'http://127.0.0.2:9/foreign.js';
        document.body.appendChild(s);
    })""")
    assert directive == "script-src-elem"


def test_mobile_layout_fits_390_wide(page: Watched) -> None:
    _open(page)
    p = page.page
    assert p.evaluate("document.documentElement.scrollWidth") <= 390
    nav = p.locator("nav.nav").bounding_box()
    assert nav is not None and nav["y"] > 700  # the bottom bar
    for box in p.locator("nav.nav a:visible").all():
        b = box.bounding_box()
        assert b is not None and b["height"] >= 48  # big enough for a finger


def test_desktop_layout_has_a_sidebar(page: Watched) -> None:
    page.page.set_viewport_size(DESKTOP)
    _open(page)
    nav = page.page.locator("nav.nav").bounding_box()
    assert nav is not None and nav["x"] == 0 and nav["width"] < 300 and nav["height"] > 500


def test_elder_mode_is_larger_and_kept(page: Watched) -> None:
    _open(page)
    p = page.page
    before = p.evaluate("parseFloat(getComputedStyle(document.querySelector('main h2')).fontSize)")
    links_before = p.locator("nav.nav a:visible").count()
    p.get_by_test_id("elder-switch").click()
    p.wait_for_function("() => document.body.classList.contains('elder')")
    after = p.evaluate("parseFloat(getComputedStyle(document.querySelector('main h2')).fontSize)")
    assert after >= before * 1.3
    assert p.locator("nav.nav a:visible").count() <= links_before
    p.reload()
    p.wait_for_function("() => document.body.classList.contains('elder')")
    assert page.console_errors == []


def test_localnet_prints_an_app_url_pinned_to_genesis(base_url: str) -> None:
    from node.localnet import app_url, rpc_status

    status = rpc_status(base_url)
    assert status is not None
    assert app_url(base_url) == f"{base_url}/#genesis={status['genesis_hash']}"
    assert _get(app_url(base_url).split("#")[0])[0] == 200


def test_every_file_of_the_app_is_packaged_and_served() -> None:
    import configparser
    import fnmatch

    from node.webapp import load_assets

    cfg = configparser.ConfigParser()
    cfg.read(Path(web.ROOT).parent / "setup.cfg")
    globs = [g.strip() for g in cfg["options.package_data"]["web"].splitlines() if g.strip()]
    served = load_assets()
    for path in sorted(Path(web.ROOT).rglob("*")):
        if not path.is_file() or path.suffix == ".py" or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(web.ROOT).as_posix()
        assert any(fnmatch.fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs), \
            f"{rel} is not in setup.cfg's package_data for web"
        if path.name != "LICENSE" and path.suffix != ".md":
            assert "/" + rel in served, f"{rel} is not served"


def test_check_in_qr_text_and_the_vendored_reader(page: Watched) -> None:
    _open(page)
    got = page.page.evaluate("""async () => {
        const m = await import('/static/js/pages/activities.js');
        await new Promise((resolve, reject) => {
          const s = document.createElement('script');
          s.src = '/vendor/jsqr/jsQR.js'; s.onload = resolve; s.onerror = reject;
          document.head.appendChild(s);
        });
        const blank = new Uint8ClampedArray(4 * 32 * 32).fill(255);
        return [m.codeFromQr('hkchain-checkin:7:482913', 7), m.codeFromQr('hkchain-checkin:8:482913', 7),
                m.codeFromQr('https://example.com', 7), typeof jsQR, jsQR(blank, 32, 32)];
    }""")
    assert got == ["482913", None, None, "function", None]
    assert page.csp_violations() == []
