"""Wire messages: one canonical encoding, strict decoding, shape checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.messages import (
    Commit,
    Decision,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
    decode_message,
)
from consensus.wal import VoteRecord
from core import codec
from core.errors import DecodeError
from core.types import VOTE_COMMIT, VOTE_PREPARE, Block, CommitCertificate, Vote
from tests.consensus.helpers import CHAIN_ID, KEYS, new_app
from tests.core.strategies import fuzz_inputs, loose_encodings

views = st.integers(min_value=0, max_value=50)
timestamps = st.integers(min_value=0, max_value=2**40)


def block_at(view: int, timestamp_ms: int) -> Block:
    return new_app().propose(1, view, timestamp_ms)


def prepared_cert(view: int, block: Block, signers: int = 3) -> PreparedCertificate:
    votes = [Vote.create(k, VOTE_PREPARE, CHAIN_ID, 1, view, block.hash) for k in KEYS[:signers]]
    return PreparedCertificate.from_votes(votes)


@st.composite
def messages(draw: st.DrawFn) -> object:
    view = draw(views)
    block = block_at(view, draw(timestamps))
    key = draw(st.sampled_from(KEYS))
    kind = draw(st.sampled_from(["pp", "prepare", "commit", "vc", "nv", "decision"]))
    if kind == "pp":
        return PrePrepare.create(key, CHAIN_ID, 1, 0, block)
    if kind in ("prepare", "commit"):
        vote_kind = VOTE_PREPARE if kind == "prepare" else VOTE_COMMIT
        vote = Vote.create(key, vote_kind, CHAIN_ID, 1, view, block.hash)
        return Prepare(vote) if kind == "prepare" else Commit(vote)
    prepared = prepared_cert(view, block) if draw(st.booleans()) else None
    if kind == "vc":
        carried = block if prepared is not None and draw(st.booleans()) else None
        return ViewChange.create(key, CHAIN_ID, 1, view + 1, prepared, carried)
    if kind == "nv":
        vcs = tuple(
            sorted(
                (ViewChange.create(k, CHAIN_ID, 1, view + 1, prepared) for k in KEYS[:3]),
                key=lambda vc: vc.validator,
            )
        )
        return NewView.create(key, CHAIN_ID, 1, view + 1, vcs, block)
    commits = [Vote.create(k, VOTE_COMMIT, CHAIN_ID, 1, view, block.hash) for k in KEYS[:3]]
    return Decision(block, CommitCertificate.from_votes(commits))


@given(messages())
def test_decode_inverts_encode(msg: object) -> None:
    data = msg.encode()  # type: ignore[attr-defined]
    again = decode_message(data)
    assert again == msg
    assert again.encode() == data


def assert_round_trip(data: bytes) -> None:
    """``data`` is a message or a DecodeError; a message re-encodes, freshly (decode keeps
    the input bytes as the cached encoding, so encode() alone would prove nothing), to
    exactly ``data`` and decodes back to itself."""
    try:
        msg = decode_message(data)
    except DecodeError:
        return
    fresh = codec.encode(msg.to_value())
    assert fresh == data
    assert decode_message(fresh) == msg


@given(fuzz_inputs(messages().map(lambda m: m.encode())))  # type: ignore[attr-defined]
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    assert_round_trip(data)


@given(messages(), st.data())
def test_corrupted_messages_raise_only_decode_error(msg: object, data: st.DataObject) -> None:
    raw = bytearray(msg.encode())  # type: ignore[attr-defined]
    i = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    raw[i] ^= data.draw(st.integers(min_value=1, max_value=255))
    assert_round_trip(bytes(raw))
    # the same message spelled with msgpack's other choices (widths, key order)
    assert_round_trip(data.draw(loose_encodings(st.just(msg.encode()))))  # type: ignore[attr-defined]
    with pytest.raises(DecodeError):
        decode_message(bytes(raw[: data.draw(st.integers(min_value=0, max_value=len(raw) - 1))]))


def test_shape_rules_are_enforced_on_decode() -> None:
    block = block_at(0, 5)
    bad_view = PrePrepare.create(KEYS[0], CHAIN_ID, 1, 3, block)
    with pytest.raises(DecodeError, match="view 0"):
        decode_message(bad_view.encode())
    wrong_height = PrePrepare.create(KEYS[0], CHAIN_ID, 2, 0, block)
    with pytest.raises(DecodeError, match="height"):
        decode_message(wrong_height.encode())
    commit_as_prepare = Prepare(Vote.create(KEYS[0], VOTE_COMMIT, CHAIN_ID, 1, 0, block.hash))
    with pytest.raises(DecodeError, match="kind"):
        decode_message(commit_as_prepare.encode())
    late_cert = ViewChange.create(KEYS[0], CHAIN_ID, 1, 2, prepared_cert(2, block_at(2, 5)))
    with pytest.raises(DecodeError, match="earlier view"):
        decode_message(late_cert.encode())
    vcs = tuple(ViewChange.create(k, CHAIN_ID, 1, 1, None) for k in KEYS[:3])
    unsorted = tuple(sorted(vcs, key=lambda vc: vc.validator, reverse=True))
    with pytest.raises(DecodeError, match="sorted"):
        decode_message(NewView.create(KEYS[1], CHAIN_ID, 1, 1, unsorted, block).encode())
    other = block_at(0, 6)
    commits = [Vote.create(k, VOTE_COMMIT, CHAIN_ID, 1, 0, other.hash) for k in KEYS[:3]]
    with pytest.raises(DecodeError, match="not for this block"):
        decode_message(Decision(block, CommitCertificate.from_votes(commits)).encode())


def test_unknown_tag_and_core_records_are_not_messages() -> None:
    vote = Vote.create(KEYS[0], VOTE_PREPARE, CHAIN_ID, 1, 0, bytes(32))
    with pytest.raises(DecodeError):
        decode_message(vote.encode())  # a bare core Vote is not a wire message


def test_view_change_signature_covers_the_certificate() -> None:
    block = block_at(0, 1)
    vc = ViewChange.create(KEYS[0], CHAIN_ID, 1, 1, prepared_cert(0, block))
    stripped = ViewChange(vc.chain_id, vc.height, vc.new_view, None, vc.validator, vc.signature)
    assert stripped.digest != vc.digest


@given(
    st.integers(min_value=1, max_value=2**40),
    views,
    st.booleans(),
    st.sampled_from([None, bytes(32), b"\x01" * 32]),
    st.booleans(),
)
def test_vote_record_round_trip(
    height: int, view: int, sent: bool, voted: bytes | None, with_cert: bool
) -> None:
    cert = prepared_cert(view, block_at(view, 9)) if with_cert else None
    record = VoteRecord(height, view + 1, sent, voted, voted, cert)
    assert VoteRecord.decode(record.encode()) == record


def _records() -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda h, v, sent, voted, cert: VoteRecord(
            h, v + 1, sent, voted, voted,
            prepared_cert(v, block_at(v, 9)) if cert else None).encode(),
        st.integers(min_value=1, max_value=2**40), views, st.booleans(),
        st.sampled_from([None, bytes(32), b"\x01" * 32]), st.booleans())


@given(fuzz_inputs(_records(), max_size=200))
def test_vote_record_decoding_is_strict(data: bytes) -> None:
    try:
        record = VoteRecord.decode(data)
    except DecodeError:
        return
    fresh = codec.encode(record.to_value())
    assert fresh == data
    assert VoteRecord.decode(fresh) == record
