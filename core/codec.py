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
MIN_NATIVE_INT = -(1 << 63)  # integers msgpack encodes natively; others are ext type 1
MAX_NATIVE_INT = (1 << 64) - 1
_MIN_NATIVE = MIN_NATIVE_INT
_MAX_NATIVE = MAX_NATIVE_INT


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
        out = []
        for v in value:
            # Scalars are the common case: take them without a call of their own.
            tv = type(v)
            if tv is str or tv is bytes or tv is bool or v is None or (
                tv is int and _MIN_NATIVE <= v <= _MAX_NATIVE
            ):
                out.append(v)
            else:
                out.append(canonical(v, depth + 1))
        return out
    if t is dict:
        keys = []
        for k in value:
            if type(k) is not str:
                raise EncodeError("dict keys must be str")
            keys.append(k)
        keys.sort()
        sorted_map = {}
        for k in keys:
            v = value[k]
            tv = type(v)
            if tv is str or tv is bytes or tv is bool or v is None or (
                tv is int and _MIN_NATIVE <= v <= _MAX_NATIVE
            ):
                sorted_map[k] = v
            else:
                sorted_map[k] = canonical(v, depth + 1)
        return sorted_map
    raise EncodeError(f"cannot encode a value of type {t.__name__}")


def _ext_hook(code: int, data: bytes) -> int:
    if code != EXT_BIGINT or not 0 < len(data) <= MAX_BIGINT_BYTES:
        raise DecodeError(f"unsupported ext type {code}")
    return int.from_bytes(data, "big", signed=True)


def encode(value: Any) -> bytes:
    """The canonical bytes of a Value (lists and tuples encode alike)."""
    if _is_plain(value, 0):
        # Nothing canonical() would change: pack it as it stands.
        plain: bytes = msgpack.packb(value, use_bin_type=True)
        return plain
    out: bytes = msgpack.packb(canonical(value), use_bin_type=True)
    return out


def _is_plain(value: Any, depth: int) -> bool:
    """True if ``value`` holds only scalars, 64-bit integers, lists and tuples: then
    msgpack packs it canonically as it is. False if it holds a dict, a big integer or
    anything canonical() must judge (it raises EncodeError for what is not a Value)."""
    if depth > MAX_DEPTH:
        return False
    for v in value if type(value) is list or type(value) is tuple else (value,):
        t = type(v)
        if t is str or t is bytes or t is bool or v is None:
            continue
        if t is int:
            if not _MIN_NATIVE <= v <= _MAX_NATIVE:
                return False
        elif t is list or t is tuple:
            if not _is_plain(v, depth + 1):
                return False
        else:
            return False
    return True


def _check_types(value: Any, depth: int) -> bool:
    """Refuse what msgpack decodes but a Value may not hold (floats, odd objects), within
    the depth bound that keeps a hostile nesting from exhausting the stack. True if the
    value holds a dict or an integer beyond 64 bits, the only things ``canonical`` changes
    (so without them the value re-encodes as it is)."""
    if depth > MAX_DEPTH:
        raise DecodeError("value nested too deeply")
    t = type(value)
    if t is list:
        special = False
        for v in value:
            tv = type(v)
            if tv is str or tv is bytes or tv is bool or v is None:
                continue
            if tv is int:
                if not _MIN_NATIVE <= v <= _MAX_NATIVE:
                    special = True
                continue
            if _check_types(v, depth + 1):
                special = True
        return special
    if t is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise DecodeError("dict keys must be str")
            _check_types(v, depth + 1)
        return True
    if t is int:
        return not _MIN_NATIVE <= value <= _MAX_NATIVE
    if not (t is str or t is bytes or t is bool or value is None):
        raise DecodeError(f"unsupported type {t.__name__}")
    return False


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
        plain = not _check_types(value, 0)
        if msgpack.packb(value if plain else canonical(value), use_bin_type=True) != data:
            raise DecodeError("not the canonical encoding")
    except DecodeError:
        raise
    except Exception as exc:  # msgpack raises many types; all mean the same to callers
        raise DecodeError(f"undecodable input: {type(exc).__name__}") from exc
    return value
