"""Property tests: token transfers against a plain Python model; random programs compile
and run within gas or fail with a clear error; random text never crashes the compiler."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from core.types import STATUS_FAILED, STATUS_INVALID, STATUS_OK
from tests.vm.helpers import OPERATOR, Chain, key
from vm.api import CompileError
from vm.compiler import code_hash, compile_contract
from vm.executor import contract_source
from vm.faults import FAULTS
from vm.interpreter import ContractFault, Machine, load_program
from vm.journal import DictState, Journal

ACCOUNTS = [key(f"prop-{i}") for i in range(4)]
TOKEN_CODES = compile_contract(contract_source("token.py")).error_codes
START = 10**7


class TokenModel(RuleBasedStateMachine):
    """Blocks of random transfers; the model knows balances, fees and the treasury."""

    def __init__(self) -> None:
        super().__init__()
        self.chain = Chain()
        self.chain.block(*[self.chain.tx(OPERATOR, "token", "transfer", [a.address, START])
                           for a in ACCOUNTS])
        self.model = {a.address: START for a in ACCOUNTS}
        self.treasury = self.chain.balance("governance")
        self.supply = self.chain.query("token", "supply")

    @rule(moves=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4),
                                   st.integers(-2, START // 2)), min_size=1, max_size=6))
    def block_of_transfers(self, moves: list[tuple[int, int, int]]) -> None:
        c = self.chain
        txs, expect = [], []
        for src, dst, amount in moves:
            to = ACCOUNTS[dst].address if dst < 4 else "not-an-account"
            txs.append(c.tx(ACCOUNTS[src], "token", "transfer", [to, amount], max_fee=100_000))
            expect.append((ACCOUNTS[src].address, to, amount))
        receipts = c.block(*txs)
        fees = 0
        for (src_addr, to, amount), r in zip(expect, receipts, strict=True):
            assert r.status != STATUS_INVALID
            ok = amount > 0 and to in self.model and self.model[src_addr] - 100_000 >= amount
            assert r.status == (STATUS_OK if ok else STATUS_FAILED), (r.error_code, amount, to)
            assert r.gas_used > 0 and r.fee == (r.gas_used + 999) // 1000  # gas_price_milli 1
            self.model[src_addr] -= r.fee
            fees += r.fee
            if ok:
                self.model[src_addr] -= amount
                self.model[to] += amount
        self.treasury += fees

    @precondition(lambda self: self.chain.height < 40)
    @rule()
    def empty_block(self) -> None:
        self.chain.block()

    @invariant()
    def balances_match_the_model(self) -> None:
        for address, expected in self.model.items():
            assert self.chain.balance(address) == expected
        assert self.chain.balance("governance") == self.treasury
        assert self.chain.query("token", "supply") == self.supply


TestTokenModel = TokenModel.TestCase
TestTokenModel.settings = settings(max_examples=25, stateful_step_count=8, deadline=None)


# --- random programs ------------------------------------------------------------------

class _Host:
    def system_call(self, m: Machine, method: str, args: list[Any], caller: str) -> Any:
        raise ContractFault("no system here", code="unknown_contract")

    def validator_addresses(self, m: Machine) -> list[str]:
        return []


NAMES = ["a", "b", "xs", "d"]
atoms = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from([*NAMES, '"s"', "b'x'", "True", "None", "[]", "{}", "[1, 2]", '{"k": 1}',
                             "caller", "block_height", "len(xs)", "2 ** 300", "10 ** 80"]),
)


def _expr(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "//", "%", "**", "<<", ">>", "&",
                                             "==", "<", "in", "and", "or"]), children)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda e: f"(-{e})"),
        children.map(lambda e: f"(not {e})"),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(children, children).map(lambda t: f"[{t[0]}, {t[1]}]"),
        children.map(lambda e: f"str({e})"),
        children.map(lambda e: f"len({e})"),
    )


exprs = st.recursive(atoms, _expr, max_leaves=8)
statements = st.one_of(
    st.tuples(st.sampled_from(NAMES), exprs).map(lambda t: f"{t[0]} = {t[1]}"),
    st.tuples(st.sampled_from(NAMES), exprs).map(lambda t: f"{t[0]} += {t[1]}"),
    exprs.map(lambda e: f"xs.append({e})"),
    st.tuples(exprs, exprs).map(lambda t: f"d[{t[0]}] = {t[1]}"),
    exprs.map(lambda e: f"assert {e}, 'no'"),
    exprs.map(lambda e: f"store('k', {e})"),
    exprs.map(lambda e: f"emit('E', v={e})"),
    st.just("while True:\n        xs.append(xs)"),
    st.just("for i in range(1000000):\n        a = a"),
    st.just("a = f(a)"),
    st.just("xs = xs + xs"),
    st.just("d = {}\n    for i in range(5000):\n        d[i] = i"),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(statements, min_size=1, max_size=6), exprs)
def test_random_programs_run_within_gas_or_fail_cleanly(body: list[str], ret: str) -> None:
    source = ("def f(a: int) -> int:\n    return f(a + 1)\n\n"
              "def run(a: int, b: int) -> int:\n    xs = []\n    d = {}\n"
              + "".join(f"    {s}\n" for s in body) + f"    return {ret}\n")
    try:
        program = compile_contract(source)
    except CompileError as exc:
        assert exc.message.startswith("line ")
        return
    bp = load_program(program.code_hash, source)
    state = DictState()
    from vm import layout

    state.set(layout.code_key("rnd"), program.code_hash)
    state.set(layout.source_key(program.code_hash), source.encode())
    assert bp.functions["run"].public
    m = Machine(Journal(state), _Host(), chain_id="c", height=1, time_ms=0, origin="o",
                gas_limit=300_000)
    try:
        m.invoke("rnd", "run", [3, 4], "o")
    except ContractFault as exc:
        # a code of the closed set, and where it arose in this program
        assert exc.code in FAULTS or exc.code in program.error_codes, exc.code
        assert exc.contract in ("", "rnd") and 0 <= exc.line <= source.count("\n")
    assert 0 <= m.gas_used <= 300_000
    assert m.mem <= 4_000_000


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300),
                 st.lists(statements, min_size=1, max_size=4).map(
                     lambda body: "def run(a: int) -> int:\n    xs = []\n    d = {}\n"
                     + "".join(f"    {s}\n" for s in body))))
def test_arbitrary_text_only_raises_compile_error(text: str) -> None:
    try:
        program = compile_contract(text)
    except CompileError as exc:
        assert exc.message
        return
    # A source that compiles is its own identity: the code hash is the source's, and
    # compiling it again (as every node does from the stored source) gives the same code.
    assert program.code_hash == code_hash(text)
    again = load_program(program.code_hash, text).program
    assert again.disassemble() == program.disassemble()
    assert again.error_codes == program.error_codes


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.integers(-(2**260), 2**260), st.text(max_size=20), st.binary(max_size=20),
                          st.none(), st.booleans()), max_size=4))
def test_arbitrary_tx_args_never_crash_the_executor(args: list[Any]) -> None:
    c = _shared_chain()
    for method in ("transfer", "burn", "mint", "balance"):
        (r,) = c.block(c.tx(OPERATOR, "token", method, args))
        assert r.status in (STATUS_OK, STATUS_FAILED)
        if r.status == STATUS_FAILED:
            assert r.error_code in FAULTS or r.error_code in TOKEN_CODES, r.error_code


_CHAIN: list[Chain] = []


def _shared_chain() -> Chain:
    if not _CHAIN:
        _CHAIN.append(Chain())
    return _CHAIN[0]
