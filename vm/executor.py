"""The block executor: vm/api.py's Executor over the contract VM.

For each tx of a block: check chain id, expiry and nonce; reserve the fee (max_fee) from
the payer (the sender, or the sponsor of a sponsored call); run the call in a journal;
revert the call's writes and events if it fails; refund max_fee - fee; write the receipt.
Gas is priced in milli-points (``gas_price_milli``: points per 1,000 gas), so
fee = ceil(gas_used × gas_price_milli / 1000) points, in exact integer arithmetic. Fees are collected during the block and split among the fee_split
recipients at its end. Before the block's txs, governance proposals whose vote closes at
this height are finalized (and passed chain matters executed).

The executor also implements the ``system`` pseudo-contract (deploy, upgrade, validator
changes), the genesis loader, read-only queries and the validator schedule.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Sequence
from typing import Any

from core import codec
from core.codec import Value
from core.crypto import PUBLIC_KEY_SIZE, address_of, is_address
from core.state import StateReader, StateView
from core.types import (
    MAX_CHAIN_ID_CHARS,
    MAX_VALIDATORS,
    STATUS_FAILED,
    STATUS_INVALID,
    STATUS_OK,
    Event,
    Receipt,
    SignedTx,
    Validator,
    ValidatorSet,
)
from vm import gas as G
from vm import layout
from vm.api import BlockContext, BlockGasExceeded, CompileError, QueryError, TxRejected, VMError
from vm.compiler import code_hash, compile_contract
from vm.faults import explain
from vm.interpreter import (
    ContractFault,
    Machine,
    copy_value,
    decode_trusted,
    encode_value,
    fault,
    load_program,
    stored_program,
)
from vm.journal import Journal

MAX_NONCE_GAP = 64  # how far ahead of the account nonce the mempool accepts a tx
BPS = 10_000
GENESIS_GAS = 2_000_000_000  # genesis is trusted input; only its size bounds it
KEEP_SCHEDULE_ENTRIES = 16  # validator-set entries kept for answering past heights
SYSTEM_CALLER = layout.SYSTEM
DEPLOYER_ROLE = "committee"
DEFAULT_SPONSORED_PER_DAY = 100  # sponsored txs per sender per day, so flipping votes
DAY_MS = 86_400_000  # cannot drain the treasury


def fee_points(gas_used: int, gas_price_milli: int) -> int:
    """The fee in points of ``gas_used`` gas: rounded up, so any gas used costs something."""
    return (gas_used * gas_price_milli + G.MILLI - 1) // G.MILLI


def gas_limit_of(max_fee: int, gas_price_milli: int) -> int:
    """The gas a tx offering ``max_fee`` points may use. Rounding down keeps
    fee_points(gas_limit_of(f, p), p) <= f, so a fee never exceeds what was reserved."""
    if gas_price_milli == 0:
        return G.MAX_TX_GAS
    return min(G.MAX_TX_GAS, max_fee * G.MILLI // gas_price_milli)


def min_fee_points(gas_price_milli: int) -> int:
    """The least max_fee a tx may offer: the fee of GAS_TX_BASE gas."""
    return fee_points(G.GAS_TX_BASE, gas_price_milli)


class GenesisError(VMError):
    """A genesis document that init_genesis cannot apply."""

    code = "bad_genesis"


class FeeParams:
    """The fees contract's parameters, read once at the start of a block."""

    __slots__ = ("gas_price_milli", "split", "sponsor", "sponsored", "sponsored_first_txs", "sponsored_per_day",
                 "sponsored_role")

    def __init__(self, state: StateReader) -> None:
        def param(name: str, default: Any) -> Any:
            raw = state.get(layout.fee_param_key(name))
            return default if raw is None else decode_trusted(raw)

        self.gas_price_milli: int = param("gas_price_milli", 0)
        self.split: list[list[Any]] = param("fee_split", [[layout.GOVERNANCE, BPS]])
        self.sponsor: str | None = param("sponsor", None)
        self.sponsored: frozenset[tuple[str, str]] = frozenset(
            tuple(s.split(".", 1)) for s in param("sponsored", [])
        )
        self.sponsored_role: str | None = param("sponsored_role", None)
        self.sponsored_per_day: int = param("sponsored_per_day", DEFAULT_SPONSORED_PER_DAY)
        self.sponsored_first_txs: int = param("sponsored_first_txs", 0)


def _read_int(state: StateReader, key: bytes) -> int:
    raw = state.get(key)
    return 0 if raw is None else int(decode_trusted(raw))


def _schedule(state: StateReader) -> list[list[Any]]:
    raw = state.get(layout.VALIDATORS_KEY)
    return [] if raw is None else list(decode_trusted(raw))


_VALSET_CACHE: dict[bytes, ValidatorSet] = {}


def _set_from_entry(members: list[list[Any]]) -> ValidatorSet:
    return ValidatorSet(tuple(Validator(bytes(pk), str(name)) for pk, name in members))


def contract_source(file_name: str) -> str:
    """The source of a contract shipped in vm/contracts/ (package data)."""
    if "/" in file_name or "\\" in file_name or not file_name.endswith(".py"):
        raise GenesisError(f"contract file {file_name!r} must be a plain *.py name")
    res = importlib.resources.files("vm").joinpath("contracts", file_name)
    try:
        return res.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GenesisError(f"cannot read contract {file_name}: {exc}") from None


class ContractExecutor:
    """vm.api.Executor for one chain."""

    def __init__(self, chain_id: str) -> None:
        self.chain_id = chain_id

    # --- the system pseudo-contract (SystemHost) ---------------------------------------

    def validator_addresses(self, m: Machine) -> list[str]:
        vs = self._valset_at(m.journal, m.height)
        return [address_of(v.public_key) for v in vs.validators]

    def system_call(self, m: Machine, method: str, args: list[Any], caller: str) -> Any:
        if method == "deploy":
            if len(args) != 3:
                raise fault("bad_args", "system.deploy(name, source, init_args)")
            name, source, init_args = args
            if caller != SYSTEM_CALLER and m.read(layout.role_key(DEPLOYER_ROLE, caller)) is None:
                raise fault("not_allowed", f"only {DEPLOYER_ROLE} members deploy contracts")
            if type(init_args) is not list:
                raise fault("bad_args", "init_args must be a list")
            return self._deploy(m, name, source, init_args, caller)
        if method == "upgrade":
            if caller != layout.GOVERNANCE:
                raise fault("not_allowed", "contracts are upgraded only through governance")
            if len(args) != 2:
                raise fault("bad_args", "system.upgrade(name, source)")
            return self._upgrade(m, args[0], args[1])
        if method in ("add_validator", "remove_validator"):
            if caller != layout.GOVERNANCE:
                raise fault("not_allowed", "the validator set changes only through governance")
            return self._change_validators(m, method, args)
        raise fault("unknown_method", f"system has no method {method!r}")

    def _compile(self, m: Machine, source: Any) -> bytes:
        if type(source) is not str:
            raise fault("bad_args", "source must be a str")
        m.charge(G.GAS_DEPLOY_BYTE * len(source.encode("utf-8")))
        try:
            program = compile_contract(source)
        except CompileError as exc:
            raise fault("compile_error", exc.message) from None
        ch = program.code_hash
        load_program(ch, source)
        if m.journal.get(layout.source_key(ch)) is None:
            m.journal.set(layout.source_key(ch), source.encode("utf-8"))
        return ch

    def _deploy(self, m: Machine, name: Any, source: Any, init_args: list[Any], caller: str) -> Value:
        if not layout.valid_contract_name(name):
            raise fault("bad_name", "a contract name is 2-32 chars of [a-z0-9_], starting with a letter")
        if m.journal.get(layout.code_key(name)) is not None:
            raise fault("name_taken", f"a contract named {name!r} exists")
        ch = self._compile(m, source)
        m.write(layout.code_key(name), ch)
        m.write(layout.info_key(name), codec.encode({"deployer": caller, "height": m.height, "version": 1}))
        bp = load_program(ch, source)
        if "init" in bp.functions:
            m.invoke(name, "init", copy_value(init_args, m, "init args"), caller, constructor=True)
        return {"name": name, "code_hash": ch}

    def _upgrade(self, m: Machine, name: Any, source: Any) -> Value:
        if type(name) is not str or m.journal.get(layout.code_key(name)) is None:
            raise fault("unknown_contract", f"no contract named {name!r}")
        # A contract on the call stack (governance upgrading itself) keeps running its old
        # code in the frames already open; the new code serves every later call.
        ch = self._compile(m, source)
        raw_info = m.journal.get(layout.info_key(name))
        info = decode_trusted(raw_info) if raw_info else {}
        info["version"] = int(info.get("version", 1)) + 1
        info["upgraded_at"] = m.height
        m.write(layout.code_key(name), ch)
        m.write(layout.info_key(name), codec.encode(info))
        m.events.append(Event(layout.SYSTEM, "ContractUpgraded", {"name": name, "code_hash": ch}))
        return {"name": name, "code_hash": ch}

    def _change_validators(self, m: Machine, method: str, args: list[Any]) -> Value:
        if not args or type(args[0]) is not bytes or len(args[0]) != PUBLIC_KEY_SIZE:
            raise fault("bad_args", "a validator is named by its 32-byte public key")
        pk = args[0]
        effective = m.height + 2
        schedule = _schedule(m.journal)
        current = [list(x) for x in schedule[-1][1]] if schedule else []
        keys = [x[0] for x in current]
        if method == "add_validator":
            if len(args) != 2 or type(args[1]) is not str or len(args[1]) > 64:
                raise fault("bad_args", "add_validator(public_key, name)")
            if pk in keys:
                raise fault("bad_args", "already a validator")
            if len(current) >= MAX_VALIDATORS:
                raise fault("bad_args", "validator set is full")
            current.append([pk, args[1]])
        else:
            if pk not in keys:
                raise fault("bad_args", "not a validator")
            if len(current) <= 1:
                raise fault("bad_args", "the last validator cannot be removed")
            current = [x for x in current if x[0] != pk]
        schedule = [e for e in schedule if e[0] < effective] + [[effective, current]]
        schedule = self._prune(schedule, m.height)
        m.write(layout.VALIDATORS_KEY, codec.encode(schedule))
        m.events.append(
            Event(layout.SYSTEM, "ValidatorSetChanged", {"effective_height": effective, "size": len(current)})
        )
        return effective

    @staticmethod
    def _prune(schedule: list[list[Any]], height: int) -> list[list[Any]]:
        # Keep every entry still to come, the one in force, and a few past ones.
        in_force = 0
        for i, e in enumerate(schedule):
            if e[0] <= height:
                in_force = i
        return schedule[max(0, in_force - KEEP_SCHEDULE_ENTRIES) :]

    def _valset_at(self, state: StateReader, height: int) -> ValidatorSet:
        raw = state.get(layout.VALIDATORS_KEY)
        if raw is None:
            raise VMError("no validator set in state (genesis not applied)", code="no_genesis")
        chosen: list[Any] | None = None
        for eff, members in decode_trusted(raw):
            if eff <= height or chosen is None:
                chosen = members
        assert chosen is not None
        key = codec.encode(chosen)
        vs = _VALSET_CACHE.get(key)
        if vs is None:
            vs = _set_from_entry(chosen)
            if len(_VALSET_CACHE) > 64:
                _VALSET_CACHE.clear()
            _VALSET_CACHE[key] = vs
        return vs

    # --- Executor ------------------------------------------------------------------

    def validator_set(self, state: StateReader, height: int) -> ValidatorSet:
        return self._valset_at(state, height)

    def account_nonce(self, state: StateReader, address: str) -> int:
        return _read_int(state, layout.nonce_key(address))

    def balance(self, state: StateReader, address: str) -> int:
        return _read_int(state, layout.balance_key(address))

    def _payer(
        self, state: StateReader, params: FeeParams, sender: str, contract: str, method: str,
        day: int | None, nonce: int,
    ) -> tuple[str, bytes | None]:
        """Who pays the fee: the sponsor for a sponsored call, or for any call among the
        first sponsored_first_txs of the sender (nonce below it), by a holder of the
        sponsored role (at most sponsored_per_day such txs per sender and day), else the
        sender. With a sponsor, also the new encoded [day, count] of the sender's
        allowance (``day`` None: admission check, the count is not enforced)."""
        sponsor = params.sponsor
        if not (
            sponsor
            and ((contract, method) in params.sponsored or nonce < params.sponsored_first_txs)
            and (params.sponsored_role is None
                 or state.get(layout.role_key(params.sponsored_role, sender)) is not None)
        ):
            return sender, None
        if day is None:
            return sponsor, None
        raw = state.get(layout.sponsored_key(sender))
        used_day, used = decode_trusted(raw) if raw is not None else (day, 0)
        if used_day != day:
            used = 0
        if used >= params.sponsored_per_day:
            return sender, None
        return sponsor, codec.encode([day, used + 1])

    def check_tx(
        self, state: StateReader, stx: SignedTx, next_height: int, pending_nonce: int | None = None
    ) -> None:
        tx = stx.tx
        if tx.chain_id != self.chain_id:
            raise TxRejected(f"tx is for chain {tx.chain_id!r}, this is {self.chain_id!r}", code="wrong_chain")
        if next_height > tx.expiry_height:
            raise TxRejected(f"tx expired at height {tx.expiry_height}", code="expired")
        sender = address_of(tx.sender)
        nonce = self.account_nonce(state, sender)
        if tx.nonce < nonce:
            raise TxRejected(f"nonce {tx.nonce} already used (next is {nonce})", code="bad_nonce")
        base = nonce if pending_nonce is None else max(nonce, pending_nonce)
        if tx.nonce > base + MAX_NONCE_GAP:
            raise TxRejected(f"nonce {tx.nonce} is more than {MAX_NONCE_GAP} ahead of {base}", code="nonce_gap")
        params = FeeParams(state)
        min_fee = min_fee_points(params.gas_price_milli)
        if tx.max_fee < min_fee:
            raise TxRejected(f"max_fee {tx.max_fee} is below the minimum {min_fee}", code="insufficient_fee")
        payer, _ = self._payer(state, params, sender, tx.contract, tx.method, None, tx.nonce)
        if payer != sender and self.balance(state, payer) < tx.max_fee:
            payer = sender
        if self.balance(state, payer) < tx.max_fee:
            raise TxRejected(f"{payer} cannot pay max_fee {tx.max_fee}", code="insufficient_fee")
        if tx.contract != layout.SYSTEM:
            raw = state.get(layout.code_key(tx.contract)) if layout.valid_contract_name(tx.contract) else None
            if raw is None:
                raise TxRejected(f"no contract named {tx.contract!r}", code="unknown_contract")
            bp = stored_program(raw, state.get)
            fn = None if bp is None else bp.functions.get(tx.method)
            if fn is None or not fn.public:
                raise TxRejected(f"{tx.contract!r} has no public method {tx.method!r}", code="unknown_method")

    def execute_block(
        self, state: StateView, ctx: BlockContext, txs: Sequence[SignedTx],
        fault_messages: dict[bytes, str] | None = None,
    ) -> list[Receipt]:
        self._finalize_due_proposals(state, ctx)
        params = FeeParams(state)
        receipts: list[Receipt] = []
        collected = 0
        block_gas = 0
        for index, stx in enumerate(txs):
            receipt = self._apply(state, ctx, params, stx, fault_messages)
            block_gas += receipt.gas_used
            if block_gas > G.MAX_BLOCK_GAS:
                raise BlockGasExceeded(index, block_gas)
            collected += receipt.fee
            receipts.append(receipt)
        if collected:
            self._distribute(state, params, collected)
        return receipts

    def _apply(self, state: StateView, ctx: BlockContext, params: FeeParams, stx: SignedTx,
               fault_messages: dict[bytes, str] | None = None) -> Receipt:
        tx = stx.tx
        tx_hash = tx.hash
        if tx.chain_id != self.chain_id:
            return Receipt(tx_hash, STATUS_INVALID, 0, 0, error_code="wrong_chain")
        if ctx.height > tx.expiry_height:
            return Receipt(tx_hash, STATUS_INVALID, 0, 0, error_code="expired")
        sender = address_of(tx.sender)
        nonce_key = layout.nonce_key(sender)
        raw = state.get(nonce_key)
        nonce = 0 if raw is None else decode_trusted(raw)
        if tx.nonce != nonce:
            code = "bad_nonce" if tx.nonce < nonce else "nonce_gap"
            return Receipt(tx_hash, STATUS_INVALID, 0, 0, error_code=code)
        price = params.gas_price_milli
        max_fee = tx.max_fee
        if max_fee < min_fee_points(price):
            return Receipt(tx_hash, STATUS_INVALID, 0, 0, error_code="insufficient_fee")
        payer, allowance = sender, None
        if params.sponsored or params.sponsored_first_txs:
            payer, allowance = self._payer(state, params, sender, tx.contract, tx.method,
                                           ctx.timestamp_ms // DAY_MS, tx.nonce)
        payer_key = layout.balance_key(payer)
        held = _read_int(state, payer_key)
        if held < max_fee and payer != sender:
            payer, payer_key, allowance = sender, layout.balance_key(sender), None
            held = _read_int(state, payer_key)
        if held < max_fee:
            return Receipt(tx_hash, STATUS_INVALID, 0, 0, error_code="insufficient_fee")
        journal = Journal(state)
        journal.set(nonce_key, encode_value(nonce + 1, "nonce"))
        if max_fee:
            journal.set(payer_key, encode_value(held - max_fee, "balance"))
        if allowance is not None:
            journal.set(layout.sponsored_key(sender), allowance)
        gas_limit = gas_limit_of(max_fee, price)
        m = Machine(journal, self, chain_id=self.chain_id, height=ctx.height, time_ms=ctx.timestamp_ms,
                    origin=sender, gas_limit=gas_limit)
        mark = journal.mark()
        status, result, error_code, error_contract, error_line = STATUS_OK, None, "", "", 0
        try:
            m.charge(G.GAS_TX_BASE + G.GAS_TX_ARG_BYTE * len(tx.encoded))
            args = [a if type(a) in (int, str, bytes, bool) else copy_value(a, m, "tx args") for a in tx.args]
            result = m.invoke(tx.contract, tx.method, args, sender)
            if type(result) not in (int, str, bytes, bool, type(None)):
                # the canonical form: tuples become lists, as any decoder would see them
                result = decode_trusted(encode_value(result, "result", G.MAX_COPY_UNITS))
        except ContractFault as exc:
            journal.revert_to(mark)
            m.events.clear()
            # code and place only: the message may hold host text (vm/faults.py)
            status, result, error_code = STATUS_FAILED, None, exc.code
            error_contract, error_line = exc.contract, exc.line
            if fault_messages is not None:  # off chain: the message as the VM made it
                where = f" (at {exc.contract} line {exc.line})" if exc.contract else ""
                fault_messages[tx_hash] = exc.message + where
        gas_used = m.gas_used
        fee = fee_points(gas_used, price)
        events = m.events
        if max_fee:
            refund = max_fee - fee
            if refund:
                journal.set(payer_key, encode_value(_read_int(journal, payer_key) + refund, "balance"))
            if fee:
                events.append(Event(layout.TOKEN, "Fee", {"payer": payer, "sender": sender, "amount": fee}))
        journal.flush_to(state)
        return Receipt(tx_hash, status, gas_used, fee, result, tuple(events), error_code,
                       error_contract, error_line)

    def _distribute(self, state: StateView, params: FeeParams, collected: int) -> None:
        split = params.split
        shares = [collected * int(bps) // BPS for _, bps in split]
        shares[0] += collected - sum(shares)
        for (recipient, _), share in zip(split, shares, strict=True):
            if share:
                key = layout.balance_key(str(recipient))
                state.set(key, codec.encode(_read_int(state, key) + share))

    def _finalize_due_proposals(self, state: StateView, ctx: BlockContext) -> None:
        raw = state.get(layout.storage_key(layout.GOVERNANCE, f"due:{ctx.height}"))
        if raw is None:
            return
        for pid in decode_trusted(raw):
            journal = Journal(state)
            m = self._system_machine(journal, ctx)
            try:
                m.invoke(layout.GOVERNANCE, "finalize", [pid], SYSTEM_CALLER)
            except ContractFault as exc:
                journal.revert_to(0)
                m = self._system_machine(journal, ctx)
                try:
                    # code and place only, as in a receipt: this goes into state
                    m.invoke(layout.GOVERNANCE, "mark_failed", [pid, exc.code, exc.contract, exc.line],
                             SYSTEM_CALLER)
                except ContractFault:
                    journal.revert_to(0)
            # Telling an app contract the result is a separate step with its own gas: its
            # failure reverts only the notification, never the result.
            mark = journal.mark()
            m = self._system_machine(journal, ctx)
            try:
                bp = m.program_of(layout.GOVERNANCE)
                if bp is not None and "notify" in bp.functions:
                    m.invoke(layout.GOVERNANCE, "notify", [pid], SYSTEM_CALLER)
            except ContractFault:
                journal.revert_to(mark)
            journal.flush_to(state)

    def _system_machine(self, journal: Journal, ctx: BlockContext, gas_limit: int = G.MAX_SYSTEM_GAS,
                        max_events: int = G.MAX_EVENTS_PER_TX) -> Machine:
        return Machine(journal, self, chain_id=self.chain_id, height=ctx.height, time_ms=ctx.timestamp_ms,
                       origin=SYSTEM_CALLER, gas_limit=gas_limit, max_events=max_events)

    def query(
        self, state: StateReader, contract: str, method: str, args: Sequence[Value],
        height: int, timestamp_ms: int, *, gas_limit: int = G.MAX_QUERY_GAS,
        on_gas: Callable[[int], None] | None = None,
    ) -> Value:
        journal = Journal(state)
        m = Machine(journal, self, chain_id=self.chain_id, height=height, time_ms=timestamp_ms,
                    origin="", gas_limit=max(0, min(gas_limit, G.MAX_QUERY_GAS)))
        try:
            return self._query(m, contract, method, args)
        finally:
            if on_gas is not None:
                on_gas(m.gas_used)

    def _query(self, m: Machine, contract: str, method: str, args: Sequence[Value]) -> Value:
        try:
            if not isinstance(contract, str) or not isinstance(method, str):
                raise fault("bad_args", "contract and method are str")
            if len(args) > 32:
                raise fault("bad_args", "too many arguments")
            bp = m.program_of(contract)
            fn = bp.functions.get(method) if bp is not None else None
            if fn is None:
                raise fault("unknown_method", f"no method {contract}.{method}")
            if not (fn.view and fn.public):
                raise fault("not_view", f"{contract}.{method} is not a @view method")
            copied = copy_value(list(args), m, "query args")
            result = m.invoke(contract, method, copied, "", readonly=True)
            out: Value = decode_trusted(encode_value(result, "result", G.MAX_COPY_UNITS))
            return out
        except ContractFault as exc:
            raise QueryError(exc.message, code=exc.code) from None

    def explain_error(self, state: StateReader, code: str, contract: str, line: int) -> str:
        source = None
        if contract and layout.valid_contract_name(contract):
            ch = state.get(layout.code_key(contract))
            raw = state.get(layout.source_key(ch)) if ch is not None else None
            source = raw.decode("utf-8", "replace") if raw is not None else None
        return explain(code, contract, line, source)

    # --- genesis ---------------------------------------------------------------------

    def init_genesis(self, state: StateView, genesis: dict[str, Any]) -> None:
        g = _GenesisReader(genesis)
        chain_id = g.str_field(genesis, "chain_id")
        if len(chain_id) > MAX_CHAIN_ID_CHARS:
            raise GenesisError(f"chain_id longer than {MAX_CHAIN_ID_CHARS} characters")
        if chain_id != self.chain_id:
            raise GenesisError(f"genesis chain_id {chain_id!r} is not this executor's {self.chain_id!r}")
        time_ms = g.int_field(genesis, "genesis_time_ms")
        validators = []
        raw_validators = genesis.get("validators")
        if type(raw_validators) is not list or not raw_validators:
            raise GenesisError("validators: a non-empty list is required")
        for i, v in enumerate(raw_validators):
            # Either {"name": str, "public_key": hex} or a bare hex public key.
            name = v.get("name", "") if type(v) is dict else ""
            key_hex = v.get("public_key") if type(v) is dict else v
            if type(name) is not str or len(name) > 64:
                raise GenesisError(f"validators[{i}]: name must be a str of at most 64 chars")
            try:
                pk = bytes.fromhex(key_hex) if type(key_hex) is str else b""
            except ValueError:
                pk = b""
            if len(pk) != PUBLIC_KEY_SIZE:
                raise GenesisError(f"validators[{i}]: public_key must be 32 bytes of hex")
            validators.append([pk, name])
        vs = _set_from_entry(validators)
        try:
            vs.validate_basic()
        except Exception as exc:
            raise GenesisError(f"validators: {exc}") from None
        accounts = g.list_field(genesis, "accounts")
        for a in accounts:
            if not (is_address(a.get("address")) or layout.valid_contract_name(a.get("address"))):
                raise GenesisError(f"account {a.get('address')!r} is not an address or contract name")
            if type(a.get("balance")) is not int or a["balance"] < 0:
                raise GenesisError(f"account {a.get('address')}: balance must be an int >= 0")
        roles = g.list_field(genesis, "roles")
        households = genesis.get("households", [])
        params = genesis.get("params", {})
        contracts = genesis.get("contracts", {})
        if type(params) is not dict or type(contracts) is not dict or type(households) is not list:
            raise GenesisError("params and contracts must be objects, households a list")
        contracts = dict(contracts)
        for name in layout.SYSTEM_CONTRACTS:
            contracts.setdefault(name, f"{name}.py")
        order = list(layout.SYSTEM_CONTRACTS) + sorted(n for n in contracts if n not in layout.SYSTEM_CONTRACTS)

        state.set(layout.CHAIN_KEY, codec.encode({"chain_id": chain_id, "genesis_time_ms": time_ms}))
        state.set(layout.VALIDATORS_KEY, codec.encode([[0, validators]]))
        journal = Journal(state)
        ctx = BlockContext(chain_id, 0, time_ms, b"")
        # Genesis events go nowhere (there is no receipt), so their number is not bounded.
        m = self._system_machine(journal, ctx, GENESIS_GAS, max_events=GENESIS_GAS)
        try:
            programs = {}
            for name in order:
                if not layout.valid_contract_name(name):
                    raise GenesisError(f"bad contract name {name!r}")
                source = contract_source(str(contracts[name]))
                try:
                    compile_contract(source)
                except CompileError as exc:
                    raise GenesisError(f"contract {name}: {exc.message}") from None
                ch = self._compile(m, source)
                m.write(layout.code_key(name), ch)
                m.write(layout.info_key(name), codec.encode({"deployer": SYSTEM_CALLER, "height": 0, "version": 1}))
                programs[name] = load_program(ch, source)
            for name in order:
                config = dict(params.get(name, {}))
                if name == layout.ROLES:
                    config["grants"] = roles
                    config["households"] = households
                elif name == layout.TOKEN:
                    config["balances"] = accounts
                if "init" in programs[name].functions:
                    m.invoke(name, "init", [copy_value(config, m, "genesis config")], SYSTEM_CALLER,
                             constructor=True)
        except ContractFault as exc:
            raise GenesisError(f"genesis failed: {exc.code}: {exc.message}") from None
        journal.flush_to(state)


class _GenesisReader:
    def __init__(self, doc: Any) -> None:
        if type(doc) is not dict:
            raise GenesisError("genesis must be a JSON object")

    @staticmethod
    def str_field(d: Any, name: str) -> str:
        v = d.get(name) if type(d) is dict else None
        if type(v) is not str or not v:
            raise GenesisError(f"{name}: a non-empty string is required")
        return v

    @staticmethod
    def int_field(d: Any, name: str) -> int:
        v = d.get(name) if type(d) is dict else None
        if type(v) is not int or v < 0:
            raise GenesisError(f"{name}: a non-negative integer is required")
        return v

    @staticmethod
    def list_field(d: Any, name: str) -> list[Any]:
        v = d.get(name, []) if type(d) is dict else None
        if type(v) is not list or any(type(x) is not dict for x in v):
            raise GenesisError(f"{name}: a list of objects is required")
        return v


def genesis_code_hash(file_name: str) -> bytes:
    """The code hash a contract file of vm/contracts/ gets when deployed."""
    return code_hash(contract_source(file_name))
