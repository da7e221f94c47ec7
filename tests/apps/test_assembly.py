"""Residents' proposals: co-signing or committee sponsorship, comments, sponsored votes
through governance, the live tally and the recorded result, and an action that runs by
itself when the vote passes."""

from __future__ import annotations

from tests.apps.harness import Community, h


def test_cosigned_draft_goes_to_the_vote_and_result_is_recorded(town: Community) -> None:
    c = town.c
    homes = town.homes
    did = c.send(homes[0], "assembly", "draft", 3, "Elect the new owners' committee", h("slate"), [])
    c.fails("not_allowed", town.outsider, "assembly", "cosign", did)
    c.fails("exists", homes[0], "assembly", "cosign", did)
    assert c.send(homes[1], "assembly", "cosign", did) == 0  # 2 of 3
    c.send(homes[3], "assembly", "comment", did, h("I support the slate"))
    pid = c.send(homes[2], "assembly", "cosign", did)
    assert pid > 0 and c.q("assembly", "by_pid", pid) == did
    d = c.q("assembly", "draft_of", did)
    assert d["status"] == "voting" and d["cosigners"] == [k.address for k in homes[:3]]
    assert c.q("assembly", "comments", did)[0]["hash"] == h("I support the slate")
    # Votes are fee-sponsored by the treasury: the resident's balance does not move.
    before = c.balance(homes[0].address)
    c.send(homes[0], "governance", "vote", pid, "yes")
    assert c.balance(homes[0].address) == before
    live = c.q("assembly", "overview", did)["tally"]
    assert live["yes_owners"] == 1 and live["yes_area_dm2"] == town.AREAS[0]
    town.vote_all(pid, ["yes", "yes", "yes", "no"])
    assert c.q("assembly", "draft_of", did)["status"] == "passed"
    assert c.q("assembly", "overview", did)["proposal"]["status"] == "passed"


def test_committee_sponsors_and_non_households_are_refused(town: Community) -> None:
    c = town.c
    r = c.fails("not_allowed", town.outsider, "assembly", "draft", 9, "Fireworks", h("f"), [])
    assert "household" in c.explain(r)
    did = c.send(town.homes[4], "assembly", "draft", 9, "Fireworks", h("f"), [])
    c.fails("not_allowed", town.homes[4], "assembly", "sponsor", did)
    pid = c.send(town.committee, "assembly", "sponsor", did)
    c.fails("bad_state", town.homes[1], "assembly", "cosign", did)
    town.vote_all(pid, ["no", "no", "no", "yes", "yes"])
    assert c.q("assembly", "draft_of", did)["status"] == "rejected"


def test_fund_spend_action_runs_by_itself(town: Community) -> None:
    c = town.c
    painter = town.providers[0].address
    c.send(town.homes[0], "property", "deposit_fund", 50_000)
    c.fails("bad_arg", town.homes[0], "assembly", "draft", 9, "Paint", h("p"),
            ["fund_spend", painter, 20_000])
    did = c.send(town.homes[0], "assembly", "draft", 5, "Paint the lobby", h("p"),
                 ["fund_spend", painter, 20_000])
    pid = c.send(town.committee, "assembly", "sponsor", did)
    assert c.q("governance", "proposal", pid)["category"] == 5
    before = c.balance(painter)
    town.vote_all(pid, ["yes", "yes", "yes", "yes"])
    assert c.balance(painter) == before + 20_000
    assert c.q("property", "fund") == 30_000
    assert c.q("assembly", "overview", did)["proposal"]["status"] == "passed"
