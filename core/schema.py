"""Records declared once: each field's wire type and bound, from which a record's
canonical value, its strict decoding and the tables of docs/PROTOCOL.md all follow.

A record is a frozen dataclass whose fields carry their wire type (``wire(U64)``,
``wire(Seq(Rec(SignedTx), 10_000))``…); ``@record(TAG)`` reads them in declaration order
and installs ``to_value`` (``[TAG, field…]``, or ``[field…]`` for a record without a tag)
and a strict ``from_value`` that checks exact types, sizes and bounds and raises
DecodeError naming the field. Both are generated as straight-line code once per class, so
they cost what hand-written ones would (the hot paths of txs and blocks depend on it).
Rules that relate fields to each other stay in each record's ``validate_basic``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any, TypeVar

from core.crypto import PUBLIC_KEY_SIZE, SIGNATURE_SIZE
from core.errors import DecodeError
from core.hashing import HASH_SIZE

MAX_U64 = (1 << 64) - 1
MAX_NAME_CHARS = 64
WIRE = "wire"  # the dataclass field metadata key

T = TypeVar("T")


class WireType:
    """The wire type of a field: how it encodes, how it is read back, how it is documented."""

    def doc(self) -> str:
        raise NotImplementedError

    def encode_expr(self, expr: str, depth: int) -> str:
        """Python source of the canonical value of ``expr`` (scalars are themselves)."""
        return expr

    def reader(self, what: str) -> Callable[[Any], Any]:
        """A function from the decoded value to the field's value, or DecodeError."""
        raise NotImplementedError

    def inline_check(self, var: str, what: str) -> str | None:
        """Python source (one ``if``) that checks ``var`` in place, or None to use reader."""
        return None


class U(WireType):
    """An integer in [lo, hi] (bool is not an integer here)."""

    def __init__(self, lo: int = 0, hi: int = MAX_U64) -> None:
        self.lo, self.hi = lo, hi

    def doc(self) -> str:
        if (self.lo, self.hi) == (0, MAX_U64):
            return "u64"
        if self.lo == 0 and self.hi == (1 << 32) - 1:
            return "u32"
        if self.hi == MAX_U64:
            return f"u64, ≥ {self.lo}"
        return f"int {self.lo} … {self.hi}"

    def message(self, what: str) -> str:
        return f"{what}: expected an integer in [{self.lo}, {self.hi}]"

    def inline_check(self, var: str, what: str) -> str:
        return (f"if type({var}) is not int or not {self.lo} <= {var} <= {self.hi}: "
                f"raise DecodeError({self.message(what)!r})")

    def reader(self, what: str) -> Callable[[Any], Any]:
        lo, hi, message = self.lo, self.hi, self.message(what)

        def read(v: Any) -> int:
            if type(v) is not int or not lo <= v <= hi:
                raise DecodeError(message)
            return v

        return read


class B(WireType):
    """Bytes of exactly ``size``, or of at most ``max_size``."""

    def __init__(self, size: int | None = None, max_size: int = 64 * 1024) -> None:
        self.size, self.max_size = size, max_size

    def doc(self) -> str:
        return f"bytes{self.size}" if self.size is not None else f"bytes≤{self.max_size}"

    def message(self, what: str) -> str:
        return f"{what}: expected {self.size if self.size is not None else 'some'} bytes"

    def inline_check(self, var: str, what: str) -> str:
        size = (f"len({var}) != {self.size}" if self.size is not None
                else f"len({var}) > {self.max_size}")
        return f"if type({var}) is not bytes or {size}: raise DecodeError({self.message(what)!r})"

    def reader(self, what: str) -> Callable[[Any], Any]:
        size, max_size, message = self.size, self.max_size, self.message(what)

        def read(v: Any) -> bytes:
            if type(v) is not bytes or (size is not None and len(v) != size) or len(v) > max_size:
                raise DecodeError(message)
            return v

        return read


class S(WireType):
    """A UTF-8 string of at most ``max_chars`` characters."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars

    def doc(self) -> str:
        return f"str≤{self.max_chars}"

    def message(self, what: str) -> str:
        return f"{what}: expected a string of at most {self.max_chars} characters"

    def inline_check(self, var: str, what: str) -> str:
        return (f"if type({var}) is not str or len({var}) > {self.max_chars}: "
                f"raise DecodeError({self.message(what)!r})")

    def reader(self, what: str) -> Callable[[Any], Any]:
        max_chars, message = self.max_chars, self.message(what)

        def read(v: Any) -> str:
            if type(v) is not str or len(v) > max_chars:
                raise DecodeError(message)
            return v

        return read


class Bool(WireType):
    def doc(self) -> str:
        return "bool"

    def inline_check(self, var: str, what: str) -> str:
        return f"if type({var}) is not bool: raise DecodeError({what + ': expected a bool'!r})"

    def reader(self, what: str) -> Callable[[Any], Any]:
        def read(v: Any) -> bool:
            if type(v) is not bool:
                raise DecodeError(f"{what}: expected a bool")
            return v

        return read


class AnyValue(WireType):
    """Any Value (the codec has checked it already)."""

    def doc(self) -> str:
        return "Value"

    def inline_check(self, var: str, what: str) -> str:
        return "pass"

    def reader(self, what: str) -> Callable[[Any], Any]:
        return lambda v: v


class Map(WireType):
    """A map of str keys to Values."""

    def doc(self) -> str:
        return "map of Value"

    def inline_check(self, var: str, what: str) -> str:
        return f"if type({var}) is not dict: raise DecodeError({what + ': expected a map'!r})"

    def reader(self, what: str) -> Callable[[Any], Any]:
        def read(v: Any) -> dict[str, Any]:
            if type(v) is not dict:
                raise DecodeError(f"{what}: expected a map")
            return v

        return read


class Rec(WireType):
    """A nested record, as its own ``[TAG, field…]`` value. ``then`` is applied to each
    decoded record (to prime caches of records decoded from verified-canonical bytes)."""

    def __init__(self, cls: Any, then: Callable[[Any], Any] | None = None) -> None:
        self.cls, self.then = cls, then

    def doc(self) -> str:
        return str(self.cls.__name__)

    def encode_expr(self, expr: str, depth: int) -> str:
        return f"{expr}.to_value()"

    def reader(self, what: str) -> Callable[[Any], Any]:
        from_value, then = self.cls.from_value, self.then
        if then is None:
            return from_value  # type: ignore[no-any-return]
        return lambda v: then(from_value(v))


class RecBytes(WireType):
    """A nested record as its canonical bytes (decoded strictly, at most its MAX_BYTES)."""

    def __init__(self, cls: Any) -> None:
        self.cls = cls

    def doc(self) -> str:
        return f"bytes of {self.cls.__name__}"

    def encode_expr(self, expr: str, depth: int) -> str:
        return f"{expr}.encoded"

    def reader(self, what: str) -> Callable[[Any], Any]:
        decode = self.cls.decode

        def read(v: Any) -> Any:
            if type(v) is not bytes:
                raise DecodeError(f"{what}: expected the bytes of a {self.cls.__name__}")
            return decode(v)

        return read


class Opt(WireType):
    """The inner type, or nil."""

    def __init__(self, inner: WireType) -> None:
        self.inner = inner

    def doc(self) -> str:
        return f"{self.inner.doc()} or nil"

    def encode_expr(self, expr: str, depth: int) -> str:
        inner = self.inner.encode_expr(expr, depth)
        return expr if inner == expr else f"(None if {expr} is None else {inner})"

    def reader(self, what: str) -> Callable[[Any], Any]:
        inner = self.inner.reader(what)
        return lambda v: None if v is None else inner(v)


class Seq(WireType):
    """An array of at most ``max_len`` items of one type, held as a tuple."""

    def __init__(self, item: WireType, max_len: int) -> None:
        self.item, self.max_len = item, max_len

    def doc(self) -> str:
        return f"list≤{self.max_len} of {self.item.doc()}"

    def encode_expr(self, expr: str, depth: int) -> str:
        var = f"x{depth}"
        inner = self.item.encode_expr(var, depth + 1)
        return f"list({expr})" if inner == var else f"[{inner} for {var} in {expr}]"

    def reader(self, what: str) -> Callable[[Any], Any]:
        max_len, message = self.max_len, f"{what}: expected a list of at most {self.max_len} items"
        if isinstance(self.item, AnyValue):
            def read_values(v: Any) -> tuple[Any, ...]:
                if type(v) is not list or len(v) > max_len:
                    raise DecodeError(message)
                return tuple(v)

            return read_values
        item = self.item.reader(what)

        def read(v: Any) -> tuple[Any, ...]:
            if type(v) is not list or len(v) > max_len:
                raise DecodeError(message)
            return tuple(item(x) for x in v)

        return read


class Pair(WireType):
    """A two-item array, held as a tuple."""

    def __init__(self, first: WireType, second: WireType) -> None:
        self.first, self.second = first, second

    def doc(self) -> str:
        return f"[{self.first.doc()}, {self.second.doc()}]"

    def encode_expr(self, expr: str, depth: int) -> str:
        a = self.first.encode_expr(f"{expr}[0]", depth + 1)
        b = self.second.encode_expr(f"{expr}[1]", depth + 1)
        return f"[{a}, {b}]"

    def reader(self, what: str) -> Callable[[Any], Any]:
        first, second = self.first.reader(what), self.second.reader(what)

        def read(v: Any) -> tuple[Any, Any]:
            if type(v) is not list or len(v) != 2:
                raise DecodeError(f"{what}: expected a pair")
            return first(v[0]), second(v[1])

        return read


# The wire types most fields share.
U64 = U()
HASH = B(HASH_SIZE)
PUBLIC_KEY = B(PUBLIC_KEY_SIZE)
SIGNATURE = B(SIGNATURE_SIZE)
NAME = S(MAX_NAME_CHARS)  # contract, method and event names, validator names, codes
CHAIN_ID = S(64)


W = TypeVar("W", bound="Wired")


class Wired:
    """Base of a record without the caching of core.types.Record: ``@record`` installs
    these two."""

    def to_value(self) -> list[Any]:
        raise NotImplementedError

    @classmethod
    def from_value(cls: type[W], value: Any) -> W:
        raise NotImplementedError


def wire(kind: WireType, **kwargs: Any) -> Any:
    """A dataclass field of wire type ``kind`` (keyword arguments go to dataclasses.field)."""
    return dataclasses.field(metadata={WIRE: kind}, **kwargs)


def fields_of(cls: Any) -> tuple[tuple[str, WireType], ...]:
    """The wire fields of a record class, in order: every init field must declare one."""
    out = []
    for f in dataclasses.fields(cls):
        kind = f.metadata.get(WIRE)
        if kind is None:
            if f.init:
                raise TypeError(f"{cls.__name__}.{f.name} declares no wire type")
            continue
        out.append((f.name, kind))
    return tuple(out)


_counter = itertools.count()


def record(tag: int | None) -> Callable[[type[T]], type[T]]:
    """Install ``to_value`` and ``from_value`` on a dataclass from its wire fields.

    A class may define ``_decoded(self, value)``: it is called on each decoded record with
    the value it came from (SignedTx caches its canonical bytes there).
    """

    def install(cls: type[T]) -> type[T]:
        fields = fields_of(cls)
        c: Any = cls
        c.TAG = tag
        c.WIRE_FIELDS = fields
        head = [] if tag is None else [str(tag)]
        items = head + [kind.encode_expr(f"self.{name}", 0) for name, kind in fields]
        n = len(fields) + (0 if tag is None else 1)
        ns: dict[str, Any] = {"DecodeError": DecodeError}
        lines = ["def to_value(self):", f"    return [{', '.join(items)}]",
                 "def from_value(cls, v):"]
        if tag is None:
            lines.append(f"    if type(v) is not list or len(v) != {n}: "
                         f"raise DecodeError('expected a {cls.__name__}')")
        else:
            lines.append(f"    if type(v) is not list or len(v) != {n} or type(v[0]) is not int "
                         f"or v[0] != {tag}: raise DecodeError('expected a {cls.__name__} record')")
        args = []
        for i, (name, kind) in enumerate(fields):
            pos = i + (0 if tag is None else 1)
            var = f"f{pos}"
            check = kind.inline_check(var, name)
            if check is not None:
                lines.append(f"    {var} = v[{pos}]")
                lines.append(f"    {check}")
            else:
                ns[f"read_{pos}"] = kind.reader(name)
                lines.append(f"    {var} = read_{pos}(v[{pos}])")
            args.append(var)
        lines.append(f"    obj = cls({', '.join(args)})")
        if hasattr(cls, "_decoded"):
            lines.append("    obj._decoded(v)")
        lines.append("    return obj")
        source = "\n".join(lines)
        exec(compile(source, f"<record {cls.__name__} #{next(_counter)}>", "exec"), ns)
        c.to_value = ns["to_value"]
        c.to_value.__qualname__ = f"{cls.__qualname__}.to_value"
        from_value = ns["from_value"]
        from_value.__qualname__ = f"{cls.__qualname__}.from_value"
        c.from_value = classmethod(from_value)
        return cls

    return install


def markdown_table(cls: Any) -> str:
    """The table of one record for docs/PROTOCOL.md."""
    tag = cls.TAG
    title = f"### {cls.__name__} ({'tag ' + str(tag) if tag is not None else 'no tag'})"
    lines = [title, "", "| # | field | type |", "|---|---|---|"]
    for i, (name, kind) in enumerate(cls.WIRE_FIELDS, start=1 if tag is not None else 0):
        lines.append(f"| {i} | {name} | {kind.doc()} |")
    note = getattr(cls, "WIRE_NOTE", "")
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"
