"""A block that takes longer to execute than the p2p heartbeat allows a silent link costs
no link and no commit: the node executes blocks off its event loop, so it keeps answering
pings (and votes) while one runs.

On a loaded machine a 2,000-tx block took seconds to execute; executed on the event
loop, it left the peers' pings unanswered past the heartbeat's deadline, the links were
dropped as dead, the round's votes were lost and the network stalled (docs/FAULTS.md).
Here the executor stands in for that machine: every block with txs takes several
heartbeats of wall time, and the executor records whether it was ever run on a thread
that drives an event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.state import StateView
from core.types import Receipt, SignedTx
from node.config import NodeConfig
from node.genesis import load_genesis
from node.service import Node
from storage.chain import ChainStore
from storage.leveldb import LevelDBStore
from tests.node.fakes import KvExecutor
from tests.node.harness import (
    CHAIN_ID,
    NodeHome,
    make_homes,
    make_tx,
    stop_nodes,
    wait_for,
    wait_for_mesh,
)
from vm.api import BlockContext

HEARTBEAT_MS = 200
# Several heartbeats: a node that executes this on its loop misses the pong deadline
# (a ping after one silent heartbeat, a pong within half of one).
BLOCK_DELAY_S = 5 * HEARTBEAT_MS / 1000


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class SlowExecutor(KvExecutor):
    """KvExecutor on a machine so loaded that a block with txs takes BLOCK_DELAY_S."""

    def __init__(self, chain_id: str) -> None:
        super().__init__(chain_id)
        self.blocks_on_loop = 0
        self.blocks_off_loop = 0
        self._lock = threading.Lock()

    def execute_block(
        self, state: StateView, ctx: BlockContext, txs: Sequence[SignedTx],
        fault_messages: dict[bytes, str] | None = None,
    ) -> list[Receipt]:
        if txs:
            with self._lock:
                if _loop_running_here():
                    self.blocks_on_loop += 1
                else:
                    self.blocks_off_loop += 1
            time.sleep(BLOCK_DELAY_S)  # the loaded CPU: wall time passes, the GIL is free
        return super().execute_block(state, ctx, txs, fault_messages)


def _open(h: NodeHome) -> tuple[Node, SlowExecutor]:
    config = NodeConfig.load(h.home)
    data = config.data_path(h.home)
    data.mkdir(parents=True, exist_ok=True)
    executor = SlowExecutor(CHAIN_ID)
    node = Node(config, h.home, h.key, load_genesis(config.genesis_path(h.home)), executor,
                ChainStore.open(data / "chain"), LevelDBStore(data / "mempool"))
    return node, executor


async def test_blocks_slower_than_the_heartbeat_drop_no_link_and_commit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    homes = make_homes(tmp_path, 4, view_timeout_ms=20_000,
                       p2p_overrides={"heartbeat_ms": HEARTBEAT_MS})
    opened = [_open(h) for h in homes]
    nodes = [n for n, _ in opened]
    executors = [e for _, e in opened]
    try:
        for node in nodes:
            await node.start()
        await wait_for_mesh(nodes)
        caplog.set_level(logging.INFO, logger="hkchain.p2p")
        caplog.clear()
        txs = [make_tx(u, nonce, key=f"u{u}-{nonce}") for u in range(4) for nonce in range(3)]
        results = await nodes[0].submit(txs[:6])
        results += await nodes[3].submit(txs[6:])
        assert all(isinstance(r, bytes) for r in results), results
        await wait_for(
            lambda: all(all(n.store.tx_location(t.hash) is not None for t in txs) for n in nodes),
            timeout_s=60, what="all txs committed everywhere",
        )
        target = min(n.store.height for n in nodes)
        assert len({n.store.block(target).hash for n in nodes}) == 1  # type: ignore[union-attr]
        # Each such block took several heartbeats, yet no link was given up as dead.
        lost = [r.getMessage() for r in caplog.records if "lost" in r.getMessage()]
        assert lost == []
        assert all(len(n.network.peers) == 3 for n in nodes)
        assert all(n.metrics.view_changes._value.get() == 0 for n in nodes)
        # Every block with txs ran in a worker, never on a loop, and every node ran some.
        assert all(e.blocks_on_loop == 0 for e in executors), [e.blocks_on_loop for e in executors]
        assert all(e.blocks_off_loop > 0 for e in executors)
    finally:
        await stop_nodes(nodes)
