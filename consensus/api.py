"""The interface between the consensus core and the node that hosts it.

The core (consensus/replica.py) is sans-IO: it is fed messages and clock ticks and returns
what to send, when to wake it, and what it decided. The network, the clock, durable
storage of votes and the application are all injected, so the simulator can drive the
same code the node runs.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol

from core.types import Block, CommitCertificate, ValidatorSet


class Application(Protocol):
    """What consensus needs from the rest of the node. Calls are synchronous."""

    def validator_set(self, height: int) -> ValidatorSet | None:
        """The set that certifies ``height``; None if not known yet (node is behind)."""

    def proposer_of(self, height: int) -> bytes | None:
        """The proposer named in the header of committed block ``height``; None if this
        host does not hold that block. It gives view 1 of the next height its proposer
        (``ValidatorSet.proposer``)."""

    def committed_view(self, height: int) -> int | None:
        """The view at which committed block ``height`` was decided; None if this host does
        not hold its certificate. View 0's proposer of the height one rotation on missed
        its last turn when that view is above 0 (``ReplicaConfig.missed_turn_timeout_ms``)."""

    def propose(self, height: int, view: int, timestamp_ms: int) -> Block:
        """Build and execute a block for (height, view) on top of the last commit,
        with ``timestamp_ms`` from the proposer's clock. May have no txs."""

    def validate(self, block: Block) -> bool:
        """Execute ``block`` on the last committed state and check every header field
        (parent, roots, proposer, validator set hash, timestamp not before the parent's).
        True if a correct validator may PREPARE it."""

    def commit(self, block: Block, certificate: CommitCertificate) -> None:
        """Make ``block`` final (durably) before returning. Called once per height, in
        height order. After it returns, validator_set(height + 1) must be known."""


class VoteLog(Protocol):
    """Durable memory of what this validator signed (see storage ConsensusWAL): one small
    record of hashes (consensus/wal.py), and the bodies of the blocks it names that the
    validator must be able to re-propose after a restart."""

    def save(self, record: bytes) -> None:
        """Persist ``record`` (fsync) before returning; it replaces the last one."""

    def load(self) -> bytes | None: ...

    def save_block(self, block_hash: bytes, block: bytes) -> None:
        """Keep the encoded block ``block_hash``; durable once the next ``save`` returns."""

    def load_block(self, block_hash: bytes) -> bytes | None: ...

    def keep_blocks(self, block_hashes: Collection[bytes]) -> None:
        """Forget every kept block but these."""


class Message(Protocol):
    """A signed consensus message (see consensus/messages.py for the concrete types)."""

    @property
    def height(self) -> int: ...

    def encode(self) -> bytes: ...


@dataclass
class Output:
    """What one step of the replica asks the host to do."""

    broadcast: list[Message] = field(default_factory=list)
    # (recipient public key, message) for replies to one peer, e.g. a lagging validator.
    send: list[tuple[bytes, Message]] = field(default_factory=list)
    decided: list[tuple[Block, CommitCertificate]] = field(default_factory=list)
    # Call on_tick at (or after) this time; None if no timer is pending.
    wake_at_ms: int | None = None
    # Seen proof (a certificate, or a quorum voting above it) that every block up to and
    # including this height is decided: the host should sync up to it, then on_synced.
    sync_to_height: int | None = None
    view_changes: int = 0
