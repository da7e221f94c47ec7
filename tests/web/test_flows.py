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
    assert checked > 20  # the flows did talk to the node


def test_a_new_resident_creates_a_key_is_registered_and_pays_a_bill(
        browser: Browser, community: Community, watched_pages: list[Watched]) -> None:
    c = community
    w = resident(browser, c, watched_pages)
    p = w.page
    address = create_key(p)
    seed = stored_seed(p)
    c.register_household(address, "T9-0301", "88.50", points=100_000)
    issued = c.ok("property", "issue-bill", "--household", address, "--period", "2027-03",
                  "--extra", "自行车棚=80", key="property-co")
    bill_id = issued["result"]
    total = c.query("property", "bill", [bill_id])["total"]

    p.goto("/#/bills")
    p.get_by_test_id(f"bill-{bill_id}").get_by_text("自行车棚").wait_for(timeout=WAIT_MS)
    p.get_by_test_id(f"pay-{bill_id}").click()
    fee_text = p.get_by_test_id("tx-fee").inner_text(timeout=WAIT_MS)
    assert re.fullmatch(r"手续费：\d+ 积分", fee_text), fee_text  # the dry run's fee
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
