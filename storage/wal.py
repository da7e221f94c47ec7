"""ConsensusWAL on a KeyValueStore: one named record, replaced with a synced put, and a
slot of block bodies that the record names.

It may share the chain's LevelDB (``ConsensusWAL(chain.kv, max_record_bytes=…)``): the
record and the blocks live under their own schema prefixes. A synced put is durable before
``save`` returns; a block is put unsynced and becomes durable with the next synced write
(LevelDB syncs its log in order, so the record that names a block never outlives it).
Blocks are kept packed as the chain stores them (storage/packing.py: zlib, about 40 %
smaller for a full block of transfers), since every proposal's body passes through here
and is deleted a height later; bare bodies kept by earlier builds are still read.

Limits: the record is bounded by what its owner declares (consensus/wal.py derives the vote
record's bound); a block by core.types.MAX_BLOCK_BYTES, the one block size limit.
"""

from __future__ import annotations

from collections.abc import Collection

from core.errors import DecodeError
from core.hashing import HASH_SIZE
from core.types import MAX_BLOCK_BYTES
from storage import packing, schema
from storage.api import KeyValueStore
from storage.errors import CorruptStore, StorageError

MAX_WAL_NAME_BYTES = 64


class ConsensusWAL:
    def __init__(
        self, kv: KeyValueStore, name: bytes = b"consensus", *, max_record_bytes: int
    ) -> None:
        if not 0 < len(name) <= MAX_WAL_NAME_BYTES:
            raise ValueError(f"WAL name must be 1..{MAX_WAL_NAME_BYTES} bytes")
        if max_record_bytes < 1:
            raise ValueError("max_record_bytes must be positive")
        self._kv = kv
        self._key = schema.wal_key(name)
        self._block_prefix = schema.wal_block_prefix(name)
        self.max_record_bytes = max_record_bytes
        self.max_block_bytes = MAX_BLOCK_BYTES
        # Hashes of the kept blocks, learnt from the store once, so pruning after every
        # height does not read megabytes of block bodies just to find their keys.
        self._kept: set[bytes] | None = None

    def save(self, record: bytes) -> None:
        """Replace the record; returns only after LevelDB has synced it."""
        if type(record) is not bytes:
            raise TypeError("a WAL record is bytes")
        if len(record) > self.max_record_bytes:
            raise StorageError(
                f"WAL record of {len(record)} bytes exceeds {self.max_record_bytes}",
                code="wal_record_too_large",
            )
        self._kv.put(self._key, record, sync=True)

    def load(self) -> bytes | None:
        return self._kv.get(self._key)

    def save_block(self, block_hash: bytes, block: bytes) -> None:
        """Keep a block body under its hash; durable once the next ``save`` returns."""
        if type(block_hash) is not bytes or len(block_hash) != HASH_SIZE:
            raise TypeError("a block hash is 32 bytes")
        if type(block) is not bytes:
            raise TypeError("a block is bytes")
        if len(block) > self.max_block_bytes:
            raise StorageError(
                f"block of {len(block)} bytes exceeds {self.max_block_bytes}",
                code="wal_block_too_large",
            )
        self._kv.put(self._block_prefix + block_hash, packing.pack_block(block))
        if self._kept is not None:
            self._kept.add(block_hash)

    def load_block(self, block_hash: bytes) -> bytes | None:
        value = self._kv.get(self._block_prefix + block_hash)
        if value is None:
            return None
        try:
            return packing.unpack_block(value)
        except DecodeError as exc:
            raise CorruptStore(f"kept block {block_hash.hex()[:16]} does not inflate: {exc.message}") from exc

    def keep_blocks(self, block_hashes: Collection[bytes]) -> None:
        """Delete every kept block body but ``block_hashes``."""
        if self._kept is None:
            n = len(self._block_prefix)
            self._kept = {k[n:] for k, _ in self._kv.iterate(self._block_prefix)}
        stale = self._kept.difference(block_hashes)
        if stale:
            with self._kv.batch() as b:
                for h in stale:
                    b.delete(self._block_prefix + h)
            self._kept -= stale
