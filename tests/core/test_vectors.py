"""The implementation against the committed known-answer vectors (docs/vectors/*.json).

The files are literals written once by scripts/gen_vectors.py; these tests never
regenerate them, so a change to any encoding, hash, signature, proof or root fails here
until the vectors (and so PROTOCOL.md's promise to wallet makers) are changed on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core import codec
from core.codec import Value
from core.crypto import PrivateKey, parse_address
from core.errors import AddressError, DecodeError, KeyFileError
from core.hashing import DOMAIN_HEADER, DOMAIN_TX, DOMAIN_VALSET, DOMAIN_VOTE
from core.merkle import MerkleProof, merkle_root, verify_merkle_proof
from core.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    Event,
    Receipt,
    SignedTx,
    Tx,
    Validator,
    ValidatorSet,
    Vote,
    receipts_root,
    tx_root,
)
from storage.kv import MemoryStore
from storage.state import EMPTY_ROOT, StateProof, StateStore, verify_state_proof

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text())


def from_typed(t: Any) -> Value:
    kind = t[0]
    if kind == "nil":
        return None
    if kind == "bool":
        return bool(t[1])
    if kind == "int":
        return int(t[1])
    if kind == "str":
        out: str = t[1]
        return out
    if kind == "bytes":
        return bytes.fromhex(t[1])
    if kind == "list":
        return [from_typed(x) for x in t[1]]
    if kind == "map":
        return {k: from_typed(x) for k, x in t[1]}
    raise AssertionError(f"unknown typed value {kind}")


# --- codec ------------------------------------------------------------------------------


@pytest.mark.parametrize("vec", load("codec")["valid"], ids=lambda v: v["name"])
def test_codec_valid(vec: dict[str, Any]) -> None:
    value = from_typed(vec["value"])
    assert codec.encode(value).hex() == vec["hex"]
    assert codec.decode(bytes.fromhex(vec["hex"])) == value


@pytest.mark.parametrize("vec", load("codec")["invalid"], ids=lambda v: v["name"])
def test_codec_invalid(vec: dict[str, Any]) -> None:
    with pytest.raises(DecodeError):
        codec.decode(bytes.fromhex(vec["hex"]))


# --- keys -------------------------------------------------------------------------------


def test_keys_and_addresses() -> None:
    doc = load("keys")
    assert len(doc["keys"]) >= 2
    for k in doc["keys"]:
        key = PrivateKey(bytes.fromhex(k["seed"]))
        assert key.public_key.hex() == k["public_key"]
        assert key.address == k["address"]
        assert parse_address(k["address"]).hex() == k["address_payload"]
    for bad in doc["invalid_addresses"]:
        with pytest.raises(AddressError):
            parse_address(bad["address"])


def test_key_files(tmp_path: Path) -> None:
    doc = load("keys")
    plain = tmp_path / "plain.key"
    plain.write_text(json.dumps(doc["key_file_plain"]))
    enc = doc["key_file_encrypted"]
    sealed = tmp_path / "sealed.key"
    sealed.write_text(json.dumps(enc["file"]))
    assert PrivateKey.load(plain).seed.hex() == enc["seed"]
    assert PrivateKey.load(sealed, enc["passphrase"]).seed.hex() == enc["seed"]
    with pytest.raises(KeyFileError):
        PrivateKey.load(sealed, enc["passphrase"] + "x")


# --- txs --------------------------------------------------------------------------------


def _tx(fields: dict[str, Any]) -> Tx:
    return Tx(fields["chain_id"], bytes.fromhex(fields["sender"]), fields["nonce"],
              fields["contract"], fields["method"], tuple(from_typed(a) for a in fields["args"]),
              fields["max_fee"], fields["expiry_height"])


def test_txs() -> None:
    doc = load("tx")
    assert bytes.fromhex(doc["domain_tx"]) == DOMAIN_TX
    for vec in doc["txs"]:
        tx = _tx(vec["fields"])
        assert tx.encode().hex() == vec["tx_encoded"]
        assert tx.hash.hex() == vec["tx_hash"] == vec["signed_message"]
        stx = tx.sign(PrivateKey(bytes.fromhex(vec["seed"])))
        assert stx.signature.hex() == vec["signature"]
        assert stx.encode().hex() == vec["signed_tx_encoded"]
        decoded = SignedTx.decode(bytes.fromhex(vec["signed_tx_encoded"]))
        assert decoded == stx
        decoded.validate_basic()


# --- chain records ------------------------------------------------------------------------


def _validators(doc: dict[str, Any]) -> ValidatorSet:
    return ValidatorSet(tuple(Validator(bytes.fromhex(v["public_key"]), v["name"])
                              for v in doc["validator_set"]["validators"]))


def _header(fields: dict[str, Any]) -> BlockHeader:
    b = bytes.fromhex
    return BlockHeader(fields["chain_id"], fields["height"], b(fields["prev_hash"]),
                       b(fields["tx_root"]), b(fields["state_root"]), b(fields["receipts_root"]),
                       b(fields["proposer"]), fields["view"], fields["timestamp_ms"],
                       b(fields["validator_set_hash"]))


def test_validator_set_header_and_block() -> None:
    doc = load("chain")
    assert {k: bytes.fromhex(v) for k, v in doc["domains"].items()} == {
        "header": DOMAIN_HEADER, "vote": DOMAIN_VOTE, "valset": DOMAIN_VALSET}
    vs = _validators(doc)
    assert vs.encode().hex() == doc["validator_set"]["encoded"]
    assert vs.hash.hex() == doc["validator_set"]["hash"]
    assert vs.quorum == doc["validator_set"]["quorum"]
    header = _header(doc["header"]["fields"])
    assert header.encode().hex() == doc["header"]["encoded"]
    assert header.hash.hex() == doc["header"]["hash"]
    stx = SignedTx.decode(bytes.fromhex(load("tx")["txs"][0]["signed_tx_encoded"]))
    assert tx_root([stx]) == header.tx_root
    block = Block(header, (stx,))
    assert block.encode().hex() == doc["block_encoded"]
    assert Block.decode(bytes.fromhex(doc["block_encoded"])) == block


def test_receipt() -> None:
    doc = load("chain")
    r = doc["receipt"]
    result = from_typed(r["result"])
    events = []
    for e in r["events"]:
        fields = from_typed(e["fields"])
        assert isinstance(fields, dict)
        events.append(Event(e["contract"], e["name"], fields))
    receipt = Receipt(bytes.fromhex(r["tx_hash"]), r["status"], r["gas_used"], r["fee"], result,
                      tuple(events), r["error_code"], r["error_contract"], r["error_line"])
    assert receipt.encode().hex() == r["encoded"]
    assert receipts_root([receipt]).hex() == doc["header"]["fields"]["receipts_root"]


def test_votes_and_certificate() -> None:
    doc = load("chain")
    vs = _validators(doc)
    header_hash = bytes.fromhex(doc["header"]["hash"])
    votes = []
    for v in doc["votes"]:
        vote = Vote.decode(bytes.fromhex(v["encoded"]))
        assert vote.block_hash == header_hash
        assert vote.signing_bytes().hex() == v["signing_bytes"]
        assert vote.signature.hex() == v["signature"]
        assert vote.verify_signature()
        votes.append(vote)
    c = doc["certificate"]
    cert = CommitCertificate.decode(bytes.fromhex(c["encoded"]))
    assert cert == CommitCertificate.from_votes(votes[:3])
    assert [[k.hex(), s.hex()] for k, s in cert.signatures] == c["signatures"]
    cert.verify(doc["header"]["fields"]["chain_id"], vs)


# --- state ------------------------------------------------------------------------------


def test_state_root_and_proofs() -> None:
    doc = load("state")
    assert EMPTY_ROOT.hex() == doc["empty_root"]
    store = StateStore(MemoryStore(), keep_heights=None, cache_depth=1)
    overlay = store.overlay()
    for item in doc["items"]:
        assert bytes.fromhex(item["key"]) == item["key_text"].encode()
        assert codec.decode(bytes.fromhex(item["value"])) == from_typed(item["value_decoded"])
        overlay.set(bytes.fromhex(item["key"]), bytes.fromhex(item["value"]))
    assert overlay.root().hex() == doc["root"]
    update = overlay.update()
    with store.kv.batch(sync=False) as wb:
        store.stage(update, wb, 0)
    store.committed(update, 0)
    root = bytes.fromhex(doc["root"])
    for name, kind in (("inclusion", 0), ("absence_empty_slot", 1), ("absence_other_leaf", 2)):
        vec = doc[name]
        key = bytes.fromhex(vec["key"])
        value = None if vec["value"] is None else bytes.fromhex(vec["value"])
        got_value, proof = store.prove(key)
        assert got_value == value
        assert proof.kind == kind == vec["kind"]
        assert codec.encode(proof.to_value()).hex() == vec["proof_encoded"]
        decoded = StateProof.from_value(codec.decode(bytes.fromhex(vec["proof_encoded"])))
        assert verify_state_proof(root, key, value, decoded)
        assert not verify_state_proof(root, key, b"" if value is None else None, decoded)
    bad = doc["must_not_verify"]
    proof = StateProof.from_value(codec.decode(bytes.fromhex(doc[bad["proof"]]["proof_encoded"])))
    assert not proof.verify(root, bytes.fromhex(bad["key"]), bytes.fromhex(bad["value"]))


# --- Merkle trees ---------------------------------------------------------------------------


def test_merkle_roots_and_proofs() -> None:
    doc = load("merkle")
    assert merkle_root([]).hex() == doc["empty_root"]
    for r in doc["roots"]:
        assert merkle_root([bytes.fromhex(x) for x in r["leaves"]]).hex() == r["root"]
    for p in doc["proofs"]:
        proof = MerkleProof(p["index"], p["size"], tuple(bytes.fromhex(h) for h in p["path"]))
        assert verify_merkle_proof(bytes.fromhex(p["root"]), bytes.fromhex(p["leaf"]), proof)
