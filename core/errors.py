"""The root of hkchain's typed errors.

Every error a client or a peer can provoke is a ChainError with a stable, machine-readable
``code``; the RPC maps codes to HTTP answers. Each package derives its own subtree.
"""

from __future__ import annotations


class ChainError(Exception):
    """Base of all hkchain errors. ``code`` is stable and machine-readable."""

    code: str = "error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message or self.code)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class DecodeError(ChainError):
    """Bytes that are not the canonical encoding of a value of the expected type."""

    code = "malformed"


class ValidationError(ChainError):
    """A well-formed value that breaks a rule checked without state (validate_basic)."""

    code = "invalid"


class SignatureError(ValidationError):
    """A signature that does not verify against the claimed public key."""

    code = "bad_signature"


class AddressError(ValidationError):
    """A printable address with a bad prefix, length or checksum."""

    code = "bad_address"


class KeyFileError(ChainError):
    """A key file that cannot be read, decrypted or parsed."""

    code = "bad_key_file"
