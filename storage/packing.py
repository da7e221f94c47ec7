"""How blocks and receipts are packed into store values (layout 3 of the store).

A block's value is its canonical encoding compressed with zlib, behind a one-byte marker:
a record's encoding starts with a msgpack array header (0x90..0x9f, 0xdc, 0xdd), never
0x00, so a value of layout 2 (the bare encoding) is still told apart and read. The txs'
addresses, field names and token names repeat within a block; signatures and hashes do
not compress, so a full block of transfers shrinks by about 40 %.

A block's receipts are one value: a u32 count, the u32 end offset of each receipt's
encoding, then the encodings, all behind the marker and compressed together. Each
receipt is kept without its tx hash (``MARK_ZLIB_NO_HASH``): the block holds the txs, in
the same order, and a hash does not compress, so this saves 34 bytes a tx; reading puts
the hash back where the canonical encoding has it. Values packed with their hashes
(``MARK_ZLIB``) are still read. Together
they compress to under a third (the same senders, recipients and event names recur in
every receipt of a block), and one receipt is read without decoding the others. Layout 2
kept one value per receipt under ``r1/``; those are still read (``ChainStore``).

The validator set certifying each height is stored once per change: a height whose set
is the one before it holds ``MARK_SAME`` and the height whose entry holds the encoding.

zlib at level 1: a 2,000-tx block's receipts (576 KB) take about 3 ms to compress and
2 ms to decompress on this project's reference machine (docs/PERFORMANCE.md); higher
levels gain a few % for twice the CPU.
"""

from __future__ import annotations

import struct
import zlib

from core.errors import DecodeError

MARK_ZLIB = b"\x00"
# The validator set certifying a height, when the same as an earlier height's: this
# marker and that height (u64), instead of the encoding again (ChainStore).
MARK_SAME = b"\x01"
MARK_ZLIB_NO_HASH = b"\x02"  # packed receipts whose tx hashes are the block's
# Where a receipt's canonical encoding holds its tx hash: after the array header and the
# record tag (one byte each), a bin8 header for 32 bytes, then the hash.
_HASH_AT = 2
_HASH_HEADER = b"\xc4\x20"
_HASH_FIELD = len(_HASH_HEADER) + 32
LEVEL = 1
_U32 = struct.Struct(">I")
# A block is at most core.types.MAX_BLOCK_BYTES; its receipts are bounded by their own
# limits. Inflating is capped anyway, so a damaged value cannot exhaust memory.
MAX_INFLATED_BYTES = 256 * 1024 * 1024


def pack_block(encoded: bytes) -> bytes:
    return MARK_ZLIB + zlib.compress(encoded, LEVEL)


def unpack_block(value: bytes) -> bytes:
    """The block's canonical encoding from a stored value of layout 3 or 2."""
    if value[:1] == MARK_ZLIB:
        return _inflate(value)
    return value


def pack_receipts(encoded: list[bytes], tx_hashes: list[bytes] | None = None) -> bytes:
    """The value of a block's receipts. Given the block's tx hashes, in order, each
    receipt is kept without its own (all of them, or none if one is not where expected)."""
    marker = MARK_ZLIB
    if tx_hashes is not None and len(tx_hashes) == len(encoded) and all(
        _holds(item, h) for item, h in zip(encoded, tx_hashes, strict=True)
    ):
        encoded = [item[:_HASH_AT] + item[_HASH_AT + _HASH_FIELD :] for item in encoded]
        marker = MARK_ZLIB_NO_HASH
    offsets = []
    end = 0
    for item in encoded:
        end += len(item)
        offsets.append(_U32.pack(end))
    raw = b"".join([_U32.pack(len(encoded)), *offsets, *encoded])
    return marker + zlib.compress(raw, LEVEL)


def without_hashes(value: bytes) -> bool:
    """Whether packed receipts need the block's tx hashes to be read."""
    return value[:1] == MARK_ZLIB_NO_HASH


def unpack_receipts(value: bytes, tx_hashes: list[bytes] | None = None) -> list[bytes]:
    """Every receipt encoding of a packed value, in tx order (``tx_hashes``: the block's,
    needed when ``without_hashes(value)``)."""
    raw, count, base = _open_receipts(value)
    stripped = without_hashes(value)
    if stripped and (tx_hashes is None or len(tx_hashes) != count):
        raise DecodeError("packed receipts do not match their block's txs")
    out = []
    start = 0
    for i in range(count):
        end = _U32.unpack_from(raw, 4 + 4 * i)[0]
        item = raw[base + start : base + end]
        out.append(_restore(item, tx_hashes[i]) if stripped and tx_hashes is not None else item)
        start = end
    return out


def unpack_receipt(value: bytes, index: int, tx_hash: bytes = b"") -> bytes | None:
    """The encoding of receipt ``index`` of a packed value (None: no such receipt);
    ``tx_hash``, that of the block's tx ``index``, is needed when ``without_hashes``."""
    raw, count, base = _open_receipts(value)
    if not 0 <= index < count:
        return None
    start = 0 if index == 0 else _U32.unpack_from(raw, 4 + 4 * (index - 1))[0]
    end = _U32.unpack_from(raw, 4 + 4 * index)[0]
    item = raw[base + start : base + end]
    if without_hashes(value):
        if len(tx_hash) != 32:
            raise DecodeError("packed receipts without hashes need the tx hash")
        return _restore(item, tx_hash)
    return item


def _holds(encoding: bytes, tx_hash: bytes) -> bool:
    return encoding[_HASH_AT : _HASH_AT + _HASH_FIELD] == _HASH_HEADER + tx_hash


def _restore(item: bytes, tx_hash: bytes) -> bytes:
    if len(item) < _HASH_AT:
        raise DecodeError("a packed receipt is truncated")
    return item[:_HASH_AT] + _HASH_HEADER + tx_hash + item[_HASH_AT:]


def _open_receipts(value: bytes) -> tuple[bytes, int, int]:
    if value[:1] not in (MARK_ZLIB, MARK_ZLIB_NO_HASH):
        raise DecodeError("packed receipts lack their marker")
    raw = _inflate(value)
    if len(raw) < 4:
        raise DecodeError("packed receipts are truncated")
    count = _U32.unpack_from(raw, 0)[0]
    base = 4 + 4 * count
    if base > len(raw):
        raise DecodeError("packed receipts are truncated")
    last = _U32.unpack_from(raw, base - 4)[0] if count else 0
    if base + last != len(raw):
        raise DecodeError("packed receipts' offsets do not match their length")
    previous = 0
    for i in range(count):
        end = _U32.unpack_from(raw, 4 + 4 * i)[0]
        if end < previous:
            raise DecodeError("packed receipts' offsets go backwards")
        previous = end
    return raw, count, base


def _inflate(value: bytes) -> bytes:
    d = zlib.decompressobj()
    try:
        raw = d.decompress(value[1:], MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise DecodeError(f"compressed value does not inflate: {exc}") from exc
    if d.unconsumed_tail or not d.eof:
        raise DecodeError("compressed value is truncated or too large")
    return raw
