"""LevelDBStore: the KeyValueStore on LevelDB (plyvel).

Batches are plyvel transactions (written only if the ``with`` block exits cleanly) and
``sync=True`` makes LevelDB fsync its log before returning. plyvel calls block: callers on
an event loop keep them short (one batch per block) or run them in a thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import plyvel

from storage.errors import StorageError, StoreClosed
from storage.kv import prefix_end

# State-tree nodes are mostly hashes, which do not compress: snappy would cost CPU on
# every read and compaction for little space. A larger cache and write buffer cut reads
# from disk and compactions (measured with scripts/bench_storage.py).
DEFAULT_CACHE_BYTES = 128 * 1024 * 1024
DEFAULT_WRITE_BUFFER_BYTES = 64 * 1024 * 1024
DEFAULT_COMPRESSION: str | None = None
# plyvel hands LevelDB's CompactRange an empty slice for a missing bound, never "no
# bound": an empty end key covers nothing, so ``compact_range()`` without bounds does not
# compact at all. The end given instead sorts after every key but one that starts with 256
# bytes 0xff (the stores' keys are a short prefix and hashes or numbers); a live key
# beyond it is covered by taking the store's last key when that is larger.
_COMPACT_END = b"\xff" * 256


class LevelDBStore:
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        write_buffer_bytes: int = DEFAULT_WRITE_BUFFER_BYTES,
        compression: str | None = DEFAULT_COMPRESSION,
    ) -> None:
        try:
            self._db: Any = plyvel.DB(
                os.fspath(path),
                create_if_missing=True,
                lru_cache_size=cache_bytes,
                write_buffer_size=write_buffer_bytes,
                bloom_filter_bits=10,
                compression=compression,
            )
        except plyvel.Error as exc:
            raise StorageError(f"cannot open LevelDB at {os.fspath(path)}: {exc}") from exc
        self.path = os.fspath(path)

    def _db_or_raise(self) -> Any:
        if self._db is None:
            raise StoreClosed(f"LevelDB store {self.path} is closed")
        return self._db

    # LevelDB's own failures (I/O errors, corruption) become StorageError, so a caller can
    # tell a fault of the local store from anything else by type alone.

    def get(self, key: bytes) -> bytes | None:
        try:
            value: bytes | None = self._db_or_raise().get(key)
        except plyvel.Error as exc:
            raise _io_error("read", self.path, exc) from exc
        return value

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        try:
            self._db_or_raise().put(key, value, sync=sync)
        except plyvel.Error as exc:
            raise _io_error("write", self.path, exc) from exc

    def delete(self, key: bytes, *, sync: bool = False) -> None:
        try:
            self._db_or_raise().delete(key, sync=sync)
        except plyvel.Error as exc:
            raise _io_error("write", self.path, exc) from exc

    def iterate(
        self, prefix: bytes = b"", *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Items of ``prefix`` in key order; forward from keys >= ``start``, or in reverse
        from keys <= ``start``. Iterates over a snapshot taken at the call."""
        db = self._db_or_raise()
        end = prefix_end(prefix)
        if not reverse:
            lo = prefix if start is None else max(prefix, start)
            return self._drain(db.iterator(start=lo or None, stop=end))
        # plyvel's reverse range iterator can miss the last key of a range, so reverse
        # scans walk a raw iterator backwards from the upper bound.
        if start is not None and start < prefix:
            return iter(())
        if start is not None and (end is None or start < end):
            return self._backwards(db.raw_iterator(), prefix, start, inclusive=True)
        return self._backwards(db.raw_iterator(), prefix, end, inclusive=False)

    @staticmethod
    def _drain(it: Any) -> Iterator[tuple[bytes, bytes]]:
        with it:
            yield from it

    @staticmethod
    def _backwards(
        it: Any, prefix: bytes, upper: bytes | None, *, inclusive: bool
    ) -> Iterator[tuple[bytes, bytes]]:
        try:
            if upper is None:
                it.seek_to_last()
            else:
                it.seek(upper)
                if not it.valid():
                    it.seek_to_last()
                elif it.key() > upper or (it.key() == upper and not inclusive):
                    it.prev()
            while it.valid():
                key = it.key()
                if not key.startswith(prefix):
                    break
                yield key, it.value()
                it.prev()
        finally:
            it.close()

    @contextmanager
    def batch(self, *, sync: bool = False) -> Iterator[Any]:
        db = self._db_or_raise()
        try:
            with db.write_batch(transaction=True, sync=sync) as wb:
                yield wb
        except plyvel.Error as exc:
            raise _io_error("write", self.path, exc) from exc

    def compact(self) -> None:
        """Compact the whole key range: the write-ahead log is folded into tables, and every
        table is merged, dropping overwritten and deleted entries."""
        db = self._db_or_raise()
        try:
            end = _COMPACT_END
            with db.iterator(reverse=True, include_value=False) as it:
                last = next(it, None)
            if last is not None and last > end:
                end = last
            db.compact_range(start=b"", stop=end)
        except plyvel.Error as exc:
            raise _io_error("compaction", self.path, exc) from exc

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _io_error(what: str, path: str, exc: Exception) -> StorageError:
    # plyvel carries LevelDB's status text as bytes: show it as text, not as a bytes repr.
    arg = exc.args[0] if exc.args else exc
    text = arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)
    if "No space left on device" in text:
        return StorageError(f"the disk is full: LevelDB {what} failed at {path}: {text}",
                            code="disk_full")
    return StorageError(f"LevelDB {what} failed at {path}: {text}", code="storage_io")
