"""The acceptance scenario, with real node processes on 127.0.0.1.

A 4-validator localnet; 500 transfers from several keys through different nodes, all
committed, every node at the same height and state root, balances adding up. SIGKILL a
validator (also the proposer): the other three keep committing; restarted, it catches up
to the same state root. Garbage to the RPC and the p2p port: nothing crashes, no state
changes. Two validators stopped: no block commits; one back: blocks resume.

Every wait is a poll of a condition with a deadline; the network is always torn down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cli.wallet import RpcClient, Wallet
from core.crypto import PrivateKey
from core.types import SignedTx, Tx
from core.verify import validator_set_from_json, verify_block
from node.home import LocalNetwork
from node.localnet import Supervisor
from tests.e2e.harness import describe_logs, field, make_network, running, wait_until

pytestmark = pytest.mark.slow

N_NODES = 4
N_SENDERS = 5
N_RECIPIENTS = 7
N_TRANSFERS = 500
AMOUNT = 3
SUBMIT_CHUNK = 50
COMMIT_TIMEOUT_S = 90.0
PROGRESS_TIMEOUT_S = 45.0
# With 2 of 4 validators down no quorum exists; watch this long (several empty-block
# intervals and view timeouts) to see that no block commits meanwhile.
NO_PROGRESS_WINDOW_S = 6.0


class Net:
    """The running network as the scenario sees it: processes and one RPC client each."""

    def __init__(self, net: LocalNetwork, sup: Supervisor, rpcs: list[RpcClient]) -> None:
        self.net = net
        self.sup = sup
        self.rpcs = rpcs

    def live(self) -> list[int]:
        return [i for i in range(N_NODES) if self.sup.is_running(i)]

    async def status(self, i: int) -> dict[str, Any]:
        return await self.rpcs[i].status()

    async def heights(self, nodes: list[int]) -> list[int]:
        docs = await asyncio.gather(*(self.status(i) for i in nodes))
        return [int(d["height"]) for d in docs]

    async def wait_height(self, nodes: list[int], height: int, timeout_s: float = PROGRESS_TIMEOUT_S) -> None:
        async def check() -> bool:
            return min(await self.heights(nodes)) >= height

        await wait_until(f"{[self.net.nodes[i].name for i in nodes]} at height {height}", check,
                         timeout_s=timeout_s)

    async def wait_same_state(self, nodes: list[int]) -> tuple[int, str]:
        """Poll until every node in ``nodes`` reports one (height, state root); return it."""

        async def check() -> tuple[int, str] | None:
            docs = await asyncio.gather(*(self.status(i) for i in nodes))
            seen = {(int(d["height"]), str(d["state_root"])) for d in docs}
            return seen.pop() if len(seen) == 1 else None

        return await wait_until("the same height and state root on every node", check,
                                timeout_s=PROGRESS_TIMEOUT_S, interval_s=0.05)

    async def assert_same_block(self, nodes: list[int], height: int) -> None:
        blocks = await asyncio.gather(*(self.rpcs[i].block(height) for i in nodes))
        roots = {str(field(b, "state_root")) for b in blocks}
        hashes = {str(field(b, "hash", "block_hash")) for b in blocks}
        assert len(roots) == 1 and len(hashes) == 1, f"nodes disagree at height {height}: {blocks}"

    async def account(self, address: str, node: int = 0) -> tuple[int, int]:
        doc = await self.rpcs[node].account(address)
        return int(doc["balance"]), int(doc["nonce"])

    async def wait_committed(self, hashes: list[str], via: list[int]) -> list[dict[str, Any]]:
        """Every tx committed; their records (fetched round-robin over ``via``)."""
        out: list[dict[str, Any]] = []
        for k, h in enumerate(hashes):
            out.append(await self.rpcs[via[k % len(via)]].wait_tx(h, timeout_ms=int(COMMIT_TIMEOUT_S * 1000)))
        return out


def _receipt_ok(record: dict[str, Any]) -> bool:
    rec = record.get("receipt", {})
    return isinstance(rec, dict) and rec.get("status") in (0, "ok")


def _fee(record: dict[str, Any]) -> int:
    return int(record["receipt"]["fee"])


async def test_acceptance_scenario(tmp_path: Path) -> None:
    started = time.monotonic()
    net = make_network(tmp_path / "localnet", N_NODES)
    with running(net) as sup:
        try:
            async with contextlib.AsyncExitStack() as stack:
                rpcs = [await stack.enter_async_context(RpcClient(n.rpc_url, timeout_ms=5000))
                        for n in net.nodes]
                await asyncio.to_thread(sup.wait_ready, None, 60_000)
                await _scenario(Net(net, sup, rpcs))
        except BaseException:
            print(describe_logs(sup))
            raise
    print(f"acceptance scenario took {time.monotonic() - started:.1f}s")


async def _scenario(n: Net) -> None:
    everyone = list(range(N_NODES))
    await n.wait_height(everyone, 1)

    # --- 500 transfers from several keys through different nodes -----------------------
    operator = PrivateKey.load(n.net.operator_key_file)
    senders = [PrivateKey.from_seed_text(f"e2e-sender-{i}") for i in range(N_SENDERS)]
    recipients = [PrivateKey.from_seed_text(f"e2e-recipient-{i}").address for i in range(N_RECIPIENTS)]
    supply_before = await n.rpcs[0].query("token", "supply")
    op_balance, _ = await n.account(operator.address)
    funding = min(op_balance // (2 * N_SENDERS), 10_000_000)
    assert funding > (N_TRANSFERS // N_SENDERS) * AMOUNT * 2, f"operator too poor: {op_balance}"

    op_wallet = Wallet(operator, n.rpcs[0])
    await op_wallet.sync()
    fund_txs = [op_wallet.build("token", "transfer", [s.address, funding]) for s in senders]
    results = await n.rpcs[0].submit_batch(fund_txs)
    assert all(r.accepted for r in results), results
    funded = await n.wait_committed([r.tx_hash for r in results], everyone)
    assert all(_receipt_ok(r) for r in funded), funded

    wallets = [Wallet(s, n.rpcs[i % N_NODES]) for i, s in enumerate(senders)]
    await asyncio.gather(*(w.sync() for w in wallets))
    sent_to: Counter[str] = Counter()
    per_sender: list[list[SignedTx]] = [[] for _ in senders]
    for k in range(N_TRANSFERS):
        s = k % N_SENDERS
        to = recipients[k % N_RECIPIENTS]
        per_sender[s].append(wallets[s].build("token", "transfer", [to, AMOUNT]))
        sent_to[to] += 1

    async def submit_all(s: int) -> list[str]:
        hashes: list[str] = []
        for start in range(0, len(per_sender[s]), SUBMIT_CHUNK):
            res = await wallets[s].rpc.submit_batch(per_sender[s][start : start + SUBMIT_CHUNK])
            assert all(r.accepted for r in res), [r for r in res if not r.accepted][:3]
            hashes.extend(r.tx_hash for r in res)
        return hashes

    t0 = time.monotonic()
    hash_lists = await asyncio.gather(*(submit_all(s) for s in range(N_SENDERS)))

    async def all_nonces_in() -> bool:
        nonces = await asyncio.gather(*(n.account(w.address, i % N_NODES) for i, w in enumerate(wallets)))
        return all(nonce == w.next_nonce for (_, nonce), w in zip(nonces, wallets, strict=True))

    await wait_until("all 500 transfers committed", all_nonces_in, timeout_s=COMMIT_TIMEOUT_S)
    print(f"500 transfers committed in {time.monotonic() - t0:.1f}s")
    records = [await n.wait_committed(hs, everyone) for hs in hash_lists]
    for recs in records:
        assert all(_receipt_ok(r) for r in recs), [r for r in recs if not _receipt_ok(r)][:3]

    height, _ = await n.wait_same_state(everyone)
    await n.assert_same_block(everyone, height)
    # Finality checked by the client against the genesis validators, trusting no node.
    genesis = json.loads((n.net.nodes[0].home / "genesis.json").read_text())
    trusted = validator_set_from_json(genesis["validators"])
    for h in {int(recs[0]["height"]) for recs in records}:
        assert verify_block(await n.rpcs[h % N_NODES].block(h), trusted).height == h
    for to, count in sent_to.items():
        assert (await n.account(to))[0] == count * AMOUNT
    for s, recs in enumerate(records):
        fees = sum(_fee(r) for r in recs)
        balance, nonce = await n.account(senders[s].address, (s + 1) % N_NODES)
        assert balance == funding - len(recs) * AMOUNT - fees
        assert nonce == len(recs)
    # Transfers and fees move points; none are created or destroyed.
    assert await n.rpcs[2].query("token", "supply") == supply_before

    # --- SIGKILL a validator; the others commit; it restarts and catches up --------------
    await _crash_and_recover(n, victim=3, during=[(operator, 1)])

    # --- SIGKILL the proposer of the next height -----------------------------------------
    status = await n.status(0)
    h = int(status["height"])
    proposer = (h + 1 + int(status.get("view", 0))) % N_NODES
    await _crash_and_recover(n, victim=proposer, during=[])
    # The others replaced the dead proposer by a view change, unless it still managed to
    # propose h + 1 in the moment before it died.
    after = [await n.rpcs[(proposer + 1) % N_NODES].block(x) for x in range(h + 1, h + 4)]
    victim_key = n.net.nodes[proposer].public_key.hex()
    assert (field(after[0], "proposer") == victim_key
            or any(int(field(b, "view")) > 0 for b in after)), after

    # --- garbage to the RPC and the p2p port ---------------------------------------------
    await _garbage(n, [operator.address, *(s.address for s in senders), *recipients])

    # --- two validators stopped: no commits; one back: blocks resume ---------------------
    n.sup.stop_many([2, 3], grace_ms=5000)
    h_stop = max(await n.heights([0, 1]))
    loop = asyncio.get_running_loop()
    window_end = loop.time() + NO_PROGRESS_WINDOW_S
    while loop.time() < window_end:
        # One block may have been decided by votes sent just before the stop.
        assert max(await n.heights([0, 1])) <= h_stop + 1, "a block committed without a quorum"
        await asyncio.sleep(0.25)
    h_stalled = max(await n.heights([0, 1]))
    n.sup.start(2)
    await asyncio.to_thread(n.sup.wait_ready, [2], 60_000)
    await n.wait_height([0, 1, 2], h_stalled + 2, timeout_s=60)

    n.sup.start(3)
    await asyncio.to_thread(n.sup.wait_ready, [3], 60_000)
    height, _ = await n.wait_same_state(everyone)
    await n.assert_same_block(everyone, height)


async def _crash_and_recover(n: Net, victim: int, during: list[tuple[PrivateKey, int]]) -> None:
    others = [i for i in range(N_NODES) if i != victim]
    n.sup.kill(victim)
    h0 = max(await n.heights(others))
    # Transfers sent while the victim is down still commit.
    hashes = []
    for key, via in during:
        wallet = Wallet(key, n.rpcs[via])
        tx_hash, _ = await wallet.transfer(PrivateKey.from_seed_text("e2e-during-crash").address, 1,
                                           wait_ms=None)
        hashes.append(tx_hash)
    await n.wait_height(others, h0 + 3)
    records = await n.wait_committed(hashes, others)
    assert all(_receipt_ok(r) for r in records)

    n.sup.start(victim)
    await asyncio.to_thread(n.sup.wait_ready, [victim], 60_000)
    target = max(await n.heights(others))
    await n.wait_height([victim], target)
    await n.assert_same_block([*others, victim], target)
    await n.wait_same_state(list(range(N_NODES)))


async def _garbage(n: Net, addresses: list[str]) -> None:
    before = {a: await n.account(a) for a in addresses}
    h_before = max(await n.heights(list(range(N_NODES))))
    rng = random.Random(1234)
    node = n.net.nodes[1]
    rpc_url = node.rpc_url
    status = await n.status(1)

    key = PrivateKey.from_seed_text("e2e-garbage")
    good = Tx(str(status["chain_id"]), key.public_key, 0, "token", "transfer",
              (key.address, 1), 1000, int(status["height"]) + 50).sign(key)
    bad_sig = SignedTx(good.tx, bytes(64))
    wrong_chain = Tx("another-chain", key.public_key, 0, "token", "transfer",
                     (key.address, 1), 1000, int(status["height"]) + 50).sign(key)
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/txs", {"data": rng.randbytes(300), "headers": {"Content-Type": "application/msgpack"}}),
        ("POST", "/v1/txs", {"data": b"\xc1" * 10, "headers": {"Content-Type": "application/msgpack"}}),
        ("POST", "/v1/txs", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/v1/txs", {"json": {"txs": ["zz", 5, None]}}),
        ("POST", "/v1/txs", {"json": {"txs": 5}}),
        ("POST", "/v1/txs", {"data": b"[" * 100_000, "headers": {"Content-Type": "application/json"}}),
        ("POST", "/v1/txs", {"json": {"txs": [bad_sig.encoded.hex()]}}),
        ("POST", "/v1/txs", {"json": {"txs": [wrong_chain.encoded.hex()]}}),
        ("POST", "/v1/txs", {"data": bad_sig.encoded, "headers": {"Content-Type": "application/msgpack"}}),
        ("POST", "/v1/txs", {"data": b"\x00" * (9 * 1024 * 1024), "headers": {"Content-Type": "application/msgpack"}}),
        ("GET", "/v1/txs/nothex", {}),
        ("GET", "/v1/txs/" + "ab" * 200, {}),
        ("GET", "/v1/blocks/-1", {}),
        ("GET", "/v1/blocks/abc", {}),
        ("GET", "/v1/blocks/" + "9" * 40, {}),
        ("GET", "/v1/proofs/zz", {}),
        ("POST", "/v1/query", {"data": rng.randbytes(200)}),
        ("POST", "/v1/query", {"data": b'{"contract": ' * 50_000, "headers": {"Content-Type": "application/json"}}),
        ("POST", "/v1/query", {"json": {"contract": "token", "method": "transfer", "args": [1.5]}}),
        ("POST", "/v1/query", {"json": {"contract": "nope", "method": "x", "args": []}}),
    ]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        for method, path, kwargs in requests:
            async with session.request(method, rpc_url + path, **kwargs) as resp:
                body = await resp.read()
                what = f"{method} {path} {str(kwargs)[:80]} -> {resp.status} {body[:200]!r}"
                doc = json.loads(body)
                if resp.status == 200 and path == "/v1/txs":
                    # A batch is answered per tx: every one of them must be refused.
                    assert doc["accepted"] == 0 and all("error" in r for r in doc["results"]), what
                else:
                    assert 400 <= resp.status < 500, what
                    assert isinstance(doc, dict) and "error" in doc, what
        # Garbage over the subscription websocket.
        with contextlib.suppress(aiohttp.ClientError):
            async with session.ws_connect(rpc_url.replace("http", "ws") + "/v1/ws") as ws:
                await ws.send_bytes(rng.randbytes(1000))
                await ws.send_str("{not json")
                await ws.send_str(json.dumps({"subscribe": ["x" * 10_000] * 100}))
        # The p2p port: a websocket that says nothing sensible, then raw bytes.
        p2p_host, p2p_port = "127.0.0.1", int(node.p2p_url.rsplit(":", 1)[1].split("/")[0])
        with contextlib.suppress(aiohttp.ClientError):
            async with session.ws_connect(node.p2p_url) as ws:
                for size in (1, 100, 70_000):
                    await ws.send_bytes(rng.randbytes(size))
                await ws.send_str("hello")
    for payload in (rng.randbytes(65_536), b"GET /p2p HTTP/1.1\r\nUpgrade: websocket\r\n\r\n" + os.urandom(100)):
        with socket.create_connection((p2p_host, p2p_port), timeout=5) as sock:
            with contextlib.suppress(OSError):
                sock.sendall(payload)

    assert n.live() == list(range(N_NODES)), "a node process died from garbage"
    h_after = max(await n.heights(list(range(N_NODES))))
    await n.wait_height(list(range(N_NODES)), h_after + 2)
    after = {a: await n.account(a) for a in addresses}
    assert after == before
    h_end = min(await n.heights(list(range(N_NODES))))
    for h in range(h_before + 1, h_end + 1):
        block = await n.rpcs[h % N_NODES].block(h)
        assert not block.get("txs"), f"garbage reached block {h}: {block.get('txs')}"
    await n.wait_same_state(list(range(N_NODES)))
