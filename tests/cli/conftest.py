"""Fixtures of the CLI tests: a genesis template in the shape of the root genesis.json,
built from the development keys, so `init` can be tested before and apart from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.crypto import PrivateKey

DEV_OPERATOR = PrivateKey.from_seed_text("hkchain-dev-operator")


def dev_validator(i: int) -> PrivateKey:
    return PrivateKey.from_seed_text(f"hkchain-dev-validator-{i}")


def template_doc(validators: int = 4) -> dict[str, Any]:
    vals = [dev_validator(i) for i in range(validators)]
    return {
        "chain_id": "hkchain-test",
        "genesis_time_ms": 1,
        "validators": [{"name": f"dev{i}", "public_key": v.public_key.hex()} for i, v in enumerate(vals)],
        "accounts": [{"address": DEV_OPERATOR.address, "balance": 1_000_000}]
        + [{"address": v.address, "balance": 10} for v in vals],
        "roles": {"committee": [DEV_OPERATOR.address], "observer": ["hk1notakeyjustaname"]},
        "params": {"min_fee": 1, "treasury": DEV_OPERATOR.address},
        "contracts": {"token": {"source": "token.py"}},
    }


@pytest.fixture
def genesis_template(tmp_path: Path) -> Path:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template_doc()))
    return path
