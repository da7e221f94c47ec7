"""Canonical msgpack encoding: one byte string per value.

A *Value* is None, bool, int, str, bytes, a list of Values, or a dict with str keys.
``encode`` sorts dict keys and writes integers outside msgpack's native 64-bit range as
ext type 1 (minimal two's-complement big-endian), so equal values give equal bytes.
``decode`` is strict: size and depth limits, no floats or foreign ext types, no trailing
bytes, and the input must re-encode to exactly the same bytes. Every failure, whatever
msgpack raised, becomes one DecodeError.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgpack

from core.errors import DecodeError

Value: TypeAlias = "bool | int | str | bytes | list[Value] | dict[str, Value] | None"

EXT_BIGINT = 1
MAX_BIGINT_BYTES = 33  # enough for any 256-bit signed or unsigned integer
MAX_DEPTH = 32
DEFAULT_MAX_SIZE = 1 << 20
_MIN_NATIVE = -(1 << 63)
_MAX_NATIVE = (1 << 64) - 1


class EncodeError(ValueError):
    """A value outside the Value type was given to encode: a bug in the caller."""


def _bigint_to_ext(n: int) -> msgpack.ExtType:
    length = (n.bit_length() + 8) // 8  # room for the sign bit
    if length > MAX_BIGINT_BYTES:
        raise EncodeError(f"integer too large to encode ({n.bit_length()} bits)")
    return msgpack.ExtType(EXT_BIGINT, n.to_bytes(length, "big", signed=True))


def canonical(value: Any, depth: int = 0) -> Any:
    """The msgpack-ready form of a Value: dicts sorted by key, big ints as ext.

    Raises EncodeError for anything that is not a Value (floats, sets, non-str keys...).
    """
    if depth > MAX_DEPTH:
        raise EncodeError("value nested too deeply")
    t = type(value)
    if t is str or t is bytes or t is bool or value is None:
        return value
    if t is int:
        if _MIN_NATIVE <= value <= _MAX_NATIVE:
            return value
        return _bigint_to_ext(value)
    if t is list or t is tuple:
        return [canonical(v, depth + 1) for v in value]
    if t is dict:
        items = []
        for k in value:
            if type(k) is not str:
                raise EncodeError("dict keys must be str")
            items.append(k)
        items.sort()
        return {k: canonical(value[k], depth + 1) for k in items}
    raise EncodeError(f"cannot encode a value of type {t.__name__}")


def _ext_hook(code: int, data: bytes) -> int:
    if code != EXT_BIGINT or not 0 < len(data) <= MAX_BIGINT_BYTES:
        raise DecodeError(f"unsupported ext type {code}")
    return int.from_bytes(data, "big", signed=True)


def encode(value: Any) -> bytes:
    """The canonical bytes of a Value (lists and tuples encode alike)."""
    out: bytes = msgpack.packb(canonical(value), use_bin_type=True)
    return out


def _check_types(value: Any, depth: int) -> None:
    # msgpack already gives exact types; only floats and odd objects need refusing here,
    # and the depth bound keeps a hostile nesting from exhausting the stack.
    if depth > MAX_DEPTH:
        raise DecodeError("value nested too deeply")
    t = type(value)
    if t is list:
        for v in value:
            _check_types(v, depth + 1)
    elif t is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise DecodeError("dict keys must be str")
            _check_types(v, depth + 1)
    elif not (t is str or t is bytes or t is int or t is bool or value is None):
        raise DecodeError(f"unsupported type {t.__name__}")


def decode(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> Any:
    """Decode canonical bytes into a Value, or raise DecodeError."""
    if type(data) is not bytes:
        try:
            data = bytes(data)
        except Exception as exc:
            raise DecodeError("input is not bytes") from exc
    if len(data) > max_size:
        raise DecodeError(f"input of {len(data)} bytes exceeds the limit of {max_size}")
    if not data:
        raise DecodeError("empty input")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            ext_hook=_ext_hook,
        )
        _check_types(value, 0)
        if msgpack.packb(canonical(value), use_bin_type=True) != data:
            raise DecodeError("not the canonical encoding")
    except DecodeError:
        raise
    except Exception as exc:  # msgpack raises many types; all mean the same to callers
        raise DecodeError(f"undecodable input: {type(exc).__name__}") from exc
    return value
