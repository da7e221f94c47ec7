"""A Byzantine validator among three honest ones, every node a real process on real p2p
links: node0 runs tests/byzantine/node.py, which equivocates (two PRE-PREPAREs for one
height, two votes for one height and view) and sends its peers garbage (forged and bad
signatures, a proposal for the wrong height, undecodable, unknown and truncated frames,
votes far ahead and long decided), while a light load of transfers goes through the
honest nodes. The test checks:

- liveness and safety: the honest three keep committing, with one block hash and state
  root at every height, and every accepted tx is committed exactly once;
- evidence: every honest node shows the equivocations at ``/v1/evidence``, naming node0
  only, each checkable with node0's public key alone;
- cost: garbage costs node0 its links (``hkchain_p2p_dropped_peers_total{peer="node0"}``,
  for forged signatures and for undecodable frames) and never an honest peer, and it
  never stops an honest node.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cli.wallet import RpcClient, RpcError, Wallet
from core.crypto import PrivateKey, verify
from node.config import NodeConfig
from node.localnet import Supervisor
from tests.e2e.harness import describe_logs, make_network, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BYZ = 0
HONEST = (1, 2, 3)
BAN_MS = 300
MAX_BAN_MS = 2000
GARBAGE_INTERVAL_MS = 2500
BLOCKS_AFTER = 10  # honest commits required after the evidence and the penalties are seen
WAIT_S = 150.0
LOAD_INTERVAL_S = 0.5
FUNDING = 1_000_000
# What forged signatures and undecodable frames are dropped for (p2p/network.py punish).
REQUIRED_REASONS = {"bad_signature", "malformed"}
HARMFUL = {"bad_signature": "bad_signature", "forged_sender": "bad_signature",
           "wrong_height_proposal": "malformed", "random_bytes": "malformed",
           "unknown_frame": "malformed", "truncated_frame": "malformed"}
HARMLESS = {"far_future_vote", "decided_height_vote"}  # signed and not provably wrong
SENT = re.compile(r"BYZANTINE: sending (\w+) to (\w+)")
DROPPED = re.compile(r'^hkchain_p2p_dropped_peers_total\{peer="([^"]*)",reason="([^"]*)"\} (\S+)$', re.M)


class ByzantineSupervisor(Supervisor):
    """The localnet's processes, node BYZ running the Byzantine variant."""

    def command(self, index: int) -> list[str]:
        if index != BYZ:
            return super().command(index)
        return [sys.executable, "-m", "tests.byzantine.node", "--home", str(self.nodes[index].home),
                "--attack", "equivocate,garbage", "--garbage-interval-ms", str(GARBAGE_INTERVAL_MS)]


def dropped_peers(metrics: str) -> dict[tuple[str, str], float]:
    return {(peer, reason): float(v) for peer, reason, v in DROPPED.findall(metrics)}


async def evidence(session: aiohttp.ClientSession, rpc_url: str) -> list[dict[str, Any]]:
    async with session.get(f"{rpc_url}/v1/evidence?limit=1000") as resp:
        assert resp.status == 200
        doc = await resp.json()
    records: list[dict[str, Any]] = doc["evidence"]
    return records


async def test_honest_nodes_outlast_an_equivocating_validator_that_sends_garbage(tmp_path: Path) -> None:
    net = make_network(tmp_path / "net", 4)
    for node in net.nodes:  # short bans, so the liar keeps coming back to lie again
        config = NodeConfig.load(node.home)
        p2p = dataclasses.replace(config.p2p, misbehaviour_ban_ms=BAN_MS, max_misbehaviour_ban_ms=MAX_BAN_MS)
        config.with_changes(p2p=p2p).save(node.home)
    byz_key = PrivateKey.load(net.nodes[BYZ].home / NodeConfig.load(net.nodes[BYZ].home).key_file)
    names = {i: n.name for i, n in enumerate(net.nodes)}
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    sup = ByzantineSupervisor(net, extra_env={"PYTHONPATH": pythonpath})
    try:
        sup.start_all()
        await asyncio.to_thread(sup.wait_ready, None, 60_000)
        async with contextlib.AsyncExitStack() as stack:
            session = await stack.enter_async_context(aiohttp.ClientSession())
            rpcs = {i: await stack.enter_async_context(RpcClient(net.nodes[i].rpc_url, timeout_ms=5000))
                    for i in HONEST}
            honest_urls = {i: net.nodes[i].rpc_url for i in HONEST}

            # --- a light load through the honest nodes --------------------------------------
            operator = PrivateKey.load(net.operator_key_file)
            op = Wallet(operator, rpcs[HONEST[0]])
            await op.sync()
            senders = [PrivateKey.from_seed_text(f"byz-sender-{i}") for i in HONEST]
            for s in senders:
                await rpcs[HONEST[0]].wait_tx(await rpcs[HONEST[0]].submit(
                    op.build("token", "transfer", [s.address, FUNDING])), timeout_ms=60_000)
            wallets = [Wallet(s, rpcs[i], expiry_margin=10_000) for s, i in zip(senders, HONEST, strict=True)]
            for w in wallets:
                await w.sync()
            accepted: list[str] = []
            stop = asyncio.Event()
            recipient = PrivateKey.from_seed_text("byz-recipient").address

            async def load() -> None:
                while not stop.is_set():
                    for w in wallets:
                        try:
                            accepted.append(await w.rpc.submit(w.build("token", "transfer", [recipient, 1])))
                        except (RpcError, OSError, TimeoutError) as exc:
                            raise AssertionError(f"an honest node refused a transfer: {exc}") from exc
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), LOAD_INTERVAL_S)

            loader = asyncio.create_task(load())

            # --- the evidence and the penalties show up on every honest node -------------------
            async def evidence_everywhere() -> dict[int, list[dict[str, Any]]] | None:
                found = {i: await evidence(session, url) for i, url in honest_urls.items()}
                kinds = [{e["kind"] for e in records} for records in found.values()]
                return found if all({"pre-prepare", "prepare"} <= k for k in kinds) else None

            async def penalties_everywhere() -> dict[int, dict[tuple[str, str], float]] | None:
                seen = {i: dropped_peers(await rpcs[i].metrics()) for i in HONEST}
                reasons = [{r for (p, r) in d if p == names[BYZ]} for d in seen.values()]
                return seen if all(REQUIRED_REASONS <= r for r in reasons) else None

            async def all_garbage_sent() -> bool:
                sent = set(SENT.findall(sup.log_path(BYZ).read_text(errors="replace")))
                return all((kind, names[i]) in sent for kind in [*HARMFUL, *HARMLESS] for i in HONEST)

            await wait_until("node0 to send every kind of garbage to every honest node",
                             all_garbage_sent, timeout_s=WAIT_S)
            found = await wait_until("equivocation evidence at every honest node", evidence_everywhere,
                                     timeout_s=WAIT_S)
            penalties = await wait_until("garbage to cost node0 at every honest node",
                                         penalties_everywhere, timeout_s=WAIT_S)
            # Liveness: the honest three keep committing after all of it.
            async def heights() -> list[int]:
                return [int((await rpcs[i].status())["height"]) for i in HONEST]

            base = max(await heights())

            async def moved_on() -> bool:
                return min(await heights()) >= base + BLOCKS_AFTER

            await wait_until(f"{BLOCKS_AFTER} more honest commits", moved_on, timeout_s=WAIT_S)
            stop.set()
            await loader

            # --- evidence names the liar only, and checks without trusting the node --------------
            for i, records in found.items():
                assert records, names[i]
                for e in records:
                    assert e["validator"] == byz_key.public_key.hex(), (names[i], e)
                    assert e["validator_name"] == names[BYZ]
                    assert e["first"]["block_hash"] != e["second"]["block_hash"]
                    for side in (e["first"], e["second"]):
                        assert verify(byz_key.public_key, bytes.fromhex(side["signed_bytes"]),
                                      bytes.fromhex(side["signature"]))

            # --- garbage cost node0, never an honest peer ----------------------------------------
            sent = Counter(SENT.findall(sup.log_path(BYZ).read_text(errors="replace")))
            for i in HONEST:
                final = dropped_peers(await rpcs[i].metrics())
                blamed = {p for (p, _), n in final.items() if n > 0}
                assert blamed == {names[BYZ]}, (names[i], final)
                # Each link drop answers a harmful item; the harmless ones cost nothing.
                harmful_sent = sum(n for (kind, peer), n in sent.items()
                                   if peer == names[i] and kind in HARMFUL)
                punished = sum(final.values())
                assert punished <= harmful_sent, (names[i], final, sent)
                assert sup.is_running(i), f"{names[i]} stopped:\n{sup.log_tail(i)}"
                assert "FATAL" not in sup.log_tail(i), sup.log_tail(i)
            print(f"penalties seen: {penalties}")

            # --- safety and exactly once -------------------------------------------------------
            for k, tx_hash in enumerate(accepted):
                await rpcs[HONEST[k % len(HONEST)]].wait_tx(tx_hash, timeout_ms=60_000)
            height = min(await heights())
            seen: Counter[str] = Counter()
            for h in range(1, height + 1):
                blocks = [await rpcs[i].block(h) for i in HONEST]
                ids = {(str(b["hash"]), str(b["header"]["state_root"])) for b in blocks}
                assert len(ids) == 1, f"honest nodes disagree at height {h}: {ids}"
                seen.update(str(t["hash"]) for t in blocks[0]["txs"])
            assert accepted
            assert not [t for t, c in seen.items() if c > 1], "a tx committed twice"
            assert not [t for t in accepted if t not in seen], "an accepted tx was not committed"
            print(f"honest height {height}; evidence per node: "
                  f"{ {names[i]: Counter(e['kind'] for e in r) for i, r in found.items()} }")
    except BaseException:
        print(describe_logs(sup))
        raise
    finally:
        sup.stop_all(grace_ms=3000)
