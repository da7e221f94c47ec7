#!/usr/bin/env python3
"""Where the CPU of a loaded localnet goes, per committed tx, by subsystem.

Runs ``hkchain bench`` (any bench options after ``--``) on a network kept in a temporary
home, attaches py-spy (``pip install py-spy``) to every node process for ``--seconds``
in the middle of the load, and prints, from the sampled stacks, the share of node CPU per
subsystem (signature check, decoding, mempool, gossip, consensus, VM, state commitment,
LevelDB, RPC, transport, loop) and, with the CPU per committed tx the bench measured from
/proc, microseconds per tx.
Each sample is charged to its innermost frame that belongs to a subsystem, so codec work
done for the mempool counts as decoding, and a signature check inside consensus counts
as signature. ``--raw DIR`` keeps py-spy's collapsed stacks for a flame graph.

    python scripts/profile_localnet.py --seconds 10 -- --duration 30
    python scripts/profile_localnet.py --stacks FILE...   # summarise saved stacks only
    python scripts/profile_localnet.py --pstats FILE...   # CPU-clock profiles instead

py-spy samples wall time, so where there are more busy nodes than cores, a node the kernel
preempted keeps its sample on the line it stopped at (most often a socket write, which
wakes the receiver). ``--pstats`` summarises yappi's CPU-clock profiles instead, made with
scripts/cpu_profile/sitecustomize.py: each function's own CPU time, charged by the same
rules to the subsystem of its file. yappi adds its own cost to every call it counts, which
inflates code made of many small calls (the VM's interpreter, address checks): read both
for call paths, and the node's metrics (scripts/cpu_split.py) for the split.
"""

from __future__ import annotations

import argparse
import json
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

# (subsystem, substrings of a frame's "function (file:line)" text); first match wins for
# each frame, and a sample goes to its innermost matching frame.
RULES: list[tuple[str, tuple[str, ...]]] = [
    ("signature check (Ed25519)", ("nacl/", "crypto_sign", "verify_signature", "core/crypto.py")),
    ("LevelDB", ("plyvel", "storage/leveldb.py", "storage/kv.py")),
    ("state commitment (tree, store)", ("storage/", "core/merkle.py")),
    ("VM (executor, interpreter)", ("vm/",)),
    ("hashing (SHA-256)", ("core/hashing.py", "hashlib")),
    ("encoding / decoding (codec, records)", ("core/codec.py", "msgpack", "core/types.py",
                                              "consensus/messages.py", "p2p/messages.py")),
    ("mempool", ("node/mempool.py",)),
    ("gossip", ("p2p/gossip.py",)),
    ("consensus (replica)", ("consensus/",)),
    ("block sync", ("p2p/sync.py",)),
    ("RPC (HTTP, JSON, events)", ("node/rpc.py", "core/render.py", "node/events.py",
                                  "aiohttp/web", "json/", "prometheus_client")),
    ("p2p transport (websocket frames)", ("p2p/network.py", "aiohttp/",)),
    ("node glue (service.py)", ("node/service.py",)),
]
OTHER = "event loop, logging, other"
WARMUP_S = 3.0


def classify(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, needles in RULES:
            if any(n in frame for n in needles):
                return name
    return OTHER


def load_stacks(path: Path) -> list[tuple[list[str], int]]:
    out = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if stack and count.isdigit():
            out.append((stack.split(";"), int(count)))
    return out


# Leaf frames of a thread that waits (py-spy may count a waiting thread as active).
IDLE_LEAVES = ("_worker (concurrent/futures/thread.py", "Runner.run (asyncio/runners.py",
               "select (selectors.py", "wait (threading.py")


def summarise(paths: list[Path], cpu_us_per_tx: float | None = None) -> str:
    """Shares of the sampled busy stacks per subsystem; with the bench's measured CPU per
    committed tx (all nodes, from /proc), the microseconds per tx each subsystem costs."""
    by_subsystem: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for p in paths:
        for frames, n in load_stacks(p):
            if frames[-1].startswith(IDLE_LEAVES):
                continue
            by_subsystem[classify(frames)] += n
            leaves[frames[-1]] += n
            total += n
    if not total:
        return "no busy samples"
    lines = [f"{len(paths)} node processes, {total} busy samples"]
    lines.append(f"{'subsystem':40} {'share':>6}" + ("   µs/tx (all nodes)" if cpu_us_per_tx else ""))
    for name, n in by_subsystem.most_common():
        row = f"{name:40} {100 * n / total:5.1f}%"
        if cpu_us_per_tx:
            row += f"   {cpu_us_per_tx * n / total:8.0f}"
        lines.append(row)
    if cpu_us_per_tx:
        lines.append(f"{'total (CPU of all nodes / committed tx)':40} {100.0:5.1f}%   {cpu_us_per_tx:8.0f}")
    lines.append("")
    lines.append("hottest functions (self time):")
    for frame, n in leaves.most_common(20):
        lines.append(f"  {100 * n / total:5.1f}%  {frame[:110]}")
    return "\n".join(lines)


def summarise_pstats(paths: list[Path]) -> str:
    """Each function's own CPU time (yappi's CPU clock, C calls counted to their Python
    caller) per subsystem, over the given profiles together."""
    stats = pstats.Stats(*(str(p) for p in paths))
    by_subsystem: Counter[str] = Counter()
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    for (file, line, name), (_, _, self_s, cum_s, _) in stats.stats.items():  # type: ignore[attr-defined]
        text = f"{name} ({file}:{line})"
        by_subsystem[classify([text])] += self_s
        own[text] += self_s
        if any(part in file for part in ("node/", "p2p/", "consensus/", "vm/", "storage/")):
            cumulative[text] += cum_s
    total = sum(by_subsystem.values())
    if not total:
        return "no CPU time in these profiles"
    lines = [f"{len(paths)} profiles, {total:.2f} s of CPU", f"{'subsystem':40} {'share':>6}"]
    for name, cpu in by_subsystem.most_common():
        lines.append(f"{name:40} {100 * cpu / total:5.1f}%")
    lines += ["", "hottest functions (own CPU):"]
    lines += [f"  {100 * cpu / total:5.1f}%  {text[:110]}" for text, cpu in own.most_common(20)]
    lines += ["", "the node's functions by CPU including what they call (nested, so shares overlap):"]
    lines += [f"  {100 * cpu / total:5.1f}%  {text[:110]}" for text, cpu in cumulative.most_common(25)]
    return "\n".join(lines)


def node_pids(home: Path) -> list[int]:
    pids = []
    needle = f"--home\0{home}/node".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return sorted(pids)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10, help="how long py-spy samples")
    ap.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    ap.add_argument("--gil", action="store_true",
                    help="sample only the thread holding the GIL (py-spy --gil): leaves out "
                         "waits on fsync and the other threads' blocking calls")
    ap.add_argument("--raw", type=Path, default=None, help="keep collapsed stacks here")
    ap.add_argument("--stacks", type=Path, nargs="*", default=None,
                    help="summarise these collapsed-stack files instead of running")
    ap.add_argument("--pstats", type=Path, nargs="*", default=None,
                    help="summarise these CPU-clock profiles (scripts/cpu_profile) instead")
    ap.add_argument("bench_args", nargs="*", help="options for hkchain bench (after --)")
    args = ap.parse_args()
    if args.pstats:
        print(summarise_pstats(args.pstats))
        return 0
    if args.stacks:
        print(summarise(args.stacks))
        return 0
    if shutil.which("py-spy") is None:
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="hkchain-profile-"))
    home = work / "net"
    raw_dir = args.raw or work
    raw_dir.mkdir(parents=True, exist_ok=True)
    bench_args = args.bench_args or ["--duration", "30"]
    bench = subprocess.Popen(
        ["hkchain", "bench", *bench_args, "--home", str(home), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        # The load starts once the nodes run and the txs are signed: wait for a first
        # committed block carrying many txs, then sample.
        pids: list[int] = []
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and bench.poll() is None:
            pids = node_pids(home)
            if pids and _loaded(home):
                time.sleep(WARMUP_S)
                break
            time.sleep(0.5)
        if not pids:
            print("no node processes found", file=sys.stderr)
            return 1
        recorders = [
            subprocess.Popen(["py-spy", "record", "-p", str(pid), "-d", str(int(args.seconds)),
                              "-r", str(args.rate), "-f", "raw", "-o", str(raw_dir / f"node-{pid}.txt"),
                              *(["--gil"] if args.gil else [])],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for pid in pids
        ]
        for r in recorders:
            r.wait()
        out, _ = bench.communicate(timeout=900)
        report = json.loads(out) if out else {}
    finally:
        if bench.poll() is None:
            bench.terminate()
            bench.wait()
    print(f"bench: {report.get('tps')} committed tx/s, latency p50 "
          f"{report.get('latency_ms', {}).get('p50')} ms, ok={report.get('ok')}")
    per_tx = [n.get("cpu_ms_per_tx") for n in report.get("node_figures", [])]
    cpu_us = 1000 * sum(per_tx) if per_tx and None not in per_tx else None
    print(summarise(sorted(raw_dir.glob("node-*.txt")), cpu_us))
    if args.raw is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _loaded(home: Path) -> bool:
    """True once node0's mempool holds txs: the timed load is under way."""
    try:
        config = json.loads((home / "node0" / "config.json").read_text())
        url = f"http://{config['rpc']['host']}:{config['rpc']['port']}/v1/status"
        with urllib.request.urlopen(url, timeout=2) as resp:
            status = json.loads(resp.read())
    except (OSError, ValueError, KeyError):
        return False
    return int(status.get("mempool", {}).get("txs", 0)) > 0


if __name__ == "__main__":
    sys.exit(main())
