"""A receipt tells a failure by a code and a place, never by host text (docs/CONTRACTS.md,
"Errors"). Receipts are hashed into headers: text made by CPython (exception messages,
reprs of characters) differs between releases and would fork validators.

Hostile programs — Python errors of every kind over odd text, VM limits, declared and
undeclared codes, nested calls — are deployed and run through the executor; every failed
receipt must carry a code of the VM's closed set (vm/faults.py) or one the failing
contract declares, the name of a deployed contract and a line of its source, and no other
text at all."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.types import STATUS_FAILED, STATUS_OK, Receipt
from tests.vm.helpers import OPERATOR, Chain
from vm.compiler import compile_contract
from vm.faults import FAULTS, explain

DOCS = Path(__file__).resolve().parents[2] / "docs" / "CONTRACTS.md"

# Text that CPython renders differently from one release to another, or at all.
ODD_TEXT = ["\U0001f600", "\u0378", "\U000e0001", "\u2028", "\x00", "\ufeff", "a\u0301", "\u00b2",
            "\U0001faea"]

BODIES = st.sampled_from([
    # Python's own errors, over odd text (KeyError's text is CPython's repr of the key)
    'd = {}\n    return d["{t}"]',
    'return "{t}"[50]',
    'return {"k": 1}.pop("{t}")',
    'return ["x"].index("{t}")',
    'return sorted([1, "{t}"])',
    'return from_hex("{t}")',
    'return b"\\xff".decode()',
    'return "{t}" + 1',
    'return len(1)',
    'a, b = ["{t}"]',
    'return "{t}".encode() < 3',
    # the VM's own faults
    'return 1 // 0',
    'return 2 ** 300',
    'return int("{t}")',
    'xs = [1]\n    while True:\n        xs = xs + xs',
    'while True:\n        pass',
    'return call("{t}", "m", [])',
    'return call("nosuch", "m", [])',
    'return call(this, "run", [1])',
    'store("{t}" * 70000, 1)',
    'emit("{t}" * 100, v=1)',
    # the contract's own errors, with and without a declared code
    'raise Error("{t}", "declared_code")',
    'raise Error("refused: " + "{t}")',
    'assert False, "{t}"',
    'assert 1 == 2',
])


_names = (f"hostile{i}" for i in itertools.count())
_chain: list[Chain] = []


def _shared_chain() -> Chain:
    if not _chain:
        _chain.append(Chain())
    return _chain[0]


def _deploy(c: Chain, body: str, text: str, nested: bool) -> tuple[str, str, list[str]]:
    """Deploy the hostile body as run(a) of a new contract (or of a second contract that
    the first one calls, when ``nested``). Returns the entry contract, the failing one and
    its source lines."""
    escaped = text.encode("unicode_escape").decode("ascii")  # the literal, as escapes
    source = f"def run(a: int) -> int:\n    {body.replace('{t}', escaped)}\n    return 0\n"
    name = next(_names)
    r = c.deploy(name, source)
    assert r.status == STATUS_OK, (r.error_code, source)
    if not nested:
        return name, name, source.splitlines()
    outer = next(_names)
    outer_source = f'def run(a: int) -> int:\n    x = 1\n    return call("{name}", "run", [a])\n'
    r = c.deploy(outer, outer_source)
    assert r.status == STATUS_OK, r.error_code
    return outer, name, source.splitlines()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for kv in value.items() for v in kv for s in _strings(v)]
    return []


def assert_code_and_place_only(r: Receipt, declared: frozenset[str], contracts: set[str],
                               lines: int) -> None:
    assert r.status == STATUS_FAILED
    assert r.error_code in FAULTS or r.error_code in declared, r.error_code
    assert r.error_contract in contracts, r.error_contract
    assert 0 <= r.error_line <= lines
    # Beyond result and events (the contract's values; a failed call has neither but the
    # fee event), the only text in the hashed receipt is the code and the contract name.
    fields = r.to_value()
    head = fields[:5] + fields[7:]
    assert set(_strings(head)) <= {r.error_code, r.error_contract}
    assert r.result is None and [e.name for e in r.events] == ["Fee"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES, st.sampled_from(ODD_TEXT), st.booleans())
def test_hostile_programs_fail_with_a_closed_code_and_a_place(body: str, text: str,
                                                               nested: bool) -> None:
    c = _shared_chain()
    entry, failing, lines = _deploy(c, body, text, nested)
    declared = compile_contract("\n".join(lines) + "\n").error_codes
    r = c.call(OPERATOR, entry, "run", [1], max_fee=2_000_000)
    assert_code_and_place_only(r, declared, {failing, entry}, len(lines))
    if r.error_code not in FAULTS:
        assert r.error_contract == failing  # a declared code is told at its contract
    # The failing line is in the hostile body, or the outer contract's call line.
    if r.error_contract == failing:
        assert r.error_line in (2, 3, 4)
    # The node can still tell people what happened, off chain.
    assert explain(r.error_code, r.error_contract, r.error_line)


def test_a_key_error_on_a_non_bmp_key_keeps_no_host_text() -> None:
    # CPython writes KeyError('\U0001f600') differently across releases; the receipt of
    # 3.11 once held "KeyError: '😀' (at …)" and was hashed into the header.
    c = _shared_chain()
    entry, _, _ = _deploy(c, 'd = {}\n    return d["{t}"]', "\U0001f600", nested=False)
    r = c.call(OPERATOR, entry, "run", [1])
    assert (r.error_code, r.error_contract, r.error_line) == ("runtime_error", entry, 3)
    raw = r.encode()
    assert "\U0001f600".encode() not in raw and b"KeyError" not in raw and b"\\U" not in raw
    # The node explains it off chain, from the code and the line.
    assert c.explain(r) == f"a type, index or key error in the contract (at {entry} line 3)"


def test_contract_messages_are_explained_off_chain_from_the_source() -> None:
    c = _shared_chain()
    entry, _, _ = _deploy(c, 'raise Error("only the " + str(a) + " may", "not_allowed")', "", False)
    r = c.call(OPERATOR, entry, "run", [7])
    assert (r.error_code, r.error_line) == ("not_allowed", 2)
    assert c.explain(r) == f"only the … may (at {entry} line 2)"
    entry, _, _ = _deploy(c, 'assert a == 2, "a must be two"', "", False)
    r = c.call(OPERATOR, entry, "run", [7])
    assert c.explain(r) == f"a must be two (at {entry} line 2)"


def test_every_vm_fault_code_is_in_the_table_and_the_docs() -> None:
    vm_dir = Path(__file__).resolve().parents[2] / "vm"
    used = set()
    for path in vm_dir.glob("*.py"):
        text = path.read_text()
        used |= set(re.findall(r'fault\("([a-z_]+)"', text))
        used |= set(re.findall(r'error_code="([a-z_]+)"', text))
    assert used and used <= set(FAULTS), used - set(FAULTS)
    documented = set(re.findall(r"^\| `([a-z_]+)` \| ", DOCS.read_text(), re.M))
    assert set(FAULTS) <= documented, set(FAULTS) - documented


def test_a_dry_run_may_show_the_message_the_receipt_cannot_hold() -> None:
    # Off chain (the RPC's dry run), the executor hands out the message the VM built,
    # values included; the receipt itself still holds only the code and the place.
    c = _shared_chain()
    entry, _, _ = _deploy(c, 'raise Error("only the " + str(a) + " may", "not_allowed")', "", False)
    stx = c.tx(OPERATOR, entry, "run", [42])
    messages: dict[bytes, str] = {}
    c.height += 1
    (r,) = c.ex.execute_block(c.state, c.ctx(), [stx], messages)
    assert messages == {stx.hash: f"only the 42 may (at {entry} line 2)"}
    assert b"only the" not in r.encode() and (r.error_code, r.error_line) == ("not_allowed", 2)
