"""The gas-metered interpreter of contract bytecode.

A Machine runs the calls of one tx (or one query) over a Journal. Each instruction is
dispatched through a table ``{opcode: handler}`` bound once per program and charged its
base gas from vm/opcodes.py; handlers charge dynamic costs (allocation, storage, events,
calls) from vm/gas.py. Every fault of a contract — out of gas, a failed assert, a limit,
a type error — becomes a ContractFault with a stable code; the call's writes and events
are reverted by the caller of ``invoke``. Nothing a contract does may raise anything else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import msgpack

from core import codec
from core.hashing import sha256
from core.types import Event
from vm import gas as G
from vm import layout
from vm import opcodes as op
from vm.api import CompileError, VMError
from vm.compiler import FunctionCode, Program, compile_contract
from vm.faults import FAULTS
from vm.journal import Journal

MAX_PROGRAM_CACHE = 512
MAX_ERROR_CHARS = 480


class ContractFault(VMError):
    """A contract's call failed. Reverts the call. What goes to the receipt is ``code``
    (vm/faults.py FAULTS, or a code the contract declared) and where it arose:
    ``contract`` and ``line``, set by the innermost contract frame it leaves ("" and 0
    when it arose outside any contract code). The message is for people off chain
    (queries, logs) and may hold host text: it never reaches a receipt, an event or
    state."""

    code = "contract_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message[:MAX_ERROR_CHARS], code=code)
        self.contract = ""
        self.line = 0


def fault(code: str, message: str) -> ContractFault:
    """A fault of the VM itself: ``code`` must be one of vm/faults.py FAULTS."""
    if code not in FAULTS:
        raise AssertionError(f"VM fault code {code!r} is not in vm/faults.py FAULTS")
    return ContractFault(message, code=code)


class OutOfGas(ContractFault):
    code = "out_of_gas"


class SystemHost(Protocol):
    """What the machine needs from the executor beyond storage."""

    def system_call(self, m: Machine, method: str, args: list[Any], caller: str) -> Any:
        """A call to the ``system`` pseudo-contract (deploy, upgrade, validator changes)."""

    def validator_addresses(self, m: Machine) -> list[str]:
        """Addresses of the validators that certify the current block."""


# --- values ---------------------------------------------------------------------------


def _ext_hook(code: int, data: bytes) -> int:
    if code != codec.EXT_BIGINT:
        raise fault("corrupt_state", "unknown ext type in state")
    return int.from_bytes(data, "big", signed=True)


def decode_trusted(raw: bytes) -> Any:
    """Decode a value the VM itself encoded into state (skips the canonical re-check)."""
    return msgpack.unpackb(raw, raw=False, strict_map_key=True, ext_hook=_ext_hook)


_NATIVE_MIN, _NATIVE_MAX = -(1 << 63), (1 << 64) - 1
_packb = msgpack.packb


def deep_size(value: Any, limit: int) -> int:
    """Items plus bytes/8 of a value, walked without recursion; ``value_too_large`` past
    ``limit``, ``value_too_deep`` past MAX_VALUE_DEPTH nested containers. Shared
    references count every time they are reached (so does encoding), which also stops
    cycles. Comparisons walk values only after this check, so Python's own recursion
    limit (which depends on the caller's stack) is never what stops a contract."""
    n = 0
    todo = [(value, 0)]
    pop, append = todo.pop, todo.append
    max_depth = G.MAX_VALUE_DEPTH
    while todo:
        x, depth = pop()
        t = type(x)
        if t is list or t is tuple or t is dict:
            if t is dict:
                n += 2 * len(x) + 1
                items = [*x.keys(), *x.values()]
            else:
                n += len(x) + 1
                items = x
            if items:
                if depth >= max_depth:
                    raise fault("value_too_deep", f"containers nested more than {max_depth} deep")
                depth += 1
                for y in items:
                    if type(y) in _CONTAINERS:
                        append((y, depth))
                    elif type(y) is str or type(y) is bytes:
                        n += (len(y) >> 3) + 1
                    else:
                        n += 1
        elif t is str or t is bytes:
            n += (len(x) >> 3) + 1
        else:
            n += 1
        if n > limit:
            raise fault("value_too_large", f"value larger than {limit} units")
    return n


_CONTAINERS = frozenset({list, tuple, dict})


def encode_value(value: Any, what: str, limit: int = G.MAX_STORAGE_VALUE_BYTES) -> bytes:
    """The canonical encoding of a Value (core.codec), with a fast path for scalars. The
    size is bounded before encoding, so a value built of shared references cannot make
    the encoder allocate without limit."""
    t = type(value)
    if (t is int and _NATIVE_MIN <= value <= _NATIVE_MAX) or t is str or t is bool or t is bytes:
        out: bytes = _packb(value, use_bin_type=True)
        return out
    deep_size(value, limit)
    try:
        return codec.encode(value)
    except (codec.EncodeError, RecursionError, TypeError, ValueError) as exc:
        raise fault("bad_value", f"{what}: {exc}") from None


_SCALARS = (int, str, bytes, bool, type(None))


def copy_value(value: Any, m: Machine, what: str) -> Any:
    """An independent copy of a Value (what crosses a contract boundary); checks the type."""
    if type(value) in _SCALARS:
        return value
    m.charge(deep_size(value, G.MAX_COPY_UNITS))
    raw = encode_value(value, what, G.MAX_COPY_UNITS)
    m.alloc(len(raw))
    return decode_trusted(raw)


# --- bound programs -------------------------------------------------------------------

Handler = Callable[["Machine", "Frame", Any], Any]


class BoundFunction:
    __slots__ = ("code", "lines", "name", "nlocals", "nparams", "ops", "public", "view")

    def __init__(self, fc: FunctionCode) -> None:
        self.name = fc.name
        self.nparams = len(fc.params)
        self.nlocals = fc.nlocals
        self.public = fc.public
        self.view = fc.view
        self.lines = fc.lines
        self.code = fc
        self.ops: list[tuple[Handler, Any, int]] = []


class BoundProgram:
    __slots__ = ("by_index", "code_hash", "functions", "program")

    def __init__(self, program: Program) -> None:
        self.program = program
        self.code_hash = program.code_hash
        self.by_index = [BoundFunction(f) for f in program.by_index]
        self.functions = {f.name: f for f in self.by_index}
        for bf in self.by_index:
            bf.ops = _bind_function(bf.code, self)


_PROGRAMS: dict[bytes, BoundProgram] = {}


def stored_program(code_hash: bytes, read: Callable[[bytes], bytes | None]) -> BoundProgram | None:
    """The bound program of ``code_hash``: the one this process compiled already, else
    compiled from the source ``read`` finds stored under it (None if there is none). The
    source is read only when the program is not compiled yet: it is kilobytes a contract,
    and every admission check and invocation looks its program up."""
    bp = _PROGRAMS.get(code_hash)
    if bp is not None:
        return bp
    src = read(layout.source_key(code_hash))
    return None if src is None else load_program(code_hash, src.decode("utf-8"))


def load_program(code_hash: bytes, source: str) -> BoundProgram:
    """The bound program of ``source`` (cached by code hash: compiling is deterministic)."""
    bp = _PROGRAMS.get(code_hash)
    if bp is None:
        bp = BoundProgram(compile_contract(source))
        if bp.code_hash != code_hash:
            raise fault("corrupt_state", "stored source does not match its code hash")
        if len(_PROGRAMS) >= MAX_PROGRAM_CACHE:
            # Queries and dry runs load programs in worker threads too: another thread may
            # have changed the cache between these two steps.
            with contextlib.suppress(StopIteration, RuntimeError, KeyError):
                _PROGRAMS.pop(next(iter(_PROGRAMS)))
        _PROGRAMS[code_hash] = bp
    return bp


# --- frames and the machine -------------------------------------------------------------


_PREFIXES: dict[str, bytes] = {}


class Env:
    """One contract invocation: who runs, for whom, with which storage."""

    __slots__ = ("caller", "contract", "prefix", "program", "readonly")

    def __init__(
        self, contract: str, caller: str, program: BoundProgram, readonly: bool
    ) -> None:
        self.contract = contract
        self.caller = caller
        prefix = _PREFIXES.get(contract)
        if prefix is None:
            prefix = _PREFIXES[contract] = layout.storage_prefix(contract)
            if len(_PREFIXES) > MAX_PROGRAM_CACHE:
                _PREFIXES.clear()
                _PREFIXES[contract] = prefix
        self.prefix = prefix
        self.program = program
        self.readonly = readonly


class Frame:
    __slots__ = ("env", "fn", "locals", "result", "stack")

    def __init__(self, env: Env, fn: BoundFunction, args: list[Any]) -> None:
        self.env = env
        self.fn = fn
        if len(args) < fn.nlocals:
            args.extend([None] * (fn.nlocals - len(args)))
        self.locals = args
        self.stack: list[Any] = []
        self.result: Any = None


class Machine:
    """Runs the contract calls of one tx or query, metering gas over a journal."""

    def __init__(
        self,
        journal: Journal,
        host: SystemHost,
        *,
        chain_id: str,
        height: int,
        time_ms: int,
        origin: str,
        gas_limit: int,
        max_events: int = G.MAX_EVENTS_PER_TX,
    ) -> None:
        self.journal = journal
        self.max_events = max_events
        self.host = host
        self.chain_id = chain_id
        self.height = height
        self.time_ms = time_ms
        self.origin = origin
        self.gas_limit = gas_limit
        self.gas = gas_limit
        self.mem = 0
        self.events: list[Event] = []
        self.call_stack: list[str] = []
        self.frames = 0

    @property
    def gas_used(self) -> int:
        return min(self.gas_limit, self.gas_limit - self.gas)

    def charge(self, amount: int) -> None:
        self.gas -= amount
        if self.gas < 0:
            raise OutOfGas("out of gas")

    def alloc(self, units: int) -> None:
        self.mem += units
        if self.mem > G.MAX_ALLOC_UNITS:
            raise fault("memory_limit", f"more than {G.MAX_ALLOC_UNITS} units allocated")
        self.gas -= units * G.GAS_ALLOC_UNIT
        if self.gas < 0:
            raise OutOfGas("out of gas")

    # --- storage ----------------------------------------------------------------------

    def read(self, key: bytes) -> bytes | None:
        raw = self.journal.get(key)
        self.charge(G.GAS_STORAGE_READ + G.GAS_STORAGE_READ_BYTE * (len(key) + (len(raw) if raw else 0)))
        return raw

    def write(self, key: bytes, raw: bytes | None) -> None:
        self.charge(G.GAS_STORAGE_WRITE + G.GAS_STORAGE_WRITE_BYTE * (len(key) + (len(raw) if raw else 0)))
        self.journal.set(key, raw)

    # --- contracts --------------------------------------------------------------------

    def program_of(self, contract: str) -> BoundProgram | None:
        if not layout.valid_contract_name(contract):
            return None
        ch = self.journal.get(layout.code_key(contract))
        if ch is None:
            return None
        try:
            bp = stored_program(ch, self.journal.get)
        except CompileError as exc:
            raise fault("corrupt_state", f"stored source of {contract!r}: {exc}") from None
        if bp is None:
            raise fault("corrupt_state", f"source of {contract!r} is missing")
        return bp

    def invoke(
        self,
        contract: str,
        method: str,
        args: list[Any],
        caller: str,
        *,
        readonly: bool = False,
        constructor: bool = False,
    ) -> Any:
        """Call ``contract.method(*args)`` as ``caller``. On a fault this call's writes and
        events are reverted and the fault propagates."""
        if contract == layout.SYSTEM:
            if readonly:
                raise fault("read_only", "system calls write state")
            return self.host.system_call(self, method, args, caller)
        if len(self.call_stack) >= G.MAX_CALL_DEPTH:
            raise fault("call_depth", f"more than {G.MAX_CALL_DEPTH} nested contract calls")
        if contract in self.call_stack:
            raise fault("reentrancy", f"{contract!r} is already on the call stack")
        bp = self.program_of(contract)
        if bp is None:
            raise fault("unknown_contract", f"no contract named {contract!r}")
        fn = bp.functions.get(method)
        if fn is None or not (fn.public or (constructor and method == "init")):
            raise fault("unknown_method", f"{contract!r} has no public method {method!r}")
        if len(args) != fn.nparams:
            raise fault("bad_args", f"{contract}.{method} takes {fn.nparams} arguments, got {len(args)}")
        env = Env(contract, caller, bp, readonly or fn.view)
        journal, events = self.journal, self.events
        mark, event_mark = journal.mark(), len(events)
        self.call_stack.append(contract)
        try:
            return self.run(env, fn, list(args))
        except ContractFault:
            journal.revert_to(mark)
            del events[event_mark:]
            raise
        finally:
            self.call_stack.pop()

    def run(self, env: Env, fn: BoundFunction, args: list[Any]) -> Any:
        if self.frames >= G.MAX_FRAMES:
            raise fault("call_depth", f"more than {G.MAX_FRAMES} nested function calls")
        self.frames += 1
        f = Frame(env, fn, args)
        ops = fn.ops
        pc = 0
        try:
            while True:
                h, arg, cost = ops[pc]
                pc += 1
                if cost:  # the base gas of a whole basic block, charged at its first op
                    self.gas -= cost
                    if self.gas < 0:
                        raise OutOfGas("out of gas")
                r = h(self, f, arg)
                if r is not None:  # a jump target, or -1 when the frame returns
                    if r < 0:
                        return f.result
                    pc = r
        except ContractFault as exc:
            if not exc.contract:  # the innermost contract frame names where it arose
                exc.contract, exc.line = env.contract, fn.lines[pc - 1] if pc else 0
            raise
        except RecursionError:
            located = fault("call_depth", "Python recursion limit reached")
            located.contract, located.line = env.contract, fn.lines[pc - 1] if pc else 0
            raise located from None
        except Exception as exc:  # any Python error of the contract's own making
            # Only the code and the line are kept for the receipt; CPython's text of the
            # exception (which changes between releases) stays in the off-chain message.
            located = ContractFault(f"{type(exc).__name__}: {exc} (at {env.contract}.{fn.name})",
                                    code="runtime_error")
            located.contract, located.line = env.contract, fn.lines[pc - 1] if pc else 0
            raise located from None
        finally:
            self.frames -= 1


class _UserError(ContractFault):
    """Raised by Error(...) or assert in contract code: its message is the contract's."""


# --- instruction handlers -------------------------------------------------------------
# Each takes (machine, frame, arg) and returns None, or True when the frame returns.

_MIN, _MAX = G.INT_MIN, G.INT_MAX


def _check_int(r: int) -> int:
    if not _MIN <= r <= _MAX:
        raise fault("int_overflow", "integer overflow (ints are 256-bit signed)")
    return r


def _check_sized(m: Machine, r: Any) -> Any:
    t = type(r)
    if t is int:
        if not _MIN <= r <= _MAX:
            raise fault("int_overflow", "integer overflow (ints are 256-bit signed)")
        return r
    if t is bool:
        return r
    n = len(r)
    if t is str or t is bytes:
        if n > G.MAX_STR_BYTES:
            raise fault("value_too_large", f"str/bytes longer than {G.MAX_STR_BYTES}")
    elif n > G.MAX_CONTAINER_ITEMS:
        raise fault("value_too_large", f"container larger than {G.MAX_CONTAINER_ITEMS} items")
    m.alloc(n)
    return r


def h_const(m: Machine, f: Frame, arg: Any) -> None:
    f.stack.append(arg)


def h_load(m: Machine, f: Frame, arg: int) -> None:
    f.stack.append(f.locals[arg])


def h_store(m: Machine, f: Frame, arg: int) -> None:
    f.locals[arg] = f.stack.pop()


def h_pop(m: Machine, f: Frame, arg: None) -> None:
    f.stack.pop()


def h_dup(m: Machine, f: Frame, arg: None) -> None:
    f.stack.append(f.stack[-1])


def h_caller(m: Machine, f: Frame, arg: None) -> None:
    f.stack.append(f.env.caller)


def h_this(m: Machine, f: Frame, arg: None) -> None:
    f.stack.append(f.env.contract)


def h_origin(m: Machine, f: Frame, arg: None) -> None:
    f.stack.append(m.origin)


def h_block_height(m: Machine, f: Frame, arg: None) -> None:
    f.stack.append(m.height)


def h_block_time(m: Machine, f: Frame, arg: None) -> None:
    f.stack.append(m.time_ms // 1000)


def h_block_time_ms(m: Machine, f: Frame, arg: None) -> None:
    f.stack.append(m.time_ms)


def h_chain_id(m: Machine, f: Frame, arg: None) -> None:
    f.stack.append(m.chain_id)


_CTX: dict[str, Handler] = {
    "caller": h_caller,
    "this": h_this,
    "origin": h_origin,
    "block_height": h_block_height,
    "block_time": h_block_time,
    "block_time_ms": h_block_time_ms,
    "chain_id": h_chain_id,
}


def h_jump(m: Machine, f: Frame, arg: int) -> int:
    return arg


def h_jump_if_false(m: Machine, f: Frame, arg: int) -> int | None:
    if not f.stack.pop():
        return arg
    return None


def h_jump_if_false_or_pop(m: Machine, f: Frame, arg: int) -> int | None:
    if f.stack[-1]:
        f.stack.pop()
        return None
    return arg


def h_jump_if_true_or_pop(m: Machine, f: Frame, arg: int) -> int | None:
    if f.stack[-1]:
        return arg
    f.stack.pop()
    return None


def h_add(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    a = s[-1]
    if type(a) is int and type(b) is int:
        r = a + b
        if not _MIN <= r <= _MAX:
            raise fault("int_overflow", "integer overflow (ints are 256-bit signed)")
        s[-1] = r
    else:
        if type(a) is not type(b) and not (type(a) in (int, bool) and type(b) in (int, bool)):
            raise TypeError(f"cannot add {type(a).__name__} and {type(b).__name__}")
        s[-1] = _check_sized(m, a + b)


def h_sub(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    _int_operands(s[-1], b, "-")
    s[-1] = _check_int(s[-1] - b)


def h_mul(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    a = s[-1]
    ta, tb = type(a), type(b)
    if ta in (int, bool) and tb in (int, bool):
        s[-1] = _check_int(a * b)
        return
    seq, n = (a, b) if tb in (int, bool) else (b, a)
    if type(n) not in (int, bool) or type(seq) not in (str, bytes, list, tuple):
        raise TypeError(f"cannot multiply {ta.__name__} and {tb.__name__}")
    limit = G.MAX_STR_BYTES if type(seq) in (str, bytes) else G.MAX_CONTAINER_ITEMS
    if n > 0 and len(seq) * n > limit:
        raise fault("value_too_large", "repetition result too large")
    s[-1] = _check_sized(m, seq * n)


def _int_operands(a: Any, b: Any, what: str) -> None:
    if type(a) not in (int, bool) or type(b) not in (int, bool):
        raise TypeError(f"{what} needs integers, not {type(a).__name__} and {type(b).__name__}")


def h_floordiv(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    _int_operands(s[-1], b, "//")
    if b == 0:
        raise fault("division_by_zero", "division by zero")
    s[-1] = _check_int(s[-1] // b)


def h_mod(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    _int_operands(s[-1], b, "%")
    if b == 0:
        raise fault("division_by_zero", "modulo by zero")
    s[-1] = s[-1] % b


def h_pow(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    a = s[-1]
    _int_operands(a, b, "**")
    if b < 0:
        raise fault("bad_value", "negative exponent")
    if a not in (0, 1, -1) and b > G.INT_BITS:
        raise fault("int_overflow", "integer overflow (ints are 256-bit signed)")
    m.charge(b)
    s[-1] = _check_int(a**b)


def h_lshift(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    _int_operands(s[-1], b, "<<")
    if b < 0 or b > G.INT_BITS:
        raise fault("int_overflow", "shift count out of range")
    s[-1] = _check_int(s[-1] << b)


def h_rshift(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    _int_operands(s[-1], b, ">>")
    if b < 0:
        raise fault("bad_value", "negative shift count")
    s[-1] = s[-1] >> min(b, G.INT_BITS)


def h_bitand(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    _int_operands(s[-1], b, "&")
    s[-1] = s[-1] & b


def h_bitor(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    _int_operands(s[-1], b, "|")
    s[-1] = s[-1] | b


def h_bitxor(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    _int_operands(s[-1], b, "^")
    s[-1] = s[-1] ^ b


def h_neg(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    a = s[-1]
    if type(a) not in (int, bool):
        raise TypeError(f"cannot negate {type(a).__name__}")
    s[-1] = _check_int(-a)


def h_not(m: Machine, f: Frame, arg: None) -> None:
    f.stack[-1] = not f.stack[-1]


def h_invert(m: Machine, f: Frame, arg: None) -> None:
    a = f.stack[-1]
    if type(a) not in (int, bool):
        raise TypeError(f"cannot invert {type(a).__name__}")
    f.stack[-1] = ~a


def _cmp_cost(m: Machine, a: Any, b: Any) -> None:
    # Comparing containers walks them: charge their size, so a loop of comparisons of
    # big values pays for the work.
    m.charge(deep_size(a, G.MAX_ALLOC_UNITS) + deep_size(b, G.MAX_ALLOC_UNITS))


_CHEAP = frozenset({int, bool, type(None)})


def h_eq(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    a = s[-1]
    ta = type(a)
    if ta is str or ta is bytes:
        if len(a) > 256:
            m.charge(len(a) >> 6)
    elif ta not in _CHEAP and type(b) not in _CHEAP:
        _cmp_cost(m, a, b)
    s[-1] = a == b


def h_ne(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    a = s[-1]
    ta = type(a)
    if ta is str or ta is bytes:
        if len(a) > 256:
            m.charge(len(a) >> 6)
    elif ta not in _CHEAP and type(b) not in _CHEAP:
        _cmp_cost(m, a, b)
    s[-1] = a != b


def h_lt(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    a = s[-1]
    if type(a) not in _CHEAP and (type(a) is not str or len(a) > 256):
        _cmp_cost(m, a, b)
    s[-1] = a < b


def h_le(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    a = s[-1]
    if type(a) not in _CHEAP and (type(a) is not str or len(a) > 256):
        _cmp_cost(m, a, b)
    s[-1] = a <= b


def h_gt(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    a = s[-1]
    if type(a) not in _CHEAP and (type(a) is not str or len(a) > 256):
        _cmp_cost(m, a, b)
    s[-1] = a > b


def h_ge(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    a = s[-1]
    if type(a) not in _CHEAP and (type(a) is not str or len(a) > 256):
        _cmp_cost(m, a, b)
    s[-1] = a >= b


_KEY_TYPES = frozenset({str, int, bytes, bool, type(None)})


def _key(k: Any) -> Any:
    if type(k) not in _KEY_TYPES:
        raise TypeError(f"dict keys are str, int, bytes, bool or None, not {type(k).__name__}")
    return k


def _contains(m: Machine, container: Any, item: Any) -> bool:
    t = type(container)
    if t is dict:
        return _key(item) in container
    if t is list or t is tuple:
        if type(item) in _CHEAP:
            m.charge(len(container))
        else:
            m.charge((deep_size(item, G.MAX_ALLOC_UNITS) + 1) * len(container))
            m.charge(deep_size(container, G.MAX_ALLOC_UNITS))
        return item in container
    if t is str or t is bytes:
        m.charge(len(container) // 16)
        return item in container
    raise TypeError(f"`in` needs a list, tuple, dict, str or bytes, not {t.__name__}")


def h_in(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    s[-1] = _contains(m, b, s[-1])


def h_not_in(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    b = s.pop()
    s[-1] = not _contains(m, b, s[-1])


def h_is_none(m: Machine, f: Frame, arg: None) -> None:
    f.stack[-1] = f.stack[-1] is None


def h_is_not_none(m: Machine, f: Frame, arg: None) -> None:
    f.stack[-1] = f.stack[-1] is not None


def h_build_list(m: Machine, f: Frame, arg: int) -> None:
    s = f.stack
    if arg:
        items = s[-arg:]
        del s[-arg:]
    else:
        items = []
    m.alloc(arg + 1)
    s.append(items)


def h_build_tuple(m: Machine, f: Frame, arg: int) -> None:
    s = f.stack
    if arg:
        items = tuple(s[-arg:])
        del s[-arg:]
    else:
        items = ()
    m.alloc(arg + 1)
    s.append(items)


def h_build_dict(m: Machine, f: Frame, arg: int) -> None:
    s = f.stack
    n = 2 * arg
    flat = s[-n:] if n else []
    if n:
        del s[-n:]
    d = {}
    for i in range(0, n, 2):
        d[_key(flat[i])] = flat[i + 1]
    m.alloc(arg + 1)
    s.append(d)


def _format(v: Any) -> str:
    t = type(v)
    if t is str:
        return v  # type: ignore[no-any-return]
    if t is int or t is bool or v is None:
        return str(v)
    if t is bytes:
        return v.hex()  # type: ignore[no-any-return]
    raise TypeError(f"cannot format a {t.__name__} as text (only int, bool, str, bytes, None)")


def h_format(m: Machine, f: Frame, arg: None) -> None:
    f.stack[-1] = _format(f.stack[-1])


def h_build_str(m: Machine, f: Frame, arg: int) -> None:
    s = f.stack
    parts = s[-arg:] if arg else []
    if arg:
        del s[-arg:]
    s.append(_check_sized(m, "".join(parts)))


def h_index(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    k = s.pop()
    c = s[-1]
    t = type(c)
    if t is dict:
        s[-1] = c[_key(k)]
    elif t is list or t is tuple or t is str or t is bytes or t is range:
        if type(k) is not int:
            raise TypeError(f"index must be an int, not {type(k).__name__}")
        s[-1] = c[k]
    else:
        raise TypeError(f"a {t.__name__} cannot be indexed")


def h_store_index(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    v = s.pop()
    k = s.pop()
    c = s.pop()
    t = type(c)
    if t is dict:
        if _key(k) not in c:
            if len(c) >= G.MAX_CONTAINER_ITEMS:
                raise fault("value_too_large", f"dict larger than {G.MAX_CONTAINER_ITEMS} items")
            m.alloc(2)
        c[k] = v
    elif t is list:
        if type(k) is not int:
            raise TypeError(f"index must be an int, not {type(k).__name__}")
        c[k] = v
    else:
        raise TypeError(f"a {t.__name__} does not support item assignment")


def h_delete_index(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    k = s.pop()
    c = s.pop()
    if type(c) is dict or (type(c) is list and type(k) is int):
        del c[_key(k)]
    else:
        raise TypeError(f"cannot delete an item of a {type(c).__name__}")


def h_slice(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    hi = s.pop()
    lo = s.pop()
    c = s[-1]
    if type(c) not in (list, tuple, str, bytes):
        raise TypeError(f"a {type(c).__name__} cannot be sliced")
    if (lo is not None and type(lo) is not int) or (hi is not None and type(hi) is not int):
        raise TypeError("slice bounds must be ints")
    s[-1] = _check_sized(m, c[lo:hi])


def h_unpack(m: Machine, f: Frame, arg: int) -> None:
    s = f.stack
    v = s.pop()
    if type(v) not in (list, tuple):
        raise TypeError(f"cannot unpack a {type(v).__name__}")
    if len(v) != arg:
        raise ValueError(f"expected {arg} values to unpack, got {len(v)}")
    s.extend(reversed(v))


def h_get_iter(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    v = s[-1]
    t = type(v)
    if t is range:
        s[-1] = iter(v)
    elif t is list or t is tuple or t is dict or t is str or t is bytes:
        m.alloc(len(v))  # iterate over a snapshot: the body may change the container
        s[-1] = iter(tuple(v))
    else:
        raise TypeError(f"cannot iterate over a {t.__name__}")


_DONE = object()


def h_for_iter(m: Machine, f: Frame, arg: int) -> int | None:
    v = next(f.stack[-1], _DONE)
    if v is _DONE:
        return arg
    f.stack.append(v)
    return None


def h_call(m: Machine, f: Frame, arg: tuple[BoundFunction, int]) -> None:
    fn, n = arg
    s = f.stack
    args = s[-n:] if n else []
    if n:
        del s[-n:]
    s.append(m.run(f.env, fn, args))


def h_call_builtin(m: Machine, f: Frame, arg: tuple[Callable[..., Any], int]) -> None:
    fn, n = arg
    s = f.stack
    if n:
        args = s[-n:]
        del s[-n:]
        s.append(fn(m, f, *args))
    else:
        s.append(fn(m, f))


def h_call_method(m: Machine, f: Frame, arg: tuple[str, int]) -> None:
    name, n = arg
    s = f.stack
    args = s[-n:] if n else []
    if n:
        del s[-n:]
    obj = s[-1]
    impl = _METHODS.get((type(obj), name))
    if impl is None:
        raise TypeError(f"{type(obj).__name__} has no method {name!r}")
    s[-1] = impl(m, obj, *args)


def h_emit(m: Machine, f: Frame, arg: tuple[str, ...]) -> None:
    s = f.stack
    n = len(arg)
    values = s[-n:] if n else []
    if n:
        del s[-n:]
    name = s.pop()
    s.append(None)
    if f.env.readonly:
        raise fault("read_only", "emit() in a view call")
    if type(name) is not str or not 0 < len(name) <= 64:
        raise fault("bad_value", "an event name is a str of 1..64 characters")
    if len(m.events) >= m.max_events:
        raise fault("too_many_events", f"more than {m.max_events} events")
    fields = dict(zip(arg, values, strict=True))
    size = 0
    for v in values:
        t = type(v)
        if (t is int and _NATIVE_MIN <= v <= _NATIVE_MAX) or t is str or t is bytes or t is bool:
            size += len(_packb(v, use_bin_type=True))
        elif v is not None:
            raw = encode_value(fields, "event fields")
            size = len(raw)
            fields = decode_trusted(raw)  # a snapshot: later changes must not show
            break
    else:
        size += sum(len(k) + 1 for k in arg) + 1  # scalar fields: keys + map header
    if size > G.MAX_EVENT_BYTES:
        raise fault("value_too_large", f"event larger than {G.MAX_EVENT_BYTES} bytes")
    m.charge(G.GAS_EVENT + G.GAS_EVENT_BYTE * size)
    m.events.append(Event(f.env.contract, name, fields))


def h_return(m: Machine, f: Frame, arg: None) -> int:
    f.result = f.stack.pop()
    return -1


def h_assert(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    msg = s.pop()
    if not s.pop():
        raise _UserError(_format(msg) if type(msg) in _SCALARS else "assertion failed",
                         code="assertion_failed")


def h_raise(m: Machine, f: Frame, arg: None) -> None:
    s = f.stack
    code = s.pop()
    msg = s.pop()
    raise _UserError(_format(msg) if type(msg) in _SCALARS else "error", code=code)


_HANDLERS: dict[int, Handler] = {
    op.CONST: h_const,
    op.LOAD: h_load,
    op.STORE: h_store,
    op.POP: h_pop,
    op.DUP: h_dup,
    op.JUMP: h_jump,
    op.JUMP_IF_FALSE: h_jump_if_false,
    op.JUMP_IF_FALSE_OR_POP: h_jump_if_false_or_pop,
    op.JUMP_IF_TRUE_OR_POP: h_jump_if_true_or_pop,
    op.ADD: h_add,
    op.SUB: h_sub,
    op.MUL: h_mul,
    op.FLOORDIV: h_floordiv,
    op.MOD: h_mod,
    op.POW: h_pow,
    op.LSHIFT: h_lshift,
    op.RSHIFT: h_rshift,
    op.BITAND: h_bitand,
    op.BITOR: h_bitor,
    op.BITXOR: h_bitxor,
    op.NEG: h_neg,
    op.NOT: h_not,
    op.INVERT: h_invert,
    op.EQ: h_eq,
    op.NE: h_ne,
    op.LT: h_lt,
    op.LE: h_le,
    op.GT: h_gt,
    op.GE: h_ge,
    op.IN: h_in,
    op.NOT_IN: h_not_in,
    op.IS_NONE: h_is_none,
    op.IS_NOT_NONE: h_is_not_none,
    op.BUILD_LIST: h_build_list,
    op.BUILD_TUPLE: h_build_tuple,
    op.BUILD_DICT: h_build_dict,
    op.BUILD_STR: h_build_str,
    op.FORMAT: h_format,
    op.INDEX: h_index,
    op.STORE_INDEX: h_store_index,
    op.DELETE_INDEX: h_delete_index,
    op.SLICE: h_slice,
    op.UNPACK: h_unpack,
    op.GET_ITER: h_get_iter,
    op.FOR_ITER: h_for_iter,
    op.CALL: h_call,
    op.CALL_BUILTIN: h_call_builtin,
    op.CALL_METHOD: h_call_method,
    op.EMIT: h_emit,
    op.RETURN: h_return,
    op.ASSERT: h_assert,
    op.RAISE: h_raise,
}


_BRANCHES = frozenset({op.JUMP, op.JUMP_IF_FALSE, op.JUMP_IF_FALSE_OR_POP, op.JUMP_IF_TRUE_OR_POP,
                       op.FOR_ITER, op.RETURN, op.RAISE})


def _bind_function(fc: FunctionCode, bp: BoundProgram) -> list[tuple[Handler, Any, int]]:
    """Bind handlers, and move each basic block's base gas to its first instruction: the
    loop then charges gas once per block (every instruction still costs its table price,
    and every pass through a loop pays for its body)."""
    code = fc.code
    leaders = {0}
    for i, (opcode, arg) in enumerate(code):
        if opcode in _BRANCHES:
            leaders.add(i + 1)
            if opcode != op.RETURN and opcode != op.RAISE:
                leaders.add(arg)
    bound = [_bind(opcode, arg, bp) for opcode, arg in code]
    out: list[tuple[Handler, Any, int]] = []
    block_start = 0
    for i in range(len(code) + 1):
        if i == len(code) or (i in leaders and i > block_start):
            total = sum(b[2] for b in bound[block_start:i])
            for j in range(block_start, i):
                h, arg, _ = bound[j]
                out.append((h, arg, total if j == block_start else 0))
            block_start = i
    return out


def _bind(opcode: int, arg: Any, bp: BoundProgram) -> tuple[Handler, Any, int]:
    cost = op.BASE_GAS[opcode]
    if opcode == op.CTX:
        return _CTX[arg], None, cost
    if opcode == op.CALL:
        return h_call, (bp.by_index[arg[0]], arg[1]), cost
    if opcode == op.CALL_BUILTIN:
        return h_call_builtin, (_BUILTINS[arg[0]], arg[1]), cost
    return _HANDLERS[opcode], arg, cost


# --- builtins -------------------------------------------------------------------------
# Each takes (machine, frame, *args).


def _str_key(f: Frame, key: Any) -> bytes:
    if type(key) is not str:
        raise TypeError(f"storage keys are str, not {type(key).__name__}")
    raw = f.env.prefix + key.encode("utf-8")
    if len(raw) - len(f.env.prefix) > G.MAX_STORAGE_KEY_BYTES:
        raise fault("value_too_large", f"storage key longer than {G.MAX_STORAGE_KEY_BYTES} bytes")
    return raw


def b_load(m: Machine, f: Frame, key: Any, default: Any = None) -> Any:
    raw = m.read(_str_key(f, key))
    if raw is None:
        return default
    if len(raw) > 16:
        m.alloc(len(raw))
    return decode_trusted(raw)


def b_store(m: Machine, f: Frame, key: Any, value: Any) -> None:
    k = _str_key(f, key)
    if f.env.readonly:
        raise fault("read_only", "store() in a view call")
    if value is None:
        m.write(k, None)
        return
    raw = encode_value(value, "stored value")
    if len(raw) > G.MAX_STORAGE_VALUE_BYTES:
        raise fault("value_too_large", f"stored value larger than {G.MAX_STORAGE_VALUE_BYTES} bytes")
    m.write(k, raw)


def b_delete(m: Machine, f: Frame, key: Any) -> None:
    k = _str_key(f, key)
    if f.env.readonly:
        raise fault("read_only", "delete() in a view call")
    m.write(k, None)


def b_has(m: Machine, f: Frame, key: Any) -> bool:
    return m.read(_str_key(f, key)) is not None


def b_len(m: Machine, f: Frame, v: Any) -> int:
    if type(v) not in (list, tuple, dict, str, bytes, range):
        raise TypeError(f"a {type(v).__name__} has no length")
    return len(v)


def b_range(m: Machine, f: Frame, *args: Any) -> range:
    for a in args:
        if type(a) is not int:
            raise TypeError("range() needs ints")
    return range(*args)


def b_str(m: Machine, f: Frame, v: Any) -> str:
    return _check_sized(m, _format(v))  # type: ignore[no-any-return]


def b_int(m: Machine, f: Frame, v: Any) -> int:
    t = type(v)
    if t is int or t is bool:
        return int(v)
    if t is str:
        if len(v) > 100 or not v.isascii():
            raise fault("bad_value", "int() takes at most 100 ASCII characters")
        return _check_int(int(v, 10))
    raise TypeError(f"int() of a {t.__name__}")


def b_bool(m: Machine, f: Frame, v: Any) -> bool:
    return bool(v)


def b_abs(m: Machine, f: Frame, v: Any) -> int:
    if type(v) not in (int, bool):
        raise TypeError("abs() needs an int")
    return _check_int(abs(v))


def _scalar_items(m: Machine, seq: Any, what: str) -> None:
    m.charge(len(seq))
    for v in seq:
        if type(v) not in _SCALARS:
            raise TypeError(f"{what} takes a list of int, str, bytes or bool values")


def _minmax(m: Machine, args: tuple[Any, ...], pick: Callable[..., Any]) -> Any:
    if len(args) == 2:
        if type(args[0]) not in _SCALARS or type(args[1]) not in _SCALARS:
            raise TypeError("min()/max() of two values takes int, str, bytes or bool")
        return pick(args[0], args[1])
    seq = args[0]
    if type(seq) not in (list, tuple):
        raise TypeError("min()/max() of one argument needs a list or tuple")
    if not seq:
        raise fault("bad_value", "min()/max() of an empty list")
    _scalar_items(m, seq, "min()/max()")
    return pick(seq)


def b_min(m: Machine, f: Frame, *args: Any) -> Any:
    return _minmax(m, args, min)


def b_max(m: Machine, f: Frame, *args: Any) -> Any:
    return _minmax(m, args, max)


def b_sum(m: Machine, f: Frame, seq: Any) -> int:
    if type(seq) not in (list, tuple):
        raise TypeError("sum() needs a list or tuple")
    m.charge(len(seq))
    for v in seq:
        if type(v) not in (int, bool):
            raise TypeError("sum() needs a list of ints")
    return _check_int(sum(seq))


def b_sorted(m: Machine, f: Frame, seq: Any) -> list[Any]:
    if type(seq) not in (list, tuple, dict):
        raise TypeError("sorted() needs a list, tuple or dict")
    _scalar_items(m, seq, "sorted()")
    m.alloc(len(seq))
    m.charge(len(seq) * max(1, len(seq).bit_length()))
    return sorted(seq)


def b_list(m: Machine, f: Frame, *args: Any) -> list[Any]:
    if not args:
        m.alloc(1)
        return []
    v = args[0]
    if type(v) not in (list, tuple, dict, range, str, bytes):
        raise TypeError(f"list() of a {type(v).__name__}")
    if len(v) > G.MAX_CONTAINER_ITEMS:
        raise fault("value_too_large", f"list larger than {G.MAX_CONTAINER_ITEMS} items")
    m.alloc(len(v) + 1)
    return list(v)


def b_dict(m: Machine, f: Frame) -> dict[Any, Any]:
    m.alloc(1)
    return {}


def b_tuple(m: Machine, f: Frame, v: Any) -> tuple[Any, ...]:
    return tuple(b_list(m, f, v))


def b_enumerate(m: Machine, f: Frame, v: Any) -> list[tuple[int, Any]]:
    items = b_list(m, f, v)
    m.alloc(len(items))
    return list(enumerate(items))


def b_sha256(m: Machine, f: Frame, v: Any) -> bytes:
    if type(v) is str:
        v = v.encode("utf-8")
    if type(v) is not bytes:
        raise TypeError("sha256() needs bytes or str")
    m.charge(G.GAS_HASH_BYTE * len(v))
    return sha256(v)


def b_to_hex(m: Machine, f: Frame, v: Any) -> str:
    if type(v) is not bytes:
        raise TypeError("to_hex() needs bytes")
    return _check_sized(m, v.hex())  # type: ignore[no-any-return]


def b_from_hex(m: Machine, f: Frame, v: Any) -> bytes:
    if type(v) is not str:
        raise TypeError("from_hex() needs a str")
    return _check_sized(m, bytes.fromhex(v))  # type: ignore[no-any-return]


_ADDRESS_CACHE: dict[str, bool] = {}


def is_address_cached(v: object) -> bool:
    if type(v) is not str or len(v) > 90:
        return False
    r = _ADDRESS_CACHE.get(v)
    if r is None:
        from core.crypto import is_address

        r = is_address(v)
        if len(_ADDRESS_CACHE) >= 65536:
            _ADDRESS_CACHE.clear()
        _ADDRESS_CACHE[v] = r
    return r


def b_is_address(m: Machine, f: Frame, v: Any) -> bool:
    m.charge(G.GAS_ADDRESS_CHECK)
    return is_address_cached(v)


def b_is_account(m: Machine, f: Frame, v: Any) -> bool:
    """An address, or the name of a deployed contract (which can hold points too)."""
    m.charge(G.GAS_ADDRESS_CHECK)
    if is_address_cached(v):
        return True
    return layout.valid_contract_name(v) and m.read(layout.code_key(v)) is not None


_TYPE_NAMES = {int: "int", bool: "bool", str: "str", bytes: "bytes", list: "list",
               tuple: "tuple", dict: "dict", type(None): "none", range: "range"}


def b_type_name(m: Machine, f: Frame, v: Any) -> str:
    return _TYPE_NAMES.get(type(v), "other")


def b_call(m: Machine, f: Frame, contract: Any, method: Any, args: Any = None) -> Any:
    if type(contract) is not str or type(method) is not str:
        raise TypeError("call(contract, method, args): contract and method are str")
    if args is None:
        args = []
    if type(args) not in (list, tuple):
        raise TypeError("call(): args must be a list")
    m.charge(G.GAS_CONTRACT_CALL)
    copied = copy_value(list(args), m, "call arguments")
    result = m.invoke(contract, method, copied, f.env.contract, readonly=f.env.readonly)
    return copy_value(result, m, "call result")


def _amount(v: Any) -> int:
    if type(v) is not int or v < 0:
        raise fault("bad_value", "an amount is a non-negative int")
    return v


def b_pay(m: Machine, f: Frame, to: Any, amount: Any) -> Any:
    """Send ``amount`` points from this contract's own balance to ``to``."""
    m.charge(G.GAS_CONTRACT_CALL)
    return m.invoke(layout.TOKEN, "transfer", [to, _amount(amount)], f.env.contract,
                    readonly=f.env.readonly)


def b_collect(m: Machine, f: Frame, amount: Any) -> Any:
    """Move ``amount`` points from the tx signer to this contract. Only when the signer
    called this contract directly (the signed tx names this contract and method)."""
    if not (len(m.call_stack) == 1 and f.env.caller == m.origin and m.origin):
        raise fault("not_allowed", "collect() only in a contract called directly by a tx")
    m.charge(G.GAS_CONTRACT_CALL)
    return m.invoke(layout.TOKEN, "transfer", [f.env.contract, _amount(amount)], m.origin,
                    readonly=f.env.readonly)


def b_balance_of(m: Machine, f: Frame, account: Any) -> int:
    if type(account) is not str:
        raise TypeError("balance_of() needs an account str")
    raw = m.read(layout.balance_key(account))
    return 0 if raw is None else int(decode_trusted(raw))


def b_has_role(m: Machine, f: Frame, address: Any, role: Any) -> bool:
    if type(address) is not str or type(role) is not str:
        raise TypeError("has_role(address, role) takes two str")
    return m.read(layout.role_key(role, address)) is not None


def b_validators(m: Machine, f: Frame) -> list[str]:
    out = m.host.validator_addresses(m)
    m.alloc(len(out))
    return list(out)


_BUILTINS: dict[str, Callable[..., Any]] = {
    "len": b_len,
    "range": b_range,
    "str": b_str,
    "int": b_int,
    "bool": b_bool,
    "abs": b_abs,
    "min": b_min,
    "max": b_max,
    "sum": b_sum,
    "sorted": b_sorted,
    "list": b_list,
    "dict": b_dict,
    "tuple": b_tuple,
    "enumerate": b_enumerate,
    "sha256": b_sha256,
    "to_hex": b_to_hex,
    "from_hex": b_from_hex,
    "is_address": b_is_address,
    "is_account": b_is_account,
    "type_name": b_type_name,
    "load": b_load,
    "store": b_store,
    "delete": b_delete,
    "has": b_has,
    "call": b_call,
    "pay": b_pay,
    "collect": b_collect,
    "balance_of": b_balance_of,
    "has_role": b_has_role,
    "validators": b_validators,
}

# --- methods of values ----------------------------------------------------------------


def _grow(m: Machine, c: Any, by: int) -> None:
    if len(c) + by > G.MAX_CONTAINER_ITEMS:
        raise fault("value_too_large", f"container larger than {G.MAX_CONTAINER_ITEMS} items")
    m.alloc(by)


def m_append(m: Machine, c: list[Any], v: Any) -> None:
    _grow(m, c, 1)
    c.append(v)


def m_insert(m: Machine, c: list[Any], i: Any, v: Any) -> None:
    if type(i) is not int:
        raise TypeError("insert() index must be an int")
    _grow(m, c, 1)
    m.charge(len(c) // 8)
    c.insert(i, v)


def m_extend(m: Machine, c: list[Any], v: Any) -> None:
    if type(v) not in (list, tuple):
        raise TypeError("extend() needs a list or tuple")
    _grow(m, c, len(v))
    c.extend(v)


def m_list_pop(m: Machine, c: list[Any], *args: Any) -> Any:
    if args and type(args[0]) is not int:
        raise TypeError("pop() index must be an int")
    if len(args) > 1:
        raise TypeError("list.pop() takes at most one argument")
    return c.pop(*args)


def m_index(m: Machine, c: Any, v: Any) -> int:
    _contains(m, c, v)  # charges the search
    return c.index(v)  # type: ignore[no-any-return]


def m_remove(m: Machine, c: list[Any], v: Any) -> None:
    _contains(m, c, v)
    c.remove(v)


def m_copy(m: Machine, c: Any) -> Any:
    m.alloc(len(c) + 1)
    return c.copy()


def m_get(m: Machine, c: dict[Any, Any], k: Any, default: Any = None) -> Any:
    return c.get(_key(k), default)


def m_dict_pop(m: Machine, c: dict[Any, Any], *args: Any) -> Any:
    if args:
        _key(args[0])
    return c.pop(*args)


def m_keys(m: Machine, c: dict[Any, Any]) -> list[Any]:
    m.alloc(len(c) + 1)
    return list(c.keys())


def m_values(m: Machine, c: dict[Any, Any]) -> list[Any]:
    m.alloc(len(c) + 1)
    return list(c.values())


def m_items(m: Machine, c: dict[Any, Any]) -> list[tuple[Any, Any]]:
    m.alloc(2 * len(c) + 1)
    return list(c.items())


def m_startswith(m: Machine, c: Any, v: Any) -> bool:
    if type(v) is not type(c):
        raise TypeError("startswith() needs the same type")
    return c.startswith(v)  # type: ignore[no-any-return]


def m_endswith(m: Machine, c: Any, v: Any) -> bool:
    if type(v) is not type(c):
        raise TypeError("endswith() needs the same type")
    return c.endswith(v)  # type: ignore[no-any-return]


def m_split(m: Machine, c: Any, sep: Any) -> list[Any]:
    if type(sep) is not type(c) or not sep:
        raise TypeError("split() needs a non-empty separator of the same type")
    if c.count(sep) + 1 > G.MAX_CONTAINER_ITEMS:
        raise fault("value_too_large", "split() gives too many parts")
    m.alloc(len(c) + c.count(sep) + 1)
    return c.split(sep)  # type: ignore[no-any-return]


def m_join(m: Machine, c: Any, parts: Any) -> Any:
    if type(parts) not in (list, tuple):
        raise TypeError("join() needs a list")
    return _check_sized(m, c.join(parts))


# ASCII only: Unicode case and whitespace tables change between Python releases, and
# every node must compute the same strings.
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"
_TO_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_TO_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def m_strip(m: Machine, c: str) -> str:
    return _check_sized(m, c.strip(_ASCII_WHITESPACE))  # type: ignore[no-any-return]


def m_lower(m: Machine, c: str) -> str:
    return _check_sized(m, c.translate(_TO_LOWER))  # type: ignore[no-any-return]


def m_upper(m: Machine, c: str) -> str:
    return _check_sized(m, c.translate(_TO_UPPER))  # type: ignore[no-any-return]


def m_find(m: Machine, c: Any, v: Any) -> int:
    if type(v) is not type(c):
        raise TypeError("find() needs the same type")
    m.charge(len(c) // 16)
    return c.find(v)  # type: ignore[no-any-return]


def m_encode(m: Machine, c: str) -> bytes:
    return _check_sized(m, c.encode("utf-8"))  # type: ignore[no-any-return]


def m_decode(m: Machine, c: bytes) -> str:
    return _check_sized(m, c.decode("utf-8"))  # type: ignore[no-any-return]


def m_hex(m: Machine, c: bytes) -> str:
    return _check_sized(m, c.hex())  # type: ignore[no-any-return]


_METHODS: dict[tuple[type, str], Callable[..., Any]] = {
    (list, "append"): m_append,
    (list, "insert"): m_insert,
    (list, "extend"): m_extend,
    (list, "pop"): m_list_pop,
    (list, "index"): m_index,
    (tuple, "index"): m_index,
    (list, "remove"): m_remove,
    (list, "copy"): m_copy,
    (dict, "copy"): m_copy,
    (dict, "get"): m_get,
    (dict, "pop"): m_dict_pop,
    (dict, "keys"): m_keys,
    (dict, "values"): m_values,
    (dict, "items"): m_items,
    (str, "startswith"): m_startswith,
    (bytes, "startswith"): m_startswith,
    (str, "endswith"): m_endswith,
    (bytes, "endswith"): m_endswith,
    (str, "split"): m_split,
    (bytes, "split"): m_split,
    (str, "join"): m_join,
    (bytes, "join"): m_join,
    (str, "strip"): m_strip,
    (str, "lower"): m_lower,
    (str, "upper"): m_upper,
    (str, "find"): m_find,
    (bytes, "find"): m_find,
    (str, "encode"): m_encode,
    (bytes, "decode"): m_decode,
    (bytes, "hex"): m_hex,
}
