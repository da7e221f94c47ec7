"""The interface of vm/ as node/ uses it. vm/executor.py implements it.

vm/ is pure: it reads and writes state only through core.state.StateView, never the
clock (block time comes from BlockContext), never storage/ or node/.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.codec import Value
from core.errors import ChainError
from core.state import StateReader, StateView
from core.types import Receipt, SignedTx, ValidatorSet


class VMError(ChainError):
    """Base of vm/ errors."""

    code = "vm_error"


class TxRejected(VMError):
    """A tx that cannot enter a block now. ``code`` is one of: wrong_chain, expired,
    bad_nonce (below the account's next nonce), nonce_gap (too far ahead), insufficient_fee
    (max_fee below the minimum, or the balance cannot pay max_fee), unknown_contract,
    unknown_method (the contract has no such public method)."""

    code = "rejected"


class QueryError(VMError):
    """A read-only call that failed (unknown contract or method, contract error, gas)."""

    code = "query_failed"


class BlockGasExceeded(VMError):
    """The txs of a block used more than the block gas limit (vm/gas.py MAX_BLOCK_GAS).
    ``index`` is the first tx past the limit: txs[:index] fit. The state view written to
    holds partial writes and must be discarded."""

    code = "block_gas_exceeded"

    def __init__(self, index: int, gas_used: int) -> None:
        super().__init__(f"tx {index} brings the block's gas to {gas_used}, over the limit")
        self.index = index


class CompileError(VMError):
    """Contract source outside the language; the message names line and column."""

    code = "compile_error"


@dataclass(frozen=True)
class BlockContext:
    """What execution may know about the block: nothing else reaches the VM."""

    chain_id: str
    height: int
    timestamp_ms: int
    proposer: bytes


class Executor(Protocol):
    """Applies transactions to state. Deterministic: the same (state, block) gives the
    same writes and receipts on every machine, in every run."""

    chain_id: str

    def init_genesis(self, state: StateView, genesis: dict[str, Any]) -> None:
        """Deploy system contracts and write the initial state from a genesis document
        (the parsed genesis.json: validators, accounts, roles, parameters, contracts)."""

    def execute_block(
        self, state: StateView, ctx: BlockContext, txs: Sequence[SignedTx],
        fault_messages: dict[bytes, str] | None = None,
    ) -> list[Receipt]:
        """Run ``txs`` in order; one receipt per tx. Signatures were checked by the node.
        ``fault_messages``, when given, receives tx hash -> the message of each failed
        call, for people and off chain only (a dry run shows it): a receipt holds no text.
        A tx that fails the nonce/expiry/fee checks gets a STATUS_INVALID receipt and
        changes nothing; a call that fails pays its fee and reverts its own writes.
        Raises BlockGasExceeded, stopping at once, when the txs' gas used adds up to more
        than the block gas limit: a proposer then proposes txs[:index], a validator
        refuses the block."""

    def check_tx(self, state: StateReader, stx: SignedTx, next_height: int, pending_nonce: int | None = None) -> None:
        """Admission check for the mempool (signature excluded): raise TxRejected.
        ``pending_nonce`` is the sender's next nonce counting txs already pending."""

    def query(
        self, state: StateReader, contract: str, method: str, args: Sequence[Value],
        height: int, timestamp_ms: int, *, gas_limit: int = ...,
        on_gas: Callable[[int], None] | None = None,
    ) -> Value:
        """A read-only call of a view method; raises QueryError. Writes are discarded.
        ``gas_limit`` (at most vm.gas.MAX_QUERY_GAS, the default) bounds the call;
        ``on_gas`` is told the gas it used, whether it returned or raised."""

    def explain_error(self, state: StateReader, code: str, contract: str, line: int) -> str:
        """A message for people about a receipt's error (its code, contract and line),
        made off chain from the contract's source in ``state``; never hashed."""

    def account_nonce(self, state: StateReader, address: str) -> int:
        """The next nonce the account must use."""

    def validator_set(self, state: StateReader, height: int) -> ValidatorSet:
        """The validator set that certifies ``height``, as decided in ``state`` (governance
        changes decided at height h take effect at h + 2, so the state after block h
        answers for h + 1 and h + 2)."""

    def balance(self, state: StateReader, address: str) -> int: ...
