"""The electorate of an owners' vote is fixed when the vote opens.

A state machine registers, updates and removes households, opens owners' votes, votes and
lets votes close, against a model that keeps each vote's electorate as a plain dict taken
at opening. After every step each proposal's tally must equal a recount from that
snapshot, and participation never exceeds the electorate (by head or by area)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from core.crypto import PrivateKey
from core.types import STATUS_OK, Receipt
from tests.apps.harness import Chain, commitment, h, key

VOTING_BLOCKS = 12
POOL = 8
CHOICES = ("yes", "no", "abstain")


def longer_votes(genesis: dict[str, Any]) -> None:
    genesis["params"]["governance"]["owners_voting_blocks"] = VOTING_BLOCKS


def article_278(category: int, total_area: int, total_owners: int, va: int, vo: int, ya: int,
                yo: int) -> tuple[bool, bool]:
    """The rule of DESIGN.md §7, written again in plain integers."""
    quorum = 3 * va >= 2 * total_area and 3 * vo >= 2 * total_owners
    if category in (6, 7, 8):
        agreed = 4 * ya >= 3 * va and 4 * yo >= 3 * vo
    else:
        agreed = 2 * ya > va and 2 * yo > vo
    return quorum, quorum and agreed


class Proposal:
    def __init__(self, pid: int, category: int, closes: int, electorate: dict[str, int]) -> None:
        self.pid = pid
        self.category = category
        self.closes = closes
        self.electorate = dict(electorate)
        self.votes: dict[str, str] = {}
        self.closed = False

    def recount(self) -> dict[str, int]:
        def area(choice: str | None) -> int:
            return sum(self.electorate[a] for a, c in self.votes.items() if choice in (None, c))

        def heads(choice: str | None) -> int:
            return sum(1 for c in self.votes.values() if choice in (None, c))

        return {"voted_area_dm2": area(None), "voted_owners": heads(None),
                "yes_area_dm2": area("yes"), "yes_owners": heads("yes"),
                "no_area_dm2": area("no"), "no_owners": heads("no"),
                "total_area_dm2": sum(self.electorate.values()),
                "total_owners": len(self.electorate)}


class Electorate(RuleBasedStateMachine):
    """Households come, change and go while owners' votes run."""

    @initialize()
    def setup(self) -> None:
        self.c = c = Chain(genesis_edit=longer_votes)
        self.committee = c.operator
        self.pool: list[PrivateKey] = [key(f"electorate-{i}") for i in range(POOL)]
        c.block([(self.committee, "token", "transfer", [k.address, 2_000_000]) for k in self.pool])
        c.block([(self.committee, "roles", "grant", [k.address, "resident"]) for k in self.pool])
        self.register: dict[str, int] = {}  # address -> area_dm2, the register now
        self.proposals: list[Proposal] = []

    # --- the register ----------------------------------------------------------------

    def _send(self, signer: PrivateKey, contract: str, method: str, *args: Any) -> Receipt:
        r = self.c.try_send(signer, contract, method, *args)
        self._finalized_up_to(self.c.height)
        return r

    def _finalized_up_to(self, height: int) -> None:
        # Block ``closes`` finalizes the vote before its txs run.
        for p in self.proposals:
            if not p.closed and height >= p.closes:
                p.closed = True
                doc = self.c.q("governance", "proposal", p.pid)
                t = p.recount()
                quorum, passed = article_278(p.category, t["total_area_dm2"], t["total_owners"],
                                             t["voted_area_dm2"], t["voted_owners"],
                                             t["yes_area_dm2"], t["yes_owners"])
                assert doc["status"] == ("passed" if passed else "rejected")
                assert doc["quorum"] is quorum
                assert doc["tally"] == [t["voted_area_dm2"], t["voted_owners"], t["yes_area_dm2"],
                                        t["yes_owners"], t["no_area_dm2"], t["no_owners"]]

    @rule(i=st.integers(0, POOL - 1), area=st.integers(1, 30_000))
    def register_household(self, i: int, area: int) -> None:
        k = self.pool[i]
        r = self._send(self.committee, "households", "register", k.address, f"U-{i}", area,
                       commitment(f"U-{i}"))
        if k.address in self.register:
            assert r.error_code == "exists"
        else:
            assert r.status == STATUS_OK, r.error_code
            self.register[k.address] = area

    @rule(i=st.integers(0, POOL - 1), area=st.integers(1, 30_000))
    def update_household(self, i: int, area: int) -> None:
        k = self.pool[i]
        r = self._send(self.committee, "households", "update", k.address, area, commitment(f"U-{i}"))
        if k.address in self.register:
            assert r.status == STATUS_OK, r.error_code
            self.register[k.address] = area
        else:
            assert r.error_code == "not_found"

    @rule(i=st.integers(0, POOL - 1))
    def remove_household(self, i: int) -> None:
        k = self.pool[i]
        r = self._send(self.committee, "households", "remove", k.address)
        if k.address in self.register:
            assert r.status == STATUS_OK, r.error_code
            del self.register[k.address]
        else:
            assert r.error_code == "not_found"

    # --- votes -----------------------------------------------------------------------

    @rule(category=st.integers(1, 9))
    def open_vote(self, category: int) -> None:
        r = self._send(self.committee, "governance", "propose_owners", category,
                       f"matter {len(self.proposals)}", h(f"doc {len(self.proposals)}"))
        if not self.register:
            assert r.error_code == "no_owners"
            return
        assert r.status == STATUS_OK, r.error_code
        pid = r.result
        assert isinstance(pid, int)
        closes = self.c.q("governance", "proposal", pid)["closes"]
        assert closes == self.c.height + VOTING_BLOCKS
        self.proposals.append(Proposal(pid, category, closes, self.register))

    @precondition(lambda self: any(not p.closed for p in self.proposals))
    @rule(data=st.data(), i=st.integers(0, POOL - 1), choice=st.sampled_from(CHOICES))
    def vote(self, data: st.DataObject, i: int, choice: str) -> None:
        p = data.draw(st.sampled_from([p for p in self.proposals if not p.closed]))
        k = self.pool[i]
        votes_at = self.c.height + 1
        r = self._send(k, "governance", "vote", p.pid, choice)
        if votes_at >= p.closes:
            assert r.error_code == "vote_closed"
        elif k.address in p.electorate:
            # in the electorate: votes, even if removed or its area changed since
            assert r.status == STATUS_OK, r.error_code
            p.votes[k.address] = choice
        elif k.address in self.register:
            assert r.error_code == "not_in_electorate"
        else:
            assert r.error_code == "not_allowed"

    @precondition(lambda self: any(not p.closed for p in self.proposals))
    @rule()
    def close_next(self) -> None:
        closes = min(p.closes for p in self.proposals if not p.closed)
        self.c.empty_blocks_until(closes + 1)
        self._finalized_up_to(self.c.height)

    # --- what must always hold -----------------------------------------------------------

    @invariant()
    def tallies_are_recounts_of_the_electorate(self) -> None:
        for p in getattr(self, "proposals", []):
            t = self.c.q("governance", "tally", p.pid)
            assert t == p.recount()
            assert t["voted_owners"] <= t["total_owners"]
            assert t["voted_area_dm2"] <= t["total_area_dm2"]

    @invariant()
    def register_totals_match(self) -> None:
        if hasattr(self, "c"):
            assert self.c.q("households", "totals") == [sum(self.register.values()), len(self.register)]


TestElectorate = Electorate.TestCase
TestElectorate.settings = settings(max_examples=30, stateful_step_count=30, deadline=None,
                                   suppress_health_check=[HealthCheck.too_slow])


def test_late_and_removed_households_cannot_push_turnout_over_the_electorate() -> None:
    """The reviewed case: six households, a vote opens, a seventh is registered and one is
    removed after voting. Turnout stays within the six of the opening."""
    c = Chain(genesis_edit=longer_votes)
    homes = [key(f"turnout-{i}") for i in range(7)]
    c.block([(c.operator, "token", "transfer", [k.address, 2_000_000]) for k in homes])
    c.block([(c.operator, "roles", "grant", [k.address, "resident"]) for k in homes])
    areas = [9117, 9117, 9117, 9117, 9117, 9117, 8695]
    c.block([(c.operator, "households", "register", [k.address, f"U-{i}", a, commitment(f"U-{i}")])
             for i, (k, a) in enumerate(zip(homes[:6], areas, strict=False))])
    pid = c.send(c.operator, "governance", "propose_owners", 9, "a matter", h("doc"))
    c.block([(k, "governance", "vote", [pid, "yes"]) for k in homes[:6]])
    c.send(c.operator, "households", "remove", homes[0].address)
    c.send(c.operator, "households", "update", homes[1].address, 30_000, commitment("U-1"))
    c.send(c.operator, "households", "register", homes[6].address, "U-6", areas[6], commitment("U-6"))
    c.fails("not_in_electorate", homes[6], "governance", "vote", pid, "yes")
    c.send(homes[1], "governance", "vote", pid, "no")  # re-votes with its area of the opening
    t = c.q("governance", "tally", pid)
    assert (t["voted_owners"], t["total_owners"]) == (6, 6)
    assert (t["voted_area_dm2"], t["total_area_dm2"]) == (6 * 9117, 6 * 9117)
    assert (t["no_owners"], t["no_area_dm2"]) == (1, 9117)
