"""A small deterministic executor for node tests: accounts with nonces and balances, a
key-value contract ``kv`` that emits an event per write. It implements vm.api.Executor so
the node's own logic (mempool, consensus glue, RPC) can be tested apart from the VM."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from core import codec
from core.codec import Value
from core.crypto import address_of
from core.state import StateReader, StateView
from core.types import (
    STATUS_INVALID,
    STATUS_OK,
    Event,
    Receipt,
    SignedTx,
    Validator,
    ValidatorSet,
)
from storage.kv import MemoryStore, MemoryWriteBatch
from vm.api import BlockContext, BlockGasExceeded, QueryError, TxRejected
from vm.gas import MAX_QUERY_GAS

NONCE_WINDOW = 64
HOLD_S = 3.0
FEE = 1


def _int(state: StateReader, key: bytes) -> int:
    v = state.get(key)
    return 0 if v is None else int.from_bytes(v, "big")


class KvExecutor:
    GAS_PER_TX = 10

    def __init__(self, chain_id: str) -> None:
        self.chain_id = chain_id
        # Like vm/gas.py MAX_BLOCK_GAS; None: no limit.
        self.max_block_gas: int | None = None
        self.entered = threading.Event()
        self.gate = threading.Event()

    def init_genesis(self, state: StateView, genesis: dict[str, Any]) -> None:
        vs = ValidatorSet(tuple(
            Validator(bytes.fromhex(v["public_key"]), v.get("name", "")) for v in genesis["validators"]
        ))
        state.set(b"validators", vs.encode())
        for address, balance in sorted(genesis.get("accounts", {}).items()):
            state.set(b"bal/" + address.encode(), balance.to_bytes(16, "big"))

    def account_nonce(self, state: StateReader, address: str) -> int:
        return _int(state, b"nonce/" + address.encode())

    def balance(self, state: StateReader, address: str) -> int:
        return _int(state, b"bal/" + address.encode())

    def explain_error(self, state: StateReader, code: str, contract: str, line: int) -> str:
        return f"{code} (at {contract} line {line})"

    def validator_set(self, state: StateReader, height: int) -> ValidatorSet:
        data = state.get(b"validators")
        assert data is not None
        return ValidatorSet.decode(data)

    def check_tx(
        self, state: StateReader, stx: SignedTx, next_height: int, pending_nonce: int | None = None
    ) -> None:
        tx = stx.tx
        if tx.chain_id != self.chain_id:
            raise TxRejected("wrong chain", code="wrong_chain")
        if tx.expiry_height < next_height:
            raise TxRejected("expired", code="expired")
        address = address_of(tx.sender)
        nonce = self.account_nonce(state, address)
        if tx.nonce < nonce:
            raise TxRejected(f"nonce {tx.nonce} below {nonce}", code="bad_nonce")
        if tx.nonce > (pending_nonce if pending_nonce is not None else nonce) + NONCE_WINDOW:
            raise TxRejected("nonce too far ahead", code="nonce_gap")
        if tx.max_fee < FEE or self.balance(state, address) < tx.max_fee:
            raise TxRejected("cannot pay the fee", code="insufficient_fee")
        if tx.contract != "kv":
            raise TxRejected("no such contract", code="unknown_contract")

    def execute_block(
        self, state: StateView, ctx: BlockContext, txs: Sequence[SignedTx],
        fault_messages: dict[bytes, str] | None = None,
    ) -> list[Receipt]:
        out: list[Receipt] = []
        for index, stx in enumerate(txs):
            if self.max_block_gas is not None and (index + 1) * self.GAS_PER_TX > self.max_block_gas:
                raise BlockGasExceeded(index, (index + 1) * self.GAS_PER_TX)
            tx = stx.tx
            address = address_of(tx.sender)
            nonce = self.account_nonce(state, address)
            bal = self.balance(state, address)
            if (tx.nonce != nonce or tx.expiry_height < ctx.height or bal < FEE
                    or tx.contract != "kv"):
                out.append(Receipt(stx.hash, STATUS_INVALID, 0, 0, None, (), "invalid"))
                continue
            state.set(b"nonce/" + address.encode(), (nonce + 1).to_bytes(8, "big"))
            state.set(b"bal/" + address.encode(), (bal - FEE).to_bytes(16, "big"))
            if tx.method == "set_validators":
                # Test-only governance: the new set certifies the next height.
                keys = [a for a in tx.args if isinstance(a, bytes) and len(a) == 32]
                if keys:
                    state.set(b"validators", ValidatorSet(tuple(Validator(k) for k in keys)).encode())
                out.append(Receipt(stx.hash, STATUS_OK, self.GAS_PER_TX, FEE))
                continue
            key = tx.args[0] if tx.args and isinstance(tx.args[0], str) else ""
            value = tx.args[1] if len(tx.args) > 1 else None
            state.set(b"kv/" + key.encode(), codec.encode(value))
            out.append(Receipt(stx.hash, STATUS_OK, self.GAS_PER_TX, FEE, None,
                               (Event("kv", "Set", {"key": key}),)))
        return out

    def query(
        self, state: StateReader, contract: str, method: str, args: Sequence[Value],
        height: int, timestamp_ms: int, *, gas_limit: int = MAX_QUERY_GAS,
        on_gas: Callable[[int], None] | None = None,
    ) -> Value:
        """``kv.get(key)`` (a state read: 60 gas + 1 per byte, as the VM charges) and
        ``kv.spin(n)``: n rounds of a loop at 3 gas each, like a contract's ``while``, for
        tests of expensive calls. Gas is capped like the VM's (MAX_QUERY_GAS)."""
        limit = max(0, min(gas_limit, MAX_QUERY_GAS))
        used = 0
        try:
            if contract == "kv" and method in ("hold", "read_twice") and len(args) == 1:
                # A call a test holds in flight: it reads (read_twice: the key, twice),
                # signals ``entered`` and waits for ``gate`` (at most HOLD_S).
                key = b"kv/" + str(args[0]).encode()
                first = state.get(key)
                used = min(limit, 60 + len(key))
                self.entered.set()
                self.gate.wait(HOLD_S)
                if method == "hold":
                    return None
                second = state.get(key)
                used = min(limit, 120 + 2 * len(key))
                return [None if v is None else codec.decode(v) for v in (first, second)]
            if contract == "kv" and method == "spin" and len(args) == 1 and type(args[0]) is int:
                x = 0
                for i in range(args[0]):
                    used += 3
                    if used > limit:
                        used = limit
                        raise QueryError("out of gas", code="out_of_gas")
                    x = (x * 31 + i) & 0xFFFF
                return x
            if contract != "kv" or method != "get" or len(args) != 1 or not isinstance(args[0], str):
                raise QueryError("kv.get(key) only")
            key = b"kv/" + args[0].encode("utf-8", "replace")
            data = state.get(key)
            used = min(limit, 60 + len(key) + len(data or b""))
            return None if data is None else codec.decode(data)
        finally:
            if on_gas is not None:
                on_gas(used)


class PowerLossStore(MemoryStore):
    """A MemoryStore that models power loss: only writes made with ``sync=True`` survive
    ``after_power_loss()`` (stricter than LevelDB, where an unsynced write may survive by
    luck, never by promise). ``syncs`` counts synced writes; ``written`` lists every write,
    synced or not, in order; ``on_sync`` (if set) runs in the writing thread before a
    synced batch is applied, so a test can hold a write in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.durable: dict[bytes, bytes] = {}
        self.syncs = 0
        self.written: list[tuple[bytes, bytes | None]] = []
        self.on_sync: Callable[[], None] | None = None

    def _made_durable(self, ops: list[tuple[bytes, bytes | None]], sync: bool) -> None:
        self.written.extend(ops)
        if not sync:
            return
        self.syncs += 1
        for key, value in ops:
            if value is None:
                self.durable.pop(key, None)
            else:
                self.durable[key] = value

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        super().put(key, value, sync=sync)
        self._made_durable([(key, value)], sync)

    def delete(self, key: bytes, *, sync: bool = False) -> None:
        super().delete(key, sync=sync)
        self._made_durable([(key, None)], sync)

    @contextmanager
    def batch(self, *, sync: bool = False) -> Iterator[MemoryWriteBatch]:
        with super().batch(sync=sync) as wb:
            yield wb
            if sync and self.on_sync is not None:
                self.on_sync()
        self._made_durable(wb.ops, sync)

    def after_power_loss(self) -> MemoryStore:
        """The store as a restart finds it after the power went out now."""
        store = MemoryStore()
        with store.batch() as wb:
            for key, value in self.durable.items():
                wb.put(key, value)
        return store
