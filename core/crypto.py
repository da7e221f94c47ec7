"""Ed25519 keys and signatures (PyNaCl), printable addresses, and key files.

An address is ``hk1…``: bech32 (BIP-173) of the first 20 bytes of SHA-256 of the public
key. Its checksum catches any single mistyped character. Key files are JSON written with
mode 0600; a passphrase, if given, encrypts the secret with Argon2id + XSalsa20-Poly1305.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import bech32
import nacl.bindings
import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.signing
import nacl.utils

from core.errors import AddressError, KeyFileError
from core.hashing import sha256

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
SEED_SIZE = 32
ADDRESS_HRP = "hk"
ADDRESS_PAYLOAD_SIZE = 20


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True if ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``."""
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=65536)
def address_of(public_key: bytes) -> str:
    """The printable address of a public key."""
    payload = sha256(public_key)[:ADDRESS_PAYLOAD_SIZE]
    data = bech32.convertbits(payload, 8, 5)
    assert data is not None  # 8-to-5 conversion of whole bytes always succeeds
    out: str = bech32.bech32_encode(ADDRESS_HRP, data)
    return out


# A fast path for addresses as the node writes them (lowercase, ``hk1`` + 32 data + 6
# checksum characters): the VM checks every address a tx names, and the bech32 package's
# decoder takes about 76 µs an address on this machine, as long as a signature check. The
# checksum is BIP-173's, a step per character with the generator's XORs for each top value
# read from a table, starting from the state after the fixed prefix. Anything else, or an
# address whose checksum fails, is left to the package, so results and messages are its.
_BECH32_VALUE = {c: i for i, c in enumerate(bech32.CHARSET)}
_BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_BECH32_TOP_XOR = tuple(
    functools.reduce(lambda acc, i: acc ^ _BECH32_GENERATOR[i] if top >> i & 1 else acc, range(5), 0)
    for top in range(32)
)


def _bech32_step(chk: int, value: int) -> int:
    return ((chk & 0x1FFFFFF) << 5) ^ value ^ _BECH32_TOP_XOR[chk >> 25]


_ADDRESS_PREFIX = ADDRESS_HRP + "1"
_ADDRESS_DATA_CHARS = ADDRESS_PAYLOAD_SIZE * 8 // 5
_ADDRESS_CHARS = len(_ADDRESS_PREFIX) + _ADDRESS_DATA_CHARS + 6
_PREFIX_CHECKSUM_STATE = functools.reduce(_bech32_step, bech32.bech32_hrp_expand(ADDRESS_HRP), 1)


def _fast_address_payload(text: str) -> bytes | None:
    """The payload of an address in the node's own form whose checksum holds, else None."""
    if len(text) != _ADDRESS_CHARS or not text.startswith(_ADDRESS_PREFIX):
        return None
    chk, payload, value_of, top_xor = _PREFIX_CHECKSUM_STATE, 0, _BECH32_VALUE, _BECH32_TOP_XOR
    try:  # _bech32_step inlined: a call per character costs more than the step
        for c in text[len(_ADDRESS_PREFIX):-6]:
            v = value_of[c]
            chk = ((chk & 0x1FFFFFF) << 5) ^ v ^ top_xor[chk >> 25]
            payload = (payload << 5) | v
        for c in text[-6:]:
            chk = ((chk & 0x1FFFFFF) << 5) ^ value_of[c] ^ top_xor[chk >> 25]
    except KeyError:  # not a lowercase bech32 character
        return None
    return payload.to_bytes(ADDRESS_PAYLOAD_SIZE, "big") if chk == 1 else None


def parse_address(text: str) -> bytes:
    """The 20-byte payload of a printable address; AddressError if it is not valid."""
    if not isinstance(text, str) or len(text) > 90:
        raise AddressError("address must be a short string")
    fast = _fast_address_payload(text)
    if fast is not None:
        return fast
    hrp, data = bech32.bech32_decode(text)
    if hrp is None or data is None:
        raise AddressError(f"{text!r} is not a valid address (bad checksum or characters)")
    if hrp != ADDRESS_HRP:
        raise AddressError(f"address prefix must be {ADDRESS_HRP!r}, not {hrp!r}")
    payload = bech32.convertbits(data, 5, 8, False)
    if payload is None or len(payload) != ADDRESS_PAYLOAD_SIZE:
        raise AddressError("address payload has the wrong length")
    return bytes(payload)


def is_address(text: object) -> bool:
    if not isinstance(text, str):
        return False
    try:
        parse_address(text)
    except AddressError:
        return False
    return True


@dataclass(frozen=True)
class PrivateKey:
    """An Ed25519 signing key. ``seed`` is the 32-byte secret."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != SEED_SIZE:
            raise ValueError("an Ed25519 seed is 32 bytes")

    def __repr__(self) -> str:  # never print the secret
        return f"PrivateKey(address={self.address})"

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(nacl.utils.random(SEED_SIZE))

    @classmethod
    def from_seed_text(cls, text: str) -> PrivateKey:
        """A deterministic key derived from text: for tests and simulations only."""
        return cls(sha256(b"hkchain/test-key\x00" + text.encode()))

    @functools.cached_property
    def _secret(self) -> bytes:
        _pk, sk = nacl.bindings.crypto_sign_seed_keypair(self.seed)
        return bytes(sk)

    @functools.cached_property
    def public_key(self) -> bytes:
        return bytes(nacl.bindings.crypto_sign_ed25519_sk_to_pk(self._secret))

    @property
    def address(self) -> str:
        return address_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        signed = nacl.bindings.crypto_sign(message, self._secret)
        return bytes(signed[:SIGNATURE_SIZE])

    # --- key files -------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], passphrase: str | None = None) -> None:
        """Write a key file readable by its owner only (mode 0600)."""
        doc: dict[str, object] = {
            "type": "ed25519",
            "address": self.address,
            "public_key": self.public_key.hex(),
        }
        if passphrase:
            salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
            box_key = _derive_box_key(passphrase, salt)
            sealed = nacl.secret.SecretBox(box_key).encrypt(self.seed)
            doc["encryption"] = {"kdf": "argon2id", "salt": salt.hex(), "box": bytes(sealed).hex()}
        else:
            doc["seed"] = self.seed.hex()
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: str | None = None) -> PrivateKey:
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise KeyFileError(f"cannot read key file {path}: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("type") != "ed25519":
            raise KeyFileError(f"{path} is not an hkchain key file")
        try:
            if "encryption" in doc:
                if not passphrase:
                    raise KeyFileError(f"{path} is encrypted: a passphrase is needed")
                enc = doc["encryption"]
                box_key = _derive_box_key(passphrase, bytes.fromhex(enc["salt"]))
                try:
                    seed = nacl.secret.SecretBox(box_key).decrypt(bytes.fromhex(enc["box"]))
                except nacl.exceptions.CryptoError as exc:
                    raise KeyFileError("wrong passphrase") from exc
            else:
                seed = bytes.fromhex(doc["seed"])
            key = cls(bytes(seed))
        except KeyFileError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyFileError(f"{path} is damaged: {exc}") from exc
        if doc.get("public_key") not in (None, key.public_key.hex()):
            raise KeyFileError(f"{path}: public key does not match the secret")
        return key


def key_file_address(path: str | os.PathLike[str]) -> str:
    """The address of a key file, from its public key alone: no passphrase needed, so a
    payer can name a recipient by the recipient's (even encrypted) key file."""
    try:
        doc = json.loads(Path(path).read_text())
        public_key = bytes.fromhex(doc["public_key"]) if isinstance(doc, dict) else b""
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(f"{path} is not an hkchain key file") from exc
    if doc.get("type") != "ed25519" or len(public_key) != PUBLIC_KEY_SIZE:
        raise KeyFileError(f"{path} is not an hkchain key file")
    return address_of(public_key)


def is_key_file_encrypted(path: str | os.PathLike[str]) -> bool:
    try:
        return "encryption" in json.loads(Path(path).read_text())
    except (OSError, ValueError, TypeError) as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc}") from exc


def _derive_box_key(passphrase: str, salt: bytes) -> bytes:
    key: bytes = nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        passphrase.encode(),
        salt,
        opslimit=nacl.pwhash.argon2id.OPSLIMIT_MODERATE,
        memlimit=nacl.pwhash.argon2id.MEMLIMIT_MODERATE,
    )
    return key
