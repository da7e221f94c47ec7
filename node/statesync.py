"""State sync in the node: serve snapshots of the store, and start a new node from one.

Serving (every node): ``ChainSnapshotSource`` offers the head block with its certificate,
the validator-set changes recorded at commit (``record_valset_change``: the certified
header of the block that decided a change and the proof of the schedule under its state
root), and parts of the state tree of any height still kept (storage/snapshot.py).

Joining (``join_by_state_sync``, before the node opens its store): with ``state_sync`` in
its config and no store yet, the node listens and dials its configured peers, takes the
highest offer whose certificate verifies, and fetches that height's state into
``data/chain.partial``. Its trust comes from genesis alone: it learns each new validator
set from a change certified by the set before it, checks the offer's certificate
against the set of its height, then every state part against the certified state root.
Once the tree is whole, the block, certificate and validator sets are written in one
synced batch and the directory is renamed to ``data/chain``; the node then opens it like
any store and follows blocks from the next height. A crash before the rename leaves no
store, so the next start syncs again from scratch.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core import codec
from core.crypto import PrivateKey
from core.errors import ValidationError
from core.types import Block, CommitCertificate, ValidatorSet
from node.config import NodeConfig
from node.genesis import Genesis, build_genesis
from p2p.messages import (
    MAX_FRAME_BYTES,
    MAX_VALSET_CHANGES_PER_FRAME,
    STATE_NOT_KEPT,
    STATE_OK,
    SnapshotOffer,
    StatePart,
    StateParts,
    StateRequest,
    ValsetChange,
    ValsetChanges,
)
from p2p.network import Identity, Network
from p2p.statesync import StateSyncClient
from storage import schema
from storage.api import KeyValueStore
from storage.chain import ChainStore
from storage.leveldb import LevelDBStore
from storage.snapshot import Part, SnapshotBuilder, install_snapshot, read_parts
from storage.state import StateProof, verify_state_proof
from vm.api import Executor
from vm.layout import VALIDATORS_KEY

log = logging.getLogger("hkchain.node.statesync")

MAX_PART_ENTRIES = 4096
MAX_PARTS_BYTES = 4 << 20
# Keys per answer: keeps one answer's reading to a fraction of a second (the asker's
# timeout is 20 s, on a busy machine too); the asker asks again for the rest.
MAX_ANSWER_ENTRIES = 16_384
MAX_CHANGES_BYTES = MAX_FRAME_BYTES // 2
PARTIAL_DIR = "chain.partial"
HOLD_S = 600.0
MAX_HELD = 4


# --- serving ---------------------------------------------------------------------------


class ChainSnapshotSource:
    """p2p.statesync.SnapshotSource over a ChainStore.

    An offered height's tree is held past the store's keep_heights while joiners fetch
    it (``prune_floor``): until HOLD_S after the last request for it, for at most
    MAX_HELD heights. A state that takes longer to fetch than the chain takes to make
    keep_heights blocks is thus not lost midway."""

    def __init__(self, store: ChainStore) -> None:
        self.store = store
        self._held: dict[int, float] = {}  # height -> monotonic time of its last use
        self._lock = threading.Lock()  # parts are read in worker threads
        store.state().prune_floor = self.prune_floor

    def prune_floor(self) -> int | None:
        """The lowest height held (the store prunes nothing from it up)."""
        now = time.monotonic()
        with self._lock:
            for h in [h for h, t in self._held.items() if now - t > HOLD_S]:
                del self._held[h]
            return min(self._held, default=None)

    def _touch(self, height: int, *, new: bool) -> None:
        with self._lock:
            if new or height in self._held:
                self._held[height] = time.monotonic()
            while len(self._held) > MAX_HELD:
                del self._held[min(self._held, key=self._held.__getitem__)]

    def snapshot_offer(self, min_height: int) -> SnapshotOffer:
        store = self.store
        height = store.height
        block, cert = store.head, store.certificate(height)
        if block is None or cert is None or height < max(1, min_height):
            return SnapshotOffer(None, None)
        self._touch(height, new=True)
        return SnapshotOffer(block, cert)

    def valset_changes(self, from_height: int, to_height: int) -> ValsetChanges:
        """The changes decided at from_height..to_height: those checked when this node
        joined by state sync (before its snapshot), then the ones it committed (their
        schedule proofs kept with the block, ``prove_keys``)."""
        out: list[ValsetChange] = []
        size = 0
        store = self.store

        def take(change: ValsetChange) -> bool:
            nonlocal size
            size += len(change.encoded)
            if len(out) >= MAX_VALSET_CHANGES_PER_FRAME or (out and size > MAX_CHANGES_BYTES):
                return False
            out.append(change)
            return True

        for key, data in store.kv.iterate(schema.VALSET_CHANGE, start=schema.valset_change_key(from_height)):
            if schema.from_be64(key[len(schema.VALSET_CHANGE):]) > to_height:
                break
            if not take(ValsetChange.decode(data)):
                return ValsetChanges(tuple(out))
        for height, value, proof in store.kept_proofs(from_height, VALIDATORS_KEY):
            block, cert = store.block(height), store.certificate(height)
            if height > to_height or block is None or cert is None:
                break
            if not take(ValsetChange(block.header, cert, value, codec.encode(proof.to_value()))):
                break
        return ValsetChanges(tuple(out))

    def _kept(self, height: int) -> bool:
        state = self.store.state()
        if not 0 <= height <= state.height:
            return False
        try:
            state.tree.root_at(height)
        except KeyError:
            return False
        return True

    def state_parts(self, request: StateRequest) -> StateParts:
        height = request.height
        if not self._kept(height):
            return StateParts(height, STATE_NOT_KEPT, ())
        self._touch(height, new=False)
        tree = self.store.state().tree
        try:
            root = tree.root_at(height)
        except KeyError:
            return StateParts(height, STATE_NOT_KEPT, ())
        parts = read_parts(tree, root, request.paths, request.leaves_from_depth,
                           MAX_PART_ENTRIES, MAX_PARTS_BYTES, lambda: self._kept(height),
                           MAX_ANSWER_ENTRIES)
        if parts is None:
            return StateParts(height, STATE_NOT_KEPT, ())
        return StateParts(height, STATE_OK, tuple(
            StatePart(p.path, p.bitmap, p.hashes, p.entries) for p in parts))


# --- joining ---------------------------------------------------------------------------


class _Schedule:
    """The validator schedule value as the chain holds it, read by the executor."""

    def __init__(self, value: bytes) -> None:
        self.value = value

    def get(self, key: bytes) -> bytes | None:
        return self.value if key == VALIDATORS_KEY else None


class SnapshotJoin:
    """p2p.statesync.SnapshotTarget: checks an offer, then builds its state in a store."""

    def __init__(self, data: Path, chain_id: str, genesis_block: Block, genesis_schedule: bytes,
                 executor: Executor) -> None:
        self.dir = data / PARTIAL_DIR
        self.chain_id = chain_id
        self.genesis_block = genesis_block
        self.genesis_schedule = genesis_schedule
        self.executor = executor
        self.kv: KeyValueStore | None = None
        self.builder: SnapshotBuilder | None = None
        self.offer: tuple[Block, CommitCertificate, ValidatorSet] | None = None
        self.changes: list[tuple[int, bytes]] = []

    def _set_at(self, schedule: bytes, height: int) -> ValidatorSet:
        return self.executor.validator_set(_Schedule(schedule), height)

    def check_offer(self, offer: SnapshotOffer, changes: list[ValsetChange]) -> int:
        block, cert = offer.block, offer.certificate
        if block is None or cert is None:
            raise ValidationError("an empty snapshot offer")
        height = block.height
        schedule = self.genesis_schedule
        last = 0
        for change in changes:
            h = change.header
            if not last < h.height <= height:
                raise ValidationError("validator-set changes out of order")
            last = h.height
            vs = self._set_at(schedule, h.height)
            self._check_certified(h.chain_id, h.height, h.hash, h.validator_set_hash,
                                  change.certificate, vs)
            proof = StateProof.from_value(codec.decode(change.proof))  # DecodeError: theirs
            if not verify_state_proof(h.state_root, VALIDATORS_KEY, change.schedule, proof):
                raise ValidationError(f"the validator schedule of block {h.height} does not "
                                      "verify against its certified state root")
            schedule = change.schedule
        vs = self._set_at(schedule, height)
        self._check_certified(block.header.chain_id, height, block.hash,
                              block.header.validator_set_hash, cert, vs)
        block.validate_basic()
        self._open(height, block.header.state_root)
        self.offer = (block, cert, vs)
        self.changes = [(c.header.height, c.encode()) for c in changes]
        return height

    def _check_certified(self, chain_id: str, height: int, block_hash: bytes, set_hash: bytes,
                         cert: CommitCertificate, vs: ValidatorSet) -> None:
        if chain_id != self.chain_id:
            raise ValidationError("a block of another chain")
        if height < 1 or cert.height != height or cert.block_hash != block_hash:
            raise ValidationError(f"the certificate of block {height} is for another block")
        if set_hash != vs.hash:
            raise ValidationError(f"block {height} names a validator set that its chain's "
                                  "schedule does not hold there")
        cert.verify(self.chain_id, vs)

    def _open(self, height: int, state_root: bytes) -> None:
        self.close()
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.kv = LevelDBStore(self.dir)
        schema.check_schema(self.kv)
        self.builder = SnapshotBuilder(self.kv, height, state_root)

    def wanted(self) -> list[bytes]:
        return [] if self.builder is None else self.builder.wanted()

    @property
    def done(self) -> bool:
        return self.builder is not None and self.builder.done

    def accept(self, part: StatePart) -> None:
        assert self.builder is not None
        self.builder.accept(Part(part.path, part.bitmap, part.hashes, part.entries))

    def finish(self) -> None:
        """Write the head and hand the store over (rename to ``data/chain``)."""
        assert self.builder is not None and self.offer is not None and self.kv is not None
        block, cert, vs = self.offer
        root = self.builder.finish()
        kv = self.kv

        class _Flat:
            def get(self, key: bytes) -> bytes | None:
                return kv.get(schema.state_value_key(key))

        height = block.height
        sets = {height: vs, height + 1: self.executor.validator_set(_Flat(), height + 1)}
        install_snapshot(kv, self.genesis_block, block, cert, root, sets, self.changes)
        self.close()
        self.dir.rename(self.dir.parent / "chain")

    def close(self) -> None:
        if self.kv is not None:
            self.kv.close()
            self.kv = None


class _SyncAdmission:
    """While joining, the node talks only to the peers its operator configured."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        self.keys = set(keys)

    def is_admitted(self, public_key: bytes) -> bool:
        return public_key in self.keys

    def is_validator(self, public_key: bytes) -> bool:
        return False  # so this node dials every configured peer

    def height(self) -> int:
        return 0


def needs_state_sync(home: Path, config: NodeConfig) -> bool:
    return config.state_sync and not (config.data_path(home) / "chain").exists()


@dataclass(frozen=True)
class JoinResult:
    height: int  # 0: the peers had no chain beyond genesis, so nothing was synced
    keys: int
    parts: int
    seconds: float
    blamed: list[tuple[bytes, str]]  # (peer key, what it sent) for each peer refused


async def join_by_state_sync(home: Path, config: NodeConfig, key: PrivateKey, genesis: Genesis,
                             executor: Executor) -> JoinResult:
    """Fetch a snapshot into ``data/chain``."""
    data = config.data_path(home)
    data.mkdir(parents=True, exist_ok=True)
    scratch = ChainStore.in_memory()
    overlay = scratch.overlay()
    genesis_block = build_genesis(genesis, executor, overlay)
    schedule = overlay.get(VALIDATORS_KEY)
    assert schedule is not None, "genesis sets the validator schedule"
    target = SnapshotJoin(data, genesis.chain_id, genesis_block, schedule, executor)
    network = Network(config.p2p, Identity(key, genesis.chain_id, genesis_block.hash),
                      _SyncAdmission([p.public_key for p in config.p2p.peers]))
    client = StateSyncClient(network, target)
    started = time.perf_counter()
    last_log = [started]

    def progress(parts: int) -> None:
        now = time.perf_counter()
        if now - last_log[0] >= 5.0:
            last_log[0] = now
            b = target.builder
            log.info("state sync: %d parts, %d keys so far", parts, 0 if b is None else b.entries)

    client.on_progress = progress
    await network.start()
    try:
        log.info("state sync: asking %d peers for a snapshot", len(config.p2p.peers))
        synced = await client.run()
        if synced is not None:
            target.finish()
    finally:
        target.close()
        await network.stop()
    builder = target.builder
    height = 0 if synced is None else synced
    result = JoinResult(height, 0 if builder is None else builder.entries, client.parts,
                        time.perf_counter() - started, list(client.blamed))
    log.info("state sync: state of height %d (%d keys, %d parts) in %.1f s; %d peers refused",
             height, result.keys, result.parts, result.seconds, len(result.blamed))
    return result
