"""CI: run `hkchain localnet` as a new user would, from an empty folder, and stop it.

  python .ci/localnet_smoke.py --hkchain VENV/bin/hkchain [--height 2] [--timeout-s 90]

Uses only the standard library and the given `hkchain` executable (so it tests what that
venv installed, not this checkout). In a brand-new empty folder it runs
`hkchain localnet --base-port P` (P: a free port range, since the machine may run other
networks), with its output going to a file as in a log, and then checks:

- node0 reaches --height within --timeout-s of the start, and serves the web app at /
  (package data of the installed package);
- the summary table in that non-terminal output names every node, its pid and its full
  RPC and p2p URLs;
- `hkchain status` with no flags finds the network from that folder, and
  `hkchain --home DIR status` and `HKCHAIN_HOME=DIR hkchain status` from another folder;
- SIGTERM (as a service manager stops it) ends localnet with status 0 and no node left.

Prints what it saw; exits 1 with the output's tail on any failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

NODES = 4
STOP_TIMEOUT_S = 30.0
CLIENT_TIMEOUT_S = 30.0


class SmokeError(Exception):
    pass


def free_base_port(nodes: int) -> int:
    """A base port whose localnet range (RPC BASE+10K, p2p BASE+10K+1) is free now."""
    rng = random.Random(os.getpid())
    for _ in range(200):
        # Below the kernel's ephemeral ports (32768 up on Linux), which hkchain refuses.
        base = rng.randrange(20_000, 32_000 - 10 * nodes, 10)
        ports = [base + 10 * i + j for i in range(nodes) for j in (0, 1)]
        try:
            with contextlib.ExitStack() as stack:
                for port in ports:
                    s = stack.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise SmokeError("no free port range on 127.0.0.1")


def height_of(rpc_url: str) -> int | None:
    try:
        with urllib.request.urlopen(rpc_url + "/v1/status", timeout=2) as resp:
            doc = json.loads(resp.read(1 << 20))
    except (OSError, ValueError):
        return None
    height = doc.get("height") if isinstance(doc, dict) else None
    return height if isinstance(height, int) else None


def fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            body: bytes = resp.read(1 << 20)
    except OSError as exc:
        raise SmokeError(f"GET {url} failed: {exc}") from exc
    return body


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie has exited
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def client(hkchain: str, args: list[str], cwd: Path, env: dict[str, str],
           env_note: str = "") -> dict[str, Any]:
    proc = subprocess.run([hkchain, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=CLIENT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    shown = " ".join([env_note, "hkchain", *args]).strip()
    if proc.returncode != 0:
        raise SmokeError(f"`{shown}` in {cwd} failed ({proc.returncode}): {proc.stderr.strip()}")
    try:
        doc: dict[str, Any] = json.loads(proc.stdout)
    except ValueError as exc:
        raise SmokeError(f"`{shown}` printed no JSON: {proc.stdout[:500]!r}") from exc
    print(f"ok: `{shown}` from {cwd} -> chain {doc.get('chain_id')} height {doc.get('height')}")
    return doc


def run(hkchain: str, target_height: int, timeout_s: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="hkchain-smoke-"))
    folder = work / "empty"
    elsewhere = work / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    out_path = work / "localnet.out"
    base_port = free_base_port(NODES)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "HKCHAIN_HOME", "HKCHAIN_RPC", "HKCHAIN_KEY")}
    argv = [hkchain, "localnet", "--base-port", str(base_port)]
    print(f"run: {' '.join(argv)}  (in {folder}, output to {out_path})")
    started = time.monotonic()
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(argv, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    pids: list[int] = []
    try:
        home = folder / "localnet"
        nodes_file = home / "nodes.json"
        deadline = started + timeout_s
        doc: dict[str, Any] = {}
        height: int | None = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SmokeError(f"localnet exited early with status {proc.returncode}")
            if not pids and nodes_file.exists():
                doc = json.loads(nodes_file.read_text())
                pids = [int(n["pid"]) for n in doc["nodes"] if n.get("pid")]
            if pids:
                height = height_of(doc["nodes"][0]["rpc_url"])
                if height is not None and height >= target_height:
                    break
            time.sleep(0.5)
        else:
            raise SmokeError(f"node0 did not reach height {target_height} within {timeout_s:.0f} s "
                             f"(last height {height})")
        print(f"ok: node0 at height {height} {time.monotonic() - started:.1f} s after start")

        app = fetch(doc["nodes"][0]["rpc_url"] + "/")
        if b"<html" not in app.lower():
            raise SmokeError(f"node0 serves no web app at /: {app[:200]!r}")
        print(f"ok: node0 serves the residents' web app at / ({len(app)} bytes of HTML)")

        printed = out_path.read_text(errors="replace")
        for node in doc["nodes"]:
            for what in ("name", "pid", "rpc_url", "p2p_url"):
                if str(node[what]) not in printed:
                    raise SmokeError(f"the summary lacks {node['name']}'s {what} {node[what]!r}")
        print("ok: the summary in the log names every node with its pid and full URLs")

        chain_id = doc["chain_id"]
        checks = [
            client(hkchain, ["status", "--json"], folder, env),
            client(hkchain, ["--home", str(home), "status", "--json"], elsewhere, env),
            client(hkchain, ["status", "--json"], elsewhere, {**env, "HKCHAIN_HOME": str(home)},
                   f"HKCHAIN_HOME={home}"),
        ]
        if any(c.get("chain_id") != chain_id for c in checks):
            raise SmokeError(f"a client reached another chain than {chain_id}")

        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise SmokeError(f"localnet did not stop within {STOP_TIMEOUT_S:.0f} s of SIGTERM") from exc
        if proc.returncode != 0:
            raise SmokeError(f"localnet exited with status {proc.returncode} on SIGTERM")
        left = [p for p in pids if pid_alive(p)]
        if left:
            raise SmokeError(f"node processes {left} still run after localnet stopped")
        print(f"ok: SIGTERM stopped localnet (status 0) and its {len(pids)} nodes")
        shutil.rmtree(work, ignore_errors=True)
    except (SmokeError, OSError, ValueError, KeyError, subprocess.SubprocessError) as exc:
        print(f"FAILED: {exc}")
        print(f"--- end of {out_path}:")
        print(out_path.read_text(errors="replace")[-4000:])
        log = folder / "localnet" / "node0" / "node.log"
        if log.exists():
            print(f"--- end of {log}:")
            print(log.read_text(errors="replace")[-4000:])
        print(f"(kept {work} for a look)")
        raise SystemExit(1) from exc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in pids:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description="Run hkchain localnet from an empty folder.")
    parser.add_argument("--hkchain", required=True, help="the hkchain executable to test")
    parser.add_argument("--height", type=int, default=2, help="height node0 must reach")
    parser.add_argument("--timeout-s", type=float, default=90.0, help="bound on reaching it")
    args = parser.parse_args()
    run(args.hkchain, args.height, args.timeout_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
