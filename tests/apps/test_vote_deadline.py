"""A vote closing at a height the proposer chose (the CLI converts a local time to it):
never sooner than the configured period, closed and counted at that height."""

from __future__ import annotations

from tests.apps.harness import VOTING_BLOCKS, Community, h


def test_a_vote_closes_at_the_chosen_height(town: Community) -> None:
    c = town.c
    too_soon = c.height + 1 + VOTING_BLOCKS - 1
    c.fails("bad_proposal", town.committee, "governance", "propose_owners_closing", 9, "充电桩", h("方案"), too_soon)
    c.fails("bad_proposal", town.committee, "governance", "propose_owners_closing", 9, "充电桩", h("方案"), "later")
    closes = c.height + 1 + VOTING_BLOCKS + 6
    pid = c.send(town.committee, "governance", "propose_owners_closing", 9, "充电桩", h("方案"), closes)
    p = c.q("governance", "proposal", pid)
    assert p["closes"] == closes and p["doc_hash"] == h("方案") and p["status"] == "open"
    c.block([(k, "governance", "vote", [pid, "yes"]) for k in town.homes])
    c.empty_blocks_until(closes - 1)
    assert c.q("governance", "proposal", pid)["status"] == "open"
    c.empty_blocks_until(closes + 1)
    assert c.q("governance", "proposal", pid)["status"] == "passed"
    c.fails("not_allowed", town.outsider, "governance", "propose_owners_closing", 9, "x", h("x"), closes + 100)


def test_the_voting_periods_are_readable(town: Community) -> None:
    """What the console needs to offer the earliest closing time the contract accepts."""
    c = town.c
    periods = c.q("governance", "settings")
    assert periods == {"owners_voting_blocks": VOTING_BLOCKS, "chain_voting_blocks": VOTING_BLOCKS}
    closes = c.height + 1 + periods["owners_voting_blocks"]
    assert c.send(town.committee, "governance", "propose_owners_closing", 9, "充电桩", h("方案"), closes) >= 1
