"""PRE-PREPAREs by reference: a proposal names its txs by hash, and a receiver rebuilds
the block from the bodies it already holds, fetching the rest from the peer that sent it.

Tx bodies reach every node by gossip (p2p/gossip.py) before, or while, a proposer puts
them in a block, so sending them again inside every PRE-PREPARE to every validator costs
the proposer's uplink a block per peer for nothing. The proposer sends a ``Proposal``
frame instead: the header, the txs' hashes in block order and its PRE-PREPARE signature
(over the header's hash, which commits to the tx root; consensus/messages.py), the idea
of Bitcoin's compact blocks (BIP 152). The receiver:

1. checks the frame's shape on decode (the hashes are unique and their Merkle root is the
   header's tx_root; p2p/messages.py), then asks the host whether the proposal is worth
   rebuilding (``ProposalHost.admit``: a height being decided, a validator's signature;
   a forged signature drops the link);
2. takes each body from ``BodySource`` (its mempool, and bodies gossip received lately);
3. if some are missing, sends the sender one ``ProposalTxsRequest`` for their positions
   and waits at most ``fetch_timeout_s`` (well below a view timeout) without blocking
   anything: the answer completes the block, or an empty answer, a timeout or the link
   going away drops the proposal;
4. hands the whole block to the host (``ProposalHost.deliver``), never a part of one.

A proposer that names txs nobody has therefore never gets its block to the replicas: the
fetch fails, nobody PREPAREs, and the view timer leads to a view change as for a silent
proposer. Blame goes to a peer only for what its own frames prove: an answer that is not
what was asked (a body whose hash is not the one named, a count that does not match, a
request for positions a proposal does not have). Not holding a block is no offence: the
sender may have let it go, or never had the bodies (a Byzantine proposer: its view dies).

Everything is bounded: hashes per proposal by the block's tx limit (decode), assemblies
waiting for bodies (``MAX_PENDING``, ``MAX_PENDING_PER_PEER``), blocks kept to answer
requests (``MAX_KEPT_BLOCKS``), and an answer holds at most one block's txs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from core.errors import ValidationError
from core.types import Block, SignedTx
from p2p.errors import PeerMisbehaved
from p2p.messages import Proposal, ProposalTxs, ProposalTxsRequest
from p2p.network import Network, Peer

log = logging.getLogger("hkchain.p2p.proposals")

# Proposals waiting for bodies at once, in all and from one peer: a height has one
# proposer of view 0, so a few cover the height being decided, the next one and an
# equivocating proposer's second block.
MAX_PENDING = 8
MAX_PENDING_PER_PEER = 4
# Blocks this node proposed or rebuilt, kept to answer requests for their bodies.
MAX_KEPT_BLOCKS = 8
# The fetch gives up after this long at most (the host passes a shorter time when its
# view timeout is short): far below a view timeout, so a failed fetch leaves the view
# time to change.
MAX_FETCH_TIMEOUT_S = 2.0


class BodySource(Protocol):
    """Where a receiver looks for the bodies a proposal names."""

    def body(self, tx_hash: bytes) -> SignedTx | None: ...


class ProposalHost(Protocol):
    """What the relay needs from the node."""

    def admit(self, peer: Peer, proposal: Proposal) -> bool:
        """Whether to rebuild ``proposal``; raises PeerMisbehaved if it proves the link
        at fault (a signature that does not verify)."""

    def deliver(self, peer: Peer, proposal: Proposal, block: Block, cpu_s: float) -> None:
        """The proposal's whole block, rebuilt and shape-checked; ``cpu_s`` is the thread
        CPU its frames' decoding and the rebuild took."""


def compact(block: Block, chain_id: str, height: int, view: int, proposer: bytes,
            signature: bytes) -> Proposal:
    """The Proposal frame of a signed PRE-PREPARE's block."""
    return Proposal(chain_id, height, view, block.header, tuple(t.hash for t in block.txs),
                    proposer, signature)


def gather(proposal: Proposal, source: BodySource) -> tuple[list[SignedTx | None], list[int]]:
    """The bodies ``source`` holds, in block order (None where it lacks one), and the
    positions it lacks."""
    txs: list[SignedTx | None] = []
    missing: list[int] = []
    for i, h in enumerate(proposal.tx_hashes):
        stx = source.body(h)
        if stx is None:
            missing.append(i)
        txs.append(stx)
    return txs, missing


def fill(proposal: Proposal, txs: list[SignedTx | None], indexes: Sequence[int],
         bodies: Sequence[SignedTx]) -> None:
    """Put ``bodies``, the answer for ``indexes``, in their places; PeerMisbehaved (the
    answering peer's fault) if they are not exactly the bodies named there."""
    if len(bodies) != len(indexes):
        raise PeerMisbehaved(f"answered {len(bodies)} proposal txs for {len(indexes)} asked",
                             code="bad_proposal_txs")
    for i, stx in zip(indexes, bodies, strict=True):
        if stx.hash != proposal.tx_hashes[i]:
            raise PeerMisbehaved(f"proposal tx {i} is not the body of its hash",
                                 code="bad_proposal_txs")
        txs[i] = stx


def assemble(proposal: Proposal, txs: Sequence[SignedTx | None]) -> Block:
    """The block of a proposal whose bodies are all in ``txs``, shape-checked as a
    PRE-PREPARE's block is; PeerMisbehaved if it is not a valid block (the sender sent a
    signed proposal of a malformed block)."""
    bodies = tuple(t for t in txs if t is not None)
    if len(bodies) != len(proposal.tx_hashes):
        raise ValueError("assemble needs every body")  # a bug of the caller, not the peer's
    block = Block(proposal.header, bodies)
    try:
        # Each body's hash is the one named at its place, and the names' root is the
        # header's (checked on decode): the root holds without hashing them again.
        block.validate_basic(tx_root_checked=True)
    except ValidationError as exc:
        raise PeerMisbehaved(f"proposal of an invalid block: {exc.message}",
                             code="bad_proposal") from exc
    return block


@dataclass
class _Assembly:
    """A proposal waiting for the bodies it asked its sender for."""

    proposal: Proposal
    peer_key: bytes
    txs: list[SignedTx | None]
    asked: tuple[int, ...]
    cpu_s: float
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class ProposalRelay:
    """Sends this node's proposals by reference, rebuilds its peers', and answers their
    requests for bodies (module docstring)."""

    def __init__(self, network: Network, bodies: BodySource, host: ProposalHost,
                 fetch_timeout_s: float = MAX_FETCH_TIMEOUT_S) -> None:
        self.network = network
        self.bodies = bodies
        self.host = host
        self.fetch_timeout_s = min(fetch_timeout_s, MAX_FETCH_TIMEOUT_S)
        self._pending: dict[bytes, _Assembly] = {}  # block hash -> assembly
        self._kept: OrderedDict[bytes, Block] = OrderedDict()
        # What happened to the proposals received (for metrics and tests).
        self.rebuilt_locally = 0  # every body was at hand
        self.rebuilt_fetched = 0  # some came from the sender
        self.fetch_failures = 0  # the sender had not them, did not answer, or went away
        self.bodies_fetched = 0
        self.bodies_served = 0
        self.dropped_busy = 0  # not rebuilt: too many waiting already
        network.handle(Proposal.TAG, self._on_proposal)  # type: ignore[arg-type]
        network.handle(ProposalTxsRequest.TAG, self._on_request)  # type: ignore[arg-type]
        network.handle(ProposalTxs.TAG, self._on_txs)  # type: ignore[arg-type]
        network.on_disconnect.append(self._on_disconnect)

    # --- sending -----------------------------------------------------------------------

    def keep(self, block: Block) -> None:
        """Hold ``block`` to answer requests for its bodies (this node proposed it)."""
        self._kept[block.hash] = block
        self._kept.move_to_end(block.hash)
        while len(self._kept) > MAX_KEPT_BLOCKS:
            self._kept.popitem(last=False)

    def stop(self) -> None:
        for a in self._pending.values():
            if a.timer is not None:
                a.timer.cancel()
        self._pending.clear()

    # --- receiving ---------------------------------------------------------------------

    def _on_proposal(self, peer: Peer, proposal: Proposal) -> None:
        block_hash = proposal.header.hash
        if block_hash in self._pending or not self.host.admit(peer, proposal):
            return
        # The rebuild's own CPU from here: the signature check (in admit) is left out, as
        # for a PRE-PREPARE sent whole, whose decode CPU the node counts without it.
        started_s = time.thread_time()
        kept = self._kept.get(block_hash)
        if kept is not None:
            txs: list[SignedTx | None] = list(kept.txs)
            missing: list[int] = []
        else:
            txs, missing = gather(proposal, self.bodies)
        if not missing:
            self.rebuilt_locally += 1
            # _deliver adds the CPU from started_s on.
            self._deliver(peer, proposal, txs, peer.last_decode_cpu_s, started_s)
            return
        cpu_s = peer.last_decode_cpu_s + time.thread_time() - started_s
        from_peer = sum(1 for a in self._pending.values() if a.peer_key == peer.public_key)
        if len(self._pending) >= MAX_PENDING or from_peer >= MAX_PENDING_PER_PEER:
            self.dropped_busy += 1
            log.warning("not rebuilding proposal %s from %s: %d proposals already wait for "
                        "bodies", block_hash.hex()[:12], peer.label, len(self._pending))
            return
        asked = tuple(missing)
        assembly = _Assembly(proposal, peer.public_key, txs, asked, cpu_s)
        self._pending[block_hash] = assembly
        assembly.timer = asyncio.get_running_loop().call_later(
            self.fetch_timeout_s, self._give_up, block_hash, "no answer in time")
        peer.send(ProposalTxsRequest(block_hash, asked))
        log.debug("proposal %s at height %d from %s: fetching %d of %d txs",
                  block_hash.hex()[:12], proposal.height, peer.label, len(asked), len(txs))

    def _on_txs(self, peer: Peer, frame: ProposalTxs) -> None:
        started_s = time.thread_time()
        assembly = self._pending.get(frame.block_hash)
        if assembly is None or assembly.peer_key != peer.public_key:
            return  # late (given up already) or not asked of this peer: nothing to do
        if not frame.txs:
            self._give_up(frame.block_hash, f"{peer.label} does not hold its bodies")
            return
        del self._pending[frame.block_hash]
        if assembly.timer is not None:
            assembly.timer.cancel()
        fill(assembly.proposal, assembly.txs, assembly.asked, frame.txs)
        self.bodies_fetched += len(frame.txs)
        self.rebuilt_fetched += 1
        cpu_s = assembly.cpu_s + peer.last_decode_cpu_s
        self._deliver(peer, assembly.proposal, assembly.txs, cpu_s, started_s)

    def _deliver(self, peer: Peer, proposal: Proposal, txs: list[SignedTx | None], cpu_s: float,
                 started_s: float) -> None:
        block = assemble(proposal, txs)
        self.keep(block)  # relayed to a peer that connects later, it can be asked for
        self.host.deliver(peer, proposal, block, cpu_s + time.thread_time() - started_s)

    def _give_up(self, block_hash: bytes, why: str) -> None:
        assembly = self._pending.pop(block_hash, None)
        if assembly is None:
            return
        if assembly.timer is not None:
            assembly.timer.cancel()
        self.fetch_failures += 1
        p = assembly.proposal
        log.warning("dropping proposal %s at height %d: %d of its %d txs not fetched (%s); "
                    "the view timeout moves past it", block_hash.hex()[:12], p.height,
                    len(assembly.asked), len(p.tx_hashes), why)

    def _on_disconnect(self, peer: Peer) -> None:
        for block_hash, a in list(self._pending.items()):
            if a.peer_key == peer.public_key:
                self._give_up(block_hash, f"link to {peer.label} lost")

    # --- answering ---------------------------------------------------------------------

    def _on_request(self, peer: Peer, frame: ProposalTxsRequest) -> None:
        block = self._kept.get(frame.block_hash)
        if block is None:
            peer.send(ProposalTxs(frame.block_hash, ()))
            return
        if frame.indexes[-1] >= len(block.txs):
            raise PeerMisbehaved("asked for proposal txs the block does not have",
                                 code="bad_proposal_request")
        txs = tuple(block.txs[i] for i in frame.indexes)
        self.bodies_served += len(txs)
        peer.send(ProposalTxs(frame.block_hash, txs))
