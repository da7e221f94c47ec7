"""The committees' console in Chromium against a real 4-validator localnet seeded with the
demo community: a committee key imported from the CLI's key file opens the console, and
only the pages its roles allow; a resident's key sees no console at all."""

from __future__ import annotations

import csv
import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openpyxl
import pytest

from core.crypto import PrivateKey
from privacy.checks import id_check_char
from privacy.register import PrivacyStore
from tests.web.browser import DESKTOP, MOBILE, Watched, download, open_page, require_chromium
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


# --- households: a clerk imports the estate from a CSV ------------------------------------

N_IMPORT = 30
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"


def resident_id(i: int) -> str:
    first17 = f"310109{1940 + i:04d}{(i % 12) + 1:02d}{(i % 28) + 1:02d}{i:03d}"
    return first17 + id_check_char(first17)


def estate_csv(path: Path, rows: list[tuple[str, str, str, str, str, str]]) -> Path:
    lines = ["房号,面积,姓名,证件号码,手机号,地址"] + [",".join(r) for r in rows]
    path.write_text("\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def estate(n: int) -> list[tuple[str, str, str, str, str, str]]:
    return [(f"8-{(i // 4) + 1}0{(i % 4) + 1}", f"{70 + i}.{i % 10}5", f"{SURNAMES[i]}秀英", resident_id(i),
             f"139{i:08d}", PrivateKey.from_seed_text(f"estate resident {i}").address) for i in range(n)]


def unlock_on_page(p: Page, test_id: str, passphrase: str, ready: str) -> None:
    """Unlock the key if the page asks for it (a key just imported is unlocked already),
    then wait for the element ``ready``."""
    first = p.locator(f"[data-testid={test_id}], [data-testid={ready}]").first
    first.wait_for(timeout=WAIT_MS)
    if first.get_attribute("data-testid") == test_id:
        first.click()
        p.get_by_test_id("unlock-passphrase").fill(passphrase)
        p.get_by_test_id("unlock-ok").click()
    p.get_by_test_id(ready).wait_for(timeout=WAIT_MS)


@dataclass
class Estate:
    rows: list[tuple[str, str, str, str, str, str]]
    csv: Path


@pytest.fixture(scope="module")
def estate_imported(browser: Browser, community: Community, tmp_path_factory: pytest.TempPathFactory) -> Estate:
    """The committee's clerk imports 30 households from a CSV in the console (checked
    here: a bad file cannot be sent, the good one registers every row)."""
    c = community
    tmp = tmp_path_factory.mktemp("estate")
    rows = estate(N_IMPORT)
    w = sign_in(browser, c, c.net.operator_key_file, PASSPHRASE)
    try:
        p = w.page
        p.goto("/#/households")
        unlock_on_page(p, "hh-unlock", PASSPHRASE, "hh-csv")
        # A file with a mistyped ID number and a unit twice: shown, and nothing can be sent.
        bad = [*rows[:3], (rows[3][0], *rows[3][1:3], rows[3][3][:-1] + ("0" if rows[3][3][-1] != "0" else "1"),
                           *rows[3][4:]), (rows[0][0], *rows[4][1:])]
        p.get_by_test_id("hh-csv").set_input_files(str(estate_csv(tmp / "bad.csv", bad)))
        p.get_by_test_id("hh-preview-summary").wait_for(timeout=WAIT_MS)
        assert "校验位" in p.get_by_test_id("hh-row-5").inner_text()
        assert "两次" in p.get_by_test_id("hh-row-6").inner_text()
        assert p.get_by_test_id("hh-import-go").is_disabled()
        assert c.query("households", "unit_holder", [rows[0][0]]) is None

        good = estate_csv(tmp / "estate.csv", rows)
        p.get_by_test_id("hh-csv").set_input_files(str(good))
        p.wait_for_function("() => document.querySelector('[data-testid=hh-preview-summary]')?.innerText.includes('待登记 30')",
                            timeout=WAIT_MS)
        p.get_by_test_id("hh-import-go").click()
        p.get_by_test_id("tx-confirm").click(timeout=WAIT_MS)
        done = p.get_by_test_id("hh-import-done")
        done.wait_for(timeout=4 * WAIT_MS)
        assert "登记 30 户" in done.inner_text() and "失败 0 户" in done.inner_text(), done.inner_text()
        assert w.console_errors == [] and w.csp_violations() == []
        requests = [r.url + (r.post_data or "") + str(r.headers) for r in w.requests]
    finally:
        w.context.close()
    # Personal data travelled only sealed: no request carried a name, an ID or a phone.
    for _, _, name, id_number, phone, _ in rows:
        assert not any(id_number in r or phone in r or name in r for r in requests)
    return Estate(rows, good)


def test_imported_households_are_on_chain_and_their_data_only_sealed_off_chain(
        browser: Browser, community: Community, estate_imported: Estate) -> None:
    c = community
    rows = estate_imported.rows
    # On chain: the units, areas and commitments only; each household holds the resident role.
    store = PrivacyStore.of_node_home(c.net.nodes[0].home)
    operator = PrivateKey.load(c.net.operator_key_file)
    for unit, area, name, id_number, phone, address in rows:
        assert c.query("households", "unit_holder", [unit]) == address
        rec = c.query("households", "record", [address])
        assert rec["area_dm2"] == int(area.replace(".", ""))
        assert c.query("roles", "holds", [address, "resident"]) is True
        [record] = [r for r in store.find(address) if not r.erased_at]
        card = store.open(record, operator, log=False)
        assert (card.identity.name, card.identity.id_number, card.identity.phone) == (name, id_number, "+86" + phone)
        assert "0x" + card.commitment.hex() == rec["commitment"]
    on_disk = b"".join(f.read_bytes() for f in store.root.glob("*.json"))
    assert rows[7][2].encode() not in on_disk and rows[7][3].encode() not in on_disk
    assert any(e["purpose"] == "stored" and e["by"] == operator.address for e in store.access_log())

    # The same file again: everything is already registered, nothing to send.
    w = sign_in(browser, c, c.net.operator_key_file, PASSPHRASE)
    try:
        p = w.page
        p.goto("/#/households")
        unlock_on_page(p, "hh-unlock", PASSPHRASE, "hh-csv")
        p.get_by_test_id("hh-csv").set_input_files(str(estate_imported.csv))
        p.wait_for_function("() => document.querySelector('[data-testid=hh-preview-summary]')?.innerText.includes('已登记 30')",
                            timeout=WAIT_MS)
        assert p.get_by_test_id("hh-import-go").is_disabled()
        # The register lists them; opening one asks why, shows it, and the log says so.
        row = p.get_by_test_id(f"hh-{rows[2][5]}")
        row.get_by_role("button").click()
        p.get_by_test_id("hh-show").click()
        p.get_by_test_id("purpose-ok").click()
        assert rows[2][2] in p.get_by_test_id("hh-card").inner_text()
        assert any(e.get("household") == rows[2][5] and e["purpose"] == "read: 核对住户信息" for e in store.access_log())
        assert w.console_errors == []
    finally:
        w.context.close()


# --- property: the month's bills, payments arriving, arrears exported ----------------------

PERIOD = "2027-05"


def unpaid_by_household(c: Community) -> dict[str, tuple[int, int]]:
    """household -> (unpaid bills, points owed), recounted from the chain's bill list."""
    out: dict[str, tuple[int, int]] = {}
    cursor = 0
    while True:
        page = c.query("property", "bills", ["", "unpaid", "", cursor, 50])
        for b in page["items"]:
            n, total = out.get(b["household"], (0, 0))
            out[b["household"]] = (n + 1, total + b["total"])
        if not page["next"]:
            return out
        cursor = page["next"]


def test_the_month_is_billed_payments_arrive_live_and_arrears_export(
        browser: Browser, community: Community, estate_imported: Estate, tmp_path: Path) -> None:
    c = community
    rows = estate_imported.rows
    pco = c.addresses["property-co"]
    c.ok("property", "set-confirmer", pco)
    w = sign_in(browser, c, c.keys["property-co"], PASSPHRASE)
    try:
        p = w.page
        p.goto("/#/property")
        p.get_by_test_id("bills-period").fill(PERIOD)
        p.get_by_test_id("bills-csv").set_input_files(str(estate_imported.csv))
        p.get_by_test_id("bills-check").click()
        summary = p.get_by_test_id("bills-summary")
        summary.wait_for(timeout=WAIT_MS)
        assert "待开 30 户" in summary.inner_text(), summary.inner_text()
        p.get_by_test_id("bills-go").click()
        p.get_by_test_id("tx-confirm").click(timeout=WAIT_MS)
        done = p.get_by_test_id("bills-done")
        done.wait_for(timeout=4 * WAIT_MS)
        assert "开具 30 张" in done.inner_text(), done.inner_text()

        schedule = c.query("property", "schedule", [])["items"]
        bills: dict[str, dict[str, Any]] = {}
        for *_, address in rows:
            [bill] = c.query("property", "bills", [address, "", PERIOD, 0, 5])["items"]
            area = c.query("households", "record", [address])["area_dm2"]
            assert bill["total"] == sum(price * area // 100 if basis == "area" else price
                                        for _, _, basis, price in schedule)
            bills[address] = bill
        # Again: every household is billed for the month already; nothing to send.
        p.get_by_test_id("bills-check").click()
        p.wait_for_function("() => document.querySelector('[data-testid=bills-summary]')?.innerText.includes('已开 30 户')",
                            timeout=WAIT_MS)
        assert p.get_by_test_id("bills-go").is_disabled()

        # Residents pay while the page is open: two in points (their own keys, by the CLI),
        # one at the counter, confirmed on this page. Each shows as it arrives.
        p.goto("/#/property")
        p.get_by_test_id("arrears-summary").wait_for(timeout=WAIT_MS)
        payers = [rows[0][5], rows[1][5]]
        for i, address in enumerate(payers):
            key_file = tmp_path / f"payer{i}.key"
            PrivateKey.from_seed_text(f"estate resident {i}").save(key_file)
            c.keys[f"payer{i}"] = key_file
            c.ok("transfer", "--to", address, "--amount", str(bills[address]["total"] + 100))
            c.ok("property", "pay-bill", str(bills[address]["id"]), key=f"payer{i}")
        counter = bills[rows[2][5]]["id"]
        p.get_by_test_id("confirm-bill").fill(str(counter))
        p.get_by_test_id("confirm-ref").fill("柜台收据-0001")
        p.get_by_test_id("confirm-go").click()
        p.get_by_test_id("tx-confirm").click(timeout=WAIT_MS)
        p.get_by_test_id("confirmed").wait_for(timeout=WAIT_MS)
        feed = p.get_by_test_id("pay-feed")
        for address in payers:
            feed.locator(f"li[data-bill='{bills[address]['id']}']").wait_for(timeout=WAIT_MS)
        feed.locator(f"li[data-bill='{counter}']").wait_for(timeout=WAIT_MS)
        assert "线下" in feed.locator(f"li[data-bill='{counter}']").inner_text()

        for address in [*payers, rows[2][5]]:
            assert c.query("property", "bill", [bills[address]["id"]])["status"] == "paid"
        paid_here = c.query("property", "bill", [counter])
        assert (paid_here["method"], paid_here["reference"]) == ("offchain", "柜台收据-0001")
        expected = unpaid_by_household(c)
        want = f"{len(expected)} 户欠费"
        p.wait_for_function("(w) => document.querySelector('[data-testid=arrears-summary]')?.innerText.startsWith(w)",
                            arg=want, timeout=WAIT_MS)

        # The exports: CSV (UTF-8 with BOM) and XLSX, parsed, equal the chain's recount.
        csv_path = download(p, "arrears-csv", tmp_path / "arrears.csv")
        xlsx_path = download(p, "arrears-xlsx", tmp_path / "arrears.xlsx")
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()

    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["房号", "地址", "未缴账单数", "欠费合计(积分)", "最早账期", "0-30天", "31-60天", "61-90天",
                        "90天以上", "账单号"]
    got = {r[1]: (int(r[2]), int(r[3])) for r in table[1:]}
    assert got == expected
    for r in table[1:]:
        assert sum(int(x) for x in r[5:9]) == int(r[3])  # the ages add up to the total
    units = {address: unit for unit, *_, address in rows}
    for address in payers:
        assert address not in got
    for unit, *_, address in rows[3:]:
        assert got[address][0] >= 1 and next(r for r in table[1:] if r[1] == address)[0] == units[address] == unit
    book = openpyxl.load_workbook(xlsx_path)
    sheet = book.active
    assert sheet is not None
    xrows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert xrows[0] == table[0]
    assert {r[1]: (r[2], r[3]) for r in xrows[1:]} == expected


def test_a_household_is_updated_erased_on_request_and_taken_off_the_register(
        browser: Browser, community: Community, estate_imported: Estate) -> None:
    c = community
    rows = estate_imported.rows
    store = PrivacyStore.of_node_home(c.net.nodes[0].home)
    operator = PrivateKey.load(c.net.operator_key_file)
    updated, erased, removed = rows[5][5], rows[6][5], rows[7][5]
    old_commitment = c.query("households", "record", [updated])["commitment"]
    w = sign_in(browser, c, c.net.operator_key_file, PASSPHRASE)
    try:
        p = w.page
        p.goto("/#/households")
        p.get_by_test_id("hh-list").wait_for(timeout=WAIT_MS)

        # A new phone number: a new salt and commitment on chain, the old record deleted.
        p.get_by_test_id(f"hh-{updated}").get_by_role("button").click()
        p.get_by_test_id("hh-show").click()
        p.get_by_test_id("purpose").select_option("update")
        p.get_by_test_id("purpose-ok").click()
        p.get_by_test_id("hh-update").click()
        p.get_by_test_id("hh-new-phone").fill("139 1234 5678")
        p.get_by_test_id("hh-update-go").click()
        p.get_by_test_id("tx-confirm").click(timeout=WAIT_MS)
        p.get_by_test_id("tx-progress").wait_for(state="detached", timeout=WAIT_MS)
        p.get_by_test_id("hh-list").wait_for(timeout=WAIT_MS)

        # Erasure on the resident's request: the sealed card is destroyed, the commitment stays.
        p.get_by_test_id(f"hh-{erased}").get_by_role("button").click()
        p.once("dialog", lambda d: d.accept())
        p.get_by_test_id("hh-erase").click()
        p.wait_for_function("(a) => document.querySelector(`[data-testid=hh-${a}]`)?.innerText.includes('删除')",
                            arg=erased, timeout=WAIT_MS)

        # Taken off the chain's register (the flat was sold): the sealed record stays.
        p.get_by_test_id(f"hh-{removed}").get_by_role("button").click()
        p.get_by_test_id("hh-remove").click()
        p.get_by_test_id("tx-confirm").click(timeout=WAIT_MS)
        p.get_by_test_id("tx-progress").wait_for(state="detached", timeout=WAIT_MS)
        p.get_by_test_id("hh-log").wait_for(timeout=WAIT_MS)
        log_text = p.get_by_test_id("hh-log").inner_text()
        assert "erased on request" in log_text and "read: 更新住户资料" in log_text
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()

    rec = c.query("households", "record", [updated])
    assert rec["commitment"] != old_commitment
    [live] = [r for r in store.find(updated) if not r.erased_at]
    card = store.open(live, operator, log=False)
    assert card.identity.phone == "+8613912345678" and card.identity.name == rows[5][2]
    assert "0x" + card.commitment.hex() == rec["commitment"]
    assert not store.path_of(bytes.fromhex(old_commitment[2:])).exists()

    [gone] = store.find(erased)
    assert gone.erased_at > 0 and gone.keys == {} and gone.box == b""
    assert c.query("households", "record", [erased])["commitment"] == "0x" + gone.commitment.hex()

    assert c.query("households", "record", [removed]) is None
    assert [r.erased_at for r in store.find(removed)] == [0]


def test_households_without_a_key_get_one_made_in_the_browser_and_handed_over_as_files(
        browser: Browser, community: Community, tmp_path: Path) -> None:
    c = community
    people = [(f"9-10{i}", "66.60", f"{SURNAMES[i]}建国", resident_id(40 + i), f"137{i:08d}") for i in range(3)]
    path = tmp_path / "no-addresses.csv"
    path.write_text("房号,面积,姓名,证件号码,手机号\n" + "\n".join(",".join(p) for p in people) + "\n", encoding="utf-8")
    w = sign_in(browser, c, c.net.operator_key_file, PASSPHRASE)
    try:
        p = w.page
        p.goto("/#/households")
        unlock_on_page(p, "hh-unlock", PASSPHRASE, "hh-csv")
        p.get_by_test_id("hh-csv").set_input_files(str(path))
        p.get_by_test_id("hh-make-keys").wait_for(timeout=WAIT_MS)
        assert p.get_by_test_id("hh-import-go").is_disabled()  # not before the keys exist
        downloads = []
        p.on("download", lambda d: downloads.append(d))
        p.get_by_test_id("hh-make-keys").click()
        p.wait_for_function("() => document.querySelector('[data-testid=hh-preview-summary]')?.innerText.includes('待登记 3')",
                            timeout=WAIT_MS)
        assert sorted(d.suggested_filename for d in downloads) == ["household-keys.zip", "households-with-addresses.csv"]
        zip_path = tmp_path / "keys.zip"
        next(d for d in downloads if d.suggested_filename.endswith(".zip")).save_as(zip_path)
        csv_path = tmp_path / "with-addresses.csv"
        next(d for d in downloads if d.suggested_filename.endswith(".csv")).save_as(csv_path)
        p.get_by_test_id("hh-import-go").click()
        p.get_by_test_id("tx-confirm").click(timeout=WAIT_MS)
        p.get_by_test_id("hh-import-done").wait_for(timeout=4 * WAIT_MS)
        assert "登记 3 户" in p.get_by_test_id("hh-import-done").inner_text()
        # The CSV with the addresses resumes the import: nothing left to do.
        p.get_by_test_id("hh-csv").set_input_files(str(csv_path))
        p.wait_for_function("() => document.querySelector('[data-testid=hh-preview-summary]')?.innerText.includes('已登记 3')",
                            timeout=WAIT_MS)
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()
    with zipfile.ZipFile(zip_path) as z:
        assert sorted(z.namelist()) == sorted(f"{unit}.key" for unit, *_ in people)
        for unit, *_ in people:
            key_file = tmp_path / f"{unit}.key"
            key_file.write_bytes(z.read(f"{unit}.key"))
            key = PrivateKey.load(key_file)  # the CLI's own key file format
            assert c.query("households", "unit_holder", [unit]) == key.address


def test_the_property_company_registers_a_service_contract_by_its_document(
        browser: Browser, community: Community, tmp_path: Path) -> None:
    c = community
    doc = tmp_path / "保洁合同.pdf"
    doc.write_bytes(b"%PDF-1.4 cleaning contract of the estate, 2027\n" * 40)
    w = sign_in(browser, c, c.keys["property-co"], PASSPHRASE)
    try:
        p = w.page
        p.goto("/#/property")
        p.get_by_test_id("contract-open").click()
        p.get_by_test_id("contract-doc").set_input_files(str(doc))
        p.get_by_test_id("contract-party").fill("洁美保洁服务有限公司")
        p.get_by_test_id("contract-start").fill("2027-01-01")
        p.get_by_test_id("contract-end").fill("2027-12-31")
        p.get_by_test_id("contract-amount").fill("36000")
        p.get_by_test_id("contract-go").click()
        p.get_by_test_id("tx-confirm").click(timeout=WAIT_MS)
        p.get_by_test_id("tx-progress").wait_for(state="detached", timeout=WAIT_MS)
        p.wait_for_function("() => document.querySelector('[data-testid=contracts]')?.innerText.includes('洁美保洁')",
                            timeout=WAIT_MS)
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()
    [rec] = [x for x in c.query("property", "contracts", [0, 50])["items"] if x["counterparty"] == "洁美保洁服务有限公司"]
    assert rec["doc_hash"] == "0x" + hashlib.sha256(doc.read_bytes()).hexdigest()
    assert (rec["amount"], rec["end_time"] - rec["start_time"]) == (36000, 364 * 86400)
    assert rec["start_time"] == 1798761600 - 8 * 3600  # 2027-01-01 00:00 in Shanghai
