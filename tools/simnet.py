"""The simulator's network model: link latency, uplink bandwidth with queueing, CPU queues.

Everything is in integer simulated microseconds and drawn from its own seeded generator,
so a run with the model replays exactly. The consensus core is untouched: the model only
decides *when* the simulator hands a message (encoded, at its real size) to a replica.

- Each directed link (a, b) has a latency floor drawn once, uniformly in
  [latency_min_us, latency_max_us] (metro links: 2–30 ms); each message adds a jitter of
  up to jitter_permille of that floor.
- Each node has one uplink of ``uplink_bits_per_s``. A message leaves only when the
  uplink has finished sending everything queued before it: its last bit is out at
  ``max(now, uplink_free) + ceil(bytes × 8 × 10⁶ / bits_per_s)`` µs, and it arrives one
  link latency later. A broadcast is n − 1 separate sends, as with the node's p2p links.
- Each node has one CPU queue. A message that arrives is handled when the CPU is free,
  and occupies it for ``verify_us`` per signature it carries plus ``tx_us`` per tx of a
  proposed block. The figures are those measured in docs/PERFORMANCE.md: 45.1 µs per
  Ed25519 check (PyNaCl, ≈ 22,000 per CPU-second), and 50.6 µs of VM execution plus
  ≈ 42 µs of admission, roots, decode and commit per transfer (the per-tx table).

Two options compare designs of the district network (issue 18, items 2 and 3):

- ``gossip_fanout`` > 0 models the mempools' gossip of tx bodies as a fluid load: each node
  sends each tx body to that many peers, which takes ``tx rate × tx bytes × fanout`` of its
  uplink all the time, and checks each tx's signature once, when it enters its mempool.
  Proposals then cost no tx signature checks (the node remembers those it verified).
- ``proposals_by_reference``: a PRE-PREPARE travels as its header and the 32-byte hashes
  of its txs instead of their bodies (the bodies were gossiped).
- ``vote_collector``: PREPAREs and COMMITs go to the view's proposer only, which forwards
  each quorum it gathers as one bundle (2f + 1 signatures) to every validator; the
  VIEW-CHANGE and NEW-VIEW stay all to all. A crashed or silent collector is the crashed
  proposer's case: the view times out.

Left out: the receiver's downlink (links are assumed to have more than the uplink), TCP
slow start and loss recovery, mempool gossip of tx bodies, the proposer's own block
building and execution, fsync, Python's event-loop overhead and the garbage collector.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from consensus.api import Message
from consensus.messages import Commit, NewView, Prepare, PrePrepare, ViewChange

# Measured per-tx costs (docs/PERFORMANCE.md, "µs per tx per node").
ED25519_VERIFY_US = 45  # 45.1 µs per signature check
TX_EXECUTE_US = 93  # 50.6 VM + 11.5 admission + 4.3 + 5.6 + 1.1 roots + 7.2 decode + 5.7 commit + 7.3 decode
TX_WIRE_BYTES = 260  # a signed transfer (186–229 B in docs/vectors/tx.json) with its push framing
BUNDLE_HEADER_BYTES = 120  # chain id, kind, height, view, block hash, collector, signature


@dataclass(frozen=True)
class NetworkModel:
    """The parameters of the network model (all integers)."""

    latency_min_us: int = 2_000
    latency_max_us: int = 30_000
    jitter_permille: int = 100
    uplink_bits_per_s: int = 100_000_000
    verify_us: int = ED25519_VERIFY_US
    tx_us: int = TX_EXECUTE_US
    # The host's cost of one consensus message, sent or received, besides its signature
    # checks: framing, sealing, decoding, dispatch and the event loop (PERFORMANCE.md,
    # "District scale": about 130 µs, from idle localnets of 4 and 31). 0: left out, as at first.
    message_us: int = 0
    # The nodes share this many cores, as a localnet on one machine does (0: a core each).
    host_cores: int = 0
    gossip_fanout: int = 0  # 0: mempool gossip left out, as in the first district figures
    tx_bytes: int = TX_WIRE_BYTES  # a gossiped tx body on the wire
    proposals_by_reference: bool = False
    vote_collector: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.latency_min_us <= self.latency_max_us:
            raise ValueError("latency_min_us must be in [0, latency_max_us]")
        if self.uplink_bits_per_s <= 0:
            raise ValueError("uplink_bits_per_s must be positive")
        if self.jitter_permille < 0 or self.verify_us < 0 or self.tx_us < 0:
            raise ValueError("jitter, verify and tx costs must not be negative")
        if self.message_us < 0 or self.host_cores < 0:
            raise ValueError("message_us and host_cores must not be negative")
        if self.gossip_fanout < 0 or self.tx_bytes <= 0:
            raise ValueError("gossip_fanout must not be negative and tx_bytes must be positive")

    def gossip_bits_per_s(self, tx_rate_per_s: int) -> int:
        """The share of each uplink that the mempools' gossip of tx bodies takes."""
        return tx_rate_per_s * self.tx_bytes * 8 * self.gossip_fanout

    def transmit_us(self, size_bytes: int, tx_rate_per_s: int = 0) -> int:
        """How long the uplink is busy sending ``size_bytes`` (rounded up), with what the
        gossip leaves of it."""
        free = self.uplink_bits_per_s - self.gossip_bits_per_s(tx_rate_per_s)
        if free <= 0:
            raise ValueError("the mempool gossip alone fills the uplink")
        return -(-size_bytes * 8 * 1_000_000 // free)

    def wire_bytes(self, msg: Message, encoded: bytes) -> int:
        """A message's size on the wire: by reference, a PRE-PREPARE carries its txs' hashes."""
        if self.proposals_by_reference and isinstance(msg, PrePrepare):
            bodies = sum(len(stx.encoded) for stx in msg.block.txs)
            return len(encoded) - bodies + 32 * len(msg.block.txs)
        return len(encoded)


def bundle_bytes(votes: int) -> int:
    """A collector's bundle on the wire: the vote's fields once, then (validator index,
    signature) per vote."""
    return BUNDLE_HEADER_BYTES + votes * (2 + 64)


def signatures_in(msg: Message, txs_verified: bool = False) -> int:
    """How many Ed25519 checks a receiver makes for one message: tx signatures included,
    unless the mempool checked them when the gossip brought the txs (``txs_verified``)."""
    if isinstance(msg, PrePrepare):
        return 1 + (0 if txs_verified else len(msg.block.txs))
    if isinstance(msg, Prepare | Commit):
        return 1
    if isinstance(msg, ViewChange):
        return 1 + (len(msg.prepared.signatures) if msg.prepared is not None else 0)
    if isinstance(msg, NewView):
        return (1 + sum(signatures_in(vc) for vc in msg.view_changes)
                + (0 if txs_verified else len(msg.block.txs)))
    return 1


def txs_in(msg: Message) -> int:
    """How many txs a receiver executes to validate one message's block."""
    if isinstance(msg, PrePrepare | NewView):
        return len(msg.block.txs)
    return 0


class Network:
    """The state of the model during one run: link floors, uplink and CPU queues."""

    def __init__(self, model: NetworkModel, nodes: int, seed: int, tx_rate_per_s: int = 0) -> None:
        self.model = model
        self.tx_rate_per_s = tx_rate_per_s
        # Its own generator, so the model never shifts the simulator's other draws.
        self.rng = random.Random(f"hkchain-simnet-{seed}")
        self.floor_us = [
            [self.rng.randint(model.latency_min_us, model.latency_max_us) for _ in range(nodes)]
            for _ in range(nodes)
        ]
        self.uplink_free_us = [0] * nodes
        self.cpu_free_us = [0] * nodes
        # With shared cores: when each of the machine's cores is next free.
        self.core_free_us = [0] * model.host_cores
        self.bytes_sent = [0] * nodes
        self.messages_sent = [0] * nodes
        self.cpu_busy_us = [0] * nodes

    def send(self, now_us: int, src: int, dst: int, size_bytes: int) -> int:
        """Queue a message on src's uplink; return the time its last bit reaches dst."""
        if self.model.message_us:  # the sender's CPU frames the message first
            now_us = self._run_on_cpu(now_us, src, self.model.message_us)
        start = max(now_us, self.uplink_free_us[src])
        done = start + self.model.transmit_us(size_bytes, self.tx_rate_per_s)
        self.uplink_free_us[src] = done
        self.bytes_sent[src] += size_bytes
        self.messages_sent[src] += 1
        floor = self.floor_us[src][dst]
        jitter = self.rng.randint(0, floor * self.model.jitter_permille // 1000)
        return done + floor + jitter

    def process(self, now_us: int, node: int, signatures: int, txs: int) -> int:
        """Queue a message on node's CPU; return the time the replica may handle it."""
        cost = self.model.message_us + signatures * self.model.verify_us + txs * self.model.tx_us
        return self._run_on_cpu(now_us, node, cost)

    def _run_on_cpu(self, now_us: int, node: int, cost: int) -> int:
        """Run ``cost`` µs of node's work (one thread) once it and, with shared cores, a
        core are free; return when it is done."""
        start = max(now_us, self.cpu_free_us[node])
        if self.core_free_us:
            core = min(range(len(self.core_free_us)), key=self.core_free_us.__getitem__)
            start = max(start, self.core_free_us[core])
            self.core_free_us[core] = start + cost
        self.cpu_free_us[node] = start + cost
        self.cpu_busy_us[node] += cost
        return start + cost

    def add_gossip(self, simulated_us: int, live: list[bool]) -> None:
        """Charge each live node the mempool gossip of the run: its uplink share and one
        signature check per tx."""
        m = self.model
        if not m.gossip_fanout or not self.tx_rate_per_s:
            return
        sent = m.gossip_bits_per_s(self.tx_rate_per_s) * simulated_us // 8_000_000
        checks = self.tx_rate_per_s * simulated_us * m.verify_us // 1_000_000
        for i, up in enumerate(live):
            if up:
                self.bytes_sent[i] += sent
                self.cpu_busy_us[i] += checks


def percentile(sorted_values: list[int], permille: int) -> int:
    """The nearest-rank percentile (per-mille) of an ascending list; 0 if empty."""
    if not sorted_values:
        return 0
    rank = -(-len(sorted_values) * permille // 1000)
    return sorted_values[max(rank, 1) - 1]


__all__ = [
    "ED25519_VERIFY_US",
    "TX_EXECUTE_US",
    "TX_WIRE_BYTES",
    "Network",
    "NetworkModel",
    "bundle_bytes",
    "percentile",
    "signatures_in",
    "txs_in",
]
