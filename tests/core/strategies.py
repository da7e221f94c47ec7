"""Hypothesis strategies for core values and records, shared by the tests of every package."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import strategies as st

from core import codec
from core.codec import Value
from core.crypto import PrivateKey
from core.fields import MAX_U64
from core.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    Event,
    Receipt,
    SignedTx,
    Tx,
    Validator,
    ValidatorSet,
    Vote,
    tx_root,
)

KEYS = [PrivateKey.from_seed_text(f"strategy-key-{i}") for i in range(4)]

ints = st.integers(min_value=-(1 << 255), max_value=(1 << 256) - 1)
u64 = st.integers(min_value=0, max_value=MAX_U64)
hashes = st.binary(min_size=32, max_size=32)
names = st.text(min_size=1, max_size=20)

values: st.SearchStrategy[Value] = st.recursive(
    st.none() | st.booleans() | ints | st.text(max_size=30) | st.binary(max_size=30),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)


@st.composite
def txs(draw: st.DrawFn) -> Tx:
    key = draw(st.sampled_from(KEYS))
    return Tx(
        chain_id=draw(names),
        sender=key.public_key,
        nonce=draw(u64),
        contract=draw(names),
        method=draw(names),
        args=tuple(draw(st.lists(values, max_size=4))),
        max_fee=draw(u64),
        expiry_height=draw(st.integers(min_value=1, max_value=MAX_U64)),
    )


@st.composite
def signed_txs(draw: st.DrawFn) -> SignedTx:
    tx = draw(txs())
    key = next(k for k in KEYS if k.public_key == tx.sender)
    return tx.sign(key)


events = st.builds(Event, names, names, st.dictionaries(st.text(max_size=10), values, max_size=4))

receipts = st.builds(
    Receipt,
    hashes,
    st.integers(min_value=0, max_value=2),
    u64,
    u64,
    values,
    st.lists(events, max_size=3).map(tuple),
    st.text(max_size=20),
    st.text(max_size=32),
    st.integers(min_value=0, max_value=1 << 20),
)

headers = st.builds(
    BlockHeader, names, u64, hashes, hashes, hashes, hashes, hashes, u64, u64, hashes
)


@st.composite
def blocks(draw: st.DrawFn) -> Block:
    header = draw(headers)
    body = tuple(draw(st.lists(signed_txs(), max_size=3)))
    return Block(header, body)


@st.composite
def blocks_with_root(draw: st.DrawFn) -> Block:
    b = draw(blocks())
    h = b.header
    fixed = BlockHeader(h.chain_id, h.height, h.prev_hash, tx_root(b.txs), h.state_root,
                        h.receipts_root, h.proposer, h.view, h.timestamp_ms, h.validator_set_hash)
    return Block(fixed, b.txs)


votes = st.builds(
    Vote, st.integers(min_value=1, max_value=2), names, u64, u64, hashes,
    st.binary(min_size=32, max_size=32), st.binary(min_size=64, max_size=64),
)

validator_sets = st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique=True).map(
    lambda ks: ValidatorSet(tuple(Validator(k.public_key, f"v{i}") for i, k in enumerate(ks)))
)

certificates = st.builds(
    CommitCertificate, names, u64, u64, hashes,
    st.lists(st.tuples(st.binary(min_size=32, max_size=32), st.binary(min_size=64, max_size=64)),
             max_size=4).map(lambda x: tuple(sorted(x))),
)


# --- fuzzing decoders -------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, encodings: st.SearchStrategy[bytes]) -> bytes:
    """A valid encoding with one to three bytes flipped, cut, inserted or deleted: close
    enough to the format that decoders get past the first check, and sometimes succeed."""
    raw = bytearray(draw(encodings))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        if not raw:
            break
        i = draw(st.integers(min_value=0, max_value=len(raw) - 1))
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        if op == "flip":
            raw[i] ^= draw(st.integers(min_value=1, max_value=255))
        elif op == "set":
            raw[i] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0x90, 0xA0, 0xC0, 0xC2, 0xC3, 0xC4,
                                           0xCC, 0xD0, 0xD9, 0xDC, 0xDE, 0xFF]))
        elif op == "cut":
            del raw[i:]
        elif op == "insert":
            raw.insert(i, draw(st.integers(min_value=0, max_value=255)))
        else:
            del raw[i]
    return bytes(raw)


def _loose(draw: st.DrawFn, v: Any) -> bytes:
    # msgpack of ``v`` with every free choice drawn: widths of ints, strings and
    # headers, the order of map keys. Valid msgpack, often not the canonical form.
    def head(n: int, fix: int | None, fix_max: int, wide: list[tuple[int, int]]) -> bytes:
        options = [(code, size) for code, size in wide if n < 1 << (8 * size)]
        if fix is not None and n <= fix_max and draw(st.booleans()):
            return bytes([fix | n])
        code, size = draw(st.sampled_from(options))
        return bytes([code]) + n.to_bytes(size, "big")

    if v is None:
        return b"\xc0"
    if v is True or v is False:
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        if not -(1 << 63) <= v < 1 << 64:
            return msgpack.packb(codec.canonical(v), use_bin_type=True)  # type: ignore[no-any-return]
        if 0 <= v <= 0x7F and draw(st.booleans()):
            return bytes([v])
        if v < 0:
            options = [(code, size) for code, size in [(0xD0, 1), (0xD1, 2), (0xD2, 4), (0xD3, 8)]
                       if v >= -(1 << (8 * size - 1))]
            code, size = draw(st.sampled_from(options))
            return bytes([code]) + v.to_bytes(size, "big", signed=True)
        code, size = draw(st.sampled_from([(c, z) for c, z in [(0xCC, 1), (0xCD, 2), (0xCE, 4), (0xCF, 8)]
                                           if v < 1 << (8 * z)]))
        return bytes([code]) + v.to_bytes(size, "big")
    if isinstance(v, str):
        raw = v.encode("utf-8")
        return head(len(raw), 0xA0, 31, [(0xD9, 1), (0xDA, 2), (0xDB, 4)]) + raw
    if isinstance(v, bytes):
        return head(len(v), None, 0, [(0xC4, 1), (0xC5, 2), (0xC6, 4)]) + v
    if isinstance(v, list | tuple):
        return head(len(v), 0x90, 15, [(0xDC, 2), (0xDD, 4)]) + b"".join(_loose(draw, x) for x in v)
    if isinstance(v, dict):
        keys = draw(st.permutations(list(v)))
        return head(len(v), 0x80, 15, [(0xDE, 2), (0xDF, 4)]) + b"".join(
            _loose(draw, k) + _loose(draw, v[k]) for k in keys)
    raise TypeError(type(v).__name__)


@st.composite
def loose_encodings(draw: st.DrawFn, encodings: st.SearchStrategy[bytes]) -> bytes:
    """A valid encoding decoded and packed again with msgpack's free choices drawn (ints,
    strings and headers of any width that fits, map keys in any order): what a careless or
    hostile encoder could send. A strict decoder takes it only if it is the canonical
    form itself."""
    return _loose(draw, msgpack.unpackb(draw(encodings), raw=False, strict_map_key=False,
                                        ext_hook=codec._ext_hook))


def fuzz_inputs(encodings: st.SearchStrategy[bytes], max_size: int = 300) -> st.SearchStrategy[bytes]:
    """Inputs for a decoder: arbitrary bytes, valid encodings, mutations of them, and
    other msgpack spellings of them."""
    return st.one_of(st.binary(max_size=max_size), encodings, mutated(encodings),
                     loose_encodings(encodings))
