"""Faults of a node's own, injected into real nodes: the node stops with a FATAL message,
no peer is blamed for them, and the other validators carry on."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

import pytest

from core.errors import ValidationError
from node.service import Node, NodeError, serve
from storage.errors import StorageError
from tests.node.harness import (
    make_homes,
    make_tx,
    open_node,
    start_nodes,
    stop_nodes,
    wait_for,
    wait_for_mesh,
)

DISK_FULL = "LevelDB write failed at data/chain: IO error: No space left on device"


def _raise(exc: Exception) -> Any:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise exc

    return broken


async def _others_carry_on(nodes: list[Node], victim: Node) -> None:
    others = [n for n in nodes if n is not victim]
    start = max(n.store.height for n in others)
    await wait_for(lambda: min(n.store.height for n in others) >= start + 3, timeout_s=30,
                   what="the other three keep committing")


def _fatal_logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(r.levelno == logging.CRITICAL and "FATAL" in r.getMessage() and text in r.getMessage()
               for r in caplog.records)


async def test_a_storage_fault_at_commit_stops_the_node_and_blames_no_peer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=50))
    try:
        await wait_for_mesh(nodes)
        victim = nodes[1]
        victim.store.commit_block = _raise(StorageError(DISK_FULL, code="storage_io"))  # type: ignore[method-assign]
        await wait_for(lambda: victim.fatal is not None, what="the node with the broken disk stops")
        await victim.wait_stopped()
        assert victim.fatal is not None and victim.fatal.code == "storage_fault"
        assert "No space left on device" in victim.fatal.message
        assert _fatal_logged(caplog, "No space left on device")
        # Never logged at INFO and carried on: the only records of it are the FATAL ones.
        assert not [r for r in caplog.records
                    if "No space left" in r.getMessage() and r.levelno < logging.CRITICAL]
        assert all(n.network.misbehaviours == 0 for n in nodes)
        await _others_carry_on(nodes, victim)
    finally:
        await stop_nodes(nodes)


async def test_a_local_validation_error_at_commit_does_not_drop_the_peer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=50))
    try:
        await wait_for_mesh(nodes)
        victim = nodes[2]
        victim.app.commit = _raise(ValidationError("state root differs from the header's"))  # type: ignore[method-assign]
        await wait_for(lambda: victim.fatal is not None, what="the node stops")
        assert victim.fatal is not None and victim.fatal.code == "local_fault"
        assert _fatal_logged(caplog, "state root differs")
        # The peer whose COMMIT completed the decision did nothing wrong.
        assert all(n.network.misbehaviours == 0 for n in nodes)
        await _others_carry_on(nodes, victim)
    finally:
        await stop_nodes(nodes)


async def test_a_timer_step_that_raises_stops_the_node_instead_of_stalling_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=50))
    try:
        await wait_for(lambda: min(n.store.height for n in nodes) >= 2, what="start")
        victim = nodes[0]
        victim.replica.on_tick = _raise(RuntimeError("tick bug"))  # type: ignore[method-assign]
        await wait_for(lambda: victim.fatal is not None, what="the node stops")
        assert victim.fatal is not None and "consensus timer failed" in victim.fatal.message
        assert _fatal_logged(caplog, "tick bug")
        await _others_carry_on(nodes, victim)
    finally:
        await stop_nodes(nodes)


async def test_sync_blames_no_peer_for_a_local_fault_and_survives_a_bug(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, 4, empty_block_interval_ms=20, view_timeout_ms=300)
    nodes = await start_nodes(homes)
    try:
        await wait_for(lambda: min(n.store.height for n in nodes) >= 3, what="start")
        await nodes[3].stop()
        alive = nodes[:3]
        await alive[0].submit([make_tx(0, i, key=f"k{i}") for i in range(3)])
        start = max(n.store.height for n in alive)
        await wait_for(lambda: min(n.store.height for n in alive) >= start + 15, timeout_s=60,
                       what="progress without the fourth")

        # 1. A bug while applying a synced block: the sync loop is restarted, not ended.
        nodes[3] = open_node(homes[3])
        real_apply = nodes[3].app.apply_synced
        failures = 0

        def buggy_once(block: Any, cert: Any) -> None:
            nonlocal failures
            if failures == 0:
                failures += 1
                raise RuntimeError("a bug in applying a synced block")
            real_apply(block, cert)

        nodes[3].app.apply_synced = buggy_once  # type: ignore[method-assign,assignment]
        await nodes[3].start()
        await wait_for(lambda: nodes[3].store.height >= min(n.store.height for n in alive) - 1,
                       timeout_s=60, what="caught up after the loop was restarted")
        assert failures == 1 and nodes[3].supervisor.restarts["block sync"] >= 1
        assert nodes[3].fatal is None
        assert all(n.network.misbehaviours == 0 for n in nodes)

        # 2. The store fails while applying a synced block: the node stops; the serving
        # peer is not disconnected for it.
        await nodes[3].stop()
        start = max(n.store.height for n in alive)
        await wait_for(lambda: min(n.store.height for n in alive) >= start + 10, timeout_s=60,
                       what="progress without the fourth, again")
        nodes[3] = open_node(homes[3])
        nodes[3].app.apply_synced = _raise(StorageError(DISK_FULL, code="storage_io"))  # type: ignore[method-assign]
        await nodes[3].start()
        await wait_for(lambda: nodes[3].fatal is not None, timeout_s=30, what="the node stops")
        assert nodes[3].fatal is not None and nodes[3].fatal.code == "storage_fault"
        assert all(n.network.misbehaviours == 0 for n in nodes)
    finally:
        await stop_nodes(nodes)


async def test_a_failed_background_journal_write_stops_the_node(tmp_path: Path) -> None:
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=50))
    try:
        await wait_for_mesh(nodes)
        victim = nodes[0]
        journal = victim.mempool._journal
        assert journal is not None
        writes = journal.batch
        batches: list[bool] = []

        def the_first_write_only(*, sync: bool = False) -> Any:
            batches.append(sync)
            if len(batches) == 1:
                return writes(sync=sync)
            raise StorageError(DISK_FULL, code="storage_io")

        journal.batch = the_first_write_only  # type: ignore[method-assign]
        # The client's tx is journaled (the first write); once committed, it is dropped
        # from the journal in the background: that write fails.
        assert isinstance((await victim.submit([make_tx(0, 0)]))[0], bytes)
        await wait_for(lambda: victim.fatal is not None, timeout_s=30, what="the node stops")
        assert victim.fatal is not None and victim.fatal.code == "storage_fault"
        assert "mempool journal write failed" in victim.fatal.message
    finally:
        await stop_nodes(nodes)


async def test_serve_ends_with_the_fatal_error_for_the_command_to_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    (home,) = make_homes(tmp_path, 1, empty_block_interval_ms=20)
    node = open_node(home)
    node.store.commit_block = _raise(StorageError(DISK_FULL, code="storage_io"))  # type: ignore[method-assign]
    monkeypatch.setattr(Node, "open", classmethod(lambda cls, *_a, **_k: node))
    loop = asyncio.get_running_loop()
    try:
        with pytest.raises(NodeError) as err:
            await asyncio.wait_for(serve(home.home), 30)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    assert err.value.code == "storage_fault" and "No space left on device" in err.value.message
    assert node.fatal is err.value
