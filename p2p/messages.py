"""The frames peers exchange, one frozen dataclass per kind.

A frame is the canonical msgpack (core.codec) of ``[TAG, field…]``. ``decode_frame`` is
the one decode path: strict codec, exact field types and sizes, every failure one
DecodeError (the connection that sent it is dropped). Consensus messages travel opaque
(bytes) and are decoded by the consensus package; blocks and txs travel as their own
canonical values inside the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import msgpack

from core import codec
from core.errors import DecodeError
from core.hashing import sha256
from core.merkle import merkle_root
from core.schema import (
    CHAIN_ID,
    HASH,
    PUBLIC_KEY,
    SIGNATURE,
    U64,
    B,
    Bool,
    Opt,
    Pair,
    Rec,
    S,
    Seq,
    U,
    record,
    wire,
)
from core.types import (
    MAX_BLOCK_TXS,
    MAX_CONSENSUS_MESSAGE_BYTES,
    MAX_VALIDATORS,
    Block,
    BlockHeader,
    CommitCertificate,
    Record,
    SignedTx,
    Vote,
)

# 2: frames after the handshake are sealed (p2p/secure.py); Auth carries the ephemeral key.
# 3: PRE-PREPAREs travel by reference (Proposal, ProposalTxsRequest, ProposalTxs), and a
# collector's VoteBundle may carry a quorum of votes: frames a version 2 node would take
# for unknown ones; the handshake is version 2's, domains too.
# Hello keeps one layout in every version, so any two versions can refuse each other clearly.
PROTOCOL_VERSION = 3
CHALLENGE_SIZE = 32
EPHEMERAL_KEY_SIZE = 32
STREAM_HEADER_SIZE = 24
MAX_HASHES_PER_FRAME = 8192
MAX_TXS_PER_FRAME = 4096
MAX_BLOCKS_PER_FRAME = 256
MAX_CONSENSUS_MSG_BYTES = MAX_CONSENSUS_MESSAGE_BYTES
MAX_REASON_CHARS = 256
# Frames carry blocks (sync: one block alone if it is big, and never more than
# p2p/sync.py's MAX_SERVE_BYTES of several) and consensus messages: the largest is the
# largest consensus message plus the frame's own tag and length. p2p.max_frame_bytes may
# not be set below it, so every legal frame is admitted.
MAX_FRAME_BYTES = MAX_CONSENSUS_MSG_BYTES + 1024

DOMAIN_HANDSHAKE = b"hkchain/p2p-handshake/2\x00"

TAG_HELLO = 101
TAG_AUTH = 102
TAG_STATUS = 103
TAG_STREAM_START = 104
TAG_TX_ANNOUNCE = 110
TAG_TX_REQUEST = 111
TAG_TXS = 112
TAG_CONSENSUS = 120
TAG_PROPOSAL = 121
TAG_PROPOSAL_TXS_REQUEST = 122
TAG_PROPOSAL_TXS = 123
TAG_VOTE_BUNDLE = 124
TAG_BLOCKS_REQUEST = 130
TAG_BLOCKS = 131
TAG_GOODBYE = 140
TAG_BLOB_REQUEST = 150
TAG_BLOB = 151
TAG_SNAPSHOT_REQUEST = 160
TAG_SNAPSHOT_OFFER = 161
TAG_VALSET_CHANGES_REQUEST = 162
TAG_VALSET_CHANGES = 163
TAG_STATE_REQUEST = 164
TAG_STATE_PARTS = 165
# Content-addressed files (culture works) travel whole; node/blobs.py keeps them.
MAX_BLOB_BYTES = 10 * 1024 * 1024


def prime_encoding(stx: SignedTx) -> SignedTx:
    """Cache the canonical bytes of a SignedTx decoded from a verified-canonical frame.

    ``codec.decode`` has already checked that the whole frame is canonical, so each
    nested value re-packs to its canonical bytes with plain msgpack (C) instead of
    ``codec.canonical`` (Python): hashing the txs of a 2,000-tx block gets ~6x cheaper.
    Integers beyond 64 bits (encoded as ext) fall back to the canonical encoder.
    """
    _prime(stx.tx)
    _prime(stx)
    return stx


def prime_block(block: Block) -> Block:
    """``prime_encoding`` for a decoded block: its txs, header and the block itself."""
    for stx in block.txs:
        prime_encoding(stx)
    _prime(block.header)
    _prime(block)
    return block


def prime_header(header: BlockHeader) -> BlockHeader:
    """``prime_encoding`` for a decoded header."""
    _prime(header)
    return header


def _prime(rec: Record) -> None:
    if "encoded" not in rec.__dict__:
        try:
            data = msgpack.packb(rec.to_value(), use_bin_type=True)
        except (OverflowError, TypeError, ValueError):
            data = codec.encode(rec.to_value())
        rec.__dict__["encoded"] = data


HASHES = Seq(HASH, MAX_HASHES_PER_FRAME)


class Frame:
    """Base of the frames; ``core.schema.record`` installs each one's encoding."""

    TAG: ClassVar[int]

    def to_value(self) -> list[Any]:
        raise NotImplementedError

    @classmethod
    def from_value(cls, value: Any) -> Any:
        raise NotImplementedError

    def encode(self) -> bytes:
        return codec.encode(self.to_value())


@record(TAG_HELLO)
@dataclass(frozen=True)
class Hello(Frame):
    """First frame from each side: who I am, which chain, and a fresh challenge."""

    version: int = wire(U64)
    chain_id: str = wire(CHAIN_ID)
    genesis_hash: bytes = wire(HASH)
    public_key: bytes = wire(PUBLIC_KEY)
    challenge: bytes = wire(B(CHALLENGE_SIZE))
    height: int = wire(U64)


@record(TAG_AUTH)
@dataclass(frozen=True)
class Auth(Frame):
    """The answer to the other side's challenge: the sender's ephemeral X25519 key for
    this link, and a signature by its node key over both, bound to the challenge."""

    signature: bytes = wire(SIGNATURE)
    ephemeral_key: bytes = wire(B(EPHEMERAL_KEY_SIZE))


@record(TAG_STREAM_START)
@dataclass(frozen=True)
class StreamStart(Frame):
    """The last handshake frame, the first sent after both Auths verified: the header
    (random nonce) of the sender's secretstream. Every later message is sealed."""

    header: bytes = wire(B(STREAM_HEADER_SIZE))


@record(TAG_STATUS)
@dataclass(frozen=True)
class Status(Frame):
    """The sender's committed height, sent after each commit so peers know who is ahead."""

    height: int = wire(U64)


@record(TAG_TX_ANNOUNCE)
@dataclass(frozen=True)
class TxAnnounce(Frame):
    """Hashes of txs the sender holds; the receiver asks for the ones it lacks."""

    hashes: tuple[bytes, ...] = wire(HASHES)


@record(TAG_TX_REQUEST)
@dataclass(frozen=True)
class TxRequest(Frame):
    hashes: tuple[bytes, ...] = wire(HASHES)


@record(TAG_TXS)
@dataclass(frozen=True)
class Txs(Frame):
    """Tx bodies: asked for by a TxRequest, or pushed by the node a client gave them to."""

    txs: tuple[SignedTx, ...] = wire(Seq(Rec(SignedTx, then=prime_encoding), MAX_TXS_PER_FRAME))


@record(TAG_CONSENSUS)
@dataclass(frozen=True)
class ConsensusFrame(Frame):
    """One consensus message, encoded by consensus/messages.py."""

    payload: bytes = wire(B(max_size=MAX_CONSENSUS_MSG_BYTES))


@record(TAG_PROPOSAL)
@dataclass(frozen=True)
class Proposal(Frame):
    """A PRE-PREPARE by reference: the proposed block's header and its txs' hashes in
    block order, with the proposer's PRE-PREPARE signature, which covers the header's
    hash only (consensus/messages.py PrePrepare). The receiver rebuilds the block from
    the bodies it holds and asks the sender for the rest (ProposalTxsRequest)."""

    WIRE_NOTE: ClassVar[str] = ("view is 0; header is of chain_id and height; tx_hashes are "
                                "unique and their Merkle root is the header's tx_root.")

    chain_id: str = wire(CHAIN_ID)
    height: int = wire(U64)
    view: int = wire(U(0, 0))
    header: BlockHeader = wire(Rec(BlockHeader, then=prime_header))
    tx_hashes: tuple[bytes, ...] = wire(Seq(HASH, MAX_BLOCK_TXS))
    proposer: bytes = wire(PUBLIC_KEY)
    signature: bytes = wire(SIGNATURE)

    def _decoded(self, value: Any) -> None:
        h = self.header
        if h.chain_id != self.chain_id or h.height != self.height:
            raise DecodeError("a proposal's header is of another chain or height")
        if len(set(self.tx_hashes)) != len(self.tx_hashes):
            raise DecodeError("a proposal names a tx twice")
        if merkle_root(self.tx_hashes) != h.tx_root:
            raise DecodeError("a proposal's tx hashes are not its header's tx_root")


@record(TAG_PROPOSAL_TXS_REQUEST)
@dataclass(frozen=True)
class ProposalTxsRequest(Frame):
    """Ask the peer that sent a Proposal for the bodies of its txs at ``indexes``
    (positions in its tx_hashes, ascending, none twice)."""

    block_hash: bytes = wire(HASH)
    indexes: tuple[int, ...] = wire(Seq(U(0, MAX_BLOCK_TXS - 1), MAX_BLOCK_TXS))

    def _decoded(self, value: Any) -> None:
        if not self.indexes:
            raise DecodeError("a proposal txs request asks for no tx")
        if any(a >= b for a, b in zip(self.indexes, self.indexes[1:], strict=False)):
            raise DecodeError("a proposal txs request's indexes are not ascending and unique")


@record(TAG_PROPOSAL_TXS)
@dataclass(frozen=True)
class ProposalTxs(Frame):
    """The answer to a ProposalTxsRequest: the bodies asked for, in the order asked; none
    if the sender no longer holds that block. The receiver checks each against its hash."""

    block_hash: bytes = wire(HASH)
    txs: tuple[SignedTx, ...] = wire(Seq(Rec(SignedTx, then=prime_encoding), MAX_BLOCK_TXS))


@record(TAG_VOTE_BUNDLE)
@dataclass(frozen=True)
class VoteBundle(Frame):
    """A quorum of PREPAREs or COMMITs that the view's collector (its proposer) gathered,
    sent to every validator in one frame instead of each vote to each validator."""

    votes: tuple[Vote, ...] = wire(Seq(Rec(Vote), MAX_VALIDATORS))


@record(TAG_BLOCKS_REQUEST)
@dataclass(frozen=True)
class BlocksRequest(Frame):
    """Ask for committed blocks ``from_height`` .. ``from_height + count - 1``."""

    from_height: int = wire(U(1))
    count: int = wire(U(1, MAX_BLOCKS_PER_FRAME))


@record(TAG_BLOCKS)
@dataclass(frozen=True)
class Blocks(Frame):
    """Committed blocks with their certificates, consecutive, in height order."""

    blocks: tuple[tuple[Block, CommitCertificate], ...] = wire(
        Seq(Pair(Rec(Block, then=prime_block), Rec(CommitCertificate)), MAX_BLOCKS_PER_FRAME))
    # The sender's head height, so the receiver knows whether to ask for more.
    head_height: int = wire(U64)


@record(TAG_GOODBYE)
@dataclass(frozen=True)
class Goodbye(Frame):
    """Why the sender is closing the connection (handshake refusals say why)."""

    reason: str = wire(S(MAX_REASON_CHARS))


@record(TAG_BLOB_REQUEST)
@dataclass(frozen=True)
class BlobRequest(Frame):
    """Ask a peer for the blob whose SHA-256 is ``blob_hash``."""

    blob_hash: bytes = wire(HASH)


@record(TAG_BLOB)
@dataclass(frozen=True)
class Blob(Frame):
    """The answer to a BlobRequest: the bytes, or ``found`` False (then ``data`` is empty).
    The receiver checks the hash itself; the sender is not trusted."""

    blob_hash: bytes = wire(HASH)
    found: bool = wire(Bool())
    data: bytes = wire(B(max_size=MAX_BLOB_BYTES))


# --- state sync (p2p/statesync.py, docs/OBSERVERS.md "Joining by state sync") ----------

MAX_VALSET_CHANGES_PER_FRAME = 256
MAX_SCHEDULE_BYTES = 1 << 20  # the validator schedule: at most 17 sets of at most 256
MAX_PROOF_BYTES = 64 * 1024  # a StateProof: at most 64 levels of 15 hashes
MAX_STATE_PATHS = 256
MAX_PART_ENTRIES = 1 << 16
MAX_PATH_NIBBLES = 63
STATE_OK = 0
STATE_NOT_KEPT = 1  # the sender no longer keeps (or never had) that height's state
STATE_BUSY = 2  # the sender serves enough parts now: ask again later, or another peer


def _check_path(path: bytes) -> None:
    if any(b > 15 for b in path):
        raise DecodeError("a state path is nibbles: bytes 0..15")


@record(None)
@dataclass(frozen=True)
class ValsetChange(Record):
    """A block that decided a validator-set change: its certified header, and the
    validator schedule (vm/layout.py ``sys/validators``) with its proof under the header's
    state root, so a joining node learns each new set from a certificate of the old."""

    header: BlockHeader = wire(Rec(BlockHeader))
    certificate: CommitCertificate = wire(Rec(CommitCertificate))
    schedule: bytes = wire(B(max_size=MAX_SCHEDULE_BYTES))
    proof: bytes = wire(B(max_size=MAX_PROOF_BYTES))


@record(None)
@dataclass(frozen=True)
class StatePart(Record):
    """The subtree of the state tree at ``path``: its node (``bitmap`` of non-empty
    slots, one hash per set bit, no entries) or its leaves (``bitmap`` 0, the (key, value)
    pairs under the path in key-hash order)."""

    path: bytes = wire(B(max_size=MAX_PATH_NIBBLES))
    bitmap: int = wire(U(0, (1 << 16) - 1))
    hashes: tuple[bytes, ...] = wire(Seq(HASH, 16))
    entries: tuple[tuple[bytes, bytes], ...] = wire(
        Seq(Pair(B(max_size=1024), B(max_size=1 << 20)), MAX_PART_ENTRIES))

    def _decoded(self, value: Any) -> None:
        _check_path(self.path)
        if self.bitmap:
            if self.entries or len(self.hashes) != self.bitmap.bit_count():
                raise DecodeError("a node part has one hash per bit and no entries")
        elif self.hashes or not self.entries:
            raise DecodeError("a leaves part has entries and no hashes")


@record(TAG_SNAPSHOT_REQUEST)
@dataclass(frozen=True)
class SnapshotRequest(Frame):
    """Ask for the sender's latest certified height to start a state sync from."""

    min_height: int = wire(U64)


@record(TAG_SNAPSHOT_OFFER)
@dataclass(frozen=True)
class SnapshotOffer(Frame):
    """The answer: a committed block with its certificate (nil: none to offer)."""

    block: Block | None = wire(Opt(Rec(Block, then=prime_block)))
    certificate: CommitCertificate | None = wire(Opt(Rec(CommitCertificate)))

    def _decoded(self, value: Any) -> None:
        if (self.block is None) != (self.certificate is None):
            raise DecodeError("a snapshot offer has both a block and its certificate, or neither")


@record(TAG_VALSET_CHANGES_REQUEST)
@dataclass(frozen=True)
class ValsetChangesRequest(Frame):
    """Ask for the validator-set changes decided at heights from_height..to_height."""

    from_height: int = wire(U64)
    to_height: int = wire(U64)


@record(TAG_VALSET_CHANGES)
@dataclass(frozen=True)
class ValsetChanges(Frame):
    """The changes asked for, in height order; fewer than asked if the frame filled up
    (ask again after the last), none once there are no more."""

    changes: tuple[ValsetChange, ...] = wire(Seq(Rec(ValsetChange), MAX_VALSET_CHANGES_PER_FRAME))


@record(TAG_STATE_REQUEST)
@dataclass(frozen=True)
class StateRequest(Frame):
    """Ask for the parts at ``paths`` of the state tree of ``height``: nodes shallower
    than ``leaves_from_depth``, leaves from there down (a node if they are too many)."""

    height: int = wire(U64)
    leaves_from_depth: int = wire(U(0, MAX_PATH_NIBBLES))
    paths: tuple[bytes, ...] = wire(Seq(B(max_size=MAX_PATH_NIBBLES), MAX_STATE_PATHS))

    def _decoded(self, value: Any) -> None:
        for path in self.paths:
            _check_path(path)


@record(TAG_STATE_PARTS)
@dataclass(frozen=True)
class StateParts(Frame):
    """The parts of the first paths asked for, in the order asked (as many as fit), with
    ``status`` 0; or ``status`` 1 (that height is not kept) or 2 (busy) and no parts."""

    height: int = wire(U64)
    status: int = wire(U(STATE_OK, STATE_BUSY))
    parts: tuple[StatePart, ...] = wire(Seq(Rec(StatePart), MAX_STATE_PATHS))


_DECODERS: dict[int, Any] = {
    c.TAG: c.from_value
    for c in (Hello, Auth, StreamStart, Status, TxAnnounce, TxRequest, Txs, ConsensusFrame,
              Proposal, ProposalTxsRequest, ProposalTxs, VoteBundle, BlocksRequest, Blocks, Goodbye,
              BlobRequest, Blob, SnapshotRequest, SnapshotOffer, ValsetChangesRequest,
              ValsetChanges, StateRequest, StateParts)
}


FRAME_TAGS = tuple(_DECODERS)


def decode_frame(data: bytes, max_size: int = MAX_FRAME_BYTES) -> Frame:
    """The frame in ``data``; DecodeError for anything else."""
    value = codec.decode(data, max_size)
    if type(value) is not list or not value or type(value[0]) is not int:
        raise DecodeError("a frame is a list starting with an integer tag")
    decoder = _DECODERS.get(value[0])
    if decoder is None:
        raise DecodeError(f"unknown frame tag {value[0]}")
    frame: Frame = decoder(value)
    return frame


def handshake_signing_bytes(
    chain_id: str, genesis_hash: bytes, challenge: bytes, signer: bytes, verifier: bytes,
    ephemeral_key: bytes,
) -> bytes:
    """What a node signs to answer ``challenge``: bound to chain, genesis, both keys and
    the signer's ephemeral key for this link, so a signature cannot be replayed on another
    chain, network or connection, nor an ephemeral key be swapped on the path."""
    return DOMAIN_HANDSHAKE + sha256(
        codec.encode([chain_id, genesis_hash, challenge, signer, verifier, ephemeral_key])
    )


def hello_version(data: bytes, max_size: int = MAX_FRAME_BYTES) -> int | None:
    """The version a Hello claims, read before the Hello is decoded in full, so a peer of
    another protocol version is refused as such even if its Hello differs; None if
    ``data`` is not a Hello with an integer version."""
    try:
        value = codec.decode(data, max_size)
    except DecodeError:
        return None
    if (type(value) is list and len(value) >= 2 and type(value[0]) is int
            and value[0] == TAG_HELLO and type(value[1]) is int):
        return value[1]
    return None
