"""Strict readers of text that people and clients type. (Decoded record fields are read
by the decoders core/schema.py generates from each record's declaration.)

``is_decimal``, ``parse_uint`` and ``parse_hex`` read numbers and bytes a person or a client typed (URL path
segments, query strings, CLI arguments): ASCII only. ``str.isdigit`` is not the test for a
number: it accepts "²" and "٣", which ``int()`` then refuses or reads differently, and
``bytes.fromhex`` skips spaces. Every parser of such text goes through these.
"""

from __future__ import annotations

import re

from core.errors import DecodeError

MAX_U64 = (1 << 64) - 1
MAX_NAME_CHARS = 64
MAX_FIELD_BYTES = 64 * 1024
MAX_U64_DIGITS = 20

_DECIMAL = re.compile(r"[0-9]+")  # [0-9] is ASCII only, unlike \d
_HEX = re.compile(r"(?:0x)?((?:[0-9a-fA-F]{2})*)")


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
