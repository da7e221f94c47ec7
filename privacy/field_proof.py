"""A proof that discloses one field of a household to its verifier, nothing else.

The unit and the floor area are public on chain (``households.record``), so proving
"the person before me holds the household of unit T3-12B" needs no personal data at all:
the household's key signs the verifier's challenge and the field's name; the verifier
checks the signature against the household's address and reads the field from the chain.
The proof carries no name, ID number, phone or salt (the full card proof,
``CommitmentProof``, is for a verifier who needs the identity itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import codec
from core.crypto import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, address_of, is_address, verify
from core.errors import DecodeError
from privacy.register import MAX_CHALLENGE_CHARS, PrivacyError

FIELDS = ("unit", "area")
DOMAIN_FIELD_PROOF = b"hkchain/household-field-proof/1\x00"
MAX_FIELD_PROOF_BYTES = 4096


def field_signing_bytes(household: str, field: str, challenge: str) -> bytes:
    return DOMAIN_FIELD_PROOF + codec.encode([household, field, challenge])


@dataclass(frozen=True)
class FieldProof:
    household: str
    field: str
    public_key: bytes
    challenge: str
    signature: bytes

    @classmethod
    def create(cls, household: str, field: str, key: PrivateKey, challenge: str) -> FieldProof:
        if key.address != household:
            raise PrivacyError("the key is not the household's key", code="wrong_key")
        if field not in FIELDS:
            raise PrivacyError(f"field: one of {', '.join(FIELDS)}", code="bad_proof")
        if not 0 < len(challenge) <= MAX_CHALLENGE_CHARS:
            raise PrivacyError(f"challenge must be 1..{MAX_CHALLENGE_CHARS} characters", code="bad_proof")
        return cls(household, field, key.public_key, challenge,
                   key.sign(field_signing_bytes(household, field, challenge)))

    def check(self) -> None:
        """PrivacyError(bad_proof) unless signed by the household's own key."""
        if self.field not in FIELDS or address_of(self.public_key) != self.household:
            raise PrivacyError("proof key is not the household's", code="bad_proof")
        if not verify(self.public_key, field_signing_bytes(self.household, self.field, self.challenge),
                      self.signature):
            raise PrivacyError("proof signature does not verify", code="bad_proof")

    def to_value(self) -> dict[str, Any]:
        return {"household": self.household, "field": self.field, "public_key": self.public_key,
                "challenge": self.challenge, "signature": self.signature}

    @classmethod
    def from_value(cls, v: Any) -> FieldProof:
        if not isinstance(v, dict) or set(v) != {"household", "field", "public_key", "challenge", "signature"}:
            raise PrivacyError("not a field proof", code="bad_proof")
        h, f, pk, ch, sig = v["household"], v["field"], v["public_key"], v["challenge"], v["signature"]
        if (not is_address(h) or f not in FIELDS or type(pk) is not bytes or len(pk) != PUBLIC_KEY_SIZE
                or type(ch) is not str or not 0 < len(ch) <= MAX_CHALLENGE_CHARS
                or type(sig) is not bytes or len(sig) != SIGNATURE_SIZE):
            raise PrivacyError("not a field proof", code="bad_proof")
        return cls(h, f, pk, ch, sig)

    def encode(self) -> bytes:
        return codec.encode(self.to_value())

    @classmethod
    def decode(cls, data: bytes) -> FieldProof:
        try:
            return cls.from_value(codec.decode(data, MAX_FIELD_PROOF_BYTES))
        except DecodeError as exc:
            raise PrivacyError("not a field proof", code="bad_proof") from exc
