"""Votes through a collector (consensus.vote_collector): each view's proposer gathers the
PREPAREs and COMMITs and sends each quorum as one bundle; a silent collector costs a
quarter of a view timeout, not a view change; a forged vote in a bundle is its sender's
fault."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from core.crypto import PrivateKey
from core.types import VOTE_PREPARE, Vote
from node.service import Node
from p2p.errors import PeerMisbehaved
from p2p.messages import VoteBundle
from tests.node.harness import (
    CHAIN_ID,
    make_homes,
    make_tx,
    start_nodes,
    stop_nodes,
    wait_for,
    wait_for_mesh,
)

COLLECTOR = {"vote_collector": True}


def _count(node: Node, name: str) -> float:
    value = node.metrics.registry.get_sample_value(name)
    return 0.0 if value is None else value


async def test_votes_travel_through_the_collector_and_txs_commit(tmp_path: Path) -> None:
    # A long view timeout, so a loaded machine's pauses never reach the fallback (2 s).
    nodes = await start_nodes(make_homes(tmp_path, 4, consensus_overrides=COLLECTOR,
                                         view_timeout_ms=8_000))
    try:
        await wait_for_mesh(nodes)
        txs = [make_tx(i % 4, i // 4, key=f"c{i}") for i in range(12)]
        for i, stx in enumerate(txs):
            await nodes[i % 4].submit([stx])
        await wait_for(lambda: all(n.store.tx_location(t.hash) is not None for n in nodes for t in txs),
                       what="every tx committed on every node")
        start = nodes[0].store.height
        await wait_for(lambda: min(n.store.height for n in nodes) >= start + 8, what="8 more blocks")
        # Every node led some heights, and bundled their quorums; no vote had to fall back
        # to all, and no view changed.
        assert all(_count(n, "hkchain_vote_bundles_total") >= 2 for n in nodes)
        assert sum(_count(n, "hkchain_vote_fallbacks_total") for n in nodes) == 0
        assert sum(_count(n, "hkchain_view_changes_total") for n in nodes) == 0
        hashes = {n.store.block(start + 8).hash for n in nodes}  # type: ignore[union-attr]
        assert len(hashes) == 1
    finally:
        await stop_nodes(nodes)


async def test_a_silent_collector_costs_a_fallback_not_a_view_change(tmp_path: Path) -> None:
    # Each of node2's heights waits out two fallbacks (PREPARE, then COMMIT) of a quarter
    # of the view timeout each: half the timeout is left for a loaded machine's pauses.
    nodes = await start_nodes(make_homes(tmp_path, 4, consensus_overrides=COLLECTOR,
                                         view_timeout_ms=8_000))
    try:
        await wait_for_mesh(nodes)
        silent = nodes[2]
        silent._collect = lambda vote: None  # type: ignore[method-assign]  # gathers, never bundles
        start = max(n.store.height for n in nodes)
        # Counted from here: nodes that start a moment apart may change view at height 1,
        # before any collector fell silent.
        fallbacks = sum(_count(n, "hkchain_vote_fallbacks_total") for n in nodes)
        view_changes = sum(_count(n, "hkchain_view_changes_total") for n in nodes)
        # Within 8 heights node2 proposes twice (rotation over 4); its views' votes reach a
        # quorum only by the fallback, a quarter of the view timeout later.
        await wait_for(lambda: min(n.store.height for n in nodes) >= start + 8, timeout_s=60,
                       what="8 more blocks with a silent collector")
        assert sum(_count(n, "hkchain_vote_fallbacks_total") for n in nodes) - fallbacks >= 3
        assert sum(_count(n, "hkchain_view_changes_total") for n in nodes) == view_changes
    finally:
        await stop_nodes(nodes)


async def test_a_bundle_with_a_forged_vote_is_its_senders_fault(tmp_path: Path) -> None:
    nodes = await start_nodes(make_homes(tmp_path, 1, consensus_overrides=COLLECTOR))
    try:
        node = nodes[0]
        key = PrivateKey.from_seed_text("node0")
        good = Vote.create(key, VOTE_PREPARE, CHAIN_ID, node.store.height + 1, 0, bytes(32))
        forged = Vote(VOTE_PREPARE, CHAIN_ID, good.height, 0, bytes(32), good.validator,
                      bytes(64))
        peer = SimpleNamespace(label="peer")
        with pytest.raises(PeerMisbehaved) as info:
            node._on_vote_bundle(peer, VoteBundle((good, forged)))  # type: ignore[arg-type]
        assert info.value.code == "bad_signature"
    finally:
        await stop_nodes(nodes)
