"""p2p frames: round trips, the one decode path, and the canonical-bytes cache."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core import codec
from core.errors import DecodeError
from core.types import Block, CommitCertificate, SignedTx
from p2p.messages import (
    Auth,
    Blocks,
    BlocksRequest,
    ConsensusFrame,
    Frame,
    Goodbye,
    Hello,
    Status,
    StreamStart,
    TxAnnounce,
    TxRequest,
    Txs,
    decode_frame,
)
from tests.core.strategies import blocks, certificates, fuzz_inputs, hashes, signed_txs

frames = st.one_of(
    st.builds(Hello, st.integers(0, 9), st.text(max_size=64), hashes, hashes,
              hashes, st.integers(0, 2**64 - 1)),
    st.builds(Auth, st.binary(min_size=64, max_size=64), hashes),
    st.builds(StreamStart, st.binary(min_size=24, max_size=24)),
    st.builds(Status, st.integers(0, 2**64 - 1)),
    st.builds(TxAnnounce, st.lists(hashes, max_size=5).map(tuple)),
    st.builds(TxRequest, st.lists(hashes, max_size=5).map(tuple)),
    st.builds(Txs, st.lists(signed_txs(), max_size=3).map(tuple)),
    st.builds(ConsensusFrame, st.binary(max_size=100)),
    st.builds(BlocksRequest, st.integers(1, 2**40), st.integers(1, 256)),
    st.builds(Blocks, st.lists(st.tuples(blocks(), certificates), max_size=2).map(tuple),
              st.integers(0, 2**40)),
    st.builds(Goodbye, st.text(max_size=100)),
)


@given(frames)
def test_decode_inverts_encode(frame: Frame) -> None:
    assert decode_frame(frame.encode()) == frame


@given(fuzz_inputs(frames.map(lambda f: f.encode()), max_size=200))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except DecodeError:
        return
    # A frame that decodes re-encodes, freshly (not from a cache), to the same bytes.
    fresh = codec.encode(frame.to_value())
    assert fresh == data
    assert decode_frame(fresh) == frame


@given(st.lists(signed_txs(), min_size=1, max_size=4))
def test_cached_bytes_of_received_txs_are_canonical(txs: list[SignedTx]) -> None:
    received = decode_frame(Txs(tuple(txs)).encode())
    assert isinstance(received, Txs)
    for sent, got in zip(txs, received.txs, strict=True):
        # Compare with a fresh canonical encoding, not with a cache.
        assert got.encoded == codec.encode(sent.to_value())
        assert got.tx.encoded == codec.encode(sent.tx.to_value())
        assert got.hash == sent.hash


@given(blocks(), certificates)
def test_cached_bytes_of_synced_blocks_are_canonical(block: Block, cert: CommitCertificate) -> None:
    received = decode_frame(Blocks(((block, cert),), 5).encode())
    assert isinstance(received, Blocks)
    got = received.blocks[0][0]
    assert got.encoded == codec.encode(block.to_value())
    assert got.header.encoded == codec.encode(block.header.to_value())
    assert got.hash == block.hash


def test_frames_with_wrong_fields_are_refused() -> None:
    for value in ([103], [103, -1], [103, "1"], [110, [b"short"]], [130, 0, 1], [130, 1, 10_000],
                  [999], [], "x", [112, [[1, 2]]]):
        try:
            decode_frame(codec.encode(value))
        except DecodeError:
            continue
        raise AssertionError(f"{value!r} decoded")
