"""`hkchain block --verify`: the client checks finality itself, from the block the node
rendered and a trusted validator set, and catches every kind of tampering."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from core.crypto import PrivateKey
from core.errors import ValidationError
from core.hashing import ZERO_HASH
from core.render import block_json, validators_json
from core.types import (
    VOTE_COMMIT,
    Block,
    BlockHeader,
    CommitCertificate,
    Tx,
    Validator,
    ValidatorSet,
    Vote,
    tx_root,
)
from core.verify import validator_set_from_json, verify_block

CHAIN = "hk-test"
KEYS = [PrivateKey.from_seed_text(f"verify-validator-{i}") for i in range(4)]
VALIDATORS = ValidatorSet(tuple(Validator(k.public_key, f"node{i}") for i, k in enumerate(KEYS)))
ALICE = PrivateKey.from_seed_text("verify-alice")


def _block(signers: int = 3) -> dict[str, Any]:
    txs = tuple(
        Tx(CHAIN, ALICE.public_key, n, "token", "transfer", (ALICE.address, n + 1, b"\x01"), 5000, 99).sign(ALICE)
        for n in range(2)
    )
    header = BlockHeader(CHAIN, 5, bytes(range(32)), tx_root(txs), b"\x07" * 32, ZERO_HASH,
                         KEYS[1].public_key, 0, 1_700_000_000_000, VALIDATORS.hash)
    block = Block(header, txs)
    votes = [Vote.create(k, VOTE_COMMIT, CHAIN, 5, 0, block.hash) for k in KEYS[:signers]]
    return block_json(block, CommitCertificate.from_votes(votes))


def test_an_honest_block_verifies() -> None:
    checked = verify_block(_block(), validator_set_from_json(validators_json(VALIDATORS)))
    assert (checked.height, checked.signers, checked.quorum) == (5, 3, 3)
    assert checked.state_root == "07" * 32


def _tampered(edit: str) -> dict[str, Any]:
    doc = copy.deepcopy(_block())
    if edit == "state_root":
        doc["header"]["state_root"] = "08" * 32
    elif edit == "state_root_and_hash":
        doc["header"]["state_root"] = "08" * 32
        header = BlockHeader.from_value([3, *[
            bytes.fromhex(v) if k.endswith(("hash", "root", "proposer")) else v
            for k, v in doc["header"].items() if k != "encoded"
        ]])
        doc["hash"] = header.hash.hex()
        doc["header"]["encoded"] = header.encoded.hex()
    elif edit == "header_bytes":
        doc["header"]["encoded"] = doc["header"]["encoded"][:-2] + "00"
    elif edit == "tx_args":
        doc["txs"][0]["args"][1] = 1000
    elif edit == "tx_bytes":
        doc["txs"][0]["encoded"] = doc["txs"][1]["encoded"]
    elif edit == "tx_dropped":
        doc["txs"].pop()
    elif edit == "cert_block":
        doc["certificate"]["encoded"] = CommitCertificate(CHAIN, 5, 0, b"\x09" * 32, ()).encoded.hex()
    return doc


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("state_root", "does not hash to the block hash"),
        ("header_bytes", "header's bytes differ from its fields"),
        ("state_root_and_hash", "certificate is for another block"),
        ("tx_args", "fields shown differ from its bytes"),
        ("tx_bytes", "does not hash to its hash"),
        ("tx_dropped", "tx_root"),
        ("cert_block", "certificate is for another block"),
    ],
)
def test_tampering_is_caught(edit: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        verify_block(_tampered(edit), VALIDATORS)


def test_a_string_argument_that_looks_like_hex_verifies() -> None:
    # JSON shows the str "0xab" and the bytes b"\xab" alike; the canonical bytes decide.
    tx = Tx(CHAIN, ALICE.public_key, 0, "notices", "post", ("0xab", b"\xab"), 5000, 99).sign(ALICE)
    header = BlockHeader(CHAIN, 5, bytes(range(32)), tx_root([tx]), b"\x07" * 32, ZERO_HASH,
                         KEYS[1].public_key, 0, 1_700_000_000_000, VALIDATORS.hash)
    block = Block(header, (tx,))
    votes = [Vote.create(k, VOTE_COMMIT, CHAIN, 5, 0, block.hash) for k in KEYS[:3]]
    assert verify_block(block_json(block, CommitCertificate.from_votes(votes)), VALIDATORS).height == 5


def test_too_few_signatures_or_another_validator_set_fail() -> None:
    with pytest.raises(ValidationError, match="quorum"):
        verify_block(_block(signers=2), VALIDATORS)
    others = ValidatorSet(tuple(Validator(PrivateKey.from_seed_text(f"x{i}").public_key) for i in range(4)))
    with pytest.raises(ValidationError, match="not the one that certifies"):
        verify_block(_block(), others)


def test_garbage_is_a_validation_error() -> None:
    for doc in ({}, {"header": {"height": "x"}, "txs": []}, {"header": None}):
        with pytest.raises(ValidationError, match="malformed"):
            verify_block(doc, VALIDATORS)
