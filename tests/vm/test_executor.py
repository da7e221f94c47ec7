"""The executor: tx checks, fees, sponsorship, queries, genesis."""

from __future__ import annotations

import pytest

from core.types import STATUS_FAILED, STATUS_INVALID, STATUS_OK
from tests.vm.helpers import CHAIN_ID, OPERATOR, VALIDATOR_KEYS, Chain, genesis_doc, key
from vm import gas as G
from vm import layout
from vm.api import BlockGasExceeded, QueryError, TxRejected
from vm.executor import ContractExecutor, GenesisError
from vm.journal import DictState


def supply_is_conserved(c: Chain) -> None:
    total = sum(c.ex.balance(c.state, k.decode()[len("c/token/s/b:"):])
                for k in c.state.data if k.startswith(b"c/token/s/b:"))
    assert total == c.query("token", "supply")


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"chain_id": "other"}, "wrong_chain"),
        ({"expiry": 0}, "expired"),
        ({"nonce": 5}, "nonce_gap"),
        ({"max_fee": 0}, "insufficient_fee"),  # below the fee of GAS_TX_BASE gas
        ({"max_fee": 10**15}, "insufficient_fee"),  # more than the sender holds
    ],
)
def test_invalid_txs_change_nothing(kwargs: dict[str, int | str], code: str) -> None:
    c = Chain()
    c.block()
    before = dict(c.state.data)
    tx = c.tx(OPERATOR, "token", "transfer", [key("bob").address, 5], **kwargs)  # type: ignore[arg-type]
    (r,) = c.block(tx)
    assert r.status == STATUS_INVALID and r.error_code == code and r.fee == 0
    assert c.state.data == before
    assert c.ex.account_nonce(c.state, OPERATOR.address) == 0
    if code == "nonce_gap":
        c.ex.check_tx(c.state, tx, c.height + 1)  # the mempool may hold it until its turn
        return
    with pytest.raises(TxRejected) as info:
        c.ex.check_tx(c.state, tx, c.height + 1)
    assert info.value.code == code


def test_replayed_tx_is_invalid() -> None:
    c = Chain()
    tx = c.tx(OPERATOR, "token", "transfer", [key("bob").address, 5])
    assert c.block(tx)[0].status == STATUS_OK
    (r,) = c.block(tx)
    assert r.status == STATUS_INVALID and r.error_code == "bad_nonce"
    assert c.balance(key("bob").address) == 5


def test_check_tx_nonce_window_and_unknown_contract() -> None:
    c = Chain()
    ok = c.tx(OPERATOR, "token", "transfer", [key("bob").address, 5], nonce=64)
    c.ex.check_tx(c.state, ok, 1)
    far = c.tx(OPERATOR, "token", "transfer", [key("bob").address, 5], nonce=65)
    with pytest.raises(TxRejected) as info:
        c.ex.check_tx(c.state, far, 1)
    assert info.value.code == "nonce_gap"
    c.ex.check_tx(c.state, far, 1, pending_nonce=10)
    for contract, method, code in (("nosuch", "x", "unknown_contract"),
                                   ("token", "nosuch", "unknown_method"),
                                   ("token", "_mint", "unknown_method")):
        t = c.tx(OPERATOR, contract, method, [], nonce=0)
        with pytest.raises(TxRejected) as info:
            c.ex.check_tx(c.state, t, 1)
        assert info.value.code == code


def test_fee_is_gas_at_the_milli_price_rounded_up_and_credited_to_the_split() -> None:
    g = genesis_doc()
    g["params"]["fees"]["gas_price_milli"] = 3
    g["params"]["fees"]["fee_split"] = [["governance", 7000], [OPERATOR.address, 3000]]
    c = Chain(g)
    sender = key("payer")
    c.ok(OPERATOR, "token", "transfer", [sender.address, 10**8])
    op_before = c.balance(OPERATOR.address)
    treasury_before = c.balance("governance")
    sender_before = c.balance(sender.address)
    receipts = c.block(
        c.tx(sender, "token", "transfer", [key("bob").address, 7]),
        c.tx(sender, "token", "transfer", [key("bob").address, 10**12]),  # fails: pays anyway
    )
    assert [r.status for r in receipts] == [STATUS_OK, STATUS_FAILED]
    total = sum(r.fee for r in receipts)
    for r in receipts:
        assert r.fee * 1000 >= 3 * r.gas_used > (r.fee - 1) * 1000  # ceil(gas × 3 / 1000)
    assert c.balance(sender.address) == sender_before - 7 - total
    assert c.balance("governance") - treasury_before == total - total * 3000 // 10000
    assert c.balance(OPERATOR.address) - op_before == total * 3000 // 10000
    supply_is_conserved(c)


def test_max_fee_caps_gas() -> None:
    c = Chain()
    assert c.query("fees", "gas_price_milli") == 1
    # 2 points buy 2,000 gas at 1 point per 1,000 gas: less than a transfer needs.
    before = c.balance(OPERATOR.address)
    r = c.call(OPERATOR, "token", "transfer", [key("bob").address, 1], max_fee=2)
    assert r.status == STATUS_FAILED and r.error_code == "out_of_gas"
    assert r.gas_used == 2 * 1000 and r.fee == 2
    assert c.balance(OPERATOR.address) == before - 2
    assert c.ex.account_nonce(c.state, OPERATOR.address) == 1  # a failed tx uses its nonce


def test_fee_rounding_never_exceeds_max_fee() -> None:
    g = genesis_doc()
    g["params"]["fees"]["gas_price_milli"] = 7
    c = Chain(g)
    # The least max_fee is the fee of GAS_TX_BASE gas, rounded up: ceil(1000 × 7 / 1000).
    least = (G.GAS_TX_BASE * 7 + 999) // 1000
    low = c.tx(OPERATOR, "token", "transfer", [key("bob").address, 1], max_fee=least - 1)
    with pytest.raises(TxRejected) as info:
        c.ex.check_tx(c.state, low, c.height + 1)
    assert info.value.code == "insufficient_fee"
    c.pending_nonce.clear()
    # 10 points buy 10 × 1000 // 7 = 1,428 gas; running out of it costs at most 10 points.
    r = c.call(OPERATOR, "token", "transfer", [key("bob").address, 1], max_fee=10)
    assert r.error_code == "out_of_gas" and r.gas_used == 10 * 1000 // 7
    assert r.fee == (r.gas_used * 7 + 999) // 1000 == 10
    ok = c.call(OPERATOR, "token", "transfer", [key("bob").address, 1], max_fee=10**6)
    assert ok.status == STATUS_OK and ok.fee == -(-ok.gas_used * 7 // 1000)
    supply_is_conserved(c)


def test_supply_is_conserved_across_a_block_of_fees_refunds_and_splits() -> None:
    g = genesis_doc()
    g["params"]["fees"]["gas_price_milli"] = 13  # fees that are never whole multiples
    g["params"]["fees"]["fee_split"] = [["governance", 3333], [OPERATOR.address, 3333],
                                        [key("third").address, 3334]]
    c = Chain(g)
    resident, payer = key("resident-s"), key("payer-s")
    c.ok(OPERATOR, "roles", "register_household", [resident.address, 9000])
    c.ok(OPERATOR, "token", "transfer", [payer.address, 10**6])
    pid = c.ok(OPERATOR, "governance", "propose_owners", [1, "rules", b"\x01" * 32])
    supply = c.query("token", "supply")
    receipts = c.block(
        c.tx(payer, "token", "transfer", [key("bob").address, 7], max_fee=500),  # refunded
        c.tx(payer, "token", "transfer", [key("bob").address, 10**12], max_fee=500),  # fails
        c.tx(payer, "token", "transfer", [key("bob").address, 1], max_fee=20),  # out of gas
        c.tx(resident, "governance", "vote", [pid, "yes"], max_fee=500),  # sponsored
    )
    assert [r.error_code for r in receipts] == ["", "insufficient_balance", "out_of_gas", ""]
    assert all(r.fee > 0 and r.fee * 1000 >= r.gas_used * 13 for r in receipts)
    assert c.query("token", "supply") == supply
    supply_is_conserved(c)


def test_sponsored_vote_costs_a_resident_nothing() -> None:
    c = Chain()
    resident = key("resident-1")
    c.ok(OPERATOR, "roles", "register_household", [resident.address, 9000])
    pid = c.ok(OPERATOR, "governance", "propose_owners", [1, "rules", b"\x01" * 32])
    treasury = c.balance("governance")
    r = c.call(resident, "governance", "vote", [pid, "yes"])
    assert r.status == STATUS_OK and r.fee > 0
    assert c.balance(resident.address) == 0
    c.block()  # fees are credited at the end of the block: net cost to the treasury
    assert c.balance("governance") == treasury
    fee_event = r.events[-1]
    assert fee_event.name == "Fee" and fee_event.fields["payer"] == "governance"
    # a non-resident pays for itself
    outsider = key("outsider")
    c.ok(OPERATOR, "token", "transfer", [outsider.address, 10**8])
    r = c.call(outsider, "governance", "vote", [pid, "yes"])
    assert r.error_code == "not_allowed" and r.events[-1].fields["payer"] == outsider.address


def test_queries() -> None:
    c = Chain()
    assert c.query("token", "balance", OPERATOR.address) == c.balance(OPERATOR.address)
    assert c.query("roles", "roles_of", OPERATOR.address) == ["committee"]
    assert c.query("fees", "gas_price_milli") == 1
    for args, code in ((("token", "transfer", key("x").address, 1), "not_view"),
                       (("token", "nosuch"), "unknown_method"),
                       (("nosuch", "x"), "unknown_method"),
                       (("governance", "proposal", 99), "not_found")):
        with pytest.raises(QueryError) as info:
            c.query(*args)
        assert info.value.code == code


def test_roles_grant_rules() -> None:
    c = Chain()
    a, b = key("a"), key("b")
    c.ok(OPERATOR, "token", "transfer", [a.address, 10**8])
    c.ok(OPERATOR, "roles", "grant", [a.address, "merchant"])
    assert c.query("roles", "holds", a.address, "merchant") is True
    assert c.call(a, "roles", "grant", [b.address, "resident"]).error_code == "not_allowed"
    assert c.call(OPERATOR, "roles", "grant", [b.address, "committee"]).error_code == "not_allowed"
    assert c.call(OPERATOR, "roles", "grant", [b.address, "king"]).error_code == "unknown_role"
    c.ok(OPERATOR, "roles", "revoke", [a.address, "merchant"])
    assert c.query("roles", "roles_of", a.address) == []


def test_genesis_errors() -> None:
    ex = ContractExecutor(CHAIN_ID)
    bad = [
        genesis_doc(chain_id="other"),
        genesis_doc(validators=[]),
        genesis_doc(validators=[{"name": "x", "public_key": "zz"}]),
        genesis_doc(accounts=[{"address": "not an address", "balance": 1}]),
        genesis_doc(accounts=[{"address": OPERATOR.address, "balance": -1}]),
        genesis_doc(contracts={"extra": "../../etc/passwd"}),
        genesis_doc(roles=[{"address": OPERATOR.address, "role": "emperor"}]),
    ]
    for doc in bad:
        with pytest.raises(GenesisError):
            ex.init_genesis(DictState(), doc)


def test_genesis_state() -> None:
    c = Chain()
    vs = c.ex.validator_set(c.state, 1)
    assert [v.public_key for v in vs.validators] == [k.public_key for k in VALIDATOR_KEYS]
    assert [v.name for v in vs.validators] == ["committee-1", "committee-2", "committee-3", "committee-4"]
    assert c.state.get(layout.code_key("token")) is not None
    supply_is_conserved(c)
    # the root genesis.json is valid too
    ContractExecutor("hk-local").init_genesis(DictState(), __import__("json").loads(
        (__import__("pathlib").Path(__file__).resolve().parents[2] / "genesis.json").read_text()))


def test_sponsorship_is_capped_per_sender_and_day() -> None:
    g = genesis_doc()
    g["params"]["fees"]["sponsored_per_day"] = 2
    c = Chain(g)
    resident = key("resident-2")
    c.ok(OPERATOR, "roles", "register_household", [resident.address, 9000])
    pid = c.ok(OPERATOR, "governance", "propose_owners", [1, "rules", b"\x01" * 32])
    payers = []
    for choice in ("yes", "no", "yes"):
        r = c.call(resident, "governance", "vote", [pid, choice])
        payers.append(r.events[-1].fields["payer"] if r.events else r.error_code)
    assert payers == ["governance", "governance", "insufficient_fee"]
    assert c.query("governance", "tally", pid)["no_owners"] == 1


BURNER = """
def burn(n):
    i = 0
    while i < n:
        i += 1
    return i
"""


def test_a_block_over_the_gas_limit_stops_at_the_first_tx_past_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = Chain()
    assert c.deploy("burner", BURNER).status == STATUS_OK
    # Each tx runs out of its 40,000 gas (max_fee 40 points at 1 point per 1,000 gas).
    monkeypatch.setattr(G, "MAX_BLOCK_GAS", 100_000)
    txs = [c.tx(OPERATOR, "burner", "burn", [10**9], max_fee=40) for _ in range(3)]
    fork = DictState(dict(c.state.data))
    c.height += 1
    with pytest.raises(BlockGasExceeded) as info:
        c.ex.execute_block(fork, c.ctx(), txs)
    assert info.value.index == 2 and info.value.code == "block_gas_exceeded"
    # What a proposer then proposes fits, and runs as it would have.
    receipts = c.ex.execute_block(c.state, c.ctx(), txs[:2])
    assert [r.gas_used for r in receipts] == [40_000, 40_000]
    assert all(r.error_code == "out_of_gas" for r in receipts)
