"""The compiler accepts the language and refuses everything else with line and column."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vm.api import CompileError
from vm.compiler import code_hash, compile_contract

CONTRACTS = Path(__file__).resolve().parents[2] / "vm" / "contracts"

REFUSED = [
    ("def f():\n    return 1.5\n", 2, "floats"),
    ("def f():\n    return 3 / 2\n", 2, "true division"),
    ("import os\n", 1, "imports"),
    ("from os import path\n", 1, "imports"),
    ("def f():\n    import os\n", 2, "imports"),
    ("def f(x):\n    return x.__class__\n", 2, "dunder"),
    ("def f(x):\n    return x.real\n", 2, "attribute access"),
    ("def f():\n    return __import__('os')\n", 2, "not allowed"),
    ("def f():\n    def g():\n        return 1\n    return g\n", 2, "closures"),
    ("def f():\n    return lambda: 1\n", 2, "lambda"),
    ("def f():\n    yield 1\n", 2, "generators"),
    ("def f():\n    return [x for x in range(3)]\n", 2, "comprehensions"),
    ("def f():\n    try:\n        pass\n    except Exception:\n        pass\n", 2, "try"),
    ("X = 1\ndef f():\n    global X\n", 3, "global"),
    ("def f():\n    return eval('1')\n", 2, "eval"),
    ("def f():\n    return getattr(1, 'x')\n", 2, "getattr"),
    ("def f():\n    return type(1)\n", 2, "type"),
    ("def f():\n    return {1, 2}\n", 2, "sets"),
    ("def f():\n    return y\n", 2, "unknown name"),
    ("def f():\n    return 1 < 2 < 3\n", 2, "chained"),
    ("class A:\n    pass\n", 1, "classes"),
    ("def f(x=1):\n    return x\n", 1, "positional"),
    ("def f(*a):\n    return a\n", 1, "positional"),
    ("async def f():\n    pass\n", 1, "async"),
    ("def f():\n    with g():\n        pass\n", 2, "With"),
    ("def f():\n    raise ValueError('x')\n", 2, "raise only Error"),
    ("def f():\n    raise Error('x', 'Bad Code')\n", 2, "error code"),
    ("def f():\n    caller = 1\n", 2, "reserved"),
    ("def len():\n    pass\n", 1, "reserved"),
    ("def f():\n    return f\n", 2, "functions are not values"),
    ("def f():\n    x = g(1)\n", 2, "unknown function"),
    ("def f():\n    return len(1, 2)\n", 2, "takes 1..1"),
    ("def f(a):\n    return a.frobnicate()\n", 2, "unknown method"),
    ("@staticmethod\ndef f():\n    pass\n", 1, "decorator"),
    ("def f():\n    for i in range(3):\n        pass\n    else:\n        pass\n", 2, "else on a loop"),
    ("def f():\n    return 2 ** 1000 if False else 10 ** 100\n", 0, ""),  # fine: consts fold at run time
    ("def f():\n    return 99999999999999999999999999999999999999999999999999999999999999999999999999999999999\n", 2, "256-bit"),
    ("x = 1\n", 1, "UPPER_CASE"),
    ("def f():\n    print(1)\n", 2, "unknown function"),
    ("def f():\n    return (y := 1)\n", 2, ":="),
    ("def f(:\n", 1, "syntax error"),
    ("def f():\n    return x\n    x = 1\n", 2, "before it is assigned"),
]


@pytest.mark.parametrize(("source", "line", "words"), REFUSED)
def test_refused_with_line_and_column(source: str, line: int, words: str) -> None:
    if not words:
        compile_contract(source)
        return
    with pytest.raises(CompileError) as info:
        compile_contract(source)
    msg = info.value.message
    assert re.match(rf"^line {line}, column \d+: ", msg), msg
    assert words in msg, msg
    assert info.value.code == "compile_error"


def test_oversized_source_refused() -> None:
    with pytest.raises(CompileError, match="larger than"):
        compile_contract("X = 1\n" * 20_000)


def test_deeply_nested_source_refused_cleanly() -> None:
    with pytest.raises(CompileError):
        compile_contract("def f():\n    return " + "(" * 400 + "1" + ")" * 400 + "\n")


@pytest.mark.parametrize("path", sorted(CONTRACTS.glob("*.py")), ids=lambda p: p.name)
def test_shipped_contracts_compile(path: Path) -> None:
    source = path.read_text()
    program = compile_contract(source)
    assert program.code_hash == code_hash(source)
    assert program.by_index
    # deterministic: compiling twice gives the same bytecode
    again = compile_contract(source)
    assert [f.code for f in again.by_index] == [f.code for f in program.by_index]


def test_public_private_view_and_init() -> None:
    p = compile_contract(
        "def init(c):\n    pass\n"
        "def _helper():\n    return 1\n"
        "@view\ndef get():\n    return _helper()\n"
        "def put(x: int) -> None:\n    store('x', x)\n"
    )
    f = p.functions
    assert not f["init"].public and not f["_helper"].public
    assert f["get"].public and f["get"].view
    assert f["put"].public and not f["put"].view
    assert "CALL" in p.disassemble()


def test_nesting_is_bounded_before_parsing() -> None:
    # Python's parser recursion limit depends on the caller's stack depth; the compiler
    # must refuse deep sources the same way at any depth.
    def at_depth(n: int, source: str) -> str:
        if n:
            return at_depth(n - 1, source)
        try:
            compile_contract(source)
        except CompileError as exc:
            return exc.message
        return "ok"

    for source in ("X = " + "not " * 500 + "True\n", "X = " + "1 + " * 300 + "1\n",
                   "def f(a):\n" + "".join("    " * (i + 1) + "if a:\n" for i in range(30))
                   + "    " * 31 + "pass\n"):
        outcomes = {at_depth(n, source) for n in (0, 300, 600)}
        assert len(outcomes) == 1 and "ok" not in outcomes, outcomes
