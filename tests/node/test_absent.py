"""A validator that is down costs a short view, not the whole view timeout, at each of
its turns: the node tells the replica which validators it has had no link to for
``absent_after_s`` (node/service.py, ``_update_absent``), and forgets one as soon as its
link is back."""

from __future__ import annotations

from pathlib import Path

from consensus.replica import MISSED_TURN_TIMEOUT_MS, absent_timeout_ms_for
from node.service import Node
from tests.node.harness import make_homes, make_tx, open_node, stop_nodes, wait_for, wait_for_mesh

VIEW_TIMEOUT_MS = 20_000  # a turn of the validator that is down would take this long


def _absent(node: Node) -> float:
    value = node.metrics.registry.get_sample_value("hkchain_validators_absent")
    return -1.0 if value is None else float(value)


async def test_a_validator_that_is_down_is_passed_over_after_a_short_view(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, 4, view_timeout_ms=VIEW_TIMEOUT_MS)
    nodes = [open_node(h) for h in homes]
    for n in nodes:
        n.absent_after_s = 0.5
        await n.start()
    live = nodes[:3]
    try:
        await wait_for_mesh(nodes, first_block=True)
        assert [_absent(n) for n in nodes] == [0.0] * 4
        await nodes[3].stop()
        start = max(n.store.height for n in live)
        # Its turn comes within 4 heights. Waiting for it in view 0 would take the view
        # timeout (20 s); taken as down, it costs a quarter of a second.
        assert absent_timeout_ms_for(VIEW_TIMEOUT_MS) == 250
        await wait_for(lambda: all(n.store.height >= start + 5 for n in live),
                       timeout_s=VIEW_TIMEOUT_MS / 1000 * 0.75, what="5 heights past the down validator's turn")
        assert [_absent(n) for n in live] == [1.0] * 3
        certificates = [live[0].store.certificate(h) for h in range(start + 1, start + 6)]
        views = [c.view for c in certificates if c is not None]
        assert len(views) == 5 and 1 in views and max(views) == 1, views  # one view change a turn
        # Back: its link returns, and it is no longer taken as down.
        nodes[3] = open_node(homes[3])
        nodes[3].absent_after_s = 0.5
        await nodes[3].start()
        await wait_for(lambda: [_absent(n) for n in live] == [0.0] * 3, what="the validator back")
    finally:
        await stop_nodes([*live, nodes[3]])


async def test_a_tx_sent_while_the_proposer_is_down_waits_for_no_empty_block(tmp_path: Path) -> None:
    """At an idle chain the validators give the proposer the empty-block interval. When
    that proposer is down, a peer's tx held in the inbox ends the wait (no empty block can
    come), and view 1's proposer, the last block's, admits peers' txs as the next to
    propose. Without either, a tx admitted by fewer than f + 1 validators waited the
    whole interval (60 s here) for a view change."""
    homes = make_homes(tmp_path, 4, empty_block_interval_ms=60_000, view_timeout_ms=VIEW_TIMEOUT_MS)
    nodes = [open_node(h) for h in homes]
    for n in nodes:
        n.absent_after_s = 0.5
        await n.start()
    live, down = nodes[:3], nodes[3]
    try:
        await wait_for_mesh(nodes, first_block=True, timeout_s=30)
        await down.stop()
        await wait_for(lambda: [_absent(n) for n in live] == [1.0] * 3, what="the stopped validator taken as down")
        dead = down.key.public_key
        # One tx a block moves the chain on to a height the stopped validator proposes.
        for nonce in range(8):
            h = live[0].replica.height
            vs = live[0].replica.validators
            assert vs is not None
            if all(n.replica.height == h for n in live) and vs.proposer(h, 0) == dead:
                break
            step = make_tx(0, nonce, key="step")
            await live[0].submit([step])
            await wait_for(lambda: all(n.store.tx_location(step.hash) is not None  # noqa: B023
                                       and n.replica.height > n.store.height for n in live),
                           what="a block")
        else:
            raise AssertionError("the stopped validator's turn did not come")
        assert all(n.replica.idle for n in live)  # waiting for an empty block
        by_key = {n.key.public_key: n for n in live}
        last = by_key[vs.proposer(h, 1, live[0].app.proposer_of(h - 1))]
        assert last.key.public_key == live[0].store.head.header.proposer  # type: ignore[union-attr]
        following = by_key[vs.proposer(h + 1, 0)]
        (third,) = [n for n in live if n is not last and n is not following]
        assert last._may_propose_soon() and not third._may_propose_soon()
        stx = make_tx(1, 0, key="sent while the proposer is down")
        assert third.admit_from_peer([stx]) == [] and stx.hash in third.inbox  # held
        assert not third.replica.idle  # and its view timer runs
        await following.submit([stx])
        await wait_for(lambda: all(n.store.tx_location(stx.hash) is not None for n in live),
                       timeout_s=15, what="the tx committed, long before the empty-block interval")
        # In the stopped validator's height, at view 1, by the last block's proposer.
        assert live[0].store.tx_location(stx.hash)[0] == h  # type: ignore[index]
        block = live[0].store.block(h)
        assert block is not None and block.header.view == 1
        assert block.header.proposer == last.key.public_key
    finally:
        await stop_nodes(live)


async def test_a_proposer_that_missed_its_last_turn_is_given_a_short_view(tmp_path: Path) -> None:
    """A validator that stops is never taken as down here (as one that keeps its links but
    is wedged): its first turn waits the view timeout, and its next, read from the chain
    as following a missed turn, only ``MISSED_TURN_TIMEOUT_MS``."""
    view_timeout_ms = 6_000
    homes = make_homes(tmp_path, 4, view_timeout_ms=view_timeout_ms)
    nodes = [open_node(h) for h in homes]
    for n in nodes:
        n.absent_after_s = 3600.0
        await n.start()
    live, stopped = nodes[:3], nodes[3]
    try:
        await wait_for_mesh(nodes, first_block=True)
        await stopped.stop()
        start = max(n.store.height for n in live)
        await wait_for(lambda: all(n.store.height >= start + 9 for n in live), timeout_s=30,
                       what="two turns of the stopped validator")
        assert all(_absent(n) == 0.0 for n in live)
        store = live[0].store
        key = stopped.key.public_key
        turns = []
        for h in range(start + 1, start + 10):
            vs = store.validator_set(h)
            block, parent = store.block(h), store.block(h - 1)
            assert vs is not None and block is not None and parent is not None
            if vs.proposer(h, 0) == key:
                assert block.header.view == 1
                turns.append(block.header.timestamp_ms - parent.header.timestamp_ms)
        assert len(turns) >= 2, turns
        assert turns[0] >= view_timeout_ms - 500, turns
        assert MISSED_TURN_TIMEOUT_MS == 2_000
        assert all(gap < MISSED_TURN_TIMEOUT_MS + 1_500 for gap in turns[1:]), turns
    finally:
        await stop_nodes(live)
