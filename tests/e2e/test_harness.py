"""The end-to-end harness waits only for what a node that is down or catching up answers
with; a failed assertion inside a check fails at once instead of being retried."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from cli.wallet import NodeUnreachable
from tests.e2e.harness import wait_until


def test_an_assertion_in_a_check_fails_at_once() -> None:
    calls: list[int] = []

    async def check() -> bool:
        calls.append(1)
        assert 1 + 1 == 3, "the state roots differ"
        return True

    with pytest.raises(AssertionError, match="the state roots differ"):
        asyncio.run(wait_until("one root", check, timeout_s=30.0, interval_s=0.0))
    assert len(calls) == 1


def test_a_node_that_is_down_is_waited_out() -> None:
    answers: list[object] = [NodeUnreachable("down"), aiohttp.ClientConnectionError("refused"),
                             ConnectionResetError(), None, 7]

    async def check() -> int | None:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer if isinstance(answer, int) else None

    assert asyncio.run(wait_until("height 7", check, timeout_s=30.0, interval_s=0.0)) == 7
    assert answers == []


def test_a_check_never_true_times_out_naming_the_last_error() -> None:
    async def check() -> None:
        raise NodeUnreachable("node0 is down")

    with pytest.raises(AssertionError, match=r"timed out after 0\.0s waiting for nothing.*node0 is down"):
        asyncio.run(wait_until("nothing", check, timeout_s=0.0, interval_s=0.0))
