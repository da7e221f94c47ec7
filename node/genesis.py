"""Genesis: the document every node of a chain starts from, and block 0 built from it.

``load_genesis`` reads genesis.json (chain id, genesis time, validators, and whatever the
executor's ``init_genesis`` consumes: accounts, roles, parameters, contracts).
``build_genesis`` runs ``init_genesis`` on a fresh overlay and builds block 0: height 0,
zero parent, state root of the overlay, the genesis validator set's hash, the genesis
time, a zero proposer. Its hash binds the p2p handshake, so nodes of different genesis
never talk. ``ensure_genesis`` commits it into an empty store, or checks that the stored
block 0 is the same on restart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.crypto import PUBLIC_KEY_SIZE
from core.errors import ChainError
from core.hashing import ZERO_HASH
from core.merkle import EMPTY_ROOT
from core.types import MAX_CHAIN_ID_CHARS, Block, BlockHeader, Validator, ValidatorSet
from storage.api import StateOverlay
from storage.chain import ChainStore
from vm.api import Executor

MAX_GENESIS_BYTES = 16 * 1024 * 1024


class GenesisError(ChainError):
    """A genesis document that cannot be used, or a store of another genesis."""

    code = "bad_genesis"


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    genesis_time_ms: int
    validators: ValidatorSet
    document: dict[str, Any]


def parse_validators(doc: dict[str, Any]) -> ValidatorSet:
    """The genesis validator set: ``validators`` is a list of hex public keys or of
    objects with ``public_key`` (hex) and an optional ``name``."""
    raw = doc.get("validators")
    if not isinstance(raw, list) or not raw:
        raise GenesisError("genesis has no validators")
    out = []
    for i, entry in enumerate(raw):
        name = ""
        if isinstance(entry, dict):
            key_hex = entry.get("public_key")
            name = entry.get("name", "") if isinstance(entry.get("name", ""), str) else ""
        else:
            key_hex = entry
        try:
            key = bytes.fromhex(key_hex) if isinstance(key_hex, str) else b""
        except ValueError:
            key = b""
        if len(key) != PUBLIC_KEY_SIZE:
            raise GenesisError(f"validators[{i}]: public_key must be {PUBLIC_KEY_SIZE} bytes of hex")
        out.append(Validator(key, name[:64]))
    vs = ValidatorSet(tuple(out))
    try:
        vs.validate_basic()
    except ChainError as exc:
        raise GenesisError(f"genesis validators: {exc.message}") from exc
    return vs


def parse_genesis(doc: object) -> Genesis:
    if not isinstance(doc, dict):
        raise GenesisError("genesis must be a JSON object")
    chain_id = doc.get("chain_id")
    if not isinstance(chain_id, str) or not 0 < len(chain_id) <= MAX_CHAIN_ID_CHARS:
        raise GenesisError("genesis chain_id must be a string of 1-64 characters")
    time_ms = doc.get("genesis_time_ms")
    if type(time_ms) is not int or time_ms < 0:
        raise GenesisError("genesis_time_ms must be a non-negative integer")
    return Genesis(chain_id, time_ms, parse_validators(doc), doc)


def load_genesis(path: Path) -> Genesis:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_GENESIS_BYTES + 1)
    except OSError as exc:
        raise GenesisError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_GENESIS_BYTES:
        raise GenesisError(f"{path} is larger than {MAX_GENESIS_BYTES} bytes")
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise GenesisError(f"{path} is not valid JSON: {exc}") from exc
    return parse_genesis(doc)


def build_genesis(genesis: Genesis, executor: Executor, state: StateOverlay) -> Block:
    """Run ``init_genesis`` into ``state`` and return block 0."""
    executor.init_genesis(state, genesis.document)
    header = BlockHeader(
        chain_id=genesis.chain_id,
        height=0,
        prev_hash=ZERO_HASH,
        tx_root=EMPTY_ROOT,
        state_root=state.root(),
        receipts_root=EMPTY_ROOT,
        proposer=bytes(PUBLIC_KEY_SIZE),
        view=0,
        timestamp_ms=genesis.genesis_time_ms,
        validator_set_hash=genesis.validators.hash,
    )
    return Block(header, ())


def ensure_genesis(store: ChainStore, genesis: Genesis, executor: Executor) -> Block:
    """Commit block 0 into an empty store, or check that the stored one is this genesis.
    Returns block 0."""
    if store.height >= 0:
        # Rebuild block 0 on an empty state to compare: the store's own state has moved on.
        block = build_genesis(genesis, executor, ChainStore.in_memory().overlay())
        stored = store.block(0)
        if stored is None or stored.hash != block.hash:
            raise GenesisError(
                "the store holds a chain of another genesis (delete the data directory to "
                "start over, or use the right genesis.json)"
            )
        return stored
    state = store.overlay()
    block = build_genesis(genesis, executor, state)
    next_validators = executor.validator_set(state, 1)
    store.commit_block(block, None, [], state, next_validators)
    return block
