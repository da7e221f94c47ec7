"""A real 4-validator localnet seeded with the demo community (tools/demo.py), and the
`hkchain` commands a committee clerk or a property company types, for the browser flows."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from click.testing import CliRunner

from cli.apps.demo import seed
from cli.main import main
from cli.wallet import RpcClient, run
from core.codec import Value
from node.config import NodeConfig
from node.home import LocalNetwork, default_genesis_template, init_network
from node.localnet import Supervisor
from privacy.register import PrivacyStore
from tests.e2e.harness import E2E_MAX_VIEW_TIMEOUT_MS, E2E_VIEW_TIMEOUT_MS, free_base_port, running

N_NODES = 4
T = TypeVar("T")


def off_loop(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a thread of its own: Playwright's sync API keeps an event loop
    running on the test's thread, and the CLI and RPC client start their own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


@dataclass
class Community:
    net: LocalNetwork
    sup: Supervisor
    manifest: dict[str, Any]
    home: Path
    keys: dict[str, Path] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)

    def rpc(self, node: int = 0) -> str:
        return self.net.nodes[node].rpc_url

    def ok(self, *args: str, key: str | None = None) -> dict[str, Any]:
        """Run a signing `hkchain` command with --json; its parsed output (committed)."""
        env = {"HKCHAIN_RPC": self.rpc(0),
               "HKCHAIN_KEY": str(self.keys[key] if key else self.net.operator_key_file),
               "HKCHAIN_PRIVACY_STORE": str(PrivacyStore.of_node_home(self.net.nodes[0].home).root),
               "COLUMNS": "200"}
        result = off_loop(lambda: CliRunner().invoke(main, [*args, "--json"], env=env))
        assert result.exit_code == 0, f"hkchain {' '.join(args)} failed:\n{result.output}"
        doc: dict[str, Any] = json.loads(result.stdout)
        return doc

    def query(self, contract: str, method: str, args: Sequence[Value] = ()) -> Any:
        async def go() -> Any:
            async with RpcClient(self.rpc(0)) as rpc:
                return await rpc.query(contract, method, list(args))

        return off_loop(lambda: run(go()))

    def register_household(self, address: str, unit: str, area_m2: str, points: int = 0) -> None:
        """What the committee does for a new resident, by the CLI: points, the resident
        role, the household in the register (personal data sealed off chain)."""
        if points:
            self.ok("transfer", "--to", address, "--amount", str(points))
        self.ok("gov", "grant-role", address, "resident")
        self.ok("households", "register", "--household", address, "--unit", unit, "--area", area_m2,
                "--name", "王秀英", "--id-number", "31010919500315002X", "--phone", "13800000000",
                "--card-out", str(self.home / f"{unit}.card.json"))


def start_community(root: Path, params: dict[str, dict[str, Any]] | None = None,
                    seed_demo: bool = True) -> Generator[Community]:
    """The seeded localnet; ``params`` overrides genesis parameters per contract (e.g.
    a short voting period, so a test sees a vote close); without ``seed_demo`` the chain
    holds only its genesis (no households, no actors)."""
    template = default_genesis_template()
    if params:
        doc = json.loads(template.read_text())
        for contract, values in params.items():
            doc["params"].setdefault(contract, {}).update(values)
        template = root / "genesis-template.json"
        template.write_text(json.dumps(doc))
    net = init_network(root / "net", N_NODES, base_port=free_base_port(N_NODES), genesis_template=template)
    for node in net.nodes:
        config = NodeConfig.load(node.home)
        consensus = dataclasses.replace(config.consensus, view_timeout_ms=E2E_VIEW_TIMEOUT_MS,
                                        max_view_timeout_ms=E2E_MAX_VIEW_TIMEOUT_MS)
        config.with_changes(consensus=consensus).save(node.home)
    with running(net) as sup:
        sup.wait_ready(timeout_ms=60_000)
        manifest: dict[str, Any] = {"households": [], "actors": []}
        if seed_demo:
            manifest, _ = off_loop(lambda: run(seed(net)))
        c = Community(net, sup, manifest, root)
        for entry in manifest["households"] + manifest["actors"]:
            c.keys[entry["label"]] = Path(entry["key"])
            c.addresses[entry["label"]] = entry["address"]
        yield c
