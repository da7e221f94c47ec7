"""The ASCII parsers of typed text (URL segments, query strings, CLI arguments):
``str.isdigit`` and ``bytes.fromhex`` accept more than a number or hex, these do not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import DecodeError
from core.fields import MAX_U64, is_decimal, parse_hex, parse_uint


@pytest.mark.parametrize("text", ["²", "١٢", "٣", "𝟙", "12\n", " 1", "1 ", "-1", "+1", "1_0", "", "0x1",
                                  str(MAX_U64 + 1), "1" * 21])
def test_text_that_is_not_a_u64_in_ascii_digits_is_refused(text: str) -> None:
    assert not is_decimal(text) or int(text) > MAX_U64
    with pytest.raises(DecodeError) as info:
        parse_uint(text, "height")
    assert info.value.code == "malformed" and "height" in info.value.message


@given(st.integers(0, MAX_U64))
def test_every_u64_round_trips(n: int) -> None:
    assert is_decimal(str(n)) and parse_uint(str(n), "n") == n


@given(st.text(max_size=30))
def test_any_text_parses_as_the_ascii_number_or_raises_decode_error(text: str) -> None:
    ascii_number = text != "" and all("0" <= c <= "9" for c in text) and int(text) <= MAX_U64
    try:
        value = parse_uint(text, "n")
    except DecodeError:
        assert not ascii_number
    else:
        assert ascii_number and value == int(text)


def test_an_upper_bound_is_named() -> None:
    assert parse_uint("10", "n", hi=10) == 10
    with pytest.raises(DecodeError, match="at most 10"):
        parse_uint("11", "n", hi=10)


@given(st.binary(max_size=64), st.booleans(), st.booleans())
def test_hex_round_trips(data: bytes, prefix: bool, upper: bool) -> None:
    text = data.hex().upper() if upper else data.hex()
    assert parse_hex(("0x" if prefix else "") + text, "key") == data


@pytest.mark.parametrize("text", ["a", "ab cd", "zz", "²²", "0xg0", "ab\n", " ab", "0X00", "ab" * 5])
def test_bad_hex_is_refused(text: str) -> None:
    with pytest.raises(DecodeError):
        parse_hex(text, "key", max_size=4)


def test_hex_of_the_wrong_size_is_refused() -> None:
    assert parse_hex("00" * 32, "hash", 32) == bytes(32)
    with pytest.raises(DecodeError, match="32 bytes"):
        parse_hex("00" * 31, "hash", 32)
