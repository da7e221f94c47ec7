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

import contextlib
import json
import os
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.public
import nacl.pwhash
import nacl.secret
import nacl.signing
import nacl.utils

from core import codec
from core.crypto import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, PrivateKey, address_of, is_address, verify
from core.errors import ChainError, DecodeError
from core.fields import is_decimal
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
        if not is_decimal(phone_n.removeprefix("+")):
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
    household address (both public on chain), the card encrypted under a random data key
    (``box``, XSalsa20-Poly1305), and that data key sealed to each committee member
    (``keys``: address -> SealedBox). Any one member opens it; when membership changes
    the register is re-sealed to the new members with a fresh data key. A record erased
    on request (PIPL) keeps only the commitment, household and the time: ``erased_at``."""

    commitment: bytes
    household: str
    box: bytes
    keys: dict[str, bytes]
    erased_at: int = 0

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(sorted(self.keys))

    @property
    def committee(self) -> str:
        """The members it is sealed to, for display."""
        return ", ".join(self.recipients) if self.keys else "(erased)"

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": "hkchain-sealed-household", "v": 2, "commitment": self.commitment.hex(),
                               "household": self.household}
        if self.erased_at:
            doc["erased_at"] = self.erased_at
        else:
            doc["box"] = self.box.hex()
            doc["keys"] = {a: k.hex() for a, k in sorted(self.keys.items())}
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> SealedRecord:
        if doc.get("type") != "hkchain-sealed-household" or doc.get("v") != 2:
            raise PrivacyError("not a sealed household record (version 2)", code="bad_record")
        household = doc.get("household")
        if not is_address(household):
            raise PrivacyError("damaged sealed household record", code="bad_record")
        assert isinstance(household, str)
        commitment = _hex(doc.get("commitment"), "commitment", HASH_SIZE, "bad_record")
        erased = doc.get("erased_at", 0)
        if type(erased) is not int or erased < 0:
            raise PrivacyError("damaged sealed household record", code="bad_record")
        if erased:
            return cls(commitment, household, b"", {}, erased)
        try:
            box = bytes.fromhex(doc["box"])
            keys = {str(a): bytes.fromhex(k) for a, k in dict(doc["keys"]).items()}
        except (KeyError, TypeError, ValueError):
            raise PrivacyError("damaged sealed household record", code="bad_record") from None
        if not box or not keys or not all(is_address(a) for a in keys):
            raise PrivacyError("damaged sealed household record", code="bad_record")
        return cls(commitment, household, box, keys)


def _seal(card: HouseholdCard, members: Sequence[bytes]) -> SealedRecord:
    if not members:
        raise PrivacyError("seal to at least one committee member", code="wrong_key")
    data_key = nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)
    box = bytes(nacl.secret.SecretBox(data_key).encrypt(codec.encode(card.to_value())))
    keys = {}
    for pk in members:
        if len(pk) != PUBLIC_KEY_SIZE:
            raise PrivacyError("a committee key must be an Ed25519 public key", code="wrong_key")
        keys[address_of(pk)] = bytes(nacl.public.SealedBox(_box_public_key(pk)).encrypt(data_key))
    return SealedRecord(card.commitment, card.household, box, keys)


# A SecretBox of the card: 24-byte nonce, 16-byte tag, and the encoded card; a sealed data
# key: 32-byte ephemeral public key, 16-byte tag, the 32-byte key.
MIN_BOX_BYTES = nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES + 1
SEALED_KEY_BYTES = nacl.public.PublicKey.SIZE + nacl.secret.SecretBox.MACBYTES + nacl.secret.SecretBox.KEY_SIZE
MAX_RECIPIENTS = 64


def check_sealed_shape(record: SealedRecord) -> None:
    """What a store that never opens a record can check of it: a live record with a box
    and 1..64 data keys, each of exactly the size a SealedBox of a SecretBox key has.
    (Whether the box holds a card only a member can tell; the writer is a member.)"""
    if record.erased_at:
        raise PrivacyError("an erased record is written only by erasing", code="bad_record")
    if len(record.box) < MIN_BOX_BYTES or len(record.box) > MAX_RECORD_FILE_BYTES // 2:
        raise PrivacyError("the sealed card is not a SecretBox", code="bad_record")
    if not 0 < len(record.keys) <= MAX_RECIPIENTS:
        raise PrivacyError(f"a record is sealed to 1..{MAX_RECIPIENTS} members", code="bad_record")
    if any(len(k) != SEALED_KEY_BYTES for k in record.keys.values()):
        raise PrivacyError("a sealed data key is not a SealedBox of a 32-byte key", code="bad_record")


MEMBERS_FILE = "members.json"
ACCESS_LOG = "access.log"
RECORD_GLOB = "[0-9a-f]*.json"


class PrivacyStore:
    """The committee's register: ``root/<commitment hex>.json``, one sealed card each,
    ``root/members.json`` the committee members' public keys every record is sealed to,
    and ``root/access.log`` (JSON lines) of who opened which record, when and why.

    Writing needs only the members' public keys; reading needs one member's private key.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def of_node_home(cls, node_home: Path, data_dir: str = "data") -> PrivacyStore:
        return cls(Path(node_home) / data_dir / PRIVACY_DIR)

    def path_of(self, commitment: bytes) -> Path:
        return self.root / f"{commitment.hex()}.json"

    # --- members ---------------------------------------------------------------------

    def members(self) -> list[bytes]:
        """The public keys of the committee members the register is sealed to."""
        path = self.root / MEMBERS_FILE
        if not path.exists():
            return []
        doc = _read_json(path, "committee members file", "bad_record")
        keys = doc.get("members")
        if not isinstance(keys, list):
            raise PrivacyError("damaged committee members file", code="bad_record")
        return [_hex(k, "member key", PUBLIC_KEY_SIZE, "bad_record") for k in keys]

    def set_members(self, public_keys: Sequence[bytes], opener: PrivateKey) -> int:
        """Make ``public_keys`` the members and re-seal every record to them with a fresh
        data key (a member who left cannot open what is written from now on). ``opener``
        is a current member's key. Returns the number of records re-sealed."""
        keys = list(dict.fromkeys(bytes(k) for k in public_keys))
        if not keys or any(len(k) != PUBLIC_KEY_SIZE for k in keys):
            raise PrivacyError("members: one or more Ed25519 public keys", code="wrong_key")
        records = [r for r in self.records() if not r.erased_at]
        cards = [self.open(r, opener, purpose="re-seal to the committee", log=False) for r in records]
        _write_private(self.root / MEMBERS_FILE,
                       json.dumps({"members": [k.hex() for k in keys]}, indent=2) + "\n")
        for card in cards:
            self._write(_seal(card, keys))
        self.log(opener.address, None, f"re-sealed {len(cards)} records to {len(keys)} members")
        return len(cards)

    # --- records ---------------------------------------------------------------------

    def _write(self, record: SealedRecord) -> None:
        _write_private(self.path_of(record.commitment), json.dumps(record.to_json(), indent=2) + "\n")

    def add(self, card: HouseholdCard, committee_public_key: bytes | Sequence[bytes]) -> SealedRecord:
        """Seal ``card`` to the given member key(s) and to every member of the register,
        and store it."""
        given = [committee_public_key] if isinstance(committee_public_key, bytes) else list(committee_public_key)
        record = _seal(card, list(dict.fromkeys([*given, *self.members()])))
        self._write(record)
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
        for path in sorted(self.root.glob(RECORD_GLOB))[:limit]:
            out.append(SealedRecord.from_json(_read_json(path, "sealed record", "bad_record")))
        return out

    def find(self, household: str) -> list[SealedRecord]:
        return [r for r in self.records() if r.household == household]

    def open(self, record: SealedRecord, committee_key: PrivateKey, *, purpose: str = "",
             log: bool = True) -> HouseholdCard:
        """The card inside ``record``; PrivacyError(wrong_key) for a key it is not sealed
        to, (erased) for an erased record. Each opening is written to the access log."""
        if record.erased_at:
            raise PrivacyError("this record was erased on request", code="erased")
        sealed_key = record.keys.get(committee_key.address)
        if sealed_key is None:
            raise PrivacyError(f"record is sealed to {record.committee}, not to {committee_key.address}",
                               code="wrong_key")
        try:
            data_key = nacl.public.SealedBox(_box_private_key(committee_key)).decrypt(sealed_key)
            plain = nacl.secret.SecretBox(bytes(data_key)).decrypt(record.box)
            card = HouseholdCard.from_value(codec.decode(bytes(plain)))
        except nacl.exceptions.CryptoError as exc:
            raise PrivacyError("record does not open with this key", code="wrong_key") from exc
        except DecodeError as exc:
            raise PrivacyError("record content is damaged", code="bad_record") from exc
        if card.commitment != record.commitment or card.household != record.household:
            raise PrivacyError("record content does not match its commitment", code="bad_record")
        if log:
            self.log(committee_key.address, record, purpose or "opened")
        return card

    def put(self, record: SealedRecord, writer: str) -> bool:
        """Store a record sealed elsewhere (by a committee member's browser, through the
        node's register endpoint): the store never sees the card. It must be shaped as a
        sealed record (``check_sealed_shape``), be sealed to the writer and to every member,
        and may not bring back an erased record or reuse a commitment of another household.
        Returns True when it was new."""
        check_sealed_shape(record)
        if writer not in record.keys:
            raise PrivacyError("a record is sealed to the member who writes it", code="wrong_key")
        missing = sorted({address_of(pk) for pk in self.members()} - set(record.keys))
        if missing:
            raise PrivacyError("the record is not sealed to every committee member of the register: "
                               + ", ".join(missing), code="members_missing")
        path = self.path_of(record.commitment)
        new = not path.exists()
        if not new:
            old = self.get(record.commitment)
            if old.erased_at:
                raise PrivacyError("this record was erased on request; it is never brought back",
                                   code="erased")
            if old.household != record.household:
                raise PrivacyError("this commitment is another household's", code="commitment_taken")
        self._write(record)
        return new

    def remove(self, commitment: bytes) -> SealedRecord:
        """Delete a record's file outright: for a record the chain does not use (a
        registration that failed, or data superseded by an update). Personal data still in
        use is erased on request instead (``erase``), which keeps the commitment."""
        record = self.get(commitment)
        self.path_of(commitment).unlink(missing_ok=True)
        return record

    def erase(self, commitment: bytes, by: PrivateKey | str, now_s: int) -> SealedRecord:
        """Erase a record on the resident's request (PIPL art. 47): the sealed data and
        every sealed copy of its data key are destroyed (crypto-shredding: a backup of the
        old file is useless once restore refuses it, and holds nothing the erased record
        could be re-derived from without a member's key); the commitment and household
        stay, as they do on chain."""
        record = self.get(commitment)
        who = by if isinstance(by, str) else by.address
        if record.erased_at:
            raise PrivacyError("already erased", code="erased")
        if who not in record.keys:
            raise PrivacyError("only a committee member the record is sealed to erases it", code="wrong_key")
        erased = SealedRecord(record.commitment, record.household, b"", {}, max(1, now_s))
        self._write(erased)
        self.log(who, erased, "erased on request")
        return erased

    # --- the access log --------------------------------------------------------------

    def log(self, who: str, record: SealedRecord | None, purpose: str, now_s: int | None = None) -> None:
        entry = {"at": int(time.time()) if now_s is None else now_s, "by": who, "purpose": purpose[:200]}
        if record is not None:
            entry |= {"commitment": record.commitment.hex(), "household": record.household}
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ACCESS_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def access_log(self) -> list[dict[str, Any]]:
        path = self.root / ACCESS_LOG
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                if isinstance(doc, dict):
                    out.append(doc)
        return out

    # --- encrypted backup --------------------------------------------------------------

    def backup(self, passphrase: str) -> bytes:
        """Every record file and the members file, encrypted under a key derived from
        ``passphrase`` (Argon2id): a file to keep off the node."""
        files = {p.name: p.read_text() for p in sorted(self.root.glob(RECORD_GLOB))}
        members = self.root / MEMBERS_FILE
        if members.exists():
            files[MEMBERS_FILE] = members.read_text()
        salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
        key = _backup_key(passphrase, salt)
        box = nacl.secret.SecretBox(key).encrypt(codec.encode({"v": 1, "files": files}))
        return BACKUP_MAGIC + salt + bytes(box)

    def restore(self, data: bytes, passphrase: str) -> tuple[int, int]:
        """Write back the records of a backup that are missing here; an erased record is
        never brought back. Returns (restored, skipped)."""
        if not data.startswith(BACKUP_MAGIC) or len(data) > MAX_BACKUP_BYTES:
            raise PrivacyError("not a register backup", code="bad_backup")
        salt = data[len(BACKUP_MAGIC):len(BACKUP_MAGIC) + nacl.pwhash.argon2id.SALTBYTES]
        try:
            plain = nacl.secret.SecretBox(_backup_key(passphrase, salt)).decrypt(
                data[len(BACKUP_MAGIC) + len(salt):])
            doc = codec.decode(bytes(plain))
        except (nacl.exceptions.CryptoError, DecodeError, ValueError) as exc:
            raise PrivacyError("wrong passphrase or damaged backup", code="bad_backup") from exc
        files = doc.get("files") if isinstance(doc, dict) else None
        if not isinstance(files, dict):
            raise PrivacyError("damaged backup", code="bad_backup")
        restored = skipped = 0
        for name, text in sorted(files.items()):
            target = self.root / str(name)
            if name == MEMBERS_FILE:
                if not target.exists():
                    _write_private(target, str(text))
                continue
            record = SealedRecord.from_json(json.loads(str(text)))
            if name != f"{record.commitment.hex()}.json":
                raise PrivacyError("damaged backup", code="bad_backup")
            if target.exists():
                skipped += 1  # present here (or erased here: an erasure is never undone)
                continue
            _write_private(target, str(text))
            restored += 1
        return restored, skipped


BACKUP_MAGIC = b"hkchain-register-backup/1\x00"
MAX_BACKUP_BYTES = 1024 * 1024 * 1024


def _backup_key(passphrase: str, salt: bytes) -> bytes:
    if len(passphrase) < 8:
        raise PrivacyError("a backup passphrase has at least 8 characters", code="bad_backup")
    return bytes(nacl.pwhash.argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase.encode(), salt,
                                          opslimit=nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
                                          memlimit=nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE))


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
