"""Strict readers of decoded record fields, shared by every canonical record and wire
message (core.types, consensus.messages, p2p.messages).

Each reader takes a decoded msgpack value and returns it with its exact type, or raises
DecodeError naming the field: ``bool`` is not an int, a list is not bytes, sizes are bounded.

``is_decimal``, ``parse_uint`` and ``parse_hex`` read numbers and bytes a person or a client typed (URL path
segments, query strings, CLI arguments): ASCII only. ``str.isdigit`` is not the test for a
number: it accepts "²" and "٣", which ``int()`` then refuses or reads differently, and
``bytes.fromhex`` skips spaces. Every parser of such text goes through these.
"""

from __future__ import annotations

import re
from typing import Any

from core.crypto import PUBLIC_KEY_SIZE, SIGNATURE_SIZE
from core.errors import DecodeError

MAX_U64 = (1 << 64) - 1
MAX_NAME_CHARS = 64
MAX_FIELD_BYTES = 64 * 1024
MAX_SIGNATURES = 256
MAX_U64_DIGITS = 20

_DECIMAL = re.compile(r"[0-9]+")  # [0-9] is ASCII only, unlike \d
_HEX = re.compile(r"(?:0x)?((?:[0-9a-fA-F]{2})*)")


def read_int(v: Any, what: str, lo: int = 0, hi: int = MAX_U64) -> int:
    if type(v) is not int or not lo <= v <= hi:
        raise DecodeError(f"{what}: expected an integer in [{lo}, {hi}]")
    return v


def read_bytes(
    v: Any, what: str, size: int | None = None, max_size: int = MAX_FIELD_BYTES
) -> bytes:
    if type(v) is not bytes or (size is not None and len(v) != size) or len(v) > max_size:
        raise DecodeError(f"{what}: expected {size if size is not None else 'some'} bytes")
    return v


def read_str(v: Any, what: str, max_chars: int = MAX_NAME_CHARS) -> str:
    if type(v) is not str or len(v) > max_chars:
        raise DecodeError(f"{what}: expected a string of at most {max_chars} characters")
    return v


def read_list(v: Any, what: str, max_len: int) -> list[Any]:
    if type(v) is not list or len(v) > max_len:
        raise DecodeError(f"{what}: expected a list of at most {max_len} items")
    return v


def read_record(v: Any, tag: int, n: int, what: str) -> list[Any]:
    """The ``[TAG, field…]`` list of a record with ``n`` fields and type tag ``tag``."""
    if type(v) is not list or len(v) != n + 1 or type(v[0]) is not int or v[0] != tag:
        raise DecodeError(f"expected a {what} record")
    return v


def read_signature_pairs(v: Any, max_len: int = MAX_SIGNATURES) -> tuple[tuple[bytes, bytes], ...]:
    """(validator public key, signature) pairs, as certificates carry them."""
    pairs = []
    for pair in read_list(v, "signatures", max_len):
        p = read_list(pair, "signature pair", 2)
        if len(p) != 2:
            raise DecodeError("signature pair must have two items")
        pairs.append(
            (read_bytes(p[0], "validator", PUBLIC_KEY_SIZE),
             read_bytes(p[1], "signature", SIGNATURE_SIZE))
        )
    return tuple(pairs)


def is_decimal(text: str) -> bool:
    """True if ``text`` is one or more ASCII digits 0-9 (what ``int()`` reads the same
    everywhere); the test to use instead of ``str.isdigit``."""
    return type(text) is str and _DECIMAL.fullmatch(text) is not None


def parse_uint(text: str, what: str, hi: int = MAX_U64) -> int:
    """A non-negative integer in ASCII decimal digits (no sign, space or underscore), at
    most ``hi``; DecodeError otherwise."""
    if (type(text) is not str or len(text) > MAX_U64_DIGITS or not _DECIMAL.fullmatch(text)
            or int(text) > hi):
        bound = "" if hi == MAX_U64 else f" (at most {hi})"
        raise DecodeError(f"{what} must be a whole number written with the digits 0-9{bound}")
    return int(text)


def parse_hex(text: str, what: str, size: int | None = None, max_size: int = MAX_FIELD_BYTES) -> bytes:
    """Bytes from ASCII hex (an optional ``0x`` prefix, no spaces): exactly ``size`` bytes
    if given, else at most ``max_size``; DecodeError otherwise."""
    m = _HEX.fullmatch(text) if type(text) is str and len(text) <= 2 * max_size + 2 else None
    if m is None:
        raise DecodeError(f"{what} must be hex (digits 0-9 and a-f)")
    value = bytes.fromhex(m.group(1))
    if size is not None and len(value) != size:
        raise DecodeError(f"{what} must be {size} bytes of hex ({2 * size} characters)")
    if len(value) > max_size:
        raise DecodeError(f"{what} must be at most {max_size} bytes")
    return value
