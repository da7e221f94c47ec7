"""Block sync: a new node and a restarted validator catch up by themselves."""

from __future__ import annotations

from pathlib import Path

from core.types import Tx
from tests.node.harness import (
    CHAIN_ID,
    USER_KEYS,
    make_homes,
    make_tx,
    open_node,
    start_nodes,
    stop_nodes,
    wait_for,
    wait_for_mesh,
)


async def test_new_observer_syncs_many_batches_then_follows(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, 4, observers=1, empty_block_interval_ms=10,
                       p2p_overrides={"sync_batch_blocks": 8})
    validators = await start_nodes(homes[:4])
    observer = None
    try:
        await wait_for(lambda: min(n.store.height for n in validators) >= 80, timeout_s=60,
                       what="validators at height 80")
        observer = open_node(homes[4])
        await observer.start()
        assert not observer.is_validator
        await wait_for(lambda: observer.store.height >= validators[0].store.height - 1, timeout_s=60,
                       what="observer caught up")
        assert observer.sync.synced_blocks >= 70  # fetched in batches of 8, not by consensus
        # It keeps following new blocks, with the same hashes as the validators.
        target = observer.store.height + 5
        await wait_for(lambda: observer.store.height >= target, timeout_s=30, what="observer follows")
        b = observer.store.block(target)
        assert b is not None and b.hash == validators[0].store.block(target).hash  # type: ignore[union-attr]
    finally:
        await stop_nodes(validators)
        if observer is not None:
            await observer.stop()


async def test_restarted_validator_catches_up_and_votes_again(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, 4, empty_block_interval_ms=20, view_timeout_ms=300)
    nodes = await start_nodes(homes)
    try:
        await wait_for(lambda: min(n.store.height for n in nodes) >= 3, what="start")
        down = nodes[3]
        await down.stop()
        alive = nodes[:3]
        stopped_height = max(n.store.height for n in alive)
        txs = [make_tx(0, i, key=f"while-down-{i}") for i in range(5)]
        await alive[0].submit(txs)
        await wait_for(lambda: min(n.store.height for n in alive) >= stopped_height + 20, timeout_s=60,
                       what="progress without the fourth validator")
        nodes[3] = open_node(homes[3])
        await nodes[3].start()
        await wait_for(lambda: nodes[3].store.height >= min(n.store.height for n in alive), timeout_s=60,
                       what="restarted validator caught up")
        assert all(nodes[3].store.tx_location(t.hash) is not None for t in txs)
        # Back in consensus: new txs commit with all four.
        more = make_tx(1, 0, key="after")
        await nodes[3].submit([more])
        await wait_for(lambda: all(n.store.tx_location(more.hash) is not None for n in nodes), timeout_s=30,
                       what="commit after rejoining")
        h = min(n.store.height for n in nodes)
        assert len({n.store.block(h).hash for n in nodes}) == 1  # type: ignore[union-attr]
    finally:
        await stop_nodes(nodes)


async def test_accepted_tx_survives_a_restart_of_the_node_that_accepted_it(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, 4, empty_block_interval_ms=20, view_timeout_ms=300)
    nodes = await start_nodes(homes)
    try:
        await wait_for(lambda: min(n.store.height for n in nodes) >= 2, what="start")
        # Two validators down: no quorum, so nothing can commit.
        await nodes[2].stop()
        await nodes[3].stop()
        stx = make_tx(2, 0, key="survivor")
        # Only node 0 hears of it (its peers that could commit it are down).
        await nodes[1].stop()
        assert isinstance((await nodes[0].submit([stx]))[0], bytes)
        assert nodes[0].tx_status(stx.hash)["status"] == "pending"
        await nodes[0].stop()  # the accepting node goes down with the tx only in its journal
        nodes = [open_node(h) for h in homes]
        assert nodes[0].tx_status(stx.hash)["status"] == "pending"  # re-admitted from the journal
        for n in nodes:
            await n.start()
        await wait_for(lambda: all(n.store.tx_location(stx.hash) is not None for n in nodes), timeout_s=60,
                       what="the accepted tx committed after the restart")
        assert nodes[0].tx_status(stx.hash)["status"] == "committed"
    finally:
        await stop_nodes(nodes)


async def test_a_validator_removed_from_the_set_is_disconnected(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, 4, empty_block_interval_ms=50)
    nodes = await start_nodes(homes)
    try:
        await wait_for_mesh(nodes)
        gone = nodes[3].key.public_key
        keep = tuple(n.key.public_key for n in nodes[:3])
        stx = Tx(CHAIN_ID, USER_KEYS[0].public_key, 0, "kv", "set_validators", keep, 10, 10_000).sign(USER_KEYS[0])
        await nodes[0].submit([stx])
        await wait_for(lambda: all(gone not in n.network.peers for n in nodes[:3]), timeout_s=30,
                       what="removed validator disconnected")
        assert nodes[0].current_validators() is not None
        assert gone not in nodes[0].current_validators()  # type: ignore[operator]
        # The three go on without it, and it is not let back in.
        h = nodes[0].store.height
        await wait_for(lambda: min(n.store.height for n in nodes[:3]) >= h + 3, what="progress with three")
        assert all(gone not in n.network.peers for n in nodes[:3])
    finally:
        await stop_nodes(nodes)
