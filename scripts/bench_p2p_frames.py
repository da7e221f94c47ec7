#!/usr/bin/env python3
"""What one small frame costs on a real p2p link, both ends counted.

Two ``Network``s in one process, linked over loopback as two nodes are (handshake,
sealed secretstream, websocket), bounce a ``Status`` frame back and forth ``--frames``
times; the process's CPU time divided by the frames is the cost of one frame: the
sender's queue, seal and socket write and the receiver's read, open, decode and
dispatch. Each round is timed on its own and the best is printed, since other work on
the machine only ever adds to it. Run it with ``PYTHONPATH`` set to another checkout to
compare builds:

    python scripts/bench_p2p_frames.py --frames 20000 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from dataclasses import dataclass

from core.crypto import PrivateKey
from node.config import P2PConfig, PeerConfig
from p2p.messages import Status
from p2p.network import Identity, Network, Peer

CHAIN = "hk-bench-frames"
GENESIS = b"\x22" * 32


@dataclass(frozen=True)
class _Both:
    keys: frozenset[bytes]

    def is_validator(self, public_key: bytes) -> bool:
        return public_key in self.keys

    def is_admitted(self, public_key: bytes) -> bool:
        return public_key in self.keys

    def height(self) -> int:
        return 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _run(frames: int, rounds: int) -> list[float]:
    keys = [PrivateKey.from_seed_text(f"bench-frames-{i}") for i in range(2)]
    admission = _Both(frozenset(k.public_key for k in keys))
    ports = [_free_port() for _ in keys]
    nets = []
    for i, key in enumerate(keys):
        other = keys[1 - i]
        peer = PeerConfig(f"n{1 - i}", other.public_key, f"ws://127.0.0.1:{ports[1 - i]}/p2p")
        config = P2PConfig(port=ports[i], peers=(peer,), rate_limit_frames_per_s=10**9,
                           rate_burst_frames=10**9)
        nets.append(Network(config, Identity(key, CHAIN, GENESIS), admission))
    left = 0
    done = asyncio.Event()

    def bounce(peer: Peer, frame: Status) -> None:
        nonlocal left
        left -= 1
        if left <= 0:
            done.set()
        else:
            peer.send(Status(frame.height + 1))

    for net in nets:
        net.handle(Status.TAG, bounce)  # type: ignore[arg-type]
        await net.start()
    try:
        async with asyncio.timeout(30):
            while not (nets[0].peers and nets[1].peers):
                await asyncio.sleep(0.05)
        per_frame_us = []
        for _ in range(rounds):
            left = frames
            done.clear()
            cpu = time.process_time()
            next(iter(nets[0].peers.values())).send(Status(0))
            async with asyncio.timeout(300):
                await done.wait()
            per_frame_us.append((time.process_time() - cpu) / frames * 1e6)
        return per_frame_us
    finally:
        for net in nets:
            await net.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20000, help="frames per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # the node runs on uvloop where it is installed; so does this
        figures = asyncio.run(_run(args.frames, args.rounds))
    else:
        figures = uvloop.run(_run(args.frames, args.rounds))
    print(f"{args.frames} frames a round, {args.rounds} rounds: CPU per frame (both ends) "
          f"best {min(figures):.1f} µs, rounds " + ", ".join(f"{f:.1f}" for f in figures))


if __name__ == "__main__":
    main()
