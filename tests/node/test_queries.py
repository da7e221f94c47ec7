"""Contract view calls run off the event loop, on one committed height, within the node's
and each client's limits (node/queries.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from node.config import RpcConfig
from node.queries import QueryRefused, QueryService
from node.service import Node
from storage.chain import ChainStore
from tests.node.fakes import KvExecutor
from tests.node.harness import make_homes, make_tx, start_nodes, stop_nodes, wait_for


async def post_query(session: aiohttp.ClientSession, node: Node, method: str,
                     args: list[Any]) -> tuple[int, Any, dict[str, str]]:
    url = f"http://127.0.0.1:{node.rpc.port}/v1/query"
    async with session.post(url, json={"contract": "kv", "method": method, "args": args}) as resp:
        return resp.status, await resp.json(), dict(resp.headers)


@pytest.fixture
async def nodes(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[list[Node]]:
    overrides = getattr(request, "param", {})
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=100,
                                         rpc_overrides=overrides))
    yield nodes
    for n in nodes:
        assert isinstance(n.executor, KvExecutor)
        n.executor.gate.set()
    await stop_nodes(nodes)


def executor_of(node: Node) -> KvExecutor:
    assert isinstance(node.executor, KvExecutor)
    return node.executor


async def test_a_call_in_progress_does_not_stop_the_node(nodes: list[Node]) -> None:
    node = nodes[0]
    ex = executor_of(node)
    async with aiohttp.ClientSession() as session:
        call = asyncio.create_task(post_query(session, node, "hold", ["k"]))
        await wait_for(ex.entered.is_set, what="the call to start")
        # The call is held in its worker; meanwhile this node commits and answers.
        height = node.store.height
        await wait_for(lambda: node.store.height >= height + 3, timeout_s=10,
                       what="three commits while the call runs")
        async with session.get(f"http://127.0.0.1:{node.rpc.port}/v1/status") as resp:
            assert resp.status == 200
        assert not call.done(), "the call ran on the event loop"
        ex.gate.set()
        status, doc, _ = await call
        assert status == 200 and doc["result"] is None


async def test_a_call_reads_one_height_while_blocks_commit(nodes: list[Node]) -> None:
    node = nodes[0]
    ex = executor_of(node)
    first = make_tx(0, 0, key="x", value=1)
    await node.submit([first])
    await wait_for(lambda: node.store.tx_location(first.hash) is not None, what="x = 1")
    async with aiohttp.ClientSession() as session:
        call = asyncio.create_task(post_query(session, node, "read_twice", ["x"]))
        await wait_for(ex.entered.is_set, what="the first read")
        height = node.store.height
        second = make_tx(0, 1, key="x", value=2)
        await node.submit([second])
        await wait_for(lambda: node.store.tx_location(second.hash) is not None, what="x = 2")
        ex.gate.set()
        status, doc, _ = await call
    # Both reads at the height the call started on, though x changed in between.
    assert status == 200
    assert doc["result"] == [1, 1] and doc["height"] <= height


@pytest.mark.parametrize("nodes", [{"query_workers": 1, "max_queries_per_client": 2,
                                    "max_queued_queries": 10}], indirect=True)
async def test_one_client_may_have_only_so_many_calls_in_progress(nodes: list[Node]) -> None:
    node = nodes[0]
    ex = executor_of(node)
    async with aiohttp.ClientSession() as session:
        held = [asyncio.create_task(post_query(session, node, "hold", ["k"])) for _ in range(2)]
        await wait_for(ex.entered.is_set, what="the first call to start")
        await wait_for(lambda: node.queries._waiting == 1, what="the second to wait")
        status, doc, _ = await post_query(session, node, "get", ["k"])
        assert (status, doc["error"]["code"]) == (429, "too_many_queries")
        ex.gate.set()
        assert [(await t)[0] for t in held] == [200, 200]
        assert (await post_query(session, node, "get", ["k"]))[0] == 200


@pytest.mark.parametrize("nodes", [{"query_workers": 1, "max_queued_queries": 1}], indirect=True)
async def test_a_busy_node_answers_503(nodes: list[Node]) -> None:
    node = nodes[0]
    ex = executor_of(node)
    async with aiohttp.ClientSession() as session:
        running = asyncio.create_task(post_query(session, node, "hold", ["k"]))
        await wait_for(ex.entered.is_set, what="the first call to start")
        waiting = asyncio.create_task(post_query(session, node, "get", ["k"]))
        await wait_for(lambda: node.queries._waiting == 1, what="the second to wait")
        status, doc, _ = await post_query(session, node, "get", ["k"])
        assert (status, doc["error"]["code"]) == (503, "busy")
        ex.gate.set()
        assert (await running)[0] == 200 and (await waiting)[0] == 200


@pytest.mark.parametrize("nodes", [{"query_gas_per_s": 1000, "query_gas_burst": 100_000}], indirect=True)
async def test_a_client_that_spent_its_gas_waits(nodes: list[Node]) -> None:
    node = nodes[0]
    async with aiohttp.ClientSession() as session:
        # 30,000 rounds at 3 gas: 90,000 gas each.
        assert (await post_query(session, node, "spin", [30_000]))[0] == 200
        assert (await post_query(session, node, "spin", [30_000]))[0] == 200  # 10,000 left: admitted
        status, doc, headers = await post_query(session, node, "spin", [30_000])
        assert (status, doc["error"]["code"]) == (429, "query_budget_exhausted")
        # 80,000 gas in debt at 1,000 gas/s.
        assert 75 <= int(headers["Retry-After"]) <= 81
        status, doc, _ = await post_query(session, node, "get", ["k"])
        assert (status, doc["error"]["code"]) == (429, "query_budget_exhausted")


async def test_budgets_are_per_client_and_refill() -> None:
    now = [0.0]
    config = RpcConfig(query_gas_per_s=1000, query_gas_burst=5000)
    store = ChainStore.in_memory()
    from node.genesis import ensure_genesis, parse_genesis
    from tests.node.harness import CHAIN_ID, USER_KEYS

    ex = KvExecutor(CHAIN_ID)
    ensure_genesis(store, parse_genesis({
        "chain_id": CHAIN_ID, "genesis_time_ms": 1,
        "validators": [{"public_key": USER_KEYS[7].public_key.hex()}]}), ex)
    service = QueryService(store, ex, config, clock=lambda: now[0])
    try:
        r = await service.call("kv", "spin", [3000], "alice")  # 9,000 gas: 4,000 in debt
        assert r.gas_used == 9000 and r.height == 0
        with pytest.raises(QueryRefused) as info:
            await service.call("kv", "get", ["k"], "alice")
        assert (info.value.code, info.value.status, info.value.retry_after_s) == (
            "query_budget_exhausted", 429, 5)
        assert (await service.call("kv", "get", ["k"], "bob")).value is None  # bob's own budget
        now[0] = 4.0  # 4,000 gas refilled: at zero, still refused
        with pytest.raises(QueryRefused):
            await service.call("kv", "get", ["k"], "alice")
        now[0] = 4.5
        assert (await service.call("kv", "get", ["k"], "alice")).gas_used > 0
        # A failing call is charged too: out of gas at the VM cap.
        now[0] = 10_000.0
        with pytest.raises(Exception) as failed:
            await service.call("kv", "spin", [10**9], "carol")
        assert getattr(failed.value, "code", None) == "out_of_gas"
        with pytest.raises(QueryRefused):
            await service.call("kv", "get", ["k"], "carol")
    finally:
        await service.close()


async def test_a_call_whose_client_went_away_keeps_its_worker_and_is_charged() -> None:
    from node.genesis import ensure_genesis, parse_genesis
    from tests.node.harness import CHAIN_ID, USER_KEYS

    ex = KvExecutor(CHAIN_ID)
    store = ChainStore.in_memory()
    ensure_genesis(store, parse_genesis({
        "chain_id": CHAIN_ID, "genesis_time_ms": 1,
        "validators": [{"public_key": USER_KEYS[7].public_key.hex()}]}), ex)
    service = QueryService(store, ex, RpcConfig(query_workers=1, query_gas_per_s=1,
                                                query_gas_burst=1000), clock=lambda: 0.0)
    try:
        held = asyncio.create_task(service.call("kv", "hold", ["k"], "alice"))
        await wait_for(ex.entered.is_set, what="the call to start")
        held.cancel()  # the client disconnected
        with pytest.raises(asyncio.CancelledError):
            await held
        # The thread still runs: its worker is not free, and alice still has a call out.
        assert service._workers.locked()
        assert service._budgets["alice"].in_flight == 1
        ex.gate.set()
        await wait_for(lambda: not service._workers.locked(), what="the worker to be free")
        budget = service._budgets["alice"]
        await wait_for(lambda: budget.in_flight == 0, what="the call to be settled")
        assert budget.level == 1000 - (60 + len(b"kv/k"))  # charged for what it read
    finally:
        ex.gate.set()
        await service.close()


async def test_a_dry_run_is_charged_to_the_clients_budget() -> None:
    now = [0.0]
    config = RpcConfig(query_gas_per_s=1000, query_gas_burst=5000, max_queries_per_client=1)
    store = ChainStore.in_memory()
    from node.genesis import ensure_genesis, parse_genesis
    from tests.node.harness import CHAIN_ID, USER_KEYS

    ex = KvExecutor(CHAIN_ID)
    ensure_genesis(store, parse_genesis({
        "chain_id": CHAIN_ID, "genesis_time_ms": 1,
        "validators": [{"public_key": USER_KEYS[7].public_key.hex()}]}), ex)
    service = QueryService(store, ex, config, clock=lambda: now[0])
    try:
        assert await service.run_charged("alice", lambda: ("receipt", 7000)) == "receipt"
        with pytest.raises(QueryRefused) as info:  # 2,000 gas in debt
            await service.run_charged("alice", lambda: ("again", 1))
        assert (info.value.code, info.value.status) == ("query_budget_exhausted", 429)
        with pytest.raises(QueryRefused):
            await service.call("kv", "get", ["k"], "alice")  # the same budget as view calls
        assert await service.run_charged("bob", lambda: ("bob's", 10)) == "bob's"
        running, release = threading.Event(), threading.Event()

        def slow() -> tuple[str, int]:
            running.set()
            release.wait(10)
            return "slow", 1

        first = asyncio.create_task(service.run_charged("carol", slow))
        assert await asyncio.to_thread(running.wait, 10)
        with pytest.raises(QueryRefused) as busy:  # carol's one call in progress
            await service.run_charged("carol", lambda: ("second", 1))
        assert busy.value.code == "too_many_queries"
        release.set()
        assert await asyncio.wait_for(first, 10) == "slow"
    finally:
        await service.close()
