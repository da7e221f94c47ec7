"""The console of a merchant and of a service provider in Chromium, against a real
4-validator localnet seeded with the demo community: the demo's bakery signs in with its
CLI key file, sees a resident's payment arrive live with its time, amount, fee and order,
the day's and month's totals, checks an order against the chain and exports the receipts;
the demo's plumber signs in, offers on a resident's request, sees it accepted and
completed by the resident, with the points received and the rating."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openpyxl
import pytest

import web
from core.crypto import PrivateKey
from tests.web.browser import DESKTOP, MOBILE, Watched, download, open_page, require_chromium
from tests.web.community import Community, start_community
from tests.web.test_screens import SHOTS
from tests.web.test_screens import _axe as axe
from tests.web.test_screens import _check as check_layout

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

pytestmark = pytest.mark.slow

PASSPHRASE = "小店的钥匙密码很长"
WAIT_MS = 60_000
SHANGHAI = timedelta(hours=8)
JSQR = (web.VENDOR_DIR / "jsqr" / "jsQR.js").read_text()


@pytest.fixture(scope="module")
def community(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Community]:
    require_chromium()
    yield from start_community(tmp_path_factory.mktemp("web-console-roles"))


def sign_in(browser: Browser, c: Community, key_file: Path, *, viewport: ViewportSize = MOBILE) -> Watched:
    """Open the app and import a CLI key file on the "me" page (sealed under a new passphrase)."""
    w = open_page(browser, c.rpc(0), viewport=viewport)
    p = w.page
    p.goto("/#/me")
    p.get_by_test_id("import-file").set_input_files(str(key_file))
    p.get_by_test_id("import-passphrase").fill(PASSPHRASE)
    p.get_by_test_id("import-key").click()
    p.get_by_test_id("my-address").wait_for(timeout=WAIT_MS)
    return w


def open_from_console(p: Page, route: str) -> None:
    """As a shopkeeper would after importing the key: "me" → the console's front page → the
    page's tile (the front page links every page the key's roles open)."""
    p.goto("/#/me")
    p.get_by_test_id("open-console").click(timeout=WAIT_MS)
    p.get_by_test_id(f"console-{route}").click(timeout=WAIT_MS)
    p.wait_for_url(f"**/#/{route}")


def shanghai(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC) + SHANGHAI


def shown_time(seconds: int) -> str:
    """A time as the app shows it in zh-CN (Intl, Asia/Shanghai): "2026/12/01 09:05"."""
    return shanghai(seconds).strftime("%Y/%m/%d %H:%M")


# --- a merchant ------------------------------------------------------------------------------


def test_a_merchant_sees_a_residents_payment_arrive_checks_it_and_exports_the_receipts(
        browser: Browser, community: Community, tmp_path: Path) -> None:
    c = community
    shop = c.addresses["merchant-bakery"]
    w = sign_in(browser, c, c.keys["merchant-bakery"])
    try:
        p = w.page
        p.goto("/#/console")
        assert "商户" in p.get_by_test_id("console-roles").inner_text(timeout=WAIT_MS)
        assert p.get_by_test_id("console-households").count() == 0  # not the committee's pages
        open_from_console(p, "shop")
        assert p.get_by_test_id("shop-listing-name").inner_text(timeout=WAIT_MS) == "Golden Crust Bakery"
        # The demo's payment is listed with its order number; none yet in the live feed.
        p.locator("[data-testid=shop-receipts] tr[data-order='GC-0001']").wait_for(timeout=WAIT_MS)

        # A resident pays 250 points while the page is open (the CLI, the resident's key).
        c.ok("merchants", "pay", shop, "--amount", "250", "--order-ref", "GC-0102", key="resident-3")
        paid = c.query("merchants", "payment", [shop, "GC-0102"])
        assert (paid["amount"], paid["fee"]) == (250, 3)  # 1 %, rounded up
        p.locator("[data-testid=shop-feed] li[data-order='GC-0102']").wait_for(timeout=WAIT_MS)
        row = p.locator("[data-testid=shop-receipts] tr[data-order='GC-0102']")
        row.wait_for(timeout=WAIT_MS)
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == shown_time(paid["at"]), cells
        assert cells[1] == "GC-0102" and cells[3:] == ["250 积分", "3 积分", "247 积分"], cells

        # Today's and this month's totals are the chain's payments of that Shanghai day/month.
        payments = {ref: c.query("merchants", "payment", [shop, ref]) for ref in ("GC-0001", "GC-0102")}
        day = shanghai(paid["at"]).strftime("%Y-%m-%d")
        today = sum(v["amount"] - v["fee"] for v in payments.values() if shanghai(v["at"]).strftime("%Y-%m-%d") == day)
        tile = p.get_by_test_id("shop-today")
        p.wait_for_function("(d) => document.querySelector('[data-testid=shop-today]')?.innerText.includes(d)",
                            arg=day, timeout=WAIT_MS)
        assert f"{today:,} 积分" in tile.inner_text(), tile.inner_text()
        day_row = p.locator(f"[data-testid=shop-days] tr[data-key='{day}']").locator("td").all_inner_texts()
        n_today = sum(1 for v in payments.values() if shanghai(v["at"]).strftime("%Y-%m-%d") == day)
        assert day_row == [day, str(n_today), f"{sum(v['amount'] for v in payments.values() if shanghai(v['at']).strftime('%Y-%m-%d') == day):,} 积分",
                           f"{today:,} 积分"], day_row

        # The counter checks an order number against the chain (a state proof).
        p.get_by_test_id("shop-check-ref").fill("GC-0102")
        p.get_by_test_id("shop-check-go").click()
        result = p.get_by_test_id("shop-check-result")
        result.wait_for(timeout=WAIT_MS)
        assert "已付 250 积分" in result.inner_text() and result.get_by_test_id("verified").count() == 1, result.inner_text()
        p.get_by_test_id("shop-check-ref").fill("GC-9999")
        p.get_by_test_id("shop-check-go").click()
        p.wait_for_function("() => document.querySelector('[data-testid=shop-check-result]')?.innerText.includes('没有订单 GC-9999')",
                            timeout=WAIT_MS)

        csv_path = download(p, "shop-csv", tmp_path / "receipts.csv")
        xlsx_path = download(p, "shop-xlsx", tmp_path / "receipts.xlsx")
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()

    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["时间(北京时间)", "订单号", "顾客", "顾客地址", "金额(积分)", "平台服务费(积分)", "实收(积分)", "区块"]
    got = {r[1]: (r[0], r[3], int(r[4]), int(r[5]), int(r[6])) for r in table[1:]}
    assert got == {ref: (shanghai(v["at"]).strftime("%Y-%m-%d %H:%M:%S"), v["payer"], v["amount"], v["fee"], v["amount"] - v["fee"])
                   for ref, v in payments.items()}
    sheet = openpyxl.load_workbook(xlsx_path).active
    assert sheet is not None
    xrows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert xrows[0] == table[0]
    assert {r[1]: (r[4], r[5], r[6]) for r in xrows[1:]} == {ref: g[2:] for ref, g in got.items()}


def test_a_merchant_without_a_listing_is_asked_to_list_the_shop_and_lists_it(
        browser: Browser, community: Community, tmp_path: Path) -> None:
    c = community
    key = PrivateKey.from_seed_text("a new corner shop")
    key_file = tmp_path / "shop.key"
    key.save(key_file)
    c.ok("gov", "grant-role", key.address, "merchant")
    c.ok("transfer", "--to", key.address, "--amount", "100")
    w = sign_in(browser, c, key_file, viewport=DESKTOP)
    try:
        p = w.page
        open_from_console(p, "shop")
        p.get_by_test_id("shop-name").fill("街角小卖部")
        p.get_by_test_id("shop-category").fill("杂货")
        p.get_by_test_id("shop-register").click()
        p.get_by_test_id("tx-confirm").click(timeout=WAIT_MS)
        p.get_by_test_id("shop-listing-name").wait_for(timeout=WAIT_MS)
        assert p.get_by_test_id("shop-listing-name").inner_text() == "街角小卖部"
        listing: dict[str, Any] = c.query("merchants", "listing", [key.address])
        assert (listing["name"], listing["category"]) == ("街角小卖部", "杂货")
        assert "还没有居民在本店用积分付款" in p.locator("main").inner_text()
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()


def test_a_shop_asks_for_a_payment_with_a_qr_code_that_a_residents_phone_pays(
        browser: Browser, community: Community) -> None:
    c = community
    shop = c.addresses["merchant-grocer"]
    payer = "resident-4"
    w = sign_in(browser, c, c.keys["merchant-grocer"])  # the shop's phone
    r = sign_in(browser, c, c.keys[payer])
    try:
        p = w.page
        open_from_console(p, "shop")
        p.get_by_test_id("shop-ask-amount").fill("88")
        p.get_by_test_id("shop-ask-go").click()
        ref = p.get_by_test_id("shop-ask-ref").inner_text(timeout=WAIT_MS)
        assert re.fullmatch(r"\d{8}-\d{6}", ref), ref
        link = p.get_by_test_id("shop-pay-link").inner_text()
        assert link == f"{c.rpc(0)}/#/merchants/pay/{shop}/88/{ref}"
        # What the resident's camera reads from the canvas: the vendored jsQR decodes it.
        p.evaluate(JSQR + "\n;0")
        text = p.evaluate("""() => {
            const c = document.querySelector('[data-testid=shop-qr]');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height);
            const r = jsQR(d.data, c.width, c.height);
            return r && r.data;
        }""")
        assert text == link
        assert "等待顾客付款" in p.get_by_test_id("shop-ask-status").inner_text()
        check_layout(w, "the payment code", MOBILE["width"])

        # The resident's phone opens the link and pays with one yes.
        q = r.page
        q.goto(link)
        asked = q.get_by_test_id("pay-asked")
        asked.wait_for(timeout=WAIT_MS)
        assert f"Ah Fat Grocery 收款 88 积分（订单 {ref}）" in asked.inner_text()
        q.get_by_test_id("pay-asked-go").click()
        q.get_by_test_id("tx-confirm").click(timeout=WAIT_MS)
        q.get_by_test_id("pay-asked-done").wait_for(timeout=WAIT_MS)
        paid = c.query("merchants", "payment", [shop, ref])
        assert (paid["payer"], paid["amount"], paid["fee"]) == (c.addresses[payer], 88, 1)

        # The counter sees it received, and it is among the receipts.
        wait_text(p, "shop-ask-status", f"已收到 88 积分（订单 {ref}），实收 87 积分")
        p.locator(f"[data-testid=shop-receipts] tr[data-order='{ref}']").wait_for(timeout=WAIT_MS)
        # The same code again: paid already, nothing to pay.
        q.goto("/#/home")
        q.goto(link)
        q.get_by_test_id("pay-asked-done").wait_for(timeout=WAIT_MS)
        assert "已经付过了" in q.get_by_test_id("pay-asked").inner_text()
        assert q.get_by_test_id("pay-asked-go").count() == 0
        # A code naming an address that is not a listed shop is refused in words.
        q.goto(f"/#/merchants/pay/{c.addresses['resident-5']}/88/X-1")
        q.get_by_test_id("pay-asked-error").wait_for(timeout=WAIT_MS)
        assert "不是社区登记的商户" in q.get_by_test_id("pay-asked-error").inner_text()
        assert w.console_errors == [] and w.csp_violations() == []
        assert r.console_errors == [] and r.csp_violations() == []
    finally:
        w.context.close()
        r.context.close()


# --- a service provider ------------------------------------------------------------------------


def balance(c: Community, address: str) -> int:
    return int(c.query("token", "balance", [address]))


def wait_text(p: Page, test_id: str, text: str) -> None:
    p.wait_for_function("([id, s]) => document.querySelector(`[data-testid='${id}']`)?.innerText.includes(s)",
                        arg=[test_id, text], timeout=WAIT_MS)


def test_a_service_provider_offers_on_a_residents_request_and_follows_it_to_done_and_rated(
        browser: Browser, community: Community) -> None:
    c = community
    plumber = c.addresses["provider-plumber"]
    resident = "resident-1"
    w = sign_in(browser, c, c.keys["provider-plumber"])
    try:
        p = w.page
        open_from_console(p, "jobs")
        p.get_by_test_id("provider-rating").wait_for(timeout=WAIT_MS)
        # The resident posts the request while the page is open: it arrives live.
        rid = c.ok("services", "request", "--category", "plumbing", "--description", "卫生间水管漏水，请周六上午来修。",
                   "--budget", "800", key=resident)["result"]
        p.locator(f"[data-testid=jobs-feed] li[data-request='{rid}']").wait_for(timeout=WAIT_MS)
        assert "新需求" in p.locator(f"[data-testid=jobs-feed] li[data-request='{rid}']").inner_text()
        card = p.get_by_test_id(f"open-{rid}")
        card.wait_for(timeout=WAIT_MS)
        wait_text(p, f"open-{rid}", "卫生间水管漏水，请周六上午来修。")  # the text checked against its hash
        assert "预算 800 积分" in card.inner_text()
        assert p.get_by_test_id("provider-rating").inner_text() == "还没有评价（排序时按 3.00 计）"

        # Above the budget: said in words, nothing signed.
        p.get_by_test_id(f"offer-price-{rid}").fill("900")
        p.get_by_test_id(f"offer-go-{rid}").click()
        wait_text(p, f"open-{rid}", "报价不能高于居民的预算")
        assert p.get_by_test_id("tx-confirm").count() == 0
        assert c.query("services", "offers", [rid]) == []

        p.get_by_test_id(f"offer-price-{rid}").fill("600")
        p.get_by_test_id(f"offer-go-{rid}").click()
        p.get_by_test_id("tx-confirm").click(timeout=WAIT_MS)
        p.get_by_test_id(f"my-offer-{rid}").wait_for(timeout=WAIT_MS)
        assert p.get_by_test_id(f"my-offer-{rid}").inner_text() == "我已报价 600 积分"
        assert [(o["provider"], o["price"]) for o in c.query("services", "offers", [rid])] == [(plumber, 600)]

        # The resident chooses the plumber (the CLI): the job arrives live, with the household.
        c.ok("services", "accept", str(rid), "--provider", plumber, key=resident)
        wait_text(p, "jobs-feed", f"居民选了您：工单 #{rid}")
        wait_text(p, f"job-status-{rid}", "已接单，待上门")
        unit = c.query("households", "record", [c.addresses[resident]])["unit"]
        assert unit in p.get_by_test_id(f"job-household-{rid}").inner_text()
        assert "600 积分 由平台托管" in p.get_by_test_id(f"job-{rid}").inner_text()
        assert p.get_by_test_id(f"open-{rid}").count() == 0  # no longer an open request

        # The resident confirms the work is done and rates it: the points arrive, then the rating.
        before = balance(c, plumber)
        c.ok("services", "complete", str(rid), key=resident)
        wait_text(p, f"job-status-{rid}", "已完成")
        assert p.get_by_test_id(f"job-received-{rid}").inner_text() == "600 积分"
        assert balance(c, plumber) == before + 600
        assert p.get_by_test_id(f"job-rated-{rid}").inner_text() == "居民还没有评价"
        c.ok("services", "rate", str(rid), "--score", "5", key=resident)
        wait_text(p, f"job-rated-{rid}", "居民已评价")
        rating = c.query("services", "provider_of", [plumber])
        x100 = rating["rating_x100"]
        wait_text(p, "provider-rating", f"{x100 // 100}.{x100 % 100:02d} / 5（{rating['rating_count']} 次评价）")
        assert "获得 5 星评价" in p.get_by_test_id("jobs-feed").inner_text()
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()


def test_a_service_provider_gives_a_job_back_and_the_resident_is_refunded(
        browser: Browser, community: Community) -> None:
    c = community
    plumber = c.addresses["provider-plumber"]
    resident = "resident-2"
    rid = c.ok("services", "request", "--category", "repair", "--description", "阳台门关不上。",
               "--budget", "300", key=resident)["result"]
    c.ok("services", "offer", str(rid), "--price", "280", key="provider-plumber")
    c.ok("services", "accept", str(rid), "--provider", plumber, key=resident)
    held = balance(c, c.addresses[resident])
    w = sign_in(browser, c, c.keys["provider-plumber"], viewport=DESKTOP)
    try:
        p = w.page
        open_from_console(p, "jobs")
        wait_text(p, f"job-status-{rid}", "已接单，待上门")
        p.get_by_test_id(f"job-more-{rid}").click()
        p.get_by_test_id(f"job-cancel-{rid}").click()
        p.get_by_test_id("tx-confirm").click(timeout=WAIT_MS)
        wait_text(p, f"job-status-{rid}", "已取消")
        request = c.query("services", "request_of", [rid])
        assert (request["status"], request["escrow"]) == ("cancelled", 0)
        assert balance(c, c.addresses[resident]) == held + 280
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()


def test_a_new_service_provider_chooses_its_categories_and_then_sees_requests_in_them(
        browser: Browser, community: Community, tmp_path: Path) -> None:
    c = community
    key = PrivateKey.from_seed_text("a new home-care worker")
    key_file = tmp_path / "carer.key"
    key.save(key_file)
    c.ok("gov", "grant-role", key.address, "service_provider")
    c.ok("transfer", "--to", key.address, "--amount", "100")
    w = sign_in(browser, c, key_file)
    try:
        p = w.page
        open_from_console(p, "jobs")
        p.get_by_test_id("categories-go").wait_for(timeout=WAIT_MS)
        assert "还没有选择服务类别" in p.get_by_test_id("provider-about").inner_text()
        # Nothing chosen: said in words, nothing signed.
        p.get_by_test_id("categories-go").click()
        wait_text(p, "provider-about", "请选择 1 到 8 个服务类别")
        assert p.get_by_test_id("tx-confirm").count() == 0
        p.get_by_test_id("category-助老陪护").check()
        p.get_by_test_id("categories-other").fill("助浴、陪诊")
        p.get_by_test_id("categories-go").click()
        p.get_by_test_id("tx-confirm").click(timeout=WAIT_MS)
        wait_text(p, "provider-categories", "助老陪护、助浴、陪诊")
        assert c.query("services", "provider_of", [key.address])["categories"] == ["助老陪护", "助浴", "陪诊"]
        rid = c.ok("services", "request", "--category", "陪诊", "--description", "周三上午陪我去医院复查。",
                   "--budget", "200", key="resident-5")["result"]
        p.get_by_test_id(f"open-{rid}").wait_for(timeout=WAIT_MS)
        wait_text(p, f"open-{rid}", "周三上午陪我去医院复查。")
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()


# --- the pages on a phone and a desktop, in zh and en ------------------------------------------

ROLE_PAGES = [("shop", "merchant-bakery"), ("jobs", "provider-plumber")]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("layout", ["mobile", "desktop"])
def test_the_shop_and_jobs_pages_render_cleanly_and_accessibly(
        browser: Browser, community: Community, lang: str, layout: str) -> None:
    """No console error, nothing wider than the phone, no catalogue key shown raw, no
    critical axe-core violation; HKCHAIN_UPDATE_SCREENSHOTS=1 writes
    docs/screenshots/console-{shop,jobs}-<lang>-<layout>.png."""
    viewport = MOBILE if layout == "mobile" else DESKTOP
    for name, who in ROLE_PAGES:
        w = sign_in(browser, community, community.keys[who], viewport=viewport)
        try:
            p = w.page
            p.evaluate("(lang) => localStorage.setItem('hkchain.settings', JSON.stringify({lang}))", lang)
            p.goto(f"/#/{name}")
            p.reload()
            p.wait_for_selector("main h2")
            p.wait_for_load_state("networkidle")
            p.wait_for_function("() => !document.querySelector('main').innerText.includes('正在读取') && "
                                "!document.querySelector('main').innerText.includes('Loading…')", timeout=WAIT_MS)
            assert p.url.endswith(f"#/{name}")
            check_layout(w, name, viewport["width"])
            critical = [v for v in axe(p) if v["impact"] == "critical"]
            assert not critical, f"{name}: {critical}"
            if os.environ.get("HKCHAIN_UPDATE_SCREENSHOTS") == "1":
                SHOTS.mkdir(parents=True, exist_ok=True)
                p.screenshot(path=str(SHOTS / f"console-{name}-{lang}-{layout}.png"), full_page=layout == "desktop")
            assert w.console_errors == [] and w.csp_violations() == [], (name, w.console_errors)
        finally:
            w.context.close()


def test_the_shop_and_jobs_pages_in_elder_mode_fit_the_phone_with_large_targets(
        browser: Browser, community: Community) -> None:
    """大字 mode on a 390 px phone: nothing wider than the screen, every visible button at
    least 60 px high, no critical or serious axe-core violation."""
    for name, who in ROLE_PAGES:
        w = sign_in(browser, community, community.keys[who], viewport=MOBILE)
        try:
            p = w.page
            p.evaluate("() => localStorage.setItem('hkchain.settings', JSON.stringify({lang: 'zh-CN', elder: true}))")
            p.goto(f"/#/{name}")
            p.reload()
            p.wait_for_selector("body.elder main h2")
            p.wait_for_load_state("networkidle")
            p.wait_for_function("() => !document.querySelector('main').innerText.includes('正在读取')", timeout=WAIT_MS)
            check_layout(w, name, MOBILE["width"])
            for box in p.locator("main button:visible").all():
                b = box.bounding_box()
                assert b is not None and b["height"] >= 60, (name, box.inner_text())
            bad = [v for v in axe(p) if v["impact"] in ("critical", "serious")]
            assert not bad, f"{name}: {bad}"
            assert w.console_errors == [] and w.csp_violations() == []
        finally:
            w.context.close()
