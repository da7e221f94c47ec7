"""The narrow view of state that execution needs, shared by vm/ (which reads and writes
through it) and storage/ (which implements it over the committed tree).

Keys and values are bytes; who owns which key prefix is decided by vm/ (see vm/layout.py).
"""

from __future__ import annotations

from typing import Protocol


class StateReader(Protocol):
    def get(self, key: bytes) -> bytes | None:
        """The value at ``key``, or None if absent."""


class StateView(StateReader, Protocol):
    """A writable view: writes are pending until the owner commits them."""

    def set(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...
