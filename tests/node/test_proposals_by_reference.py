"""PRE-PREPAREs by reference between real nodes (in process, real p2p links): honest
proposals are rebuilt from the bodies gossip brought, and a Byzantine proposer that names
txs nobody has cannot stall a height: the fetch fails, the view changes, the next
proposer's block commits, and nobody is blamed for a fault that is not theirs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from consensus.api import Message
from consensus.messages import PrePrepare
from core.hashing import sha256
from core.merkle import merkle_root
from node.service import Node
from p2p.messages import Proposal
from tests.node.harness import make_homes, make_tx, open_node, stop_nodes, wait_for, wait_for_mesh

BYZ = 0
UNKNOWN = tuple(sha256(b"a tx nobody has %d" % i) for i in range(3))


class UnknownTxsProposer(Node):
    """As proposer of view 0 it sends, instead of its block, a correctly signed proposal
    by reference naming txs whose bodies exist nowhere (it cannot serve them either)."""

    def _broadcast(self, msg: Message) -> None:
        if not isinstance(msg, PrePrepare):
            super()._broadcast(msg)
            return
        header = dataclasses.replace(msg.block.header, tx_root=merkle_root(UNKNOWN))
        signature = self.key.sign(PrePrepare.signing_bytes_of(self.chain_id, msg.height, 0,
                                                              header.hash))
        self.network.broadcast(Proposal(self.chain_id, msg.height, 0, header, UNKNOWN,
                                        self.key.public_key, signature))


async def test_honest_proposals_travel_by_reference_and_commit(tmp_path: Path) -> None:
    nodes = [open_node(h) for h in make_homes(tmp_path, 4)]
    try:
        for n in nodes:
            await n.start()
        await wait_for_mesh(nodes)
        txs = [make_tx(u, nonce, key=f"u{u}-{nonce}") for u in range(4) for nonce in range(5)]
        results = await nodes[1].submit(txs[:10]) + await nodes[3].submit(txs[10:])
        assert all(isinstance(r, bytes) for r in results), results
        await wait_for(lambda: all(all(n.store.tx_location(t.hash) is not None for t in txs)
                                   for n in nodes), what="all txs committed everywhere")
        blocks_with_txs = {n.store.tx_location(t.hash)[0] for t in txs  # type: ignore[index]
                           for n in nodes[:1]}
        # Every block was proposed by reference and rebuilt whole by the other three.
        rebuilt = sum(n.proposals.rebuilt_locally + n.proposals.rebuilt_fetched for n in nodes)
        received = sum(n.metrics.proposals_received._value.get() for n in nodes)
        assert rebuilt == received and rebuilt >= 3 * len(blocks_with_txs)
        assert all(n.proposals.fetch_failures == 0 and n.network.misbehaviours == 0 for n in nodes)
        scrape = nodes[1].metrics.render().decode()
        assert f"hkchain_proposal_bodies_fetched_total {float(nodes[1].proposals.bodies_fetched)}" in scrape
        assert "hkchain_proposal_fetch_failures_total 0.0" in scrape
    finally:
        await stop_nodes(nodes)


async def test_a_proposer_naming_unknown_txs_costs_a_view_change_not_the_height(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, 4, view_timeout_ms=1500)
    nodes = [open_node(h, UnknownTxsProposer if i == BYZ else Node) for i, h in enumerate(homes)]
    honest = [n for i, n in enumerate(nodes) if i != BYZ]
    byz_key = homes[BYZ].key.public_key
    try:
        for n in nodes:
            await n.start()
        await wait_for_mesh(nodes)
        vs = honest[0].current_validators()
        assert vs is not None
        # Two heights at which the Byzantine node is the proposer of view 0.
        byz_heights = [h for h in range(2, 40) if vs.proposer(h, 0) == byz_key][:2]
        target = byz_heights[-1] + 1
        tx = make_tx(0, 0, key="through")
        assert isinstance((await honest[0].submit([tx]))[0], bytes)
        await wait_for(lambda: all(n.store.height >= target for n in honest), timeout_s=90,
                       what=f"honest nodes past height {target}")
        await wait_for(lambda: all(n.store.tx_location(tx.hash) is not None for n in honest),
                       what="the tx committed")
        for h in byz_heights:
            blocks = {n.store.block(h) for n in honest}
            assert len(blocks) == 1, f"honest nodes disagree at height {h}"
            block = blocks.pop()
            assert block is not None
            # Decided in a later view, from another proposer's block.
            assert block.header.view >= 1 and block.header.proposer != byz_key
            assert not set(UNKNOWN) & {t.hash for t in block.txs}
        for n in honest:
            assert n.proposals.fetch_failures >= len(byz_heights)
            assert f"hkchain_proposal_fetch_failures_total {float(n.proposals.fetch_failures)}" in \
                n.metrics.render().decode()
            assert n.metrics.view_changes._value.get() >= len(byz_heights)
            # Not holding bodies is nobody's provable fault: no link was dropped for it.
            assert n.network.misbehaviours == 0
            assert byz_key in n.network.peers
    finally:
        await stop_nodes(nodes)
