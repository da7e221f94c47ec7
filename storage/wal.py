"""ConsensusWAL on a KeyValueStore: one named record, replaced with a synced put.

It may share the chain's LevelDB (``ConsensusWAL(chain.kv)``): the record lives under
its own schema prefix, and a synced put is durable before ``save`` returns.
"""

from __future__ import annotations

from storage import schema
from storage.api import KeyValueStore
from storage.errors import StorageError

MAX_WAL_RECORD_BYTES = 4 * 1024 * 1024
MAX_WAL_NAME_BYTES = 64


class ConsensusWAL:
    def __init__(self, kv: KeyValueStore, name: bytes = b"consensus") -> None:
        if not 0 < len(name) <= MAX_WAL_NAME_BYTES:
            raise ValueError(f"WAL name must be 1..{MAX_WAL_NAME_BYTES} bytes")
        self._kv = kv
        self._key = schema.wal_key(name)

    def save(self, record: bytes) -> None:
        """Replace the record; returns only after LevelDB has synced it."""
        if type(record) is not bytes:
            raise TypeError("a WAL record is bytes")
        if len(record) > MAX_WAL_RECORD_BYTES:
            raise StorageError(
                f"WAL record of {len(record)} bytes exceeds {MAX_WAL_RECORD_BYTES}",
                code="wal_record_too_large",
            )
        self._kv.put(self._key, record, sync=True)

    def load(self) -> bytes | None:
        return self._kv.get(self._key)
