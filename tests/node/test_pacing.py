"""Block production pacing: an idle chain makes about one empty block per interval, a tx
is proposed without waiting for it, a lone validator runs too, and blocks keep to the
block gas limit."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from core.errors import ValidationError
from core.types import Block
from node.service import PUSH_LEAD_MS, PUSH_LEAD_WINDOW, Node, now_ms
from tests.node.fakes import KvExecutor
from tests.node.harness import make_homes, make_tx, start_nodes, stop_nodes, wait_for, wait_for_mesh


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


async def test_an_idle_chain_waits_longer_than_the_view_timeout_without_view_changes(
        tmp_path: Path) -> None:
    # The validators give an idle height's proposer the empty-block interval on top of the
    # view timeout (ReplicaConfig.idle_wait_ms): an interval past the view timeout makes
    # empty blocks that far apart, and nobody changes view over the wait.
    interval_ms, view_timeout_ms = 1_500, 1_000
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=interval_ms,
                                         view_timeout_ms=view_timeout_ms))
    try:
        await wait_for(lambda: min(n.store.height for n in nodes) >= 2, what="first blocks")
        loop = asyncio.get_running_loop()
        start_height, start_s = nodes[0].store.height, loop.time()
        await wait_for(lambda: nodes[0].store.height >= start_height + 3, timeout_s=30,
                       what="three more blocks")
        elapsed_ms = (loop.time() - start_s) * 1000
        assert elapsed_ms >= 2 * interval_ms, elapsed_ms
        assert all(n.metrics.view_changes._value.get() == 0 for n in nodes)
        for h in range(start_height + 1, start_height + 4):
            block = nodes[0].store.block(h)
            assert block is not None and block.txs == () and block.header.view == 0
    finally:
        await stop_nodes(nodes)


async def test_tx_is_proposed_without_waiting_for_the_empty_block_interval(tmp_path: Path) -> None:
    # An idle chain here makes its next (empty) block 30 s after the last commit, far past
    # the view timeout. A tx must not wait for it: it is proposed at once, in the very
    # next block, long before that, and without a view change.
    interval_ms = 30_000
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=interval_ms,
                                         view_timeout_ms=2_000))
    try:
        await wait_for_mesh(nodes)
        # The replica proposes the first block at its start; after it the chain is idle.
        await wait_for(lambda: len({n.store.height for n in nodes}) == 1 and nodes[0].store.height >= 1,
                       timeout_s=interval_ms / 1000 + 10, what="the first block on every node")
        head = nodes[0].store.height
        stx = make_tx(0, 0, key="now")
        await nodes[1].submit([stx])
        await wait_for(lambda: all(n.store.tx_location(stx.hash) is not None for n in nodes),
                       timeout_s=interval_ms / 1000 / 4, what="the tx committed before the interval")
        assert nodes[0].store.tx_location(stx.hash) == (head + 1, 0)  # no empty block first
        assert nodes[0].store.block(head + 1).txs == (stx,)  # type: ignore[union-attr]
        assert all(n.metrics.view_changes._value.get() == 0 for n in nodes)
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


async def test_blocks_keep_to_the_gas_limit(tmp_path: Path) -> None:
    nodes = await start_nodes(make_homes(tmp_path, 1, empty_block_interval_ms=100))
    node = nodes[0]
    executor = node.executor
    assert isinstance(executor, KvExecutor)
    executor.max_block_gas = 2 * KvExecutor.GAS_PER_TX
    try:
        txs = [make_tx(0, n) for n in range(5)]
        await node.submit(txs)
        await wait_for(lambda: all(node.store.tx_location(t.hash) is not None for t in txs),
                       what="all five committed")
        heights = {node.store.tx_location(t.hash)[0] for t in txs}  # type: ignore[index]
        assert len(heights) >= 3  # five txs at most two a block
        for h in heights:
            assert len(node.store.block(h).txs) <= 2  # type: ignore[union-attr]
        # A block over the limit, as a faulty proposer could send, is refused.
        head = node.store.head
        assert head is not None
        over = Block(replace(head.header, height=head.height + 1, prev_hash=head.hash),
                     tuple(make_tx(1, n) for n in range(3)))
        with pytest.raises(ValidationError, match="over the limit"):
            node.app._execute(over)
    finally:
        await stop_nodes(nodes)


async def test_light_load_is_batched_into_one_block(tmp_path: Path) -> None:
    # With a long batch interval, a tx that has reached its block's proposer (at once:
    # the other nodes get it shortly before the proposal is due) has still not been
    # proposed, so a second tx submitted after it shares its block.
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=20_000, view_timeout_ms=60_000,
                                         block_overrides={"batch_interval_ms": 3_000}))
    try:
        await wait_for_mesh(nodes, first_block=True, timeout_s=30)
        first, second = make_tx(0, 0, key="first"), make_tx(1, 0, key="second")
        await nodes[1].submit([first])
        await wait_for(lambda: _proposer(nodes).holds_tx(first.hash), what="first tx at its proposer")
        await nodes[2].submit([second])
        await wait_for(lambda: all(n.store.tx_location(t.hash) is not None for n in nodes for t in (first, second)),
                       timeout_s=20, what="both committed")
        (h1, _), (h2, _) = nodes[0].store.tx_location(first.hash), nodes[0].store.tx_location(second.hash)  # type: ignore[misc]
        assert h1 == h2, (h1, h2)
    finally:
        await stop_nodes(nodes)


async def test_a_full_block_does_not_wait_for_the_batch_interval(tmp_path: Path) -> None:
    # A batch interval of 25 s, and five txs fill a block: they are proposed at once.
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=25_000, view_timeout_ms=60_000,
                                         block_overrides={"batch_interval_ms": 25_000, "max_block_txs": 5}))
    try:
        await wait_for_mesh(nodes, first_block=True, timeout_s=30)
        txs = [make_tx(2, n, key="full") for n in range(5)]
        await nodes[0].submit(txs)
        await wait_for(lambda: all(n.store.tx_location(t.hash) is not None for n in nodes for t in txs),
                       timeout_s=10, what="the full block committed well before the batch interval")
        assert len({nodes[0].store.tx_location(t.hash)[0] for t in txs}) == 1  # type: ignore[index]
    finally:
        await stop_nodes(nodes)


def _proposer(nodes: list[Node]) -> Node:
    vs = nodes[0].replica.validators
    assert vs is not None
    key = vs.proposer(nodes[0].replica.height, 0)
    return next(n for n in nodes if n.key.public_key == key)


async def test_a_clients_tx_reaches_the_proposer_at_once_and_the_others_before_the_proposal(
        tmp_path: Path) -> None:
    # A batch wait of 1.5 s: while the block gathers, a client's tx goes to its proposer
    # at once, and to the other validators only shortly before the proposal is due (and
    # before any relay, 2 s on); the block then needs no body fetched.
    batch_ms = 1_500
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=20_000, view_timeout_ms=60_000,
                                         block_overrides={"batch_interval_ms": batch_ms}))
    try:
        await wait_for_mesh(nodes, first_block=True, timeout_s=30)
        await wait_for(lambda: len({n.replica.height for n in nodes}) == 1, what="one height")
        p = _proposer(nodes)
        x, y, _ = (n for n in nodes if n is not p)
        loop = asyncio.get_running_loop()
        for n in nodes:  # as if the last block had committed just now everywhere
            n._last_commit_ms = now_ms()
        start_s = loop.time()
        stx = make_tx(0, 0, key="held")
        await x.submit([stx])
        await wait_for(lambda: p.holds_tx(stx.hash), timeout_s=1.0, what="the tx at its proposer")
        # What is held shows only as an absence over time: a while later, and still well
        # before the push is due (about 1.48 s on), the other validators have not got it.
        await asyncio.sleep(0.3)
        assert loop.time() - start_s < 1.3, "too slow a machine to tell held from sent"
        assert not y.holds_tx(stx.hash)
        await wait_for(lambda: all(n.store.tx_location(stx.hash) is not None for n in nodes),
                       timeout_s=10, what="the tx committed")
        assert loop.time() - start_s >= batch_ms / 1000 - 0.05
        assert sum(n.proposals.bodies_fetched for n in nodes) == 0
        assert sum(n.gossip.duplicates for n in nodes) == 0
        # A proposal that comes sooner than the node expected raises its lead for the
        # next PUSH_LEAD_WINDOW proposals; as early as the whole wait, nothing is held.
        second = make_tx(0, 1, key="held")
        await wait_for(lambda: len({n.replica.height for n in nodes}) == 1, what="one height")
        x._last_commit_ms = now_ms()
        await x.submit([second])
        # The first's proposal came about on time (timers and clocks may differ by a ms).
        assert PUSH_LEAD_MS <= x._push_lead_ms <= PUSH_LEAD_MS + 2
        x._proposals_early_ms.clear()  # from here on, only the arrivals below
        x._last_commit_ms = now_ms() - 1_000
        x._note_proposal_arrival(1)  # about 500 ms before x expected it
        assert 500 + PUSH_LEAD_MS - 5 <= x._push_lead_ms <= 500 + PUSH_LEAD_MS
        lead_ms = x._push_lead_ms
        x._last_commit_ms = now_ms()
        first, rest_by_s = x._push_plan()
        assert first == _proposer(nodes).key.public_key or first is None
        assert rest_by_s is not None
        assert (batch_ms - lead_ms - 100) / 1000 <= rest_by_s - loop.time() <= (batch_ms - lead_ms) / 1000
        x._note_proposal_arrival(0)  # an empty block's proposer waited another interval
        assert len(x._proposals_early_ms) == 1
        x._note_proposal_arrival(1)  # the whole wait early
        assert x._push_lead_ms == batch_ms
        assert x._push_plan() == (None, None)
        x._last_commit_ms = now_ms() - batch_ms - 50  # the next ones came after they were due
        for _ in range(PUSH_LEAD_WINDOW - 1):
            x._note_proposal_arrival(1)
        assert x._push_lead_ms == batch_ms
        x._note_proposal_arrival(1)  # the early ones have left the window
        assert x._push_lead_ms == PUSH_LEAD_MS
    finally:
        await stop_nodes(nodes)
