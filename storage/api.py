"""The interfaces of storage/: what node/ (and tests) may rely on.

Implementations live beside this module (kv.py, leveldb.py, state.py, chain.py, wal.py);
this file is the contract. All keys are laid out in storage/schema.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from core.state import StateReader, StateView
from core.types import Block, CommitCertificate, Receipt, ValidatorSet


class WriteBatch(Protocol):
    def put(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...


class KeyValueStore(Protocol):
    """An ordered byte key-value store. Memory and LevelDB implementations conform."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None: ...

    def delete(self, key: bytes, *, sync: bool = False) -> None: ...

    def iterate(
        self, prefix: bytes = b"", *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Items whose key starts with ``prefix``, in key order (from ``start`` if given)."""

    def batch(self, *, sync: bool = False) -> AbstractContextManager[WriteBatch]:
        """A batch applied atomically when the ``with`` block exits without error."""

    def close(self) -> None: ...


class StateOverlay(StateView, Protocol):
    """Pending state changes over a base (the committed state or another overlay).

    Execution writes here; nothing reaches disk until ChainStore.commit_block. An overlay
    may be stacked on an uncommitted overlay, so block h+1 can execute while h commits.
    """

    def changes(self) -> dict[bytes, bytes | None]:
        """Every key written since the overlay was made; None means deleted."""

    def root(self) -> bytes:
        """The state root that committing these changes would give. Cost grows with the
        keys changed and log of the state size, not with the state size."""

    def overlay(self) -> StateOverlay:
        """A child overlay whose base is this one."""


class StateProof(Protocol):
    """Inclusion or absence of one key under a state root; verifiable without the store."""

    def verify(self, root: bytes, key: bytes, value: bytes | None) -> bool: ...

    def to_value(self) -> object: ...


class ChainStore(Protocol):
    """Blocks, certificates, receipts, tx index and state: everything a node commits.

    ``commit_block`` writes block, certificate, receipts, tx index, validator set, state
    changes and the new head in ONE atomic WriteBatch (synced), so a crash at any instant
    leaves the store at a committed block boundary.
    """

    @property
    def height(self) -> int:
        """Height of the last committed block (0 once genesis is committed, -1 if empty)."""

    @property
    def state_root(self) -> bytes: ...

    def state(self) -> StateReader:
        """The committed state at the head."""

    def overlay(self) -> StateOverlay:
        """A fresh overlay on the committed head state."""

    def commit_block(
        self,
        block: Block,
        certificate: CommitCertificate | None,
        receipts: list[Receipt],
        state: StateOverlay,
        next_validators: ValidatorSet,
        accounts: Sequence[tuple[str, int]] = (),
        prove_keys: Sequence[bytes] = (),
    ) -> None:
        """Commit ``block`` (height == self.height + 1) with its outcome, atomically.
        ``certificate`` is None only for genesis. ``next_validators`` is the set that
        will certify height + 1, kept so sync can verify later certificates.
        ``accounts``: (account, tx index) pairs for the account history.
        ``prove_keys``: state keys whose value and proof under this block's state root
        are kept with it (state sync serves the validator schedule's this way)."""

    def account_txs(
        self, account: str, before: tuple[int, int] | None = None, limit: int = 20
    ) -> list[tuple[int, int]]:
        """The (height, index) of committed txs that touched ``account``, newest first,
        strictly before ``before`` when given."""

    def account_history_from(self) -> int | None:
        """The first height whose txs the account history holds (None: none yet)."""

    def snapshot_height(self) -> int | None:
        """The height the store started from by state sync (None: it holds every block);
        no blocks, receipts or txs before it, and none of its own block's receipts."""

    def block(self, height: int) -> Block | None: ...

    def block_by_hash(self, block_hash: bytes) -> Block | None: ...

    def certificate(self, height: int) -> CommitCertificate | None: ...

    def receipts(self, height: int) -> list[Receipt]: ...

    def tx_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        """(height, index in block) of a committed tx."""

    def receipt(self, tx_hash: bytes) -> Receipt | None: ...

    def validator_set(self, height: int) -> ValidatorSet | None:
        """The set that certifies ``height`` (known for every committed height + 1)."""

    def prove(self, key: bytes, height: int | None = None) -> tuple[bytes | None, StateProof]:
        """(value, proof) for ``key`` against the state root of ``height`` (head if None).
        Raises KeyError if that height's state is no longer kept."""

    def close(self) -> None: ...


class ConsensusWAL(Protocol):
    """The consensus state a validator must not forget: one durable record (its votes,
    a few hundred bytes to a few KiB), and a slot of block bodies that record names."""

    def save(self, record: bytes) -> None:
        """Replace the record; returns only after it is fsynced."""

    def load(self) -> bytes | None: ...

    def save_block(self, block_hash: bytes, block: bytes) -> None:
        """Keep a block body; durable once the next ``save`` returns."""

    def load_block(self, block_hash: bytes) -> bytes | None: ...

    def keep_blocks(self, block_hashes: Collection[bytes]) -> None:
        """Delete every kept block body but these."""
