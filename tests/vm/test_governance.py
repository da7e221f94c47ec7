"""Governance: Civil Code Article 278 (table-driven edges and a full vote), and chain
matters decided by the validators (parameters, validators, treasury, upgrades, minting)."""

from __future__ import annotations

from typing import Any

import pytest

from core.crypto import PrivateKey
from core.types import STATUS_OK
from tests.vm.helpers import OPERATOR, ROOT, VALIDATOR_KEYS, Chain, genesis_doc, key
from vm.executor import contract_source
from vm.layout import storage_key

TOKEN_SOURCE = contract_source("token.py")
TOTAL_AREA = 30_000  # 300.00 m² in 0.01 m² units
TOTAL_OWNERS = 30

# (name, category, voted_area, voted_owners, yes_area, yes_owners, quorum, passed)
CASES = [
    ("exactly 2/3 participation, clear majority", 1, 20_000, 20, 15_000, 15, True, True),
    ("one square metre short of 2/3 area", 1, 19_900, 20, 19_900, 20, False, False),
    ("one owner short of 2/3 owners", 2, 20_000, 19, 20_000, 19, False, False),
    ("3/4 exactly on item 6", 6, 20_000, 20, 15_000, 15, True, True),
    ("3/4 of area minus 0.01 m² on item 7", 7, 20_000, 20, 14_999, 15, True, False),
    ("3/4 of area but one owner short on item 8", 8, 20_000, 20, 15_000, 14, True, False),
    ("tie at one half is not more than half", 3, 20_000, 20, 10_000, 10, True, False),
    ("just over one half", 4, 20_000, 20, 10_001, 11, True, True),
    ("area passes, head count fails", 5, 20_000, 20, 15_000, 10, True, False),
    ("head count passes, area fails", 9, 20_000, 20, 10_000, 15, True, False),
    ("item 6 with a simple majority only", 6, 30_000, 30, 20_000, 20, True, False),
    ("full participation, unanimous", 8, 30_000, 30, 30_000, 30, True, True),
    ("nobody votes", 9, 0, 0, 0, 0, False, False),
]


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain()


@pytest.mark.parametrize(("name", "category", "va", "vo", "ya", "yo", "quorum", "passed"), CASES,
                         ids=[c[0] for c in CASES])
def test_article_278_rule(chain: Chain, name: str, category: int, va: int, vo: int, ya: int,
                          yo: int, quorum: bool, passed: bool) -> None:
    got = chain.query("governance", "article_278", category, TOTAL_AREA, TOTAL_OWNERS, va, vo, ya, yo)
    assert got == {"quorum": quorum, "passed": passed}, name


def owners_chain(areas: list[int]) -> tuple[Chain, list[PrivateKey]]:
    households = [key(f"household-{i}") for i in range(len(areas))]
    g = genesis_doc(households=[{"address": h.address, "area_dm2": a}
                                for h, a in zip(households, areas, strict=True)])
    g["params"]["governance"] = {"owners_voting_blocks": 10, "chain_voting_blocks": 5}
    return Chain(g), households


def test_owners_vote_end_to_end_with_a_changed_vote() -> None:
    # 6 households, total area 600 m²; item 6 needs 3/4 of participants by area and head.
    c, hh = owners_chain([10_000] * 6)
    c.ok(OPERATOR, "token", "transfer", [hh[0].address, 10**8])  # proposing is not sponsored
    pid = c.ok(hh[0], "governance", "propose_owners", [6, "raise the maintenance fund", b"\x02" * 32])
    closes = c.query("governance", "proposal", pid)["closes"]
    votes = ["yes", "yes", "yes", "no", "yes"]  # household 5 does not vote
    c.block(*[c.tx(h, "governance", "vote", [pid, v]) for h, v in zip(hh, votes, strict=False)])
    t = c.query("governance", "tally", pid)
    assert (t["voted_owners"], t["yes_owners"], t["no_owners"]) == (5, 4, 1)
    assert c.query("governance", "outcome", pid) == {"quorum": True, "passed": True}
    # household 1 changes its mind: 3 of 5 is below 3/4
    c.ok(hh[1], "governance", "vote", [pid, "no"])
    t = c.query("governance", "tally", pid)
    assert (t["voted_owners"], t["yes_owners"], t["voted_area_dm2"]) == (5, 3, 50_000)
    assert c.query("governance", "outcome", pid)["passed"] is False
    # ...and back: one household, one vote
    c.ok(hh[1], "governance", "vote", [pid, "yes"])
    c.skip_to(closes)
    assert c.query("governance", "proposal", pid)["status"] == "open"
    assert c.call(hh[5], "governance", "vote", [pid, "yes"]).error_code == "vote_closed"
    c.block()  # block `closes`: finalized before its txs
    p = c.query("governance", "proposal", pid)
    assert (p["status"], p["quorum"], p["closed_at"]) == ("passed", True, closes)


def test_owners_vote_fails_without_quorum() -> None:
    c, hh = owners_chain([10_000, 10_000, 10_000])
    pid = c.ok(OPERATOR, "governance", "propose_owners", [1, "rules", b"\x03" * 32])
    c.ok(hh[0], "governance", "vote", [pid, "yes"])
    assert c.call(OPERATOR, "governance", "vote", [pid, "yes"]).error_code == "not_allowed"
    c.skip_to(c.query("governance", "proposal", pid)["closes"] + 1)
    p = c.query("governance", "proposal", pid)
    assert (p["status"], p["quorum"]) == ("rejected", False)


def test_roles_register_fixes_the_electorate_when_the_vote_opens() -> None:
    # The roles contract as the register: a household registered after the vote opened
    # does not vote; one removed after voting still counts, with its area of the opening.
    c, hh = owners_chain([10_000, 20_000, 30_000])
    pid = c.ok(OPERATOR, "governance", "propose_owners", [1, "rules", b"\x04" * 32])
    late = key("late-household")
    c.ok(OPERATOR, "roles", "register_household", [late.address, 50_000])
    c.ok(OPERATOR, "token", "transfer", [late.address, 10**8])
    assert c.call(late, "governance", "vote", [pid, "yes"]).error_code == "not_in_electorate"
    c.ok(hh[0], "governance", "vote", [pid, "yes"])
    c.ok(OPERATOR, "roles", "register_household", [hh[1].address, 90_000])  # area corrected
    c.ok(OPERATOR, "roles", "remove_household", [hh[0].address])
    c.ok(hh[1], "governance", "vote", [pid, "no"])
    t = c.query("governance", "tally", pid)
    assert (t["voted_owners"], t["total_owners"]) == (2, 3)
    assert (t["voted_area_dm2"], t["total_area_dm2"]) == (30_000, 60_000)
    assert (t["yes_area_dm2"], t["no_area_dm2"]) == (10_000, 20_000)
    # a vote opened now sees the register as it stands now
    pid2 = c.ok(OPERATOR, "governance", "propose_owners", [1, "rules again", b"\x05" * 32])
    c.ok(late, "governance", "vote", [pid2, "yes"])
    assert c.call(hh[0], "governance", "vote", [pid2, "yes"]).error_code == "not_allowed"
    t = c.query("governance", "tally", pid2)
    assert (t["voted_area_dm2"], t["total_area_dm2"], t["total_owners"]) == (50_000, 170_000, 3)


def test_households_from_before_the_register_kept_history_keep_their_vote() -> None:
    # A register upgraded on a running chain: households registered before have no
    # history. They vote with the area they have, and a change after a vote opened keeps
    # their area of the opening for that vote.
    c, hh = owners_chain([10_000, 20_000, 30_000])
    for h in hh[:2]:
        c.state.delete(storage_key("roles", "hn:" + h.address))
        c.state.delete(storage_key("roles", "hv:" + h.address + ":0"))
    pid = c.ok(OPERATOR, "governance", "propose_owners", [1, "rules", b"\x06" * 32])
    c.ok(OPERATOR, "roles", "register_household", [hh[0].address, 15_000])
    c.ok(OPERATOR, "roles", "remove_household", [hh[1].address])
    c.ok(hh[0], "governance", "vote", [pid, "yes"])
    c.ok(hh[1], "governance", "vote", [pid, "no"])
    t = c.query("governance", "tally", pid)
    assert (t["yes_area_dm2"], t["no_area_dm2"], t["total_area_dm2"]) == (10_000, 20_000, 60_000)
    assert c.query("roles", "household_at", hh[0].address, 10**6) == 15_000


def chain_matter(c: Chain, action: list[Any], yes: int) -> dict[str, Any]:
    pid = c.ok(VALIDATOR_KEYS[0], "governance", "propose_chain", [action, "a chain matter"])
    c.block(*[c.tx(v, "governance", "vote", [pid, "yes" if i < yes else "no"])
              for i, v in enumerate(VALIDATOR_KEYS)])
    closes: int = c.query("governance", "proposal", pid)["closes"]
    c.skip_to(closes + 1)
    p: dict[str, Any] = c.query("governance", "proposal", pid)
    return p


def test_chain_matters_need_two_thirds_of_validators() -> None:
    c, _ = owners_chain([10_000])
    assert c.call(OPERATOR, "governance", "propose_chain",
                  [["spend", OPERATOR.address, 5], "x"]).error_code == "not_allowed"
    p = chain_matter(c, ["call", "fees", "set_param", ["gas_price_milli", 2]], yes=2)
    assert p["status"] == "rejected" and c.query("fees", "gas_price_milli") == 1
    p = chain_matter(c, ["call", "fees", "set_param", ["gas_price_milli", 2]], yes=3)
    assert p["status"] == "passed" and c.query("fees", "gas_price_milli") == 2


def test_treasury_spend_and_failed_action() -> None:
    c, _ = owners_chain([10_000])
    bob = key("bob")
    p = chain_matter(c, ["spend", bob.address, 1234], yes=4)
    assert p["status"] == "passed" and c.balance(bob.address) == 1234
    p = chain_matter(c, ["spend", bob.address, 10**15], yes=4)
    # state records the code and the place, as a receipt does: never a message
    assert (p["status"], p["error"]) == ("failed", "insufficient_balance")
    contract, line = p["error_at"]
    assert contract == "token" and "insufficient_balance" in TOKEN_SOURCE.splitlines()[line - 1]


def test_validator_change_takes_effect_at_closing_height_plus_two() -> None:
    c, _ = owners_chain([10_000])
    new = key("new-validator")
    pid = c.ok(VALIDATOR_KEYS[0], "governance", "propose_chain",
               [["add_validator", new.public_key, "committee-5"], "add a fifth committee"])
    c.block(*[c.tx(v, "governance", "vote", [pid, "yes"]) for v in VALIDATOR_KEYS[:3]])
    closes = c.query("governance", "proposal", pid)["closes"]
    c.skip_to(closes + 1)
    assert c.query("governance", "proposal", pid)["status"] == "passed"
    assert len(c.ex.validator_set(c.state, closes + 1)) == 4
    after = c.ex.validator_set(c.state, closes + 2)
    assert len(after) == 5 and after.validators[-1].public_key == new.public_key
    p = chain_matter(c, ["remove_validator", VALIDATOR_KEYS[3].public_key], yes=3)
    assert p["status"] == "passed"
    assert VALIDATOR_KEYS[3].public_key not in c.ex.validator_set(c.state, p["closes"] + 2)
    assert VALIDATOR_KEYS[3].public_key in c.ex.validator_set(c.state, p["closes"] + 1)


def test_upgrade_and_mint_rules_through_governance() -> None:
    c, hh = owners_chain([10_000])
    assert c.deploy("culture", "def reward(to: str, n: int) -> None:\n    call('token', 'mint', [to, n])\n").status == STATUS_OK
    assert c.call(OPERATOR, "culture", "reward", [hh[0].address, 5]).error_code == "not_allowed"
    assert chain_matter(c, ["call", "token", "set_mint_rule", ["culture", 100]], yes=3)["status"] == "passed"
    c.ok(OPERATOR, "culture", "reward", [hh[0].address, 60])
    assert c.call(OPERATOR, "culture", "reward", [hh[0].address, 41]).error_code == "mint_cap"
    assert c.balance(hh[0].address) == 60
    new_source = "def reward(to: str, n: int) -> None:\n    raise Error('closed', 'closed')\n"
    assert chain_matter(c, ["upgrade", "culture", new_source], yes=3)["status"] == "passed"
    assert c.call(OPERATOR, "culture", "reward", [hh[0].address, 1]).error_code == "closed"


def test_bad_actions_refused_at_proposal_time() -> None:
    c = Chain()
    actions: list[Any] = [["explode"], ["spend", "nobody", 5], ["add_validator", b"short", "x"],
                          ["call", "governance", "vote", [1, "yes"]], "not a list"]
    for action in actions:
        r = c.call(VALIDATOR_KEYS[0], "governance", "propose_chain", [action, "bad"])
        assert r.error_code == "bad_action", action


def test_app_proposers_are_told_the_result_and_their_failure_keeps_it() -> None:
    app = '''
def propose() -> int:
    return call("governance", "propose_owners", [9, "a matter of the app", sha256("x")])

def on_closed(pid: int, category: int, status: str) -> None:
    if load("fail", False):
        raise Error("boom")
    store("closed", [pid, category, status, caller])

def set_fail() -> None:
    store("fail", True)

@view
def closed() -> list:
    return load("closed")
'''
    hh = [key(f"app-household-{i}") for i in range(3)]
    g = genesis_doc(households=[{"address": h.address, "area_dm2": 10_000} for h in hh])
    g["params"]["governance"] = {"owners_voting_blocks": 5, "chain_voting_blocks": 5,
                                 "app_proposers": ["goodapp", "badapp"]}
    c = Chain(g)
    for name in ("goodapp", "badapp"):
        assert c.deploy(name, app).status == STATUS_OK
    c.ok(OPERATOR, "badapp", "set_fail", [])
    good = c.ok(OPERATOR, "goodapp", "propose", [])
    bad = c.ok(OPERATOR, "badapp", "propose", [])
    c.block(*[c.tx(h, "governance", "vote", [pid, "yes"]) for h in hh for pid in (good, bad)])
    c.skip_to(c.query("governance", "proposal", bad)["closes"] + 1)
    assert c.query("governance", "proposal", good)["status"] == "passed"
    assert c.query("goodapp", "closed") == [good, 9, "passed", "governance"]
    assert c.query("governance", "proposal", bad)["status"] == "passed"
    assert c.query("badapp", "closed") is None


def test_governance_can_upgrade_itself() -> None:
    c, _ = owners_chain([10_000])
    source = (ROOT / "vm" / "contracts" / "governance.py").read_text()
    new_source = source + "\n\n@view\ndef version() -> int:\n    return 2\n"
    p = chain_matter(c, ["upgrade", "governance", new_source], yes=3)
    assert p["status"] == "passed"
    assert c.query("governance", "version") == 2
    assert c.query("governance", "proposal", p["id"])["status"] == "passed"  # storage kept
