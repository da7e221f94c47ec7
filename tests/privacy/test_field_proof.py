"""A proof of one public field (unit or area): signed by the household's key over the
verifier's challenge, carrying no personal data; anything else is refused."""

from __future__ import annotations

import pytest

from core.crypto import PrivateKey
from privacy.field_proof import FieldProof
from privacy.register import PrivacyError

HOME = PrivateKey.from_seed_text("field-proof-home")
OTHER = PrivateKey.from_seed_text("field-proof-other")


def test_a_field_proof_round_trips_and_checks() -> None:
    proof = FieldProof.create(HOME.address, "unit", HOME, "desk-3")
    again = FieldProof.decode(proof.encode())
    again.check()
    assert again == proof and set(again.to_value()) == {"household", "field", "public_key", "challenge", "signature"}


def test_forgeries_are_refused() -> None:
    with pytest.raises(PrivacyError):
        FieldProof.create(HOME.address, "unit", OTHER, "desk-3")  # not the household's key
    with pytest.raises(PrivacyError):
        FieldProof.create(HOME.address, "name", HOME, "desk-3")  # not a public field
    proof = FieldProof.create(HOME.address, "unit", HOME, "desk-3")
    for changed in (FieldProof(HOME.address, "area", proof.public_key, proof.challenge, proof.signature),
                    FieldProof(HOME.address, "unit", proof.public_key, "desk-4", proof.signature),
                    FieldProof(OTHER.address, "unit", proof.public_key, proof.challenge, proof.signature)):
        with pytest.raises(PrivacyError) as err:
            changed.check()
        assert err.value.code == "bad_proof"
    for junk in (b"", b"\x80", proof.encode()[:-3]):
        with pytest.raises(PrivacyError):
            FieldProof.decode(junk)
