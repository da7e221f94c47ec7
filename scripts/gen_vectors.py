"""Write the known-answer test vectors of docs/PROTOCOL.md to docs/vectors/*.json.

  python scripts/gen_vectors.py [--out docs/vectors] [--check]

Run once when the protocol changes, review the diff, commit the files. Every input is
fixed (seeds, fields, salts, nonces), so a second run writes the same bytes; ``--check``
fails if the committed files differ from what the code now produces. The tests
(tests/core/test_vectors.py) check the implementation against the committed files, and
examples/wallet_min.py checks an independent implementation against them.

Values in the vectors are written in a typed form, so JSON's lack of a bytes type cannot
blur them: ``["int", "123"]`` (decimal text: JSON numbers lose precision past 2**53),
``["str", "text"]``, ``["bytes", "hex"]``, ``["bool", true]``, ``["nil"]``,
``["list", [item…]]``, ``["map", [[key, item]…]]`` (keys are str).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bech32
import nacl.pwhash
import nacl.secret

from core import codec
from core.codec import Value
from core.crypto import PrivateKey
from core.hashing import (
    DOMAIN_HEADER,
    DOMAIN_MERKLE_LEAF,
    DOMAIN_MERKLE_NODE,
    DOMAIN_TX,
    DOMAIN_VALSET,
    DOMAIN_VOTE,
    sha256,
)
from core.merkle import EMPTY_ROOT as MERKLE_EMPTY_ROOT
from core.merkle import merkle_proof, merkle_root
from core.types import (
    STATUS_OK,
    VOTE_COMMIT,
    Block,
    BlockHeader,
    CommitCertificate,
    Event,
    Receipt,
    Tx,
    Validator,
    ValidatorSet,
    Vote,
    receipts_root,
    tx_root,
)
from p2p.messages import PROTOCOL_VERSION, Auth, Hello, StreamStart, handshake_signing_bytes
from p2p.secure import EphemeralKey, session_keys, transcript_hash
from storage.kv import MemoryStore
from storage.state import (
    EMPTY_ROOT,
    PROOF_EMPTY,
    PROOF_INCLUSION,
    PROOF_OTHER_LEAF,
    StateProof,
    StateStore,
)
from vm import layout

CHAIN_ID = "hkchain-vectors"
KEY_PASSPHRASE = "correct horse battery staple"
KEY_SALT = bytes(range(16))
KEY_NONCE = bytes(range(100, 124))


def typed(v: Value) -> Any:
    """The typed JSON form of a Value (see the module docstring)."""
    if v is None:
        return ["nil"]
    if type(v) is bool:
        return ["bool", v]
    if type(v) is int:
        return ["int", str(v)]
    if type(v) is str:
        return ["str", v]
    if type(v) is bytes:
        return ["bytes", v.hex()]
    if type(v) in (list, tuple):
        assert isinstance(v, list | tuple)
        return ["list", [typed(x) for x in v]]
    if type(v) is dict:
        assert isinstance(v, dict)
        return ["map", [[k, typed(x)] for k, x in v.items()]]
    raise TypeError(type(v).__name__)


def seed_key(byte: int) -> PrivateKey:
    return PrivateKey(bytes([byte]) * 32)


ALICE = seed_key(0x01)
BOB = seed_key(0x02)
VALIDATOR_KEYS = [seed_key(0x10 + i) for i in range(4)]
VALIDATORS = ValidatorSet(tuple(Validator(k.public_key, f"committee-{i + 1}")
                                for i, k in enumerate(VALIDATOR_KEYS)))


# --- codec -------------------------------------------------------------------------------

CODEC_VALUES: list[tuple[str, Value]] = [
    ("nil", None),
    ("false", False),
    ("true", True),
    ("zero", 0),
    ("positive fixint", 127),
    ("uint8", 128),
    ("uint16", 256),
    ("uint32", 65536),
    ("uint64", 1 << 32),
    ("largest uint64", (1 << 64) - 1),
    ("negative fixint", -32),
    ("int8", -33),
    ("int16", -129),
    ("int32", -32769),
    ("int64", -(1 << 31) - 1),
    ("smallest int64", -(1 << 63)),
    ("big int 2**64 (ext 1, 9 bytes)", 1 << 64),
    ("big int -(2**63)-1 (ext 1)", -(1 << 63) - 1),
    ("big int 2**127 (ext 1, fixext 16 + 1 byte -> ext8)", 1 << 127),
    ("big int 2**120 (ext 1, 16 bytes: fixext 16)", 1 << 120),
    ("big int 2**255 (ext 1, 33 bytes)", 1 << 255),
    ("big int -(2**255)", -(1 << 255)),
    ("empty str", ""),
    ("fixstr", "hk"),
    ("str8 (32 bytes of UTF-8)", "a" * 32),
    ("unicode str", "居委会"),
    ("empty bytes", b""),
    ("bin8", bytes(range(8))),
    ("empty list", []),
    ("list", [1, "two", b"\x03", None, True]),
    ("array16 (16 items)", list(range(16))),
    ("empty map", {}),
    ("map keys sorted by code point", {"b": 1, "a": 2, "aa": 3, "B": 4}),
    # U+FF61 < U+1F600 by code point (and UTF-8 bytes), but not by UTF-16 code units:
    # a JavaScript sort() of the keys gets this one wrong.
    ("map keys sorted by code point, not UTF-16", {"\U0001F600": 1, "\uff61": 2}),
    ("nested", {"z": [{"y": 1, "x": [2, {"b": b"", "a": None}]}], "a": -1}),
]

# Bytes that msgpack decodes but a strict decoder must refuse.
CODEC_INVALID: list[tuple[str, bytes]] = [
    ("float64", bytes.fromhex("cb3ff0000000000000")),
    ("uint8 holding a fixint value", bytes.fromhex("cc05")),
    ("str8 holding a fixstr", bytes.fromhex("d9026869")),
    ("map keys out of order", bytes.fromhex("82a16201a16102")),
    ("duplicate map keys", bytes.fromhex("82a16101a16102")),
    ("integer map key", bytes.fromhex("810102")),
    ("ext 1 holding a value that fits 64 bits", bytes.fromhex("d40105")),
    ("ext 1 not minimal (leading 0x00)", bytes.fromhex("c70a0100010000000000000000")),
    ("ext of another type", bytes.fromhex("d40205")),
    ("trailing bytes", bytes.fromhex("0102")),
    ("str8 with invalid UTF-8", bytes.fromhex("a2c328")),
    ("empty input", b""),
]


def codec_vectors() -> dict[str, Any]:
    valid = [{"name": name, "value": typed(v), "hex": codec.encode(v).hex()}
             for name, v in CODEC_VALUES]
    for name, data in CODEC_INVALID:
        try:
            codec.decode(data)
        except Exception:
            continue
        raise AssertionError(f"codec accepted the invalid vector {name!r}")
    return {
        "description": "Canonical msgpack (PROTOCOL.md section 2): each value and its only "
                       "encoding; each invalid input must be refused by a strict decoder.",
        "valid": valid,
        "invalid": [{"name": n, "hex": d.hex()} for n, d in CODEC_INVALID],
    }


# --- keys --------------------------------------------------------------------------------


def _upper_one(address: str) -> str:
    """``address`` with its first letter after the prefix in upper case."""
    i = next(i for i, c in enumerate(address) if i > 3 and c.isalpha())
    return address[:i] + address[i].upper() + address[i + 1 :]


def key_vectors() -> dict[str, Any]:
    keys = [
        {"name": name, "seed": k.seed.hex(), "public_key": k.public_key.hex(),
         "address_payload": sha256(k.public_key)[:20].hex(), "address": k.address}
        for name, k in [("alice", ALICE), ("bob", BOB)]
        + [(f"validator-{i}", k) for i, k in enumerate(VALIDATOR_KEYS)]
    ]
    # The encrypted key file as PrivateKey.save writes it, with a fixed salt and nonce.
    box_key = nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE, KEY_PASSPHRASE.encode(), KEY_SALT,
        opslimit=nacl.pwhash.argon2id.OPSLIMIT_MODERATE,
        memlimit=nacl.pwhash.argon2id.MEMLIMIT_MODERATE,
    )
    box = bytes(nacl.secret.SecretBox(box_key).encrypt(ALICE.seed, KEY_NONCE))
    plain_file = {"type": "ed25519", "address": ALICE.address,
                  "public_key": ALICE.public_key.hex(), "seed": ALICE.seed.hex()}
    encrypted_file = {"type": "ed25519", "address": ALICE.address,
                      "public_key": ALICE.public_key.hex(),
                      "encryption": {"kdf": "argon2id", "salt": KEY_SALT.hex(), "box": box.hex()}}
    bad_addresses = [
        ("one character changed", ALICE.address[:-1] + ("q" if ALICE.address[-1] != "q" else "p")),
        ("wrong prefix", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
        ("mixed case", _upper_one(ALICE.address)),
        ("payload of 32 bytes (valid checksum)",
         bech32.bech32_encode("hk", bech32.convertbits(ALICE.public_key, 8, 5) or [])),
    ]
    return {
        "description": "Ed25519 keys from fixed 32-byte seeds, their addresses (bech32, "
                       "hrp 'hk', of the first 20 bytes of SHA-256 of the public key), and "
                       "key files (PROTOCOL.md section 5).",
        "keys": keys,
        "key_file_plain": plain_file,
        "key_file_encrypted": {
            "passphrase": KEY_PASSPHRASE,
            "argon2id": {"opslimit": nacl.pwhash.argon2id.OPSLIMIT_MODERATE,
                         "memlimit_bytes": nacl.pwhash.argon2id.MEMLIMIT_MODERATE,
                         "key_bytes": nacl.secret.SecretBox.KEY_SIZE},
            "file": encrypted_file,
            "seed": ALICE.seed.hex(),
        },
        "invalid_addresses": [{"name": n, "address": a} for n, a in bad_addresses],
    }


# --- txs ---------------------------------------------------------------------------------


def transfer_tx() -> Tx:
    return Tx(CHAIN_ID, ALICE.public_key, 7, "token", "transfer", (BOB.address, 250), 10, 1000)


def tx_vectors() -> dict[str, Any]:
    out = []
    txs = [
        ("token transfer", transfer_tx()),
        ("call with a map, bytes and a big int", Tx(
            CHAIN_ID, BOB.public_key, 0, "notices", "post",
            ("Water off on Friday", sha256(b"notice"), {"when": 3, "bytes": b"\x00", "big": 1 << 70}),
            2000, 123_456)),
    ]
    for name, t in txs:
        key = ALICE if t.sender == ALICE.public_key else BOB
        stx = t.sign(key)
        out.append({
            "name": name,
            "seed": key.seed.hex(),
            "fields": {
                "chain_id": t.chain_id, "sender": t.sender.hex(), "nonce": t.nonce,
                "contract": t.contract, "method": t.method,
                "args": [typed(a) for a in t.args],
                "max_fee": t.max_fee, "expiry_height": t.expiry_height,
            },
            "tx_encoded": t.encode().hex(),
            "tx_hash": t.hash.hex(),
            "signed_message": t.hash.hex(),
            "signature": stx.signature.hex(),
            "signed_tx_encoded": stx.encode().hex(),
        })
    return {
        "description": "Txs (PROTOCOL.md section 4): tx_encoded = encode([1, chain_id, "
                       "sender, nonce, contract, method, args, max_fee, expiry_height]); "
                       "tx_hash = SHA-256('hkchain/tx/1\\0' || tx_encoded); the sender signs "
                       "the 32-byte tx_hash with Ed25519; signed_tx_encoded = encode([2, tx, "
                       "signature]). POST it as {\"tx\": hex} to /v1/txs.",
        "domain_tx": DOMAIN_TX.hex(),
        "txs": out,
    }


# --- state -------------------------------------------------------------------------------


def _state() -> tuple[StateStore, dict[bytes, bytes]]:
    items: dict[bytes, bytes] = {
        layout.balance_key(ALICE.address): codec.encode(1_000_000),
        layout.balance_key(BOB.address): codec.encode(250),
        layout.nonce_key(ALICE.address): codec.encode(8),
        layout.storage_key("governance", f"v:3:{ALICE.address}"): codec.encode(
            {"choice": "yes", "area": 8650}),
        layout.storage_key("property", "bill:12"): codec.encode(
            {"id": 12, "household": BOB.address, "status": "paid", "total": 420}),
    }
    store = StateStore(MemoryStore(), keep_heights=None, cache_depth=1)
    overlay = store.overlay()
    for k, v in items.items():
        overlay.set(k, v)
    update = overlay.update()
    height = store.height + 1
    with store.kv.batch(sync=False) as wb:
        store.stage(update, wb, height)
    store.committed(update, height)
    return store, items


def _proof_json(key: bytes, value: bytes | None, proof: StateProof) -> dict[str, Any]:
    return {
        "key": key.hex(),
        "value": None if value is None else value.hex(),
        "kind": proof.kind,
        "levels": [[bitmap, [h.hex() for h in hashes]] for bitmap, hashes in proof.levels],
        "other_key_hash": proof.other_key_hash.hex(),
        "other_value_hash": proof.other_value_hash.hex(),
        "proof_encoded": codec.encode(proof.to_value()).hex(),
    }


def state_vectors() -> dict[str, Any]:
    store, items = _state()
    root = store.root
    alice_balance = layout.balance_key(ALICE.address)
    value, inclusion = store.prove(alice_balance)
    assert value == items[alice_balance] and inclusion.kind == PROOF_INCLUSION
    absent: dict[int, tuple[bytes, StateProof]] = {}
    for i in range(0x20, 0x80):
        key = layout.balance_key(seed_key(i).address)
        v, proof = store.prove(key)
        assert v is None
        absent.setdefault(proof.kind, (key, proof))
        if len(absent) == 2:
            break
    assert set(absent) == {PROOF_EMPTY, PROOF_OTHER_LEAF}
    bad_value = codec.encode(1_000_001)
    assert not inclusion.verify(root, alice_balance, bad_value)
    return {
        "description": "A small state (PROTOCOL.md sections 7 and 8): its items, its root, "
                       "and proofs. leaf = SHA-256(0x10 || SHA-256(key) || SHA-256(value)); "
                       "node = SHA-256(0x11 || 16 slots of 32 bytes); empty root = "
                       "SHA-256('hkchain/state/empty'). A proof must verify for exactly the "
                       "value given (null: the key is absent).",
        "empty_root": EMPTY_ROOT.hex(),
        "items": [{"key": k.hex(), "key_text": k.decode(), "value": v.hex(),
                   "value_decoded": typed(codec.decode(v))} for k, v in items.items()],
        "root": root.hex(),
        "inclusion": _proof_json(alice_balance, value, inclusion),
        "absence_empty_slot": _proof_json(absent[PROOF_EMPTY][0], None, absent[PROOF_EMPTY][1]),
        "absence_other_leaf": _proof_json(absent[PROOF_OTHER_LEAF][0], None,
                                          absent[PROOF_OTHER_LEAF][1]),
        "must_not_verify": {"key": alice_balance.hex(), "value": bad_value.hex(),
                            "proof": "inclusion"},
    }


# --- Merkle trees ------------------------------------------------------------------------


def merkle_vectors() -> dict[str, Any]:
    leaves = [sha256(bytes([i])) for i in range(7)]
    roots = [{"leaves": [x.hex() for x in leaves[:n]], "root": merkle_root(leaves[:n]).hex()}
             for n in range(len(leaves) + 1)]
    proofs = []
    for n, index in [(1, 0), (5, 4), (7, 2), (7, 6)]:
        p = merkle_proof(leaves[:n], index)
        proofs.append({"size": n, "index": index, "leaf": leaves[index].hex(),
                       "path": [h.hex() for h in p.path], "root": merkle_root(leaves[:n]).hex()})
    return {
        "description": "Merkle roots of the tx and receipts trees (PROTOCOL.md section 9), "
                       "RFC 6962: leaf = SHA-256(0x00 || leaf), node = SHA-256(0x01 || left "
                       "|| right), split at the largest power of two below n; empty = "
                       "SHA-256(''). The leaves here are SHA-256 of one byte 0..6.",
        "leaf_prefix": DOMAIN_MERKLE_LEAF.hex(),
        "node_prefix": DOMAIN_MERKLE_NODE.hex(),
        "empty_root": MERKLE_EMPTY_ROOT.hex(),
        "roots": roots,
        "proofs": proofs,
    }


# --- blocks, votes, certificates ----------------------------------------------------------


def chain_vectors() -> dict[str, Any]:
    stx = transfer_tx().sign(ALICE)
    receipt = Receipt(stx.hash, STATUS_OK, 31_200, 4, None,
                      (Event("token", "Transfer", {"from": ALICE.address, "to": BOB.address,
                                                   "amount": 250}),))
    store, _ = _state()
    header = BlockHeader(
        chain_id=CHAIN_ID, height=5, prev_hash=sha256(b"block 4"), tx_root=tx_root([stx]),
        state_root=store.root, receipts_root=receipts_root([receipt]),
        proposer=VALIDATORS.proposer(5, 0), view=0, timestamp_ms=1_767_225_600_000,
        validator_set_hash=VALIDATORS.hash,
    )
    block = Block(header, (stx,))
    votes = [Vote.create(k, VOTE_COMMIT, CHAIN_ID, header.height, header.view, header.hash)
             for k in VALIDATOR_KEYS]
    cert = CommitCertificate.from_votes(votes[:3])
    cert.verify(CHAIN_ID, VALIDATORS)
    return {
        "description": "A validator set, a block at height 5 holding the transfer of "
                       "tx.json, its receipt, the four validators' COMMIT votes and a "
                       "certificate of three of them (PROTOCOL.md sections 3, 4 and 6). The "
                       "header's state_root is the root of state.json.",
        "domains": {"header": DOMAIN_HEADER.hex(), "vote": DOMAIN_VOTE.hex(),
                    "valset": DOMAIN_VALSET.hex()},
        "validator_set": {
            "validators": [{"public_key": v.public_key.hex(), "name": v.name}
                           for v in VALIDATORS.validators],
            "encoded": VALIDATORS.encode().hex(),
            "hash": VALIDATORS.hash.hex(),
            "quorum": VALIDATORS.quorum,
        },
        "receipt": {
            "tx_hash": receipt.tx_hash.hex(), "status": receipt.status,
            "gas_used": receipt.gas_used, "fee": receipt.fee, "result": typed(receipt.result),
            "events": [{"contract": e.contract, "name": e.name, "fields": typed(e.fields)}
                       for e in receipt.events],
            "error_code": receipt.error_code, "error_contract": receipt.error_contract,
            "error_line": receipt.error_line,
            "encoded": receipt.encode().hex(),
        },
        "header": {
            "fields": {
                "chain_id": header.chain_id, "height": header.height,
                "prev_hash": header.prev_hash.hex(), "tx_root": header.tx_root.hex(),
                "state_root": header.state_root.hex(),
                "receipts_root": header.receipts_root.hex(),
                "proposer": header.proposer.hex(), "view": header.view,
                "timestamp_ms": header.timestamp_ms,
                "validator_set_hash": header.validator_set_hash.hex(),
            },
            "encoded": header.encode().hex(),
            "hash": header.hash.hex(),
        },
        "block_encoded": block.encode().hex(),
        "votes": [{"validator": v.validator.hex(), "kind": v.kind, "chain_id": v.chain_id,
                   "height": v.height, "view": v.view, "block_hash": v.block_hash.hex(),
                   "signing_bytes": v.signing_bytes().hex(), "signature": v.signature.hex(),
                   "encoded": v.encode().hex()} for v in votes],
        "certificate": {
            "chain_id": cert.chain_id, "height": cert.height, "view": cert.view,
            "block_hash": cert.block_hash.hex(),
            "signatures": [[k.hex(), s.hex()] for k, s in cert.signatures],
            "encoded": cert.encode().hex(),
        },
    }


def p2p_vectors() -> dict[str, Any]:
    """The p2p handshake of PROTOCOL.md section 13 between two validators, every secret
    fixed: what each side sends and signs, and the keys both derive. (A secretstream's
    header is random, drawn by libsodium's init_push, so sealed frames are not here: with
    the keys, libsodium's own secretstream is the reference.)"""
    genesis_hash = bytes([0x77]) * 32
    nodes = VALIDATOR_KEYS[:2]
    challenges = [bytes(range(32)), bytes(range(32, 64))]
    ephemerals = [EphemeralKey(bytes([0x31]) * 32), EphemeralKey(bytes([0x32]) * 32)]
    heights = [41, 42]
    sides = []
    for i in range(2):
        j = 1 - i
        me, them = nodes[i], nodes[j]
        hello = Hello(PROTOCOL_VERSION, CHAIN_ID, genesis_hash, me.public_key, challenges[i], heights[i])
        signing = handshake_signing_bytes(CHAIN_ID, genesis_hash, challenges[j], me.public_key,
                                          them.public_key, ephemerals[i].public_key)
        signature = me.sign(signing)
        sides.append({
            "node_seed": me.seed.hex(), "public_key": me.public_key.hex(),
            "challenge": challenges[i].hex(),
            "ephemeral_secret": bytes([0x31 + i]).hex() * 32,
            "ephemeral_public_key": ephemerals[i].public_key.hex(),
            "height": heights[i], "hello_encoded": hello.encode().hex(),
            "auth_signing_bytes": signing.hex(), "auth_signature": signature.hex(),
            "auth_encoded": Auth(signature, ephemerals[i].public_key).encode().hex(),
        })
    shared = ephemerals[0].shared_secret(ephemerals[1].public_key)
    triples = [(nodes[i].public_key, challenges[i], ephemerals[i].public_key) for i in range(2)]
    transcript = transcript_hash(CHAIN_ID, genesis_hash, triples[0], triples[1])
    send0, receive0 = session_keys(shared, transcript, nodes[0].public_key, nodes[1].public_key)
    low = 0 if nodes[0].public_key < nodes[1].public_key else 1
    k_low, k_high = (send0, receive0) if low == 0 else (receive0, send0)
    header = bytes(range(24))
    return {
        "description": f"A p2p version {PROTOCOL_VERSION} handshake (PROTOCOL.md section 13) between two "
                       "validators: side i's Auth answers side 1-i's challenge; the low side "
                       "is the one with the lower public key; it sends with k_low.",
        "version": PROTOCOL_VERSION, "chain_id": CHAIN_ID, "genesis_hash": genesis_hash.hex(),
        "sides": sides, "low_side": low,
        "shared_secret": shared.hex(), "transcript": transcript.hex(),
        "k_low": k_low.hex(), "k_high": k_high.hex(),
        "stream_start_example": {"header": header.hex(), "encoded": StreamStart(header).encode().hex()},
    }


def all_vectors() -> dict[str, dict[str, Any]]:
    return {
        "codec": codec_vectors(),
        "keys": key_vectors(),
        "tx": tx_vectors(),
        "chain": chain_vectors(),
        "state": state_vectors(),
        "merkle": merkle_vectors(),
        "p2p": p2p_vectors(),
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "vectors"))
    parser.add_argument("--check", action="store_true",
                        help="compare with the files in --out instead of writing them")
    args = parser.parse_args()
    out = Path(args.out)
    differ = []
    for name, doc in all_vectors().items():
        path = out / f"{name}.json"
        text = render(doc)
        if args.check:
            if not path.exists() or path.read_text() != text:
                differ.append(path.name)
            continue
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if differ:
        sys.exit(f"vectors differ from the code: {', '.join(differ)}")


if __name__ == "__main__":
    main()
