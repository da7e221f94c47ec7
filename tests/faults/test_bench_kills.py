"""`hkchain bench --rpc` against a real 4-node network while one node is killed with
SIGKILL and restarted: the bench sends that node's share to the others while it is down,
renews its block subscription when it is back, and still finds every accepted tx committed
exactly once on every node, with one chain."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from tests.e2e.harness import describe_logs, make_network, running
from tools.bench import BenchConfig, run_bench

pytestmark = pytest.mark.slow

N_NODES = 4
VICTIM = 2
DURATION_S = 14.0
RATE_PER_S = 40
KILL_AT_S = 3.0  # into the timed run
DOWN_S = 3.0


class Progress:
    """Tells the test how far into the timed run the bench is."""

    def __init__(self) -> None:
        self.loaded = threading.Event()

    def update(self, phase: str, elapsed_s: float, total_s: float, submitted: int,
               committed: int) -> None:
        if phase == "load" and elapsed_s >= KILL_AT_S:
            self.loaded.set()


async def test_bench_survives_a_node_killed_under_load(tmp_path: Path) -> None:
    net = make_network(tmp_path / "localnet", N_NODES)
    with running(net) as sup:
        try:
            await asyncio.to_thread(sup.wait_ready, None, 60_000)
            progress = Progress()
            config = BenchConfig(duration_s=DURATION_S, rate_per_s=RATE_PER_S, senders=8,
                                 rpc_urls=tuple(n.rpc_url for n in net.nodes),
                                 funder_key_file=net.operator_key_file, drain_timeout_s=60.0)
            bench = asyncio.create_task(asyncio.to_thread(run_bench, config, progress))
            loaded = await asyncio.to_thread(progress.loaded.wait, 120.0)
            assert loaded, "the bench never reached its timed run"
            sup.kill(VICTIM)
            await asyncio.sleep(DOWN_S)  # the outage itself, not a wait for a condition
            sup.start(VICTIM)
            report = await bench
        except BaseException:
            print(describe_logs(sup))
            raise
    assert report.failures == [], report.failures
    assert report.ok and report.exactly_once and report.state_roots_agree
    victim = report.node_figures[VICTIM]
    assert victim.unreachable > 0, victim  # its share went elsewhere while it was down
    assert victim.resubscribed >= 1, victim
    assert report.submitted == sum(f.accepted for f in report.node_figures) > 0
    # Every node saw every accepted tx committed, the killed one included.
    assert all(f.txs_seen >= report.submitted and f.lost == 0 and f.duplicates == 0
               for f in report.node_figures), report.node_figures
    print(f"bench under a kill: {report.submitted} accepted, {report.committed} committed; "
          f"{victim.name}: {victim.unreachable} submissions refused, "
          f"{victim.resubscribed} resubscriptions")
