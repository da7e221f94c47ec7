"""A tx the RPC accepted survives SIGKILL of the node that accepted it before it could
gossip it, and then commits exactly once: all real processes on 127.0.0.1.

The node is an observer started while no validator runs, so nothing it accepts can have
left it; it is killed with SIGKILL right after its 202s. An observer never proposes, so
its txs commit only if, once restarted, it takes them back from its journal and announces
them to the validators when they connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.wallet import RpcClient, Wallet
from core.crypto import PrivateKey
from node.home import init_observer
from tests.e2e.harness import describe_logs, make_network, running, wait_until

pytestmark = pytest.mark.slow

N_NODES = 4
N_TXS = 12
AMOUNT = 3
TIMEOUT_S = 60.0


@contextlib.contextmanager
def observer_process(home: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`hkchain node start --home HOME --observer`; on exit the process is gone."""
    log = open(home / "node.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "node", "start", "--home", str(home), "--observer"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()


async def test_txs_accepted_by_a_node_killed_before_gossip_commit_exactly_once(tmp_path: Path) -> None:
    net = make_network(tmp_path / "localnet", N_NODES)
    made = init_observer(net.home)
    obs_home = made.node.home
    operator = PrivateKey.load(net.operator_key_file)
    recipient = PrivateKey.from_seed_text("accepted-survive-kill").address
    async with RpcClient(made.node.rpc_url, timeout_ms=5000) as obs:
        # 1. The observer alone: it accepts txs, and has no peer to tell of them.
        with observer_process(obs_home) as proc:
            status = await wait_until("the observer answers", obs.status, timeout_s=TIMEOUT_S)
            assert status["peers"] == [], "no validator runs yet"
            wallet = Wallet(operator, obs)
            await wallet.sync()
            txs = [wallet.build("token", "transfer", [recipient, AMOUNT]) for _ in range(N_TXS)]
            results = await obs.submit_batch(txs)
            assert all(r.accepted for r in results), [r for r in results if not r.accepted][:3]
            proc.send_signal(signal.SIGKILL)  # a crash right after the 202s
            proc.wait()
        hashes = [r.tx_hash for r in results]

        # 2. The validators, and the observer restarted from what it left on disk.
        with running(net) as sup, observer_process(obs_home):
            try:
                await asyncio.to_thread(sup.wait_ready, None, 60_000)
                # The validators being ready says nothing of the observer's own RPC.
                await wait_until("the restarted observer answers", obs.status, timeout_s=TIMEOUT_S)
                async with contextlib.AsyncExitStack() as stack:
                    rpcs = [await stack.enter_async_context(RpcClient(n.rpc_url, timeout_ms=5000))
                            for n in net.nodes]
                    for h in hashes:
                        for rpc in (obs, *rpcs):
                            record = await rpc.wait_tx(h, timeout_ms=int(TIMEOUT_S * 1000))
                            assert record["receipt"]["status"] in (0, "ok"), record
                    # Exactly once: each hash in one block of the chain, nowhere else.
                    head = int((await rpcs[0].status())["height"])
                    counts: Counter[str] = Counter()
                    for height in range(1, head + 1):
                        block = await rpcs[0].block(height)
                        counts.update(tx["hash"] for tx in block.get("txs", []))
                    assert {h: counts[h] for h in hashes} == {h: 1 for h in hashes}
                    balance = int((await rpcs[0].account(recipient))["balance"])
                    assert balance == N_TXS * AMOUNT
            except BaseException:
                print(describe_logs(sup))
                print("--- observer ---\n" + (obs_home / "node.log").read_text(errors="replace")[-4000:])
                raise
