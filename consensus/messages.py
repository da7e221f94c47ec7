"""The wire messages of PBFT consensus and their one canonical encoding.

Each message is a frozen dataclass whose canonical form is a msgpack list ``[TAG, field…]``
(tags from 32 up, clear of core.types). ``decode_message`` is the one way in from the
wire: strict decoding, then ``validate_basic``; any failure is a DecodeError. Signatures
are checked by the replica (against the validator set of the height), not here.

PRE-PREPARE proposes the block of view 0; a NEW-VIEW is the proposal of every later view
and carries the quorum of VIEW-CHANGEs that justifies its block. DECISION is not signed by
its sender: the commit certificate inside it is the proof, and it is how a validator that
moved on helps one still voting on the height it just decided.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

from core import codec
from core.crypto import SIGNATURE_SIZE, PrivateKey
from core.errors import DecodeError, ValidationError
from core.hashing import tagged_hash
from core.schema import (
    CHAIN_ID,
    HASH,
    PUBLIC_KEY,
    SIGNATURE,
    U64,
    Opt,
    Pair,
    Rec,
    Seq,
    U,
    record,
    wire,
)
from core.types import (
    MAX_CERTIFICATE_BYTES,
    MAX_CONSENSUS_MESSAGE_BYTES,
    MAX_VALIDATORS,
    VOTE_COMMIT,
    VOTE_PREPARE,
    Block,
    CommitCertificate,
    Record,
    Vote,
    vote_signing_bytes,
)

TAG_PRE_PREPARE = 32
TAG_PREPARE = 33
TAG_COMMIT = 34
TAG_PREPARED_CERTIFICATE = 35
TAG_VIEW_CHANGE = 36
TAG_NEW_VIEW = 37
TAG_DECISION = 38

DOMAIN_PRE_PREPARE = b"hkchain/pre-prepare/1\x00"
DOMAIN_VIEW_CHANGE = b"hkchain/view-change/1\x00"
DOMAIN_NEW_VIEW = b"hkchain/new-view/1\x00"

MAX_VIEW = (1 << 32) - 1
VIEW = U(0, MAX_VIEW)
# Derived in core from the one block size limit: one block and what surrounds it.
MAX_MESSAGE_BYTES = MAX_CONSENSUS_MESSAGE_BYTES


# --- checks ------------------------------------------------------------------------------


def _check_sorted_unique(keys: list[bytes], what: str) -> None:
    if keys != sorted(set(keys)):
        raise ValidationError(f"{what} must be sorted by validator and unique")


# --- messages ----------------------------------------------------------------------------


@record(TAG_PRE_PREPARE)
@dataclass(frozen=True, eq=True)
class PrePrepare(Record):
    """The proposer of view 0 proposes ``block`` for ``height``."""

    MAX_BYTES: ClassVar[int] = MAX_MESSAGE_BYTES
    WIRE_NOTE: ClassVar[str] = ("signature over \"hkchain/pre-prepare/1\\0\" || "
                                "encode([chain_id, height, view, block hash]).")

    chain_id: str = wire(CHAIN_ID)
    height: int = wire(U64)
    view: int = wire(VIEW)
    block: Block = wire(Rec(Block))
    proposer: bytes = wire(PUBLIC_KEY)
    signature: bytes = wire(SIGNATURE)

    @staticmethod
    def signing_bytes_of(chain_id: str, height: int, view: int, block_hash: bytes) -> bytes:
        return DOMAIN_PRE_PREPARE + codec.encode([chain_id, height, view, block_hash])

    @classmethod
    def create(
        cls, key: PrivateKey, chain_id: str, height: int, view: int, block: Block
    ) -> PrePrepare:
        sig = key.sign(cls.signing_bytes_of(chain_id, height, view, block.hash))
        return cls(chain_id, height, view, block, key.public_key, sig)

    def signing_bytes(self) -> bytes:
        return self.signing_bytes_of(self.chain_id, self.height, self.view, self.block.hash)

    @property
    def sender(self) -> bytes:
        return self.proposer

    def validate_basic(self) -> None:
        if not self.chain_id:
            raise ValidationError("chain_id is empty")
        if self.view != 0:
            raise ValidationError("PRE-PREPARE proposes view 0; later views use NEW-VIEW")
        if self.block.height != self.height or self.block.header.chain_id != self.chain_id:
            raise ValidationError("block is not for this chain and height")
        self.block.validate_basic()


@dataclass(frozen=True, eq=True)
class _VoteMessage(Record):
    """A PREPARE or COMMIT: one signed core.types.Vote of the matching kind."""

    KIND: ClassVar[int]
    vote: Vote = wire(Rec(Vote))

    @property
    def height(self) -> int:
        return self.vote.height

    @property
    def view(self) -> int:
        return self.vote.view

    @property
    def sender(self) -> bytes:
        return self.vote.validator

    def validate_basic(self) -> None:
        if self.vote.kind != self.KIND:
            raise ValidationError("vote kind does not match the message type")
        if not self.vote.chain_id:
            raise ValidationError("chain_id is empty")
        if self.vote.view > MAX_VIEW:
            raise ValidationError("view out of range")


@record(TAG_PREPARE)
@dataclass(frozen=True, eq=True)
class Prepare(_VoteMessage):
    KIND: ClassVar[int] = VOTE_PREPARE


@record(TAG_COMMIT)
@dataclass(frozen=True, eq=True)
class Commit(_VoteMessage):
    KIND: ClassVar[int] = VOTE_COMMIT


@record(TAG_PREPARED_CERTIFICATE)
@dataclass(frozen=True, eq=True)
class PreparedCertificate(Record):
    """Proof that a quorum PREPAREd the block ``block_hash`` at (``height``, ``view``):
    (validator, signature) pairs of PREPARE votes, sorted by validator.

    It names the block by hash only, so it stays small at any block size: the body travels
    beside it in a VIEW-CHANGE (``ViewChange.block``) and in the NEW-VIEW that re-proposes
    it, and a validator keeps the body of its own highest one through its VoteLog."""

    MAX_BYTES: ClassVar[int] = MAX_CERTIFICATE_BYTES
    WIRE_NOTE: ClassVar[str] = "signatures: PREPARE signatures, sorted by key, no key twice."

    height: int = wire(U64)
    view: int = wire(VIEW)
    block_hash: bytes = wire(HASH)
    signatures: tuple[tuple[bytes, bytes], ...] = wire(
        Seq(Pair(PUBLIC_KEY, SIGNATURE), MAX_VALIDATORS))

    @classmethod
    def from_votes(cls, votes: list[Vote]) -> PreparedCertificate:
        if not votes:
            raise ValueError("a prepared certificate needs votes")
        first = votes[0]
        if any(
            (v.kind, v.height, v.view, v.block_hash)
            != (VOTE_PREPARE, first.height, first.view, first.block_hash)
            for v in votes
        ):
            raise ValueError("a prepared certificate needs matching PREPAREs of one view")
        pairs = sorted({v.validator: v.signature for v in votes}.items())
        return cls(first.height, first.view, first.block_hash, tuple(pairs))

    def votes(self, chain_id: str) -> list[Vote]:
        return [
            Vote(VOTE_PREPARE, chain_id, self.height, self.view, self.block_hash, k, s)
            for k, s in self.signatures
        ]

    def signing_bytes(self, chain_id: str) -> bytes:
        return vote_signing_bytes(VOTE_PREPARE, chain_id, self.height, self.view, self.block_hash)

    def validate_basic(self) -> None:
        if not self.signatures:
            raise ValidationError("prepared certificate has no signatures")
        _check_sorted_unique([k for k, _ in self.signatures], "prepared certificate signers")


@record(TAG_VIEW_CHANGE)
@dataclass(frozen=True, eq=True)
class ViewChange(Record):
    """``validator`` gives up on the views before ``new_view`` at ``height``, and reports
    the highest certificate it prepared at this height (None if it prepared nothing).

    ``block`` is the body of that certificate's block when the sender has it, so the
    proposer of ``new_view`` can re-propose it. It is outside the signed digest (the
    certificate's hash binds it) and is left out when a NEW-VIEW carries the VIEW-CHANGE:
    a NEW-VIEW holds one block, whatever the number of VIEW-CHANGEs in it."""

    MAX_BYTES: ClassVar[int] = MAX_MESSAGE_BYTES
    WIRE_NOTE: ClassVar[str] = ("signature over SHA-256(\"hkchain/view-change/1\\0\" || "
                                "encode([chain_id, height, new_view, prepared, validator])); "
                                "block is outside it.")

    chain_id: str = wire(CHAIN_ID)
    height: int = wire(U64)
    new_view: int = wire(VIEW)
    prepared: PreparedCertificate | None = wire(Opt(Rec(PreparedCertificate)))
    validator: bytes = wire(PUBLIC_KEY)
    signature: bytes = wire(SIGNATURE)
    block: Block | None = wire(Opt(Rec(Block)), default=None)

    def _body(self) -> list[Any]:
        return [
            self.chain_id,
            self.height,
            self.new_view,
            None if self.prepared is None else self.prepared.to_value(),
            self.validator,
        ]

    @functools.cached_property
    def digest(self) -> bytes:
        """What the validator signs: a hash of every field but the signature and block."""
        return tagged_hash(DOMAIN_VIEW_CHANGE, codec.encode(self._body()))

    @classmethod
    def create(
        cls,
        key: PrivateKey,
        chain_id: str,
        height: int,
        new_view: int,
        prepared: PreparedCertificate | None,
        block: Block | None = None,
    ) -> ViewChange:
        unsigned = cls(chain_id, height, new_view, prepared, key.public_key, bytes(SIGNATURE_SIZE))
        sig = key.sign(unsigned.digest)
        return cls(chain_id, height, new_view, prepared, key.public_key, sig, block)

    def without_block(self) -> ViewChange:
        if self.block is None:
            return self
        return ViewChange(
            self.chain_id, self.height, self.new_view, self.prepared, self.validator, self.signature
        )

    def signing_bytes(self) -> bytes:
        return self.digest

    @property
    def sender(self) -> bytes:
        return self.validator

    @property
    def view(self) -> int:
        return self.new_view

    def validate_basic(self) -> None:
        if not self.chain_id:
            raise ValidationError("chain_id is empty")
        if self.new_view < 1:
            raise ValidationError("a view change is to a view of at least 1")
        p = self.prepared
        if p is not None:
            p.validate_basic()
            if p.view >= self.new_view:
                raise ValidationError("prepared certificate is not from an earlier view")
            if p.height != self.height:
                raise ValidationError("prepared certificate is not for this height")
        b = self.block
        if b is not None:
            if p is None or b.hash != p.block_hash:
                raise ValidationError("block is not the prepared certificate's block")
            if b.header.chain_id != self.chain_id:
                raise ValidationError("prepared block is not for this chain")
            b.validate_basic()


@record(TAG_NEW_VIEW)
@dataclass(frozen=True, eq=True)
class NewView(Record):
    """The proposer of ``view`` starts it: a quorum of VIEW-CHANGEs for the view (without
    their blocks) and the block it proposes, which must be the block of their highest
    prepared certificate."""

    MAX_BYTES: ClassVar[int] = MAX_MESSAGE_BYTES
    WIRE_NOTE: ClassVar[str] = ("signature over \"hkchain/new-view/1\\0\" || encode([chain_id, "
                                "height, view, [view change digests], block hash]).")

    chain_id: str = wire(CHAIN_ID)
    height: int = wire(U64)
    view: int = wire(VIEW)
    view_changes: tuple[ViewChange, ...] = wire(Seq(Rec(ViewChange), MAX_VALIDATORS))
    block: Block = wire(Rec(Block))
    proposer: bytes = wire(PUBLIC_KEY)
    signature: bytes = wire(SIGNATURE)

    @staticmethod
    def signing_bytes_of(
        chain_id: str,
        height: int,
        view: int,
        view_changes: tuple[ViewChange, ...],
        block_hash: bytes,
    ) -> bytes:
        digests = [vc.digest for vc in view_changes]
        return DOMAIN_NEW_VIEW + codec.encode([chain_id, height, view, digests, block_hash])

    @classmethod
    def create(
        cls,
        key: PrivateKey,
        chain_id: str,
        height: int,
        view: int,
        view_changes: tuple[ViewChange, ...],
        block: Block,
    ) -> NewView:
        carried = tuple(vc.without_block() for vc in view_changes)
        sig = key.sign(cls.signing_bytes_of(chain_id, height, view, carried, block.hash))
        return cls(chain_id, height, view, carried, block, key.public_key, sig)

    def signing_bytes(self) -> bytes:
        return self.signing_bytes_of(
            self.chain_id, self.height, self.view, self.view_changes, self.block.hash
        )

    @property
    def sender(self) -> bytes:
        return self.proposer

    def validate_basic(self) -> None:
        if not self.chain_id:
            raise ValidationError("chain_id is empty")
        if self.view < 1:
            raise ValidationError("NEW-VIEW starts a view of at least 1")
        if not self.view_changes:
            raise ValidationError("NEW-VIEW carries no VIEW-CHANGEs")
        for vc in self.view_changes:
            if vc.block is not None:
                raise ValidationError("a VIEW-CHANGE in a NEW-VIEW carries no block")
            vc.validate_basic()
            if (vc.chain_id, vc.height, vc.new_view) != (self.chain_id, self.height, self.view):
                raise ValidationError("VIEW-CHANGE in NEW-VIEW is for another height or view")
        _check_sorted_unique([vc.validator for vc in self.view_changes], "VIEW-CHANGEs")
        if self.block.height != self.height or self.block.header.chain_id != self.chain_id:
            raise ValidationError("block is not for this chain and height")
        self.block.validate_basic()


@record(TAG_DECISION)
@dataclass(frozen=True, eq=True)
class Decision(Record):
    """A decided block with its commit certificate, sent to a validator that is behind."""

    MAX_BYTES: ClassVar[int] = MAX_MESSAGE_BYTES

    block: Block = wire(Rec(Block))
    certificate: CommitCertificate = wire(Rec(CommitCertificate))

    @property
    def height(self) -> int:
        return self.block.height

    def validate_basic(self) -> None:
        c = self.certificate
        if c.height != self.block.height or c.block_hash != self.block.hash:
            raise ValidationError("certificate is not for this block")
        if c.chain_id != self.block.header.chain_id:
            raise ValidationError("certificate is for another chain")
        if not c.signatures:
            raise ValidationError("certificate has no signatures")
        _check_sorted_unique([k for k, _ in c.signatures], "certificate signers")
        self.block.validate_basic()


ConsensusMessage = PrePrepare | Prepare | Commit | ViewChange | NewView | Decision

_DECODERS: dict[int, type[PrePrepare | Prepare | Commit | ViewChange | NewView | Decision]] = {
    TAG_PRE_PREPARE: PrePrepare,
    TAG_PREPARE: Prepare,
    TAG_COMMIT: Commit,
    TAG_VIEW_CHANGE: ViewChange,
    TAG_NEW_VIEW: NewView,
    TAG_DECISION: Decision,
}


def decode_message(data: bytes, max_size: int = MAX_MESSAGE_BYTES) -> ConsensusMessage:
    """The consensus message in ``data``, shape-checked; DecodeError for anything else."""
    value = codec.decode(data, max_size)
    if type(value) is not list or not value or type(value[0]) is not int:
        raise DecodeError("not a consensus message")
    cls = _DECODERS.get(value[0])
    if cls is None:
        raise DecodeError(f"unknown consensus message tag {value[0]}")
    try:
        msg = cls.from_value(value)
        msg.validate_basic()
    except DecodeError:
        raise
    except ValidationError as exc:
        raise DecodeError(f"invalid {cls.__name__}: {exc.message}") from exc
    msg.__dict__["encoded"] = bytes(data)
    return msg


__all__ = [
    "Commit",
    "ConsensusMessage",
    "Decision",
    "NewView",
    "PrePrepare",
    "Prepare",
    "PreparedCertificate",
    "ViewChange",
    "decode_message",
]
