"""The one hash of hkchain: SHA-256, with domain tags so a hash of one kind of thing can
never be taken for a hash of another."""

from __future__ import annotations

import hashlib

HASH_SIZE = 32
ZERO_HASH = bytes(HASH_SIZE)

# Domain tags: one per kind of hashed or signed object.
DOMAIN_TX = b"hkchain/tx/1\x00"
DOMAIN_HEADER = b"hkchain/header/1\x00"
DOMAIN_VOTE = b"hkchain/vote/1\x00"
DOMAIN_VALSET = b"hkchain/valset/1\x00"
DOMAIN_RECEIPT = b"hkchain/receipt/1\x00"
DOMAIN_MERKLE_LEAF = b"\x00"
DOMAIN_MERKLE_NODE = b"\x01"


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def tagged_hash(domain: bytes, data: bytes) -> bytes:
    return hashlib.sha256(domain + data).digest()
