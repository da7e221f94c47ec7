"""examples/wallet_min.py, the wallet written from docs/PROTOCOL.md alone: it imports
nothing of the project, passes every committed vector, and against a real localnet signs
a transfer and verifies the new balances with state proofs under a checked certificate."""

from __future__ import annotations

import ast
import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.wallet import RpcClient
from core.crypto import PrivateKey
from tests.e2e.harness import describe_logs, make_network, running, wait_until

ROOT = Path(__file__).resolve().parents[2]
WALLET = ROOT / "examples" / "wallet_min.py"
VECTORS = ROOT / "docs" / "vectors"
ALLOWED_THIRD_PARTY = {"msgpack", "nacl"}


def _clean_env() -> dict[str, str]:
    """The environment without PYTHONPATH: the project is not importable from the tmp cwd."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_imports_only_pynacl_msgpack_and_the_standard_library() -> None:
    tree = ast.parse(WALLET.read_text())
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            assert node.module is not None
            roots.add(node.module.split(".")[0])
    foreign = roots - ALLOWED_THIRD_PARTY - set(sys.stdlib_module_names)
    assert not foreign, f"wallet_min imports {sorted(foreign)}"


def test_passes_every_vector(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(WALLET), "vectors", str(VECTORS)], cwd=tmp_path,
                         env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    checks = int(out.stdout.split()[0])
    assert checks >= 150, out.stdout


def test_fails_on_a_changed_vector(tmp_path: Path) -> None:
    for f in VECTORS.glob("*.json"):
        (tmp_path / f.name).write_text(f.read_text())
    state = tmp_path / "state.json"
    root = state.read_text().split('"root": "')[1][:64]
    state.write_text(state.read_text().replace(root, root[:-1] + ("0" if root[-1] != "0" else "1")))
    out = subprocess.run([sys.executable, str(WALLET), "vectors", str(tmp_path)], cwd=tmp_path,
                         env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "error:" in out.stderr


@pytest.mark.slow
def test_transfer_and_verified_balance_on_a_localnet(tmp_path: Path) -> None:
    net = make_network(tmp_path / "net", 4)
    recipient = PrivateKey(bytes([0x42]) * 32).address
    with running(net) as sup:
        sup.wait_ready()
        rpc_url = net.nodes[1].rpc_url

        async def height() -> int | None:
            async with RpcClient(rpc_url) as rpc:
                h = int((await rpc.status())["height"])
                return h if h >= 1 else None

        asyncio.run(wait_until("the first block", height, timeout_s=60))
        out = subprocess.run(
            [sys.executable, str(WALLET), "transfer", "--rpc", rpc_url,
             "--key", str(net.operator_key_file), "--genesis", str(net.nodes[0].home / "genesis.json"),
             "--to", recipient, "--amount", "37", "--timeout", "90"],
            cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=150)
        assert out.returncode == 0, out.stderr + describe_logs(sup)
        lines = out.stdout.splitlines()
        assert any(line.startswith(f"recipient {recipient} balance 37 ") and line.endswith("verified")
                   for line in lines), out.stdout
        assert any(line.startswith(f"sender {net.operator_address} balance ") for line in lines)

        async def balance() -> int:
            async with RpcClient(rpc_url) as rpc:
                return int((await rpc.account(recipient))["balance"])

        assert asyncio.run(balance()) == 37
