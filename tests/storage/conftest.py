"""Fixtures of tests/storage: every KeyValueStore implementation, fresh per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.api import KeyValueStore
from storage.kv import MemoryStore
from storage.leveldb import LevelDBStore


@pytest.fixture(params=["memory", "leveldb"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyValueStore]:
    store: KeyValueStore = (
        MemoryStore() if request.param == "memory" else LevelDBStore(tmp_path / "db")
    )
    yield store
    store.close()
