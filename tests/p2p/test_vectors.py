"""The p2p handshake against its committed known-answer vectors (docs/vectors/p2p.json):
the node's code, and an independent reading of PROTOCOL.md section 13 (X25519 and
HKDF from the `cryptography` package, msgpack, hashlib, PyNaCl's Ed25519)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import msgpack
import nacl.signing
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.crypto import PrivateKey
from p2p.messages import Auth, Hello, StreamStart, decode_frame, handshake_signing_bytes
from p2p.secure import EphemeralKey, session_keys, transcript_hash

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"


def load() -> Any:
    return json.loads((VECTORS / "p2p.json").read_text())


def test_the_code_gives_the_vectors() -> None:
    doc = load()
    genesis = bytes.fromhex(doc["genesis_hash"])
    sides = doc["sides"]
    eph = [EphemeralKey(bytes.fromhex(s["ephemeral_secret"])) for s in sides]
    for i, side in enumerate(sides):
        other = sides[1 - i]
        key = PrivateKey(bytes.fromhex(side["node_seed"]))
        assert key.public_key.hex() == side["public_key"]
        assert eph[i].public_key.hex() == side["ephemeral_public_key"]
        hello = Hello(doc["version"], doc["chain_id"], genesis, key.public_key,
                      bytes.fromhex(side["challenge"]), side["height"])
        assert hello.encode().hex() == side["hello_encoded"]
        assert decode_frame(bytes.fromhex(side["hello_encoded"])) == hello
        signing = handshake_signing_bytes(doc["chain_id"], genesis, bytes.fromhex(other["challenge"]),
                                          key.public_key, bytes.fromhex(other["public_key"]),
                                          eph[i].public_key)
        assert signing.hex() == side["auth_signing_bytes"]
        assert key.sign(signing).hex() == side["auth_signature"]
        auth = decode_frame(bytes.fromhex(side["auth_encoded"]))
        assert auth == Auth(bytes.fromhex(side["auth_signature"]), eph[i].public_key)
    shared = eph[0].shared_secret(eph[1].public_key)
    assert shared.hex() == doc["shared_secret"] == eph[1].shared_secret(eph[0].public_key).hex()
    triples = [(bytes.fromhex(s["public_key"]), bytes.fromhex(s["challenge"]),
                bytes.fromhex(s["ephemeral_public_key"])) for s in sides]
    transcript = transcript_hash(doc["chain_id"], genesis, triples[0], triples[1])
    assert transcript.hex() == doc["transcript"]
    low = doc["low_side"]
    sends, receives = session_keys(shared, transcript, triples[low][0], triples[1 - low][0])
    assert (sends.hex(), receives.hex()) == (doc["k_low"], doc["k_high"])
    example = doc["stream_start_example"]
    assert StreamStart(bytes.fromhex(example["header"])).encode().hex() == example["encoded"]


def pack(value: object) -> bytes:
    """msgpack as the spec's canonical encoding is for these values (no maps)."""
    data: bytes = msgpack.packb(value, use_bin_type=True)
    return data


def test_an_independent_reading_of_the_spec_gives_the_vectors() -> None:
    doc = load()
    genesis = bytes.fromhex(doc["genesis_hash"])
    sides = doc["sides"]
    for i, side in enumerate(sides):
        other = sides[1 - i]
        signed = b"hkchain/p2p-handshake/2\x00" + hashlib.sha256(pack([
            doc["chain_id"], genesis, bytes.fromhex(other["challenge"]), bytes.fromhex(side["public_key"]),
            bytes.fromhex(other["public_key"]), bytes.fromhex(side["ephemeral_public_key"])])).digest()
        assert signed.hex() == side["auth_signing_bytes"]
        nacl.signing.VerifyKey(bytes.fromhex(side["public_key"])).verify(
            signed, bytes.fromhex(side["auth_signature"]))
        assert pack([102, bytes.fromhex(side["auth_signature"]),
                     bytes.fromhex(side["ephemeral_public_key"])]).hex() == side["auth_encoded"]
        assert pack([101, doc["version"], doc["chain_id"], genesis, bytes.fromhex(side["public_key"]),
                     bytes.fromhex(side["challenge"]), side["height"]]).hex() == side["hello_encoded"]
    secret = X25519PrivateKey.from_private_bytes(bytes.fromhex(sides[0]["ephemeral_secret"]))
    shared = secret.exchange(X25519PublicKey.from_public_bytes(bytes.fromhex(sides[1]["ephemeral_public_key"])))
    assert shared.hex() == doc["shared_secret"]
    ordered = sorted(sides, key=lambda s: bytes.fromhex(s["public_key"]))
    assert ordered[0] is sides[doc["low_side"]]
    items = [bytes.fromhex(s[f]) for s in ordered for f in ("public_key", "challenge", "ephemeral_public_key")]
    transcript = hashlib.sha256(b"hkchain/p2p-transcript/2\x00" + pack([doc["chain_id"], genesis, *items])).digest()
    assert transcript.hex() == doc["transcript"]
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=transcript,
               info=b"hkchain/p2p-keys/2\x00").derive(shared)
    assert okm.hex() == doc["k_low"] + doc["k_high"]
