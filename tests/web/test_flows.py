"""The resident's flows in Chromium against a real 4-validator localnet seeded with the
demo community: the committee's and the property company's side is the CLI (the
committees' console is its own issue). Every request the browser makes is recorded, and
none may carry a seed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from core.crypto import PrivateKey
from tests.web.browser import MOBILE, Watched, open_page
from tests.web.community import Community, start_community

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

PASSPHRASE = "我家住在三楼东边"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def community(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Community]:
    from tests.web.browser import require_chromium

    require_chromium()
    yield from start_community(tmp_path_factory.mktemp("web-flows"))


@pytest.fixture(scope="module")
def watched_pages(browser: Browser) -> Iterator[list[Watched]]:
    pages: list[Watched] = []
    yield pages
    for w in pages:
        w.context.close()


def resident(browser: Browser, community: Community, pages: list[Watched], node: int = 0) -> Watched:
    w = open_page(browser, community.rpc(node), viewport=MOBILE)
    pages.append(w)
    w.page.goto("/")
    w.page.wait_for_selector("main h2")
    return w


def create_key(p: Page) -> str:
    p.goto("/#/me")
    p.get_by_test_id("new-passphrase").fill(PASSPHRASE)
    p.get_by_test_id("new-passphrase-again").fill(PASSPHRASE)
    p.get_by_test_id("create-key").click()
    address = p.get_by_test_id("my-address").inner_text(timeout=WAIT_MS)
    assert address.startswith("hk1")
    return address


def stored_seed(p: Page) -> str:
    """The test reads the seed back from the browser's store (decrypting it as the app
    does) only to search the recorded requests for it."""
    seed: str = p.evaluate("""async (pass) => {
        const ks = await import('/static/js/keystore.js');
        const k = await import('/static/js/keys.js');
        const b = await import('/static/js/bytes.js');
        const [rec] = await ks.listKeys();
        if ('seed' in rec.file) throw new Error('a seed stored in the clear');
        return b.toHex(await k.seedFromKeyFile(rec.file, pass));
    }""", PASSPHRASE)
    return seed


def confirm_tx(p: Page) -> None:
    """Answer the app's questions for one tx: the passphrase if the key is locked (after a
    reload), then the confirmation with the fee; wait until it is committed."""
    first = p.locator("[data-testid=tx-confirm], [data-testid=tx-error], [data-testid=unlock-passphrase],"
                      " .notice.error").first
    first.wait_for(timeout=WAIT_MS)
    if first.get_attribute("data-testid") == "unlock-passphrase":
        first.fill(PASSPHRASE)
        p.get_by_test_id("unlock-ok").click()
        first = p.locator("[data-testid=tx-confirm], [data-testid=tx-error], .notice.error").first
        first.wait_for(timeout=WAIT_MS)
    assert first.get_attribute("data-testid") == "tx-confirm", first.inner_text()
    p.get_by_test_id("tx-confirm").click(timeout=WAIT_MS)
    p.get_by_test_id("tx-progress").wait_for(state="detached", timeout=WAIT_MS)
    assert p.get_by_test_id("tx-error").count() == 0, p.get_by_test_id("tx-error").inner_text()


def assert_no_secret_sent(pages: list[Watched], seeds: list[str]) -> None:
    forms: list[str] = []
    for s in seeds:
        raw = bytes.fromhex(s)
        forms += [s, s.upper(), raw.hex(" "), __import__("base64").b64encode(raw).decode(),
                  __import__("base64").urlsafe_b64encode(raw).decode().rstrip("=")]
    checked = 0
    for w in pages:
        for r in w.requests:
            body = r.post_data_buffer or b""
            text = r.url + json.dumps(r.headers) + body.decode("latin-1")
            for f in forms:
                assert f not in text, f"a seed went out in {r.method} {r.url}"
            for s in seeds:
                assert bytes.fromhex(s) not in body
            checked += 1
        for frame in w.ws_sent:
            for f in forms:
                assert f not in frame, "a seed went out on the websocket"
    assert checked > 20  # the flows did talk to the node


def test_a_new_resident_creates_a_key_is_registered_and_pays_a_bill(
        browser: Browser, community: Community, watched_pages: list[Watched]) -> None:
    c = community
    w = resident(browser, c, watched_pages)
    p = w.page
    address = create_key(p)
    seed = stored_seed(p)
    c.register_household(address, "T9-0301", "88.50", points=100_000)
    p.goto("/#/bills")
    p.get_by_text("没有待缴的账单").wait_for(timeout=WAIT_MS)
    issued = c.ok("property", "issue-bill", "--household", address, "--period", "2027-03",
                  "--extra", "自行车棚=80", key="property-co")
    bill_id = issued["result"]
    total = c.query("property", "bill", [bill_id])["total"]
    # No reload: the bill arrives over the websocket, with its lines.
    p.get_by_test_id(f"bill-{bill_id}").get_by_text("自行车棚").wait_for(timeout=WAIT_MS)
    p.get_by_test_id(f"pay-{bill_id}").click()
    fee_text = p.get_by_test_id("tx-fee").inner_text(timeout=WAIT_MS)
    # The dry run's fee: a new household's first actions are sponsored (fees.sponsored_first_txs).
    assert re.fullmatch(r"手续费：(免费（由社区承担）|\d+ 积分)", fee_text), fee_text
    confirm_tx(p)
    p.get_by_test_id(f"bill-proof-{bill_id}").filter(has_text="已缴").wait_for(timeout=WAIT_MS)
    assert p.get_by_test_id(f"bill-{bill_id}").get_by_test_id("verified").count() == 1
    assert c.query("property", "bill", [bill_id])["status"] == "paid"

    p.goto("/#/home")
    balance = c.query("token", "balance", [address])
    assert balance < 100_000 - total + 1
    p.get_by_test_id("balance").filter(has_text=f"{balance:,} 积分").wait_for(timeout=WAIT_MS)
    p.get_by_test_id("tile-balance").get_by_test_id("verified").wait_for(timeout=WAIT_MS)
    assert w.csp_violations() == []
    assert_no_secret_sent(watched_pages, [seed])


def test_a_vote_moves_the_tally_in_a_second_browser_and_is_verified(
        browser: Browser, community: Community, watched_pages: list[Watched], tmp_path: Any) -> None:
    c = community
    # A household of the demo imports the key file the committee gave it (plain JSON).
    label = c.manifest["households"][2]["label"]
    key = PrivateKey.load(c.keys[label])
    opened = c.ok("gov", "propose", "--category", "4", "--title", "续聘物业服务企业",
                  "--text", "续聘现物业公司三年，物业费标准不变。")
    pid = opened["result"]

    voter = resident(browser, c, watched_pages, node=0)
    p = voter.page
    p.goto("/#/me")
    p.get_by_test_id("import-file").set_input_files(str(c.keys[label]))
    p.get_by_test_id("import-passphrase").fill(PASSPHRASE)
    p.get_by_test_id("import-key").click()
    assert p.get_by_test_id("my-address").inner_text(timeout=WAIT_MS) == key.address

    neighbour = resident(browser, c, watched_pages, node=1)  # another browser, another node
    n = neighbour.page
    n.goto(f"/#/votes/{pid}")
    counts = n.get_by_test_id("tally-counts")
    counts.wait_for(timeout=WAIT_MS)
    before = counts.inner_text()
    assert re.search(r"已投 0 户", before), before

    p.goto(f"/#/votes/{pid}")
    p.get_by_text("续聘现物业公司三年").wait_for(timeout=WAIT_MS)  # the full text, hash-checked
    p.get_by_test_id("my-vote").filter(has_text="还没有投票").wait_for(timeout=WAIT_MS)
    p.get_by_test_id("vote-yes").click()
    p.get_by_test_id("tx-fee").filter(has_text="免费").wait_for(timeout=WAIT_MS)  # sponsored
    confirm_tx(p)
    # The neighbour's page was not reloaded: the tally moved over the websocket.
    n.get_by_test_id("tally-counts").filter(has_text="已投 1 户").wait_for(timeout=WAIT_MS)
    assert n.get_by_test_id("tally-counts").inner_text().startswith("赞成 1 户")
    p.get_by_test_id("my-vote").filter(has_text="赞成").wait_for(timeout=WAIT_MS)
    p.locator("section", has=p.get_by_test_id("my-vote")).get_by_test_id("verified").wait_for(timeout=WAIT_MS)
    assert c.query("governance", "tally", [pid])["yes_owners"] == 1
    assert_no_secret_sent(watched_pages, [key.seed.hex()])


def import_household(browser: Browser, c: Community, pages: list[Watched], index: int, node: int = 0) -> tuple[Watched, str]:
    """A demo household's browser, with the key file the committee gave it imported."""
    label = c.manifest["households"][index]["label"]
    w = resident(browser, c, pages, node)
    w.page.goto("/#/me")
    w.page.get_by_test_id("import-file").set_input_files(str(c.keys[label]))
    w.page.get_by_test_id("import-passphrase").fill(PASSPHRASE)
    w.page.get_by_test_id("import-key").click()
    address = w.page.get_by_test_id("my-address").inner_text(timeout=WAIT_MS)
    assert address == c.addresses[label]
    return w, address


def test_a_service_is_requested_taken_completed_and_rated(
        browser: Browser, community: Community, watched_pages: list[Watched]) -> None:
    c = community
    w, address = import_household(browser, c, watched_pages, 3)
    p = w.page
    p.goto("/#/services")
    p.get_by_test_id("request-category").fill("plumbing")
    p.get_by_test_id("request-description").fill("厨房水龙头漏水，请周六上午来修。")
    p.get_by_test_id("request-budget").fill("300")
    p.get_by_test_id("request-submit").click()
    confirm_tx(p)
    mine = c.query("services", "requests", ["open", "", address, 0, 10])["items"]
    rid = mine[0]["id"]
    p.get_by_test_id(f"request-{rid}").get_by_text("厨房水龙头漏水").wait_for(timeout=WAIT_MS)  # hash-checked text
    c.ok("services", "offer", str(rid), "--price", "250", key="provider-plumber")
    p.reload()
    p.get_by_test_id(f"accept-{rid}-0").click(timeout=WAIT_MS)
    confirm_tx(p)
    p.get_by_test_id(f"request-status-{rid}").filter(has_text="服务中").wait_for(timeout=WAIT_MS)
    provider = c.addresses["provider-plumber"]
    before = c.query("token", "balance", [provider])
    p.get_by_test_id(f"complete-{rid}").click()
    confirm_tx(p)
    p.get_by_test_id(f"rate-{rid}-5").click(timeout=WAIT_MS)
    p.get_by_test_id("tx-fee").filter(has_text="免费").wait_for(timeout=WAIT_MS)  # rating is sponsored
    confirm_tx(p)
    p.get_by_test_id(f"request-status-{rid}").filter(has_text="已完成").wait_for(timeout=WAIT_MS)
    p.get_by_test_id(f"request-{rid}").get_by_text("已评价").wait_for(timeout=WAIT_MS)
    r = c.query("services", "request_of", [rid])
    assert r["status"] == "completed" and r["rated"] is True and r["provider"] == provider
    assert c.query("token", "balance", [provider]) >= before + 250 - 20  # paid, less its own fees
    assert c.query("services", "provider_of", [provider])["rating_count"] >= 1


PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005fe02fea3a3d6a90000000049454e44ae426082")


def test_a_work_is_uploaded_shown_verified_and_liked(
        browser: Browser, community: Community, watched_pages: list[Watched], tmp_path: Any) -> None:
    c = community
    creator, creator_address = import_household(browser, c, watched_pages, 4)
    image = tmp_path / "calligraphy.png"
    image.write_bytes(PNG_1x1)
    p = creator.page
    p.goto("/#/culture")
    p.locator("summary", has_text="上传我的作品").click()
    p.get_by_test_id("work-title").fill("春江花月夜")
    p.get_by_test_id("work-kind").select_option("calligraphy")
    p.get_by_test_id("work-file").set_input_files(str(image))
    p.get_by_test_id("work-submit").click()
    confirm_tx(p)
    works = c.query("culture", "works", [creator_address, 0, 5])["items"]
    wid = works[0]["id"]
    assert works[0]["title"] == "春江花月夜" and works[0]["size_bytes"] == len(PNG_1x1)

    liker, _ = import_household(browser, c, watched_pages, 5, node=2)
    q = liker.page
    q.goto("/#/culture")
    img = q.get_by_test_id(f"work-{wid}").locator("img")
    img.wait_for(timeout=WAIT_MS)
    assert (img.get_attribute("src") or "").startswith("blob:")  # fetched, hash-checked, shown
    assert q.evaluate("(el) => el.naturalWidth", img.element_handle()) == 1
    before = c.query("token", "balance", [creator_address])
    q.get_by_test_id(f"like-{wid}").click()
    confirm_tx(q)
    q.get_by_test_id(f"likes-{wid}").filter(has_text="1 个赞").wait_for(timeout=WAIT_MS)
    reward = c.query("culture", "params", [])["like_reward"]
    assert c.query("token", "balance", [creator_address]) == before + reward
    p.reload()  # the creator sees the reward
    earned = p.get_by_test_id("earned-today").filter(has_text="今天我的作品获得")
    earned.wait_for(timeout=WAIT_MS)
    shown = re.search(r"获得 ([\d,]+) 积分", earned.inner_text())
    assert shown is not None and int(shown.group(1).replace(",", "")) >= reward


def test_a_resident_signs_up_for_an_activity_and_checks_in(
        browser: Browser, community: Community, watched_pages: list[Watched]) -> None:
    c = community
    opened = c.ok("activities", "propose", "--kind", "culture", "--title", "重阳节书法交流会",
                  "--start", "+30m", "--capacity", "20")
    aid = opened["result"]
    w, address = import_household(browser, c, watched_pages, 1)
    p = w.page
    p.goto("/#/activities")
    p.get_by_test_id(f"sign-up-{aid}").click(timeout=WAIT_MS)
    p.get_by_test_id("tx-fee").filter(has_text="免费").wait_for(timeout=WAIT_MS)
    confirm_tx(p)
    assert address in c.query("activities", "participants", [aid])
    c.ok("activities", "open-check-in", str(aid), "--code", "739251", "--until", "+1h")
    p.reload()
    # A wrong code is caught by the dry run, in the resident's language, before anything is sent.
    p.get_by_test_id(f"code-{aid}").fill("111111")
    p.get_by_test_id(f"check-in-{aid}").click()
    p.get_by_test_id("unlock-passphrase").fill(PASSPHRASE, timeout=WAIT_MS)  # locked by the reload
    p.get_by_test_id("unlock-ok").click()
    p.get_by_test_id("tx-error").filter(has_text="签到码不对").wait_for(timeout=WAIT_MS)
    p.get_by_role("button", name="关闭").click()
    assert c.query("activities", "attended", [aid, address]) is False
    before = c.query("token", "balance", [address])
    p.get_by_test_id(f"code-{aid}").fill("739251")
    p.get_by_test_id(f"check-in-{aid}").click()
    confirm_tx(p)
    p.get_by_test_id(f"attended-{aid}").wait_for(timeout=WAIT_MS)
    assert c.query("activities", "attended", [aid, address]) is True
    reward = c.query("activities", "params", [])["attendance_reward"]
    assert c.query("token", "balance", [address]) > before  # rewarded, less the check-in fee
    assert c.query("token", "balance", [address]) <= before + reward


def test_a_notice_is_read_a_draft_cosigned_and_a_merchant_paid(
        browser: Browser, community: Community, watched_pages: list[Watched]) -> None:
    c = community
    posted = c.ok("notices", "post", "--title", "周六停水通知", "--text", "本周六 9:00-12:00 花园一号楼停水，请提前储水。")
    nid = posted["result"]
    w, address = import_household(browser, c, watched_pages, 0)
    p = w.page
    p.goto("/#/notices")
    p.get_by_test_id(f"notice-{nid}").get_by_text("请提前储水").wait_for(timeout=WAIT_MS)  # hash-checked
    p.get_by_test_id(f"ack-{nid}").click()
    confirm_tx(p)
    p.get_by_test_id(f"notice-{nid}").get_by_text("已读").wait_for(timeout=WAIT_MS)
    assert c.query("notices", "acknowledged", [nid, address]) is True

    p.goto("/#/proposals")
    p.locator("summary", has_text="起草新提案").click()
    p.get_by_test_id("draft-title").fill("增设电动自行车充电桩")
    p.get_by_test_id("draft-text").fill("在 2 号楼北侧增设 10 个充电桩，费用从维修资金列支。")
    p.get_by_test_id("draft-submit").click()
    confirm_tx(p)
    drafts = c.query("assembly", "drafts", ["drafting", 0, 5])["items"]
    did = next(d["id"] for d in drafts if d["drafter"] == address)
    cosigner, other = import_household(browser, c, watched_pages, 5, node=3)
    q = cosigner.page
    q.goto("/#/proposals")
    q.get_by_test_id(f"draft-{did}").get_by_text("增设 10 个充电桩").wait_for(timeout=WAIT_MS)
    q.get_by_test_id(f"cosign-{did}").click()
    confirm_tx(q)
    assert other in c.query("assembly", "draft_of", [did])["cosigners"]

    bakery = c.addresses["merchant-bakery"]
    before = c.query("token", "balance", [bakery])
    p.goto("/#/merchants")
    card = p.get_by_test_id(f"merchant-{bakery}")
    card.locator("summary").click(timeout=WAIT_MS)
    p.get_by_test_id(f"amount-{bakery}").fill("120")
    card.get_by_role("button", name="付款").click()
    confirm_tx(p)
    fee = c.query("merchants", "params", [])["platform_fee_bps"]
    assert c.query("token", "balance", [bakery]) == before + 120 - (120 * fee + 9999) // 10000
