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


@dataclass(frozen=True)
class NetworkModel:
    """The parameters of the network model (all integers)."""

    latency_min_us: int = 2_000
    latency_max_us: int = 30_000
    jitter_permille: int = 100
    uplink_bits_per_s: int = 100_000_000
    verify_us: int = ED25519_VERIFY_US
    tx_us: int = TX_EXECUTE_US

    def __post_init__(self) -> None:
        if not 0 <= self.latency_min_us <= self.latency_max_us:
            raise ValueError("latency_min_us must be in [0, latency_max_us]")
        if self.uplink_bits_per_s <= 0:
            raise ValueError("uplink_bits_per_s must be positive")
        if self.jitter_permille < 0 or self.verify_us < 0 or self.tx_us < 0:
            raise ValueError("jitter, verify and tx costs must not be negative")

    def transmit_us(self, size_bytes: int) -> int:
        """How long the uplink is busy sending ``size_bytes`` (rounded up)."""
        return -(-size_bytes * 8 * 1_000_000 // self.uplink_bits_per_s)


def signatures_in(msg: Message) -> int:
    """How many Ed25519 checks a receiver makes for one message (tx signatures included)."""
    if isinstance(msg, PrePrepare):
        return 1 + len(msg.block.txs)
    if isinstance(msg, Prepare | Commit):
        return 1
    if isinstance(msg, ViewChange):
        return 1 + (len(msg.prepared.signatures) if msg.prepared is not None else 0)
    if isinstance(msg, NewView):
        return 1 + sum(signatures_in(vc) for vc in msg.view_changes) + len(msg.block.txs)
    return 1


def txs_in(msg: Message) -> int:
    """How many txs a receiver executes to validate one message's block."""
    if isinstance(msg, PrePrepare | NewView):
        return len(msg.block.txs)
    return 0


class Network:
    """The state of the model during one run: link floors, uplink and CPU queues."""

    def __init__(self, model: NetworkModel, nodes: int, seed: int) -> None:
        self.model = model
        # Its own generator, so the model never shifts the simulator's other draws.
        self.rng = random.Random(f"hkchain-simnet-{seed}")
        self.floor_us = [
            [self.rng.randint(model.latency_min_us, model.latency_max_us) for _ in range(nodes)]
            for _ in range(nodes)
        ]
        self.uplink_free_us = [0] * nodes
        self.cpu_free_us = [0] * nodes
        self.bytes_sent = [0] * nodes
        self.messages_sent = [0] * nodes
        self.cpu_busy_us = [0] * nodes

    def send(self, now_us: int, src: int, dst: int, size_bytes: int) -> int:
        """Queue a message on src's uplink; return the time its last bit reaches dst."""
        start = max(now_us, self.uplink_free_us[src])
        done = start + self.model.transmit_us(size_bytes)
        self.uplink_free_us[src] = done
        self.bytes_sent[src] += size_bytes
        self.messages_sent[src] += 1
        floor = self.floor_us[src][dst]
        jitter = self.rng.randint(0, floor * self.model.jitter_permille // 1000)
        return done + floor + jitter

    def process(self, now_us: int, node: int, signatures: int, txs: int) -> int:
        """Queue a message on node's CPU; return the time the replica may handle it."""
        cost = signatures * self.model.verify_us + txs * self.model.tx_us
        done = max(now_us, self.cpu_free_us[node]) + cost
        self.cpu_free_us[node] = done
        self.cpu_busy_us[node] += cost
        return done


def percentile(sorted_values: list[int], permille: int) -> int:
    """The nearest-rank percentile (per-mille) of an ascending list; 0 if empty."""
    if not sorted_values:
        return 0
    rank = -(-len(sorted_values) * permille // 1000)
    return sorted_values[max(rank, 1) - 1]


__all__ = [
    "ED25519_VERIFY_US",
    "TX_EXECUTE_US",
    "Network",
    "NetworkModel",
    "percentile",
    "signatures_in",
    "txs_in",
]
