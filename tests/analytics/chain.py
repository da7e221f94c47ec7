"""A one-validator localnet (a real `hkchain` node process on 127.0.0.1) seeded with the
demo community plus a mixed load, for the analytics tests: more households in two
estates, bills (some paid), ratings, an owners' vote that reaches quorum, notices read,
likes, purchases at merchants, transfers and service requests (completed, disputed,
cancelled). Also the pages of blocks the tests recount the figures from."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.apps.demo import WalletChain, seed
from cli.wallet import RpcClient, run
from core.codec import Value
from core.crypto import PrivateKey
from node.config import AnalyticsConfig, NodeConfig
from node.home import LocalNetwork, default_genesis_template, init_network
from node.localnet import Supervisor
from tests.e2e.harness import (
    E2E_MAX_VIEW_TIMEOUT_MS,
    E2E_VIEW_TIMEOUT_MS,
    free_base_port,
    running,
)

EXTRA_HOUSEHOLDS = 14
# A second committee member (in genesis): the odd extra households are its residents, so
# the figures have two committees to tell apart.
COMMITTEE2 = PrivateKey.from_seed_text("analytics-committee-2")


@dataclass
class Chain:
    net: LocalNetwork
    sup: Supervisor
    manifest: dict[str, Any]

    @property
    def rpc_url(self) -> str:
        return self.net.nodes[0].rpc_url

    @property
    def home(self) -> Path:
        return self.net.nodes[0].home

    @property
    def genesis(self) -> Path:
        return self.home / "genesis.json"

    def pages(self) -> list[dict[str, Any]]:
        """Every committed block with its receipts, as the node serves them."""
        return run(fetch_blocks(self.rpc_url))


async def fetch_blocks(rpc_url: str, until: int | None = None) -> list[dict[str, Any]]:
    import aiohttp

    out: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(f"{rpc_url}/v1/blocks", params={"from": str(len(out))}) as resp:
                doc = await resp.json()
            out.extend(doc["blocks"])
            if not doc["blocks"] or len(out) > (doc["head"] if until is None else until):
                return out


class _Calls:
    """Calls submitted together, then awaited together. Each round signs with fresh
    wallets, so the expiry height is counted from the chain's height now."""

    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc
        self.chain = WalletChain(rpc)
        self.hashes: list[str] = []

    async def call(self, key: PrivateKey, contract: str, method: str, args: list[Value]) -> None:
        self.hashes.append(await self.chain.submit(key, contract, method, args))

    async def done(self) -> list[Any]:
        receipts = await self.chain.wait(self.hashes)
        bad = [(r.get("error_code"), r.get("error_message")) for r in receipts if r.get("status") != 0]
        assert not bad, bad
        self.hashes = []
        self.chain = WalletChain(self.rpc)
        return [r.get("result") for r in receipts]


def _key(label: str) -> PrivateKey:
    return PrivateKey.from_seed_text(f"analytics-{label}")


async def mixed_load(net: LocalNetwork, manifest: dict[str, Any]) -> None:
    operator = PrivateKey.load(net.operator_key_file)
    committees = (operator, COMMITTEE2)
    keys = {a["label"]: PrivateKey.load(Path(a["key"])) for a in [*manifest["households"], *manifest["actors"]]}
    extras = [_key(f"x{i}") for i in range(EXTRA_HOUSEHOLDS)]
    pco, plumber = keys["property-co"], keys["provider-plumber"]
    bakery = keys["merchant-bakery"].address
    async with RpcClient(net.nodes[0].rpc_url, timeout_ms=30_000) as rpc:
        c = _Calls(rpc)
        for i, k in enumerate(extras):
            await c.call(operator, "token", "transfer", [k.address, 500_000])
            await c.call(committees[i % 2], "roles", "grant", [k.address, "resident"])
            unit = f"Garden-T3-{i:04d}" if i % 3 else f"Riverside-B5-{i:04d}"
            await c.call(committees[i % 2], "households", "register",
                         [k.address, unit, 6000 + 250 * i, hashlib.sha256(unit.encode()).digest()])
        await c.done()
        for k in extras:
            await c.call(pco, "property", "issue_bill", [k.address, "2027-01", []])
        await c.call(operator, "governance", "propose_owners", [4, "Renew the property contract", bytes(32)])
        await c.call(operator, "notices", "post", ["Lift inspection on Monday", bytes(31) + b"\x07"])
        for i, k in enumerate(extras[:6]):
            await c.call(k, "services", "request", ["repair" if i % 2 else "plumbing", bytes(31) + b"\x03", 900])
        results = await c.done()
        bills = results[:EXTRA_HOUSEHOLDS]
        pid = results[EXTRA_HOUSEHOLDS]
        requests = results[EXTRA_HOUSEHOLDS + 2:]
        for i, k in enumerate(extras):
            if i < 10:
                await c.call(k, "property", "pay_bill", [bills[i]])
            await c.call(k, "property", "rate", ["2027-01", i % 5 + 1])
            await c.call(k, "governance", "vote", [pid, "yes" if i % 3 else "no"])
            await c.call(k, "notices", "acknowledge", [2 if i % 4 else 1])
            await c.call(k, "culture", "like", [i % 3 + 1])
            if i < 8:
                await c.call(k, "merchants", "purchase", [bakery, 50 + i, f"X-{i}"])
            await c.call(k, "token", "transfer", [extras[(i + 1) % len(extras)].address, 10 + i])
        for rid in requests:
            await c.call(plumber, "services", "offer", [rid, 700])
        await c.done()
        for i, (k, rid) in enumerate(zip(extras[:6], requests, strict=True)):
            if i < 5:
                await c.call(k, "services", "accept", [rid, ""])
            else:
                await c.call(k, "services", "cancel", [rid])
        await c.done()
        for i, (k, rid) in enumerate(zip(extras[:5], requests[:5], strict=True)):
            if i < 3:
                await c.call(k, "services", "complete", [rid])
            else:
                await c.call(k, "services", "dispute", [rid, bytes(31) + b"\x09"])
        await c.done()
        for k, rid in zip(extras[:3], requests[:3], strict=True):
            await c.call(k, "services", "rate", [rid, 4])
        for label in ("resident-3", "resident-5"):
            await c.call(keys[label], "governance", "vote", [pid, "yes"])
        await c.done()
        # A household rates again (the later rating replaces the earlier), and its committee
        # corrects its area after the proposal was made (its committee's electorate changes).
        await c.call(extras[1], "property", "rate", ["2027-01", 5])
        await c.call(committees[1], "households", "update", [extras[1].address, 9_000, bytes(32)])
        await c.done()


def _network(root: Path, analytics: bool = False) -> LocalNetwork:
    template = json.loads(default_genesis_template().read_text())
    template["roles"].append({"address": COMMITTEE2.address, "role": "committee"})
    template["accounts"].append({"address": COMMITTEE2.address, "balance": 10_000_000})
    path = root / "genesis-template.json"
    path.write_text(json.dumps(template))
    net = init_network(root / "net", 1, base_port=free_base_port(1), genesis_template=path)
    for node in net.nodes:
        config = NodeConfig.load(node.home)
        consensus = dataclasses.replace(config.consensus, view_timeout_ms=E2E_VIEW_TIMEOUT_MS,
                                        max_view_timeout_ms=E2E_MAX_VIEW_TIMEOUT_MS)
        # The load is sent as fast as the node takes it: no rate limit in the way.
        rpc = dataclasses.replace(config.rpc, rate_limit_per_s=100_000, rate_burst=100_000)
        config = config.with_changes(consensus=consensus, rpc=rpc)
        if analytics:  # the node indexes itself and serves the stats API (the dashboard's)
            config = config.with_changes(analytics=AnalyticsConfig(enabled=True, batch_blocks=64))
        config.save(node.home)
    return net


def start_chain(root: Path, *, analytics: bool = False) -> Iterator[Chain]:
    """The seeded chain; with ``analytics`` its node runs the indexer in process."""
    net = _network(root, analytics)
    with running(net) as sup:
        sup.wait_ready(timeout_ms=60_000)
        # Seeding runs its own event loops, in a thread of their own: a caller may have one
        # running on this thread (Playwright's, in the browser tests). The nodes stay
        # children of this thread, which lives as long as the network.
        with ThreadPoolExecutor(max_workers=1) as pool:
            manifest, _ = pool.submit(lambda: run(seed(net))).result()
            pool.submit(lambda: run(mixed_load(net, manifest))).result()
        yield Chain(net, sup, manifest)
