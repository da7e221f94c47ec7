"""A validator-set change followed to the end in Chromium, against a real 4-validator
localnet of its own with a short voting period for chain matters: a validator's key
proposes, in the console, removing one of the four; it votes yes in the page and two
other validators vote with the CLI; the page shows the vote passed and then, without a
reload, the new set of three in force from the height the chain applied it at — told by
the node's `validators` push over the websocket — while the chain keeps committing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.request import urlopen

import pytest

from core.crypto import PrivateKey
from tests.web.browser import Watched, require_chromium
from tests.web.community import Community, start_community
from tests.web.test_console_flows import (
    CLERK_PASSPHRASE,
    WAIT_MS,
    confirm_tx,
    id_in_url,
    no_errors,
    sign_in,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow

VOTING_BLOCKS = 40
CLOSE_WAIT_MS = 180_000  # the vote runs VOTING_BLOCKS blocks (about one a second)
KEEPS_COMMITTING = 5  # blocks the three must commit after the change


@pytest.fixture(scope="module")
def community(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Community]:
    require_chromium()
    yield from start_community(tmp_path_factory.mktemp("web-console-validators"),
                               params={"governance": {"chain_voting_blocks": VOTING_BLOCKS}}, seed_demo=False)


@pytest.fixture()
def pages() -> Iterator[list[Watched]]:
    opened: list[Watched] = []
    yield opened
    for w in opened:
        w.context.close()


def get(c: Community, path: str, node: int = 0) -> Any:
    with urlopen(f"{c.rpc(node)}{path}") as resp:
        return json.loads(resp.read())


def wait_height(c: Community, node: int, height: int) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while get(c, "/v1/status", node)["height"] < height:
        assert time.monotonic() < deadline, f"node {node} stalled below height {height}"
        time.sleep(0.2)


def test_a_validator_removal_passes_and_the_page_shows_the_new_set_in_force(
        browser: Browser, community: Community, pages: list[Watched]) -> None:
    c = community
    for i in range(3):  # the operator funds three validators' keys for their fees
        c.keys[f"node{i}"] = c.net.nodes[i].home / "node.key"
        c.ok("transfer", "--to", PrivateKey.load(c.keys[f"node{i}"]).address, "--amount", "1000")
    before = get(c, "/v1/status")["validators"]
    assert len(before) == 4
    leaving = next(v for v in before if v["public_key"] == PrivateKey.load(c.net.nodes[3].home / "node.key").public_key.hex())

    clerk = sign_in(browser, c, pages, c.keys["node0"], CLERK_PASSPHRASE)
    clerk.goto("/#/validators")
    members = clerk.get_by_test_id("val-member")
    members.nth(3).wait_for(timeout=WAIT_MS)
    assert members.count() == 4 and clerk.get_by_test_id("val-since").count() == 0
    clerk.evaluate("window.hkchainSameDocument = true")  # gone if the page were reloaded
    clerk.get_by_test_id("val-kind").select_option("remove_validator")
    clerk.get_by_test_id("val-remove").select_option(leaving["public_key"])
    clerk.get_by_test_id("val-propose").click()
    confirm_tx(clerk)
    pid = id_in_url(clerk, "validators")
    assert c.query("governance", "proposal", [pid])["action"] == ["remove_validator", "0x" + leaving["public_key"]]
    clerk.get_by_test_id(f"val-vote-yes-{pid}").click()
    confirm_tx(clerk)
    for voter in ("node1", "node2"):
        c.ok("gov", "vote", str(pid), "yes", key=voter)
    clerk.get_by_test_id(f"val-tally-{pid}").filter(has_text="3 / 4").wait_for(timeout=WAIT_MS)
    assert c.query("governance", "proposal", [pid])["status"] == "open"

    # Back to the list, inside the app; it waits there for the chain to close the vote.
    clerk.locator("main a[href='#/validators']").first.click()
    card = clerk.get_by_test_id(f"val-proposal-{pid}")
    card.wait_for(timeout=WAIT_MS)
    assert "投票中" in card.inner_text()
    card.filter(has_text="已通过").wait_for(timeout=CLOSE_WAIT_MS)
    # The new set in force, pushed by the node: three members, the leaver gone.
    since = clerk.get_by_test_id("val-since")
    since.wait_for(timeout=WAIT_MS)
    closed = c.query("governance", "proposal", [pid])
    assert closed["status"] == "passed"
    effective = closed["closed_at"] + 2
    assert f"自区块 {effective} 起生效" in since.inner_text()
    assert members.count() == 3
    shown = clerk.get_by_test_id("val-set").inner_text()
    assert leaving["address"] not in shown and all(v["address"] in shown for v in before if v is not leaving)
    assert clerk.get_by_test_id("val-pending").count() == 0
    assert clerk.evaluate("window.hkchainSameDocument") is True

    # The chain applied it at that height (the push came after the block before it), and
    # the three keep committing.
    wait_height(c, 0, effective)
    old_hash = get(c, f"/v1/blocks/{effective - 1}")["header"]["validator_set_hash"]
    new_hash = get(c, f"/v1/blocks/{effective}")["header"]["validator_set_hash"]
    assert old_hash != new_hash
    assert [v["address"] for v in get(c, "/v1/status")["validators"]] == \
        [v["address"] for v in before if v is not leaving]
    head = get(c, "/v1/status")["height"]
    for node in range(3):
        wait_height(c, node, head + KEEPS_COMMITTING)
    signers = {s["validator"] for s in get(c, f"/v1/blocks/{head + KEEPS_COMMITTING}")["certificate"]["signatures"]}
    assert leaving["public_key"] not in signers and len(signers) == 3
    no_errors(pages)
