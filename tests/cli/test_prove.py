"""`hkchain prove`'s checks on the vectors of docs/PROTOCOL.md: a proof under a certified
header verifies; any change to the value, the proof, the header or the trusted validator
set is refused, and nothing is reported as verified."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cli.prove import check_proof
from core.errors import ValidationError
from core.render import block_json, validators_json
from core.types import Block, CommitCertificate, Validator, ValidatorSet

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"


def _load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text())


def _fixture() -> tuple[dict[str, Any], dict[str, Any], bytes, Any]:
    chain, state = _load("chain"), _load("state")
    block = Block.decode(bytes.fromhex(chain["block_encoded"]))
    cert = CommitCertificate.decode(bytes.fromhex(chain["certificate"]["encoded"]))
    vs = ValidatorSet(tuple(Validator(bytes.fromhex(v["public_key"]), v["name"])
                            for v in chain["validator_set"]["validators"]))
    inc = state["inclusion"]
    proof_doc = {"key": inc["key"], "value": inc["value"], "height": block.height,
                 "state_root": state["root"], "proof_encoded": inc["proof_encoded"]}
    return block_json(block, cert), proof_doc, bytes.fromhex(inc["key"]), validators_json(vs)


def test_a_proof_under_a_certified_header_verifies() -> None:
    block_doc, proof_doc, key, validators = _fixture()
    proven = check_proof(proof_doc, block_doc, key, validators)
    assert proven.value == 1_000_000 and proven.height == 5
    assert (proven.signers, proven.quorum) == (3, 3)


def _absent(doc: dict[str, Any]) -> None:
    doc["value"] = None


def _other_value(doc: dict[str, Any]) -> None:
    doc["value"] = "ce000f4241"  # 1,000,001


def _bad_proof(doc: dict[str, Any]) -> None:
    doc["proof_encoded"] = doc["proof_encoded"][:-2] + ("00" if doc["proof_encoded"][-2:] != "00" else "01")


def _other_height(doc: dict[str, Any]) -> None:
    doc["height"] = 4


@pytest.mark.parametrize("edit", [_absent, _other_value, _bad_proof, _other_height])
def test_a_changed_proof_is_refused(edit: Any) -> None:
    block_doc, proof_doc, key, validators = _fixture()
    edit(proof_doc)
    with pytest.raises(ValidationError):
        check_proof(proof_doc, block_doc, key, validators)


def test_another_key_or_a_forged_header_or_validator_set_is_refused() -> None:
    block_doc, proof_doc, key, validators = _fixture()
    with pytest.raises(ValidationError):
        check_proof(proof_doc, block_doc, key + b"x", validators)
    forged = copy.deepcopy(block_doc)
    forged["header"]["state_root"] = "00" * 32
    with pytest.raises(ValidationError):
        check_proof(proof_doc, forged, key, validators)
    with pytest.raises(ValidationError):
        check_proof(proof_doc, block_doc, key, validators[:3])
