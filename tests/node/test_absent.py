"""A validator that is down costs a short view, not the whole view timeout, at each of
its turns: the node tells the replica which validators it has had no link to for
``absent_after_s`` (node/service.py, ``_update_absent``), and forgets one as soon as its
link is back."""

from __future__ import annotations

from pathlib import Path

from consensus.replica import absent_timeout_ms_for
from node.service import Node
from tests.node.harness import make_homes, open_node, stop_nodes, wait_for, wait_for_mesh

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
