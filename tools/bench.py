"""The benchmark engine behind ``hkchain bench``: load a network, measure it, check it.

``run_bench(config)`` either starts a local network of real node processes (its own free
ports, a genesis that funds many bench sender keys) or targets running nodes given by
their RPC URLs (then a funded ``funder_key`` pays the senders first). It pre-signs the
whole workload before the clock starts, submits it through the RPC of every node in
batches (at ``rate_per_s``, or as fast as the network commits, bounded by an in-flight
window), and follows commits over each node's ``/v1/ws`` block subscription.

The report (``BenchReport``) holds throughput over the steady window (warm-up excluded),
commit latency percentiles (submit to the block carrying the tx, as seen by the node it
was submitted to), block size and interval, view changes, and per node CPU seconds per
committed tx, peak RSS and disk bytes per committed tx (read from /proc and the data
directory, so only for nodes on this machine). It also checks what must hold whatever
the speed: every accepted tx committed exactly once on every node, and all nodes agree on
every block hash and state root; ``BenchReport.failures`` lists what did not.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import math
import os
import platform
import random
import shutil
import socket
import tempfile
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import nacl.bindings

from core.codec import Value
from core.crypto import PrivateKey, address_of
from core.errors import ChainError
from core.hashing import sha256
from core.types import MAX_BLOCK_TXS, SignedTx, Tx
from storage import schema
from storage.errors import StorageError
from storage.leveldb import LevelDBStore

log = logging.getLogger("hkchain.bench")

# --- limits and defaults (units last) ---------------------------------------------------

WORKLOADS = ("transfers", "votes", "mixed", "idle")
MAX_DURATION_S = 3600
MAX_RATE_PER_S = 100_000
MAX_NODES = 16
MAX_SENDERS = 1000
# Genesis funds the senders of a bench localnet in one token init call, which may emit at
# most 256 events (core.types.MAX_EVENTS_PER_RECEIPT): one Mint each, plus the template's.
MAX_GENESIS_SENDERS = 240
MAX_BENCH_TXS = 600_000
MAX_BATCH_TXS = 1000  # the node's default RPC batch limit
MAX_WINDOW_TXS = 200_000
MAX_RPC_URLS = 64
# With no --rate, enough txs are signed for this many per second over the duration.
DEFAULT_MAX_MODE_TPS = 5000
DEFAULT_SENDERS = 200
DEFAULT_BATCH_TXS = 500
DEFAULT_WINDOW_TXS = 4000
DEFAULT_DRAIN_TIMEOUT_S = 30.0
DEFAULT_TICK_MS = 20
SENDER_BALANCE = 10**12
TX_MAX_FEE = 50_000
# What a sender given by --rpc is paid per planned tx: above the gas a transfer or a vote uses.
FUNDING_PER_TX = 8_000
EXPIRY_MARGIN_BLOCKS = 50_000  # within the node's default mempool.max_expiry_blocks
RECIPIENTS = 1024
BILLS_PER_SENDER = 2
HOUSEHOLD_AREA_DM2 = 9000  # 90 m²
BENCH_CHAIN_ID = "hk-bench"
READY_TIMEOUT_S = 90.0
SETUP_TX_TIMEOUT_S = 120.0
SETUP_CHUNK_TXS = 500
HTTP_TIMEOUT_S = 30.0
# A batch with txs to send again waits this long before the next, doubling while the
# refusals go on (a backed-up mempool, a node catching up), to the cap.
RETRY_BACKOFF_S = 0.05
RETRY_BACKOFF_MAX_S = 1.0
# A node that refused a connection is left alone this long (doubling per failure, capped)
# while its txs go to the others; a dropped block subscription is renewed likewise.
NODE_BACKOFF_MIN_S = 0.2
NODE_BACKOFF_MAX_S = 2.0
# Refusals for a passing reason: the tx is sent again until the run ends (its drain
# included), never given up earlier. A node answers nonce_gap while it does not hold the
# sender's earlier txs: it is catching up after a restart, or an earlier tx is still only on
# a node killed before it gossiped it (announced again once that node is back). The bench
# signs each sender's nonces in order, so a tx given up would leave a hole that every later
# tx of its sender waits behind for good.
RETRYABLE_CODES = frozenset({"mempool_full", "rate_limited", "nonce_gap"})
MAX_WS_MESSAGE_BYTES = 64 * 1024 * 1024
ED25519_PROBE_S = 0.5
RECEIPT_SAMPLES = 50
PORT_TRIES = 50
PROGRESS_INTERVAL_S = 0.25
POLL_INTERVAL_S = 0.02
RSS_SAMPLE_INTERVAL_S = 1.0
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class BenchError(ChainError):
    """A bench that cannot run (bad options, network not reachable, setup failed)."""

    code = "bench_error"


class BenchFailed(BenchError):
    """A bench that ran but whose consistency checks failed; carries the report."""

    code = "bench_failed"

    def __init__(self, report: BenchReport) -> None:
        super().__init__("; ".join(report.failures))
        self.report = report


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchConfig:
    """What to run. ``rate_per_s`` None means as fast as the network accepts."""

    duration_s: float = 30.0
    rate_per_s: int | None = None
    nodes: int = 4
    workload: str = "transfers"
    rpc_urls: tuple[str, ...] = ()
    funder_key_file: Path | None = None
    senders: int = DEFAULT_SENDERS
    batch_txs: int = DEFAULT_BATCH_TXS
    window_txs: int = DEFAULT_WINDOW_TXS
    warmup_s: float | None = None
    drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S
    max_txs: int | None = None
    home: Path | None = None
    tick_ms: int = DEFAULT_TICK_MS
    # The bench localnet's block.max_block_txs (None: the node's default).
    block_txs: int | None = None

    def validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise BenchError(message, code="bad_bench_config")

        need(0 < self.duration_s <= MAX_DURATION_S, f"--duration must be in (0, {MAX_DURATION_S}] s")
        need(self.rate_per_s is None or 0 < self.rate_per_s <= MAX_RATE_PER_S,
             f"--rate must be in 1..{MAX_RATE_PER_S} tx/s")
        need(1 <= self.nodes <= MAX_NODES, f"--nodes must be in 1..{MAX_NODES}")
        need(self.workload in WORKLOADS, f"--workload must be one of {', '.join(WORKLOADS)}")
        need(len(self.rpc_urls) <= MAX_RPC_URLS, f"at most {MAX_RPC_URLS} --rpc URLs")
        need(all(u.startswith(("http://", "https://")) for u in self.rpc_urls),
             "--rpc URLs start with http:// or https://")
        need(not self.rpc_urls or self.workload == "idle" or self.funder_key_file is not None,
             "--rpc needs --key: a funded key that pays the bench senders")
        need(1 <= self.senders <= MAX_SENDERS, f"--senders must be in 1..{MAX_SENDERS}")
        need(bool(self.rpc_urls) or self.senders <= MAX_GENESIS_SENDERS,
             f"a bench localnet funds at most {MAX_GENESIS_SENDERS} senders in its genesis")
        need(1 <= self.batch_txs <= MAX_BATCH_TXS, f"--batch must be in 1..{MAX_BATCH_TXS}")
        need(1 <= self.window_txs <= MAX_WINDOW_TXS, f"--window must be in 1..{MAX_WINDOW_TXS}")
        need(self.warmup_s is None or 0 <= self.warmup_s < self.duration_s,
             "--warmup must be shorter than --duration")
        need(0 < self.drain_timeout_s <= MAX_DURATION_S, "drain timeout out of range")
        need(self.max_txs is None or 1 <= self.max_txs <= MAX_BENCH_TXS,
             f"--txs must be in 1..{MAX_BENCH_TXS}")
        need(1 <= self.tick_ms <= 1000, "tick must be 1..1000 ms")
        need(self.block_txs is None or (1 <= self.block_txs <= MAX_BLOCK_TXS and not self.rpc_urls),
             f"--block-txs must be in 1..{MAX_BLOCK_TXS}, for a bench localnet only")

    @property
    def effective_warmup_s(self) -> float:
        return self.warmup_s if self.warmup_s is not None else min(5.0, self.duration_s / 5)

    @property
    def planned_txs(self) -> int:
        if self.workload == "idle":
            return 0
        if self.max_txs is not None:
            return self.max_txs
        per_s = self.rate_per_s if self.rate_per_s is not None else DEFAULT_MAX_MODE_TPS
        return min(MAX_BENCH_TXS, max(1, math.ceil(per_s * self.duration_s)))


# --- the report ---------------------------------------------------------------------------


@dataclass
class Percentiles:
    samples: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    mean: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> Percentiles:
        if not values:
            return cls()
        s = sorted(values)

        def q(p: float) -> float:
            # Nearest rank: the smallest value with at least p of the samples at or below it.
            return round(s[max(0, math.ceil(p * len(s)) - 1)], 3)

        return cls(len(s), q(0.50), q(0.95), q(0.99), round(s[-1], 3), round(sum(s) / len(s), 3))


@dataclass
class NodeFigures:
    name: str
    rpc_url: str
    pid: int | None = None
    height: int | None = None
    cpu_s: float | None = None  # over the steady window
    cpu_percent_of_core: float | None = None
    cpu_ms_per_tx: float | None = None
    peak_rss_bytes: int | None = None
    disk_bytes: int | None = None  # data directory at the end
    disk_bytes_per_tx: float | None = None
    # The growth per committed tx of each store in the data directory ("chain": blocks,
    # state, receipts; "mempool": the tx journal; "blobs"; "other": loose files).
    disk_parts_bytes_per_tx: dict[str, float] = field(default_factory=dict)
    # Of disk_bytes at the end: LevelDB write-ahead logs, the newest writes not yet
    # compacted into tables, so a figure taken now is not what the data settles to.
    disk_wal_bytes: int | None = None
    # The bench's own nodes, once stopped: every LevelDB of the data directory compacted
    # (its logs folded into tables), the growth per committed tx then, in all and by store.
    disk_settled_bytes_per_tx: float | None = None
    disk_settled_parts_bytes_per_tx: dict[str, float] = field(default_factory=dict)
    # The same stopped node: the live bytes (key + value) of each family of records in its
    # chain store (storage/schema.py FAMILY_NAMES) and the live bytes of its mempool
    # journal, divided by the committed txs. What the store held before the load (genesis,
    # the first blocks) is included: a few KiB. Tables add per-entry overhead and keep
    # overwritten or deleted entries until LevelDB merges them, so the disk figures differ.
    disk_records_bytes_per_tx: dict[str, float] = field(default_factory=dict)
    # The same stores' live entries written afresh into new tables (the node's options),
    # per committed tx: what the data directory comes to once LevelDB has merged away
    # every overwritten and deleted entry (within a few bytes a tx of the compacted
    # figure above, which is the same merge done in place).
    disk_live_bytes_per_tx: float | None = None
    view_changes: int | None = None
    txs_seen: int = 0
    lost: int = 0
    # Of ``lost``: txs that wait behind an earlier tx of their sender that no node accepted
    # (the bench gave it up), so no node can commit them: a hole the client left.
    lost_behind_hole: int = 0
    duplicates: int = 0
    accepted: int = 0  # bench txs this node accepted (its own share and others' it took over)
    committed: int = 0  # of those, seen committed on this node
    unreachable: int = 0  # submissions that could not reach it (their txs went elsewhere)
    resubscribed: int = 0  # times its block subscription dropped and was renewed


# The node's proposal counters (node/metrics.py), read at the start and end of the window.
PROPOSALS_SENT = "hkchain_proposals_sent_total"
PROPOSAL_BYTES_SENT = "hkchain_proposal_bytes_sent_total"
PROPOSALS_RECEIVED = "hkchain_proposals_received_total"
PROPOSAL_DECODE_CPU = "hkchain_proposal_decode_cpu_seconds_total"
PROPOSAL_BODIES_FETCHED = "hkchain_proposal_bodies_fetched_total"
PROPOSAL_FETCH_FAILURES = "hkchain_proposal_fetch_failures_total"
PROPOSAL_METRICS = (PROPOSALS_SENT, PROPOSAL_BYTES_SENT, PROPOSALS_RECEIVED, PROPOSAL_DECODE_CPU,
                    PROPOSAL_BODIES_FETCHED, PROPOSAL_FETCH_FAILURES)


@dataclass
class ProposalFigures:
    """What PRE-PREPAREs cost over the steady window, summed over every node: the bytes
    proposers sent (each frame once per peer it went to) and the thread CPU validators
    spent turning the frames they received into blocks (decode, tx bodies, hashing)."""

    sent: int = 0
    bytes_sent: int = 0
    bytes_per_block: float | None = None  # all of one proposal's frames, to every peer
    received: int = 0
    decode_cpu_ms_per_proposal: float | None = None  # per frame received, one validator
    decode_cpu_ms_per_block: float | None = None  # every validator's, per proposal sent
    # Proposals by reference: bodies receivers lacked and fetched from the sender, and
    # proposals dropped because bodies could not be fetched (None: the nodes do not say).
    bodies_fetched: int | None = None
    fetch_failures: int | None = None


@dataclass
class BenchReport:
    workload: str
    nodes: int
    mode: str  # "localnet" or "rpc"
    duration_s: float
    warmup_s: float
    rate_per_s: int | None
    max_block_txs: int | None = None  # the localnet's block limit when the bench set it
    machine: dict[str, Any] = field(default_factory=dict)
    presigned: int = 0
    mix: dict[str, int] = field(default_factory=dict)  # pre-signed txs per contract.method
    presign_s: float = 0.0
    submitted: int = 0  # accepted by an RPC
    refused: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    committed: int = 0  # accepted txs seen committed (on the node they were sent to)
    steady_window_s: float = 0.0
    steady_committed: int = 0
    tps: float = 0.0
    workload_exhausted_at_s: float | None = None
    latency_ms: Percentiles = field(default_factory=Percentiles)
    block_txs: Percentiles = field(default_factory=Percentiles)
    block_interval_ms: Percentiles = field(default_factory=Percentiles)
    blocks_in_window: int = 0
    view_changes: int | None = None
    proposals: ProposalFigures = field(default_factory=ProposalFigures)
    cpu_percent_of_machine: float | None = None
    # The bench's own process shares the machine: its CPU over the steady window.
    client_cpu_percent_of_core: float | None = None
    ed25519_verifies_per_s: float = 0.0
    ed25519_ceiling_tps: float = 0.0
    ceiling_ratio: float | None = None
    receipts_sampled: dict[str, int] = field(default_factory=dict)  # status name -> count
    heights_compared: int = 0
    state_roots_agree: bool = False
    exactly_once: bool = False
    node_figures: list[NodeFigures] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["ok"] = self.ok
        return doc


class ProgressSink(Protocol):
    """Where the engine reports progress (the CLI draws a bar; tests ignore it)."""

    def update(self, phase: str, elapsed_s: float, total_s: float, submitted: int,
               committed: int) -> None: ...


class _NoProgress:
    def update(self, phase: str, elapsed_s: float, total_s: float, submitted: int,
               committed: int) -> None:
        return None


# --- the machine --------------------------------------------------------------------------


def measure_ed25519_verifies_per_s(seconds: float = ED25519_PROBE_S) -> float:
    """PyNaCl Ed25519 verifications per second of one core: counted against this thread's
    CPU time, so other work sharing the machine does not lower it."""
    key = PrivateKey.from_seed_text("bench/ed25519-probe")
    message = bytes(32)
    signed = key.sign(message) + message
    public_key = key.public_key
    count = 0
    started = time.thread_time()
    wall_deadline = time.monotonic() + 4 * seconds
    while True:
        for _ in range(200):
            nacl.bindings.crypto_sign_open(signed, public_key)
        count += 200
        used = time.thread_time() - started
        if used >= seconds or (time.monotonic() >= wall_deadline and used > 0):
            return count / used


def machine_facts() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    load = ""
    with contextlib.suppress(OSError):
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return {
        "load_average_at_start": load,  # other work on the machine shares its cores
        "cpu_model": model or platform.processor() or "unknown",
        "cores": os.cpu_count() or 1,
        "memory_bytes": mem_kb * 1024,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


class ProcessProbe:
    """CPU time, peak RSS and data-directory size of one local node process (/proc)."""

    def __init__(self, pid: int, data_dir: Path | None) -> None:
        self.pid = pid
        self.data_dir = data_dir

    def cpu_s(self) -> float | None:
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        # Fields after the parenthesised command name; utime and stime are 14th and 15th.
        fields = stat[stat.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S

    def peak_rss_bytes(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            return None
        return None

    def disk_bytes(self) -> int | None:
        if self.data_dir is None:
            return None
        return directory_bytes(self.data_dir)

    def disk_usage(self) -> DiskUsage | None:
        return None if self.data_dir is None else disk_usage(self.data_dir)


def directory_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


@dataclass(frozen=True)
class DiskUsage:
    """A data directory's bytes per store (its top-level directories; loose files are
    "other") and, of all of them, the bytes in LevelDB write-ahead logs (NNNNNN.log)."""

    parts: dict[str, int]
    wal_bytes: int

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def growth_per_tx(self, before: DiskUsage, txs: int) -> dict[str, float]:
        names = sorted(set(self.parts) | set(before.parts))
        return {n: round((self.parts.get(n, 0) - before.parts.get(n, 0)) / txs, 1) for n in names}


def settled_disk_usage(path: Path) -> DiskUsage:
    """``disk_usage`` of a stopped node's data directory after compacting each LevelDB in
    it (a directory holding CURRENT) with the node's own options."""
    for current in sorted(path.rglob("CURRENT")):
        store = LevelDBStore(current.parent)
        try:
            store.compact()
        finally:
            store.close()
    return disk_usage(path)


def live_bytes_by_record(path: Path) -> dict[str, int]:
    """Of a stopped node's data directory: the live bytes of each family of records in
    its chain store, and of its mempool journal in all."""
    out: dict[str, int] = {}
    chain, mempool = path / "chain", path / "mempool"
    if (chain / "CURRENT").exists():
        store = LevelDBStore(chain)
        try:
            out.update(schema.bytes_by_family(store))
        finally:
            store.close()
    if (mempool / "CURRENT").exists():
        store = LevelDBStore(mempool)
        try:
            out["mempool journal"] = sum(len(k) + len(v) for k, v in store.iterate())
        finally:
            store.close()
    return out


def live_table_bytes(path: Path) -> int:
    """The bytes of every LevelDB in a stopped node's data directory once its live
    entries are written into fresh tables (a copy, made in a temporary directory and
    deleted); loose files count as they are."""
    total = 0
    for current in sorted(path.rglob("CURRENT")):
        source = LevelDBStore(current.parent)
        scratch = Path(tempfile.mkdtemp(prefix="hkchain-bench-live-"))
        try:
            copy = LevelDBStore(scratch / "db")
            try:
                batch: list[tuple[bytes, bytes]] = []
                for item in source.iterate():
                    batch.append(item)
                    if len(batch) >= 10_000:
                        _put_all(copy, batch)
                _put_all(copy, batch)
                copy.compact()
            finally:
                copy.close()
            total += directory_bytes(scratch)
        finally:
            source.close()
            shutil.rmtree(scratch, ignore_errors=True)
    stores = {c.parent for c in path.rglob("CURRENT")}
    for root, _dirs, files in os.walk(path):
        if any(Path(root) == s or s in Path(root).parents for s in stores):
            continue
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _put_all(store: LevelDBStore, items: list[tuple[bytes, bytes]]) -> None:
    with store.batch() as wb:
        for key, value in items:
            wb.put(key, value)
    items.clear()


def disk_usage(path: Path) -> DiskUsage:
    parts: dict[str, int] = {}
    wal = 0
    for root, _dirs, files in os.walk(path):
        rel = Path(root).relative_to(path).parts
        part = rel[0] if rel else "other"
        for name in files:
            try:
                size = os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
            parts[part] = parts.get(part, 0) + size
            if name.endswith(".log") and name[:-4].isdigit():
                wal += size
    return DiskUsage(parts, wal)


def pid_listening_on(port: int) -> int | None:
    """The pid of the local process listening on TCP ``port`` (from /proc), if visible."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(parts[9])
    if not inodes:
        return None
    targets = {f"socket:[{i}]" for i in inodes}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in targets:
                        return int(entry.name)
    return None


def _data_dir_of(pid: int) -> Path | None:
    """The data directory of a node process started as ``… --home DIR``."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    for i, arg in enumerate(argv[:-1]):
        if arg == b"--home":
            home = Path(argv[i + 1].decode(errors="replace"))
            from node.config import ConfigError, NodeConfig

            try:
                return NodeConfig.load(home).data_path(home)
            except ConfigError:
                return home / "data"
    return None


def free_base_port(nodes: int) -> int:
    """A localnet base port whose whole range is free on 127.0.0.1 right now."""
    from node.home import max_base_port, node_ports

    rng = random.Random()
    for _ in range(PORT_TRIES):
        # Below the kernel's ephemeral ports, as init_network requires.
        base = rng.randrange(20_000, max(max_base_port(nodes), 20_000) + 1, 10)
        ports = [p for i in range(nodes) for p in node_ports(i, base)]
        if all(_port_free(p) for p in ports):
            return base
    raise BenchError("no free port range found on 127.0.0.1")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# --- the workload -------------------------------------------------------------------------


@dataclass
class Plan:
    """The pre-signed workload: tx k is sent to node ``node_of[k]`` and due at k / rate."""

    hashes: list[str]
    bodies: list[str]  # canonical SignedTx bytes, hex (the RPC's JSON form)
    node_of: list[int]
    index: dict[str, int]
    mix: dict[str, int] = field(default_factory=dict)  # "contract.method" -> txs
    sender_of: list[int] = field(default_factory=list)  # a sender's txs in nonce order

    def __len__(self) -> int:
        return len(self.hashes)


def recipient_addresses(count: int = RECIPIENTS) -> list[str]:
    """Addresses that receive the bench transfers (random keys nobody holds)."""
    return [address_of(os.urandom(32)) for _ in range(count)]


@dataclass
class Community:
    """What the setup made for the vote and mixed workloads: the open owners' proposal,
    and (where the property contract is deployed) unpaid bills per sender to pay."""

    proposal_id: int | None = None
    bills: dict[int, list[int]] = field(default_factory=dict)  # sender index -> bill ids
    rating_period: str | None = None


def workload_call(workload: str, k: int, sender: int, rounds: int, recipients: Sequence[str],
                  community: Community) -> tuple[str, str, tuple[Value, ...]]:
    """(contract, method, args) of tx k, the ``rounds``-th tx of sender index ``sender``.

    mixed: per sender, in every ten of its txs, six transfers, two votes, one rating of the
    property service and one bill payment while it has unpaid bills (else a rating); with
    no property contract, ratings and bills become transfers."""
    kind = "transfer"
    if workload == "votes":
        kind = "vote"
    elif workload == "mixed":
        slot = rounds % 10
        kind = "vote" if slot in (6, 7) else "rate" if slot == 8 else "bill" if slot == 9 else kind
        if kind == "bill" and not community.bills.get(sender):
            kind = "rate"
        if kind == "rate" and community.rating_period is None:
            kind = "transfer"
    if kind == "vote":
        assert community.proposal_id is not None
        return "governance", "vote", (community.proposal_id, ("yes", "no", "abstain")[(k // 7) % 3])
    if kind == "bill":
        return "property", "pay_bill", (community.bills[sender].pop(0),)
    if kind == "rate":
        assert community.rating_period is not None
        return "property", "rate", (community.rating_period, 1 + k % 5)
    return "token", "transfer", (recipients[k % len(recipients)], 1 + k % 5)


def presign(
    workload: str,
    senders: Sequence[PrivateKey],
    count: int,
    chain_id: str,
    nodes: int,
    *,
    first_nonces: Sequence[int] | None = None,
    expiry_height: int = EXPIRY_MARGIN_BLOCKS,
    community: Community | None = None,
    recipients: Sequence[str] | None = None,
) -> Plan:
    """Sign ``count`` txs round-robin over ``senders`` (each sender's nonces in order).
    Sender s always goes to node s % nodes, so a node sees each sender's nonces in order."""
    recipients = recipients or recipient_addresses()
    community = community or Community()
    # The bills are spent as txs are signed: sign from a copy.
    community = Community(community.proposal_id, {s: list(b) for s, b in community.bills.items()},
                          community.rating_period)
    n_senders = len(senders)
    nonces = list(first_nonces) if first_nonces is not None else [0] * n_senders
    hashes: list[str] = []
    bodies: list[str] = []
    node_of: list[int] = []
    sender_of: list[int] = []
    mix: Counter[str] = Counter()
    for k in range(count):
        s = k % n_senders
        key = senders[s]
        contract, method, args = workload_call(workload, k, s, k // n_senders, recipients,
                                               community)
        mix[f"{contract}.{method}"] += 1
        tx = Tx(chain_id, key.public_key, nonces[s], contract, method, args, TX_MAX_FEE,
                expiry_height)
        nonces[s] += 1
        stx = SignedTx(tx, key.sign(tx.hash))
        hashes.append(stx.hash.hex())
        bodies.append(stx.encoded.hex())
        node_of.append(s % nodes)
        sender_of.append(s)
    return Plan(hashes, bodies, node_of, {h: k for k, h in enumerate(hashes)}, dict(mix),
                sender_of)


# --- talking to nodes ---------------------------------------------------------------------


class _Rpc:
    """The few RPC calls the bench makes (JSON over aiohttp), with typed failures."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url.rstrip("/")

    async def get(self, path: str, *, missing_ok: bool = False) -> Any:
        """The JSON answer of a GET; None for a 404 if ``missing_ok``."""
        try:
            async with self.session.get(self.url + path) as resp:
                if missing_ok and resp.status == 404:
                    return None
                doc = await resp.json(content_type=None)
                if resp.status >= 400:
                    raise BenchError(f"{self.url}{path}: HTTP {resp.status} {doc}")
                return doc
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise BenchError(f"{self.url}{path}: {type(exc).__name__}: {exc}") from exc

    async def status(self) -> dict[str, Any]:
        doc = await self.get("/v1/status")
        if not isinstance(doc, dict):
            raise BenchError(f"{self.url}: malformed status")
        return doc

    async def post_txs(self, bodies: Sequence[str]) -> tuple[int, Any]:
        """(HTTP status, parsed answer) of one batch; raises BenchError if unreachable."""
        payload = ('{"txs":["' + '","'.join(bodies) + '"]}').encode()
        try:
            async with self.session.post(
                self.url + "/v1/txs", data=payload, headers={"Content-Type": "application/json"}
            ) as resp:
                return resp.status, await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise BenchError(f"{self.url}/v1/txs: {type(exc).__name__}: {exc}") from exc

    async def metric(self, name: str) -> float | None:
        try:
            async with self.session.get(self.url + "/metrics") as resp:
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                with contextlib.suppress(ValueError, IndexError):
                    return float(line.rsplit(" ", 1)[1])
        return None

    async def metrics(self, names: Sequence[str]) -> dict[str, float]:
        """The values of the unlabelled series ``names`` in one scrape (those it has)."""
        try:
            async with self.session.get(self.url + "/metrics") as resp:
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return {}
        found: dict[str, float] = {}
        wanted = set(names)
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name in wanted:
                with contextlib.suppress(ValueError):
                    found[name] = float(value)
        return found

    async def submit_and_wait(self, stxs: Sequence[SignedTx], timeout_s: float) -> list[dict[str, Any]]:
        """Submit setup txs of one sender in order, a chunk at a time (a sender may have
        only so many pending), and wait for every receipt; BenchError on any refusal."""
        deadline = time.monotonic() + timeout_s
        receipts = []
        for start in range(0, len(stxs), SETUP_CHUNK_TXS):
            chunk = stxs[start:start + SETUP_CHUNK_TXS]
            status, doc = await self.post_txs([t.encoded.hex() for t in chunk])
            results = doc.get("results") if isinstance(doc, dict) else None
            if status != 200 or not isinstance(results, list):
                raise BenchError(f"{self.url}: setup batch refused (HTTP {status}): {doc}")
            bad = [r for r in results if not isinstance(r, dict) or "error" in r]
            if bad:
                raise BenchError(f"{self.url}: setup tx refused: {bad[0]}")
            for stx in chunk:
                while True:
                    with contextlib.suppress(BenchError):
                        doc = await self.get(f"/v1/txs/{stx.hash.hex()}")
                        if isinstance(doc, dict) and doc.get("status") == "committed":
                            receipts.append(doc.get("receipt") or {})
                            break
                    if time.monotonic() > deadline:
                        raise BenchError(f"setup tx {stx.hash.hex()[:16]} not committed in {timeout_s} s")
                    await asyncio.sleep(0.05)
        return receipts


# --- the run ------------------------------------------------------------------------------


@dataclass
class _NodeTrack:
    """What the bench saw of one node."""

    name: str
    rpc: _Rpc
    probe: ProcessProbe | None = None
    blocks: dict[int, tuple[str, str]] = field(default_factory=dict)  # height -> (hash, root)
    seen: set[int] = field(default_factory=set)  # plan indices committed on this node
    duplicates: int = 0
    last_height: int | None = None
    block_log: list[tuple[float, int, int]] = field(default_factory=list)  # (t, txs, ts_ms)
    cpu_start: float | None = None
    cpu_end: float | None = None
    view_changes_start: float | None = None
    # PROPOSAL_METRICS at the start and the end of the steady window.
    proposals_start: dict[str, float] = field(default_factory=dict)
    proposals_end: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    down_until: float = 0.0  # submissions skip it until then
    backoff_s: float = NODE_BACKOFF_MIN_S
    unreachable: int = 0
    resubscribed: int = 0


def _block_message(doc: dict[str, Any]) -> dict[str, Any]:
    """A block of GET /v1/blocks/{h} in the shape of the websocket's block message."""
    header = doc["header"]
    return {"type": "block", "height": doc["height"], "hash": doc["hash"],
            "state_root": header["state_root"], "timestamp_ms": header["timestamp_ms"],
            "txs": [tx["hash"] for tx in doc.get("txs", [])]}


class _Run:
    """One timed run over prepared nodes and a plan."""

    def __init__(self, config: BenchConfig, plan: Plan, tracks: list[_NodeTrack],
                 progress: ProgressSink) -> None:
        self.config = config
        self.plan = plan
        self.tracks = tracks
        self.progress = progress
        n = len(plan)
        self.submit_t: list[float] = [0.0] * n
        self.commit_t: list[float] = [0.0] * n
        self.accepted = bytearray(n)
        # The node that accepted each tx: its plan node, or another when that one was down.
        self.via: list[int] = list(plan.node_of)
        self.failed_over = 0
        self.refused: Counter[str] = Counter()
        self.retried = 0
        self.unclear: set[int] = set()  # sent to a node that went away before it answered
        self.submitted = 0
        self.committed = 0
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.t0 = 0.0
        self.exhausted_at: float | None = None
        self.stop_submitting = asyncio.Event()
        self.room = asyncio.Event()  # set when the in-flight window has room
        self.room.set()
        self.finished_at: list[float | None] = [None] * len(tracks)
        self.client_cpu_s: list[float] = []

    def now(self) -> float:
        return time.monotonic()

    @property
    def ends_at(self) -> float:
        """When the run ends, drain included: txs refused for a passing reason are sent
        again until then."""
        return self.t0 + self.config.duration_s + self.config.drain_timeout_s

    # -- following commits ---------------------------------------------------------------

    def on_block(self, j: int, doc: dict[str, Any], t: float) -> None:
        track = self.tracks[j]
        height = int(doc["height"])
        ident = (str(doc["hash"]), str(doc["state_root"]))
        seen = track.blocks.get(height)
        if seen is not None:
            # Read twice (a gap read from the RPC, then the subscription's message): once
            # is counted. The same height with another hash is a node that changed its mind.
            if seen != ident:
                track.errors.append(f"block {height} seen as {seen[0][:16]} and then {ident[0][:16]}")
            return
        track.blocks[height] = ident
        track.last_height = height if track.last_height is None else max(track.last_height, height)
        txs = doc.get("txs") or []
        track.block_log.append((t, len(txs), int(doc.get("timestamp_ms", 0))))
        index = self.plan.index
        via = self.via
        for h in txs:
            k = index.get(h)
            if k is None:
                continue
            if k in track.seen:
                track.duplicates += 1
                continue
            track.seen.add(k)
            if via[k] == j:
                self.commit_t[k] = t
                self.committed += 1
        if self._inflight() < self.config.window_txs:
            self.room.set()

    def _inflight(self) -> int:
        return self.submitted - self.committed

    async def follow(self, j: int, ready: asyncio.Event) -> None:
        """Follow node j's commits over its websocket; if the subscription cannot be had,
        fall back to reading each block from the RPC (noted in the report). A subscription
        that drops during the run (the node restarted, the link failed) is renewed with
        backoff until the run ends; the blocks missed meanwhile are read from the RPC."""
        track = self.tracks[j]
        backoff_s = NODE_BACKOFF_MIN_S
        while True:
            subscribed, problem = await self._subscribe(j, ready)
            if not subscribed and track.last_height is None:
                self.notes.append(f"{track.name}: no websocket subscription ({problem}); "
                                  "followed commits by reading /v1/blocks instead")
                await self._poll_blocks(j, ready)
                return
            if subscribed:
                backoff_s = NODE_BACKOFF_MIN_S
                track.resubscribed += 1
                log.info("block subscription to %s dropped (%s); renewing", track.name, problem)
            await asyncio.sleep(backoff_s)
            backoff_s = min(NODE_BACKOFF_MAX_S, backoff_s * 2)

    async def _subscribe(self, j: int, ready: asyncio.Event) -> tuple[bool, str]:
        """One block subscription to node j until it ends: (whether it got subscribed,
        why it ended)."""
        track = self.tracks[j]
        ws_url = track.rpc.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        subscribed = False
        problem = "closed before subscribing"
        try:
            async with track.rpc.session.ws_connect(
                ws_url + "/v1/ws", max_msg_size=MAX_WS_MESSAGE_BYTES, heartbeat=20.0
            ) as ws:
                await ws.send_json({"subscribe": ["blocks"]})
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    doc = json.loads(msg.data)
                    kind = doc.get("type")
                    if kind == "subscribed":
                        subscribed = True
                        ready.set()
                        if track.last_height is not None:
                            # Renewed: what the node committed (or synced) meanwhile, now,
                            # not at its next block, which may be long in coming.
                            head = int((await track.rpc.status())["height"])
                            await self._fill_gap(j, track.last_height + 1, head + 1, self.now())
                    elif kind == "block":
                        t = self.now()
                        height = int(doc["height"])
                        if track.last_height is not None and height > track.last_height + 1:
                            await self._fill_gap(j, track.last_height + 1, height, t)
                        self.on_block(j, doc, t)
                    elif kind == "error":
                        problem = f"{doc.get('code')}: {doc.get('message')}"
                        break
                else:
                    problem = f"closed ({ws.close_code})"
        except (aiohttp.ClientError, TimeoutError, ValueError, OSError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        except BenchError as exc:  # the node went away while its missed blocks were read
            problem = exc.message
        return subscribed, problem

    async def _poll_blocks(self, j: int, ready: asyncio.Event) -> None:
        track = self.tracks[j]
        try:
            height = int((await track.rpc.status())["height"]) + 1
        except BenchError as exc:
            track.errors.append(exc.message)
            ready.set()
            return
        ready.set()
        backoff_s = NODE_BACKOFF_MIN_S
        while True:
            try:
                doc = await track.rpc.get(f"/v1/blocks/{height}", missing_ok=True)
            except BenchError:
                # Down for now (restarting?): ask again until the run ends.
                await asyncio.sleep(backoff_s)
                backoff_s = min(NODE_BACKOFF_MAX_S, backoff_s * 2)
                continue
            backoff_s = NODE_BACKOFF_MIN_S
            if doc is None:
                await asyncio.sleep(POLL_INTERVAL_S)
                continue
            self.on_block(j, _block_message(doc), self.now())
            height += 1

    async def _fill_gap(self, j: int, first: int, end: int, t: float) -> None:
        """Blocks the subscription skipped: read them from the RPC so no tx is missed."""
        track = self.tracks[j]
        for height in range(first, end):
            doc = await track.rpc.get(f"/v1/blocks/{height}")
            self.on_block(j, _block_message(doc), t)

    # -- submitting ------------------------------------------------------------------------

    async def submit(self, j: int) -> None:
        mine = [k for k, node in enumerate(self.plan.node_of) if node == j]
        retry: deque[int] = deque()
        backoff_s = RETRY_BACKOFF_S
        rate = self.config.rate_per_s
        deadline = self.t0 + self.config.duration_s
        tick_s = self.config.tick_ms / 1000
        pos = 0
        try:
            while (pos < len(mine) or retry) and not self.stop_submitting.is_set():
                now = self.now()
                closing = now >= deadline
                if closing and (not retry or now >= self.ends_at):
                    break
                limit = self.config.batch_txs
                if closing:
                    # No new txs; those still refused for a passing reason are placed
                    # first, so none leaves its sender's later txs behind a hole.
                    due = 0
                elif rate is not None:
                    due_until = int((now - self.t0) * rate)
                    due = 0
                    while pos + due < len(mine) and mine[pos + due] <= due_until and due < limit:
                        due += 1
                else:
                    while self._inflight() >= self.config.window_txs and self.now() < deadline:
                        self.room.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.room.wait(), max(0.0, deadline - self.now()))
                    if self.now() >= deadline:
                        continue
                    room = self.config.window_txs - self._inflight()
                    due = min(limit, len(mine) - pos, max(1, room // len(self.tracks)))
                batch = [retry.popleft() for _ in range(min(len(retry), limit))]
                take = min(due, limit - len(batch))
                batch.extend(mine[pos:pos + take])
                pos += take
                if not batch:
                    next_k = mine[pos] if pos < len(mine) else None
                    wait = tick_s if next_k is None or rate is None else max(
                        tick_s, self.t0 + next_k / rate - self.now())
                    await asyncio.sleep(min(wait, max(0.0, deadline - self.now())))
                    continue
                node = self._reachable(j)
                if node is None:
                    # Every node refused lately: hold the batch until one may be back.
                    retry.extendleft(reversed(batch))
                    await asyncio.sleep(min(tr.down_until for tr in self.tracks) - self.now())
                    continue
                again = await self._send(node, batch)
                if again:
                    self.retried += len(again)
                    retry.extendleft(reversed(again))
                    await asyncio.sleep(backoff_s)
                    backoff_s = min(RETRY_BACKOFF_MAX_S, backoff_s * 2)
                    continue
                backoff_s = RETRY_BACKOFF_S
                if rate is not None:
                    await asyncio.sleep(tick_s)
            if pos >= len(mine) and not retry:
                self.finished_at[j] = self.now() - self.t0
            if retry:  # still refused when the run ended
                self.refused["unplaced"] += len(retry)
        finally:
            if all(t is not None for t in self.finished_at) and self.finished_at:
                self.exhausted_at = max(t for t in self.finished_at if t is not None)

    def _reachable(self, j: int) -> int | None:
        """Node j if it is not known to be down, else the next one that is not."""
        now = self.now()
        n = len(self.tracks)
        for i in range(n):
            node = (j + i) % n
            if self.tracks[node].down_until <= now:
                return node
        return None

    async def _send(self, node: int, batch: list[int]) -> list[int]:
        """Post one batch to ``node``; returns the txs to send again (refused for a
        passing reason, or the node could not be reached: they go to another)."""
        track = self.tracks[node]
        rpc = track.rpc
        t = self.now()
        for k in batch:
            if not self.submit_t[k]:  # latency counts from the first try
                self.submit_t[k] = t
        try:
            status, doc = await rpc.post_txs([self.plan.bodies[k] for k in batch])
        except BenchError as exc:
            # Refused, reset or timed out: the node is down or restarting. Whatever it may
            # have admitted is sent again elsewhere; a tx that did get in is then known
            # (admitted again, or refused as bad_nonce, counted as accepted below).
            log.info("submission to %s failed (%s); sending its txs elsewhere", track.name, exc.message)
            self.unclear.update(batch)
            track.unreachable += 1
            track.down_until = self.now() + track.backoff_s
            track.backoff_s = min(NODE_BACKOFF_MAX_S, track.backoff_s * 2)
            return self._again_unless_over(batch, "unreachable")
        track.backoff_s = NODE_BACKOFF_MIN_S
        results = doc.get("results") if isinstance(doc, dict) else None
        if status in (429, 503) or not isinstance(results, list) or len(results) != len(batch):
            code = doc.get("error", {}).get("code") if isinstance(doc, dict) else None
            if status in (429, 503):
                return self._again_unless_over(batch, str(code))
            self.failures.append(f"{rpc.url} answered HTTP {status}: {doc}")
            self.stop_submitting.set()
            return []
        again: list[int] = []
        for k, r in zip(batch, results, strict=True):
            err = r.get("error") if isinstance(r, dict) else {"code": "malformed_answer"}
            if not err:
                self._accepted(k, node)
                continue
            code = str(err.get("code", "?"))
            if code in RETRYABLE_CODES:
                again.extend(self._again_unless_over([k], code))
            elif code == "bad_nonce" and k in self.unclear:
                # Sent again after an unclear answer: it was admitted (and maybe committed).
                self._accepted(k, node)
            else:
                self.refused[code] += 1
        return again

    def _accepted(self, k: int, node: int) -> None:
        if not self.accepted[k]:
            self.accepted[k] = 1
            self.submitted += 1
            self._accepted_by(k, node)

    def _accepted_by(self, k: int, node: int) -> None:
        if self.via[k] != node:
            self.via[k] = node
            self.failed_over += 1
            if k in self.tracks[node].seen:  # committed before this answer came
                self.commit_t[k] = self.now()
                self.committed += 1

    def _again_unless_over(self, batch: list[int], code: str) -> list[int]:
        """``batch`` to send again; once the run is over, counted refused with ``code``."""
        if self.now() < self.ends_at:
            return batch
        self.refused[code] += len(batch)
        return []

    # -- sampling --------------------------------------------------------------------------

    async def sample(self, warmup_s: float) -> None:
        """CPU at the start and end of the steady window; view changes at its start."""
        await asyncio.sleep(max(0.0, self.t0 + warmup_s - self.now()))
        self.client_cpu_s.append(time.process_time())
        # Every node's CPU first, then the RPC calls: a call to a busy node can take a
        # tenth of a second, and reading each node's CPU after the calls to those before
        # it left the last of 64 nodes seconds of the window short (the machine's CPU came
        # out at 55-77 % while it was saturated).
        for tr in self.tracks:
            tr.cpu_start = tr.probe.cpu_s() if tr.probe else None
        for tr in self.tracks:
            tr.view_changes_start = await tr.rpc.metric("hkchain_view_changes_total")
            tr.proposals_start = await tr.rpc.metrics(PROPOSAL_METRICS)
        await asyncio.sleep(max(0.0, self.t0 + self.config.duration_s - self.now()))
        self.client_cpu_s.append(time.process_time())
        for tr in self.tracks:
            tr.cpu_end = tr.probe.cpu_s() if tr.probe else None
        for tr in self.tracks:
            tr.proposals_end = await tr.rpc.metrics(PROPOSAL_METRICS)

    async def report_progress(self, phase: list[str]) -> None:
        total = self.config.duration_s
        while True:
            self.progress.update(phase[0], self.now() - self.t0, total, self.submitted, self.committed)
            await asyncio.sleep(PROGRESS_INTERVAL_S)


async def _timed_run(config: BenchConfig, plan: Plan, tracks: list[_NodeTrack],
                     progress: ProgressSink) -> _Run:
    run = _Run(config, plan, tracks, progress)
    ready = [asyncio.Event() for _ in tracks]
    # An idle network is measured untouched: its heads are compared at the end instead.
    followers = [] if config.workload == "idle" else [
        asyncio.create_task(run.follow(j, ready[j])) for j in range(len(tracks))]
    if followers:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), READY_TIMEOUT_S)
    for tr in tracks:
        if tr.errors:
            raise BenchError(f"cannot follow commits of {tr.name}: {tr.errors[0]}")
    phase = ["load"]
    run.t0 = run.now()
    ticker = asyncio.create_task(run.report_progress(phase))
    sampler = asyncio.create_task(run.sample(config.effective_warmup_s))
    try:
        if config.workload == "idle":
            await asyncio.sleep(config.duration_s)
            await sampler
            await _read_heads(run)
        else:
            await asyncio.gather(*(run.submit(j) for j in range(len(tracks))))
            await sampler
            phase[0] = "drain"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_until_all_seen(run), max(0.0, run.ends_at - run.now()))
        await sampler
    finally:
        ticker.cancel()
        for task in followers:
            task.cancel()
        await asyncio.gather(ticker, *followers, return_exceptions=True)
        if not sampler.done():
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
    progress.update("done", run.now() - run.t0, config.duration_s, run.submitted, run.committed)
    return run


async def _read_heads(run: _Run) -> None:
    """The last few blocks every node has, read once, so their roots can be compared."""
    heights = [int((await tr.rpc.status())["height"]) for tr in run.tracks]
    top = min(heights)
    for j, tr in enumerate(run.tracks):
        for height in range(max(0, top - 2), top + 1):
            run.on_block(j, _block_message(await tr.rpc.get(f"/v1/blocks/{height}")), run.now())


async def _until_all_seen(run: _Run) -> None:
    """Until every accepted tx was seen committed by every node, and all nodes reached
    the same height (so their roots can be compared)."""
    accepted = sum(run.accepted)
    while True:
        if all(len(tr.seen) >= accepted for tr in run.tracks):
            heights = {tr.last_height for tr in run.tracks}
            if len(heights) == 1:
                return
        await asyncio.sleep(0.05)


# --- preparing the nodes ------------------------------------------------------------------


@dataclass
class _Network:
    urls: list[str]
    names: list[str]
    probes: list[ProcessProbe | None]
    chain_id: str
    operator: PrivateKey | None
    public_keys: list[str] | None = None  # expected node keys (hex), when the bench made them
    supervisor: Any = None  # node.localnet.Supervisor when the bench started the nodes
    home: Path | None = None
    remove_home: bool = False
    disk_start: list[DiskUsage | None] = field(default_factory=list)  # per node, before the load


def _start_localnet(config: BenchConfig, senders: Sequence[PrivateKey]) -> _Network:
    """Init a network in a fresh directory with the senders funded in genesis; start it."""
    from node.config import NodeConfig
    from node.home import init_network
    from node.localnet import Supervisor

    if config.home is not None:
        home = Path(config.home)
        if home.exists() and any(home.iterdir()):
            raise BenchError(f"{home} is not empty: the bench makes a fresh network", code="bad_bench_config")
        remove = False
    else:
        home = Path(tempfile.mkdtemp(prefix="hkchain-bench-"))
        remove = True
    try:
        net = init_network(home, config.nodes, base_port=free_base_port(config.nodes),
                           chain_id=BENCH_CHAIN_ID)
        _fund_in_genesis([n.home / "genesis.json" for n in net.nodes], senders)
        if config.block_txs is not None:
            for n in net.nodes:
                node_config = NodeConfig.load(n.home)
                node_config.with_changes(block=dataclasses.replace(
                    node_config.block, max_block_txs=config.block_txs)).save(n.home)
        supervisor = Supervisor(net)
        supervisor.start_all()
    except BaseException:
        if remove:
            shutil.rmtree(home, ignore_errors=True)
        raise
    probes: list[ProcessProbe | None] = []
    for i, n in enumerate(net.nodes):
        pid = supervisor.pid(i)
        probes.append(ProcessProbe(pid, n.home / "data") if pid is not None else None)
    return _Network(
        urls=[n.rpc_url for n in net.nodes], names=[n.name for n in net.nodes], probes=probes,
        chain_id=net.chain_id, operator=PrivateKey.load(net.operator_key_file),
        public_keys=[n.public_key.hex() for n in net.nodes], supervisor=supervisor, home=home, remove_home=remove,
    )


def _fund_in_genesis(paths: Sequence[Path], senders: Sequence[PrivateKey]) -> None:
    """Give every sender a balance in the genesis of every node (before the first start)."""
    doc = json.loads(paths[0].read_text())
    accounts = doc.setdefault("accounts", [])
    for key in senders:
        accounts.append({"address": key.address, "balance": SENDER_BALANCE})
    data = json.dumps(doc, indent=2) + "\n"
    for path in paths:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(data)
        os.replace(tmp, path)


def _remote_network(config: BenchConfig) -> _Network:
    from urllib.parse import urlsplit

    probes: list[ProcessProbe | None] = []
    for url in config.rpc_urls:
        parts = urlsplit(url)
        pid = None
        if parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.port:
            pid = pid_listening_on(parts.port)
        probes.append(ProcessProbe(pid, _data_dir_of(pid)) if pid is not None else None)
    operator = PrivateKey.load(config.funder_key_file) if config.funder_key_file else None
    return _Network(urls=list(config.rpc_urls), names=[urlsplit(u).netloc for u in config.rpc_urls],
                    probes=probes, chain_id="", operator=operator)


async def _wait_network_ready(net: _Network, rpcs: Sequence[_Rpc]) -> str:
    """Wait until every node answers, all are on one chain, fully connected, past block 0."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    names = net.names
    expect_peers = len(rpcs) > 1
    last = ""
    while True:
        try:
            docs = [await r.status() for r in rpcs]
            if net.public_keys is not None:
                for name, d, key in zip(names, docs, net.public_keys, strict=True):
                    if d.get("public_key") != key:
                        raise BenchError(f"the node answering for {name} is not the one the "
                                         "bench started (a port taken by another network?)")
            chains = {d.get("genesis_hash") for d in docs}
            if len(chains) != 1:
                raise BenchError(f"the nodes are on different chains: {sorted(map(str, chains))}")
            connected = all(len(d.get("peers", [])) >= len(rpcs) - 1 for d in docs) or not expect_peers
            if connected and all(int(d.get("height", 0)) >= 1 for d in docs):
                return str(docs[0]["chain_id"])
            last = ", ".join(f"{n}: height {d.get('height')}, {len(d.get('peers', []))} peers"
                             for n, d in zip(names, docs, strict=True))
        except BenchError as exc:
            if "different chains" in exc.message or "not the one" in exc.message:
                raise
            last = exc.message
        if time.monotonic() > deadline:
            raise BenchError(f"network not ready within {READY_TIMEOUT_S} s ({last})")
        await asyncio.sleep(0.2)


async def _setup_txs(rpc: _Rpc, chain_id: str, operator: PrivateKey, calls: Sequence[tuple[str, str, tuple[Value, ...]]]
                     ) -> list[dict[str, Any]]:
    """Signed by the operator, in nonce order, committed before the timed run."""
    account = await rpc.get(f"/v1/accounts/{operator.address}")
    nonce = int(account.get("pending_nonce", account.get("nonce", 0)))
    height = int((await rpc.status())["height"])
    stxs = []
    for i, (contract, method, args) in enumerate(calls):
        tx = Tx(chain_id, operator.public_key, nonce + i, contract, method, args, 1_000_000,
                height + EXPIRY_MARGIN_BLOCKS)
        stxs.append(tx.sign(operator))
    receipts = await rpc.submit_and_wait(stxs, SETUP_TX_TIMEOUT_S)
    for (contract, method, _args), r in zip(calls, receipts, strict=True):
        if r.get("status") != 0:
            raise BenchError(f"setup tx {contract}.{method} failed: "
                             f"{r.get('error_code')}: {r.get('error_message')}")
    return receipts


# --- the entry point ----------------------------------------------------------------------


def run_bench(config: BenchConfig, progress: ProgressSink | None = None) -> BenchReport:
    """Run the bench described by ``config``; returns the report (``report.ok`` tells
    whether the consistency checks passed). Raises BenchError if it cannot run."""
    config.validate()
    sink = progress or _NoProgress()
    report = BenchReport(config.workload, len(config.rpc_urls) or config.nodes,
                         "rpc" if config.rpc_urls else "localnet", config.duration_s,
                         config.effective_warmup_s, config.rate_per_s, config.block_txs,
                         machine=machine_facts())
    sink.update("ed25519", 0, config.duration_s, 0, 0)
    report.ed25519_verifies_per_s = round(measure_ed25519_verifies_per_s(), 1)
    cores = int(report.machine["cores"])
    report.ed25519_ceiling_tps = round(cores * report.ed25519_verifies_per_s / report.nodes, 1)

    n_senders = 0 if config.workload == "idle" else min(config.senders, config.planned_txs)
    senders = [PrivateKey.generate() for _ in range(n_senders)]
    net = _remote_network(config) if config.rpc_urls else _start_localnet(config, senders)
    try:
        if net.supervisor is not None:
            sink.update("starting", 0, config.duration_s, 0, 0)
            net.supervisor.wait_ready(timeout_ms=int(READY_TIMEOUT_S * 1000))
        try:
            import uvloop

            runner: Any = uvloop.run
        except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
            runner = asyncio.run
        runner(_bench_async(config, net, senders, report, sink))
    finally:
        if net.supervisor is not None:
            sink.update("stopping", 0, config.duration_s, report.submitted, report.committed)
            net.supervisor.stop_all(grace_ms=5000)
            _settle_disk(net, report)
        if net.remove_home and net.home is not None:
            shutil.rmtree(net.home, ignore_errors=True)
    return report


def _settle_disk(net: _Network, report: BenchReport) -> None:
    """With the bench's nodes stopped: node0's data directory compacted and measured again
    (one node: compaction costs CPU, and the nodes' figures agree within a few %)."""
    if not (report.committed and report.node_figures and net.disk_start and net.probes):
        return
    probe, before = net.probes[0], net.disk_start[0]
    if probe is None or probe.data_dir is None or before is None:
        return
    try:
        after = settled_disk_usage(probe.data_dir)
    except StorageError as exc:
        report.notes.append(f"settled disk size not measured: {exc.message}")
        return
    fig = report.node_figures[0]
    fig.disk_settled_bytes_per_tx = round((after.total - before.total) / report.committed, 1)
    fig.disk_settled_parts_bytes_per_tx = after.growth_per_tx(before, report.committed)
    try:
        records = live_bytes_by_record(probe.data_dir)
    except StorageError as exc:
        report.notes.append(f"disk by record not measured: {exc.message}")
        return
    fig.disk_records_bytes_per_tx = {
        name: round(n / report.committed, 1) for name, n in sorted(records.items())}
    fig.disk_live_bytes_per_tx = round(live_table_bytes(probe.data_dir) / report.committed, 1)


async def _bench_async(config: BenchConfig, net: _Network, senders: list[PrivateKey],
                       report: BenchReport, sink: ProgressSink) -> None:
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        rpcs = [_Rpc(session, u) for u in net.urls]
        sink.update("starting", 0, config.duration_s, 0, 0)
        chain_id = await _wait_network_ready(net, rpcs)
        tracks = [_NodeTrack(net.names[j], rpcs[j], net.probes[j]) for j in range(len(rpcs))]
        community = Community()
        if config.workload != "idle":
            sink.update("setup", 0, config.duration_s, 0, 0)
            community = await _prepare_senders(config, net, rpcs[0], chain_id, senders)
        sink.update("signing", 0, config.duration_s, 0, 0)
        started = time.perf_counter()
        plan = presign(config.workload, senders, config.planned_txs, chain_id, len(rpcs),
                       community=community)
        report.presigned = len(plan)
        report.mix = plan.mix
        report.presign_s = round(time.perf_counter() - started, 2)
        disk_start = net.disk_start = [p.disk_usage() if p else None for p in net.probes]
        run = await _timed_run(config, plan, tracks, sink)
        for j, tr in enumerate(tracks):
            vc = await tr.rpc.metric("hkchain_view_changes_total")
            fig = NodeFigures(tr.name, tr.rpc.url, tr.probe.pid if tr.probe else None,
                              tr.last_height)
            mine = [k for k in range(len(plan)) if run.accepted[k] and run.via[k] == j]
            fig.accepted = len(mine)
            fig.committed = sum(1 for k in mine if run.commit_t[k])
            fig.unreachable = tr.unreachable
            fig.resubscribed = tr.resubscribed
            if vc is not None and tr.view_changes_start is not None:
                fig.view_changes = int(vc - tr.view_changes_start)
            if tr.probe is not None:
                fig.peak_rss_bytes = tr.probe.peak_rss_bytes()
                usage, before = tr.probe.disk_usage(), disk_start[j]
                if usage is not None:
                    fig.disk_bytes = usage.total
                    fig.disk_wal_bytes = usage.wal_bytes
                if usage is not None and before is not None and run.committed:
                    fig.disk_bytes_per_tx = round((usage.total - before.total) / run.committed, 1)
                    fig.disk_parts_bytes_per_tx = usage.growth_per_tx(before, run.committed)
            report.node_figures.append(fig)
        if run.failed_over:
            report.notes.append(f"{run.failed_over} txs were accepted by another node than "
                                "planned (theirs could not be reached)")
        report.receipts_sampled = await _sample_receipts(run, rpcs[0])
        summarise(run, report)


async def _sample_receipts(run: _Run, rpc: _Rpc) -> dict[str, int]:
    """Status of a spread of committed bench txs: the load must succeed, not just commit."""
    committed = [k for k in range(len(run.plan)) if run.commit_t[k]]
    step = max(1, len(committed) // RECEIPT_SAMPLES)
    out: Counter[str] = Counter()
    for k in committed[::step][:RECEIPT_SAMPLES]:
        doc = await rpc.get(f"/v1/txs/{run.plan.hashes[k]}")
        receipt = doc.get("receipt") if isinstance(doc, dict) else None
        status = receipt.get("status_name", str(receipt.get("status"))) if isinstance(receipt, dict) else "missing"
        if status != "ok" and isinstance(receipt, dict):
            status += f" ({receipt.get('error_code')})"
        out[status] += 1
    return dict(out)


async def _prepare_senders(config: BenchConfig, net: _Network, rpc: _Rpc, chain_id: str,
                           senders: Sequence[PrivateKey]) -> Community:
    """Fund the senders (targets given by --rpc); for votes and mixed, register them as
    owner households and open an owners' proposal; for mixed, also bill each of them."""
    community = Community()
    calls: list[tuple[str, str, tuple[Value, ...]]] = []
    votes = config.workload in ("votes", "mixed")
    operator = net.operator
    if config.rpc_urls:
        if operator is None:
            raise BenchError("--rpc needs --key: a funded key that pays the bench senders")
        per_sender = -(-config.planned_txs // max(1, len(senders))) * FUNDING_PER_TX + TX_MAX_FEE
        account = await rpc.get(f"/v1/accounts/{operator.address}")
        need = per_sender * len(senders) + 1_000_000 * (2 * len(senders) + 1)
        if int(account.get("balance", 0)) < need:
            raise BenchError(
                f"{operator.address} holds {account.get('balance')} points; funding "
                f"{len(senders)} senders for {config.planned_txs} txs needs about {need} "
                "(use fewer --txs or a shorter --duration)", code="bad_bench_config")
        for key in senders:
            calls.append(("token", "transfer", (key.address, per_sender)))
    if votes:
        # Owners of Article 278: each sender a registered household (the operator holds
        # the committee role, which grants residence and keeps the register).
        register = await _owner_register(rpc)
        tag = os.urandom(4).hex()
        for i, key in enumerate(senders):
            if register == "households":
                calls.append(("roles", "grant", (key.address, "resident")))
                calls.append(("households", "register", (
                    key.address, f"bench-{tag}-{i}", HOUSEHOLD_AREA_DM2, sha256(key.public_key))))
            else:
                calls.append(("roles", "register_household", (key.address, HOUSEHOLD_AREA_DM2)))
    if not calls:
        return community
    if operator is None:
        raise BenchError("the bench needs an operator key for its setup txs")
    await _setup_txs(rpc, chain_id, operator, calls)
    if not votes:
        return community
    r = (await _setup_txs(rpc, chain_id, operator, [
        ("governance", "propose_owners", (5, "bench: use of the maintenance fund", bytes(32)))]))[0]
    if not isinstance(r.get("result"), int):
        raise BenchError(f"propose_owners returned {r.get('result')!r}, not a proposal id")
    community.proposal_id = r["result"]
    if config.workload == "mixed" and await _has_contract(rpc, "property", "fund"):
        # The operator becomes the property company, publishes a schedule and bills
        # every sender BILLS_PER_SENDER times; the load pays those bills.
        tag = os.urandom(4).hex()
        await _setup_txs(rpc, chain_id, operator, [
            ("roles", "grant", (operator.address, "property_company")),
            ("property", "set_schedule", ([["mgmt", "management fee", "fixed", 100]],)),
        ])
        bill_calls: list[tuple[str, str, tuple[Value, ...]]] = [
            ("property", "issue_bill", (key.address, f"b{tag}-{p}", []))
            for p in range(BILLS_PER_SENDER) for key in senders]
        receipts = await _setup_txs(rpc, chain_id, operator, bill_calls)
        for (_c, _m, args), receipt in zip(bill_calls, receipts, strict=True):
            sender = next(i for i, key in enumerate(senders) if key.address == args[0])
            community.bills.setdefault(sender, []).append(int(receipt["result"]))
        community.rating_period = f"r{tag}"
    return community


async def _has_contract(rpc: _Rpc, contract: str, view: str) -> bool:
    try:
        async with rpc.session.post(rpc.url + "/v1/query", json={
                "contract": contract, "method": view, "args": []}) as resp:
            return resp.status == 200
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise BenchError(f"{rpc.url}/v1/query: {exc}") from exc


async def _owner_register(rpc: _Rpc) -> str:
    """The contract that keeps the owner households governance counts: the households
    contract where it is deployed, else the roles contract's own register."""
    return "households" if await _has_contract(rpc, "households", "totals") else "roles"


def summarise(run: _Run, report: BenchReport) -> None:
    """Fill the report's figures and checks from what the run recorded."""
    config = run.config
    t0 = run.t0
    warm = config.effective_warmup_s
    end = config.duration_s if run.exhausted_at is None else min(config.duration_s, run.exhausted_at)
    report.notes.extend(run.notes)
    report.workload_exhausted_at_s = None if run.exhausted_at is None else round(run.exhausted_at, 2)
    if run.exhausted_at is not None and run.exhausted_at < config.duration_s:
        report.notes.append(
            f"the {len(run.plan)} pre-signed txs ran out at {run.exhausted_at:.1f} s: "
            "the steady window ends there (sign more with --txs)")
    w0, w1 = t0 + warm, t0 + max(end, warm + 1e-3)
    report.steady_window_s = round(w1 - w0, 3)
    report.submitted = run.submitted
    report.committed = run.committed
    report.refused = dict(run.refused)
    report.retried = run.retried
    steady = [k for k in range(len(run.plan)) if run.accepted[k] and w0 <= run.commit_t[k] <= w1]
    report.steady_committed = len(steady)
    report.tps = round(len(steady) / (w1 - w0), 1) if w1 > w0 else 0.0
    lat = [(run.commit_t[k] - run.submit_t[k]) * 1000 for k in range(len(run.plan))
           if run.accepted[k] and run.commit_t[k] and run.submit_t[k] >= w0 and run.submit_t[k] <= w1]
    report.latency_ms = Percentiles.of(lat)
    ref = run.tracks[0]
    in_window = [(t, n, ts) for t, n, ts in ref.block_log if w0 <= t <= w1]
    report.blocks_in_window = len(in_window)
    report.block_txs = Percentiles.of([float(n) for _, n, _ in in_window])
    report.block_interval_ms = Percentiles.of(
        [float(b[2] - a[2]) for a, b in itertools.pairwise(in_window)])
    if config.rate_per_s is not None and config.workload != "idle" and report.tps < 0.95 * config.rate_per_s:
        report.notes.append(
            f"the network committed {report.tps:,.0f} of the {config.rate_per_s:,} tx/s offered: "
            "the rest queued (latency grew with the backlog, and CPU per committed tx includes "
            "the admission of txs still queued)")
    if report.ed25519_ceiling_tps and config.workload != "idle":
        report.ceiling_ratio = round(report.tps / report.ed25519_ceiling_tps, 3)

    # Per-node costs over the steady window.
    total_cpu = 0.0
    have_cpu = False
    vcs = []
    for fig, tr in zip(report.node_figures, run.tracks, strict=True):
        fig.txs_seen = len(tr.seen)
        if tr.cpu_start is not None and tr.cpu_end is not None:
            fig.cpu_s = round(tr.cpu_end - tr.cpu_start, 2)
            fig.cpu_percent_of_core = round(100 * fig.cpu_s / (w1 - w0), 1)
            total_cpu += fig.cpu_s
            have_cpu = True
            if report.steady_committed:
                fig.cpu_ms_per_tx = round(1000 * fig.cpu_s / report.steady_committed, 3)
        if fig.view_changes is not None:
            vcs.append(fig.view_changes)
    if have_cpu:
        cores = int(report.machine["cores"])
        report.cpu_percent_of_machine = round(100 * total_cpu / ((w1 - w0) * cores), 2)
    report.view_changes = max(vcs) if vcs else None
    report.proposals = proposal_figures(run.tracks)
    if len(run.client_cpu_s) == 2:
        report.client_cpu_percent_of_core = round(
            100 * (run.client_cpu_s[1] - run.client_cpu_s[0]) / (w1 - w0), 1)
    check(run, report)


def proposal_figures(tracks: Sequence[_NodeTrack]) -> ProposalFigures:
    """The PRE-PREPARE costs of the steady window from the nodes' counters (nodes whose
    counters could not be read at both ends count for nothing)."""
    totals = dict.fromkeys(PROPOSAL_METRICS, 0.0)
    seen: set[str] = set()
    for tr in tracks:
        for name in PROPOSAL_METRICS:
            if name in tr.proposals_start and name in tr.proposals_end:
                totals[name] += tr.proposals_end[name] - tr.proposals_start[name]
                seen.add(name)
    fig = ProposalFigures(sent=int(totals[PROPOSALS_SENT]), bytes_sent=int(totals[PROPOSAL_BYTES_SENT]),
                          received=int(totals[PROPOSALS_RECEIVED]))
    if PROPOSAL_BODIES_FETCHED in seen:
        fig.bodies_fetched = int(totals[PROPOSAL_BODIES_FETCHED])
    if PROPOSAL_FETCH_FAILURES in seen:
        fig.fetch_failures = int(totals[PROPOSAL_FETCH_FAILURES])
    cpu_ms = 1000 * totals[PROPOSAL_DECODE_CPU]
    if fig.sent:
        fig.bytes_per_block = round(fig.bytes_sent / fig.sent, 1)
        fig.decode_cpu_ms_per_block = round(cpu_ms / fig.sent, 3)
    if fig.received:
        fig.decode_cpu_ms_per_proposal = round(cpu_ms / fig.received, 3)
    return fig


def check(run: _Run, report: BenchReport) -> None:
    """Exactly once on every node, and one chain: the bench fails loudly otherwise."""
    failures = report.failures
    failures.extend(run.failures)
    for tr in run.tracks:
        failures.extend(f"{tr.name}: {e}" for e in tr.errors)
    if report.refused:
        failures.append("txs refused by the RPC: " + ", ".join(
            f"{code} ×{n}" for code, n in sorted(report.refused.items())))
    accepted = [k for k in range(len(run.plan)) if run.accepted[k]]
    behind_hole = _behind_hole(run)
    exactly_once = True
    for fig, tr in zip(report.node_figures, run.tracks, strict=True):
        lost = [k for k in accepted if k not in tr.seen]
        fig.lost = len(lost)
        fig.lost_behind_hole = sum(1 for k in lost if k in behind_hole)
        fig.duplicates = tr.duplicates
        if fig.lost or fig.duplicates:
            exactly_once = False
            why = (f" ({fig.lost_behind_hole} of them wait behind an earlier tx of their sender "
                   "that no node accepted)") if fig.lost_behind_hole else ""
            failures.append(f"{tr.name}: {fig.lost} accepted txs not committed{why}, "
                            f"{fig.duplicates} committed twice")
    report.exactly_once = exactly_once
    common = set.intersection(*(set(tr.blocks) for tr in run.tracks)) if run.tracks else set()
    report.heights_compared = len(common)
    disagree = [h for h in sorted(common) if len({tr.blocks[h] for tr in run.tracks}) != 1]
    report.state_roots_agree = not disagree and bool(common)
    if disagree:
        failures.append(f"nodes disagree on block hash or state root at heights {disagree[:10]}")
    elif not common:
        failures.append("no height was seen by every node: state roots not compared")
    bad = {s: n for s, n in report.receipts_sampled.items() if s != "ok"}
    if bad:
        failures.append(f"sampled receipts of bench txs are not all ok: {bad}")
    if report.workload != "idle" and report.submitted == 0:
        failures.append("no tx was accepted")


def _behind_hole(run: _Run) -> set[int]:
    """Accepted txs with an earlier tx of the same sender that was never accepted: no
    node can commit them until that nonce is filled."""
    out: set[int] = set()
    holed: set[int] = set()  # senders with a tx not accepted so far, in plan order
    for k, sender in enumerate(run.plan.sender_of):
        if not run.accepted[k]:
            holed.add(sender)
        elif sender in holed:
            out.add(k)
    return out


def report_json(report: BenchReport) -> str:
    return json.dumps(report.to_json(), indent=2, sort_keys=True)


def describe_config(config: BenchConfig) -> str:
    """The command line that reproduces ``config`` (for docs and the report header)."""
    parts = ["hkchain bench", f"--duration {config.duration_s:g}"]
    if config.rate_per_s is not None:
        parts.append(f"--rate {config.rate_per_s}")
    if config.rpc_urls:
        parts.extend(f"--rpc {u}" for u in config.rpc_urls)
    else:
        parts.append(f"--nodes {config.nodes}")
    parts.append(f"--workload {config.workload}")
    if config.block_txs is not None:
        parts.append(f"--block-txs {config.block_txs}")
    if config.window_txs != DEFAULT_WINDOW_TXS and config.rate_per_s is None:
        parts.append(f"--window {config.window_txs}")
    return " ".join(parts)

