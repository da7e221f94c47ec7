"""What a node's CPU goes to, as its metrics tell it: received frames by kind, and the
steps of a block (build, check, commit). Real nodes in process, real p2p links."""

from __future__ import annotations

import re
from pathlib import Path

from tests.node.harness import make_homes, make_tx, start_nodes, stop_nodes, wait_for, wait_for_mesh


def _series(scrape: str, name: str) -> dict[str, float]:
    return {m[1]: float(m[2]) for m in re.finditer(rf'^{name}\{{\w+="(\w+)"\}} (\S+)$', scrape, re.M)}


async def test_a_node_counts_the_frames_it_handles_and_the_cpu_of_each_block_step(tmp_path: Path) -> None:
    nodes = await start_nodes(make_homes(tmp_path, 4))
    try:
        await wait_for_mesh(nodes)
        txs = [make_tx(u, nonce, key=f"u{u}-{nonce}") for u in range(4) for nonce in range(3)]
        results = await nodes[0].submit(txs[:6]) + await nodes[2].submit(txs[6:])
        assert all(isinstance(r, bytes) for r in results), results
        await wait_for(lambda: all(all(n.store.tx_location(t.hash) is not None for t in txs)
                                   for n in nodes), what="all txs committed everywhere")
        for n in nodes:
            costs = dict(n.network.frames_received)
            # Every frame that came in over the links (none said goodbye) is counted once,
            # under its kind, with the CPU it took.
            assert sum(c.count for c in costs.values()) == sum(p.frames_in for p in n.network.peers.values())
            assert {"ConsensusFrame", "Proposal", "Txs"} <= costs.keys(), costs.keys()
            assert all(c.cpu_s > 0 for c in costs.values()), costs
            scrape = n.metrics.render().decode()
            counted = _series(scrape, "hkchain_p2p_frames_received_total")
            assert counted == {kind: float(c.count) for kind, c in costs.items()}
            cpu = _series(scrape, "hkchain_p2p_frame_cpu_seconds_total")
            assert cpu.keys() == costs.keys() and all(v > 0 for v in cpu.values())
            # Each node committed blocks.
            assert _series(scrape, "hkchain_block_cpu_seconds_total").get("commit", 0) > 0
        # Someone built the blocks, and a quorum of 3 voted for each after checking it: at
        # least two nodes besides its proposer (a node that fell behind may have taken
        # every block from sync, checking none itself).
        steps = [_series(n.metrics.render().decode(), "hkchain_block_cpu_seconds_total") for n in nodes]
        assert any(s.get("build", 0) > 0 for s in steps), steps
        assert sum(s.get("check", 0) > 0 for s in steps) >= 2, steps
    finally:
        await stop_nodes(nodes)
