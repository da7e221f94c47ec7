"""A small in-memory chain for VM tests: genesis, signed txs, blocks, queries."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from core.codec import Value
from core.crypto import PrivateKey
from core.types import Receipt, SignedTx, Tx
from vm.api import BlockContext
from vm.executor import ContractExecutor
from vm.journal import DictState

CHAIN_ID = "hk-test"
GENESIS_TIME_MS = 1_767_225_600_000
BLOCK_MS = 1_000
ROOT = Path(__file__).resolve().parents[2]


def key(name: str) -> PrivateKey:
    return PrivateKey.from_seed_text(name)


OPERATOR = key("test-operator")  # committee member, rich
VALIDATOR_KEYS = [key(f"test-validator-{i}") for i in range(1, 5)]


def genesis_doc(**overrides: Any) -> dict[str, Any]:
    """The repository's genesis.json with test keys (and overrides)."""
    doc: dict[str, Any] = copy.deepcopy(json.loads((ROOT / "genesis.json").read_text()))
    doc["chain_id"] = CHAIN_ID
    doc["genesis_time_ms"] = GENESIS_TIME_MS
    doc["validators"] = [
        {"name": f"committee-{i}", "public_key": k.public_key.hex()}
        for i, k in enumerate(VALIDATOR_KEYS, 1)
    ]
    doc["accounts"] = [
        {"address": OPERATOR.address, "balance": 10**12},
        {"address": "governance", "balance": 10**9},
    ] + [{"address": k.address, "balance": 10**9} for k in VALIDATOR_KEYS]
    doc["roles"] = [{"address": OPERATOR.address, "role": "committee"}]
    # Only the system contracts, with the owner register in `roles`: these tests are about
    # the VM and the system contracts, not the community applications.
    doc["contracts"] = {name: f"{name}.py" for name in ("roles", "token", "fees", "governance")}
    params = doc["params"]
    doc["params"] = {
        "fees": params["fees"],
        "roles": params["roles"],
        "token": {"mint_rules": []},
        "governance": {"owners_voting_blocks": 100, "chain_voting_blocks": 50},
    }
    doc.update(overrides)
    return doc


class Chain:
    """Executes blocks of txs on a DictState, one height after another."""

    def __init__(self, genesis: dict[str, Any] | None = None) -> None:
        self.ex = ContractExecutor(CHAIN_ID)
        self.state = DictState()
        self.ex.init_genesis(self.state, genesis if genesis is not None else genesis_doc())
        self.height = 0
        self.pending_nonce: dict[str, int] = {}

    def tx(self, signer: PrivateKey, contract: str, method: str, args: list[Value],
           max_fee: int = 10**7, nonce: int | None = None, expiry: int | None = None,
           chain_id: str = CHAIN_ID) -> SignedTx:
        if nonce is None:
            base = self.ex.account_nonce(self.state, signer.address)
            nonce = max(base, self.pending_nonce.get(signer.address, base))
            self.pending_nonce[signer.address] = nonce + 1
        t = Tx(chain_id, signer.public_key, nonce, contract, method, tuple(args), max_fee,
               expiry if expiry is not None else self.height + 100)
        return t.sign(signer)

    def ctx(self) -> BlockContext:
        return BlockContext(CHAIN_ID, self.height, GENESIS_TIME_MS + self.height * BLOCK_MS, b"\x00" * 32)

    def block(self, *txs: SignedTx) -> list[Receipt]:
        self.height += 1
        self.pending_nonce.clear()
        return self.ex.execute_block(self.state, self.ctx(), list(txs))

    def call(self, signer: PrivateKey, contract: str, method: str, args: list[Value],
             **kw: Any) -> Receipt:
        (r,) = self.block(self.tx(signer, contract, method, args, **kw))
        return r

    def ok(self, signer: PrivateKey, contract: str, method: str, args: list[Value]) -> Any:
        r = self.call(signer, contract, method, args)
        assert r.status == 0, (r.error_code, self.explain(r))
        return r.result

    def explain(self, r: Receipt) -> str:
        """The node's off-chain message for a failed receipt."""
        return self.ex.explain_error(self.state, r.error_code, r.error_contract, r.error_line)

    def query(self, contract: str, method: str, *args: Value) -> Any:
        return self.ex.query(self.state, contract, method, list(args), self.height,
                             GENESIS_TIME_MS + self.height * BLOCK_MS)

    def balance(self, account: str) -> int:
        return self.ex.balance(self.state, account)

    def skip_to(self, height: int) -> None:
        while self.height < height - 1:
            self.block()

    def deploy(self, name: str, source: str, init_args: list[Value] | None = None) -> Receipt:
        return self.call(OPERATOR, "system", "deploy", [name, source, init_args or []], max_fee=10**8)
