"""The household register: committee-only, privacy by commitment, one unit one vote, and
the register that governance's Article 278 votes count."""

from __future__ import annotations

import hashlib

from tests.apps.harness import SALT, Community, commitment, h, identity_data, key


def test_register_requires_committee_and_resident_role(town: Community) -> None:
    c = town.c
    newcomer = key("newcomer")
    c.fund(newcomer, 1_000_000)
    r = c.fails("not_allowed", town.homes[0], "households", "register", newcomer.address, "T9-01A",
                9000, commitment("T9-01A"))
    assert "committee" in c.explain(r)
    c.fails("not_resident", town.committee, "households", "register", newcomer.address, "T9-01A",
            9000, commitment("T9-01A"))
    c.fails("bad_arg", town.committee, "households", "register", newcomer.address, "T9-01A", 9000,
            b"short")
    assert c.q("households", "household", newcomer.address) == 0


def test_one_unit_one_household(town: Community) -> None:
    c = town.c
    other = key("second-address")
    c.grant(other, "resident")
    c.fails("exists", town.committee, "households", "register", other.address, "T1-01A", 9000,
            commitment("T1-01A"))
    c.fails("exists", town.committee, "households", "register", town.homes[0].address, "T9-09Z",
            9000, commitment("T9-09Z"))
    assert c.q("households", "totals")[1] == len(town.homes)


def test_commitment_proves_household_off_chain(town: Community) -> None:
    c = town.c
    rec = c.q("households", "record", town.homes[2].address)
    assert rec["unit"] == "T1-03A" and rec["area_dm2"] == town.AREAS[2]
    # The verifier recomputes the commitment from what the resident reveals off chain.
    revealed = hashlib.sha256(SALT + identity_data("T1-03A")).digest()
    assert rec["commitment"] == revealed
    assert c.q("households", "verify", town.homes[2].address, revealed) is True
    assert c.q("households", "verify", town.homes[2].address, h("someone else")) is False
    # Nothing personal is stored: the state holds no part of the identity data.
    blob = b"".join(c.state.data.values())
    assert b"Chan Tai Man" not in blob and b"A123456" not in blob and b"5555" not in blob


def test_update_and_remove_keep_totals(town: Community) -> None:
    c = town.c
    total = sum(town.AREAS)
    c.send(town.committee, "households", "update", town.homes[0].address, 9000, commitment("x"))
    assert c.q("households", "totals") == [total - town.AREAS[0] + 9000, 5]
    c.send(town.committee, "households", "remove", town.homes[0].address)
    assert c.q("households", "totals") == [total - town.AREAS[0], 4]
    assert c.q("households", "unit_holder", "T1-01A") is None
    c.fails("not_found", town.committee, "households", "remove", town.homes[0].address)


def test_governance_counts_this_register(town: Community) -> None:
    c = town.c
    # A household of this register may propose and vote; its area is what is tallied.
    pid = c.send(town.homes[0], "governance", "propose_owners", 9, "Garden party", h("text"))
    c.send(town.homes[1], "governance", "vote", pid, "yes")
    tally = c.q("governance", "tally", pid)
    assert tally["total_area_dm2"] == sum(town.AREAS) and tally["total_owners"] == 5
    assert tally["yes_area_dm2"] == town.AREAS[1] and tally["yes_owners"] == 1
    # An address registered only in roles (not here) is not an owner for governance.
    c.send(town.committee, "roles", "register_household", town.outsider.address, 50000)
    c.fails("not_allowed", town.outsider, "governance", "vote", pid, "yes")
