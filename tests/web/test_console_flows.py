"""The committees' console in Chromium against a real 4-validator localnet seeded with the
demo community, with a short voting period so a vote closes within the test: a clerk
opens a vote in the console while a resident in a second browser (on another node) votes
and the clerk's tally moves over the websocket; the chain closes the vote and the clerk
publishes the result as a notice, which the resident reads and the clerk sees read; a
notice published from the console is read by two households; an activity's check-in QR
code carries the code a resident then checks in with; a resident's activity is approved
and an attendee confirmed; a validator proposes adding a node and follows the validators'
votes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

import web
from core.crypto import PrivateKey
from tests.web.browser import DESKTOP, MOBILE, Watched, open_page, require_chromium
from tests.web.community import Community, start_community

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

pytestmark = pytest.mark.slow

CLERK_PASSPHRASE = "居委会办公室钥匙"
RESIDENT_PASSPHRASE = "我家住在三楼东边"
WAIT_MS = 60_000
VOTING_BLOCKS = 40
CLOSE_WAIT_MS = 180_000  # the vote runs VOTING_BLOCKS blocks (about one a second)
JSQR = (web.VENDOR_DIR / "jsqr" / "jsQR.js").read_text()


@pytest.fixture(scope="module")
def community(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Community]:
    require_chromium()
    yield from start_community(tmp_path_factory.mktemp("web-console-flows"),
                               params={"governance": {"owners_voting_blocks": VOTING_BLOCKS}})


@pytest.fixture()
def pages() -> Iterator[list[Watched]]:
    opened: list[Watched] = []
    yield opened
    for w in opened:
        w.context.close()


def sign_in(browser: Browser, c: Community, pages: list[Watched], key_file: Path, passphrase: str, *,
            node: int = 0, viewport: ViewportSize = DESKTOP) -> Page:
    w = open_page(browser, c.rpc(node), viewport=viewport)
    pages.append(w)
    p = w.page
    p.goto("/#/me")
    p.get_by_test_id("import-file").set_input_files(str(key_file))
    p.get_by_test_id("import-passphrase").fill(passphrase)
    p.get_by_test_id("import-key").click()
    p.get_by_test_id("my-address").wait_for(timeout=WAIT_MS)
    return p


def household(c: Community, index: int) -> tuple[Path, str, str]:
    h = c.manifest["households"][index]
    return c.keys[h["label"]], h["address"], h["unit"]


def confirm_tx(p: Page, passphrase: str = CLERK_PASSPHRASE) -> None:
    """Confirm the tx the page asks about, unlocking the key first if the page was
    reloaded, and wait until it is committed without an error."""
    first = p.locator("[data-testid=tx-confirm], [data-testid=tx-error], [data-testid=unlock-passphrase],"
                      " .notice.error").first
    first.wait_for(timeout=WAIT_MS)
    if first.get_attribute("data-testid") == "unlock-passphrase":
        first.fill(passphrase)
        p.get_by_test_id("unlock-ok").click()
        first = p.locator("[data-testid=tx-confirm], [data-testid=tx-error], .notice.error").first
        first.wait_for(timeout=WAIT_MS)
    assert first.get_attribute("data-testid") == "tx-confirm", first.inner_text()
    p.get_by_test_id("tx-confirm").click()
    p.get_by_test_id("tx-progress").wait_for(state="detached", timeout=WAIT_MS)
    assert p.get_by_test_id("tx-error").count() == 0, p.get_by_test_id("tx-error").inner_text()


def id_in_url(p: Page, route: str) -> int:
    p.wait_for_url(re.compile(rf"#/{route}/\d+$"), timeout=WAIT_MS)
    m = re.search(rf"#/{route}/(\d+)$", p.url)
    assert m is not None
    return int(m.group(1))


NOT_FOUND = "Failed to load resource: the server responded with a status of 404 (Not Found)"


def no_errors(pages: list[Watched]) -> None:
    """No console error but the 404 of a text not yet copied to the node a page reads
    from (the app then says "text not available"): each such message must match a
    request for a blob that answered 404."""
    for w in pages:
        failed = [(r.url, resp.status) for r in w.requests if (resp := r.response()) is not None and resp.status >= 400]
        blobs_missing = [u for u, status in failed if status == 404 and "/v1/blobs/" in u]
        others = [m for m in w.console_errors if m != NOT_FOUND]
        assert others == [] and w.csp_violations() == [], (w.console_errors, failed)
        assert len(w.console_errors) - len(others) <= len(blobs_missing), (w.console_errors, failed)


def wait_for_blob(c: Community, node: int, hash_hex: str) -> None:
    """Until ``node`` serves the blob (nodes copy a text when its block commits)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        try:
            with urlopen(f"{c.rpc(node)}/v1/blobs/{hash_hex}") as resp:
                if resp.status == 200:
                    return
        except HTTPError as e:
            if e.code != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def test_the_clerk_opens_a_vote_sees_the_tally_move_and_publishes_the_result_which_is_read(
        browser: Browser, community: Community, pages: list[Watched]) -> None:
    c = community
    clerk = sign_in(browser, c, pages, c.net.operator_key_file, CLERK_PASSPHRASE)
    clerk.goto("/#/governance")
    clerk.get_by_test_id("gov-category").select_option("4")
    clerk.get_by_test_id("gov-title").fill("续聘物业服务企业")
    clerk.get_by_test_id("gov-text").fill("续聘现物业公司三年，物业费标准不变。\n第二条：服务质量每年评议一次。")
    clerk.reload()  # the draft is kept in the browser until the vote opens
    assert clerk.get_by_test_id("gov-title").input_value(timeout=WAIT_MS) == "续聘物业服务企业"
    assert clerk.get_by_test_id("gov-category").input_value() == "4"
    # A closing time that has passed is refused in words before anything is signed.
    before = c.query("governance", "proposals", ["", 0, 50])["items"]
    an_hour_ago = datetime.now(UTC) + timedelta(hours=8) - timedelta(hours=1)  # Shanghai
    closes = clerk.get_by_test_id("gov-closes")
    closes.fill(an_hour_ago.strftime("%Y-%m-%dT%H:%M"))
    assert closes.evaluate("e => e.validity.rangeUnderflow && !e.form.checkValidity()")  # the picker's own check
    closes.evaluate("e => e.removeAttribute('min')")  # a page opened long ago: the app checks again
    clerk.get_by_test_id("gov-open").click()
    clerk.locator("form", has=clerk.get_by_test_id("gov-open")).get_by_role("alert").filter(
        has_text="截止时间太早了").wait_for(timeout=WAIT_MS)
    assert c.query("governance", "proposals", ["", 0, 50])["items"] == before
    clerk.get_by_test_id("gov-closes").fill("")
    clerk.get_by_test_id("gov-open").click()
    confirm_tx(clerk)
    pid = id_in_url(clerk, "governance")
    assert clerk.evaluate("localStorage.getItem('hkchain.console.vote_draft')") is None
    on_chain = c.query("governance", "proposal", [pid])
    assert on_chain["title"] == "续聘物业服务企业" and on_chain["category"] == 4 and on_chain["status"] == "open"
    assert on_chain["closes"] == on_chain["created"] + VOTING_BLOCKS  # no time given: the chain's period
    # The full text, checked against the hash on chain, and the electorate of the opening.
    clerk.get_by_test_id("gov-text-shown").filter(has_text="服务质量每年评议一次").wait_for(timeout=WAIT_MS)
    electorate = clerk.get_by_test_id("gov-electorate").inner_text()
    assert f"{on_chain['total_owners']} 户" in electorate, electorate
    counts = clerk.get_by_test_id("tally-counts")
    assert "已投 0 户" in counts.inner_text(timeout=WAIT_MS)

    # A resident, in a second browser and on another node, votes yes.
    key_file, address, unit = household(c, 3)
    resident = sign_in(browser, c, pages, key_file, RESIDENT_PASSPHRASE, node=1, viewport=MOBILE)
    resident.goto(f"/#/votes/{pid}")
    resident.get_by_test_id("vote-yes").click()
    confirm_tx(resident)
    # The clerk's page was not reloaded: the tally and the feed moved over the websocket.
    clerk.get_by_test_id("tally-counts").filter(has_text="已投 1 户").wait_for(timeout=WAIT_MS)
    assert clerk.get_by_test_id("tally-counts").inner_text().startswith("赞成 1 户")
    clerk.get_by_test_id("gov-feed").filter(has_text=unit).wait_for(timeout=WAIT_MS)
    assert c.query("governance", "tally", [pid])["yes_owners"] == 1

    # The chain closes the vote at its height: one household of several is no quorum.
    clerk.get_by_test_id("gov-result").wait_for(timeout=CLOSE_WAIT_MS)
    closed = c.query("governance", "proposal", [pid])
    assert closed["status"] == "rejected" and closed["quorum"] is False
    assert clerk.get_by_test_id("gov-status").inner_text() == "未通过"
    draft = clerk.get_by_test_id("gov-result-text").input_value()
    assert f"参与表决：1 户 / 共 {closed['total_owners']} 户" in draft and "结果：未通过" in draft, draft
    clerk.get_by_test_id("gov-publish-result").click()
    confirm_tx(clerk)
    nid = id_in_url(clerk, "noticeboard")
    notice = c.query("notices", "notice", [nid])
    assert notice["title"] == "表决结果：续聘物业服务企业" and notice["acks"] == 0
    clerk.get_by_test_id("notice-text-shown").filter(has_text="表决结果公告").wait_for(timeout=WAIT_MS)
    clerk.get_by_test_id("notice-receipts").filter(has_text="还没有人确认阅读").wait_for(timeout=WAIT_MS)

    # The resident reads it; the clerk's read receipts move without a reload.
    resident.goto("/#/notices")
    resident.get_by_test_id(f"ack-{nid}").click()
    confirm_tx(resident)
    clerk.get_by_test_id("notice-readers").filter(has_text=unit).wait_for(timeout=WAIT_MS)
    assert "1 户已读" in clerk.get_by_test_id(f"notice-read-{nid}").inner_text()
    readers = c.query("notices", "readers", [nid, 0, 10])["items"]
    assert [r["address"] for r in readers] == [address]
    no_errors(pages)


def test_a_notice_published_in_the_console_is_read_by_two_households(
        browser: Browser, community: Community, pages: list[Watched]) -> None:
    c = community
    clerk = sign_in(browser, c, pages, c.net.operator_key_file, CLERK_PASSPHRASE)
    clerk.goto("/#/noticeboard")
    clerk.get_by_test_id("notice-kind").select_option("notice")
    clerk.get_by_test_id("notice-title").fill("周六上午停水")
    clerk.get_by_test_id("notice-text").fill("因管道检修，本周六 9:00–12:00 花园一号楼停水，请提前储水。")
    clerk.get_by_test_id("notice-publish").click()
    confirm_tx(clerk)
    nid = id_in_url(clerk, "noticeboard")
    clerk.get_by_test_id("notice-text-shown").filter(has_text="请提前储水").wait_for(timeout=WAIT_MS)
    total = c.query("households", "totals")[1]
    assert f"0 户已读 / 登记住户 {total} 户" in clerk.get_by_test_id(f"notice-read-{nid}").inner_text(timeout=WAIT_MS)
    units = []
    content = c.query("notices", "notice", [nid])["content_hash"]
    for index, node in ((0, 2), (4, 3)):
        wait_for_blob(c, node, content.removeprefix("0x"))
        key_file, _, unit = household(c, index)
        units.append(unit)
        r = sign_in(browser, c, pages, key_file, RESIDENT_PASSPHRASE, node=node, viewport=MOBILE)
        r.goto("/#/notices")
        r.get_by_test_id(f"notice-{nid}").get_by_text("请提前储水").wait_for(timeout=WAIT_MS)
        r.get_by_test_id(f"ack-{nid}").click()
        confirm_tx(r)
        clerk.get_by_test_id("notice-readers").filter(has_text=unit).wait_for(timeout=WAIT_MS)
    assert f"2 户已读 / 登记住户 {total} 户" in clerk.get_by_test_id(f"notice-read-{nid}").inner_text()
    rows = clerk.get_by_test_id("notice-readers").locator("tbody tr").all_inner_texts()
    assert [row.split("\t")[0].split(" · ")[0] for row in rows] == list(reversed(units)), rows  # latest first
    clerk.goto("/#/noticeboard")
    assert "2 户已读" in clerk.get_by_test_id(f"notice-read-{nid}").inner_text(timeout=WAIT_MS)
    no_errors(pages)


def test_the_check_in_qr_code_carries_the_code_a_resident_checks_in_with(
        browser: Browser, community: Community, pages: list[Watched]) -> None:
    c = community
    made = c.ok("activities", "propose", "--kind", "volunteer", "--title", "楼道清洁", "--start", "+20m",
                "--capacity", "20")
    aid = made["result"]
    key_file, address, unit = household(c, 1)
    c.ok("activities", "sign-up", str(aid), key=c.manifest["households"][1]["label"])
    clerk = sign_in(browser, c, pages, c.net.operator_key_file, CLERK_PASSPHRASE)
    clerk.goto(f"/#/organise/{aid}")
    clerk.get_by_test_id("attendance").filter(has_text=unit).wait_for(timeout=WAIT_MS)
    clerk.get_by_test_id("checkin-open").click()
    confirm_tx(clerk)
    code = clerk.get_by_test_id("checkin-code").inner_text(timeout=WAIT_MS)
    assert re.fullmatch(r"\d{8}", code), code
    # What a phone's camera reads from the canvas: the vendored jsQR decodes it.
    clerk.evaluate(JSQR + "\n;0")
    text = clerk.evaluate("""() => {
        const c = document.querySelector('[data-testid=checkin-qr]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height);
        const r = jsQR(d.data, c.width, c.height);
        return r && r.data;
    }""")
    assert text == f"hkchain-checkin:{aid}:{code}"
    assert c.query("activities", "check_in_until", [aid]) > 0

    resident = sign_in(browser, c, pages, key_file, RESIDENT_PASSPHRASE, node=1, viewport=MOBILE)
    resident.goto("/#/activities")
    resident.get_by_test_id(f"code-{aid}").fill(code)
    resident.get_by_test_id(f"check-in-{aid}").click()
    confirm_tx(resident)
    assert c.query("activities", "attended", [aid, address]) is True
    # The organiser's page follows the attendance over the websocket.
    clerk.get_by_test_id("attendance").filter(has_text="1 人已签到或已确认").wait_for(timeout=WAIT_MS)
    no_errors(pages)


def test_a_validator_proposes_adding_a_node_and_follows_the_vote(
        browser: Browser, community: Community, pages: list[Watched]) -> None:
    c = community
    node_key = c.net.nodes[0].home / "node.key"
    me = PrivateKey.load(node_key).address
    c.ok("transfer", "--to", me, "--amount", "1000")  # the committee funds its node's key for fees
    newcomer = PrivateKey.generate().public_key.hex()
    clerk = sign_in(browser, c, pages, node_key, CLERK_PASSPHRASE)
    clerk.goto("/#/validators")
    clerk.get_by_test_id("val-set").filter(has_text=me).wait_for(timeout=WAIT_MS)
    clerk.get_by_test_id("val-kind").select_option("add_validator")
    clerk.get_by_test_id("val-name").fill("嘉兴路街道居委会")
    clerk.get_by_test_id("val-key").fill(newcomer[:60])  # cut short: refused in words, nothing signed
    clerk.get_by_test_id("val-propose").click()
    clerk.locator("form", has=clerk.get_by_test_id("val-propose")).get_by_role("alert").filter(
        has_text="公钥应为 64 位十六进制字符").wait_for(timeout=WAIT_MS)
    assert clerk.get_by_test_id("tx-confirm").count() == 0
    clerk.get_by_test_id("val-key").fill("0x" + newcomer.upper()[:10] + newcomer[10:])
    clerk.get_by_test_id("val-propose").click()
    confirm_tx(clerk)
    pid = id_in_url(clerk, "validators")
    p = c.query("governance", "proposal", [pid])
    assert p["kind"] == "chain" and p["action"] == ["add_validator", "0x" + newcomer, "嘉兴路街道居委会"]
    tally = clerk.get_by_test_id(f"val-tally-{pid}")
    assert "0 / 4" in tally.inner_text(timeout=WAIT_MS)
    clerk.get_by_test_id(f"val-vote-yes-{pid}").click()
    confirm_tx(clerk)
    clerk.get_by_test_id(f"val-tally-{pid}").filter(has_text="1 / 4").wait_for(timeout=WAIT_MS)
    # Another committee's validator votes with the CLI; the page follows over the websocket.
    c.keys["node1"] = c.net.nodes[1].home / "node.key"
    c.ok("transfer", "--to", PrivateKey.load(c.keys["node1"]).address, "--amount", "1000")
    c.ok("gov", "vote", str(pid), "yes", key="node1")
    clerk.get_by_test_id(f"val-tally-{pid}").filter(has_text="2 / 4").wait_for(timeout=WAIT_MS)
    assert c.query("governance", "tally", [pid]) == {"yes": 2, "no": 0, "validators": 4}
    # Each validator's vote, proved against a certified state root.
    voters = clerk.get_by_test_id("val-voters")
    voters.locator("li", has_text="node1").get_by_test_id("verified").wait_for(timeout=WAIT_MS)
    assert "赞成" in voters.locator("li", has_text="node1").inner_text()
    assert "还没有投票" in voters.locator("li", has_text="node2").inner_text()
    no_errors(pages)


def test_the_clerk_approves_a_residents_activity_and_confirms_attendance(
        browser: Browser, community: Community, pages: list[Watched]) -> None:
    c = community
    label = c.manifest["households"][2]["label"]
    address = c.addresses[label]
    proposed = c.ok("activities", "propose", "--kind", "culture", "--title", "书法兴趣小组", "--start", "+2h",
                    "--capacity", "12", key=label)["result"]
    assert c.query("activities", "activity", [proposed])["approved"] is False
    # Soon enough that the test waits little for it, late enough that the sign-up lands
    # before it starts (sign-ups close at the start).
    soon = c.ok("activities", "propose", "--kind", "volunteer", "--title", "义务理发", "--start", "+20s",
                "--capacity", "10")["result"]
    c.ok("activities", "sign-up", str(soon), key=label)
    clerk = sign_in(browser, c, pages, c.net.operator_key_file, CLERK_PASSPHRASE)
    clerk.goto("/#/organise")
    clerk.get_by_test_id(f"act-approve-{proposed}").click()
    confirm_tx(clerk)
    clerk.get_by_test_id(f"act-row-{proposed}").filter(has_text="已审核").wait_for(timeout=WAIT_MS)
    assert c.query("activities", "activity", [proposed])["approved"] is True
    assert clerk.get_by_test_id(f"act-pending-{proposed}").count() == 0

    start_ms = c.query("activities", "activity", [soon])["start_time"] * 1000
    deadline = time.monotonic() + WAIT_MS / 1000
    while json.loads(urlopen(f"{c.rpc(0)}/v1/status").read())["latest_time_ms"] < start_ms:
        assert time.monotonic() < deadline, "the chain's time did not reach the start"
        time.sleep(0.5)
    clerk.goto(f"/#/organise/{soon}")
    clerk.get_by_test_id(f"att-{address}").check()
    clerk.get_by_test_id("att-confirm").click()
    confirm_tx(clerk)
    clerk.get_by_test_id("attendance").filter(has_text="1 人报名，1 人已签到或已确认").wait_for(timeout=WAIT_MS)
    assert c.query("activities", "attended", [soon, address]) is True
    no_errors(pages)


def test_the_clerk_grants_a_role_whose_pages_appear_to_its_holder_and_go_when_revoked(
        browser: Browser, community: Community, pages: list[Watched], tmp_path: Path) -> None:
    c = community
    company = PrivateKey.generate()
    key_file = tmp_path / "company.key"
    company.save(key_file)
    # The property company's clerk has the app open on a phone, on another node: no console.
    holder = sign_in(browser, c, pages, key_file, RESIDENT_PASSPHRASE, node=1, viewport=MOBILE)
    assert holder.get_by_test_id("open-console").count() == 0

    clerk = sign_in(browser, c, pages, c.net.operator_key_file, CLERK_PASSPHRASE)
    clerk.goto("/#/grants")
    clerk.get_by_test_id("roles-who").fill("Z9-99")  # a unit the register does not have
    clerk.get_by_test_id("roles-lookup").click()
    clerk.locator("form", has=clerk.get_by_test_id("roles-lookup")).get_by_role("alert").filter(
        has_text="登记册里没有这个房号").wait_for(timeout=WAIT_MS)
    clerk.get_by_test_id("roles-who").fill(company.address)
    clerk.get_by_test_id("roles-lookup").click()
    clerk.get_by_test_id("roles-address").filter(has_text=company.address).wait_for(timeout=WAIT_MS)
    clerk.get_by_text("这个地址还没有任何角色").wait_for(timeout=WAIT_MS)
    clerk.get_by_test_id("roles-role").select_option("property_company")
    clerk.get_by_test_id("roles-grant").click()
    confirm_tx(clerk)
    # The page shows the address again, read back from the chain, and says what was done.
    assert clerk.get_by_test_id("roles-done").inner_text(timeout=WAIT_MS).startswith("已授予")
    assert "物业公司" in clerk.get_by_test_id("roles-held").inner_text()
    assert c.query("roles", "roles_of", [company.address]) == ["property_company"]
    holders = c.query("roles", "holders", ["property_company", 0, 50])["items"]
    assert company.address in holders
    clerk.get_by_test_id("holders-property_company").locator("summary").click()
    clerk.get_by_test_id(f"holder-revoke-property_company-{company.address}").wait_for(timeout=WAIT_MS)
    # The granted key's page was not reloaded: the roles follow the chain over the websocket.
    holder.get_by_test_id("open-console").click(timeout=WAIT_MS)
    holder.get_by_test_id("console-pages").wait_for(timeout=WAIT_MS)
    assert "物业公司" in holder.get_by_test_id("console-roles").inner_text()
    tiles = holder.get_by_test_id("console-pages").locator("a").evaluate_all("els => els.map((a) => a.dataset.testid)")
    assert sorted(tiles) == ["console-grants", "console-noticeboard", "console-property"], tiles
    holder.get_by_test_id("console-property").click()
    holder.get_by_test_id("schedule").wait_for(timeout=WAIT_MS)

    # The clerk revokes it: the page the company had open goes, and so does the console.
    clerk.get_by_test_id("revoke-property_company").click()
    confirm_tx(clerk)
    assert clerk.get_by_test_id("roles-done").inner_text(timeout=WAIT_MS).startswith("已撤销")
    clerk.get_by_text("这个地址还没有任何角色").wait_for(timeout=WAIT_MS)
    assert c.query("roles", "roles_of", [company.address]) == []
    assert company.address not in c.query("roles", "holders", ["property_company", 0, 50])["items"]
    holder.get_by_test_id("tile-balance").wait_for(timeout=WAIT_MS)  # sent home, no reload
    assert holder.get_by_test_id("schedule").count() == 0
    holder.goto("/#/more")
    holder.wait_for_selector("main h2")
    assert holder.get_by_test_id("more-console").count() == 0
    holder.goto("/#/property")  # typed by hand: home instead
    holder.get_by_test_id("tile-balance").wait_for(timeout=WAIT_MS)
    assert holder.get_by_test_id("schedule").count() == 0
    no_errors(pages)
