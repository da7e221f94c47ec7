"""Four real nodes (LevelDB store, the real consensus WAL, websocket links) commit blocks of
the largest size a proposer may build."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from consensus.messages import Commit, decode_message
from core.types import MAX_BLOCK_BYTES, MAX_BLOCK_TX_BYTES, MAX_TX_BYTES
from node.config import NodeConfig
from node.service import Node
from p2p.messages import ConsensusFrame, Frame
from p2p.network import Peer
from storage import schema
from tests.node.harness import make_homes, make_tx, start_nodes, stop_nodes, wait_for, wait_for_mesh

# Each tx as large as the tx limit allows, less room for its other fields.
PAYLOAD_BYTES = MAX_TX_BYTES - 1024


def _fill_blocks(homes_root: Path, n: int) -> None:
    for i in range(n):
        home = homes_root / f"node{i}"
        config = NodeConfig.load(home)
        dataclasses.replace(
            config, block=dataclasses.replace(config.block, max_block_bytes=MAX_BLOCK_TX_BYTES)
        ).save(home)


async def test_blocks_of_the_maximum_size_commit_on_every_node(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, 4, view_timeout_ms=30_000)
    _fill_blocks(tmp_path, 4)
    nodes = await start_nodes(homes)
    try:
        await wait_for_mesh(nodes)
        # 600 txs of ~63 KiB, more than two full blocks: whatever reached the proposer first,
        # a backlog is left that fills a block to the limit.
        per_user = 100
        txs = [
            make_tx(u, nonce, key=f"u{u}", value=bytes([u, nonce]) * (PAYLOAD_BYTES // 2))
            for nonce in range(per_user)
            for u in range(6)
        ]
        assert all(len(t.encoded) <= MAX_TX_BYTES for t in txs)
        results = await nodes[0].submit(txs)
        assert all(isinstance(r, bytes) for r in results), results
        await wait_for(
            lambda: all(all(n.store.tx_location(t.hash) is not None for t in txs) for n in nodes),
            timeout_s=120,
            what="every tx committed on every node",
        )
        sizes = [len(b.encoded) for h in range(1, nodes[0].store.height + 1)
                 if (b := nodes[0].store.block(h)) is not None]
        assert max(sizes) > MAX_BLOCK_BYTES - 128 * 1024, sizes
        target = max(n.store.height for n in nodes)
        await wait_for(lambda: all(n.store.height >= target for n in nodes), what="same height")
        assert len({n.store.block(target).hash for n in nodes}) == 1  # type: ignore[union-attr]
        # Never a view change: the blocks crossed the links and the WAL at the first try.
        assert all(n.metrics.view_changes._value.get() == 0 for n in nodes)
        # The WAL keeps no block bodies once their heights are decided.
        for n in nodes:
            assert not list(n.store.kv.iterate(schema.WAL_BLOCK))
    finally:
        await stop_nodes(nodes)


async def test_a_prepared_block_of_the_maximum_size_is_re_proposed_after_a_view_change(
    tmp_path: Path,
) -> None:
    homes = make_homes(tmp_path, 4, view_timeout_ms=3_000, empty_block_interval_ms=1_500)
    _fill_blocks(tmp_path, 4)
    nodes = await start_nodes(homes)
    dropping_commits = False

    def drop_commits(node: Node) -> None:
        deliver = node.network.handlers[ConsensusFrame.TAG]

        def filtered(peer: Peer, frame: Frame) -> None:
            assert isinstance(frame, ConsensusFrame)
            small = len(frame.payload) < 4096  # a COMMIT is small; blocks are not decoded twice
            if dropping_commits and small and isinstance(decode_message(frame.payload), Commit):
                return
            deliver(peer, frame)

        node.network.handlers[ConsensusFrame.TAG] = filtered

    for n in nodes:
        drop_commits(n)
    try:
        await wait_for_mesh(nodes)
        await wait_for(lambda: min(n.store.height for n in nodes) >= 1, what="the first block")
        height = max(n.store.height for n in nodes) + 1
        vs = nodes[0].current_validators()
        assert vs is not None
        proposer = next(n for n in nodes if n.key.public_key == vs.proposer(height, 0))
        txs = [
            make_tx(u, nonce, key=f"u{u}", value=bytes([u, nonce]) * (PAYLOAD_BYTES // 2))
            for nonce in range(45)
            for u in range(6)
        ]
        dropping_commits = True
        results = await proposer.submit(txs)  # the whole block at once, at its proposer
        assert all(isinstance(r, bytes) for r in results), results
        # Prepared everywhere, committed nowhere: every COMMIT is lost.
        await wait_for(
            lambda: all(n.replica.height == height and n.replica.prepared is not None for n in nodes),
            timeout_s=60, what="the block prepared on every node",
        )
        prepared = {n.replica.prepared.block_hash for n in nodes}  # type: ignore[union-attr]
        assert len(prepared) == 1 and all(n.store.height < height for n in nodes)
        # Every view-0 COMMIT is lost by the time all have given up on view 0.
        await wait_for(lambda: all(n.replica.view >= 1 for n in nodes), timeout_s=60,
                       what="a view change on every node")
        dropping_commits = False
        await wait_for(lambda: all(n.store.height >= height for n in nodes), timeout_s=120,
                       what="the height decided after a view change")
        decided = {n.store.block(height).hash for n in nodes}  # type: ignore[union-attr]
        assert decided == prepared  # the prepared block itself, re-proposed, not a new one
        block = nodes[0].store.block(height)
        assert block is not None and len(block.encoded) > MAX_BLOCK_BYTES - 128 * 1024
        # The certificate may be of view 0 or later: once COMMITs flow again, view-0 COMMITs
        # re-sent on a relinked peer can complete a view-0 certificate for the same block.
        # Either way it certifies the prepared block, which is what must not be lost.
        certificate = nodes[0].store.certificate(height)
        assert certificate is not None and {certificate.block_hash} == prepared
        assert all(n.fatal is None and n.network.misbehaviours == 0 for n in nodes)
    finally:
        await stop_nodes(nodes)
