"""Conformance of every KeyValueStore (memory and LevelDB) to storage/api.py."""

from __future__ import annotations

import pytest

from storage.api import KeyValueStore
from storage.errors import StoreClosed
from storage.kv import prefix_end

ITEMS = {
    b"a": b"1",
    b"ab": b"2",
    b"ab\x00": b"3",
    b"ab\xff": b"4",
    b"abc": b"5",
    b"ac": b"6",
    b"b": b"7",
    b"\xff\xff": b"8",
}


def fill(kv: KeyValueStore) -> None:
    for k, v in ITEMS.items():
        kv.put(k, v)


class TestKeyValueStore:
    def test_get_put_delete(self, kv: KeyValueStore) -> None:
        assert kv.get(b"k") is None
        kv.put(b"k", b"v")
        assert kv.get(b"k") == b"v"
        kv.put(b"k", b"w", sync=True)
        assert kv.get(b"k") == b"w"
        kv.delete(b"k", sync=True)
        assert kv.get(b"k") is None
        kv.delete(b"never-there")  # deleting an absent key is not an error
        kv.put(b"empty", b"")
        assert kv.get(b"empty") == b""

    def test_iterate_all_in_key_order(self, kv: KeyValueStore) -> None:
        fill(kv)
        assert list(kv.iterate()) == sorted(ITEMS.items())
        assert list(kv.iterate(reverse=True)) == sorted(ITEMS.items(), reverse=True)

    @pytest.mark.parametrize("prefix", [b"a", b"ab", b"abc", b"b", b"\xff", b"\xff\xff", b"z"])
    def test_iterate_prefix(self, kv: KeyValueStore, prefix: bytes) -> None:
        fill(kv)
        want = sorted((k, v) for k, v in ITEMS.items() if k.startswith(prefix))
        assert list(kv.iterate(prefix)) == want
        assert list(kv.iterate(prefix, reverse=True)) == want[::-1]

    @pytest.mark.parametrize("start", [b"", b"a", b"ab", b"ab\x01", b"abd", b"az", b"zz"])
    def test_iterate_from_start(self, kv: KeyValueStore, start: bytes) -> None:
        fill(kv)
        in_a = sorted((k, v) for k, v in ITEMS.items() if k.startswith(b"a"))
        assert list(kv.iterate(b"a", start=start)) == [(k, v) for k, v in in_a if k >= start]
        assert list(kv.iterate(b"a", start=start, reverse=True)) == [
            (k, v) for k, v in reversed(in_a) if k <= start
        ]

    def test_iterate_is_a_snapshot(self, kv: KeyValueStore) -> None:
        fill(kv)
        it = kv.iterate(b"a")
        first = next(it)
        kv.put(b"aa", b"new")
        kv.delete(b"ac")
        rest = list(it)
        assert [first, *rest] == sorted((k, v) for k, v in ITEMS.items() if k.startswith(b"a"))

    def test_batch_applies_on_clean_exit(self, kv: KeyValueStore) -> None:
        kv.put(b"gone", b"x")
        with kv.batch(sync=True) as wb:
            wb.put(b"k1", b"v1")
            wb.put(b"k2", b"v2")
            wb.delete(b"gone")
            wb.put(b"k1", b"v1b")  # later operations win
            assert kv.get(b"k1") is None  # nothing visible before the exit
        assert kv.get(b"k1") == b"v1b"
        assert kv.get(b"k2") == b"v2"
        assert kv.get(b"gone") is None

    def test_batch_discarded_on_error(self, kv: KeyValueStore) -> None:
        kv.put(b"keep", b"x")
        with pytest.raises(RuntimeError), kv.batch() as wb:
            wb.put(b"k1", b"v1")
            wb.delete(b"keep")
            raise RuntimeError("abort")
        assert kv.get(b"k1") is None
        assert kv.get(b"keep") == b"x"

    def test_closed_store_refuses(self, kv: KeyValueStore) -> None:
        kv.close()
        with pytest.raises(StoreClosed):
            kv.get(b"k")
        with pytest.raises(StoreClosed):
            kv.put(b"k", b"v")


def test_prefix_end() -> None:
    assert prefix_end(b"ab") == b"ac"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") is None
    assert prefix_end(b"") is None
