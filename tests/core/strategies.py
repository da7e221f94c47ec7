"""Hypothesis strategies for core values and records, shared by the tests of every package."""

from __future__ import annotations

from hypothesis import strategies as st

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
