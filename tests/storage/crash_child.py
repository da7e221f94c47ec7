"""The child of the crash test: commits blocks to a LevelDB ChainStore until killed.

  python -m tests.storage.crash_child <store dir> <seed>

Everything a block holds is a function of (seed, height) (``planned_writes``,
``planned_txs``), so the parent can recompute what any committed height must contain.
It resumes at the store's head; it prints "ready <head>" once the store is open.
"""

from __future__ import annotations

import random
import sys

from core.hashing import ZERO_HASH
from core.types import SignedTx
from storage.chain import ChainStore
from tools.blocks import VALIDATORS, certify, make_block, receipt_for, transfer

KEY_SPACE = 3000
KEEP_HEIGHTS = 8
MAX_HEIGHT = 100_000


def planned_writes(seed: int, height: int) -> dict[bytes, bytes | None]:
    rng = random.Random(f"{seed}/{height}")
    writes: dict[bytes, bytes | None] = {}
    for _ in range(rng.randrange(10, 300)):
        key = b"acct/%d" % rng.randrange(KEY_SPACE)
        writes[key] = None if rng.random() < 0.15 else rng.randbytes(rng.randrange(1, 40))
    writes[b"head"] = b"%d" % height
    writes[b"block/%d" % height] = b"1"
    return writes


def planned_txs(height: int) -> list[SignedTx]:
    return [transfer(height * 10 + i) for i in range(1 + height % 4)]


def main() -> None:
    path, seed = sys.argv[1], int(sys.argv[2])
    store = ChainStore.open(path, keep_heights=KEEP_HEIGHTS)
    print(f"ready {store.height}", flush=True)
    while store.height < MAX_HEIGHT:
        height = store.height + 1
        overlay = store.overlay()
        for key, value in planned_writes(seed, height).items():
            if value is None:
                overlay.delete(key)
            else:
                overlay.set(key, value)
        txs = planned_txs(height)
        receipts = [receipt_for(t, i) for i, t in enumerate(txs)]
        head = store.head
        block = make_block(height, ZERO_HASH if head is None else head.hash, txs, receipts, overlay)
        store.commit_block(block, certify(block) if height else None, receipts, overlay, VALIDATORS)


if __name__ == "__main__":
    main()
