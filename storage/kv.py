"""MemoryStore: the in-memory KeyValueStore, for tests and simulations.

It keeps the contract of the LevelDB store exactly (ordered prefix iteration over a
snapshot, atomic batches applied only on a clean exit), so the conformance tests run
against both. ``sync`` is accepted and has no effect.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from storage.errors import StoreClosed


def prefix_end(prefix: bytes) -> bytes | None:
    """The least key greater than every key starting with ``prefix`` (None: no bound)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes((trimmed[-1] + 1,))


class MemoryWriteBatch:
    """Operations recorded in order; applied by the store on a clean exit."""

    def __init__(self) -> None:
        self.ops: list[tuple[bytes, bytes | None]] = []

    def put(self, key: bytes, value: bytes) -> None:
        self.ops.append((bytes(key), bytes(value)))

    def delete(self, key: bytes) -> None:
        self.ops.append((bytes(key), None))


class MemoryStore:
    """A dict plus a lazily rebuilt sorted key list for ordered iteration."""

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._sorted: list[bytes] = []
        self._sorted_ok = True
        self._lock = threading.Lock()
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("memory store is closed")

    def get(self, key: bytes) -> bytes | None:
        self._check_open()
        return self._data.get(key)

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        self._check_open()
        with self._lock:
            self._apply(((bytes(key), bytes(value)),))

    def delete(self, key: bytes, *, sync: bool = False) -> None:
        self._check_open()
        with self._lock:
            self._apply(((bytes(key), None),))

    def _apply(
        self, ops: tuple[tuple[bytes, bytes | None], ...] | list[tuple[bytes, bytes | None]]
    ) -> None:
        data = self._data
        for key, value in ops:
            if value is None:
                if data.pop(key, None) is not None:
                    self._sorted_ok = False
            else:
                if key not in data:
                    self._sorted_ok = False
                data[key] = value

    def iterate(
        self, prefix: bytes = b"", *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Items of ``prefix`` in key order; forward from keys >= ``start``, or in reverse
        from keys <= ``start``. Iterates over a snapshot taken at the call."""
        self._check_open()
        with self._lock:
            if not self._sorted_ok:
                self._sorted = sorted(self._data)
                self._sorted_ok = True
            keys = self._sorted
            lo = bisect.bisect_left(keys, prefix)
            end = prefix_end(prefix)
            hi = len(keys) if end is None else bisect.bisect_left(keys, end)
            if start is not None:
                if reverse:
                    hi = min(hi, bisect.bisect_right(keys, start))
                else:
                    lo = max(lo, bisect.bisect_left(keys, start))
            chosen = keys[lo:hi]
            if reverse:
                chosen.reverse()
            data = self._data
            items = [(k, data[k]) for k in chosen]
        return iter(items)

    @contextmanager
    def batch(self, *, sync: bool = False) -> Iterator[MemoryWriteBatch]:
        self._check_open()
        wb = MemoryWriteBatch()
        yield wb
        self._check_open()
        with self._lock:
            self._apply(wb.ops)

    def close(self) -> None:
        self._closed = True

    def __len__(self) -> int:
        return len(self._data)
