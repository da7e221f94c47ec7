"""Random sequences of service-request actions keep the escrow account exact: the points
held by ``services`` always equal the sum of the requests' escrows, a request holds points
exactly while accepted or disputed, and every point leaving escrow reaches the requester
or the provider."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.types import STATUS_OK
from tests.apps.harness import DAY_S, GAS_LOG, Community, h

ACTIONS = ("accept", "complete", "cancel", "refund", "dispute", "decide", "wait", "offer")
REQUESTS = 4

steps = st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(1, REQUESTS), st.booleans(),
                           st.integers(0, 1000)),
                 min_size=1, max_size=20)


# Every way out of escrow, in one plan: completion, a decided dispute, the provider's
# cancellation, a refund refused before the timeout and granted after it.
EVERY_PATH = [("accept", 1, False, 0), ("complete", 1, False, 0),
              ("accept", 2, False, 0), ("dispute", 2, True, 0), ("decide", 2, False, 250),
              ("accept", 3, False, 0), ("cancel", 3, True, 0),
              ("accept", 4, False, 0), ("refund", 4, False, 0), ("wait", 4, False, 800),
              ("refund", 4, False, 0)]


def _held(town: Community, rid: int) -> tuple[str, str | None, int]:
    req = town.c.q("services", "request_of", rid)
    return req["requester"], req["provider"], req["escrow"]


@settings(max_examples=12, deadline=None)
@given(steps)
@example(EVERY_PATH)
def test_escrow_equals_held_points(plan: list[tuple[str, int, bool, int]]) -> None:
    town = Community()
    c = town.c
    for p in town.providers:
        c.send(p, "services", "register_provider", ["repair"])
    owner = {}
    for rid in range(1, REQUESTS + 1):
        home = town.homes[rid % 2]
        assert c.send(home, "services", "request", "repair", h(f"job {rid}"), 1000) == rid
        owner[rid] = home
        for i, p in enumerate(town.providers):
            c.send(p, "services", "offer", rid, 300 + 100 * i + rid)
    by_address = {k.address: k for k in [*town.homes, *town.providers]}
    for action, rid, by_provider, n in plan:
        requester, provider, escrow = _held(town, rid)
        party = owner[rid]
        if by_provider and provider is not None:
            party = by_address[provider]
        balances = {a: c.balance(a) for a in (requester, provider) if a is not None}
        sender = town.committee if action == "decide" else party
        if action in ("accept",):
            r = c.try_send(party, "services", "accept", rid, "")
        elif action in ("complete", "cancel", "refund"):
            r = c.try_send(party, "services", action, rid)
        elif action == "dispute":
            r = c.try_send(party, "services", "dispute", rid, h("why"))
        elif action == "decide":
            r = c.try_send(sender, "services", "decide", rid, n % (escrow + 1))
        elif action == "offer":
            r = c.try_send(town.providers[n % 2], "services", "offer", rid, 1 + n % 999)
        else:
            c.advance(n * DAY_S // 100)
            continue
        _, _, escrow_after = _held(town, rid)
        if r.status == STATUS_OK and escrow_after < escrow:
            # What left escrow went to the parties (net of the sender's own tx fee).
            gained = sum(c.balance(a) - b for a, b in balances.items())
            # The sender's own fee, unless the treasury sponsored it (Fee{payer}).
            fee = 0
            for e in r.events:
                if e.name == "Fee" and e.fields["payer"] == sender.address and sender.address in balances:
                    amount = e.fields["amount"]
                    assert type(amount) is int
                    fee += amount
            assert gained + fee == escrow - escrow_after
        total = sum(_held(town, i)[2] for i in range(1, REQUESTS + 1))
        assert c.balance("services") == total
        for i in range(1, REQUESTS + 1):
            req = c.q("services", "request_of", i)
            assert (req["escrow"] > 0) == (req["status"] in ("accepted", "disputed"))


def test_the_random_plans_reach_every_path() -> None:
    GAS_LOG.clear()
    test_escrow_equals_held_points.hypothesis.inner_test(EVERY_PATH)  # type: ignore[attr-defined]
    reached = {k.split(".")[1] for k in GAS_LOG if k.startswith("services.")}
    assert {"accept", "complete", "cancel", "refund", "dispute", "decide"} <= reached, reached
