"""The codec's and the records' fast paths give exactly the bytes of the reference path.

``encode`` packs a value holding no dict and no big integer as it stands; ``decode``
checks such a value against msgpack's own packing; a SignedTx decoded inside a container
takes its encodings from msgpack's C packer. Each is checked here against the slow
reference (``packb(canonical(v))`` and a record built fresh), including values that must
take the slow path (dicts in any order, integers beyond 64 bits, tuples)."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import codec
from core.codec import Value
from core.errors import DecodeError
from core.types import Block, SignedTx
from tests.core.strategies import blocks, signed_txs, values


def _reference(value: Value) -> bytes:
    out: bytes = msgpack.packb(codec.canonical(value), use_bin_type=True)
    return out


@given(values)
def test_encode_equals_the_reference(value: Value) -> None:
    assert codec.encode(value) == _reference(value)


@given(st.lists(values, max_size=6).map(tuple))
def test_tuples_encode_like_lists(value: tuple[Value, ...]) -> None:
    assert codec.encode(value) == codec.encode(list(value)) == _reference(list(value))


@given(values)
def test_decode_accepts_exactly_the_canonical_bytes(value: Value) -> None:
    data = codec.encode(value)
    assert codec.decode(data) == codec.decode(_reference(value))
    # The same value packed with its dicts in reverse order is refused whenever that
    # changes the bytes.
    def reverse(v: Value) -> Value:
        if type(v) is dict:
            return {k: reverse(v[k]) for k in reversed(list(v))}
        if type(v) is list:
            return [reverse(x) for x in v]
        return v

    try:
        other: bytes = msgpack.packb(reverse(codec.canonical(value)), use_bin_type=True)
    except (OverflowError, TypeError):
        return
    if other != data:
        with pytest.raises(DecodeError):
            codec.decode(other)


@given(signed_txs())
def test_signed_tx_decoded_in_a_container_has_the_reference_encodings(stx: SignedTx) -> None:
    fresh = SignedTx(stx.tx, stx.signature)
    wrapped = codec.decode(codec.encode([stx.to_value()]))
    decoded = SignedTx.from_value(wrapped[0])
    assert decoded.encoded == fresh.encoded
    assert decoded.tx.encoded == fresh.tx.encoded
    assert decoded.hash == fresh.hash


@given(blocks())
def test_block_round_trip_keeps_hashes(block: Block) -> None:
    again = Block.decode(block.encode())
    assert again == block and again.hash == block.hash
    assert [t.hash for t in again.txs] == [t.hash for t in block.txs]
    assert [t.encoded for t in again.txs] == [SignedTx(t.tx, t.signature).encoded for t in block.txs]


@given(blocks())
def test_block_encoding_joins_the_tx_encodings(block: Block) -> None:
    fresh = Block(block.header, tuple(SignedTx(t.tx, t.signature) for t in block.txs))
    assert fresh.encoded == codec.encode(block.to_value())


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 65535, 65536])
def test_array_headers_match_msgpack(n: int) -> None:
    from core.types import _array_header

    assert _array_header(n) == msgpack.packb([0] * n, use_bin_type=True)[: len(_array_header(n))]
    assert msgpack.packb([0] * n, use_bin_type=True) == _array_header(n) + b"\x00" * n
