"""An in-process network of four validators on loopback commits txs and agrees."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from node.service import Node
from tests.node.harness import make_homes, make_tx, start_nodes, stop_nodes, wait_for, wait_for_mesh


def journaled_bodies(node: Node) -> list[bytes]:
    """The keys of the tx bodies ``node`` writes to its mempool journal from now on (the
    writes themselves go through unchanged)."""
    journal = node.mempool._journal
    assert journal is not None
    keys: list[bytes] = []
    real = journal.batch

    class Recording:
        def __init__(self, wb: Any) -> None:
            self.wb = wb

        def put(self, key: bytes, value: bytes) -> None:
            keys.append(key)
            self.wb.put(key, value)

        def delete(self, key: bytes) -> None:
            self.wb.delete(key)

    @contextmanager
    def batch(*, sync: bool = False) -> Iterator[Recording]:
        with real(sync=sync) as wb:
            yield Recording(wb)

    journal.batch = batch  # type: ignore[method-assign]
    return keys


async def test_four_validators_commit_txs_and_agree_on_state(tmp_path: Path) -> None:
    nodes = await start_nodes(make_homes(tmp_path, 4))
    try:
        await wait_for_mesh(nodes)
        txs = [make_tx(u, nonce, key=f"u{u}-{nonce}") for u in range(4) for nonce in range(5)]
        journaled = [journaled_bodies(n) for n in nodes]
        results = await nodes[0].submit(txs[:10])
        results += await nodes[2].submit(txs[10:])
        assert all(isinstance(r, bytes) for r in results), results
        await wait_for(
            lambda: all(all(n.store.tx_location(t.hash) is not None for t in txs) for n in nodes),
            what="all txs committed everywhere",
        )
        target = max(n.store.height for n in nodes)
        await wait_for(lambda: all(n.store.height >= target for n in nodes), what="same height")
        roots = {n.store.block(target).header.state_root for n in nodes}  # type: ignore[union-attr]
        hashes = {n.store.block(target).hash for n in nodes}  # type: ignore[union-attr]
        assert len(roots) == 1 and len(hashes) == 1
        # Each tx committed exactly once, at one location on every node.
        for t in txs:
            assert len({n.store.tx_location(t.hash) for n in nodes}) == 1
        assert all(len(n.mempool) == 0 for n in nodes)
        # Gossip: each body reached each of the other three nodes once, pushed by the node
        # that accepted it or, where a proposal naming it came first, fetched with that
        # proposal; and no copy crossed a link twice.
        pushed = sum(n.gossip.bodies_pushed for n in nodes)
        fetched = sum(n.proposals.bodies_fetched for n in nodes)
        assert pushed + fetched == 3 * len(txs), (pushed, fetched)
        assert sum(n.gossip.bodies_received for n in nodes) == pushed
        assert all(n.gossip.duplicates == 0 for n in nodes)
        # Only the node that accepted a tx journals its body (node/mempool.py).
        pending = [b"p/" + t.hash for t in txs]
        assert sorted(journaled[0]) == sorted(pending[:10])
        assert sorted(journaled[2]) == sorted(pending[10:])
        assert journaled[1] == journaled[3] == []
    finally:
        await stop_nodes(nodes)
