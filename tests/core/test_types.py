"""Chain records: strict round trips, hashes, signatures and certificates."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import codec
from core.crypto import PrivateKey
from core.errors import DecodeError, SignatureError, ValidationError
from core.types import (
    VOTE_COMMIT,
    VOTE_PREPARE,
    Block,
    BlockHeader,
    CommitCertificate,
    Receipt,
    Record,
    SignedTx,
    Tx,
    Validator,
    ValidatorSet,
    Vote,
)
from tests.core import strategies as S

RECORDS: list[tuple[type[Record], st.SearchStrategy[Any]]] = [
    (Tx, S.txs()),
    (SignedTx, S.signed_txs()),
    (Receipt, S.receipts),
    (BlockHeader, S.headers),
    (Block, S.blocks()),
    (Vote, S.votes),
    (ValidatorSet, S.validator_sets),
    (CommitCertificate, S.certificates),
]


@pytest.mark.parametrize(("cls", "strategy"), RECORDS, ids=[c.__name__ for c, _ in RECORDS])
def test_record_round_trip(cls: type[Record], strategy: st.SearchStrategy[Any]) -> None:
    @given(strategy)
    def check(obj: Record) -> None:
        data = obj.encode()
        back = cls.decode(data)
        assert back == obj
        assert back.encode() == data

    check()


@pytest.mark.parametrize(("cls", "_s"), RECORDS, ids=[c.__name__ for c, _ in RECORDS])
def test_record_decode_of_arbitrary_bytes_raises_only_decode_error(
    cls: type[Record], _s: object
) -> None:
    @given(st.binary(max_size=300))
    def check(data: bytes) -> None:
        try:
            cls.decode(data)
        except DecodeError:
            pass

    check()


@given(S.signed_txs(), st.data())
def test_any_field_change_breaks_the_record(stx: SignedTx, data: st.DataObject) -> None:
    # Mutate one item of the canonical list form; the result must either fail to decode
    # or decode to a different tx with a different hash.
    value = stx.tx.to_value()
    i = data.draw(st.integers(min_value=1, max_value=len(value) - 1))
    value[i] = data.draw(S.values.filter(lambda v: v != value[i]))
    try:
        other = Tx.decode(codec.encode(value))
    except DecodeError:
        return
    assert other.hash != stx.tx.hash
    with pytest.raises(SignatureError):
        SignedTx(other, stx.signature).verify_signature()


def test_extra_field_is_refused() -> None:
    key = PrivateKey.from_seed_text("k")
    tx = Tx("c", key.public_key, 0, "token", "transfer", (), 10, 5)
    value = [*tx.to_value(), 1]
    with pytest.raises(DecodeError):
        Tx.decode(codec.encode(value))


def test_wrong_type_is_refused() -> None:
    key = PrivateKey.from_seed_text("k")
    value = Tx("c", key.public_key, 0, "token", "transfer", (), 10, 5).to_value()
    value[3] = "0"  # nonce as a string
    with pytest.raises(DecodeError):
        Tx.decode(codec.encode(value))
    value[3] = True  # bool is not an int here
    with pytest.raises(DecodeError):
        Tx.decode(codec.encode(value))


def test_signature_binds_sender_and_content() -> None:
    a, b = PrivateKey.from_seed_text("a"), PrivateKey.from_seed_text("b")
    tx = Tx("c", a.public_key, 3, "token", "transfer", ("x", 1), 10, 5)
    stx = tx.sign(a)
    stx.validate_basic()
    forged = SignedTx(Tx("c", b.public_key, 3, "token", "transfer", ("x", 1), 10, 5), stx.signature)
    with pytest.raises(SignatureError):
        forged.validate_basic()
    with pytest.raises(ValueError):
        tx.sign(b)


def test_tx_validate_basic_rules() -> None:
    a = PrivateKey.from_seed_text("a")
    with pytest.raises(ValidationError):
        Tx("", a.public_key, 0, "token", "transfer", (), 1, 1).validate_basic()
    with pytest.raises(ValidationError):
        Tx("c", a.public_key, 0, "token", "transfer", (), 1, 0).validate_basic()
    big = Tx("c", a.public_key, 0, "token", "transfer", (b"x" * 70_000,), 1, 1)
    with pytest.raises(ValidationError):
        big.validate_basic()


def _valset(n: int) -> tuple[list[PrivateKey], ValidatorSet]:
    keys = [PrivateKey.from_seed_text(f"val-{i}") for i in range(n)]
    return keys, ValidatorSet(tuple(Validator(k.public_key, f"v{i}") for i, k in enumerate(keys)))


def test_view_1_goes_to_the_last_blocks_proposer_and_the_other_views_rotate() -> None:
    keys, vs = _valset(7)
    pk = [k.public_key for k in keys]
    outsider = PrivateKey.from_seed_text("not-a-validator").public_key
    for height in (1, 5, 13):
        rotation = [pk[(height + v) % 7] for v in range(10)]
        # Without the last block (genesis, or a node that lacks it): the rotation throughout.
        assert [vs.proposer(height, v) for v in range(10)] == rotation
        assert [vs.proposer(height, v, outsider) for v in range(10)] == rotation
        # View 0's proposer, which has just failed its view, does not get view 1 as well.
        assert vs.proposer(height, 1, rotation[0]) == rotation[1]
        last = pk[(height + 3) % 7]
        named = [vs.proposer(height, v, last) for v in range(10)]
        assert named[1] == last
        assert named[:1] + named[2:] == rotation[:1] + rotation[2:]


@pytest.mark.parametrize(("n", "f", "q"), [(1, 0, 1), (4, 1, 3), (5, 1, 4), (7, 2, 5), (10, 3, 7)])
def test_quorum_sizes(n: int, f: int, q: int) -> None:
    _, vs = _valset(n)
    assert (vs.max_faulty, vs.quorum) == (f, q)
    # Two quorums overlap in more than f validators.
    assert 2 * vs.quorum - n > vs.max_faulty


def test_certificate_verifies_only_with_a_quorum_of_real_signatures() -> None:
    keys, vs = _valset(4)
    block_hash = b"\x07" * 32
    votes = [Vote.create(k, VOTE_COMMIT, "c", 5, 0, block_hash) for k in keys[:3]]
    cert = CommitCertificate.from_votes(votes)
    cert.verify("c", vs)
    assert CommitCertificate.decode(cert.encode()) == cert

    short = CommitCertificate.from_votes(votes[:2])
    with pytest.raises(ValidationError):
        short.verify("c", vs)
    with pytest.raises(ValidationError):
        cert.verify("other-chain", vs)
    stranger = PrivateKey.from_seed_text("stranger")
    with pytest.raises(ValidationError):
        CommitCertificate.from_votes([*votes, Vote.create(stranger, VOTE_COMMIT, "c", 5, 0, block_hash)]).verify("c", vs)
    bad = CommitCertificate("c", 5, 0, block_hash, tuple(sorted(
        [(k, s) for k, s in cert.signatures[:2]] + [(cert.signatures[2][0], b"\x00" * 64)])))
    with pytest.raises(SignatureError):
        bad.verify("c", vs)
    with pytest.raises(ValueError):
        CommitCertificate.from_votes([*votes[:2], Vote.create(keys[3], VOTE_PREPARE, "c", 5, 0, block_hash)])


def test_block_validate_basic_checks_tx_root_and_duplicates() -> None:
    key = PrivateKey.from_seed_text("a")
    stx = Tx("c", key.public_key, 0, "token", "transfer", (), 1, 9).sign(key)
    from core.types import tx_root

    header = BlockHeader("c", 1, b"\x01" * 32, tx_root([stx]), b"\0" * 32, b"\0" * 32,
                         key.public_key, 0, 0, b"\0" * 32)
    Block(header, (stx,)).validate_basic()
    with pytest.raises(ValidationError):
        Block(header, ()).validate_basic()
    dup_header = BlockHeader("c", 1, b"\x01" * 32, tx_root([stx, stx]), b"\0" * 32, b"\0" * 32,
                             key.public_key, 0, 0, b"\0" * 32)
    with pytest.raises(ValidationError):
        Block(dup_header, (stx, stx)).validate_basic()
