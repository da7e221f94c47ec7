"""Fees next to what residents earn: gas priced in milli-points (fee = ceil(gas × price /
1000)), and residents' participation calls sponsored by the treasury, so taking part
costs a resident nothing."""

from __future__ import annotations

import pytest

from core.types import STATUS_INVALID, STATUS_OK, Tx
from tests.apps.harness import Community, h, key
from vm.api import TxRejected

PARTICIPATION = {"governance.vote", "assembly.cosign", "assembly.comment", "culture.like",
                 "culture.comment", "notices.acknowledge", "activities.sign_up",
                 "activities.withdraw", "property.rate", "services.rate",
                 "activities.confirm_attendance"}


def test_the_dev_genesis_sponsors_participation_by_real_methods(town: Community) -> None:
    c = town.c
    fees = c.genesis["params"]["fees"]
    assert set(fees["sponsored"]) == PARTICIPATION
    assert fees["sponsored_role"] == "resident" and fees["sponsored_per_day"] == 100
    for call in sorted(PARTICIPATION):
        contract, method = call.split(".")
        tx = Tx(c.chain_id, town.homes[0].public_key, 0, contract, method, (), 50, c.height + 10)
        c.executor.check_tx(c.state, tx.sign(town.homes[0]), c.height + 1)  # a public method
    tx = Tx(c.chain_id, town.homes[0].public_key, 0, "culture", "no_such", (), 50, c.height + 10)
    with pytest.raises(TxRejected) as info:
        c.executor.check_tx(c.state, tx.sign(town.homes[0]), c.height + 1)
    assert info.value.code == "unknown_method"


def test_a_resident_holding_nothing_takes_part_for_free(town: Community) -> None:
    c = town.c
    newcomer = key("newcomer")
    c.grant(newcomer, "resident")
    assert c.balance(newcomer.address) == 0
    wid = c.send(town.homes[0], "culture", "register_work", h("mural"), "Mural", "photography", 10)
    nid = c.send(town.company, "notices", "post", "Lift repair", h("notice text"))
    aid = c.send(town.committee, "activities", "propose", "volunteer", "Clean-up", c.time_s + 3600, 5)
    treasury = c.balance("governance")
    calls = [("culture", "like", [wid]), ("culture", "comment", [wid, h("lovely")]),
             ("notices", "acknowledge", [nid]), ("activities", "sign_up", [aid]),
             ("activities", "withdraw", [aid])]
    for contract, method, args in calls:
        r = c.try_send(newcomer, contract, method, *args)
        assert r.status == STATUS_OK, (method, r.error_code, c.explain(r))
        fee = r.events[-1]
        assert fee.name == "Fee" and fee.fields["payer"] == "governance"
        assert r.fee == (r.gas_used * 1 + 999) // 1000  # gas_price_milli 1
    assert c.balance(newcomer.address) == 0
    # The fees return to the treasury (fee_split: all to governance): sponsoring is free.
    assert c.balance("governance") == treasury
    assert c.q("culture", "work", wid)["likes"] == 1 and c.q("notices", "notice", nid)["acks"] == 1
    # Its first actions are sponsored whatever they are (nonces 0..9), then it pays.
    first = c.genesis["params"]["fees"]["sponsored_first_txs"]
    assert first == 10
    for i in range(len(calls), first):
        r = c.try_send(newcomer, "culture", "register_work", h(f"poem {i}"), f"Poem {i}", "writing", 10)
        assert r.status == STATUS_OK and r.events[-1].fields["payer"] == "governance", c.explain(r)
    assert c.balance(newcomer.address) == 0
    r = c.try_send(newcomer, "culture", "register_work", h("poem"), "Poem", "writing", 10)
    assert r.status == STATUS_INVALID and r.error_code == "insufficient_fee"
    # Participation stays free after the first actions.
    assert c.try_send(newcomer, "culture", "like", wid + 1).status == STATUS_OK
    assert c.balance(newcomer.address) == 0


def test_a_new_household_acts_at_once_and_an_organiser_confirms_for_free(town: Community) -> None:
    c = town.c
    newcomer = key("new-household")
    c.grant(newcomer, "resident")
    c.send(town.committee, "households", "register", newcomer.address, "T9-01A", 7000, h("commitment"))
    rid = c.send(newcomer, "services", "request", "保洁", h("打扫楼道"), 100)
    assert c.q("services", "request_of", rid)["requester"] == newcomer.address
    aid = c.send(newcomer, "activities", "propose", "volunteer", "楼道清洁", c.time_s + 60, 5)
    c.send(town.committee, "activities", "approve", aid)
    c.send(town.homes[0], "activities", "sign_up", aid)
    c.advance(120)
    organiser = key("organiser")  # a resident past its first actions, holding points
    c.grant(organiser, "resident")
    c.fund(organiser, 1_000_000)  # the harness offers max_fee 300,000
    aid2 = c.send(organiser, "activities", "propose", "volunteer", "植树", c.time_s + 60, 5)
    c.send(town.committee, "activities", "approve", aid2)
    c.send(town.homes[1], "activities", "sign_up", aid2)
    for _ in range(10):  # past its first (sponsored) actions
        c.send(organiser, "token", "transfer", town.homes[2].address, 1)
    c.advance(120)
    before = c.balance(organiser.address)
    r = c.try_send(organiser, "activities", "confirm_attendance", aid2, [town.homes[1].address])
    assert r.status == STATUS_OK and r.events[-1].fields["payer"] == "governance"
    assert c.balance(organiser.address) == before


def test_a_transfer_costs_less_than_one_attendance_reward(town: Community) -> None:
    c = town.c
    sender = town.company  # not a resident: no first-actions sponsoring
    before = c.balance(sender.address)
    r = c.try_send(sender, "token", "transfer", town.homes[2].address, 100)
    assert r.status == STATUS_OK and r.fee == (r.gas_used + 999) // 1000
    assert c.balance(sender.address) == before - 100 - r.fee
    assert 0 < r.fee < c.genesis["params"]["activities"]["attendance_reward"]
