"""Write journals over a StateView, and a dict-backed StateView for tests and tools.

A Journal buffers the writes of one tx over the block's state with an undo log, so a
failing call reverts exactly its own writes (``mark``/``revert_to``), nested calls too.
The executor flushes the journal to the state when the tx is done; queries never flush.
"""

from __future__ import annotations

from core.state import StateReader

_ABSENT = object()  # "no entry in the write buffer" (distinct from a buffered delete)


class Journal:
    """Buffered reads and writes of one tx over ``base``."""

    __slots__ = ("base", "undo", "writes")

    def __init__(self, base: StateReader) -> None:
        self.base = base
        self.writes: dict[bytes, bytes | None] = {}
        self.undo: list[tuple[bytes, object]] = []

    def get(self, key: bytes) -> bytes | None:
        w = self.writes
        if key in w:
            return w[key]
        return self.base.get(key)

    def set(self, key: bytes, value: bytes | None) -> None:
        """Write ``value`` at ``key``; None deletes."""
        self.undo.append((key, self.writes.get(key, _ABSENT)))
        self.writes[key] = value

    def mark(self) -> int:
        return len(self.undo)

    def revert_to(self, mark: int) -> None:
        undo, writes = self.undo, self.writes
        while len(undo) > mark:
            key, old = undo.pop()
            if old is _ABSENT:
                del writes[key]
            else:
                writes[key] = old  # type: ignore[assignment]

    def flush_to(self, state: object) -> None:
        """Apply the buffered writes to a StateView (``set``/``delete``) and clear."""
        set_, delete = state.set, state.delete  # type: ignore[attr-defined]
        for key, value in self.writes.items():
            if value is None:
                delete(key)
            else:
                set_(key, value)
        self.writes = {}
        self.undo = []


class DictState:
    """A StateView over a plain dict: for tests, benchmarks and tools."""

    __slots__ = ("data",)

    def __init__(self, data: dict[bytes, bytes] | None = None) -> None:
        self.data: dict[bytes, bytes] = {} if data is None else data

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        if type(key) is not bytes or type(value) is not bytes:
            raise TypeError("state keys and values are bytes")
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        self.data.pop(key, None)

    def copy(self) -> DictState:
        return DictState(dict(self.data))

    def root(self) -> bytes:
        """A digest of the whole state (sorted keys): for tests comparing states."""
        from core.hashing import sha256

        parts = []
        for k in sorted(self.data):
            v = self.data[k]
            parts.append(len(k).to_bytes(4, "big") + k + len(v).to_bytes(4, "big") + v)
        return sha256(b"".join(parts))
