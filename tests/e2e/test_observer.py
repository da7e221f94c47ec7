"""An observer beside a 4-validator localnet, all real processes on 127.0.0.1.

The observer (made by `hkchain init --observer --join`, run by `hkchain node start
--observer`) joins late, so it first syncs certified blocks, then follows. Txs sent to its
RPC reach the validators and commit; it reports the validators' heights, blocks and state
roots, serves proofs that check against the certificates, and the web app; and no
validator's commit certificate ever carries its key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cli.prove import check_proof
from cli.wallet import RpcClient, Wallet
from core.crypto import PrivateKey
from node.config import NodeConfig
from node.home import init_observer
from tests.e2e.harness import describe_logs, field, make_network, running, wait_until
from vm import layout

pytestmark = pytest.mark.slow

N_NODES = 4
N_TXS = 24
AMOUNT = 5
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
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


async def test_an_observer_follows_serves_and_never_votes(tmp_path: Path) -> None:
    net = make_network(tmp_path / "localnet", N_NODES)
    made = init_observer(net.home)
    obs_home = made.node.home
    # The flag alone makes it an observer: the config written by init says so too, and
    # is turned off here so the test sees that `--observer` is enough.
    config = NodeConfig.load(obs_home)
    assert config.observer and {p.public_key for p in config.p2p.peers} == {n.public_key for n in net.nodes}
    config.with_changes(observer=False).save(obs_home)
    obs_key = made.node.public_key
    for node in net.nodes:
        assert obs_key in NodeConfig.load(node.home).p2p.observers

    with running(net) as sup:
        try:
            async with contextlib.AsyncExitStack() as stack:
                rpcs = [await stack.enter_async_context(RpcClient(n.rpc_url, timeout_ms=5000))
                        for n in net.nodes]
                await asyncio.to_thread(sup.wait_ready, None, 60_000)
                operator = PrivateKey.load(net.operator_key_file)
                # Blocks with txs before the observer exists: it must sync them.
                early = Wallet(operator, rpcs[0])
                await early.sync()
                first = await rpcs[0].submit(early.build("token", "transfer", [operator.address, 1]))
                await rpcs[0].wait_tx(first, timeout_ms=int(TIMEOUT_S * 1000))
                with observer_process(obs_home) as proc:
                    obs = await stack.enter_async_context(RpcClient(made.node.rpc_url, timeout_ms=5000))
                    try:
                        await _scenario(net.nodes, rpcs, obs, operator, obs_key)
                    except BaseException:
                        print("--- observer ---\n" + (obs_home / "node.log").read_text(errors="replace")[-4000:])
                        raise
                    assert proc.poll() is None, "the observer exited"
        except BaseException:
            print(describe_logs(sup))
            raise


async def _scenario(nodes: Any, rpcs: list[RpcClient], obs: RpcClient, operator: PrivateKey,
                    obs_key: bytes) -> None:
    start_height = int((await rpcs[0].status())["height"])

    async def caught_up() -> dict[str, Any] | None:
        # Synced, and linked to every validator (it may sync from the first ones to answer).
        doc = await obs.status()
        linked = len(doc["peers"]) == len(nodes)
        return doc if int(doc["height"]) >= start_height and linked else None

    status = await wait_until("the observer synced to the validators' height and linked to all",
                              caught_up, timeout_s=TIMEOUT_S)
    assert status["validator"] is False and status["observer"] is True
    assert {p["public_key"] for p in status["peers"]} == {n.public_key.hex() for n in nodes}
    assert obs_key.hex() not in {v["public_key"] for v in status["validators"]}
    synced = _metric(await obs.metrics(), "hkchain_blocks_synced_total")
    assert synced >= 1, "a late observer fetches certified blocks by sync"

    # Txs sent to the observer's RPC reach the validators and commit.
    recipient = PrivateKey.from_seed_text("observer-e2e-recipient").address
    wallet = Wallet(operator, obs)
    await wallet.sync()
    txs = [wallet.build("token", "transfer", [recipient, AMOUNT]) for _ in range(N_TXS)]
    results = await obs.submit_batch(txs)
    assert all(r.accepted for r in results), [r for r in results if not r.accepted][:3]
    for k, r in enumerate(results):
        record = await rpcs[k % N_NODES].wait_tx(r.tx_hash, timeout_ms=int(TIMEOUT_S * 1000))
        assert record["receipt"]["status"] in (0, "ok"), record
        await obs.wait_tx(r.tx_hash, timeout_ms=int(TIMEOUT_S * 1000))

    # The same heights, blocks and state roots as the validators.
    async def same_head() -> tuple[int, str] | None:
        docs = await asyncio.gather(obs.status(), *(r.status() for r in rpcs))
        seen = {(int(d["height"]), str(d["state_root"])) for d in docs}
        return seen.pop() if len(seen) == 1 else None

    await wait_until("the observer and the validators at one height and state root", same_head,
                     timeout_s=TIMEOUT_S, interval_s=0.05)
    top = int((await obs.status())["height"])
    validator_keys = {n.public_key.hex() for n in nodes}
    for h in range(1, top + 1):
        mine = await obs.block(h)
        theirs = await rpcs[h % N_NODES].block(h)
        assert field(mine, "hash", "block_hash") == field(theirs, "hash", "block_hash"), h
        assert field(mine, "state_root") == field(theirs, "state_root"), h
        signers = {s["validator"] for s in theirs["certificate"]["signatures"]}
        assert obs_key.hex() not in signers, f"the observer's key signed block {h}"
        assert signers <= validator_keys and len(signers) >= 3, (h, signers)

    # Queries and proofs from the observer check against the validators' certificates.
    assert int((await obs.account(recipient))["balance"]) == N_TXS * AMOUNT
    key = layout.balance_key(recipient)
    proof = await obs.proof(key.hex())
    block = await obs.block(int(proof["height"]))
    genesis = json.loads((nodes[0].home / "genesis.json").read_text())
    proven = check_proof(proof, block, key, genesis["validators"])
    assert proven.value == N_TXS * AMOUNT

    # The web app is served at /.
    async with aiohttp.ClientSession() as http, http.get(obs.url + "/") as resp:
        assert resp.status == 200 and "text/html" in resp.headers.get("Content-Type", "")


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name}")
