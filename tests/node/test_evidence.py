"""Equivocation evidence, from a real validator that signs two different PREPAREs for one
height and view: the other nodes log it at WARNING, count it in /metrics, keep it across
a restart and show it at GET /v1/evidence, where anyone can check the signatures."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from consensus.messages import Prepare
from core.crypto import verify
from core.types import VOTE_PREPARE, Vote
from node.evidence import EvidenceRecord, SignedPart
from node.service import Node
from p2p.messages import ConsensusFrame
from tests.node.harness import (
    CHAIN_ID,
    make_homes,
    open_node,
    start_nodes,
    stop_nodes,
    wait_for,
    wait_for_mesh,
)


async def _get(node: Node, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{node.rpc.port}{path}") as resp:
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.text()


def test_an_evidence_record_round_trips() -> None:
    part = SignedPart(b"\x01" * 32, b"signed", b"\x02" * 64)
    record = EvidenceRecord(7, 2, "commit", b"\x03" * 32, 1_700_000_000_000, part,
                            SignedPart(b"\x04" * 32, b"other", b"\x05" * 64))
    assert EvidenceRecord.decode(record.encode()) == record


async def test_an_equivocating_validator_is_shown_at_v1_evidence(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # Slow blocks, so the height the double vote names is still open when it arrives.
    homes = make_homes(tmp_path, 4, empty_block_interval_ms=5_000, view_timeout_ms=20_000)
    nodes = await start_nodes(homes)
    try:
        await wait_for_mesh(nodes)
        status, body = await _get(nodes[0], "/v1/evidence")
        assert status == 200 and body == {"count": 0, "evidence": []}

        liar = nodes[3]
        height = nodes[0].replica.height
        hashes = [hashlib.sha256(b"block a").digest(), hashlib.sha256(b"block b").digest()]
        with caplog.at_level(logging.WARNING, logger="hkchain.node.evidence"):
            for h in hashes:
                vote = Vote.create(liar.key, VOTE_PREPARE, CHAIN_ID, height, 0, h)
                liar.network.broadcast(ConsensusFrame(Prepare(vote).encode()))
            await wait_for(lambda: all(n.evidence_book.count == 1 for n in nodes[:3]),
                           what="the three honest nodes hold the evidence")

        status, body = await _get(nodes[0], "/v1/evidence")
        assert status == 200 and body["count"] == 1
        (ev,) = body["evidence"]
        assert (ev["height"], ev["view"], ev["kind"]) == (height, 0, "prepare")
        assert ev["validator"] == liar.key.public_key.hex() and ev["validator_name"] == "node3"
        assert {ev["first"]["block_hash"], ev["second"]["block_hash"]} == {h.hex() for h in hashes}
        for side in (ev["first"], ev["second"]):  # checkable without trusting the node
            assert verify(liar.key.public_key, bytes.fromhex(side["signed_bytes"]),
                          bytes.fromhex(side["signature"]))
        assert any(r.levelno == logging.WARNING and "EVIDENCE" in r.getMessage()
                   and "node3" in r.getMessage() for r in caplog.records)

        status, text = await _get(nodes[0], "/metrics")
        line = (f'hkchain_equivocations_total{{kind="prepare",validator="{liar.key.public_key.hex()}"}}'
                " 1.0")
        assert status == 200 and line in text and "hkchain_evidence_records 1.0" in text

        status, doc = await _get(nodes[0], "/openapi.json")
        assert "/v1/evidence" in doc["paths"]
        for bad in ("0", "1001", "x", "-1"):
            status, body = await _get(nodes[0], f"/v1/evidence?limit={bad}")
            assert status == 400 and body["error"]["code"] == "malformed", bad

        # The record survives a restart of the node that holds it.
        await nodes[0].stop()
        nodes[0] = open_node(homes[0])
        await nodes[0].start()
        status, body = await _get(nodes[0], "/v1/evidence?limit=1")
        assert status == 200 and body["count"] == 1 and body["evidence"] == [ev]
    finally:
        await stop_nodes(nodes)


async def test_a_forged_vote_costs_the_link_it_came_on_not_the_validator_it_names(
    tmp_path: Path,
) -> None:
    """A PREPARE that claims to be node1's but does not verify: every node that receives
    it drops the peer that sent it (node3), bans it for a while and counts it by name and
    reason; node1, whose key it names, is neither dropped nor held to account."""
    homes = make_homes(tmp_path, 4, empty_block_interval_ms=200)
    nodes = await start_nodes(homes)
    try:
        await wait_for_mesh(nodes)
        sender, named = nodes[3], nodes[1]
        height = nodes[0].replica.height
        honest_vote = Vote.create(named.key, VOTE_PREPARE, CHAIN_ID, height, 0, b"\x07" * 32)
        forged = Vote(honest_vote.kind, honest_vote.chain_id, honest_vote.height, honest_vote.view,
                      honest_vote.block_hash, honest_vote.validator, bytes(64))
        sender.network.broadcast(ConsensusFrame(Prepare(forged).encode()))
        receivers = nodes[:3]
        await wait_for(lambda: all(sender.key.public_key in n.network.penalties for n in receivers),
                       what="every receiver punished the sender")
        for n in receivers:
            assert set(n.network.penalties) == {sender.key.public_key}
            assert n.network.penalties[sender.key.public_key].reason == "bad_signature"
            assert n.evidence_book.count == 0
        status, text = await _get(nodes[0], "/metrics")
        assert status == 200
        assert 'hkchain_p2p_dropped_peers_total{peer="node3",reason="bad_signature"} 1.0' in text
        assert 'peer="node1"' not in text and 'peer="node2"' not in text
        _, doc = await _get(nodes[0], "/v1/status")
        banned = doc["banned_peers"]
        assert [(b["name"], b["reason"], b["offences"]) for b in banned] == [("node3", "bad_signature", 1)]
        # The honest three keep their links and keep committing.
        assert all(named.key.public_key in n.network.peers for n in (nodes[0], nodes[2]))
        start = nodes[0].store.height
        await wait_for(lambda: all(n.store.height >= start + 3 for n in receivers),
                       what="the others keep committing")
        # Once the ban is over the sender is admitted again.
        await wait_for(lambda: all(len(n.network.peers) == 3 for n in nodes), timeout_s=20,
                       what="the sender relinked after its ban")
    finally:
        await stop_nodes(nodes)
