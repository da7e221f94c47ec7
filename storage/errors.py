"""The typed errors of storage/: one StorageError subtree with stable codes.

A commit that is refused raises before anything is written, so the store is unchanged.
"""

from __future__ import annotations

from core.errors import ChainError


class StorageError(ChainError):
    """Base of storage/ errors."""

    code = "storage_error"


class WrongHeight(StorageError):
    """A block committed at a height other than head + 1."""

    code = "wrong_height"


class BlockMismatch(StorageError):
    """A block whose parent, certificate or receipts do not fit it or the head."""

    code = "block_mismatch"


class StateRootMismatch(StorageError):
    """The state changes given with a block do not produce the header's state_root."""

    code = "state_root_mismatch"


class SchemaVersionError(StorageError):
    """A store written with another key layout, or not an hkchain store at all."""

    code = "schema_version"


class CorruptStore(StorageError):
    """Bytes in the store that the schema says cannot be there (a bug or disk damage)."""

    code = "corrupt_store"


class StoreClosed(StorageError):
    """An operation on a store that was closed."""

    code = "store_closed"
