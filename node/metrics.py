"""The node's Prometheus metrics, on a registry of its own (several nodes can share one
process in tests). ``GET /metrics`` renders ``render()``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

# The *_created series only add noise to a node's scrape.
disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ProposalCounts(Protocol):
    """The counters of p2p.proposals.ProposalRelay that the node exports."""

    @property
    def bodies_fetched(self) -> int: ...
    @property
    def fetch_failures(self) -> int: ...


class _ProposalCollector(Collector):
    def __init__(self, counts: ProposalCounts) -> None:
        self.counts = counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "hkchain_proposal_bodies_fetched", "Tx bodies of proposals by reference that were "
            "not at hand and were fetched from the sender", value=self.counts.bodies_fetched)
        yield CounterMetricFamily(
            "hkchain_proposal_fetch_failures", "Proposals by reference dropped because bodies "
            "they name could not be fetched (not held by the sender, no answer in time, link "
            "lost)", value=self.counts.fetch_failures)


class FrameCosts(Protocol):
    """p2p.network.FrameCost, per kind of frame."""

    @property
    def count(self) -> int: ...
    @property
    def cpu_s(self) -> float: ...


class _FrameCollector(Collector):
    def __init__(self, costs: Mapping[str, FrameCosts]) -> None:
        self.costs = costs

    def collect(self) -> Iterator[CounterMetricFamily]:
        frames = CounterMetricFamily(
            "hkchain_p2p_frames_received", "Frames received from peers, by kind", labels=["kind"])
        cpu = CounterMetricFamily(
            "hkchain_p2p_frame_cpu_seconds", "Event-loop thread CPU spent opening, decoding and "
            "handling received frames, by kind (work a handler hands to a thread is not in it)",
            labels=["kind"])
        for kind, cost in sorted(self.costs.items()):
            frames.add_metric([kind], cost.count)
            cpu.add_metric([kind], cost.cpu_s)
        yield frames
        yield cpu


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        # process_cpu_seconds_total and the process's memory and open files: the whole
        # process, so nodes sharing one (tests) each report all of it.
        ProcessCollector(registry=r)
        self.height = Gauge("hkchain_height", "Height of the last committed block", registry=r)
        self.view = Gauge("hkchain_view", "Current consensus view", registry=r)
        self.view_changes = Counter("hkchain_view_changes", "View changes seen", registry=r)
        self.vote_bundles = Counter(
            "hkchain_vote_bundles", "Quorums of votes sent as one bundle, as a collector",
            registry=r)
        self.vote_fallbacks = Counter(
            "hkchain_vote_fallbacks", "Votes sent to all because the collector did not answer",
            registry=r)
        self.txs_committed = Counter("hkchain_txs_committed", "Txs in committed blocks", registry=r)
        self.blocks_committed = Counter("hkchain_blocks_committed", "Committed blocks", registry=r)
        self.blocks_synced = Counter("hkchain_blocks_synced", "Blocks committed by sync", registry=r)
        self.mempool_txs = Gauge("hkchain_mempool_txs", "Txs in the mempool", registry=r)
        self.mempool_bytes = Gauge("hkchain_mempool_bytes", "Bytes of txs in the mempool", registry=r)
        self.inbox_txs = Gauge("hkchain_inbox_txs", "Peers' txs held, not admitted, until this node may propose them",
                               registry=r)
        self.inbox_dropped = Counter(
            "hkchain_inbox_dropped", "Peers' txs pushed out of the inbox by its bounds before "
            "being admitted or committed", registry=r)
        self.peers = Gauge("hkchain_peers", "Connected peers", registry=r)
        self.validators_absent = Gauge(
            "hkchain_validators_absent", "Validators this node has had no link to for a while "
            "(taken as down: a view one of them proposes waits a shorter timeout)", registry=r)
        self.txs_accepted = Counter("hkchain_txs_accepted", "Txs admitted to the mempool", registry=r)
        self.txs_refused = Counter(
            "hkchain_txs_refused", "Txs refused at admission", ["code"], registry=r
        )
        self.block_cpu_seconds = Counter(
            "hkchain_block_cpu_seconds", "Thread CPU spent on blocks, by step: build (this "
            "node's proposals), check (executing a peer's proposal), commit (writing a decided "
            "block; on the loop, inside the handling of the frame that decided it)", labelnames=["step"], registry=r,
        )
        self.block_commit_seconds = Histogram(
            "hkchain_block_commit_seconds", "Time to execute and write a committed block",
            buckets=LATENCY_BUCKETS_S, registry=r,
        )
        self.rpc_seconds = Histogram(
            "hkchain_rpc_request_seconds", "RPC request latency", ["route"],
            buckets=LATENCY_BUCKETS_S, registry=r,
        )
        self.rpc_requests = Counter(
            "hkchain_rpc_requests", "RPC requests by route and status", ["route", "status"], registry=r
        )
        self.p2p_dropped_peers = Counter(
            "hkchain_p2p_dropped_peers", "Peers disconnected for misbehaviour, by peer (name or "
            "key prefix) and reason code", ["peer", "reason"], registry=r
        )
        self.p2p_tampered_links = Counter(
            "hkchain_p2p_tampered_links", "Links closed because a sealed frame did not open "
            "(altered, injected, replayed, reordered or dropped on the path), by peer", ["peer"],
            registry=r,
        )
        self.task_restarts = Counter(
            "hkchain_task_restarts", "Background loops restarted after an error", ["task"],
            registry=r,
        )
        self.equivocations = Counter(
            "hkchain_equivocations", "Equivocations proven (two different signed blocks for "
            "one height and view), by validator public key and message kind",
            ["validator", "kind"], registry=r,
        )
        self.evidence_records = Gauge(
            "hkchain_evidence_records", "Equivocation records the node keeps (GET /v1/evidence)",
            registry=r,
        )
        self.proposals_sent = Counter(
            "hkchain_proposals_sent", "PRE-PREPAREs this node proposed and sent to its peers",
            registry=r,
        )
        self.proposal_bytes_sent = Counter(
            "hkchain_proposal_bytes_sent", "Wire bytes of the PRE-PREPAREs sent (a frame's bytes "
            "once per peer it went to)", registry=r,
        )
        self.proposals_received = Counter(
            "hkchain_proposals_received", "PRE-PREPAREs received from peers and decoded into a "
            "block", registry=r,
        )
        self.proposal_decode_cpu_seconds = Counter(
            "hkchain_proposal_decode_cpu_seconds", "Thread CPU spent turning received PRE-PREPARE "
            "frames into a block for consensus (frame decode, tx bodies, hashing)", registry=r,
        )
        self.local_faults = Counter(
            "hkchain_local_faults", "Faults of the node's own that stopped it", registry=r
        )

    def watch_proposals(self, counts: ProposalCounts) -> None:
        """Export the proposal relay's fetch counters, read at each scrape."""
        self.registry.register(_ProposalCollector(counts))

    def watch_frames(self, costs: Mapping[str, FrameCosts]) -> None:
        """Export what each kind of received frame costs, read at each scrape."""
        self.registry.register(_FrameCollector(costs))

    def render(self) -> bytes:
        out: bytes = generate_latest(self.registry)
        return out
