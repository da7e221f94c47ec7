"""Hostile arguments to every public method of every application: each call fails with a
typed error code and changes no contract storage (only the sender's nonce and fee)."""

from __future__ import annotations

from typing import Any

import pytest

from core.types import STATUS_FAILED
from tests.apps.harness import Community
from vm.api import QueryError
from vm.compiler import compile_contract
from vm.executor import contract_source

APPS = ("households", "property", "assembly", "services", "culture", "activities", "notices",
        "merchants")
HOSTILE: tuple[Any, ...] = (None, -1, "", b"", [], {"k": [1, 2]}, "x" * 3000, 2**200)
TYPED = {"not_allowed", "not_found", "bad_arg", "bad_state", "bad_param", "not_resident"}


def _methods(contract: str) -> list[tuple[str, int]]:
    program = compile_contract(contract_source(f"{contract}.py"))
    return sorted((f.name, len(f.params)) for f in program.functions.values()
                  if f.public and not f.view)


def _storage(town: Community) -> dict[bytes, bytes]:
    # Contract storage, minus what every tx changes: token balances (fees) and nonces.
    return {k: v for k, v in town.c.state.data.items()
            if k.startswith(b"c/") and not k.startswith(b"c/token/s/b:")}


@pytest.mark.parametrize("contract", APPS)
def test_hostile_arguments_fail_cleanly(contract: str) -> None:
    town = Community()
    senders = [town.homes[0], town.committee, town.providers[0]]
    problems = []
    for method, arity in _methods(contract):
        for value in HOSTILE:
            args = [value] * arity
            sender = senders[len(method) % len(senders)]
            before = _storage(town)
            r = town.c.try_send(sender, contract, method, *args)
            call = f"{contract}.{method}({repr(value)[:20]} x{arity})"
            if r.status != STATUS_FAILED:
                problems.append(f"{call} did not fail")
            elif r.error_code not in TYPED:
                problems.append(f"{call}: {r.error_code}: {town.c.explain(r)[:120]}")
            if _storage(town) != before:
                problems.append(f"{call} changed storage")
    assert problems == []


@pytest.mark.parametrize("contract", APPS)
def test_hostile_queries_answer_or_raise_query_error(contract: str) -> None:
    town = Community()
    program = compile_contract(contract_source(f"{contract}.py"))
    views = sorted((f.name, len(f.params)) for f in program.functions.values() if f.public and f.view)
    assert views, f"{contract} has no views"
    for method, arity in views:
        for value in HOSTILE:
            try:
                town.c.q(contract, method, *([value] * arity))
            except QueryError as exc:
                assert exc.code in TYPED | {"value_too_large"}, f"{contract}.{method}: {exc.code}"
