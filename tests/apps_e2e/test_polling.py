"""The community scenario's polling helper waits only for what a catching-up node answers
(RPC errors, records not there yet); a failed assertion in a check fails at once."""

from __future__ import annotations

import pytest

from cli.wallet import NodeUnreachable
from tests.apps_e2e.test_community import poll


def test_an_assertion_in_a_check_fails_at_once() -> None:
    calls: list[int] = []

    def check() -> bool:
        calls.append(1)
        assert 1 + 1 == 3, "the balance is wrong"
        return True

    with pytest.raises(AssertionError, match="the balance is wrong"):
        poll("a balance", check, timeout_s=30.0, interval_s=0.0)
    assert len(calls) == 1


def test_answers_of_a_node_catching_up_are_waited_out() -> None:
    answers: list[object] = [NodeUnreachable("down"), None, {"bills": []}]

    def check() -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer["bills"] is not None if isinstance(answer, dict) else answer["status"]  # type: ignore[index]

    assert poll("a bill", check, timeout_s=30.0, interval_s=0.0) is True
    assert answers == []


def test_a_check_never_true_times_out_with_the_last_answer() -> None:
    with pytest.raises(AssertionError, match=r"timed out waiting for nothing .*last: False"):
        poll("nothing", lambda: False, timeout_s=0.0, interval_s=0.0)
