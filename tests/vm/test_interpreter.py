"""The interpreter: semantics, reverts, gas, limits and hostile contracts."""

from __future__ import annotations

from typing import Any

import pytest

from core.types import STATUS_FAILED, STATUS_OK
from tests.vm.helpers import OPERATOR, Chain, key
from vm import gas as G

DEMO = '''
LIMIT = 10

def init(start: int) -> None:
    store("n", start)

def arith(a: int, b: int) -> list:
    return [a + b, a - b, a * b, a // b, a % b, -a, a ** 2, a << 3, a >> 1, a & b, a | b, a ^ b, ~a]

def text(name: str, n: int) -> str:
    parts = []
    for i in range(n):
        if i == 2:
            continue
        if i > 5:
            break
        parts.append(str(i))
    return f"{name}:" + ",".join(parts) + f"/{len(parts)}/{b'ab'}"

def containers() -> list:
    d = {"a": 1, "b": 2}
    d["c"] = 3
    d["a"] += 10
    del d["b"]
    xs = [3, 1, 2]
    xs.append(0)
    xs[0] = 9
    a, b = xs[0], xs[1]
    total = 0
    for k in d:
        total += d[k]
    i = 0
    while i < 3:
        i += 1
    return [sorted(xs), xs[1:3], d, total, a, b, i, "a" in d, 5 not in xs, d.get("zz", 7),
            max(xs), min(4, 2), sum(xs), len("héllo"), i if i > 2 else -1, None is None]

def bump(by: int) -> int:
    n = load("n", 0) + by
    store("n", n)
    emit("Bumped", n=n)
    return n

def bump_then_fail(by: int) -> None:
    bump(by)
    assert by < 0, "refused"

def fail_code() -> None:
    raise Error("nope", "custom_code")

@view
def count() -> int:
    return load("n", 0)

@view
def sneaky_write() -> None:
    store("n", 999)

def forever() -> None:
    while True:
        pass

def recurse(d: int) -> int:
    return recurse(d + 1)

def big_list() -> int:
    xs = []
    while True:
        xs.append(1)
    return 0

def big_int() -> int:
    x = 2
    while True:
        x = x * x
    return x

def big_str() -> int:
    s = "ab" * 100000
    return len(s)

def bomb() -> None:
    inner = []
    for i in range(4000):
        inner.append("0123456789abcdef")
    outer = [inner] * 4000
    store("b", outer)

def compare_bomb() -> int:
    a = []
    b = []
    for i in range(4000):
        a.append([i, i, i, i])
        b.append([i, i, i, i])
    k = 0
    while True:
        if a == b:
            k += 1
    return k

def deep_compare() -> bool:
    a = []
    b = []
    for i in range(900):
        a = [a]
        b = [b]
    return a == b

def deep_store() -> None:
    a = []
    for i in range(40):
        a = [a]
    store("deep", a)

def divide(a: int, b: int) -> int:
    return a // b

def overflow() -> int:
    return 2 ** 255

def index_error() -> int:
    xs = [1]
    return xs[5]

def call_other(c: str, m: str, args: list) -> int:
    return call(c, m, args)

def self_call() -> int:
    return call(this, "count", [])

def who() -> list:
    return [caller, origin, this, block_height, block_time, block_time_ms, chain_id]
'''

CALLER = '''
def relay(by: int) -> int:
    store("relayed", load("relayed", 0) + 1)
    return call("demo", "bump", [by])

def relay_fail(by: int) -> int:
    store("relayed", load("relayed", 0) + 1)
    return call("demo", "bump_then_fail", [by])

def who() -> list:
    return call("demo", "who", [])

@view
def relayed() -> int:
    return load("relayed", 0)
'''


@pytest.fixture(scope="module")
def chain() -> Chain:
    c = Chain()
    r = c.deploy("demo", DEMO, [5])
    assert r.status == STATUS_OK, r.error_code
    r = c.deploy("relay", CALLER)
    assert r.status == STATUS_OK, r.error_code
    return c


def test_arithmetic_matches_python(chain: Chain) -> None:
    a, b = 1234567, -89
    expected = [a + b, a - b, a * b, a // b, a % b, -a, a**2, a << 3, a >> 1, a & b, a | b, a ^ b, ~a]
    assert chain.ok(OPERATOR, "demo", "arith", [a, b]) == expected


def test_text_and_loops(chain: Chain) -> None:
    assert chain.ok(OPERATOR, "demo", "text", ["x", 10]) == "x:0,1,3,4,5/5/6162"


def test_containers(chain: Chain) -> None:
    got = chain.ok(OPERATOR, "demo", "containers", [])
    assert got == [[0, 1, 2, 9], [1, 2], {"a": 11, "c": 3}, 14, 9, 1, 3, True, True, 7,
                   9, 2, 12, 5, 3, True]


def test_init_ran_and_view_query(chain: Chain) -> None:
    assert chain.query("demo", "count") >= 5


def test_failed_call_reverts_its_writes_and_events_but_pays(chain: Chain) -> None:
    before = chain.query("demo", "count")
    bal = chain.balance(OPERATOR.address)
    r = chain.call(OPERATOR, "demo", "bump_then_fail", [3])
    assert r.status == STATUS_FAILED
    assert (r.error_code, r.error_contract) == ("assertion_failed", "demo")
    assert chain.explain(r) == f"refused (at demo line {r.error_line})"
    assert chain.query("demo", "count") == before
    assert [e.name for e in r.events] == ["Fee"]
    assert r.gas_used > 0 and r.fee == (r.gas_used * 1 + 999) // 1000  # gas_price_milli 1
    assert chain.balance(OPERATOR.address) == bal - r.fee


def test_nested_call_failure_reverts_the_whole_tx(chain: Chain) -> None:
    before = chain.query("demo", "count")
    r = chain.call(OPERATOR, "relay", "relay_fail", [1])
    assert r.status == STATUS_FAILED and r.error_code == "assertion_failed"
    assert chain.query("relay", "relayed") == 0
    assert chain.query("demo", "count") == before
    r = chain.call(OPERATOR, "relay", "relay", [2])
    assert r.status == STATUS_OK and r.result == before + 2
    assert chain.query("relay", "relayed") == 1
    assert [(e.contract, e.name) for e in r.events] == [("demo", "Bumped"), ("token", "Fee")]


def test_context_values(chain: Chain) -> None:
    got = chain.ok(OPERATOR, "demo", "who", [])
    h = chain.height
    assert got[0] == OPERATOR.address and got[1] == OPERATOR.address and got[2] == "demo"
    assert got[3] == h and got[5] == chain.ctx().timestamp_ms and got[4] == got[5] // 1000
    assert got[6] == "hk-test"
    via = chain.ok(OPERATOR, "relay", "who", [])
    assert via[0] == "relay" and via[1] == OPERATOR.address and via[2] == "demo"


def test_custom_error_code(chain: Chain) -> None:
    r = chain.call(OPERATOR, "demo", "fail_code", [])
    assert (r.error_code, r.error_contract) == ("custom_code", "demo")
    assert chain.explain(r).startswith("nope (at demo line ")


def test_view_cannot_write(chain: Chain) -> None:
    r = chain.call(OPERATOR, "demo", "sneaky_write", [])
    assert r.error_code == "read_only"


def test_reentrancy_refused(chain: Chain) -> None:
    r = chain.call(OPERATOR, "demo", "self_call", [])
    assert r.error_code == "reentrancy"
    r = chain.call(OPERATOR, "demo", "call_other", ["relay", "relay", [1]])
    assert r.error_code == "reentrancy"  # relay calls demo, which is on the stack


def test_private_and_init_not_callable(chain: Chain) -> None:
    assert chain.call(OPERATOR, "demo", "init", [1]).error_code == "unknown_method"
    assert chain.call(OPERATOR, "token", "_mint", [OPERATOR.address, 5, "x"]).error_code == "unknown_method"
    assert chain.call(OPERATOR, "demo", "count", [1]).error_code == "bad_args"


@pytest.mark.parametrize(
    ("method", "args", "code"),
    [
        ("forever", [], "out_of_gas"),
        ("recurse", [0], "call_depth"),
        ("big_list", [], "value_too_large"),
        ("big_int", [], "int_overflow"),
        ("big_str", [], "value_too_large"),
        ("bomb", [], "value_too_large"),
        ("compare_bomb", [], "out_of_gas"),
        ("deep_compare", [], "value_too_deep"),
        ("deep_store", [], "value_too_deep"),
        ("divide", [1, 0], "division_by_zero"),
        ("overflow", [], "int_overflow"),
        ("index_error", [], "runtime_error"),
        ("arith", ["a", 1], "runtime_error"),
    ],
)
def test_hostile_or_broken_calls_are_stopped(
    chain: Chain, method: str, args: list[Any], code: str
) -> None:
    r = chain.call(OPERATOR, "demo", method, args, max_fee=G.MAX_TX_GAS)
    assert r.status == STATUS_FAILED
    assert r.error_code == code, chain.explain(r)
    assert r.gas_used <= G.MAX_TX_GAS
    # where it arose: the contract and a line of its source that holds the method's code
    assert r.error_contract == "demo"
    start = DEMO.splitlines().index(next(x for x in DEMO.splitlines() if x.startswith(f"def {method}(")))
    assert start + 1 < r.error_line <= len(DEMO.splitlines())


def test_out_of_gas_charges_the_whole_limit(chain: Chain) -> None:
    # 50 points buy 50,000 gas at gas_price_milli 1; all of it is used and paid for.
    r = chain.call(OPERATOR, "demo", "forever", [], max_fee=50)
    assert r.error_code == "out_of_gas" and r.gas_used == 50_000 and r.fee == 50


def test_gas_is_deterministic_and_scales_with_work(chain: Chain) -> None:
    r1 = chain.call(OPERATOR, "demo", "text", ["x", 3])
    r2 = chain.call(OPERATOR, "demo", "text", ["x", 3])
    r3 = chain.call(OPERATOR, "demo", "text", ["x", 6])
    assert r1.gas_used == r2.gas_used < r3.gas_used


def test_unknown_contract_fails_with_fee() -> None:
    c = Chain()
    r = c.call(OPERATOR, "nosuch", "m", [])
    assert r.status == STATUS_FAILED and r.error_code == "unknown_contract" and r.fee > 0


def test_deploy_requires_committee_and_a_fresh_valid_name() -> None:
    c = Chain()
    stranger = key("stranger")
    c.ok(OPERATOR, "token", "transfer", [stranger.address, 10**8])
    r = c.call(stranger, "system", "deploy", ["mine", "def f():\n    return 1\n", []], max_fee=10**7)
    assert r.error_code == "not_allowed"
    assert c.deploy("token", "def f():\n    return 1\n").error_code == "name_taken"
    assert c.deploy("Bad-Name", "def f():\n    return 1\n").error_code == "bad_name"
    r = c.deploy("broken", "def f():\n    return 1.0\n")
    assert (r.error_code, r.error_contract, r.error_line) == ("compile_error", "", 0)
    r = c.deploy("fine", "def f():\n    return 41 + 1\n")
    assert r.status == STATUS_OK and isinstance(r.result, dict) and r.result["name"] == "fine"
    assert c.ok(OPERATOR, "fine", "f", []) == 42


def test_upgrade_only_through_governance() -> None:
    c = Chain()
    assert c.deploy("fine", "def f():\n    return 1\n").status == STATUS_OK
    r = c.call(OPERATOR, "system", "upgrade", ["fine", "def f():\n    return 2\n"], max_fee=10**8)
    assert r.error_code == "not_allowed"


def test_collect_and_pay() -> None:
    shop = '''
def buy(amount: int) -> None:
    collect(amount)
    emit("Bought", buyer=caller, amount=amount)

def refund(to: str, amount: int) -> None:
    pay(to, amount)

def sneaky(amount: int) -> None:
    call("relay2", "pull", [amount])
'''
    relay2 = '''
def pull(amount: int) -> None:
    collect(amount)
'''
    c = Chain()
    assert c.deploy("shop", shop).status == STATUS_OK
    assert c.deploy("relay2", relay2).status == STATUS_OK
    buyer = key("buyer")
    c.ok(OPERATOR, "token", "transfer", [buyer.address, 10**8])
    c.ok(buyer, "shop", "buy", [400])
    assert c.balance("shop") == 400
    c.ok(buyer, "shop", "refund", [buyer.address, 100])
    assert c.balance("shop") == 300
    r = c.call(buyer, "shop", "sneaky", [50])
    assert r.error_code == "not_allowed"  # only the contract the signer called may collect
    assert c.balance("relay2") == 0
