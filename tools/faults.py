"""Fault scenarios against a real local network: what ``hkchain faults run`` and the tests
in tests/faults/ run.

Each scenario starts 4 node processes (view timeout 1.5 s) with a fault proxy
(tools/faultproxy.py) on every p2p link, puts a light load on them (one sender per node,
each submitting a transfer every 0.5 s through its own node), injects its fault, and
checks:

- its liveness bound (e.g. all 4 nodes at a new common height within 5 s of a heal);
- safety: every node has the same block hash and state root at every height;
- exactly once: every tx a node accepted is committed, in exactly one block.

Scenarios: ``isolate`` (one node cut off), ``proposer`` (the next proposer cut off),
``split`` (2|2: no commits during it), ``delay`` (100 ± 50 ms on every link), ``flapping``
(one node cut and healed every second), ``lossy`` (delay, jitter and packet loss on every
link), ``tamper`` (whole p2p frames dropped and repeated on the path: the sealed links must
close, blaming no one), ``slow-link`` (one node's links capped at 2 KiB/s), ``clock`` (one node's clock 30 s ahead and one 30 s behind,
through libfaketime), ``disk-full`` (one node's data on a size-limited tmpfs that fills
up: a real ENOSPC; the node must stop with a clear message and, restarted once there is
space, lose nothing), ``kills`` (kill -9 loops under ``hkchain bench`` load: a node killed
and restarted every 6 s, 3 rounds, 20 with ``--long``, at 100 tx/s; every accepted tx
committed exactly once on every node). The short set (CI) holds faults for seconds;
``--long`` holds them for 30 s. A scenario raises ``ScenarioFailed`` when a check fails and
``ScenarioUnavailable`` when the machine cannot inject its fault (no libfaketime, not
root for the tmpfs).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from core import codec
from core.crypto import PrivateKey
from core.errors import ChainError
from core.types import SignedTx, Tx
from node.config import NodeConfig
from node.home import LocalNetwork, default_genesis_template, init_network
from node.localnet import Supervisor
from tools.bench import BenchConfig, BenchError, free_base_port, run_bench
from tools.faultproxy import FaultNet

N_NODES = 4
VIEW_TIMEOUT_MS = 1500
MAX_VIEW_TIMEOUT_MS = 6000
RECOVERY_BOUND_S = 5.0
# A dead link must be noticed within 1.5 heartbeats; this allows for a loaded machine.
NOTICE_BOUND_S = 4.0
LOAD_INTERVAL_S = 0.5
FUNDING = 1_000_000
MAX_FEE = 10_000
EXPIRY_MARGIN = 10_000  # heights: an isolated node's txs wait out the cut in its mempool
POLL_S = 0.05
RPC_TIMEOUT_S = 5.0
DRAIN_TIMEOUT_S = 60.0
FAKETIME_LIBS = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
)
CLOCK_OFFSET_S = 30
# node/service.py refuses a block whose timestamp is further ahead of its clock than this.
MAX_CLOCK_DRIFT_MS = 15_000
DISK_TMPFS_BYTES = 64 << 20
DISK_STOP_BOUND_S = 15.0  # from the disk filling up to the node's exit
DISK_CATCH_UP_BOUND_S = 10.0  # from the restart to the common height
KILL_RATE_PER_S = 100  # the bench's load during the kill loops
KILL_SENDERS = 8
KILL_FIRST_S = 3.0  # into the bench's timed run, the first kill
KILL_DOWN_S = 3.0  # how long a killed node stays down
KILL_UP_S = 3.0  # and up before the next round
KILL_REACH_TIMEOUT_S = 180.0  # for the bench to reach the time of the next kill


class FaultsError(ChainError):
    code = "faults_error"


class ScenarioFailed(FaultsError):
    """A check of a scenario failed: liveness, safety or exactly-once."""

    code = "fault_scenario_failed"


class ScenarioUnavailable(FaultsError):
    """This machine cannot inject the scenario's fault (a missing tool or privilege)."""

    code = "fault_scenario_unavailable"


def check(ok: bool, message: str) -> None:
    if not ok:
        raise ScenarioFailed(message)


@dataclass(frozen=True)
class Settings:
    long: bool = False
    seed: int = 0
    workdir: Path | None = None  # default: a temporary folder, removed afterwards

    @property
    def cut_s(self) -> float:
        return 30.0 if self.long else 4.0

    @property
    def window_s(self) -> float:
        return 30.0 if self.long else 6.0

    @property
    def flaps(self) -> int:
        return 15 if self.long else 4

    @property
    def kill_rounds(self) -> int:
        return 20 if self.long else 3


@dataclass
class Result:
    name: str
    figures: dict[str, float | int | str]
    summary: str


# --- a small RPC client (tools/ sits below cli/, whose wallet it cannot use) --------------


class Rpc:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url.rstrip("/")

    async def get(self, path: str) -> dict[str, Any]:
        async with self.session.get(self.url + path) as resp:
            doc = await resp.json(content_type=None)
            if resp.status >= 400 or not isinstance(doc, dict):
                raise FaultsError(f"{self.url}{path}: HTTP {resp.status} {str(doc)[:200]}")
            return doc

    async def status(self) -> dict[str, Any]:
        return await self.get("/v1/status")

    async def block(self, height: int) -> dict[str, Any]:
        return await self.get(f"/v1/blocks/{height}")

    async def submit(self, stx: SignedTx) -> str:
        """The tx's hash once accepted; FaultsError with the node's code if refused."""
        body = codec.encode([stx.to_value()])
        async with self.session.post(self.url + "/v1/txs", data=body,
                                     headers={"Content-Type": "application/msgpack"}) as resp:
            doc = await resp.json(content_type=None)
        items = doc.get("results") if isinstance(doc, dict) else None
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            raise FaultsError(f"refused (HTTP {resp.status}): {str(doc)[:200]}")
        if items[0].get("error"):
            raise FaultsError(f"refused: {items[0]['error']}")
        return str(items[0].get("hash", stx.hash.hex()))

    async def committed_at(self, tx_hash: str) -> int | None:
        """The height this node committed the tx at, or None while it has not."""
        async with self.session.get(f"{self.url}/v1/txs/{tx_hash}") as resp:
            if resp.status == 404:
                return None
            doc = await resp.json(content_type=None)
        if not (isinstance(doc, dict) and doc.get("status") == "committed"):
            return None
        return int(doc["height"])

    async def committed(self, tx_hash: str) -> bool:
        return await self.committed_at(tx_hash) is not None


NOT_YET = (FaultsError, aiohttp.ClientError, OSError, TimeoutError, ValueError)


async def wait_until(what: str, check_fn: Callable[[], Awaitable[bool]], timeout_s: float) -> float:
    """Poll until ``check_fn`` is true (errors of a node that is down count as not yet);
    the seconds it took, or ScenarioFailed after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    last: BaseException | None = None
    while True:
        try:
            if await check_fn():
                return loop.time() - start
        except NOT_YET as exc:
            last = exc
        if loop.time() - start > timeout_s:
            raise ScenarioFailed(f"timed out after {timeout_s:.0f} s waiting for {what}"
                                 + (f" (last error: {last})" if last else ""))
        await asyncio.sleep(POLL_S)


# --- the load -----------------------------------------------------------------------------


@dataclass
class Sender:
    key: PrivateKey
    rpc: Rpc
    chain_id: str
    nonce: int
    expiry_height: int

    def build(self, recipient: str) -> SignedTx:
        tx = Tx(chain_id=self.chain_id, sender=self.key.public_key, nonce=self.nonce,
                contract="token", method="transfer", args=(recipient, 1), max_fee=MAX_FEE,
                expiry_height=self.expiry_height)
        self.nonce += 1
        return tx.sign(self.key)


@dataclass
class Load:
    """Transfers from one sender per node, each submitted through that node."""

    senders: list[Sender]
    accepted: list[str] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # sender -> why it stopped

    async def run(self, stop: asyncio.Event) -> None:
        recipient = PrivateKey.from_seed_text("fault-recipient").address
        while not stop.is_set():
            for i, s in enumerate(self.senders):
                if i in self.refused:
                    continue
                try:
                    self.accepted.append(await s.rpc.submit(s.build(recipient)))
                except NOT_YET as exc:
                    # Its nonce is spent locally: later ones would wait on it forever.
                    self.refused[i] = str(exc)[:300]
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), LOAD_INTERVAL_S)


# --- the network --------------------------------------------------------------------------


class Net:
    def __init__(self, net: LocalNetwork, sup: Supervisor, rpcs: list[Rpc], faults: FaultNet) -> None:
        self.net = net
        self.sup = sup
        self.rpcs = rpcs
        self.faults = faults
        self.names = [n.name for n in net.nodes]

    async def statuses(self, nodes: Sequence[int] | None = None) -> list[dict[str, Any]]:
        which = range(N_NODES) if nodes is None else nodes
        return list(await asyncio.gather(*(self.rpcs[i].status() for i in which)))

    async def heights(self, nodes: Sequence[int] | None = None) -> list[int]:
        return [int(d["height"]) for d in await self.statuses(nodes)]

    async def peer_counts(self) -> list[int]:
        return [len(d["peers"]) for d in await self.statuses()]

    async def block_ids(self, height: int) -> set[tuple[str, str]]:
        blocks = await asyncio.gather(*(r.block(height) for r in self.rpcs))
        return {(str(b["hash"]), str(b["header"]["state_root"])) for b in blocks}

    def log_text(self, i: int) -> str:
        try:
            return self.sup.log_path(i).read_text(errors="replace")
        except OSError:
            return ""


def make_network(home: Path) -> LocalNetwork:
    net = init_network(home, N_NODES, base_port=free_base_port(N_NODES),
                       genesis_template=default_genesis_template())
    for node in net.nodes:
        config = NodeConfig.load(node.home)
        consensus = dataclasses.replace(config.consensus, view_timeout_ms=VIEW_TIMEOUT_MS,
                                        max_view_timeout_ms=MAX_VIEW_TIMEOUT_MS)
        config.with_changes(consensus=consensus).save(node.home)
    return net


def _rewire(net: LocalNetwork, faults: FaultNet) -> None:
    """Point every node's peers at the proxies of its links."""
    for node in net.nodes:
        config = NodeConfig.load(node.home)
        peers = tuple(dataclasses.replace(p, url=faults.url(node.name, p.name)) for p in config.p2p.peers)
        config.with_changes(p2p=dataclasses.replace(config.p2p, peers=peers)).save(node.home)


@dataclass
class Prepared:
    """What a scenario sets up before the nodes start."""

    node_env: dict[int, dict[str, str]] = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def faulty_network(settings: Settings, home: Path,
                         prepare: Callable[[LocalNetwork, Prepared], None] | None = None,
                         ) -> AsyncIterator[tuple[Net, Load]]:
    """The 4 nodes behind proxies, linked, under load; on a clean exit, the safety and
    exactly-once checks. Every process is gone afterwards, whatever happened."""
    net = make_network(home)
    faults = FaultNet({n.name: NodeConfig.load(n.home).p2p.port for n in net.nodes}, seed=settings.seed)
    prepared = Prepared()
    sup: Supervisor | None = None
    try:
        await faults.start()
        _rewire(net, faults)
        if prepare is not None:
            prepare(net, prepared)
        sup = Supervisor(net, node_env=prepared.node_env)
        sup.start_all()
        timeout = aiohttp.ClientTimeout(total=RPC_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            rpcs = [Rpc(session, n.rpc_url) for n in net.nodes]
            await asyncio.to_thread(sup.wait_ready, None, 60_000)
            n = Net(net, sup, rpcs, faults)
            await wait_until("all links up", _all_linked(n), 30)
            load = await _fund(n)
            stop = asyncio.Event()
            loader = asyncio.create_task(load.run(stop))
            try:
                yield n, load
            finally:
                stop.set()
                await loader
            await check_exactly_once(n, load)
    except Exception as exc:
        if isinstance(exc, ScenarioUnavailable):
            raise
        # Anything else that stops a scenario (a node that errs or dies) fails it, with the
        # end of every node's log.
        what = exc.message if isinstance(exc, ScenarioFailed) else f"{type(exc).__name__}: {exc}"
        tails = "" if sup is None else "\n" + "\n".join(
            f"--- {node.name} ---\n{sup.log_tail(i)}" for i, node in enumerate(sup.nodes))
        raise ScenarioFailed(what + tails) from exc
    finally:
        if sup is not None:
            sup.stop_all(grace_ms=3000)
        await faults.stop()
        for cleanup in reversed(prepared.cleanups):
            cleanup()


def _all_linked(n: Net) -> Callable[[], Awaitable[bool]]:
    async def linked() -> bool:
        return all(c == N_NODES - 1 for c in await n.peer_counts())
    return linked


async def _fund(n: Net) -> Load:
    operator = PrivateKey.load(n.net.operator_key_file)
    status = await n.rpcs[0].status()
    chain_id, height = str(status["chain_id"]), int(status["height"])
    account = await n.rpcs[0].get(f"/v1/accounts/{operator.address}")
    op = Sender(operator, n.rpcs[0], chain_id, int(account.get("pending_nonce", account["nonce"])),
                height + EXPIRY_MARGIN)
    keys = [PrivateKey.from_seed_text(f"fault-sender-{i}") for i in range(N_NODES)]
    hashes = []
    for k in keys:
        tx = Tx(chain_id=chain_id, sender=operator.public_key, nonce=op.nonce, contract="token",
                method="transfer", args=(k.address, FUNDING), max_fee=MAX_FEE,
                expiry_height=op.expiry_height)
        op.nonce += 1
        hashes.append(await n.rpcs[0].submit(tx.sign(operator)))

    async def funded() -> bool:
        # On every node: sender i submits to node i, whose mempool checks the fee against
        # its own committed state (a node that lags, as the clock scenario's do, would
        # refuse the sender's first txs with insufficient_fee).
        return all([await rpc.committed(h) for rpc in n.rpcs for h in hashes])

    await wait_until("the senders funded", funded, 60)
    return Load([Sender(k, n.rpcs[i], chain_id, 0, height + EXPIRY_MARGIN) for i, k in enumerate(keys)])


async def check_exactly_once(n: Net, load: Load, nodes: Sequence[int] | None = None) -> None:
    """Every accepted tx committed, in exactly one block, and every node of ``nodes``
    (default all) with the same block hash and state root at every height."""
    check(len(load.accepted) > 0, "the load got no tx accepted")
    which = list(range(N_NODES) if nodes is None else nodes)

    confirmed: dict[str, int] = {}  # tx -> the height one node committed it at

    async def all_committed() -> bool:
        for k, h in enumerate(load.accepted):
            if h not in confirmed:
                at = await n.rpcs[which[k % len(which)]].committed_at(h)
                if at is None:
                    return False
                confirmed[h] = at
        return True

    await wait_until(f"all {len(load.accepted)} accepted txs committed", all_committed, DRAIN_TIMEOUT_S)
    # One node may have committed a tx at a height a slower one (say, one catching up after
    # a restart) has not reached yet: compare every node up to the highest of them.
    height = max(confirmed.values())

    async def all_reached() -> bool:
        return min(await n.heights(which)) >= height

    await wait_until(f"every node at height {height}", all_reached, DRAIN_TIMEOUT_S)
    seen: Counter[str] = Counter()
    for h in range(1, height + 1):
        blocks = await asyncio.gather(*(n.rpcs[i].block(h) for i in which))
        ids = {(str(b["hash"]), str(b["header"]["state_root"])) for b in blocks}
        check(len(ids) == 1, f"nodes disagree at height {h}: {ids}")
        seen.update(str(t["hash"]) for t in blocks[0]["txs"])
    twice = [t for t, c in seen.items() if c > 1]
    check(not twice, f"committed more than once: {twice[:5]}")
    missing = [t for t in load.accepted if t not in seen]
    check(not missing, f"accepted but not committed: {missing[:5]}")


async def _watch_cut(n: Net, expected_peers: list[int], cut_s: float) -> float:
    """Hold the cut for ``cut_s``; how long the heartbeat took to show it in every node's
    peer count (checked within NOTICE_BOUND_S)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    noticed: float | None = None
    while loop.time() - start < cut_s:
        if noticed is None and await n.peer_counts() == expected_peers:
            noticed = loop.time() - start
        await asyncio.sleep(POLL_S)
    check(noticed is not None, f"peer counts never showed the cut: {await n.peer_counts()}")
    assert noticed is not None
    check(noticed <= NOTICE_BOUND_S, f"dead links noticed only after {noticed:.2f} s")
    return noticed


async def _recovery(n: Net, lift: Callable[[], None]) -> float:
    """Lift the fault; the seconds until every node reports one new common height
    (checked within RECOVERY_BOUND_S), after checking that they agree on its block."""
    loop = asyncio.get_running_loop()
    before = max(await n.heights())
    lift()
    lifted = loop.time()
    while True:
        heights = await n.heights()
        if min(heights) > before:
            took = loop.time() - lifted
            break
        check(loop.time() - lifted < 60,
              f"no common new height 60 s after the fault was lifted: {heights} (before {before})")
        await asyncio.sleep(POLL_S)
    ids = await n.block_ids(min(heights))
    check(len(ids) == 1, f"nodes disagree at height {min(heights)}: {ids}")
    check(took <= RECOVERY_BOUND_S, f"recovery took {took:.2f} s (bound {RECOVERY_BOUND_S:.0f} s)")
    await wait_until("all links up again", _all_linked(n), 30)
    return took


async def _proposer_of_next(n: Net) -> int:
    return (int((await n.rpcs[0].status())["height"]) + 1) % N_NODES


def _no_refusals(load: Load) -> None:
    check(not load.refused, f"txs refused: {load.refused}")


# --- scenarios ----------------------------------------------------------------------------


async def _isolate(settings: Settings, home: Path, pick: str) -> Result:
    async with faulty_network(settings, home) as (n, load):
        nxt = await _proposer_of_next(n)
        victim = nxt if pick == "proposer" else (nxt + 2) % N_NODES
        n.faults.isolate(n.names[victim])
        expected = [0 if i == victim else N_NODES - 2 for i in range(N_NODES)]
        noticed = await _watch_cut(n, expected, settings.cut_s)
        took = await _recovery(n, n.faults.heal)
        _no_refusals(load)
    what = "the proposer isolated" if pick == "proposer" else "one node isolated"
    return Result(pick, {"cut_s": settings.cut_s, "noticed_s": round(noticed, 2),
                         "recovered_s": round(took, 2), "accepted": len(load.accepted)},
                  f"{what}: cut {settings.cut_s:.0f} s, dead links noticed after {noticed:.2f} s, "
                  f"all {N_NODES} nodes at a new common height {took:.2f} s after the heal")


async def scenario_isolate(settings: Settings, home: Path) -> Result:
    return await _isolate(settings, home, "isolate")


async def scenario_proposer(settings: Settings, home: Path) -> Result:
    return await _isolate(settings, home, "proposer")


async def scenario_split(settings: Settings, home: Path) -> Result:
    async with faulty_network(settings, home) as (n, load):
        before = max(await n.heights())
        n.faults.partition(n.names[:2], n.names[2:])
        noticed = await _watch_cut(n, [1] * N_NODES, settings.cut_s)
        # No side has a quorum. One block may still be decided by votes in flight at the cut.
        stalled = max(await n.heights())
        check(stalled <= before + 1, f"blocks committed without a quorum: {before} -> {stalled}")
        took = await _recovery(n, n.faults.heal)
        _no_refusals(load)
    return Result("split", {"cut_s": settings.cut_s, "noticed_s": round(noticed, 2),
                            "recovered_s": round(took, 2), "accepted": len(load.accepted)},
                  f"2|2 split: cut {settings.cut_s:.0f} s, no commit during it, dead links "
                  f"noticed after {noticed:.2f} s, all {N_NODES} nodes at a new common height "
                  f"{took:.2f} s after the heal")


async def _shaped_window(n: Net, window_s: float, min_blocks: int, links_hold: bool = True) -> float:
    """Hold a fault that must not stop the chain for ``window_s``: every node commits at
    least ``min_blocks`` and (``links_hold``) no link dies. The blocks a second of the
    slowest node."""
    loop = asyncio.get_running_loop()
    start_height = min(await n.heights())
    started = loop.time()
    while loop.time() - started < window_s:
        await asyncio.sleep(POLL_S)  # holding the fault: the window is the scenario
    heights = await n.heights()
    check(min(heights) >= start_height + min_blocks,
          f"a node stopped committing under the fault: {start_height} -> {heights}")
    if links_hold:
        counts = await n.peer_counts()
        check(counts == [N_NODES - 1] * N_NODES, f"a link died under a fault that is not a cut: {counts}")
    return (min(heights) - start_height) / window_s


async def scenario_delay(settings: Settings, home: Path) -> Result:
    delay_ms, jitter_ms = 100, 50
    async with faulty_network(settings, home) as (n, load):
        n.faults.delay(delay_ms, jitter_ms)
        # An idle chain makes a block a second; three round trips of ≤ 300 ms fit in it.
        per_s = await _shaped_window(n, settings.window_s, 2)
        took = await _recovery(n, n.faults.clear)
        _no_refusals(load)
    return Result("delay", {"delay_ms": delay_ms, "jitter_ms": jitter_ms, "blocks_per_s": round(per_s, 2),
                            "recovered_s": round(took, 2), "accepted": len(load.accepted)},
                  f"delay {delay_ms} ± {jitter_ms} ms on every link for {settings.window_s:.0f} s: "
                  f"{per_s:.2f} blocks/s on every node; all at a new common height {took:.2f} s "
                  f"after it was lifted")


PACKET_LOSS, RTO_MS = 0.05, 200
LOSSY_DELAY_MS, LOSSY_JITTER_MS = 50, 50


def _blamers(n: Net) -> list[str]:
    """The nodes that dropped a peer for misbehaviour (p2p/network.py logs each)."""
    return [n.names[i] for i in range(N_NODES) if "dropping peer" in n.log_text(i)]


async def scenario_lossy(settings: Settings, home: Path) -> Result:
    async with faulty_network(settings, home) as (n, load):
        n.faults.delay(LOSSY_DELAY_MS, LOSSY_JITTER_MS)
        n.faults.packet_loss(PACKET_LOSS, RTO_MS)
        per_s = await _shaped_window(n, settings.window_s, 2)
        totals = n.faults.totals()
        took = await _recovery(n, n.faults.clear)
        _no_refusals(load)
        blamed = _blamers(n)
        check(not blamed, f"a slow link was blamed on a peer by {blamed}")
        check(totals.retransmits > 0, f"the fault did not bite: {totals}")
    return Result("lossy", {"delay_ms": LOSSY_DELAY_MS, "jitter_ms": LOSSY_JITTER_MS,
                            "packet_loss": PACKET_LOSS, "rto_ms": RTO_MS, "frames": totals.data_frames,
                            "retransmits": totals.retransmits, "blocks_per_s": round(per_s, 2),
                            "recovered_s": round(took, 2), "accepted": len(load.accepted)},
                  f"{LOSSY_DELAY_MS} ± {LOSSY_JITTER_MS} ms and {PACKET_LOSS:.0%} packet loss "
                  f"({RTO_MS} ms retransmissions) on every link for {settings.window_s:.0f} s "
                  f"({totals.retransmits} of {totals.data_frames} frames retransmitted): "
                  f"{per_s:.2f} blocks/s on every node; all at a new common height {took:.2f} s "
                  f"after it was lifted")


TAMPER_LOSS, TAMPER_DUPLICATION = 0.01, 0.01


async def scenario_tamper(settings: Settings, home: Path) -> Result:
    """Whole p2p frames dropped and repeated on the path: on sealed links an attacker's
    work, which the receiver must take for tampering (close the link, blame no one)."""
    async with faulty_network(settings, home) as (n, load):
        n.faults.lose(TAMPER_LOSS)
        n.faults.duplicate(TAMPER_DUPLICATION)
        per_s = await _shaped_window(n, settings.window_s, 2, links_hold=False)
        totals = n.faults.totals()
        took = await _recovery(n, n.faults.clear)
        _no_refusals(load)
        closed = sum(n.log_text(i).count("link_tampered") for i in range(N_NODES))
        check(totals.frames_lost + totals.frames_duplicated > 0, f"the fault did not bite: {totals}")
        check(closed > 0, "no node closed a link on which frames were dropped or repeated")
        blamed = _blamers(n)
        check(not blamed, f"frames dropped or repeated on the path were blamed on a peer by {blamed}")
        banned = [d["banned_peers"] for d in await n.statuses() if d.get("banned_peers")]
        check(not banned, f"peers banned for what the path did: {banned}")
    return Result("tamper", {"loss": TAMPER_LOSS, "duplication": TAMPER_DUPLICATION,
                             "frames": totals.data_frames, "lost": totals.frames_lost,
                             "duplicated": totals.frames_duplicated, "tampered_closes": closed,
                             "blocks_per_s": round(per_s, 2), "recovered_s": round(took, 2),
                             "accepted": len(load.accepted)},
                  f"{TAMPER_LOSS:.0%} of p2p frames dropped and {TAMPER_DUPLICATION:.0%} repeated "
                  f"on every link for {settings.window_s:.0f} s ({totals.frames_lost} dropped, "
                  f"{totals.frames_duplicated} repeated of {totals.data_frames}; {closed} goodbyes "
                  f"for tampered links, no peer blamed): {per_s:.2f} blocks/s on every node; all "
                  f"at a new common height {took:.2f} s after it was lifted")


async def scenario_flapping(settings: Settings, home: Path) -> Result:
    flap_s = 1.0
    async with faulty_network(settings, home) as (n, load):
        victim = n.names[(await _proposer_of_next(n) + 1) % N_NODES]
        for flap in range(settings.flaps):
            n.faults.isolate(victim)
            await asyncio.sleep(flap_s)  # the flap itself: cut this long, then healed
            if flap == settings.flaps - 1:
                break
            n.faults.heal()
            await asyncio.sleep(flap_s)
        took = await _recovery(n, n.faults.heal)  # heals the last flap and measures from there
        _no_refusals(load)
    return Result("flapping", {"flaps": settings.flaps, "recovered_s": round(took, 2),
                               "accepted": len(load.accepted)},
                  f"flapping: {victim} cut and healed every {flap_s:.0f} s {settings.flaps} times; "
                  f"all at a new common height {took:.2f} s after the last heal")


SLOW_LINK_BYTES_PER_S = 2 * 1024


async def scenario_slow_link(settings: Settings, home: Path) -> Result:
    """One node behind a thin line: every link to and from it capped at 2 KiB/s each way.
    The others must not wait for it; it may fall behind, and must catch up once the cap
    is lifted."""
    async with faulty_network(settings, home) as (n, load):
        victim = (await _proposer_of_next(n) + 2) % N_NODES
        others = [i for i in range(N_NODES) if i != victim]
        capped = [link for (a, b), link in n.faults.links.items() if n.names[victim] in (a, b)]
        before = [link.counts[d].bytes_out for link in capped for d in link.counts]
        for link in capped:
            link.limit(SLOW_LINK_BYTES_PER_S, SLOW_LINK_BYTES_PER_S)  # a burst of 1 s
        loop = asyncio.get_running_loop()
        start_height = min(await n.heights(others))
        started = loop.time()
        while loop.time() - started < settings.window_s:
            await asyncio.sleep(POLL_S)  # holding the fault: the window is the scenario
        held_s = loop.time() - started
        sent = [link.counts[d].bytes_out - b
                for (link, d), b in zip(((lk, d) for lk in capped for d in lk.counts), before, strict=True)]
        burst = capped[0].shape["up"].bucket.burst_bytes if capped[0].shape["up"].bucket else 0
        # The cap held: no direction passed more than the rate allows plus one burst (and
        # the piece in hand when the window closed).
        most = max(sent)
        check(most <= SLOW_LINK_BYTES_PER_S * held_s + burst + 64 * 1024,
              f"a capped direction passed {most} bytes in {held_s:.1f} s")
        heights = await n.heights()
        check(min(heights[i] for i in others) >= start_height + 2,
              f"the others stopped committing behind one slow node: {start_height} -> {heights}")
        lag = max(heights) - heights[victim]
        per_s = (min(heights[i] for i in others) - start_height) / settings.window_s
        took = await _recovery(n, n.faults.clear)
        _no_refusals(load)
        blamed = _blamers(n)
        check(not blamed, f"a slow link was blamed on a peer by {blamed}")
    return Result("slow-link", {"cap_bytes_per_s": SLOW_LINK_BYTES_PER_S, "blocks_per_s": round(per_s, 2),
                                "lag_blocks": lag, "busiest_direction_bytes_per_s": round(most / held_s),
                                "recovered_s": round(took, 2), "accepted": len(load.accepted)},
                  f"slow link: {n.names[victim]}'s links capped at {SLOW_LINK_BYTES_PER_S // 1024} KiB/s "
                  f"each way for {settings.window_s:.0f} s (the busiest direction carried "
                  f"{most / held_s:.0f} B/s): the others {per_s:.2f} blocks/s, "
                  f"{n.names[victim]} {lag} blocks behind at the end; all at a new common height "
                  f"{took:.2f} s after the cap was lifted")


def faketime_lib() -> str | None:
    return next((p for p in FAKETIME_LIBS if Path(p).exists()), None)


def _clock_env(offset_s: int) -> dict[str, str]:
    lib = faketime_lib()
    if lib is None:
        raise ScenarioUnavailable("libfaketime is not installed (Debian: apt-get install faketime)")
    # The wall clock only: a clock set wrong does not change how fast time passes.
    return {"LD_PRELOAD": lib, "FAKETIME": f"{offset_s:+d}s", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


async def scenario_clock(settings: Settings, home: Path) -> Result:
    ahead, behind = 1, 2

    def prepare(net: LocalNetwork, prepared: Prepared) -> None:
        prepared.node_env[ahead] = _clock_env(CLOCK_OFFSET_S)
        prepared.node_env[behind] = _clock_env(-CLOCK_OFFSET_S)

    window_s = settings.window_s
    async with faulty_network(settings, home, prepare) as (n, load):
        start = min(await n.heights())
        # Links are not the point here (libfaketime slows a node's clock reads a little).
        per_s = await _shaped_window(n, window_s, 2, links_hold=False)
        end = min(await n.heights())
        # The chain's time stays true: no block carries the fast clock's time.
        late_ms = 0
        for h in range(start + 1, end + 1):
            block = await n.rpcs[0].block(h)
            ahead_ms = int(block["header"]["timestamp_ms"]) - time.time_ns() // 1_000_000
            late_ms = max(late_ms, ahead_ms)
        check(late_ms <= MAX_CLOCK_DRIFT_MS, f"a block is {late_ms} ms ahead of true time")
        lag = max(await n.heights()) - min(await n.heights())
        _no_refusals(load)
        blamed = _blamers(n)
        check(not blamed, f"a clock that is off was blamed as misbehaviour by {blamed}")
    return Result("clock", {"offset_s": CLOCK_OFFSET_S, "blocks_per_s": round(per_s, 2),
                            "height_spread": lag, "accepted": len(load.accepted)},
                  f"clock: {n.names[ahead]} {CLOCK_OFFSET_S} s ahead and {n.names[behind]} "
                  f"{CLOCK_OFFSET_S} s behind for {window_s:.0f} s: {per_s:.2f} blocks/s on every "
                  f"node, no block ahead of true time, heights within {lag} of each other")


# --- disk full ----------------------------------------------------------------------------


def _mount_tmpfs(path: Path, size_bytes: int) -> Callable[[], None]:
    """A size-limited tmpfs over ``path`` (its present contents moved onto it)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        raise ScenarioUnavailable("mounting a size-limited tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    saved = Path(tempfile.mkdtemp(prefix="hkchain-disk-", dir=path.parent))
    for entry in path.iterdir():
        shutil.move(str(entry), saved / entry.name)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0700", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        for entry in saved.iterdir():
            shutil.move(str(entry), path / entry.name)
        saved.rmdir()
        raise ScenarioUnavailable(f"cannot mount a tmpfs: {done.stderr.strip()}")
    for entry in saved.iterdir():
        shutil.move(str(entry), path / entry.name)
    saved.rmdir()

    def unmount() -> None:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)

    return unmount


def fill(path: Path) -> int:
    """Fill the filesystem of ``path`` with one file until it is full; the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 64 << 10, 4 << 10, 512, 1):
            block = b"\xff" * size
            while True:
                try:
                    written += f.write(block) or 0
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return written


async def scenario_disk_full(settings: Settings, home: Path) -> Result:
    victim = 3
    data: list[Path] = []

    def prepare(net: LocalNetwork, prepared: Prepared) -> None:
        node_home = net.nodes[victim].home
        path = NodeConfig.load(node_home).data_path(node_home)
        prepared.cleanups.append(_mount_tmpfs(path, DISK_TMPFS_BYTES))
        data.append(path)

    async with faulty_network(settings, home, prepare) as (n, load):
        others = [i for i in range(N_NODES) if i != victim]
        # Let the load reach the victim's mempool and blocks first.
        await wait_until("a few blocks", _grown(n, 3), 30)
        last_status = (await n.statuses([victim]))[0]
        filler = data[0] / "filler"
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(fill, filler)
        proc = n.sup.procs[victim]

        async def victim_exited() -> bool:
            nonlocal last_status
            if proc.poll() is None:
                with contextlib.suppress(*NOT_YET):
                    last_status = (await n.statuses([victim]))[0]
                return False
            return True

        stopped_s = await wait_until(f"{n.names[victim]} to stop on a full disk", victim_exited,
                                     DISK_STOP_BOUND_S + 30)
        check(stopped_s <= DISK_STOP_BOUND_S, f"the node took {stopped_s:.1f} s to stop on a full disk")
        check(proc.returncode != 0, f"the node exited with {proc.returncode} on a full disk")
        text = n.log_text(victim)
        fatal = [ln for ln in text.splitlines() if "FATAL" in ln]
        check(bool(fatal), "no FATAL line in the log of the node whose disk filled up")
        check("the disk is full" in fatal[0] and "(disk_full)" in fatal[0]
              and "not of any peer" in fatal[0],
              f"the fatal message does not say that this machine's disk is full: {fatal[0][:300]}")
        check("dropping peer" not in text, "a full disk was blamed on a peer")
        # The others go on without it (one of four down is within f).
        before = min(await n.heights(others))
        await wait_until("the others committing while the node is down", _grown(n, 2, others, before), 30)
        if settings.long:
            await asyncio.sleep(settings.cut_s)  # the outage itself: more blocks to catch up on
        height_before = int(last_status["height"])
        hashes_before = {h: str((await n.rpcs[others[0]].block(h))["hash"])
                         for h in range(max(1, height_before - 5), height_before + 1)}
        # Space again: the operator frees it and starts the node.
        os.unlink(filler)
        n.sup.start(victim)
        restarted = loop.time()
        await asyncio.to_thread(n.sup.wait_ready, [victim], 60_000)
        status = (await n.statuses([victim]))[0]
        check(int(status["height"]) >= height_before,
              f"the node lost committed blocks: height {status['height']} < {height_before} before")
        for h, block_hash in hashes_before.items():
            got = str((await n.rpcs[victim].block(h))["hash"])
            check(got == block_hash, f"block {h} differs after the restart")

        async def caught_up() -> bool:
            heights = await n.heights()
            return heights[victim] >= max(heights[i] for i in others)

        await wait_until("the restarted node to catch up", caught_up, 60)
        caught_s = loop.time() - restarted
        check(caught_s <= DISK_CATCH_UP_BOUND_S, f"the restarted node caught up only after {caught_s:.1f} s")
        check(set(load.refused) <= {victim}, f"txs refused by nodes whose disk was fine: {load.refused}")
        accepted = len(load.accepted)
    message = fatal[0].split("FATAL: ", 1)[-1].replace(str(data[0]), "DATA")
    return Result("disk-full", {"stopped_s": round(stopped_s, 2), "caught_up_s": round(caught_s, 2),
                                "accepted": accepted, "fatal": message},
                  f"disk full on {n.names[victim]}: stopped {stopped_s:.2f} s after the disk filled, "
                  f"logging \"FATAL: {message[:160]}…\"; restarted with space, it kept "
                  f"every committed block and caught up in {caught_s:.2f} s")


class _BenchClock:
    """How far into its timed run the bench is (its progress sink), for the kill loop."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._elapsed_s = -1.0

    def update(self, phase: str, elapsed_s: float, total_s: float, submitted: int,
               committed: int) -> None:
        if phase == "load":
            with self._cond:
                self._elapsed_s = elapsed_s
                self._cond.notify_all()

    def wait_for(self, elapsed_s: float, timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._elapsed_s >= elapsed_s, timeout_s)


async def scenario_kills(settings: Settings, home: Path) -> Result:
    """``hkchain bench --rpc`` at 100 tx/s while a node is killed with SIGKILL, kept down
    3 s and restarted, every 6 s (nodes 1-3 in turn; node 0 answers the bench's receipt
    samples). The bench sends a down node's share to the next, renews its subscriptions
    and sends again what is refused for a passing reason; every tx it got accepted must
    commit exactly once on every node, the killed ones included, with one chain."""
    rounds = settings.kill_rounds
    duration_s = KILL_FIRST_S + rounds * (KILL_DOWN_S + KILL_UP_S) + 2.0
    net = make_network(home)
    sup = Supervisor(net)
    victims = [1 + r % (N_NODES - 1) for r in range(rounds)]
    started = time.monotonic()
    try:
        sup.start_all()
        await asyncio.to_thread(sup.wait_ready, None, 60_000)
        clock = _BenchClock()
        config = BenchConfig(duration_s=duration_s, rate_per_s=KILL_RATE_PER_S,
                             senders=KILL_SENDERS, rpc_urls=tuple(n.rpc_url for n in net.nodes),
                             funder_key_file=net.operator_key_file, drain_timeout_s=DRAIN_TIMEOUT_S)
        bench = asyncio.ensure_future(asyncio.to_thread(run_bench, config, clock))
        try:
            for r, victim in enumerate(victims):
                at_s = KILL_FIRST_S + r * (KILL_DOWN_S + KILL_UP_S)
                reached = await asyncio.to_thread(clock.wait_for, at_s, KILL_REACH_TIMEOUT_S)
                check(reached or bench.done(), f"the bench never reached {at_s:.0f} s of its run")
                if bench.done():
                    break  # it stopped early: its report says why
                sup.kill(victim)
                await asyncio.sleep(KILL_DOWN_S)  # the outage itself, not a wait for a condition
                sup.start(victim)
        finally:
            try:
                report = await bench  # bounded by its duration and drain
            except BenchError as exc:
                raise ScenarioFailed(f"the bench could not run: {exc.message}") from exc
        figs = report.node_figures
        check(not report.failures, "the bench under kills failed: " + "; ".join(report.failures))
        check(report.exactly_once and report.state_roots_agree,
              f"exactly once {report.exactly_once}, roots agree {report.state_roots_agree}")
        for victim in sorted(set(victims)):
            check(figs[victim].unreachable > 0,
                  f"{net.nodes[victim].name} was never found down: were the kills too late?")
            check(figs[victim].resubscribed >= 1,
                  f"the bench never renewed its subscription to {net.nodes[victim].name}")
        check(report.submitted > 0 and report.submitted == sum(f.accepted for f in figs),
              f"{report.submitted} accepted in all, {sum(f.accepted for f in figs)} by the nodes")
        for f in figs:
            check(f.txs_seen >= report.submitted and f.lost == 0 and f.duplicates == 0,
                  f"{f.name} saw {f.txs_seen} of {report.submitted} committed, "
                  f"{f.lost} lost, {f.duplicates} twice")
    except BaseException as exc:
        if isinstance(exc, ScenarioFailed):
            tails = "\n".join(f"--- {node.name} ---\n{sup.log_tail(i)}"
                              for i, node in enumerate(sup.nodes))
            raise ScenarioFailed(f"{exc.message}\n{tails}") from exc
        raise
    finally:
        sup.stop_all(grace_ms=3000)
    took_s = time.monotonic() - started
    per_node = "; ".join(f"{net.nodes[j].name} {f.accepted} accepted, {f.committed} committed, "
                         f"{f.unreachable} unreachable, {f.resubscribed} resubscribed"
                         for j, f in enumerate(figs))
    return Result("kills", {
        "rounds": rounds, "rate_per_s": KILL_RATE_PER_S, "timed_run_s": round(duration_s),
        "accepted": report.submitted, "committed": report.committed,
        "duplicates": sum(f.duplicates for f in figs), "lost": sum(f.lost for f in figs),
        "sent_again": report.retried, "heights_compared": report.heights_compared,
        "took_s": round(took_s, 1),
        **{f"{net.nodes[j].name}_accepted": f.accepted for j, f in enumerate(figs)},
        **{f"{net.nodes[j].name}_committed": f.committed for j, f in enumerate(figs)},
    }, f"{rounds} kill -9 rounds at {KILL_RATE_PER_S} tx/s over a {duration_s:.0f} s run: "
       f"{report.submitted} accepted, {report.committed} committed, none lost or twice, one "
       f"chain ({report.heights_compared} heights compared), {report.retried} sent again, "
       f"{took_s:.0f} s in all; per node: {per_node}")


def _grown(n: Net, blocks: int, nodes: Sequence[int] | None = None,
           base: int | None = None) -> Callable[[], Awaitable[bool]]:
    start: list[int] = [] if base is None else [base]

    async def grown() -> bool:
        h = min(await n.heights(nodes))
        if not start:
            start.append(h)
        return h >= start[0] + blocks
    return grown


# --- the registry and the runner ----------------------------------------------------------


Scenario = Callable[[Settings, Path], Awaitable[Result]]

SCENARIOS: dict[str, tuple[Scenario, str]] = {
    "isolate": (scenario_isolate, "one node cut off, then healed"),
    "proposer": (scenario_proposer, "the next proposer cut off, then healed"),
    "split": (scenario_split, "a 2|2 split: no commits, then healed"),
    "delay": (scenario_delay, "100 ± 50 ms on every link"),
    "lossy": (scenario_lossy, "50 ± 50 ms and 5% packet loss (200 ms retransmissions) on every link"),
    "tamper": (scenario_tamper, "1% of p2p frames dropped and 1% repeated on the path (sealed links close)"),
    "flapping": (scenario_flapping, "one node's links cut and healed every second"),
    "slow-link": (scenario_slow_link, "one node's links capped at 2 KiB/s each way"),
    "clock": (scenario_clock, "one node's clock 30 s ahead, one 30 s behind"),
    "disk-full": (scenario_disk_full, "one node's disk fills up (ENOSPC), then has space again"),
    "kills": (scenario_kills, "a node killed with SIGKILL and restarted every 6 s under bench load"),
}


async def run_scenario(name: str, settings: Settings) -> Result:
    if name not in SCENARIOS:
        raise FaultsError(f"no scenario {name!r}; there are: {', '.join(SCENARIOS)}")
    scenario, _ = SCENARIOS[name]
    if settings.workdir is not None:
        home = settings.workdir / name
        if home.exists():
            shutil.rmtree(home)
        home.mkdir(parents=True)
        return await scenario(settings, home / "localnet")
    with tempfile.TemporaryDirectory(prefix=f"hkchain-faults-{name}-") as tmp:
        return await scenario(settings, Path(tmp) / "localnet")
