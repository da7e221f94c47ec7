"""Block production pacing: an idle chain makes about one empty block per interval, a tx
is proposed without waiting for it, and a lone validator runs too."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.node.harness import make_homes, make_tx, start_nodes, stop_nodes, wait_for


async def test_idle_chain_makes_one_empty_block_per_interval(tmp_path: Path) -> None:
    interval_ms = 250
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=interval_ms))
    try:
        await wait_for(lambda: nodes[0].store.height >= 2, what="first blocks")
        loop = asyncio.get_running_loop()
        start_height, start_s = nodes[0].store.height, loop.time()
        await wait_for(lambda: nodes[0].store.height >= start_height + 4, what="four more blocks")
        elapsed_ms = (loop.time() - start_s) * 1000
        # Four blocks cannot come faster than four intervals (minus one partial interval).
        assert elapsed_ms >= 3 * interval_ms, elapsed_ms
        block = nodes[0].store.block(start_height + 1)
        assert block is not None and block.txs == ()
    finally:
        await stop_nodes(nodes)


async def test_tx_is_proposed_without_waiting_for_the_empty_block_interval(tmp_path: Path) -> None:
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=1000,
                                         view_timeout_ms=60_000))
    try:
        await wait_for(lambda: len(nodes[0].network.peers) == 3, what="mesh")
        stx = make_tx(0, 0, key="now")
        await nodes[1].submit([stx])
        await wait_for(lambda: all(n.store.tx_location(stx.hash) is not None for n in nodes),
                       timeout_s=30, what="tx committed")
        loc = nodes[0].store.tx_location(stx.hash)
        assert loc is not None
        assert nodes[0].store.block(loc[0]).txs == (stx,)  # type: ignore[union-attr]
    finally:
        await stop_nodes(nodes)


async def test_a_lone_validator_commits(tmp_path: Path) -> None:
    nodes = await start_nodes(make_homes(tmp_path, 1, empty_block_interval_ms=100))
    try:
        stx = make_tx(0, 0)
        await nodes[0].submit([stx])
        await wait_for(lambda: nodes[0].store.tx_location(stx.hash) is not None, what="commit")
        height = nodes[0].store.height
        await wait_for(lambda: nodes[0].store.height >= height + 2, what="empty blocks go on")
    finally:
        await stop_nodes(nodes)
