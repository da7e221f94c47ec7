"""The chain's records: transactions, blocks, receipts, votes, certificates, validator sets.

Each record is a frozen dataclass whose canonical form is a msgpack list ``[TAG, field…]``
(nested records nest as their own lists). ``encode``/``decode`` go through core.codec, so
decoding is strict; ``from_value`` checks exact types and sizes; ``validate_basic`` checks
the rules that need no state. Hashes and signing bytes are domain-tagged (core.hashing).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import msgpack

from core import codec
from core.codec import Value
from core.crypto import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, address_of, verify
from core.errors import SignatureError, ValidationError
from core.hashing import (
    DOMAIN_HEADER,
    DOMAIN_TX,
    DOMAIN_VALSET,
    DOMAIN_VOTE,
    ZERO_HASH,
    tagged_hash,
)
from core.merkle import merkle_root
from core.schema import (
    CHAIN_ID,
    HASH,
    NAME,
    PUBLIC_KEY,
    SIGNATURE,
    U64,
    AnyValue,
    Map,
    Pair,
    Rec,
    S,
    Seq,
    U,
    record,
    wire,
)

# --- limits (units last in names) ------------------------------------------------------

MAX_CHAIN_ID_CHARS = 64
MAX_TX_BYTES = 64 * 1024
MAX_ARGS = 32
MAX_BLOCK_TXS = 10_000
# THE block size limit: every other limit on what carries a block (consensus messages,
# p2p frames, the consensus WAL's block slot, block.max_block_bytes in the config)
# derives from this one number.
MAX_BLOCK_BYTES = 16 * 1024 * 1024
# What a block spends besides its txs' own bytes: the header and msgpack framing of up to
# MAX_BLOCK_TXS txs (at most 5 bytes each). The proposer's budget for tx bytes is the rest.
BLOCK_FRAMING_BYTES = 64 * 1024
MAX_BLOCK_TX_BYTES = MAX_BLOCK_BYTES - BLOCK_FRAMING_BYTES
MAX_EVENTS_PER_RECEIPT = 256
MAX_ERROR_CODE_CHARS = 64
MAX_ERROR_LINE = 1 << 20  # contract sources are at most 64 KiB
MAX_VALIDATORS = 256
# A certificate of signatures (commit or prepared): a few scalars, a chain id and up to
# MAX_VALIDATORS (public key, signature) pairs, each with its msgpack framing.
MAX_CERTIFICATE_BYTES = 1024 + MAX_VALIDATORS * (PUBLIC_KEY_SIZE + SIGNATURE_SIZE + 8)
# The largest consensus message carries one block: a NEW-VIEW (its block and up to
# MAX_VALIDATORS block-less VIEW-CHANGEs, each a few scalars and a prepared certificate),
# a VIEW-CHANGE with its prepared block, a PRE-PREPARE or a DECISION (consensus/messages.py).
MAX_VIEW_CHANGE_BYTES_WITHOUT_BLOCK = 1024 + MAX_CERTIFICATE_BYTES
MAX_CONSENSUS_MESSAGE_BYTES = (
    MAX_BLOCK_BYTES + 1024 + MAX_VALIDATORS * MAX_VIEW_CHANGE_BYTES_WITHOUT_BLOCK
)

# --- type tags of the canonical form ---------------------------------------------------

TAG_TX = 1
TAG_SIGNED_TX = 2
TAG_HEADER = 3
TAG_BLOCK = 4
TAG_EVENT = 5
TAG_RECEIPT = 6
TAG_VOTE = 7
TAG_CERTIFICATE = 8
TAG_VALIDATOR = 9
TAG_VALIDATOR_SET = 10

R = TypeVar("R", bound="Record")


class Record:
    """Base of the canonical records. Subclasses define TAG, to_value and from_value."""

    TAG: ClassVar[int]
    MAX_BYTES: ClassVar[int] = codec.DEFAULT_MAX_SIZE

    def to_value(self) -> list[Any]:
        raise NotImplementedError

    @classmethod
    def from_value(cls: type[R], value: Any) -> R:
        raise NotImplementedError

    @functools.cached_property
    def encoded(self) -> bytes:
        return codec.encode(self.to_value())

    def encode(self) -> bytes:
        return self.encoded

    @classmethod
    def decode(cls: type[R], data: bytes) -> R:
        obj = cls.from_value(codec.decode(data, cls.MAX_BYTES))
        obj.__dict__["encoded"] = bytes(data)  # canonical by construction: reuse it
        return obj


# --- transactions ----------------------------------------------------------------------


@record(TAG_TX)
@dataclass(frozen=True, eq=True)
class Tx(Record):
    """A call that a sender signs. ``args`` are positional Values.

    The tx is valid while the block height is at most ``expiry_height``; ``nonce`` is the
    sender's next sequence number (replay protection together with ``chain_id``).
    """

    MAX_BYTES: ClassVar[int] = MAX_TX_BYTES
    WIRE_NOTE: ClassVar[str] = ("Encoded in at most 65,536 bytes. `validate_basic`: chain_id, "
                                "contract and method not empty, expiry_height ≥ 1.")

    chain_id: str = wire(CHAIN_ID)
    sender: bytes = wire(PUBLIC_KEY)
    nonce: int = wire(U64)
    contract: str = wire(NAME)
    method: str = wire(NAME)
    args: tuple[Value, ...] = wire(Seq(AnyValue(), MAX_ARGS))
    max_fee: int = wire(U64)
    expiry_height: int = wire(U64)

    @functools.cached_property
    def hash(self) -> bytes:
        """The tx's identity: what it is looked up by and what the sender signs."""
        return tagged_hash(DOMAIN_TX, self.encoded)

    @property
    def sender_address(self) -> str:
        return address_of(self.sender)

    def validate_basic(self) -> None:
        if not self.chain_id:
            raise ValidationError("chain_id is empty")
        if not self.contract or not self.method:
            raise ValidationError("contract and method must be named")
        if self.expiry_height < 1:
            raise ValidationError("expiry_height must be at least 1")
        if len(self.encoded) > MAX_TX_BYTES:
            raise ValidationError("tx too large", code="too_large")

    def sign(self, key: PrivateKey) -> SignedTx:
        if key.public_key != self.sender:
            raise ValueError("signing key is not the tx's sender")
        return SignedTx(self, key.sign(self.hash))


@record(TAG_SIGNED_TX)
@dataclass(frozen=True, eq=True)
class SignedTx(Record):
    MAX_BYTES: ClassVar[int] = MAX_TX_BYTES + 128
    WIRE_NOTE: ClassVar[str] = "signature = Ed25519 over the 32-byte tx hash (section 4)."

    tx: Tx = wire(Rec(Tx))
    signature: bytes = wire(SIGNATURE)

    def _decoded(self, value: list[Any]) -> None:
        if _plain_args(self.tx.args):
            # Every field is then encoded as it stands (no dict to sort, no big int), so
            # msgpack's C packer gives the canonical bytes: a tx decoded inside a block or
            # a gossip frame gets its encoding and hash without a Python re-encode.
            tx_bytes: bytes = msgpack.packb(value[1], use_bin_type=True)
            self.tx.__dict__["encoded"] = tx_bytes
            # [TAG_SIGNED_TX, tx, signature]: fixarray of 3, fixint tag, the tx, bin8 of 64.
            self.__dict__["encoded"] = (_SIGNED_TX_PREFIX + tx_bytes + _SIGNATURE_PREFIX
                                        + self.signature)

    @property
    def hash(self) -> bytes:
        return self.tx.hash

    def verify_signature(self) -> None:
        if not verify(self.tx.sender, self.tx.hash, self.signature):
            raise SignatureError("tx signature does not verify")

    def validate_basic(self) -> None:
        """Stateless checks including the signature (expensive: do it once per node)."""
        self.tx.validate_basic()
        self.verify_signature()


_SIGNED_TX_PREFIX = bytes([0x93, TAG_SIGNED_TX])
_SIGNATURE_PREFIX = bytes([0xC4, SIGNATURE_SIZE])
_BLOCK_PREFIX = bytes([0x93, TAG_BLOCK])


def _plain_args(args: tuple[Value, ...]) -> bool:
    """True if every argument encodes as it stands: scalars, integers within 64 bits."""
    for a in args:
        if type(a) is int:
            if not codec.MIN_NATIVE_INT <= a <= codec.MAX_NATIVE_INT:
                return False
        elif not (type(a) is str or type(a) is bytes or type(a) is bool or a is None):
            return False
    return True


def _array_header(n: int) -> bytes:
    """msgpack's header of an array of ``n`` items (fixarray, array 16 or array 32)."""
    if n < 16:
        return bytes([0x90 | n])
    if n < 1 << 16:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


# --- events and receipts ---------------------------------------------------------------

STATUS_OK = 0
STATUS_FAILED = 1  # the call reverted; the fee was paid
STATUS_INVALID = 2  # not executed (bad nonce, expired, fee unpayable); no state change


@record(TAG_EVENT)
@dataclass(frozen=True, eq=True)
class Event(Record):
    contract: str = wire(NAME)
    name: str = wire(NAME)
    fields: dict[str, Value] = wire(Map())


@record(TAG_RECEIPT)
@dataclass(frozen=True, eq=True)
class Receipt(Record):
    """The outcome of one tx in a block. It is hashed into the header, so a failure is
    told by a code and a place only — ``error_code`` (vm/faults.py), ``error_contract``
    and ``error_line`` (where in contract code it arose; "" and 0 outside it) — never by
    text, which could differ between the Python releases validators run. Messages for
    people are made off chain from these three."""

    WIRE_NOTE: ClassVar[str] = ("status: 0 ok, 1 failed (the call reverted, the fee was "
                                "paid), 2 invalid (not executed, no state change).")

    tx_hash: bytes = wire(HASH)
    status: int = wire(U(0, STATUS_INVALID))
    gas_used: int = wire(U64)
    fee: int = wire(U64)
    result: Value = wire(AnyValue(), default=None)
    events: tuple[Event, ...] = wire(Seq(Rec(Event), MAX_EVENTS_PER_RECEIPT), default=())
    error_code: str = wire(S(MAX_ERROR_CODE_CHARS), default="")
    error_contract: str = wire(NAME, default="")
    error_line: int = wire(U(0, MAX_ERROR_LINE), default=0)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


# --- validators ------------------------------------------------------------------------


@record(TAG_VALIDATOR)
@dataclass(frozen=True, eq=True)
class Validator(Record):
    public_key: bytes = wire(PUBLIC_KEY)
    name: str = wire(NAME, default="")

    @property
    def address(self) -> str:
        return address_of(self.public_key)


@record(TAG_VALIDATOR_SET)
@dataclass(frozen=True, eq=True)
class ValidatorSet(Record):
    """An ordered set of equal-weight validators. Order fixes proposer rotation.

    With n validators, f = (n - 1) // 3 may be faulty and a quorum is 2n // 3 + 1, so any
    two quorums share at least f + 1 validators, at least one of them honest.
    """

    validators: tuple[Validator, ...] = wire(Seq(Rec(Validator), MAX_VALIDATORS))
    _index: dict[bytes, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for i, v in enumerate(self.validators):
            self._index[v.public_key] = i

    def validate_basic(self) -> None:
        if not self.validators:
            raise ValidationError("validator set is empty")
        if len(self._index) != len(self.validators):
            raise ValidationError("validator set has a duplicate key")

    @functools.cached_property
    def hash(self) -> bytes:
        return tagged_hash(DOMAIN_VALSET, self.encoded)

    def __len__(self) -> int:
        return len(self.validators)

    def __contains__(self, public_key: object) -> bool:
        return public_key in self._index

    def index_of(self, public_key: bytes) -> int:
        return self._index[public_key]

    @property
    def public_keys(self) -> tuple[bytes, ...]:
        return tuple(v.public_key for v in self.validators)

    @property
    def max_faulty(self) -> int:
        return (len(self.validators) - 1) // 3

    @property
    def quorum(self) -> int:
        return 2 * len(self.validators) // 3 + 1

    def proposer(self, height: int, view: int, last: bytes | None = None) -> bytes:
        """The proposer of (height, view), the same on every node that holds block
        ``height - 1``, whose header names ``last`` as its proposer.

        Views rotate with ``height + view``, except view 1: it goes to ``last`` when that
        validator is in this set and did not propose view 0. A height leaves view 0 most
        often because its proposer is down, and the last proposer has just shown it is up;
        so a run of validators that are down next to each other in the rotation costs one
        view change a height, not one for each of them. A node without block
        ``height - 1`` (``last`` None) names the rotation's validator for view 1 and can
        disagree there only: every other view is the rotation's on every node."""
        n = len(self.validators)
        if view == 1 and last is not None and last in self._index:
            if self.validators[height % n].public_key != last:
                return last
        return self.validators[(height + view) % n].public_key


# --- blocks ----------------------------------------------------------------------------


@record(TAG_HEADER)
@dataclass(frozen=True, eq=True)
class BlockHeader(Record):
    """A block's header. ``state_root`` and ``receipts_root`` are *after* its txs ran.

    ``timestamp_ms`` is the proposer's clock (the only time execution ever sees);
    ``validator_set_hash`` is the set that certifies this block.
    """

    chain_id: str = wire(CHAIN_ID)
    height: int = wire(U64)
    prev_hash: bytes = wire(HASH)
    tx_root: bytes = wire(HASH)
    state_root: bytes = wire(HASH)
    receipts_root: bytes = wire(HASH)
    proposer: bytes = wire(PUBLIC_KEY)
    view: int = wire(U64)
    timestamp_ms: int = wire(U64)
    validator_set_hash: bytes = wire(HASH)

    @functools.cached_property
    def hash(self) -> bytes:
        return tagged_hash(DOMAIN_HEADER, self.encoded)


def tx_root(txs: Sequence[SignedTx]) -> bytes:
    return merkle_root([t.hash for t in txs])


def receipts_root(receipts: Sequence[Receipt]) -> bytes:
    return merkle_root([r.encoded for r in receipts])


@record(TAG_BLOCK)
@dataclass(frozen=True, eq=True)
class Block(Record):
    MAX_BYTES: ClassVar[int] = MAX_BLOCK_BYTES
    WIRE_NOTE: ClassVar[str] = "Encoded in at most 16 MiB; its hash is its header's."

    header: BlockHeader = wire(Rec(BlockHeader))
    txs: tuple[SignedTx, ...] = wire(Seq(Rec(SignedTx), MAX_BLOCK_TXS))

    @functools.cached_property
    def encoded(self) -> bytes:
        # The canonical encoding of a list is its header and its items' encodings in a
        # row, so a block is its txs' (cached) encodings joined: no walk over every field.
        return b"".join((_BLOCK_PREFIX, self.header.encoded, _array_header(len(self.txs)),
                         *(t.encoded for t in self.txs)))

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def height(self) -> int:
        return self.header.height

    def validate_basic(self, *, tx_root_checked: bool = False) -> None:
        """Shape checks; tx signatures are checked by the node (once per tx per node).

        ``tx_root_checked``: the caller has already matched the txs' hashes, in order,
        against the header's tx_root (a block rebuilt from a proposal by reference)."""
        h = self.header
        if h.height > 0 and h.prev_hash == ZERO_HASH:
            raise ValidationError("block above genesis has no parent hash")
        if not tx_root_checked and tx_root(self.txs) != h.tx_root:
            raise ValidationError("tx_root does not match the block's txs")
        seen: set[bytes] = set()
        for t in self.txs:
            if t.tx.chain_id != h.chain_id:
                raise ValidationError("tx of another chain in block")
            if t.hash in seen:
                raise ValidationError("tx appears twice in block")
            seen.add(t.hash)


# --- consensus votes and commit certificates -------------------------------------------

VOTE_PREPARE = 1
VOTE_COMMIT = 2


def vote_signing_bytes(kind: int, chain_id: str, height: int, view: int, block_hash: bytes) -> bytes:
    return DOMAIN_VOTE + codec.encode([kind, chain_id, height, view, block_hash])


@record(TAG_VOTE)
@dataclass(frozen=True, eq=True)
class Vote(Record):
    """A validator's signed PREPARE or COMMIT for a block at (height, view)."""

    WIRE_NOTE: ClassVar[str] = ("kind 1 PREPARE, 2 COMMIT; signature = Ed25519 over the vote "
                                "signing bytes (section 6).")

    kind: int = wire(U(VOTE_PREPARE, VOTE_COMMIT))
    chain_id: str = wire(CHAIN_ID)
    height: int = wire(U64)
    view: int = wire(U64)
    block_hash: bytes = wire(HASH)
    validator: bytes = wire(PUBLIC_KEY)
    signature: bytes = wire(SIGNATURE)

    @classmethod
    def create(
        cls, key: PrivateKey, kind: int, chain_id: str, height: int, view: int, block_hash: bytes
    ) -> Vote:
        sig = key.sign(vote_signing_bytes(kind, chain_id, height, view, block_hash))
        return cls(kind, chain_id, height, view, block_hash, key.public_key, sig)

    def signing_bytes(self) -> bytes:
        return vote_signing_bytes(self.kind, self.chain_id, self.height, self.view, self.block_hash)

    def verify_signature(self) -> bool:
        return verify(self.validator, self.signing_bytes(), self.signature)


@record(TAG_CERTIFICATE)
@dataclass(frozen=True, eq=True)
class CommitCertificate(Record):
    """A quorum of COMMIT signatures for one block at one (height, view).

    ``signatures`` are (validator public key, signature) pairs sorted by key, so one
    certificate has one encoding. Anyone holding the validator set can check finality.
    """

    WIRE_NOTE: ClassVar[str] = "signatures: [public key, signature] pairs sorted by key, no key twice."

    chain_id: str = wire(CHAIN_ID)
    height: int = wire(U64)
    view: int = wire(U64)
    block_hash: bytes = wire(HASH)
    signatures: tuple[tuple[bytes, bytes], ...] = wire(
        Seq(Pair(PUBLIC_KEY, SIGNATURE), MAX_VALIDATORS))

    @classmethod
    def from_votes(cls, votes: Sequence[Vote]) -> CommitCertificate:
        if not votes:
            raise ValueError("a certificate needs votes")
        first = votes[0]
        for v in votes:
            if (v.kind, v.chain_id, v.height, v.view, v.block_hash) != (
                VOTE_COMMIT,
                first.chain_id,
                first.height,
                first.view,
                first.block_hash,
            ):
                raise ValueError("votes of a certificate must be matching COMMITs")
        pairs = sorted({v.validator: v.signature for v in votes}.items())
        return cls(first.chain_id, first.height, first.view, first.block_hash, tuple(pairs))

    def verify(self, chain_id: str, validators: ValidatorSet) -> None:
        """Raise ValidationError unless a quorum of ``validators`` signed this commit."""
        if self.chain_id != chain_id:
            raise ValidationError("certificate is for another chain")
        keys = [k for k, _ in self.signatures]
        if keys != sorted(set(keys)):
            raise ValidationError("certificate signers are not sorted and unique")
        msg = vote_signing_bytes(VOTE_COMMIT, chain_id, self.height, self.view, self.block_hash)
        good = 0
        for key, sig in self.signatures:
            if key not in validators:
                raise ValidationError("certificate signed by a non-validator")
            if not verify(key, msg, sig):
                raise SignatureError("certificate carries a bad signature")
            good += 1
        if good < validators.quorum:
            raise ValidationError(f"certificate has {good} signatures, quorum is {validators.quorum}")
