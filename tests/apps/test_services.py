"""Community services: deterministic matching, escrow, completion, ratings feeding the
ranking, refunds on timeout and cancellation, and committee-decided disputes."""

from __future__ import annotations

from tests.apps.harness import DAY_S, Community, h


def _setup(town: Community, budget: int = 1000) -> int:
    c = town.c
    for p in town.providers:
        c.send(p, "services", "register_provider", ["plumbing", "cleaning"])
    return int(c.send(town.homes[0], "services", "request", "plumbing", h("leaking tap"), budget))


def test_matched_escrowed_completed_and_rated(town: Community) -> None:
    c = town.c
    a, b = town.providers
    rid = _setup(town)
    c.fails("not_allowed", town.homes[1], "services", "offer", rid, 500)
    c.fails("bad_arg", a, "services", "offer", rid, 1001)
    c.send(a, "services", "offer", rid, 800)
    c.send(b, "services", "offer", rid, 600)
    # Both unrated (3.00): the cheaper offer ranks first.
    assert [o["provider"] for o in c.q("services", "ranking", rid)] == [b.address, a.address]
    c.fails("not_allowed", town.homes[1], "services", "accept", rid, "")
    home = town.homes[0].address
    before = c.balance(home)
    assert c.send(town.homes[0], "services", "accept", rid, "") == b.address
    r = c.q("services", "request_of", rid)
    assert r["status"] == "accepted" and r["escrow"] == 600 and c.balance("services") == 600
    assert c.balance(home) < before - 600 + 1  # the price (and the tx fee) left the account
    provider_before = c.balance(b.address)
    c.fails("bad_state", town.homes[0], "services", "rate", rid, 5)
    c.send(town.homes[0], "services", "complete", rid)
    assert c.balance(b.address) == provider_before + 600 and c.balance("services") == 0
    c.send(town.homes[0], "services", "rate", rid, 1)
    c.fails("exists", town.homes[0], "services", "rate", rid, 5)
    assert c.q("services", "provider_of", b.address)["rating_x100"] == 100
    # The rating feeds the matching: b (1.00) now ranks after a (3.00) despite its price.
    rid2 = c.send(town.homes[1], "services", "request", "cleaning", h("windows"), 1000)
    c.send(b, "services", "offer", rid2, 100)
    c.send(a, "services", "offer", rid2, 900)
    assert [o["provider"] for o in c.q("services", "ranking", rid2)] == [a.address, b.address]


def test_refund_on_timeout_and_cancellation(town: Community) -> None:
    c = town.c
    a, b = town.providers
    home = town.homes[0]
    rid = _setup(town)
    c.send(a, "services", "offer", rid, 700)
    c.send(home, "services", "accept", rid, a.address)
    c.fails("too_early", home, "services", "refund", rid)
    c.advance(7 * DAY_S)
    c.send(home, "services", "refund", rid)
    assert c.q("services", "request_of", rid)["status"] == "refunded" and c.balance("services") == 0
    # The provider withdraws after acceptance: the requester gets the escrow back.
    rid2 = c.send(home, "services", "request", "plumbing", h("drain"), 500)
    c.send(b, "services", "offer", rid2, 400)
    c.send(home, "services", "accept", rid2, "")
    c.fails("not_allowed", home, "services", "cancel", rid2)
    c.send(b, "services", "cancel", rid2)
    assert c.q("services", "request_of", rid2)["status"] == "cancelled" and c.balance("services") == 0
    # The requester cancels an open request: nothing was held.
    rid3 = c.send(home, "services", "request", "plumbing", h("shower"), 500)
    c.send(home, "services", "cancel", rid3)
    c.fails("bad_state", b, "services", "offer", rid3, 100)


def test_dispute_decided_by_committee(town: Community) -> None:
    c = town.c
    a = town.providers[0]
    home = town.homes[0]
    rid = _setup(town)
    c.send(a, "services", "offer", rid, 1000)
    c.send(home, "services", "accept", rid, "")
    c.fails("not_allowed", town.homes[1], "services", "dispute", rid, h("?"))
    c.send(a, "services", "dispute", rid, h("the resident will not confirm"))
    c.fails("bad_state", home, "services", "complete", rid)
    c.fails("not_allowed", home, "services", "decide", rid, 0)
    home_before, a_before = c.balance(home.address), c.balance(a.address)
    c.send(town.committee, "services", "decide", rid, 700)
    assert c.balance(a.address) == a_before + 700
    assert c.balance(home.address) == home_before + 300
    assert c.q("services", "request_of", rid)["status"] == "decided"
    c.send(home, "services", "rate", rid, 3)


def test_outsider_cannot_request(town: Community) -> None:
    r = town.c.fails("not_allowed", town.outsider, "services", "request", "plumbing", h("x"), 10)
    assert "role is required" in town.c.explain(r)
