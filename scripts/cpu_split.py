#!/usr/bin/env python3
"""Where running nodes' CPU goes, from their own metrics: a window's growth of
``process_cpu_seconds_total``, of ``hkchain_p2p_frame_cpu_seconds_total{kind}`` (the event
loop's CPU per kind of frame received, handlers included) and of
``hkchain_block_cpu_seconds_total{step}`` (thread CPU to build, check and commit blocks).

Unlike a sampling profiler, nothing here is skewed by the kernel preempting a node on a
busy machine: each figure is CPU the node's threads ran. Run it during a load:

    python scripts/cpu_split.py --seconds 15 --rpc http://127.0.0.1:20030 --rpc ...

A block's commit runs inside the handling of the frame that decided it, so ``commit`` is
also in that frame kind's figure; ``check`` and ``build`` mostly run in the node's worker
thread and are not.
"""

from __future__ import annotations

import argparse
import re
import time
import urllib.request
from collections import defaultdict

_SERIES = re.compile(r'^(\w+)(?:\{(\w+)="([^"]*)"\})? (\S+)$', re.M)


def scrape(rpc: str) -> dict[str, float]:
    with urllib.request.urlopen(rpc.rstrip("/") + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for name, _, label, value in _SERIES.findall(text):
        if name == "process_cpu_seconds_total":
            out["process"] = float(value)
        elif name == "hkchain_p2p_frame_cpu_seconds_total":
            out[f"frames: {label}"] = float(value)
        elif name == "hkchain_p2p_frames_received_total":
            out[f"count: {label}"] = float(value)
        elif name == "hkchain_block_cpu_seconds_total":
            out[f"block: {label}"] = float(value)
        elif name == "hkchain_blocks_committed_total":
            out["blocks"] = float(value)
        elif name == "hkchain_txs_committed_total":
            out["txs"] = float(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rpc", action="append", required=True, help="a node's RPC URL (repeat)")
    ap.add_argument("--seconds", type=float, default=15.0)
    args = ap.parse_args()
    before = [scrape(r) for r in args.rpc]
    time.sleep(args.seconds)
    after = [scrape(r) for r in args.rpc]
    growth: dict[str, float] = defaultdict(float)
    for a, b in zip(after, before, strict=True):
        for key, value in a.items():
            growth[key] += value - b.get(key, 0.0)
    nodes = len(args.rpc)
    process = growth["process"]
    blocks = growth["blocks"] / nodes
    print(f"{nodes} nodes, {args.seconds:g} s: {100 * process / nodes / args.seconds:.1f} % of a core per "
          f"node; {blocks / args.seconds:.1f} blocks/s, {growth['txs'] / nodes / args.seconds:.1f} tx/s")
    if not process:
        return
    print(f"{'':28} {'share':>6} {'ms/s/node':>10} {'frames/s/node':>14} {'µs/frame':>9}")
    rows = [(k, v) for k, v in growth.items() if k.startswith(("frames: ", "block: "))]
    for key, cpu in sorted(rows, key=lambda kv: -kv[1]):
        line = f"{key:28} {100 * cpu / process:5.1f}% {1000 * cpu / nodes / args.seconds:10.2f}"
        if key.startswith("frames: "):
            count = growth["count: " + key[len("frames: "):]]
            if count:
                line += f" {count / nodes / args.seconds:14.1f} {1e6 * cpu / count:9.1f}"
        print(line)
    framed = sum(v for k, v in rows if k.startswith("frames: "))
    off_loop = growth["block: check"] + growth["block: build"]
    print(f"{'rest (RPC, timers, gossip out, threads)':28} {100 * (process - framed - off_loop) / process:5.1f}%")


if __name__ == "__main__":
    main()
