"""Records declared once (core/schema.py): the generated encoding and strict decoding of
a record, on a record made for the test and on every record of the protocol."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from dataclasses import dataclass
from typing import Any

import pytest

from core.errors import DecodeError
from core.schema import (
    HASH,
    U64,
    AnyValue,
    B,
    Bool,
    Map,
    Opt,
    Pair,
    Rec,
    S,
    Seq,
    U,
    Wired,
    record,
    wire,
)


@record(None)
@dataclass(frozen=True)
class Inner(Wired):
    n: int = wire(U(1, 9))


@record(77)
@dataclass(frozen=True)
class Sample(Wired):
    count: int = wire(U64)
    digest: bytes = wire(HASH)
    note: bytes = wire(B(max_size=4))
    name: str = wire(S(3))
    flag: bool = wire(Bool())
    extra: dict[str, Any] = wire(Map())
    anything: Any = wire(AnyValue())
    inner: Inner | None = wire(Opt(Rec(Inner)))
    items: tuple[Inner, ...] = wire(Seq(Rec(Inner), 2))
    pairs: tuple[tuple[int, bytes], ...] = wire(Seq(Pair(U(0, 5), B(max_size=2)), 3))


GOOD = [77, 5, b"\x01" * 32, b"ab", "xyz", True, {"k": 1}, [1, "x"], [3], [[1], [2]], [[0, b""], [5, b"zz"]]]


def test_round_trip_and_order() -> None:
    s = Sample.from_value(GOOD)
    assert s == Sample(5, b"\x01" * 32, b"ab", "xyz", True, {"k": 1}, [1, "x"], Inner(3),
                       (Inner(1), Inner(2)), ((0, b""), (5, b"zz")))
    assert s.to_value() == GOOD
    assert Sample.from_value([*GOOD[:8], None, *GOOD[9:]]).inner is None


@pytest.mark.parametrize(("index", "bad"), [
    (0, 78), (0, True), (1, -1), (1, 1 << 64), (1, True), (1, "5"), (2, b"\x01" * 31),
    (3, b"abcde"), (3, "ab"), (4, "wxyz"), (4, b"xyz"), (5, 1), (6, []), (8, [10]),
    (8, {"n": 1}), (9, [[1], [2], [3]]), (9, ([1],)), (10, [[6, b""]]), (10, [[1, b"", 2]]),
    (10, [[1, b"abc"]]),
])
def test_every_wrong_type_or_bound_is_a_decode_error(index: int, bad: Any) -> None:
    value = list(GOOD)
    value[index] = bad
    with pytest.raises(DecodeError):
        Sample.from_value(value)


@pytest.mark.parametrize("value", [None, [], GOOD[:-1], [*GOOD, 1], tuple(GOOD), {"a": 1}])
def test_the_shape_is_checked(value: Any) -> None:
    with pytest.raises(DecodeError):
        Sample.from_value(value)


def test_a_field_without_a_wire_type_is_refused() -> None:
    with pytest.raises(TypeError):
        @record(1)
        @dataclass(frozen=True)
        class Missing(Wired):
            n: int


MODULES = ["core.types", "core.merkle", "storage.state", "consensus.messages", "consensus.wal",
           "p2p.messages", "node.evidence"]


def _records() -> list[Any]:
    out: list[Any] = []
    for name in MODULES:
        for _, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass):
            if cls.__module__ == name and "WIRE_FIELDS" in cls.__dict__:
                out.append(cls)
    return out


def test_every_record_is_declared_and_in_the_protocol_doc() -> None:
    from pathlib import Path

    records = _records()
    assert len(records) >= 30
    doc = (Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md").read_text()
    for cls in records:
        assert "__dataclass_fields__" in vars(cls)
        wired = [n for n, _ in cls.WIRE_FIELDS]
        assert wired == [f.name for f in dataclasses.fields(cls) if f.init], cls
        tag = "no tag" if cls.TAG is None else f"tag {cls.TAG}"
        assert f"#### {cls.__name__} ({tag})" in doc, cls
    tags = [cls.TAG for cls in records if cls.TAG is not None]
    assert len(tags) == len(set(tags)), "two records share a tag"
