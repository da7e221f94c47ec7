"""`hkchain localnet` as a person runs it: a process that starts the validators, writes
nodes.json and the operator key, answers to the client commands, and stops every node on
Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from core.crypto import PrivateKey
from node.localnet import rpc_status
from tests.e2e.harness import free_base_port

pytestmark = pytest.mark.slow

N_NODES = 4
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for_nodes_file(path: Path, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"localnet exited early: {proc.stdout.read().decode() if proc.stdout else ''}")
        if path.exists():
            doc: dict[str, Any] = json.loads(path.read_text())
            if all(n.get("pid") for n in doc["nodes"]):
                return doc
        time.sleep(0.2)
    raise AssertionError("nodes.json was not written in time")


def _start(home: Path, base_port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "localnet", "--nodes", str(N_NODES), "--home", str(home),
         "--base-port", str(base_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )


def _ctrl_c(proc: subprocess.Popen[bytes], pids: list[int], home: Path) -> None:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=STOP_TIMEOUT_S)
    assert proc.returncode == 0, out.decode()
    assert "All nodes stopped" in out.decode()
    assert not any(_pid_alive(p) for p in pids)
    assert all(n["pid"] is None for n in json.loads((home / "nodes.json").read_text())["nodes"])


def _status(rpc_url: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["status", "--rpc", rpc_url, "--json"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.output)
    return doc


def test_localnet_starts_serves_stops_on_ctrl_c_and_restarts_the_same_chain(tmp_path: Path) -> None:
    home = tmp_path / "localnet"
    base_port = free_base_port(N_NODES)
    procs: list[subprocess.Popen[bytes]] = []
    pids: list[int] = []
    try:
        procs.append(_start(home, base_port))
        doc = _wait_for_nodes_file(home / "nodes.json", procs[-1])
        pids = [int(n["pid"]) for n in doc["nodes"]]
        assert len(doc["nodes"]) == N_NODES and all(_pid_alive(p) for p in pids)
        operator = PrivateKey.load(doc["operator_key"])
        assert doc["operator_address"] == operator.address
        for i, node in enumerate(doc["nodes"]):
            assert node["name"] == f"node{i}"
            assert node["rpc_url"] == f"http://127.0.0.1:{base_port + 10 * i}"
            assert node["p2p_url"] == f"ws://127.0.0.1:{base_port + 10 * i + 1}/p2p"
            assert Path(node["home"]).is_dir()
            assert rpc_status(node["rpc_url"]) is not None

        first = _status(doc["nodes"][2]["rpc_url"])
        assert first["chain_id"] == doc["chain_id"]

        watched = CliRunner().invoke(main, ["watch", "--rpc", doc["nodes"][1]["rpc_url"], "--json",
                                            "--no-events", "--count", "2"])
        assert watched.exit_code == 0, watched.output
        blocks = [json.loads(line) for line in watched.output.splitlines()]
        assert [b["type"] for b in blocks] == ["block", "block"]
        assert blocks[1]["height"] == blocks[0]["height"] + 1
        last_height = blocks[1]["height"]

        _ctrl_c(procs[-1], pids, home)

        # Started again on the same home, it continues the same chain with the same keys.
        procs.append(_start(home, base_port))
        again = _wait_for_nodes_file(home / "nodes.json", procs[-1])
        pids = [int(n["pid"]) for n in again["nodes"]]
        assert again["operator_address"] == operator.address
        resumed = _status(again["nodes"][0]["rpc_url"])
        assert resumed["genesis_hash"] == first["genesis_hash"]
        assert resumed["height"] >= last_height
        _ctrl_c(procs[-1], pids, home)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for pid in pids:
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
