"""Query load on a validator: does a client sending looping contract view calls slow the
chain down? Prints figures; asserts nothing about speed (tests/e2e/test_query_load.py
checks the liveness bounds on the same measurement).

  python -m tools.query_load [--nodes 4] [--calls 50] [--baseline-s 10] [--flood-s 10]
                             [--flood-rate 200]

On a fresh localnet (processes on 127.0.0.1, free ports) the operator deploys ``spin``, a
contract whose view loops until the 5M gas a query may use runs out (≈ 1.4 s of CPU).
Then, watching node0 (its commits as its websocket pushes them, the latency of its
``GET /v1/status``, every node's view changes):

1. baseline: ``--baseline-s`` with no queries;
2. burst: one client sends ``--calls`` looping calls to node0 at once, and waits for
   every answer (plus 2 s);
3. flood (``--flood-s`` > 0): one client sends looping calls at ``--flood-rate`` a second.

For each phase: node0's block intervals (p50/p95/max), status latency (p50/p99/max),
view changes, and the answers by status and code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from core.crypto import PrivateKey
from core.types import Tx
from node.home import LocalNetwork, default_genesis_template, init_network
from node.localnet import Supervisor
from tools.bench import free_base_port

SPIN_CONTRACT = "spin"
SPIN_SOURCE = '''# mypy: ignore-errors
# ruff: noqa
"""spin: a view that loops until its gas runs out (a load test of the query path)."""


@view
def spin(n: int) -> int:
    i = 0
    while i < n:
        i += 1
    return i
'''
LOOP_FOREVER = 10**12  # rounds: the call always ends out of gas
DEPLOY_MAX_FEE = 10_000  # points; deploying spin uses about 7,200 gas (8 points at the default price)
STATUS_PROBE_S = 0.1
_VIEW_CHANGES = re.compile(r"^hkchain_view_changes_total (\d+(?:\.\d+)?)$", re.M)


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    block_intervals_ms: list[float] = field(default_factory=list)
    status_ms: list[float] = field(default_factory=list)
    view_changes: int = 0
    answers: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "phase": self.name, "seconds": round(self.seconds, 1),
            "blocks": len(self.block_intervals_ms),
            "interval_ms": _pcts(self.block_intervals_ms, (50, 95, 100)),
            "status_ms": _pcts(self.status_ms, (50, 99, 100)),
            "view_changes": self.view_changes,
            "answers": dict(sorted(self.answers.items())),
        }


def _pcts(values: Sequence[float], ps: Sequence[int]) -> list[float | None]:
    if not values:
        return [None for _ in ps]
    s = sorted(values)
    return [round(s[min(len(s) - 1, int(len(s) * p / 100))], 1) for p in ps]


async def deploy_spin(session: aiohttp.ClientSession, rpc_url: str, operator: PrivateKey) -> None:
    """The operator (a committee member) deploys ``spin``; returns once it is committed."""
    async with session.get(rpc_url + "/v1/status") as resp:
        status = await resp.json()
    async with session.get(f"{rpc_url}/v1/accounts/{operator.address}") as resp:
        account = await resp.json()
    tx = Tx(str(status["chain_id"]), operator.public_key, int(account["pending_nonce"]), "system",
            "deploy", (SPIN_CONTRACT, SPIN_SOURCE, []), DEPLOY_MAX_FEE, int(status["height"]) + 100)
    stx = tx.sign(operator)
    async with session.post(rpc_url + "/v1/txs", json={"tx": stx.encoded.hex()}) as resp:
        if resp.status != 202:
            raise RuntimeError(f"deploying {SPIN_CONTRACT} refused: {await resp.text()}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with session.get(f"{rpc_url}/v1/txs/{stx.hash.hex()}") as resp:
            doc = await resp.json()
        if doc.get("status") == "committed":
            if (doc.get("receipt") or {}).get("status") != 0:
                raise RuntimeError(f"deploying {SPIN_CONTRACT} failed: {doc}")
            return
        if doc.get("status") in ("rejected", "expired"):
            raise RuntimeError(f"deploying {SPIN_CONTRACT} failed: {doc}")
        await asyncio.sleep(0.2)
    raise RuntimeError(f"deploying {SPIN_CONTRACT}: not committed within 60 s")


async def view_changes(session: aiohttp.ClientSession, urls: Sequence[str]) -> int:
    total = 0
    for url in urls:
        async with session.get(url + "/metrics") as resp:
            m = _VIEW_CHANGES.search(await resp.text())
            total += int(float(m.group(1))) if m else 0
    return total


async def spin_call(session: aiohttp.ClientSession, url: str) -> str:
    body = {"contract": SPIN_CONTRACT, "method": "spin", "args": [LOOP_FOREVER]}
    try:
        async with session.post(url + "/v1/query", json=body,
                                timeout=aiohttp.ClientTimeout(total=600)) as resp:
            doc = await resp.json(content_type=None)
            code = doc.get("error", {}).get("code", "ok") if isinstance(doc, dict) else "?"
            return f"{resp.status} {code}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return f"failed {type(exc).__name__}"


class Watcher:
    """node0's commits (websocket arrival times) and status latency, in the background."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.blocks: list[float] = []
        self.status: list[tuple[float, float]] = []  # (when, latency ms)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        ready = asyncio.Event()
        self._tasks = [asyncio.create_task(self._blocks(ready)), asyncio.create_task(self._probe())]
        await asyncio.wait_for(ready.wait(), 30)

    async def _blocks(self, ready: asyncio.Event) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/v1/ws"
        async with self.session.ws_connect(ws_url, heartbeat=20) as ws:
            await ws.send_json({"subscribe": ["blocks"]})
            async for msg in ws:
                doc = json.loads(msg.data)
                if doc.get("type") == "subscribed":
                    ready.set()
                elif doc.get("type") == "block":
                    self.blocks.append(time.monotonic())

    async def _probe(self) -> None:
        while True:
            started = time.monotonic()
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self.session.get(self.url + "/v1/status",
                                            timeout=aiohttp.ClientTimeout(total=60)) as resp:
                    await resp.read()
                self.status.append((started, (time.monotonic() - started) * 1000))
            await asyncio.sleep(STATUS_PROBE_S)

    def fill(self, phase: Phase, t0: float, t1: float) -> None:
        times = [t for t in self.blocks if t0 <= t <= t1]
        # The first interval runs from the last commit before the phase.
        before = [t for t in self.blocks if t < t0]
        if before:
            times.insert(0, before[-1])
        phase.block_intervals_ms = [(b - a) * 1000 for a, b in itertools.pairwise(times)]
        # A commit still awaited at the end counts as an interval up to now.
        if times:
            phase.block_intervals_ms.append((t1 - times[-1]) * 1000)
        phase.status_ms = [ms for t, ms in self.status if t0 <= t <= t1]
        phase.seconds = t1 - t0

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t


async def measure(net: LocalNetwork, *, calls: int = 50, baseline_s: float = 10.0,
                  flood_s: float = 0.0, flood_rate: int = 200) -> list[Phase]:
    """Run the phases against a running ``net``; the spin contract is deployed first."""
    operator = PrivateKey.load(net.operator_key_file)
    async with aiohttp.ClientSession() as session:
        await deploy_spin(session, net.nodes[0].rpc_url, operator)
    urls = [n.rpc_url for n in net.nodes]
    target = urls[0]
    phases: list[Phase] = []
    async with aiohttp.ClientSession() as probe_session, aiohttp.ClientSession() as client:
        watcher = Watcher(probe_session, target)
        await watcher.start()
        try:
            base = Phase("baseline")
            vc0 = await view_changes(probe_session, urls)
            t0 = time.monotonic()
            await asyncio.sleep(baseline_s)
            watcher.fill(base, t0, time.monotonic())
            base.view_changes = await view_changes(probe_session, urls) - vc0
            phases.append(base)

            burst = Phase(f"{calls} calls at once")
            vc0 = await view_changes(probe_session, urls)
            t0 = time.monotonic()
            burst.answers.update(await asyncio.gather(*(spin_call(client, target) for _ in range(calls))))
            await asyncio.sleep(2.0)
            watcher.fill(burst, t0, time.monotonic())
            burst.view_changes = await view_changes(probe_session, urls) - vc0
            phases.append(burst)

            if flood_s > 0:
                flood = Phase(f"{flood_rate} calls/s for {flood_s:.0f} s")
                vc0 = await view_changes(probe_session, urls)
                t0 = time.monotonic()
                pending = []
                for _ in range(int(flood_s * flood_rate)):
                    pending.append(asyncio.create_task(spin_call(client, target)))
                    await asyncio.sleep(1 / flood_rate)
                flood.answers.update(await asyncio.gather(*pending))
                await asyncio.sleep(2.0)
                watcher.fill(flood, t0, time.monotonic())
                flood.view_changes = await view_changes(probe_session, urls) - vc0
                phases.append(flood)
        finally:
            await watcher.stop()
    return phases


def print_report(phases: Sequence[Phase]) -> None:
    print(f"{'phase':<26}{'s':>6}{'blocks':>8}  {'interval p50/p95/max ms':<26}"
          f"{'status p50/p99/max ms':<26}{'views':>6}  answers")
    for p in phases:
        s = p.summary()
        iv = "/".join("-" if v is None else f"{v:.0f}" for v in s["interval_ms"])
        st = "/".join("-" if v is None else f"{v:.0f}" for v in s["status_ms"])
        answers = ", ".join(f"{k}: {v}" for k, v in s["answers"].items()) or "-"
        print(f"{p.name:<26}{s['seconds']:>6}{s['blocks']:>8}  {iv:<26}{st:<26}{p.view_changes:>6}  {answers}")


def run(args: argparse.Namespace) -> list[Phase]:
    with tempfile.TemporaryDirectory(prefix="hkchain-query-load-") as tmp:
        net = init_network(Path(tmp) / "net", args.nodes, base_port=free_base_port(args.nodes),
                           genesis_template=default_genesis_template())
        sup = Supervisor(net)
        try:
            sup.start_all()
            sup.wait_ready()
            return asyncio.run(measure(net, calls=args.calls, baseline_s=args.baseline_s,
                                       flood_s=args.flood_s, flood_rate=args.flood_rate))
        finally:
            sup.stop_all()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--baseline-s", type=float, default=10.0)
    ap.add_argument("--flood-s", type=float, default=10.0)
    ap.add_argument("--flood-rate", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    phases = run(args)
    if args.json:
        print(json.dumps([p.summary() for p in phases], indent=2))
    else:
        print_report(phases)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
