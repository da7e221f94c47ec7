"""Records benchmark: prints figures, asserts nothing about speed.

  python scripts/bench_records.py [--txs 2000] [--rounds 30]

The paths the codec's and the records' speed matter on (docs/PERFORMANCE.md): a block of
token transfers decoded from its bytes with every tx hashed (what a validator does with
a proposal and a syncing node with each block), txs turned into values (encoding), and
txs rebuilt from values (decoding inside a frame). CPU time per round, the best of
``--rounds`` rounds, so other load on the machine disturbs the figures little.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.crypto import PrivateKey
from core.hashing import sha256
from core.types import Block, BlockHeader, SignedTx, Tx, tx_root


def best_ms(fn: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--txs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    keys = [PrivateKey(bytes([i + 1]) * 32) for i in range(20)]
    txs = tuple(
        Tx("bench", keys[i % 20].public_key, i, "token", "transfer",
           (keys[(i + 1) % 20].address, 5), 10, 1000).sign(keys[i % 20])
        for i in range(args.txs))
    header = BlockHeader("bench", 5, sha256(b"p"), tx_root(txs), sha256(b"s"), sha256(b"r"),
                         keys[0].public_key, 0, 1, sha256(b"v"))
    data = Block(header, txs).encode()
    values = [t.to_value() for t in txs]

    def decode_block() -> None:
        for t in Block.decode(data).txs:
            _ = t.hash

    def to_values() -> None:
        for t in txs:
            t.to_value()

    def from_values() -> None:
        for v in values:
            SignedTx.from_value(v)

    n = args.txs
    print(f"block of {n} token transfers ({len(data):,} bytes), best of {args.rounds} rounds, CPU time:")
    print(f"  Block.decode + every tx hash: {best_ms(decode_block, args.rounds):.2f} ms")
    print(f"  SignedTx.to_value x {n}:      {best_ms(to_values, args.rounds):.2f} ms")
    print(f"  SignedTx.from_value x {n}:    {best_ms(from_values, args.rounds):.2f} ms")


if __name__ == "__main__":
    main()
