"""The canonical codec: round trips, one encoding per value, and one error for bad bytes."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import codec
from core.codec import Value
from core.errors import DecodeError
from tests.core.strategies import fuzz_inputs, values


@given(values)
def test_round_trip(value: Value) -> None:
    data = codec.encode(value)
    assert codec.decode(data) == value
    assert codec.encode(codec.decode(data)) == data


@given(st.dictionaries(st.text(max_size=8), st.integers(), min_size=2, max_size=6))
def test_dict_encoding_ignores_insertion_order(d: dict[str, int]) -> None:
    reversed_d = dict(reversed(list(d.items())))
    assert codec.encode(d) == codec.encode(reversed_d)


@given(fuzz_inputs(values.map(codec.encode), max_size=200))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        value = codec.decode(data)
    except DecodeError:
        return
    # Whatever decodes is canonical: it encodes back to exactly the bytes it came from.
    assert codec.encode(value) == data
    assert codec.decode(codec.encode(value)) == value


@pytest.mark.parametrize(
    "data",
    [
        b"",
        msgpack.packb(1.5),  # floats are not Values
        msgpack.packb({1: 2}),  # non-str key
        b"\x82\xa1b\x01\xa1a\x02",  # map keys out of order: not canonical
        b"\xcd\x00\x05",  # 5 as uint16: not the minimal encoding
        b"\x01\x02",  # trailing bytes
        b"\xd4\x05\x00",  # foreign ext type
        msgpack.packb(msgpack.ExtType(1, b"\x00\x05")),  # big-int ext for a small int
        b"\x91" * 100 + b"\x00",  # nested too deeply
        b"\xdb\xff\xff\xff\xff",  # str32 with a huge length and no body
    ],
)
def test_non_canonical_or_foreign_input_is_refused(data: bytes) -> None:
    with pytest.raises(DecodeError):
        codec.decode(data)


def test_size_limit() -> None:
    data = codec.encode(b"x" * 1000)
    with pytest.raises(DecodeError):
        codec.decode(data, max_size=100)


@pytest.mark.parametrize("n", [2**64, -(2**63) - 1, 2**255, -(2**255), 2**256 - 1])
def test_big_integers_round_trip(n: int) -> None:
    assert codec.decode(codec.encode(n)) == n


def test_encode_refuses_non_values() -> None:
    for bad in (1.0, {1, 2}, {1: 2}, object(), 2**300):
        with pytest.raises(codec.EncodeError):
            codec.encode(bad)
