"""The wallet-based client that seeds a demo community (tools/demo.py's ``DemoChain``), and
``seed_and_print``, which `hkchain localnet --demo` runs once the nodes answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cli.apps.content import upload_blob
from cli.common import console
from cli.wallet import RpcClient, Wallet, run
from core.codec import Value
from core.crypto import PrivateKey
from node.home import LocalNetwork
from tools.demo import seed_demo, summary

DEMO_GAS_LIMIT = 100_000  # the heaviest application call takes about 15,000
COMMIT_TIMEOUT_MS = 60_000


class WalletChain:
    """One RPC client, one Wallet per key (nonces tracked locally, so a round of calls
    from one key is submitted at once and lands in one block)."""

    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc
        self._wallets: dict[bytes, Wallet] = {}

    async def submit(self, key: PrivateKey, contract: str, method: str, args: Sequence[Value]) -> str:
        wallet = self._wallets.get(key.public_key)
        if wallet is None:
            wallet = Wallet(key, self.rpc, gas_limit=DEMO_GAS_LIMIT)
            await wallet.sync()
            self._wallets[key.public_key] = wallet
        tx_hash, _ = await wallet.call(contract, method, list(args), wait_ms=None)
        return tx_hash

    async def wait(self, tx_hashes: Sequence[str]) -> list[dict[str, Any]]:
        out = []
        for h in tx_hashes:
            doc = await self.rpc.wait_tx(h, timeout_ms=COMMIT_TIMEOUT_MS)
            out.append(doc.get("receipt") or {})
        return out

    async def query(self, contract: str, method: str, args: Sequence[Value]) -> Any:
        return await self.rpc.query(contract, method, list(args))

    async def upload_blob(self, data: bytes) -> str:
        return await upload_blob(self.rpc.url, data)


async def seed(network: LocalNetwork) -> tuple[dict[str, Any], list[tuple[str, list[str], list[list[str]]]]]:
    async with RpcClient(network.nodes[0].rpc_url, timeout_ms=30_000) as rpc:
        chain = WalletChain(rpc)
        manifest = await seed_demo(chain, network)
        return manifest, await summary(chain, manifest)


def seed_and_print(network: LocalNetwork) -> None:
    """Seed the demo community (once per home) and print what a new user can look at."""
    from rich.table import Table

    con = console()
    with con.status("Seeding the demo community (households, bills, works, a vote)…"):
        manifest, tables = run(seed(network))
    for title, columns, rows in tables:
        t = Table(title=title, title_justify="left")
        for c in columns:
            t.add_column(c, overflow="fold")
        for row in rows:
            t.add_row(*row)
        con.print(t)
    first = manifest["households"][0]
    con.print(f"Demo keys and residents' cards: {network.home / 'demo'}; the committee's sealed "
              f"register: {manifest['privacy_store']}")
    con.print("Look around:")
    con.print(f"  hkchain property bills {first['address']}")
    con.print(f"  hkchain gov proposal {manifest['spend_proposal']}")
    con.print("  hkchain services offers 1")
    con.print("  hkchain culture works")
    con.print(f"  hkchain culture get 1 --out work1.svg --rpc {network.nodes[-1].rpc_url}")
    con.print(f"  hkchain gov vote {manifest['spend_proposal']} yes --key {network.home}/demo/keys/resident-3.key")
