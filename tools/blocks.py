"""Synthetic chains: real blocks built without a running node, for the storage benchmark
(scripts/bench_storage.py), the storage tests and their crash child.

Blocks are made with core.types exactly as the node makes them: signed token-transfer
txs, one receipt per tx, header roots from core.types and the state overlay's root(),
and a commit certificate signed by a quorum of validators whose keys come from fixed
seeds (never use them outside a test or benchmark chain).
"""

from __future__ import annotations

from collections.abc import Sequence

from core.crypto import PrivateKey
from core.hashing import ZERO_HASH
from core.types import (
    VOTE_COMMIT,
    Block,
    BlockHeader,
    CommitCertificate,
    Receipt,
    SignedTx,
    Tx,
    Validator,
    ValidatorSet,
    Vote,
    receipts_root,
    tx_root,
)
from storage.api import StateOverlay

CHAIN_ID = "hkchain-storage-test"
VALIDATOR_KEYS = tuple(PrivateKey.from_seed_text(f"validator-{i}") for i in range(4))
VALIDATORS = ValidatorSet(
    tuple(Validator(k.public_key, f"v{i}") for i, k in enumerate(VALIDATOR_KEYS))
)
SENDER = PrivateKey.from_seed_text("sender")


def transfer(nonce: int, amount: int = 5, key: PrivateKey = SENDER) -> SignedTx:
    """A typical tx: a token transfer to a fixed recipient."""
    recipient = PrivateKey.from_seed_text("recipient").address
    tx = Tx(
        CHAIN_ID, key.public_key, nonce, "token", "transfer", (recipient, amount), 1_000, 1 << 40
    )
    return tx.sign(key)


def receipt_for(tx: SignedTx, index: int = 0) -> Receipt:
    return Receipt(tx.hash, 0, 1_200 + index % 7, 12, True, ())


def make_block(
    height: int,
    prev_hash: bytes,
    txs: Sequence[SignedTx],
    receipts: Sequence[Receipt],
    state: StateOverlay,
    *,
    view: int = 0,
) -> Block:
    header = BlockHeader(
        CHAIN_ID,
        height,
        prev_hash,
        tx_root(txs),
        state.root(),
        receipts_root(receipts),
        VALIDATORS.proposer(height, view),
        view,
        1_700_000_000_000 + height * 1000,
        VALIDATORS.hash,
    )
    return Block(header, tuple(txs))


def certify(block: Block, view: int = 0) -> CommitCertificate:
    votes = [
        Vote.create(k, VOTE_COMMIT, CHAIN_ID, block.height, view, block.hash)
        for k in VALIDATOR_KEYS[: VALIDATORS.quorum]
    ]
    return CommitCertificate.from_votes(votes)


def genesis_prev_hash() -> bytes:
    return ZERO_HASH
