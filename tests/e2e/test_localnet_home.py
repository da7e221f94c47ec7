"""`hkchain localnet --home DIR` as a person runs it with its output going to a log file:
the summary in that file names every node with its pid and full URLs, and each "try in
another terminal" hint, pasted as it stands into a shell in another folder, works."""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core.crypto import PrivateKey
from tests.e2e.harness import free_base_port

pytestmark = pytest.mark.slow

N_NODES = 4
START_TIMEOUT_S = 90.0
COMMAND_TIMEOUT_S = 60.0
HINTS_HEADER = "Try, in another terminal"


def _hkchain(argv: list[str]) -> list[str]:
    """A pasted `hkchain …` line, run by this Python (whose PYTHONPATH has this checkout)."""
    assert argv[0] == "hkchain", argv
    return [sys.executable, "-m", "cli", *argv[1:]]


def _wait_for_summary(out_path: Path, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = out_path.read_text(errors="replace")
        if "Press Ctrl-C to stop all nodes." in text:
            return text
        if proc.poll() is not None:
            raise AssertionError(f"localnet exited early ({proc.returncode}):\n{text}")
        time.sleep(0.2)
    raise AssertionError(f"no summary within {START_TIMEOUT_S} s:\n{out_path.read_text()}")


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(_hkchain(argv), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{shlex.join(argv)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_summary_in_a_log_and_pasted_hints_work_from_another_folder(tmp_path: Path) -> None:
    home = tmp_path / "my networks" / "hongkou net"  # spaces: the hints must quote it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out_path = tmp_path / "localnet.log"
    env = {k: v for k, v in os.environ.items()
           if k not in ("HKCHAIN_HOME", "HKCHAIN_RPC", "HKCHAIN_KEY", "COLUMNS")}
    base_port = free_base_port(N_NODES)
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "--home", str(home), "localnet",
             "--base-port", str(base_port)],
            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        text = _wait_for_summary(out_path, proc)
        doc: dict[str, Any] = json.loads((home / "nodes.json").read_text())
        assert len(doc["nodes"]) == N_NODES
        for node in doc["nodes"]:
            for field in ("name", "pid", "rpc_url", "p2p_url", "address"):
                assert str(node[field]) in text, f"{field} of {node['name']} missing:\n{text}"
        assert "…" not in text.split(HINTS_HEADER)[0], f"a cell was cut:\n{text}"

        hints = [shlex.split(line) for line in text.split(HINTS_HEADER)[1].splitlines()
                 if line.startswith("  hkchain")]
        by_command = {next(a for a in h[1:] if not a.startswith("-") and a != str(home.resolve())): h
                      for h in hints}
        assert set(by_command) == {"status", "keys", "transfer", "query", "watch"}, hints
        for name, argv in by_command.items():
            if name != "keys":  # a key of one's own needs no network
                assert argv[1:3] == ["--home", str(home.resolve())], argv

        # Pasted in order, in another folder, with nothing set in the environment.
        status = _run(by_command["status"], elsewhere, env)
        assert doc["chain_id"] in status
        _run(by_command["keys"], elsewhere, env)
        alice = PrivateKey.load(elsewhere / "alice.key")
        _run(by_command["transfer"], elsewhere, env)
        operator_balance = _run(by_command["query"], elsewhere, env).strip()
        assert int(operator_balance) > 0
        alice_balance = _run([*by_command["query"][:-1], json.dumps([alice.address])], elsewhere, env)
        assert alice_balance.strip() == "100"

        watch = subprocess.Popen(_hkchain(by_command["watch"]), cwd=elsewhere, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, text=True)
        try:
            assert watch.stdout is not None
            ready, _, _ = select.select([watch.stdout], [], [], COMMAND_TIMEOUT_S)
            assert ready, f"watch printed nothing within {COMMAND_TIMEOUT_S} s"
            first = watch.stdout.readline()
            assert "block" in first.lower() or "height" in first.lower(), first
        finally:
            watch.kill()
            watch.wait()

        # $HKCHAIN_HOME finds it too, and --rpc still wins over the home.
        by_env = _run(["hkchain", "status", "--json"], elsewhere, {**env, "HKCHAIN_HOME": str(home)})
        assert json.loads(by_env)["chain_id"] == doc["chain_id"]
        other_rpc = doc["nodes"][2]["rpc_url"]
        via_rpc = _run(["hkchain", "--home", str(home), "status", "--json", "--rpc", other_rpc],
                       elsewhere, env)
        assert json.loads(via_rpc)["chain_id"] == doc["chain_id"]

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert all(n["pid"] is None for n in json.loads((home / "nodes.json").read_text())["nodes"])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
