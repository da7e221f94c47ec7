"""Blocks of the largest size a proposer may build, through the real consensus WAL on
LevelDB: prepared everywhere, a validator restarted from disk, a view change that must
re-propose the prepared block. Every message must fit the wire limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus.api import Message
from consensus.messages import (
    MAX_MESSAGE_BYTES,
    Commit,
    NewView,
    PrePrepare,
    ViewChange,
    decode_message,
)
from consensus.replica import CorruptVoteLogError, Replica
from consensus.wal import MAX_VOTE_RECORD_BYTES, VoteRecord
from core.types import MAX_BLOCK_BYTES, MAX_BLOCK_TX_BYTES
from storage import schema
from storage.leveldb import LevelDBStore
from storage.wal import ConsensusWAL
from tests.consensus.helpers import CHAIN_ID, CONFIG, KEYS, VALIDATORS, Cluster, key_of_proposer
from tools.simulator_app import ToyApplication

BIG_CONFIG = CONFIG.__class__(view_timeout_ms=100, max_view_timeout_ms=800)


def big_app() -> ToyApplication:
    return ToyApplication(CHAIN_ID, lambda _h: VALIDATORS, block_bytes=MAX_BLOCK_TX_BYTES)


def open_wal(path: Path) -> tuple[LevelDBStore, ConsensusWAL]:
    kv = LevelDBStore(path)
    return kv, ConsensusWAL(kv, max_record_bytes=MAX_VOTE_RECORD_BYTES)


def kept_blocks(kv: LevelDBStore) -> int:
    return sum(1 for _ in kv.iterate(schema.WAL_BLOCK))


def test_a_filled_block_is_as_large_as_a_proposer_may_build() -> None:
    block = big_app().propose(1, 0, 1)
    tx_bytes = sum(len(t.encoded) for t in block.txs)
    assert MAX_BLOCK_TX_BYTES - 64 * 1024 < tx_bytes <= MAX_BLOCK_TX_BYTES
    assert MAX_BLOCK_BYTES - 128 * 1024 < len(block.encoded) <= MAX_BLOCK_BYTES


def test_maximum_size_blocks_prepare_restart_and_re_propose(tmp_path: Path) -> None:
    opened = [open_wal(tmp_path / f"wal{i}") for i in range(len(KEYS))]
    c = Cluster(BIG_CONFIG, [big_app() for _ in KEYS], [wal for _, wal in opened])
    wire_sizes: dict[int, int] = {}
    view_changes: list[ViewChange] = []
    dropping_commits = True

    def on_the_wire(_to: int, msg: Message) -> bool:
        # What a peer would receive: the encoded message, within the wire limit, decoding.
        if isinstance(msg, PrePrepare | ViewChange | NewView) and id(msg) not in wire_sizes:
            data = msg.encode()
            assert len(data) <= MAX_MESSAGE_BYTES
            assert decode_message(data) == msg
            wire_sizes[id(msg)] = len(data)
            if isinstance(msg, ViewChange):
                view_changes.append(msg)
        return dropping_commits and isinstance(msg, Commit)

    c.drop = on_the_wire
    c.start()
    c.deliver_all(until_height=2)
    # Every COMMIT was lost: the block is prepared everywhere and decided nowhere.
    assert c.heights() == [1, 1, 1, 1]
    prepared = c.replicas[0].prepared
    assert prepared is not None
    block_bytes = max(wire_sizes.values())
    assert block_bytes > MAX_BLOCK_BYTES - 128 * 1024
    for kv, wal in opened:
        record = wal.load()
        assert record is not None and len(record) <= MAX_VOTE_RECORD_BYTES
        mine = VoteRecord.decode(record).prepared
        assert mine is not None and mine.block_hash == prepared.block_hash
        assert kept_blocks(kv) == 1

    # The proposer of view 1 crashes and restarts from its WAL on disk.
    k = next(i for i, key in enumerate(KEYS) if key is key_of_proposer(1, 1))
    opened[k][0].close()
    opened[k] = open_wal(tmp_path / f"wal{k}")
    c.logs[k] = opened[k][1]
    before = c.replicas[k].prepared
    c.replicas[k] = Replica(CHAIN_ID, KEYS[k], c.apps[k], opened[k][1], 1, BIG_CONFIG)
    assert c.replicas[k].prepared == before
    c.apply(k, c.replicas[k].start(c.now_ms))

    dropping_commits = False
    c.tick(BIG_CONFIG.view_timeout_ms, until_height=2)
    assert c.heights() == [2, 2, 2, 2]
    # The restarted validator read the body back from disk and sent it with its report.
    restarted_reports = [vc for vc in view_changes if vc.validator == KEYS[k].public_key]
    assert restarted_reports and all(
        vc.block is not None and vc.block.hash == prepared.block_hash for vc in restarted_reports
    )
    for i in range(len(KEYS)):
        block, cert = c.decided[i][0]
        assert block.hash == prepared.block_hash and cert.view >= 1
        assert len(block.encoded) > MAX_BLOCK_BYTES - 128 * 1024
    # The bodies were kept until the height was decided, and no longer.
    for kv, _ in opened:
        assert kept_blocks(kv) == 0
        kv.close()


def test_a_restart_without_the_kept_body_still_reports_the_certificate(tmp_path: Path) -> None:
    kv, wal = open_wal(tmp_path / "wal")
    c = Cluster(CONFIG, logs=[wal, *Cluster().logs[1:]])
    c.drop = lambda _to, msg: isinstance(msg, Commit)
    c.start()
    c.deliver_all()
    prepared = c.replicas[0].prepared
    assert prepared is not None and kept_blocks(kv) == 1
    wal.keep_blocks(())  # the body is gone (say, a store restored from an older copy)
    restarted = Replica(CHAIN_ID, KEYS[0], c.apps[0], wal, 1, CONFIG)
    assert restarted.prepared == prepared
    out = restarted.start(0)
    out = restarted.on_tick(CONFIG.view_timeout_ms * 4)
    sent = [m for m in out.broadcast if isinstance(m, ViewChange)]
    assert sent and all(m.prepared == prepared and m.block is None for m in sent)
    kv.close()


def test_a_corrupt_kept_body_stops_the_replica(tmp_path: Path) -> None:
    kv, wal = open_wal(tmp_path / "wal")
    c = Cluster(CONFIG, logs=[wal, *Cluster().logs[1:]])
    c.drop = lambda _to, msg: isinstance(msg, Commit)
    c.start()
    c.deliver_all()
    prepared = c.replicas[0].prepared
    assert prepared is not None
    wal.save_block(prepared.block_hash, b"\x93garbage")
    with pytest.raises(CorruptVoteLogError):
        Replica(CHAIN_ID, KEYS[0], c.apps[0], wal, 1, CONFIG)
    kv.close()
