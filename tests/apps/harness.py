"""An executor-level chain for the application tests: genesis.json applied to a dict
state, blocks of signed txs executed at chosen heights and times, queries, and a record
of gas per ``contract.method`` for the gas table of docs/APPLICATIONS.md."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.crypto import PrivateKey
from core.types import STATUS_OK, Receipt, Tx
from vm.api import BlockContext
from vm.executor import ContractExecutor

GENESIS_PATH = Path(__file__).resolve().parents[2] / "genesis.json"
DAY_S = 86400
MAX_FEE = 300_000  # every resident below holds more; the unused part is refunded
VOTING_BLOCKS = 4
GAS_LOG: dict[str, list[int]] = {}


class DictState:
    """A plain dict as the StateView the executor writes to."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        self.data.pop(key, None)


def key(name: str) -> PrivateKey:
    return PrivateKey.from_seed_text(f"hkchain-apps-test-{name}")


def h(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class Failed(AssertionError):
    def __init__(self, receipt: Receipt) -> None:
        super().__init__(f"{receipt.error_code} at {receipt.error_contract} line {receipt.error_line}")
        self.receipt = receipt


def short_votes(genesis: dict[str, Any]) -> None:
    genesis["params"]["governance"]["owners_voting_blocks"] = VOTING_BLOCKS
    genesis["params"]["governance"]["chain_voting_blocks"] = VOTING_BLOCKS


class Chain:
    """One chain at the executor level. ``send`` runs one tx in its own block."""

    def __init__(self, genesis_edit: Any = short_votes) -> None:
        genesis = copy.deepcopy(json.loads(GENESIS_PATH.read_text()))
        if genesis_edit is not None:
            genesis_edit(genesis)
        self.genesis = genesis
        self.chain_id = genesis["chain_id"]
        self.executor = ContractExecutor(self.chain_id)
        self.state = DictState()
        self.executor.init_genesis(self.state, genesis)
        self.height = 0
        self.time_ms = int(genesis["genesis_time_ms"])
        self.operator = PrivateKey.from_seed_text("hkchain-dev-operator")
        self.validators = [PrivateKey.from_seed_text(f"hkchain-dev-validator-{i}") for i in range(1, 5)]

    @property
    def time_s(self) -> int:
        return self.time_ms // 1000

    def advance(self, seconds: int) -> None:
        self.time_ms += seconds * 1000

    def block(self, txs: Sequence[tuple[PrivateKey, str, str, Sequence[Any]]]) -> list[Receipt]:
        self.height += 1
        self.time_ms += 5000
        signed = []
        nonces: dict[str, int] = {}
        for signer, contract, method, args in txs:
            addr = signer.address
            n = nonces.get(addr, self.executor.account_nonce(self.state, addr))
            nonces[addr] = n + 1
            tx = Tx(self.chain_id, signer.public_key, n, contract, method, tuple(args), MAX_FEE,
                    self.height + 10)
            signed.append(tx.sign(signer))
        ctx = BlockContext(self.chain_id, self.height, self.time_ms, b"")
        receipts = self.executor.execute_block(self.state, ctx, signed)
        for (_, contract, method, _), r in zip(txs, receipts, strict=True):
            if r.status == STATUS_OK:
                GAS_LOG.setdefault(f"{contract}.{method}", []).append(r.gas_used)
        return receipts

    def empty_blocks_until(self, height: int) -> None:
        while self.height < height - 1:
            self.height += 1
            self.time_ms += 5000
            ctx = BlockContext(self.chain_id, self.height, self.time_ms, b"")
            self.executor.execute_block(self.state, ctx, [])

    def try_send(self, signer: PrivateKey, contract: str, method: str, *args: Any) -> Receipt:
        return self.block([(signer, contract, method, list(args))])[0]

    def send(self, signer: PrivateKey, contract: str, method: str, *args: Any) -> Any:
        r = self.try_send(signer, contract, method, *args)
        if r.status != STATUS_OK:
            raise Failed(r)
        return r.result

    def fails(self, code: str, signer: PrivateKey, contract: str, method: str, *args: Any) -> Receipt:
        r = self.try_send(signer, contract, method, *args)
        assert r.status != STATUS_OK, f"{contract}.{method} succeeded, expected {code}"
        assert r.error_code == code, f"expected {code}, got {r.error_code}: {self.explain(r)}"
        return r

    def explain(self, r: Receipt) -> str:
        """The node's off-chain message for a failed receipt."""
        return self.executor.explain_error(self.state, r.error_code, r.error_contract, r.error_line)

    def q(self, contract: str, method: str, *args: Any) -> Any:
        return self.executor.query(self.state, contract, method, list(args), self.height, self.time_ms)

    def balance(self, account: str) -> int:
        return self.executor.balance(self.state, account)

    def fund(self, who: PrivateKey, amount: int) -> None:
        self.send(self.operator, "token", "transfer", who.address, amount)

    def grant(self, who: PrivateKey, role: str) -> None:
        self.send(self.operator, "roles", "grant", who.address, role)


class Community:
    """The dev genesis plus a cast: committee (the dev operator), a property company, a
    payment confirmer, five owner households, two service providers, a merchant and an
    outsider without roles."""

    AREAS = (8957, 10230, 6512, 12000, 7400)  # 0.01 m²

    def __init__(self, genesis_edit: Any = short_votes) -> None:
        self.c = c = Chain(genesis_edit)
        self.committee = c.operator
        self.company = key("company")
        self.confirmer = key("confirmer")
        self.homes = [key(f"home-{i}") for i in range(len(self.AREAS))]
        self.providers = [key("provider-a"), key("provider-b")]
        self.shop = key("shop")
        self.outsider = key("outsider")
        everyone = [self.company, self.confirmer, *self.homes, *self.providers, self.shop,
                    self.outsider, *c.validators]
        c.block([(self.committee, "token", "transfer", [k.address, 2_000_000]) for k in everyone])
        c.block([(self.committee, "roles", "grant", [self.company.address, "property_company"]),
                 (self.committee, "roles", "grant", [self.shop.address, "merchant"])]
                + [(self.committee, "roles", "grant", [k.address, "service_provider"])
                   for k in self.providers]
                + [(self.committee, "roles", "grant", [k.address, "resident"]) for k in self.homes])
        c.block([(self.committee, "households", "register",
                  [k.address, f"T1-{i + 1:02d}A", area, commitment(f"T1-{i + 1:02d}A")])
                 for i, (k, area) in enumerate(zip(self.homes, self.AREAS, strict=True))])
        c.send(self.committee, "property", "set_confirmer", self.confirmer.address, True)
        assert c.q("households", "totals") == [sum(self.AREAS), len(self.AREAS)]

    def vote_all(self, pid: int, choices: list[str]) -> None:
        """The households vote (in one block), then blocks pass until the vote closes."""
        txs = [(k, "governance", "vote", [pid, ch]) for k, ch in zip(self.homes, choices, strict=False)]
        receipts = self.c.block(txs)
        for r in receipts:
            assert r.status == STATUS_OK, f"{r.error_code}: {self.c.explain(r)}"
        closes = self.c.q("governance", "proposal", pid)["closes"]
        self.c.empty_blocks_until(closes + 1)


SALT = b"0123456789abcdef-salt"


def identity_data(unit: str) -> bytes:
    """The canonical identity record a committee keeps off chain (never on chain)."""
    return json.dumps({"unit": unit, "name": "Chan Tai Man", "hkid": "A123456(7)",
                       "phone": "+852 5555 0000"}, sort_keys=True, separators=(",", ":")).encode()


def commitment(unit: str) -> bytes:
    return hashlib.sha256(SALT + identity_data(unit)).digest()
