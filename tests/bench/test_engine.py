"""The bench engine's pieces without a network: pre-signing, percentiles, and the final
checks, which must fail loudly on a lost tx, a duplicate or a disagreeing node."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from core.crypto import PrivateKey
from core.types import SignedTx
from storage.leveldb import LevelDBStore
from tests.node.harness import free_port
from tools.bench import (
    PROPOSAL_BODIES_FETCHED,
    PROPOSAL_BYTES_SENT,
    PROPOSAL_DECODE_CPU,
    PROPOSALS_RECEIVED,
    PROPOSALS_SENT,
    BenchConfig,
    BenchError,
    BenchReport,
    Community,
    NodeFigures,
    Percentiles,
    ProcessProbe,
    _NodeTrack,
    _NoProgress,
    _Rpc,
    _Run,
    check,
    disk_usage,
    presign,
    proposal_figures,
    settled_disk_usage,
)
from vm.executor import MAX_NONCE_GAP

CHAIN = "hk-bench-test"


def _senders(n: int) -> list[PrivateKey]:
    return [PrivateKey.from_seed_text(f"bench-test-{i}") for i in range(n)]


def test_presign_orders_each_senders_nonces_on_one_node() -> None:
    senders = _senders(5)
    plan = presign("transfers", senders, 23, CHAIN, 3)
    assert len(plan) == 23 and len(set(plan.hashes)) == 23
    nonces: dict[bytes, list[int]] = defaultdict(list)
    node_of_sender: dict[bytes, set[int]] = defaultdict(set)
    for k, body in enumerate(plan.bodies):
        stx = SignedTx.decode(bytes.fromhex(body))
        stx.validate_basic()  # signed by its sender, for this chain
        assert stx.hash.hex() == plan.hashes[k] and plan.index[plan.hashes[k]] == k
        assert stx.tx.chain_id == CHAIN and (stx.tx.contract, stx.tx.method) == ("token", "transfer")
        nonces[stx.tx.sender].append(stx.tx.nonce)
        node_of_sender[stx.tx.sender].add(plan.node_of[k])
    for sender_nonces in nonces.values():
        assert sender_nonces == list(range(len(sender_nonces)))
    assert all(len(nodes) == 1 for nodes in node_of_sender.values())


def test_presign_votes_name_the_proposal() -> None:
    plan = presign("votes", _senders(2), 6, CHAIN, 1, community=Community(proposal_id=7))
    for body in plan.bodies:
        tx = SignedTx.decode(bytes.fromhex(body)).tx
        assert (tx.contract, tx.method) == ("governance", "vote")
        assert tx.args[0] == 7 and tx.args[1] in ("yes", "no", "abstain")


def test_mixed_workload_pays_each_bill_once_and_cycles_kinds() -> None:
    senders = _senders(3)
    bills = {0: [11, 12], 1: [21], 2: []}
    community = Community(proposal_id=4, bills=bills, rating_period="p1")
    plan = presign("mixed", senders, 60, CHAIN, 2, community=community)
    paid: list[int] = []
    for body in plan.bodies:
        tx = SignedTx.decode(bytes.fromhex(body)).tx
        if tx.method == "pay_bill":
            assert isinstance(tx.args[0], int)
            paid.append(tx.args[0])
    assert sorted(paid) == [11, 12, 21]  # every bill once, none invented
    assert bills == {0: [11, 12], 1: [21], 2: []}  # the caller's community is untouched
    assert plan.mix["token.transfer"] == 36 and plan.mix["governance.vote"] == 12
    assert plan.mix["property.rate"] + plan.mix["property.pay_bill"] == 12
    assert sum(plan.mix.values()) == 60


def test_percentiles_nearest_rank() -> None:
    p = Percentiles.of([float(v) for v in range(1, 101)])
    assert (p.samples, p.p50, p.p95, p.p99, p.max) == (100, 50.0, 95.0, 99.0, 100.0)
    assert Percentiles.of([]).samples == 0


def test_config_is_validated() -> None:
    with pytest.raises(BenchError):
        BenchConfig(duration_s=0).validate()
    with pytest.raises(BenchError):
        BenchConfig(rpc_urls=("http://127.0.0.1:1",)).validate()  # no funder key
    with pytest.raises(BenchError):
        BenchConfig(senders=10_000).validate()
    BenchConfig(duration_s=3, rate_per_s=10).validate()


async def _run_with(blocks: list[list[tuple[int, str, str, list[int]]]], accepted: list[int],
                    txs: int = 4) -> BenchReport:
    """A finished run whose node j saw ``blocks[j]`` = [(height, hash, root, plan indices)]."""
    plan = presign("transfers", _senders(2), txs, CHAIN, len(blocks))
    async with aiohttp.ClientSession() as session:
        tracks = [_NodeTrack(f"node{j}", _Rpc(session, "http://127.0.0.1:9")) for j in range(len(blocks))]
        run = _Run(BenchConfig(duration_s=1), plan, tracks, _NoProgress())
        for k in accepted:
            run.accepted[k] = 1
            run.submitted += 1
        for j, seen in enumerate(blocks):
            for height, h, root, ks in seen:
                run.on_block(j, {"height": height, "hash": h, "state_root": root,
                                 "txs": [plan.hashes[k] for k in ks]}, 1.0)
    report = BenchReport("transfers", len(blocks), "localnet", 1, 0, None,
                         node_figures=[NodeFigures(t.name, t.rpc.url) for t in tracks])
    report.submitted = run.submitted
    check(run, report)
    return report


async def test_check_passes_when_every_node_commits_every_tx_once() -> None:
    chain = [(1, "a", "r1", [0, 1]), (2, "b", "r2", [2, 3])]
    report = await _run_with([chain, chain], [0, 1, 2, 3])
    assert report.ok and report.exactly_once and report.state_roots_agree
    assert report.heights_compared == 2


async def test_check_fails_on_a_lost_tx() -> None:
    full = [(1, "a", "r1", [0, 1]), (2, "b", "r2", [2, 3])]
    short = [(1, "a", "r1", [0, 1]), (2, "b", "r2", [2])]
    report = await _run_with([full, short], [0, 1, 2, 3])
    assert not report.ok and not report.exactly_once
    assert report.node_figures[1].lost == 1
    assert any("not committed" in f for f in report.failures)


async def test_check_fails_on_a_duplicate() -> None:
    chain = [(1, "a", "r1", [0, 1]), (2, "b", "r2", [1, 2, 3])]
    report = await _run_with([chain], [0, 1, 2, 3])
    assert not report.ok and report.node_figures[0].duplicates == 1


async def test_check_fails_when_nodes_disagree_on_a_state_root() -> None:
    a = [(1, "a", "r1", [0, 1, 2, 3])]
    b = [(1, "a", "r-other", [0, 1, 2, 3])]
    report = await _run_with([a, b], [0, 1, 2, 3])
    assert not report.ok and not report.state_roots_agree
    assert any("disagree" in f for f in report.failures)


def test_disk_usage_splits_the_data_directory_by_store(tmp_path: Path) -> None:
    (tmp_path / "chain").mkdir()
    (tmp_path / "chain" / "000003.log").write_bytes(b"w" * 300)
    (tmp_path / "chain" / "000005.ldb").write_bytes(b"t" * 1000)
    (tmp_path / "chain" / "LOG").write_bytes(b"l" * 7)  # LevelDB's text log, not its WAL
    (tmp_path / "mempool" / "deep").mkdir(parents=True)
    (tmp_path / "mempool" / "deep" / "000001.log").write_bytes(b"m" * 50)
    (tmp_path / "stray").write_bytes(b"s" * 3)
    before = disk_usage(tmp_path)
    assert before.parts == {"chain": 1307, "mempool": 50, "other": 3}
    assert before.wal_bytes == 350 and before.total == 1360
    (tmp_path / "chain" / "000006.ldb").write_bytes(b"t" * 2000)
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / "x").write_bytes(b"b" * 100)
    after = disk_usage(tmp_path)
    assert after.growth_per_tx(before, 4) == {"blobs": 25.0, "chain": 500.0, "mempool": 0.0, "other": 0.0}


def test_settled_disk_usage_folds_the_logs_into_tables(tmp_path: Path) -> None:
    store = LevelDBStore(tmp_path / "chain")
    for i in range(2000):
        store.put(b"k%05d" % i, b"v" * 200)
    for i in range(1000):  # deleted again, as the mempool journal does
        store.delete(b"k%05d" % i)
    store.close()
    raw = disk_usage(tmp_path)
    assert raw.wal_bytes > 2000 * 200, "the writes are still in the log"
    settled = settled_disk_usage(tmp_path)
    assert settled.wal_bytes == 0
    assert 1000 * 200 <= settled.parts["chain"] <= raw.parts["chain"]
    reopened = LevelDBStore(tmp_path / "chain")
    try:
        assert reopened.get(b"k01500") == b"v" * 200 and reopened.get(b"k00001") is None
    finally:
        reopened.close()


async def test_check_tells_txs_behind_a_hole_the_bench_left() -> None:
    # Two senders, txs k = 0..5 alternate; sender 0's second tx (k = 2) was never
    # accepted, so its third (k = 4) cannot commit anywhere.
    chain = [(1, "a", "r1", [0, 1, 3, 5])]
    report = await _run_with([chain], [0, 1, 3, 4, 5], txs=6)
    assert not report.ok and not report.exactly_once
    fig = report.node_figures[0]
    assert (fig.lost, fig.lost_behind_hole) == (1, 1)
    assert any("1 of them wait behind an earlier tx of their sender" in f for f in report.failures)


class NonceWindowNode(_Rpc):
    """POST /v1/txs of a node as its mempool admits nonces (node/mempool.py, check_tx):
    below the account's nonce is bad_nonce; a nonce more than MAX_NONCE_GAP ahead of the
    first one this node holds no tx for is nonce_gap; the same tx again is accepted again.
    ``learn`` is what gossip or block sync would bring it."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        super().__init__(session, "http://127.0.0.1:9")
        self.held: dict[bytes, set[int]] = defaultdict(set)
        self.account: Counter[bytes] = Counter()

    def learn(self, stx: SignedTx) -> None:
        self.held[stx.tx.sender].add(stx.tx.nonce)

    def commit_upto(self, sender: bytes, nonce: int) -> None:
        self.account[sender] = nonce

    async def post_txs(self, bodies: Sequence[str]) -> tuple[int, Any]:
        results: list[dict[str, Any]] = []
        for body in bodies:
            stx = SignedTx.decode(bytes.fromhex(body))
            tx, held = stx.tx, self.held[stx.tx.sender]
            base = self.account[tx.sender]
            while base in held:
                base += 1
            if tx.nonce < self.account[tx.sender]:
                results.append({"error": {"code": "bad_nonce", "message": "used"}})
            elif tx.nonce not in held and tx.nonce > base + MAX_NONCE_GAP:
                results.append({"error": {"code": "nonce_gap", "message": f"ahead of {base}"}})
            else:
                held.add(tx.nonce)
                results.append({"hash": stx.hash.hex()})
        return 200, {"results": results, "accepted": sum("hash" in r for r in results)}


def _stx(plan_body: str) -> SignedTx:
    return SignedTx.decode(bytes.fromhex(plan_body))


async def test_a_nonce_gap_is_sent_again_until_the_node_holds_the_earlier_txs() -> None:
    """A node that lacks a sender's earlier txs (catching up, or they are on a node that
    was killed before it gossiped them) answers nonce_gap: the bench sends the tx again
    rather than give it up, which would strand every later tx of its sender."""
    n = MAX_NONCE_GAP + 2
    plan = presign("transfers", _senders(1), n, CHAIN, 1)
    async with aiohttp.ClientSession() as session:
        node = NonceWindowNode(session)
        run = _Run(BenchConfig(duration_s=10, drain_timeout_s=30), plan,
                   [_NodeTrack("node0", node)], _NoProgress())
        clock = [100.0]
        run.t0 = 100.0
        run.now = lambda: clock[0]  # type: ignore[method-assign]
        # Nonces 1.. reach this node; nonce 0 is still only on a node that is down.
        again = await run._send(0, list(range(1, n)))
        last = n - 1  # the only nonce more than MAX_NONCE_GAP ahead of 0
        assert again == [last] and not run.refused and not run.accepted[last]
        clock[0] = run.ends_at - 1  # the timed run is over, its drain is not
        assert await run._send(0, again) == [last] and not run.refused
        node.learn(_stx(plan.bodies[0]))  # the killed node is back and announced it
        assert await run._send(0, again) == []
        assert run.accepted[last] and not run.refused and run.submitted == n - 1
        assert run.submit_t[last] == 100.0, "latency counts from the first try"


async def test_a_tx_refused_for_a_passing_reason_is_given_up_only_when_the_run_ends() -> None:
    n = MAX_NONCE_GAP + 2
    plan = presign("transfers", _senders(1), n, CHAIN, 1)
    async with aiohttp.ClientSession() as session:
        run = _Run(BenchConfig(duration_s=10, drain_timeout_s=30), plan,
                   [_NodeTrack("node0", NonceWindowNode(session))], _NoProgress())
        clock = [100.0]
        run.t0 = 100.0
        run.now = lambda: clock[0]  # type: ignore[method-assign]
        assert await run._send(0, [n - 1]) == [n - 1]
        clock[0] = run.ends_at
        assert await run._send(0, [n - 1]) == []
        assert run.refused == {"nonce_gap": 1} and not run.accepted[n - 1]


async def test_bad_nonce_counts_as_accepted_only_after_an_unclear_answer() -> None:
    plan = presign("transfers", _senders(1), 2, CHAIN, 1)
    sender = _stx(plan.bodies[0]).tx.sender
    async with aiohttp.ClientSession() as session:
        node = NonceWindowNode(session)
        node.commit_upto(sender, 2)  # both nonces are used on chain
        run = _Run(BenchConfig(duration_s=1), plan, [_NodeTrack("node0", node)], _NoProgress())
        run.unclear.add(0)  # tx 0 went to a node that died before it answered
        assert await run._send(0, [0, 1]) == []
        assert run.accepted[0] and not run.accepted[1]
        assert run.refused == {"bad_nonce": 1}


async def test_a_block_read_twice_counts_once_and_a_changed_block_is_an_error() -> None:
    chain = [(1, "a", "r1", [0, 1]), (1, "a", "r1", [0, 1]), (2, "b", "r2", [2, 3])]
    report = await _run_with([chain], [0, 1, 2, 3])
    assert report.ok and report.node_figures[0].duplicates == 0
    changed = [(1, "a", "r1", [0, 1]), (1, "x", "r1", [0, 1]), (2, "b", "r2", [2, 3])]
    report = await _run_with([changed], [0, 1, 2, 3])
    assert not report.ok and any("block 1 seen as a and then x" in f for f in report.failures)


async def test_a_renewed_subscription_reads_the_blocks_missed_without_waiting_for_the_next() -> None:
    """A node that restarted and synced while the chain then stalls sends no new block:
    the bench must read what it missed when it subscribes again, or it would count those
    txs as never committed on that node."""
    plan = presign("transfers", _senders(2), 4, CHAIN, 1)
    blocks = {1: [0, 1], 2: [2], 3: [3]}  # height -> plan indices; the head is 3

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        await sock.receive()  # the subscribe request
        await sock.send_json({"type": "subscribed"})
        await sock.receive()  # then silence: no block commits, until the client leaves
        return sock

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"height": max(blocks)})

    async def block(request: web.Request) -> web.Response:
        h = int(request.match_info["h"])
        if h not in blocks:
            return web.json_response({"error": {"code": "not_found", "message": "no"}}, status=404)
        return web.json_response({"height": h, "hash": f"h{h}", "header": {
            "state_root": f"r{h}", "timestamp_ms": h}, "txs": [{"hash": plan.hashes[k]} for k in blocks[h]]})

    app = web.Application()
    app.router.add_get("/v1/ws", ws)
    app.router.add_get("/v1/status", status)
    app.router.add_get("/v1/blocks/{h}", block)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        async with aiohttp.ClientSession() as session:
            track = _NodeTrack("node0", _Rpc(session, f"http://127.0.0.1:{port}"))
            track.blocks[1] = ("h1", "r1")
            track.last_height = 1  # followed up to block 1 before the node went down
            run = _Run(BenchConfig(duration_s=1), plan, [track], _NoProgress())
            ready = asyncio.Event()
            follower = asyncio.create_task(run._subscribe(0, ready))
            await asyncio.wait_for(ready.wait(), 10)
            async with asyncio.timeout(10):
                while track.last_height != 3:
                    await asyncio.sleep(0.01)
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        assert sorted(track.blocks) == [1, 2, 3] and track.seen == {2, 3}
    finally:
        await runner.cleanup()


async def test_proposal_figures_are_the_window_deltas_summed_over_nodes() -> None:
    async with aiohttp.ClientSession() as session:
        rpc = _Rpc(session, "http://127.0.0.1:9")
        a, b, silent = _NodeTrack("node0", rpc), _NodeTrack("node1", rpc), _NodeTrack("node2", rpc)
        a.proposals_start = {PROPOSALS_SENT: 10, PROPOSAL_BYTES_SENT: 1_000, PROPOSALS_RECEIVED: 5,
                             PROPOSAL_DECODE_CPU: 0.5, PROPOSAL_BODIES_FETCHED: 3}
        a.proposals_end = {PROPOSALS_SENT: 12, PROPOSAL_BYTES_SENT: 7_000, PROPOSALS_RECEIVED: 9,
                           PROPOSAL_DECODE_CPU: 0.504, PROPOSAL_BODIES_FETCHED: 10}
        b.proposals_start = {PROPOSALS_SENT: 0, PROPOSAL_BYTES_SENT: 0, PROPOSALS_RECEIVED: 0,
                             PROPOSAL_DECODE_CPU: 0.0}
        b.proposals_end = {PROPOSALS_SENT: 1, PROPOSAL_BYTES_SENT: 3_000, PROPOSALS_RECEIVED: 2,
                           PROPOSAL_DECODE_CPU: 0.002}
        silent.proposals_end = {PROPOSALS_SENT: 99}  # not read at the start: left out
        fig = proposal_figures([a, b, silent])
    assert (fig.sent, fig.bytes_sent, fig.received) == (3, 9_000, 6)
    assert fig.bytes_per_block == 3_000.0
    assert fig.decode_cpu_ms_per_proposal == 1.0 and fig.decode_cpu_ms_per_block == 2.0
    assert fig.bodies_fetched == 7 and fig.fetch_failures is None  # no node reported failures
    assert proposal_figures([silent]).bytes_per_block is None


class _SlowMetricsNode(_Rpc):
    """A node whose metrics answer after a while (as a busy one does); it notes the calls
    in ``events`` beside its probe's CPU readings."""

    def __init__(self, session: aiohttp.ClientSession, events: list[str]) -> None:
        super().__init__(session, "http://127.0.0.1:9")
        self.events = events

    async def metric(self, name: str) -> float | None:
        self.events.append("rpc")
        await asyncio.sleep(0.01)
        return 0.0

    async def metrics(self, names: Sequence[str]) -> dict[str, float]:
        self.events.append("rpc")
        await asyncio.sleep(0.01)
        return {}


class _NotingProbe(ProcessProbe):
    def __init__(self, events: list[str]) -> None:
        super().__init__(0, None)
        self.events = events

    def cpu_s(self) -> float | None:
        self.events.append("cpu")
        return 1.0


async def test_every_nodes_cpu_is_read_before_the_rpc_calls_at_the_window_start() -> None:
    # The window's CPU must be read at one moment on every node: reading each after the
    # RPC calls to the nodes before it shortened the last nodes' windows at scale.
    plan = presign("transfers", _senders(1), 1, CHAIN, 3)
    events: list[str] = []
    async with aiohttp.ClientSession() as session:
        tracks = [_NodeTrack(f"node{j}", _SlowMetricsNode(session, events), probe=_NotingProbe(events))
                  for j in range(3)]
        run = _Run(BenchConfig(duration_s=0.05), plan, tracks, _NoProgress())
        run.t0 = run.now()
        await run.sample(0.0)
    assert events[:3] == ["cpu"] * 3 and events[3] == "rpc"
    start_rpcs = events.index("cpu", 3)
    assert events[start_rpcs:start_rpcs + 3] == ["cpu"] * 3  # the end, read together too
