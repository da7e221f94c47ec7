"""A resident's statement from real application receipts: which addresses a tx touched,
and what it meant for each (points in and out, minted rewards, fees, the bill paid)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from core.crypto import PrivateKey
from core.types import Block, Receipt, SignedTx, Tx
from node.statement import entry_of, touched_accounts
from tests.apps.harness import MAX_FEE, Community, h


def _block_of(town: Community, signer_tx: tuple[SignedTx, Receipt]) -> Block:
    stx, _ = signer_tx
    return cast(Block, SimpleNamespace(txs=(stx,), header=SimpleNamespace(timestamp_ms=town.c.time_ms)))


def _run(town: Community, signer: PrivateKey, contract: str, method: str, *args: object) -> tuple[SignedTx, Receipt]:
    c = town.c
    nonce = c.executor.account_nonce(c.state, signer.address)
    stx = Tx(c.chain_id, signer.public_key, nonce, contract, method, tuple(args), MAX_FEE,  # type: ignore[arg-type]
             c.height + 11).sign(signer)  # the harness signs for its next block
    receipt = c.block([(signer, contract, method, list(args))])[0]
    assert receipt.tx_hash == stx.hash and receipt.ok, c.explain(receipt)
    return stx, receipt


def test_a_bill_paid_in_points(town: Community) -> None:
    c = town.c
    c.send(town.company, "property", "set_schedule", [["mgmt", "物业管理费", "area", 250]])
    bid = c.send(town.company, "property", "issue_bill", town.homes[0].address, "2027-01", [])
    total = c.q("property", "bill", bid)["total"]
    stx, receipt = _run(town, town.homes[0], "property", "pay_bill", bid)
    block = _block_of(town, (stx, receipt))
    me, company = town.homes[0].address, town.company.address
    touched = touched_accounts(block, [receipt])
    assert (me, 0) in touched and (company, 0) in touched
    assert all(a.startswith("hk1") for a, _ in touched)  # no contract accounts
    mine = entry_of(me, 7, 0, block, receipt)
    assert mine["points_out"] == total and mine["points_in"] == 0
    # A household's first actions are sponsored: the treasury paid this fee.
    assert receipt.events[-1].fields["payer"] == "governance" and receipt.fee > 0
    assert mine["fee"] == 0 and not any(line["kind"] == "fee" for line in mine["lines"])
    assert mine["bill"] == {"id": bid, "household": me, "amount": total, "method": "points"}
    assert {"kind": "out", "amount": total, "counterparty": "property"} in mine["lines"]
    theirs = entry_of(company, 7, 0, block, receipt)
    assert theirs["points_in"] == total and theirs["fee"] == 0 and theirs["points_out"] == 0


def test_a_fee_paid_by_the_signer(town: Community) -> None:
    stx, receipt = _run(town, town.company, "token", "transfer", town.homes[3].address, 50)
    block = _block_of(town, (stx, receipt))
    entry = entry_of(town.company.address, 3, 0, block, receipt)
    assert entry["fee"] == receipt.fee > 0 and entry["points_out"] == 50
    assert entry["lines"] == [{"kind": "out", "amount": 50, "counterparty": town.homes[3].address},
                              {"kind": "fee", "amount": receipt.fee, "counterparty": None}]
    assert entry_of(town.homes[3].address, 3, 0, block, receipt)["points_in"] == 50


def test_a_like_mints_a_reward_and_the_liker_pays_nothing(town: Community) -> None:
    c = town.c
    wid = c.send(town.homes[1], "culture", "register_work", h("画"), "水墨画", "calligraphy", 100)
    stx, receipt = _run(town, town.homes[2], "culture", "like", wid)
    block = _block_of(town, (stx, receipt))
    creator = entry_of(town.homes[1].address, 9, 0, block, receipt)
    reward = c.q("culture", "params")["like_reward"]
    assert creator["points_in"] == reward
    assert creator["lines"] == [{"kind": "mint", "amount": reward, "counterparty": "culture"}]
    liker = entry_of(town.homes[2].address, 9, 0, block, receipt)
    assert liker["fee"] == 0 and liker["points_out"] == 0  # sponsored by the treasury
    assert {a for a, _ in touched_accounts(block, [receipt])} == {town.homes[1].address, town.homes[2].address}
