"""The indexer follows a governed validator set change: blocks from height 7 on are
certified by a new set, which the indexer learns from the validator schedule in the state
of block 6, proved against block 6's certified state root. A chain whose new set is not
the one the schedule holds is refused with nothing of its batch written. A real in-memory
ChainStore (state tree, proofs) serves as the node."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from analytics import schema as s
from analytics.errors import VerificationError
from analytics.indexer import Indexer
from analytics.source import VALIDATORS_KEY
from core import codec
from core.crypto import PrivateKey
from core.hashing import ZERO_HASH
from core.render import block_json, receipt_json, validators_json
from core.types import (
    VOTE_COMMIT,
    Block,
    BlockHeader,
    CommitCertificate,
    Validator,
    ValidatorSet,
    Vote,
    receipts_root,
    tx_root,
)
from storage.chain import ChainStore

CHAIN_ID = "hk-valset"
KEYS_A = [PrivateKey.from_seed_text(f"a{i}") for i in range(4)]
NEW = PrivateKey.from_seed_text("newcomer")
KEYS_B = [*KEYS_A, NEW]
INTRUDERS = [PrivateKey.from_seed_text(f"x{i}") for i in range(4)]
CHANGE_AT = 7
HEAD = 10


def _set(keys: Sequence[PrivateKey]) -> ValidatorSet:
    return ValidatorSet(tuple(Validator(k.public_key, f"v{i}") for i, k in enumerate(keys)))


def _schedule(entries: list[tuple[int, Sequence[PrivateKey]]]) -> bytes:
    return codec.encode([[eff, [[k.public_key, f"v{i}"] for i, k in enumerate(keys)]] for eff, keys in entries])


class StoreSource:
    """The node's RPC answers (pages, status, proofs) from a ChainStore."""

    def __init__(self, store: ChainStore) -> None:
        self.store = store

    async def status(self) -> dict[str, Any]:
        g = self.store.block(0)
        assert g is not None
        return {"chain_id": CHAIN_ID, "genesis_hash": g.hash.hex(), "height": self.store.height,
                "validators": validators_json(_set(KEYS_A))}

    async def blocks(self, start: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        out = []
        for h in range(start, min(self.store.height, start + limit - 1) + 1):
            block = self.store.block(h)
            assert block is not None
            doc = block_json(block, self.store.certificate(h))
            doc["receipts"] = [receipt_json(r) for r in self.store.receipts(h)]
            out.append(doc)
        return self.store.height, out

    async def proof(self, key: bytes, height: int) -> dict[str, Any]:
        value, proof = self.store.prove(key, height)
        return {"value": None if value is None else value.hex(),
                "proof_encoded": codec.encode(proof.to_value()).hex()}

    async def wait_for_block(self, after: int, timeout_ms: int) -> None:
        return None

    async def close(self) -> None:
        return None


def _chain(signers_after: Sequence[PrivateKey], scheduled: Sequence[PrivateKey]) -> ChainStore:
    """Blocks 0..HEAD; the schedule written at CHANGE_AT - 2 names ``scheduled`` from
    CHANGE_AT; blocks from CHANGE_AT on name and are signed by ``signers_after``."""
    store = ChainStore.in_memory()
    prev = ZERO_HASH
    for h in range(HEAD + 1):
        state = store.overlay()
        if h == 0:
            state.set(VALIDATORS_KEY, _schedule([(0, KEYS_A)]))
        if h == CHANGE_AT - 2:
            state.set(VALIDATORS_KEY, _schedule([(0, KEYS_A), (CHANGE_AT, scheduled)]))
        state.set(b"counter", codec.encode(h))
        keys = KEYS_A if h < CHANGE_AT else list(signers_after)
        vs = _set(keys)
        header = BlockHeader(CHAIN_ID, h, prev, tx_root([]), state.root(), receipts_root([]),
                             vs.proposer(h, 0), 0, 1_700_000_000_000 + h * 1000, vs.hash)
        block = Block(header, ())
        cert = None if h == 0 else CommitCertificate.from_votes(
            [Vote.create(k, VOTE_COMMIT, CHAIN_ID, h, 0, block.hash) for k in keys[:vs.quorum]])
        nxt = _set(KEYS_A if h + 1 < CHANGE_AT else list(signers_after))
        store.commit_block(block, cert, [], state, nxt)
        prev = block.hash
    return store


def _run(url: str, store: ChainStore) -> int:
    ix = Indexer(s.make_engine(url), StoreSource(store), {"chain_id": CHAIN_ID}, _set(KEYS_A), batch_blocks=4)

    async def go() -> int:
        try:
            return await ix.catch_up()
        finally:
            ix.engine.dispose()
    return asyncio.run(go())


def test_a_governed_change_of_the_validator_set_is_followed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    assert _run(url, _chain(KEYS_B, KEYS_B)) == HEAD
    engine = s.make_engine(url)
    with engine.connect() as conn:
        sets = {int(r.effective_height): r.set_hash for r in conn.execute(sa.select(s.hk_validator_sets))}
        signers = dict(conn.execute(sa.select(s.blocks.c.height, s.blocks.c.signers)).all())
    engine.dispose()
    assert sets[CHANGE_AT] == _set(KEYS_B).hash.hex()
    assert signers[CHANGE_AT - 1] == _set(KEYS_A).quorum and signers[CHANGE_AT] == _set(KEYS_B).quorum
    # Resumed from the database, the learnt set is used without asking again.
    assert _run(url, _chain(KEYS_B, KEYS_B)) == HEAD


def test_a_set_the_schedule_does_not_hold_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    with pytest.raises(VerificationError, match="schedule does not hold"):
        _run(url, _chain(INTRUDERS, KEYS_B))
    engine = s.make_engine(url)
    with engine.connect() as conn:
        top = conn.execute(sa.select(sa.func.max(s.blocks.c.height))).scalar()
    engine.dispose()
    # Batches of 4: 0-3 written, 4-7 refused (block 7 is the forged one), nothing after.
    assert top == 3
