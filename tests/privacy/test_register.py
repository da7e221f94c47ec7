"""Household commitments, the committee's sealed register and commitment proofs: the
commitment is exactly sha256(salt || canonical identity), the register's files never hold
plaintext and open only with the committee member's key, and a proof holds only for the
data, the household key and the challenge it was made for."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import codec
from core.crypto import PrivateKey
from privacy.register import (
    SALT_SIZE,
    CommitmentProof,
    HouseholdCard,
    HouseholdIdentity,
    PrivacyError,
    PrivacyStore,
    commitment_of,
)

COMMITTEE = PrivateKey.from_seed_text("privacy-test-committee")
OTHER = PrivateKey.from_seed_text("privacy-test-other")
RESIDENT = PrivateKey.from_seed_text("privacy-test-resident")
IDENTITY = HouseholdIdentity.create("陈美玲", "demo110101198001010011", "138-0000-0001")


def _card(unit: str = "") -> HouseholdCard:
    # A distinct household per unit label (its own key), the same identity data.
    household = PrivateKey.from_seed_text(f"household-{unit}").address if unit else RESIDENT.address
    return HouseholdCard.issue(household, 8957, IDENTITY)


def test_commitment_is_sha256_of_salt_and_canonical_identity() -> None:
    card = _card()
    expected = hashlib.sha256(card.salt + codec.encode(
        {"v": 1, "name": "陈美玲", "id_number": "DEMO110101198001010011", "phone": "13800000001"}
    )).digest()
    assert card.commitment == expected == commitment_of(card.salt, IDENTITY)
    assert len(card.salt) == SALT_SIZE


def test_the_same_person_written_differently_gives_the_same_commitment() -> None:
    salt = bytes(range(32))
    a = HouseholdIdentity.create(" 陈美玲 ", "demo 110101198001010011", "138 0000 0001")
    assert commitment_of(salt, a) == commitment_of(salt, IDENTITY)
    assert commitment_of(bytes(32), IDENTITY) != commitment_of(salt, IDENTITY)
    other = HouseholdIdentity.create("陈美玲", "DEMO110101198001010011", "13800000002")
    assert commitment_of(salt, other) != commitment_of(salt, IDENTITY)


@pytest.mark.parametrize(("name", "id_number", "phone"), [
    ("", "X1", "1"), ("a" * 65, "X1", "1"), ("n", "X-1", "1"), ("n", "X1", "call me"),
])
def test_bad_identities_are_refused(name: str, id_number: str, phone: str) -> None:
    with pytest.raises(PrivacyError) as err:
        HouseholdIdentity.create(name, id_number, phone)
    assert err.value.code == "bad_identity"


def test_register_files_hold_no_plaintext_and_open_only_with_the_committee_key(tmp_path: Path) -> None:
    store = PrivacyStore(tmp_path / "privacy")
    card = _card()
    record = store.add(card, COMMITTEE.public_key)
    raw = store.path_of(card.commitment).read_bytes()
    for secret in IDENTITY.plaintexts():
        assert secret.encode() not in raw
        assert secret.encode().hex() not in raw.decode()
    assert stat.S_IMODE(store.path_of(card.commitment).stat().st_mode) == 0o600
    assert store.get(card.commitment) == record
    assert store.open(record, COMMITTEE) == card
    with pytest.raises(PrivacyError) as err:
        store.open(record, OTHER)
    assert err.value.code == "wrong_key"


def test_a_record_sealed_to_someone_else_does_not_open_even_if_relabelled(tmp_path: Path) -> None:
    store = PrivacyStore(tmp_path)
    record = store.add(_card(), OTHER.public_key)
    forged = type(record)(record.commitment, record.household, record.box,
                          {COMMITTEE.address: record.keys[OTHER.address]})
    with pytest.raises(PrivacyError) as err:
        store.open(forged, COMMITTEE)
    assert err.value.code == "wrong_key"


def test_a_damaged_record_file_is_a_typed_error(tmp_path: Path) -> None:
    store = PrivacyStore(tmp_path)
    card = _card()
    store.add(card, COMMITTEE.public_key)
    path = store.path_of(card.commitment)
    doc = json.loads(path.read_text())
    doc["box"] = "zz"
    path.write_text(json.dumps(doc))
    with pytest.raises(PrivacyError) as err:
        store.get(card.commitment)
    assert err.value.code == "bad_record"
    with pytest.raises(PrivacyError) as missing:
        store.get(bytes(32))
    assert missing.value.code == "not_found"


def test_card_round_trips_through_its_file(tmp_path: Path) -> None:
    card = _card()
    card.save(tmp_path / "card.json")
    assert HouseholdCard.load(tmp_path / "card.json") == card
    assert stat.S_IMODE((tmp_path / "card.json").stat().st_mode) == 0o600
    doc = json.loads((tmp_path / "card.json").read_text())
    doc["identity"]["phone"] = "13800000009"
    (tmp_path / "card.json").write_text(json.dumps(doc))
    with pytest.raises(PrivacyError):  # the commitment no longer matches the data
        HouseholdCard.load(tmp_path / "card.json")


def test_a_proof_opens_the_commitment_for_its_challenge_only() -> None:
    card = _card()
    proof = CommitmentProof.create(card, RESIDENT, "verifier-nonce-42")
    decoded = CommitmentProof.decode(proof.encode())
    assert decoded == proof
    assert decoded.check() == card.commitment
    assert decoded.challenge == "verifier-nonce-42"


def test_a_proof_with_changed_data_or_signature_is_refused() -> None:
    card = _card()
    proof = CommitmentProof.create(card, RESIDENT, "c")
    other_identity = HouseholdIdentity.create("王芳", "DEMO1", "13800000003")
    swapped = CommitmentProof(HouseholdCard(card.household, card.area_dm2, other_identity, card.salt),
                              proof.public_key, proof.challenge, proof.signature)
    replayed = CommitmentProof(card, proof.public_key, "another challenge", proof.signature)
    stranger = CommitmentProof(card, OTHER.public_key, "c", OTHER.sign(b"x"))
    for bad in (swapped, replayed, stranger):
        with pytest.raises(PrivacyError) as err:
            bad.check()
        assert err.value.code == "bad_proof"
    with pytest.raises(PrivacyError) as err:
        CommitmentProof.create(card, OTHER, "c")
    assert err.value.code == "wrong_key"


def test_a_sealed_proof_opens_only_for_its_verifier() -> None:
    proof = CommitmentProof.create(_card(), RESIDENT, "c")
    sealed = proof.seal_to(COMMITTEE.public_key)
    for secret in IDENTITY.plaintexts():
        assert secret.encode() not in sealed
    assert CommitmentProof.open_sealed(sealed, COMMITTEE) == proof
    with pytest.raises(PrivacyError) as err:
        CommitmentProof.open_sealed(sealed, OTHER)
    assert err.value.code == "wrong_key"


@settings(max_examples=200)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_decode_to_a_proof(data: bytes) -> None:
    with pytest.raises(PrivacyError):
        CommitmentProof.decode(data)


MEMBER_C = PrivateKey.from_seed_text("committee-member-c")


def test_sealed_to_every_member_and_resealed_when_one_leaves(tmp_path: Path) -> None:
    store = PrivacyStore(tmp_path)
    store.set_members([COMMITTEE.public_key, OTHER.public_key], COMMITTEE)
    card = _card()
    record = store.add(card, COMMITTEE.public_key)
    assert record.recipients == tuple(sorted([COMMITTEE.address, OTHER.address]))
    assert store.open(record, OTHER).identity == card.identity  # any member opens it
    # OTHER leaves, MEMBER_C joins: a fresh data key, sealed to the new members only.
    assert store.set_members([COMMITTEE.public_key, MEMBER_C.public_key], COMMITTEE) == 1
    resealed = store.get(card.commitment)
    assert resealed.recipients == tuple(sorted([COMMITTEE.address, MEMBER_C.address]))
    assert resealed.box != record.box
    assert store.open(resealed, MEMBER_C).identity == card.identity
    with pytest.raises(PrivacyError) as err:
        store.open(resealed, OTHER)
    assert err.value.code == "wrong_key"
    # The leaver's old sealed data key does not open the new box.
    with pytest.raises(PrivacyError):
        store.open(type(resealed)(resealed.commitment, resealed.household, resealed.box,
                                  {OTHER.address: record.keys[OTHER.address]}), OTHER)
    # Registered after the change: sealed to the current members too.
    later = store.add(_card("T2-03"), MEMBER_C.public_key)
    assert later.recipients == resealed.recipients


def test_every_opening_is_logged(tmp_path: Path) -> None:
    store = PrivacyStore(tmp_path)
    card = _card()
    record = store.add(card, COMMITTEE.public_key)
    store.open(record, COMMITTEE, purpose="service counter, desk 7")
    log = store.access_log()
    assert log[-1]["by"] == COMMITTEE.address and log[-1]["commitment"] == card.commitment.hex()
    assert log[-1]["purpose"] == "service counter, desk 7" and log[-1]["household"] == card.household
    with pytest.raises(PrivacyError):
        store.open(record, OTHER)
    assert len(store.access_log()) == 1  # a refused opening reveals nothing and logs nothing


def test_erased_on_request_keeps_the_commitment_only(tmp_path: Path) -> None:
    store = PrivacyStore(tmp_path)
    card = _card()
    store.add(card, COMMITTEE.public_key)
    backup = store.backup("correct horse battery")
    with pytest.raises(PrivacyError):
        store.erase(card.commitment, OTHER, 1_800_000_000)
    erased = store.erase(card.commitment, COMMITTEE, 1_800_000_000)
    text = store.path_of(card.commitment).read_text()
    assert erased.erased_at == 1_800_000_000 and card.commitment.hex() in text
    assert '"box"' not in text and '"keys"' not in text
    for secret in card.identity.plaintexts():
        assert secret not in text
    with pytest.raises(PrivacyError) as err:
        store.open(store.get(card.commitment), COMMITTEE)
    assert err.value.code == "erased"
    # A backup taken before never brings an erased record back.
    assert store.restore(backup, "correct horse battery") == (0, 1)
    assert store.get(card.commitment).erased_at == 1_800_000_000
    assert store.access_log()[-1]["purpose"] == "erased on request"


def test_an_encrypted_backup_restores_a_lost_register(tmp_path: Path) -> None:
    store = PrivacyStore(tmp_path / "node")
    store.set_members([COMMITTEE.public_key, OTHER.public_key], COMMITTEE)
    cards = [_card(f"T1-{i:02d}") for i in range(3)]
    for c in cards:
        store.add(c, COMMITTEE.public_key)
    data = store.backup("correct horse battery")
    for c in cards:
        assert c.identity.name.encode() not in data
    fresh = PrivacyStore(tmp_path / "new-node")
    with pytest.raises(PrivacyError) as err:
        fresh.restore(data, "wrong passphrase!")
    assert err.value.code == "bad_backup"
    with pytest.raises(PrivacyError):
        fresh.restore(b"garbage", "correct horse battery")
    assert fresh.restore(data, "correct horse battery") == (3, 0)
    assert fresh.members() == [COMMITTEE.public_key, OTHER.public_key]
    assert {fresh.open(r, OTHER).household for r in fresh.records()} == {c.household for c in cards}
    assert fresh.restore(data, "correct horse battery") == (0, 3)
