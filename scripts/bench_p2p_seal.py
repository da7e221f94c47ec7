"""Sealed p2p frames benchmark: prints figures, asserts nothing about speed.

  python scripts/bench_p2p_seal.py [--rounds 20]

What encryption adds to each p2p frame (p2p/secure.py, docs/PROTOCOL.md section 13):
sealing on the sender plus opening on the receiver, for frames of the sizes a network
sends — a vote, a tx announcement, a batch of tx bodies, a block of 2,000 transfers, the
largest legal frame — and one whole handshake's key schedule (X25519 and HKDF; the two
Ed25519 signatures were there before). CPU time, the best of ``--rounds`` rounds, so other
load on the machine disturbs the figures little.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2p.messages import MAX_FRAME_BYTES
from p2p.secure import EphemeralKey, SecureChannel, session_keys, transcript_hash

SIZES = [
    ("vote (consensus frame)", 200, 2000),
    ("tx announcement, 64 hashes", 2_100, 2000),
    ("tx bodies, 64 transfers", 16_000, 500),
    ("block of 2,000 transfers", 500_000, 40),
    ("largest legal frame", MAX_FRAME_BYTES, 2),
]


def best_s(fn: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def channels() -> tuple[SecureChannel, SecureChannel]:
    a_eph, b_eph = EphemeralKey(), EphemeralKey()
    a_side = (b"\x01" * 32, os.urandom(32), a_eph.public_key)
    b_side = (b"\x02" * 32, os.urandom(32), b_eph.public_key)
    transcript = transcript_hash("bench", b"\x00" * 32, a_side, b_side)
    a = SecureChannel(*session_keys(a_eph.shared_secret(b_eph.public_key), transcript, a_side[0], b_side[0]))
    b = SecureChannel(*session_keys(b_eph.shared_secret(a_eph.public_key), transcript, b_side[0], a_side[0]))
    a.start_receiving(b.header)
    b.start_receiving(a.header)
    return a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    a, b = channels()
    print(f"{'frame':32} {'bytes':>10} {'seal+open µs':>14} {'MB/s':>8}")
    for name, size, count in SIZES:
        frame = os.urandom(size)

        def run(frame: bytes = frame, count: int = count) -> None:
            for _ in range(count):
                b.open(a.seal(frame))

        per_frame_s = best_s(run, args.rounds) / count
        print(f"{name:32} {size:>10,} {per_frame_s * 1e6:>14,.1f} {size / per_frame_s / 1e6:>8,.0f}")
    key_schedule_s = best_s(lambda: [channels() for _ in range(200)], args.rounds) / 200
    print(f"{'key schedule, both ends':32} {'':>10} {key_schedule_s * 1e6:>14,.1f}")


if __name__ == "__main__":
    main()
