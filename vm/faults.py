"""The VM's error codes: the closed set a receipt's ``error_code`` is drawn from.

A receipt is hashed into the block header, so everything in it must be the same on every
validator, whatever Python runs it. A receipt therefore carries only a code and where the
fault arose (contract name and source line), never text: no message made by ``str()`` or
``repr()`` of a host exception (CPython's wording and its repr of characters change
between releases), and no message of the contract either. The codes are:

* the codes of this table (FAULTS), the only ones the VM and the executor themselves use;
* a code a contract declares as a literal in ``raise Error("message", "code")`` (part of
  its source, hence of its code hash), reported at that contract's line.

Messages for people are made off chain, from the code, the contract's source and the
line (``explain``): the RPC shows them, nothing hashes them.
"""

from __future__ import annotations

import ast
import functools

# code -> what it means, for people (off chain). Grouped by where the code arises.
FAULTS: dict[str, str] = {
    # a tx that cannot run (STATUS_INVALID receipts, mempool rejections)
    "wrong_chain": "the transaction is for another chain",
    "expired": "the transaction expired before it was included",
    "bad_nonce": "the nonce was already used",
    "nonce_gap": "the nonce is ahead of the account's next nonce",
    "insufficient_fee": "max_fee is below the minimum fee or the payer cannot pay it",
    "unknown_contract": "no contract has that name",
    # a call that failed (STATUS_FAILED receipts): limits and faults of the VM
    "out_of_gas": "the call ran out of gas",
    "int_overflow": "an integer left the 256-bit signed range",
    "division_by_zero": "division or modulo by zero",
    "value_too_large": "a value is larger than the VM allows",
    "value_too_deep": "containers are nested too deeply",
    "memory_limit": "the call allocated more memory than allowed",
    "call_depth": "too many nested calls",
    "reentrancy": "a contract already on the call stack was called again",
    "read_only": "a view call tried to write, emit or pay",
    "bad_value": "a value of the wrong kind or range",
    "unknown_method": "the contract has no such public method",
    "bad_args": "wrong arguments",
    "too_many_events": "the call emitted too many events",
    "runtime_error": "a type, index or key error in the contract",
    "corrupt_state": "the state holds something the VM did not write",
    # raised by contract code without a code of its own
    "assertion_failed": "an assert of the contract failed",
    "contract_error": "the contract refused the call",
    # the system pseudo-contract (deploy, upgrade, validator changes) and queries
    "not_allowed": "the caller may not do this",
    "compile_error": "the contract source is outside the contract language",
    "bad_name": "a contract name is 2-32 characters of [a-z0-9_], starting with a letter",
    "name_taken": "a contract of that name exists",
    "not_view": "queries call only @view methods",
}

MAX_EXPLAINED_CHARS = 300


def is_fault(code: str) -> bool:
    return code in FAULTS


def _message_of(node: ast.expr) -> str:
    # The message argument of Error(...) or assert, as a reader would: literals kept,
    # computed parts shown as "…".
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _message_of(node.left) + _message_of(node.right)
    return "…"


@functools.lru_cache(maxsize=64)
def _messages_by_line(source: str) -> dict[int, tuple[str, str]]:
    """line -> ("raise" | "assert", message) for the Error(...) raises and asserts of a
    source (parsed once per source: a page of receipts may name the same contract often)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    out: dict[int, tuple[str, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            out.setdefault(node.lineno, ("raise", _message_of(node.exc.args[0])))
        elif isinstance(node, ast.Assert):
            msg = _message_of(node.msg) if node.msg is not None else "assertion failed"
            out.setdefault(node.lineno, ("assert", msg))
    return out


def explain(code: str, contract: str = "", line: int = 0, source: str | None = None) -> str:
    """A message for people about a failed receipt, made off chain (never hashed): the
    contract's own message when the line holds its ``raise Error`` or ``assert``, else the
    meaning of a VM code, with where it happened."""
    text = FAULTS.get(code, "")
    if source is not None and line > 0:
        found = _messages_by_line(source).get(line)
        # (a line that raises Error may also fail on its own way there, e.g. out of gas)
        ours = code not in ("runtime_error", "out_of_gas", "memory_limit", "value_too_large")
        if found is not None and ((found[0] == "raise" and ours) or code == "assertion_failed"):
            text = found[1]
    if not text:
        text = code.replace("_", " ")
    if contract:
        text += f" (at {contract} line {line})" if line else f" (in {contract})"
    return text[:MAX_EXPLAINED_CHARS]
