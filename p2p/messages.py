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
from core.crypto import PUBLIC_KEY_SIZE, SIGNATURE_SIZE
from core.errors import DecodeError
from core.fields import read_bytes, read_int, read_list, read_str
from core.hashing import HASH_SIZE, sha256
from core.types import (
    MAX_CHAIN_ID_CHARS,
    MAX_CONSENSUS_MESSAGE_BYTES,
    Block,
    CommitCertificate,
    Record,
    SignedTx,
)

PROTOCOL_VERSION = 1
CHALLENGE_SIZE = 32
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

DOMAIN_HANDSHAKE = b"hkchain/p2p-handshake/1\x00"

TAG_HELLO = 101
TAG_AUTH = 102
TAG_STATUS = 103
TAG_TX_ANNOUNCE = 110
TAG_TX_REQUEST = 111
TAG_TXS = 112
TAG_CONSENSUS = 120
TAG_BLOCKS_REQUEST = 130
TAG_BLOCKS = 131
TAG_GOODBYE = 140
TAG_BLOB_REQUEST = 150
TAG_BLOB = 151
# Content-addressed files (culture works) travel whole; node/blobs.py keeps them.
MAX_BLOB_BYTES = 10 * 1024 * 1024


def _hashes(v: Any, what: str) -> tuple[bytes, ...]:
    return tuple(read_bytes(h, what, HASH_SIZE) for h in read_list(v, what, MAX_HASHES_PER_FRAME))


class Frame:
    TAG: ClassVar[int]

    def to_value(self) -> list[Any]:
        raise NotImplementedError

    def encode(self) -> bytes:
        return codec.encode(self.to_value())


@dataclass(frozen=True)
class Hello(Frame):
    """First frame from each side: who I am, which chain, and a fresh challenge."""

    TAG: ClassVar[int] = TAG_HELLO

    version: int
    chain_id: str
    genesis_hash: bytes
    public_key: bytes
    challenge: bytes
    height: int

    def to_value(self) -> list[Any]:
        return [self.TAG, self.version, self.chain_id, self.genesis_hash, self.public_key,
                self.challenge, self.height]

    @classmethod
    def from_value(cls, f: list[Any]) -> Hello:
        _check_len(f, 6, "Hello")
        return cls(
            read_int(f[1], "version"),
            read_str(f[2], "chain_id", MAX_CHAIN_ID_CHARS),
            read_bytes(f[3], "genesis_hash", HASH_SIZE),
            read_bytes(f[4], "public_key", PUBLIC_KEY_SIZE),
            read_bytes(f[5], "challenge", CHALLENGE_SIZE),
            read_int(f[6], "height"),
        )


@dataclass(frozen=True)
class Auth(Frame):
    """The answer to the other side's challenge: a signature by the node key."""

    TAG: ClassVar[int] = TAG_AUTH

    signature: bytes

    def to_value(self) -> list[Any]:
        return [self.TAG, self.signature]

    @classmethod
    def from_value(cls, f: list[Any]) -> Auth:
        _check_len(f, 1, "Auth")
        return cls(read_bytes(f[1], "signature", SIGNATURE_SIZE))


@dataclass(frozen=True)
class Status(Frame):
    """The sender's committed height, sent after each commit so peers know who is ahead."""

    TAG: ClassVar[int] = TAG_STATUS

    height: int

    def to_value(self) -> list[Any]:
        return [self.TAG, self.height]

    @classmethod
    def from_value(cls, f: list[Any]) -> Status:
        _check_len(f, 1, "Status")
        return cls(read_int(f[1], "height"))


@dataclass(frozen=True)
class TxAnnounce(Frame):
    """Hashes of txs the sender holds; the receiver asks for the ones it lacks."""

    TAG: ClassVar[int] = TAG_TX_ANNOUNCE

    hashes: tuple[bytes, ...]

    def to_value(self) -> list[Any]:
        return [self.TAG, list(self.hashes)]

    @classmethod
    def from_value(cls, f: list[Any]) -> TxAnnounce:
        _check_len(f, 1, "TxAnnounce")
        return cls(_hashes(f[1], "hashes"))


@dataclass(frozen=True)
class TxRequest(Frame):
    TAG: ClassVar[int] = TAG_TX_REQUEST

    hashes: tuple[bytes, ...]

    def to_value(self) -> list[Any]:
        return [self.TAG, list(self.hashes)]

    @classmethod
    def from_value(cls, f: list[Any]) -> TxRequest:
        _check_len(f, 1, "TxRequest")
        return cls(_hashes(f[1], "hashes"))


@dataclass(frozen=True)
class Txs(Frame):
    """Tx bodies, sent only in answer to a TxRequest."""

    TAG: ClassVar[int] = TAG_TXS

    txs: tuple[SignedTx, ...]

    def to_value(self) -> list[Any]:
        return [self.TAG, [t.to_value() for t in self.txs]]

    @classmethod
    def from_value(cls, f: list[Any]) -> Txs:
        _check_len(f, 1, "Txs")
        return cls(tuple(prime_encoding(SignedTx.from_value(t))
                         for t in read_list(f[1], "txs", MAX_TXS_PER_FRAME)))


@dataclass(frozen=True)
class ConsensusFrame(Frame):
    """One consensus message, encoded by consensus/messages.py."""

    TAG: ClassVar[int] = TAG_CONSENSUS

    payload: bytes

    def to_value(self) -> list[Any]:
        return [self.TAG, self.payload]

    @classmethod
    def from_value(cls, f: list[Any]) -> ConsensusFrame:
        _check_len(f, 1, "ConsensusFrame")
        return cls(read_bytes(f[1], "payload", max_size=MAX_CONSENSUS_MSG_BYTES))


@dataclass(frozen=True)
class BlocksRequest(Frame):
    """Ask for committed blocks ``from_height`` .. ``from_height + count - 1``."""

    TAG: ClassVar[int] = TAG_BLOCKS_REQUEST

    from_height: int
    count: int

    def to_value(self) -> list[Any]:
        return [self.TAG, self.from_height, self.count]

    @classmethod
    def from_value(cls, f: list[Any]) -> BlocksRequest:
        _check_len(f, 2, "BlocksRequest")
        return cls(read_int(f[1], "from_height", 1), read_int(f[2], "count", 1, MAX_BLOCKS_PER_FRAME))


@dataclass(frozen=True)
class Blocks(Frame):
    """Committed blocks with their certificates, consecutive, in height order."""

    TAG: ClassVar[int] = TAG_BLOCKS

    blocks: tuple[tuple[Block, CommitCertificate], ...]
    # The sender's head height, so the receiver knows whether to ask for more.
    head_height: int

    def to_value(self) -> list[Any]:
        return [self.TAG, [[b.to_value(), c.to_value()] for b, c in self.blocks], self.head_height]

    @classmethod
    def from_value(cls, f: list[Any]) -> Blocks:
        _check_len(f, 2, "Blocks")
        out = []
        for pair in read_list(f[1], "blocks", MAX_BLOCKS_PER_FRAME):
            p = read_list(pair, "block pair", 2)
            if len(p) != 2:
                raise DecodeError("block pair must have two items")
            out.append((prime_block(Block.from_value(p[0])), CommitCertificate.from_value(p[1])))
        return cls(tuple(out), read_int(f[2], "head_height"))


@dataclass(frozen=True)
class Goodbye(Frame):
    """Why the sender is closing the connection (handshake refusals say why)."""

    TAG: ClassVar[int] = TAG_GOODBYE

    reason: str

    def to_value(self) -> list[Any]:
        return [self.TAG, self.reason]

    @classmethod
    def from_value(cls, f: list[Any]) -> Goodbye:
        _check_len(f, 1, "Goodbye")
        return cls(read_str(f[1], "reason", MAX_REASON_CHARS))


@dataclass(frozen=True)
class BlobRequest(Frame):
    """Ask a peer for the blob whose SHA-256 is ``blob_hash``."""

    TAG: ClassVar[int] = TAG_BLOB_REQUEST

    blob_hash: bytes

    def to_value(self) -> list[Any]:
        return [self.TAG, self.blob_hash]

    @classmethod
    def from_value(cls, f: list[Any]) -> BlobRequest:
        _check_len(f, 1, "BlobRequest")
        return cls(read_bytes(f[1], "blob_hash", HASH_SIZE))


@dataclass(frozen=True)
class Blob(Frame):
    """The answer to a BlobRequest: the bytes, or ``found`` False (then ``data`` is empty).
    The receiver checks the hash itself; the sender is not trusted."""

    TAG: ClassVar[int] = TAG_BLOB

    blob_hash: bytes
    found: bool
    data: bytes

    def to_value(self) -> list[Any]:
        return [self.TAG, self.blob_hash, self.found, self.data]

    @classmethod
    def from_value(cls, f: list[Any]) -> Blob:
        _check_len(f, 3, "Blob")
        if type(f[2]) is not bool:
            raise DecodeError("found: expected a bool")
        return cls(read_bytes(f[1], "blob_hash", HASH_SIZE), f[2],
                   read_bytes(f[3], "data", max_size=MAX_BLOB_BYTES))


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


def _prime(record: Record) -> None:
    if "encoded" not in record.__dict__:
        try:
            data = msgpack.packb(record.to_value(), use_bin_type=True)
        except (OverflowError, TypeError, ValueError):
            data = codec.encode(record.to_value())
        record.__dict__["encoded"] = data


def _check_len(f: list[Any], n: int, what: str) -> None:
    if len(f) != n + 1:
        raise DecodeError(f"a {what} frame has {n} fields")


_DECODERS: dict[int, Any] = {
    c.TAG: c.from_value
    for c in (Hello, Auth, Status, TxAnnounce, TxRequest, Txs, ConsensusFrame, BlocksRequest,
              Blocks, Goodbye, BlobRequest, Blob)
}


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
    chain_id: str, genesis_hash: bytes, challenge: bytes, signer: bytes, verifier: bytes
) -> bytes:
    """What a node signs to answer ``challenge``: bound to chain, genesis and both keys,
    so a signature cannot be replayed on another chain, network or connection."""
    return DOMAIN_HANDSHAKE + sha256(
        codec.encode([chain_id, genesis_hash, challenge, signer, verifier])
    )
