"""Strict readers of decoded record fields, shared by every canonical record and wire
message (core.types, consensus.messages, p2p.messages).

Each reader takes a decoded msgpack value and returns it with its exact type, or raises
DecodeError naming the field: ``bool`` is not an int, a list is not bytes, sizes are bounded.
"""

from __future__ import annotations

from typing import Any

from core.crypto import PUBLIC_KEY_SIZE, SIGNATURE_SIZE
from core.errors import DecodeError

MAX_U64 = (1 << 64) - 1
MAX_NAME_CHARS = 64
MAX_FIELD_BYTES = 64 * 1024
MAX_SIGNATURES = 256


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
