"""Addresses, key files and Merkle proofs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import bech32
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.crypto import PrivateKey, address_of, is_address, parse_address, verify
from core.errors import AddressError, KeyFileError
from core.merkle import MerkleProof, merkle_proof, merkle_root, verify_merkle_proof

KEY = PrivateKey.from_seed_text("crypto-test")
CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def test_sign_and_verify() -> None:
    sig = KEY.sign(b"hello")
    assert verify(KEY.public_key, b"hello", sig)
    assert not verify(KEY.public_key, b"hellO", sig)
    assert not verify(KEY.public_key, b"hello", sig[:-1] + bytes([sig[-1] ^ 1]))
    assert not verify(b"short", b"hello", sig)


def test_address_round_trip() -> None:
    addr = KEY.address
    assert addr.startswith("hk1")
    assert parse_address(addr) == __import__("hashlib").sha256(KEY.public_key).digest()[:20]
    assert address_of(KEY.public_key) == addr


@given(st.data())
def test_any_single_typo_in_an_address_is_caught(data: st.DataObject) -> None:
    addr = KEY.address
    i = data.draw(st.integers(min_value=3, max_value=len(addr) - 1))
    c = data.draw(st.sampled_from([c for c in CHARSET if c != addr[i]]))
    typo = addr[:i] + c + addr[i + 1 :]
    assert not is_address(typo)
    with pytest.raises(AddressError):
        parse_address(typo)


def _package_parse(text: str) -> bytes | None:
    """What the bech32 package makes of ``text`` as an address (None: not one)."""
    hrp, data = bech32.bech32_decode(text)
    if hrp != "hk" or data is None:
        return None
    payload = bech32.convertbits(data, 5, 8, False)
    return None if payload is None or len(payload) != 20 else bytes(payload)


def _parsed(text: str) -> bytes | None:
    try:
        return parse_address(text)
    except AddressError:
        return None


@given(st.binary(min_size=20, max_size=20), st.data())
def test_addresses_parse_as_the_bech32_package_parses_them(payload: bytes, data: st.DataObject) -> None:
    # parse_address reads the node's own form of address itself and leaves the rest to
    # the package: whatever the text, both must agree on what it is.
    groups = bech32.convertbits(payload, 8, 5)
    assert groups is not None
    addr = bech32.bech32_encode("hk", groups)
    assert parse_address(addr) == payload and parse_address(addr.upper()) == payload
    i = data.draw(st.integers(min_value=0, max_value=len(addr) - 1))
    c = data.draw(st.sampled_from(CHARSET + CHARSET.upper() + "1bio!~ \x00é"))
    edits = [addr[:i] + c + addr[i + 1:], addr[:i] + addr[i + 1:], addr[:i] + c + addr[i:],
             addr[:i] + addr[i:].upper(), data.draw(st.text(max_size=45))]
    for text in edits:
        assert _parsed(text) == _package_parse(text), text


def test_address_with_wrong_prefix_is_refused() -> None:
    with pytest.raises(AddressError):
        parse_address("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")


def test_key_file_is_private_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    KEY.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert PrivateKey.load(path) == KEY
    assert KEY.seed.hex() not in repr(KEY)


def test_encrypted_key_file(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    KEY.save(path, passphrase="correct horse")
    assert KEY.seed.hex() not in path.read_text()
    assert PrivateKey.load(path, "correct horse") == KEY
    with pytest.raises(KeyFileError):
        PrivateKey.load(path, "wrong")
    with pytest.raises(KeyFileError):
        PrivateKey.load(path)


def test_damaged_key_files(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    for text in ["", "{}", '{"type": "ed25519", "seed": "zz"}', '{"type": "ed25519", "seed": "00"}', "[1]"]:
        path.write_text(text)
        with pytest.raises(KeyFileError):
            PrivateKey.load(path)
    with pytest.raises(KeyFileError):
        PrivateKey.load(tmp_path / "missing.key")


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=40), st.data())
def test_merkle_proofs_verify_and_tampering_fails(leaves: list[bytes], data: st.DataObject) -> None:
    root = merkle_root(leaves)
    i = data.draw(st.integers(min_value=0, max_value=len(leaves) - 1))
    proof = merkle_proof(leaves, i)
    assert verify_merkle_proof(root, leaves[i], proof)
    assert MerkleProof.from_value(proof.to_value()) == proof
    assert not verify_merkle_proof(root, leaves[i] + b"!", proof)
    if proof.path:
        j = data.draw(st.integers(min_value=0, max_value=len(proof.path) - 1))
        bad = list(proof.path)
        bad[j] = bytes(b ^ 0xFF for b in bad[j])
        assert not verify_merkle_proof(root, leaves[i], MerkleProof(proof.index, proof.size, tuple(bad)))
        assert not verify_merkle_proof(root, leaves[i], MerkleProof(proof.index, proof.size, proof.path[:-1]))
    if len(leaves) > 1:
        other = (i + 1) % len(leaves)
        if leaves[other] != leaves[i]:
            assert not verify_merkle_proof(root, leaves[i], MerkleProof(other, proof.size, proof.path))


def test_merkle_root_depends_on_order_and_count() -> None:
    a, b, c = b"a", b"b", b"c"
    assert merkle_root([a, b]) != merkle_root([b, a])
    assert merkle_root([a, b, c]) != merkle_root([a, b])
    # A node must not pass for a leaf (second-preimage resistance by domain tags).
    assert merkle_root([a, b]) != merkle_root([merkle_root([a]) + merkle_root([b])])
