"""A committee joins a running network, all real processes on 127.0.0.1.

A 4-validator localnet runs and commits; a 5th node (made by `hkchain init --join NET
--state-sync`) starts, takes a snapshot of a certified height instead of replaying the
blocks, and follows. The validators vote it in by a chain proposal; from the proposal's
closing height + 2 it is a validator and its signatures appear in certificates. Then they
vote one of the first four out, and the network of four keeps committing without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.wallet import RpcClient, Wallet
from core.crypto import PrivateKey
from node.config import NodeConfig
from node.home import default_genesis_template, init_network, init_observer
from tests.e2e.harness import (
    E2E_MAX_VIEW_TIMEOUT_MS,
    E2E_VIEW_TIMEOUT_MS,
    describe_logs,
    field,
    free_base_port,
    running,
    wait_until,
)

pytestmark = pytest.mark.slow

N_NODES = 4
# Votes are sent right after the proposal commits; a busy machine may take a few blocks
# to commit them, and a vote after the close is refused.
VOTING_BLOCKS = 8
FUNDS = 10**8
TIMEOUT_S = 60.0


@contextlib.contextmanager
def node_process(home: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`hkchain node start --home HOME`; on exit the process is gone."""
    log = open(home / "node.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "node", "start", "--home", str(home)],
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


async def test_a_node_joins_by_state_sync_is_voted_in_and_another_voted_out(tmp_path: Path) -> None:
    template = json.loads(default_genesis_template().read_text())
    template["params"]["governance"]["chain_voting_blocks"] = VOTING_BLOCKS
    (tmp_path / "genesis.json").write_text(json.dumps(template))
    net = init_network(tmp_path / "net", N_NODES, base_port=free_base_port(N_NODES + 1),
                       genesis_template=tmp_path / "genesis.json")
    for node in net.nodes:
        config = NodeConfig.load(node.home)
        consensus = dataclasses.replace(config.consensus, view_timeout_ms=E2E_VIEW_TIMEOUT_MS,
                                        max_view_timeout_ms=E2E_MAX_VIEW_TIMEOUT_MS)
        config.with_changes(consensus=consensus).save(node.home)
    made = init_observer(net.home, observer=False, state_sync=True)
    joiner = made.node
    assert joiner.name == "joiner0" and NodeConfig.load(joiner.home).state_sync

    with running(net) as sup:
        try:
            async with contextlib.AsyncExitStack() as stack:
                rpcs = [await stack.enter_async_context(RpcClient(n.rpc_url, timeout_ms=5000))
                        for n in net.nodes]
                await asyncio.to_thread(sup.wait_ready, None, 60_000)
                with node_process(joiner.home) as proc:
                    new = await stack.enter_async_context(RpcClient(joiner.rpc_url, timeout_ms=5000))
                    try:
                        await _scenario(net, rpcs, new, joiner.home)
                    except BaseException:
                        print("--- joiner0 ---\n" + (joiner.home / "node.log").read_text(errors="replace")[-6000:])
                        raise
                    assert proc.poll() is None, "the joining node exited"
        except BaseException:
            print(describe_logs(sup))
            raise


async def _fund_and_wait(rpcs: list[RpcClient], operator: PrivateKey, addresses: list[str]) -> None:
    wallet = Wallet(operator, rpcs[0])
    await wallet.sync()
    hashes = [await rpcs[0].submit(wallet.build("token", "transfer", [a, FUNDS])) for a in addresses]
    for h in hashes:
        await rpcs[0].wait_tx(h, timeout_ms=int(TIMEOUT_S * 1000))


async def _call(rpc: RpcClient, key: PrivateKey, method: str, args: list[Any]) -> Any:
    wallet = Wallet(key, rpc)
    await wallet.sync()
    tx_hash = await rpc.submit(wallet.build("governance", method, args))
    record = await rpc.wait_tx(tx_hash, timeout_ms=int(TIMEOUT_S * 1000))
    receipt = record["receipt"]
    assert receipt["status"] in (0, "ok"), receipt
    return receipt.get("result")


async def _change_set(rpcs: list[RpcClient], voters: list[tuple[RpcClient, PrivateKey]],
                      action: list[Any], title: str) -> int:
    """Propose ``action`` as a chain matter, vote yes with ``voters``; the height the new
    set applies from (closes + 2)."""
    rpc, proposer = voters[0]
    pid = await _call(rpc, proposer, "propose_chain", [action, title])
    await asyncio.gather(*(_call(r, k, "vote", [pid, "yes"]) for r, k in voters))
    proposal = await rpcs[0].query("governance", "proposal", [pid])
    return int(proposal["closes"]) + 2


async def _signers(rpc: RpcClient, height: int) -> set[str]:
    doc = await rpc.block(height)
    return {s["validator"] for s in doc["certificate"]["signatures"]}


async def _scenario(net: Any, rpcs: list[RpcClient], new: RpcClient, joiner_home: Path) -> None:
    operator = PrivateKey.load(net.operator_key_file)
    keys = [PrivateKey.load(n.home / "node.key") for n in net.nodes]
    new_key = PrivateKey.load(joiner_home / "node.key")
    await _fund_and_wait(rpcs, operator, [k.address for k in (*keys, new_key)])

    # 1. It joins by state sync: a snapshot of a certified height, no blocks before it.
    start = int((await rpcs[0].status())["height"])

    async def joined() -> dict[str, Any] | None:
        doc = await new.status()
        return doc if int(doc["height"]) >= start and doc["snapshot_height"] else None

    status = await wait_until("the new node took a snapshot and followed", joined, timeout_s=TIMEOUT_S)
    snapshot = int(status["snapshot_height"])
    assert snapshot >= 2 and status["validator"] is False and status["observer"] is False
    with pytest.raises(Exception, match="state sync"):
        await new.block(1)
    mine, theirs = await new.block(snapshot), await rpcs[1].block(snapshot)
    assert field(mine, "hash", "block_hash") == field(theirs, "hash", "block_hash")
    assert field(mine, "state_root") == field(theirs, "state_root")
    synced = await new.metrics()
    assert "hkchain_blocks_synced_total" in synced

    # 2. The validators vote it in; from closes + 2 it is one of them and signs.
    effective = await _change_set(
        rpcs, [(rpcs[i], keys[i]) for i in range(3)],
        ["add_validator", new_key.public_key, "joiner0"], "add committee joiner0")

    async def in_set() -> bool:
        doc = await new.status()
        return int(doc["height"]) >= effective and doc["validator"] is True

    await wait_until("the new node became a validator", in_set, timeout_s=TIMEOUT_S)
    assert len((await rpcs[0].status())["validators"]) == N_NODES + 1

    async def signed() -> int | None:
        # Each node keeps the first quorum of COMMITs it collected: look at all four.
        head = int((await rpcs[0].status())["height"])
        for h in range(effective, head + 1):
            for rpc in rpcs:
                if new_key.public_key.hex() in await _signers(rpc, h):
                    return h
        return None

    await wait_until("a certificate signed by the new validator", signed, timeout_s=TIMEOUT_S)

    # 3. They vote node3 out (the five vote now: 4 of 5 are needed).
    voters = [(rpcs[0], keys[0]), (rpcs[1], keys[1]), (rpcs[2], keys[2]), (new, new_key)]
    removed = keys[3].public_key
    out_from = await _change_set(rpcs, voters, ["remove_validator", removed], "remove node3")

    async def four_left() -> int | None:
        doc = await new.status()
        return int(doc["height"]) if int(doc["height"]) >= out_from + 5 else None

    top = await wait_until("five blocks committed after node3 left", four_left, timeout_s=TIMEOUT_S)
    validators = {v["public_key"] for v in (await new.status())["validators"]}
    assert validators == {k.public_key.hex() for k in (*keys[:3], new_key)}
    for h in range(out_from, top + 1):
        signers = await _signers(new, h)
        assert removed.hex() not in signers, f"the removed validator signed block {h}"
        assert len(signers) >= 3 and signers <= validators, (h, signers)
