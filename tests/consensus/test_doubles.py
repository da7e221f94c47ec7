"""The simulator's stand-ins meet the limits of the parts they stand for: the vote log is
the node's ConsensusWAL (record and block limits), and the toy application accepts the
blocks the node accepts and no larger."""

from __future__ import annotations

import dataclasses

import pytest

from consensus.wal import MAX_VOTE_RECORD_BYTES
from core.hashing import sha256
from core.types import (
    MAX_BLOCK_BYTES,
    MAX_BLOCK_TX_BYTES,
    MAX_BLOCK_TXS,
    Block,
    SignedTx,
    tx_root,
)
from storage.errors import StorageError
from tests.consensus.helpers import CHAIN_ID, VALIDATORS
from tools.simulator_app import MemoryVoteLog, ToyApplication


def test_the_memory_vote_log_refuses_what_the_node_wal_refuses() -> None:
    log = MemoryVoteLog()
    log.save(b"r" * MAX_VOTE_RECORD_BYTES)
    with pytest.raises(StorageError) as err:
        log.save(b"r" * (MAX_VOTE_RECORD_BYTES + 1))
    assert err.value.code == "wal_record_too_large"
    assert log.load() == b"r" * MAX_VOTE_RECORD_BYTES
    block_hash = bytes(32)
    log.save_block(block_hash, b"b" * MAX_BLOCK_BYTES)
    with pytest.raises(StorageError) as err:
        log.save_block(block_hash, b"b" * (MAX_BLOCK_BYTES + 1))
    assert err.value.code == "wal_block_too_large"
    log.keep_blocks(())
    assert log.load_block(block_hash) is None


def test_the_toy_application_takes_blocks_up_to_the_real_limits() -> None:
    app = ToyApplication(CHAIN_ID, lambda _h: VALIDATORS, block_bytes=MAX_BLOCK_TX_BYTES)
    full = app.propose(1, 0, 1)
    assert len(full.txs) > 3 and app.validate(full)  # not the 3 txs it once stopped at
    # One tx more than fits: the block is over MAX_BLOCK_BYTES, and refused.
    extra = ToyApplication(CHAIN_ID, lambda _h: VALIDATORS, block_bytes=MAX_BLOCK_TX_BYTES)
    more = extra.propose(1, 1, 1).txs[: len(full.txs)]
    too_big = _rebuilt(app, full, full.txs + more[:4])
    assert len(too_big.encoded) > MAX_BLOCK_BYTES and not app.validate(too_big)
    with pytest.raises(ValueError):
        ToyApplication(CHAIN_ID, lambda _h: VALIDATORS, block_bytes=MAX_BLOCK_TX_BYTES + 1)
    assert MAX_BLOCK_TXS > 3


def _rebuilt(app: ToyApplication, template: Block, txs: tuple[SignedTx, ...]) -> Block:
    """``template`` with other txs and the roots the toy application expects of them."""
    root = tx_root(txs)
    header = dataclasses.replace(
        template.header, tx_root=root, state_root=sha256(app.state_root + root)
    )
    return Block(header, txs)
