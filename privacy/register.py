"""Residents' personal data: the committee's encrypted off-chain register, and commitments.

Names, ID numbers and phone numbers never go on chain. A household is known on chain only
by a commitment, ``sha256(salt || canonical identity bytes)``, with a fresh 32-byte salt,
so the commitment reveals nothing and cannot be brute-forced from a guessable phone number.

* ``HouseholdCard``: what the resident keeps (household address, area, identity, salt).
  With it the resident can prove the on-chain commitment to a verifier of their choice
  (``CommitmentProof``, signed by the household's key, bound to the verifier's challenge
  and optionally sealed to the verifier's key), and to nobody else.
* ``PrivacyStore``: the committee's register on its node (``data/privacy/``), one file per
  household, each holding the card sealed (PyNaCl SealedBox, X25519) to the registering
  committee member's key, so the files at rest are readable only with that key.
"""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.public
import nacl.signing
import nacl.utils

from core import codec
from core.crypto import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, address_of, is_address, verify
from core.errors import ChainError, DecodeError
from core.hashing import HASH_SIZE, sha256

SALT_SIZE = 32
MAX_NAME_CHARS = 64
MAX_ID_NUMBER_CHARS = 32
MAX_PHONE_CHARS = 32
MAX_CHALLENGE_CHARS = 128
MAX_RECORD_FILE_BYTES = 64 * 1024
MAX_AREA_DM2 = 100_000_000  # the roles contract's bound: 10,000 m²
IDENTITY_VERSION = 1
PRIVACY_DIR = "privacy"
DOMAIN_PROOF = b"hkchain/household-proof/1\x00"


class PrivacyError(ChainError):
    """Bad personal data, a damaged record, a wrong key, or a proof that does not hold.
    ``code``: bad_identity, bad_card, bad_record, not_found, wrong_key, bad_proof."""

    code = "privacy_error"


def _norm(text: str, what: str, max_chars: int) -> str:
    if not isinstance(text, str):
        raise PrivacyError(f"{what} must be text", code="bad_identity")
    out = unicodedata.normalize("NFC", text).strip()
    if not out or len(out) > max_chars:
        raise PrivacyError(f"{what} must be 1..{max_chars} characters", code="bad_identity")
    return out


@dataclass(frozen=True)
class HouseholdIdentity:
    """The personal data of a household's registered owner, normalised so the same person
    always gives the same bytes (NFC, trimmed; ID number upper-case; phone digits only)."""

    name: str
    id_number: str
    phone: str

    @classmethod
    def create(cls, name: str, id_number: str, phone: str) -> HouseholdIdentity:
        phone_n = _norm(phone, "phone", MAX_PHONE_CHARS).replace(" ", "").replace("-", "")
        if not phone_n.lstrip("+").isdigit():
            raise PrivacyError("phone must be digits (an optional leading +)", code="bad_identity")
        id_n = _norm(id_number, "id_number", MAX_ID_NUMBER_CHARS).replace(" ", "").upper()
        if not id_n.isalnum():
            raise PrivacyError("id_number must be letters and digits", code="bad_identity")
        return cls(_norm(name, "name", MAX_NAME_CHARS), id_n, phone_n)

    def to_value(self) -> dict[str, Any]:
        return {"v": IDENTITY_VERSION, "name": self.name, "id_number": self.id_number,
                "phone": self.phone}

    @classmethod
    def from_value(cls, v: Any) -> HouseholdIdentity:
        if not isinstance(v, dict) or v.get("v") != IDENTITY_VERSION or set(v) != {
            "v", "name", "id_number", "phone"
        }:
            raise PrivacyError("not a version-1 identity", code="bad_identity")
        ident = cls.create(v["name"], v["id_number"], v["phone"])
        if ident.to_value() != v:
            raise PrivacyError("identity is not in normal form", code="bad_identity")
        return ident

    def canonical_bytes(self) -> bytes:
        """The bytes the commitment covers: the canonical msgpack of the identity."""
        return codec.encode(self.to_value())

    def plaintexts(self) -> tuple[str, str, str]:
        return (self.name, self.id_number, self.phone)


def new_salt() -> bytes:
    return nacl.utils.random(SALT_SIZE)


def commitment_of(salt: bytes, identity: HouseholdIdentity) -> bytes:
    """The on-chain commitment: ``sha256(salt || canonical identity bytes)``."""
    if len(salt) != SALT_SIZE:
        raise PrivacyError(f"salt must be {SALT_SIZE} bytes", code="bad_card")
    return sha256(salt + identity.canonical_bytes())


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_json(path: Path, what: str, code: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_RECORD_FILE_BYTES + 1)
    except OSError as exc:
        raise PrivacyError(f"cannot read {what} {path}: {exc.strerror or exc}", code=code) from exc
    if len(raw) > MAX_RECORD_FILE_BYTES:
        raise PrivacyError(f"{what} {path} is too large", code=code)
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise PrivacyError(f"{what} {path} is not JSON", code=code) from exc
    if not isinstance(doc, dict):
        raise PrivacyError(f"{what} {path} is not a JSON object", code=code)
    return doc


def _hex(v: Any, what: str, size: int, code: str) -> bytes:
    try:
        b = bytes.fromhex(v) if isinstance(v, str) else b""
    except ValueError:
        b = b""
    if len(b) != size:
        raise PrivacyError(f"{what} must be {size} bytes of hex", code=code)
    return b


# --- the resident's card ---------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdCard:
    """What the resident keeps: enough to prove the household's commitment."""

    household: str
    area_dm2: int
    identity: HouseholdIdentity
    salt: bytes

    def __post_init__(self) -> None:
        if not is_address(self.household):
            raise PrivacyError("household must be an hk1… address", code="bad_card")
        if type(self.area_dm2) is not int or not 0 < self.area_dm2 <= MAX_AREA_DM2:
            raise PrivacyError("area_dm2 must be a positive int (0.01 m²)", code="bad_card")
        if len(self.salt) != SALT_SIZE:
            raise PrivacyError(f"salt must be {SALT_SIZE} bytes", code="bad_card")

    @classmethod
    def issue(cls, household: str, area_dm2: int, identity: HouseholdIdentity) -> HouseholdCard:
        return cls(household, area_dm2, identity, new_salt())

    @property
    def commitment(self) -> bytes:
        return commitment_of(self.salt, self.identity)

    def to_value(self) -> dict[str, Any]:
        return {"household": self.household, "area_dm2": self.area_dm2,
                "identity": self.identity.to_value(), "salt": self.salt}

    @classmethod
    def from_value(cls, v: Any) -> HouseholdCard:
        if not isinstance(v, dict) or set(v) != {"household", "area_dm2", "identity", "salt"}:
            raise PrivacyError("not a household card", code="bad_card")
        if type(v["salt"]) is not bytes or type(v["household"]) is not str:
            raise PrivacyError("not a household card", code="bad_card")
        return cls(v["household"], v["area_dm2"], HouseholdIdentity.from_value(v["identity"]),
                   v["salt"])

    def to_json(self) -> dict[str, Any]:
        return {"type": "hkchain-household-card", "household": self.household,
                "area_dm2": self.area_dm2, "identity": self.identity.to_value(),
                "salt": self.salt.hex(), "commitment": self.commitment.hex()}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> HouseholdCard:
        if doc.get("type") != "hkchain-household-card":
            raise PrivacyError("not a household card", code="bad_card")
        card = cls(doc.get("household", ""), doc.get("area_dm2", 0),
                   HouseholdIdentity.from_value(doc.get("identity")),
                   _hex(doc.get("salt"), "salt", SALT_SIZE, "bad_card"))
        if "commitment" in doc and doc["commitment"] != card.commitment.hex():
            raise PrivacyError("card's commitment does not match its data", code="bad_card")
        return card

    def save(self, path: Path) -> None:
        """Write the card for the resident (mode 0600: it holds personal data)."""
        _write_private(Path(path), json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: Path) -> HouseholdCard:
        return cls.from_json(_read_json(Path(path), "household card", "bad_card"))


# --- the committee's register ----------------------------------------------------------


def _box_public_key(public_key: bytes) -> nacl.public.PublicKey:
    # Ed25519 → X25519 (libsodium's birational map): the committee member's one key pair
    # both signs txs and opens the register.
    return nacl.signing.VerifyKey(public_key).to_curve25519_public_key()


def _box_private_key(key: PrivateKey) -> nacl.public.PrivateKey:
    return nacl.signing.SigningKey(key.seed).to_curve25519_private_key()


@dataclass(frozen=True)
class SealedRecord:
    """One household in the committee's register, as stored: the commitment and the
    household address (both public on chain) and the card sealed to the committee."""

    commitment: bytes
    household: str
    committee: str
    sealed: bytes

    def to_json(self) -> dict[str, Any]:
        return {"type": "hkchain-sealed-household", "commitment": self.commitment.hex(),
                "household": self.household, "committee": self.committee,
                "sealed": self.sealed.hex()}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> SealedRecord:
        if doc.get("type") != "hkchain-sealed-household":
            raise PrivacyError("not a sealed household record", code="bad_record")
        sealed_hex = doc.get("sealed")
        try:
            sealed = bytes.fromhex(sealed_hex) if isinstance(sealed_hex, str) else b""
        except ValueError:
            sealed = b""
        household, committee = doc.get("household"), doc.get("committee")
        if not sealed or not is_address(household) or not is_address(committee):
            raise PrivacyError("damaged sealed household record", code="bad_record")
        assert isinstance(household, str) and isinstance(committee, str)
        return cls(_hex(doc.get("commitment"), "commitment", HASH_SIZE, "bad_record"),
                   household, committee, sealed)


class PrivacyStore:
    """The committee's register: ``root/<commitment hex>.json``, one sealed card each.

    Writing needs only the committee member's public key; reading needs its private key.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def of_node_home(cls, node_home: Path, data_dir: str = "data") -> PrivacyStore:
        return cls(Path(node_home) / data_dir / PRIVACY_DIR)

    def path_of(self, commitment: bytes) -> Path:
        return self.root / f"{commitment.hex()}.json"

    def add(self, card: HouseholdCard, committee_public_key: bytes) -> SealedRecord:
        """Seal ``card`` to the committee member's key and store it."""
        if len(committee_public_key) != PUBLIC_KEY_SIZE:
            raise PrivacyError("committee key must be an Ed25519 public key", code="wrong_key")
        box = nacl.public.SealedBox(_box_public_key(committee_public_key))
        sealed = bytes(box.encrypt(codec.encode(card.to_value())))
        record = SealedRecord(card.commitment, card.household, address_of(committee_public_key),
                              sealed)
        _write_private(self.path_of(record.commitment), json.dumps(record.to_json(), indent=2) + "\n")
        return record

    def get(self, commitment: bytes) -> SealedRecord:
        path = self.path_of(commitment)
        if not path.exists():
            raise PrivacyError(f"no household with commitment {commitment.hex()} in {self.root}",
                               code="not_found")
        return SealedRecord.from_json(_read_json(path, "sealed record", "bad_record"))

    def records(self, limit: int = 100_000) -> list[SealedRecord]:
        if not self.root.is_dir():
            return []
        out = []
        for path in sorted(self.root.glob("*.json"))[:limit]:
            out.append(SealedRecord.from_json(_read_json(path, "sealed record", "bad_record")))
        return out

    def find(self, household: str) -> list[SealedRecord]:
        return [r for r in self.records() if r.household == household]

    @staticmethod
    def open(record: SealedRecord, committee_key: PrivateKey) -> HouseholdCard:
        """The card inside ``record``; PrivacyError(wrong_key) for any other key."""
        if committee_key.address != record.committee:
            raise PrivacyError(f"record is sealed to committee member {record.committee}",
                               code="wrong_key")
        try:
            plain = nacl.public.SealedBox(_box_private_key(committee_key)).decrypt(record.sealed)
            card = HouseholdCard.from_value(codec.decode(bytes(plain)))
        except nacl.exceptions.CryptoError as exc:
            raise PrivacyError("record does not open with this key", code="wrong_key") from exc
        except DecodeError as exc:
            raise PrivacyError("record content is damaged", code="bad_record") from exc
        if card.commitment != record.commitment or card.household != record.household:
            raise PrivacyError("record content does not match its commitment", code="bad_record")
        return card


# --- proving a commitment to one verifier ------------------------------------------------


def proof_signing_bytes(household: str, commitment: bytes, challenge: str) -> bytes:
    return DOMAIN_PROOF + codec.encode([household, commitment, challenge])


@dataclass(frozen=True)
class CommitmentProof:
    """The household's data and salt, signed by the household's key over the verifier's
    challenge: the verifier recomputes the commitment and compares it with the chain's."""

    card: HouseholdCard
    public_key: bytes
    challenge: str
    signature: bytes

    @classmethod
    def create(cls, card: HouseholdCard, key: PrivateKey, challenge: str) -> CommitmentProof:
        if key.address != card.household:
            raise PrivacyError("the key is not the household's key", code="wrong_key")
        if not 0 < len(challenge) <= MAX_CHALLENGE_CHARS:
            raise PrivacyError(f"challenge must be 1..{MAX_CHALLENGE_CHARS} characters",
                               code="bad_proof")
        sig = key.sign(proof_signing_bytes(card.household, card.commitment, challenge))
        return cls(card, key.public_key, challenge, sig)

    def check(self) -> bytes:
        """The commitment this proof opens, if it is self-consistent and signed by the
        household's key; PrivacyError(bad_proof) otherwise. Compare it with the chain."""
        if address_of(self.public_key) != self.card.household:
            raise PrivacyError("proof key is not the household's", code="bad_proof")
        msg = proof_signing_bytes(self.card.household, self.card.commitment, self.challenge)
        if not verify(self.public_key, msg, self.signature):
            raise PrivacyError("proof signature does not verify", code="bad_proof")
        return self.card.commitment

    def to_value(self) -> dict[str, Any]:
        return {"card": self.card.to_value(), "public_key": self.public_key,
                "challenge": self.challenge, "signature": self.signature}

    @classmethod
    def from_value(cls, v: Any) -> CommitmentProof:
        if not isinstance(v, dict) or set(v) != {"card", "public_key", "challenge", "signature"}:
            raise PrivacyError("not a commitment proof", code="bad_proof")
        pk, ch, sig = v["public_key"], v["challenge"], v["signature"]
        if (type(pk) is not bytes or len(pk) != PUBLIC_KEY_SIZE or type(ch) is not str
                or len(ch) > MAX_CHALLENGE_CHARS or type(sig) is not bytes
                or len(sig) != SIGNATURE_SIZE):
            raise PrivacyError("not a commitment proof", code="bad_proof")
        try:
            card = HouseholdCard.from_value(v["card"])
        except PrivacyError as exc:
            raise PrivacyError(f"proof card: {exc.message}", code="bad_proof") from exc
        return cls(card, pk, ch, sig)

    def encode(self) -> bytes:
        return codec.encode(self.to_value())

    @classmethod
    def decode(cls, data: bytes) -> CommitmentProof:
        try:
            return cls.from_value(codec.decode(data, MAX_RECORD_FILE_BYTES))
        except DecodeError as exc:
            raise PrivacyError("not a commitment proof", code="bad_proof") from exc

    def seal_to(self, verifier_public_key: bytes) -> bytes:
        """The proof encrypted to the verifier alone (carriers learn nothing)."""
        if len(verifier_public_key) != PUBLIC_KEY_SIZE:
            raise PrivacyError("verifier key must be an Ed25519 public key", code="wrong_key")
        return bytes(nacl.public.SealedBox(_box_public_key(verifier_public_key)).encrypt(self.encode()))

    @classmethod
    def open_sealed(cls, sealed: bytes, verifier_key: PrivateKey) -> CommitmentProof:
        try:
            plain = nacl.public.SealedBox(_box_private_key(verifier_key)).decrypt(sealed)
        except nacl.exceptions.CryptoError as exc:
            raise PrivacyError("proof is not sealed to this key", code="wrong_key") from exc
        return cls.decode(bytes(plain))
