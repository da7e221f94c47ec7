"""LevelDBStore.compact really merges: overwritten and deleted entries leave the tables,
live ones stay (the bench's settled disk figures and an operator's compaction rely on it)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from storage.leveldb import LevelDBStore


def _bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file() and f.suffix in (".ldb", ".log"))


def test_compaction_drops_deleted_entries_and_keeps_live_ones(tmp_path: Path) -> None:
    # A journal's churn: every body written, then deleted, with a small write buffer so the
    # entries reach tables (and survive LevelDB's own background merges in part).
    path = tmp_path / "db"
    store = LevelDBStore(path, write_buffer_bytes=256 * 1024)
    keys = [b"p" + hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(6_000)]
    body = os.urandom(300)
    try:
        for i, key in enumerate(keys):
            store.put(key, body)
            if i >= 10:
                store.delete(keys[i - 10])
        # Live keys at both ends of the key order, and one past any hash prefix.
        store.put(b"\x00first", b"a")
        store.put(b"\xff" * 300, b"z")
    finally:
        store.close()
    churned = _bytes(path)
    assert churned > 600_000  # the churn is on disk before compacting

    store = LevelDBStore(path, write_buffer_bytes=256 * 1024)
    try:
        store.compact()
        live = dict(store.iterate())
    finally:
        store.close()
    assert set(live) == set(keys[-10:]) | {b"\x00first", b"\xff" * 300}
    assert _bytes(path) < 30_000, (churned, _bytes(path))
