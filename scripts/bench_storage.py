"""Storage benchmark: prints figures, asserts nothing about speed.

  python scripts/bench_storage.py [--keys 1000000] [--blocks 20] [--block-commits 20]
                                 [--state-dir /tmp/hkchain-state-1m]

1. encode/decode per second of a typical SignedTx (a token transfer);
2. state-commitment key updates per second with --keys keys present (the state is built
   first, in blocks of 50,000 writes; its build time and peak RSS are printed), with
   blocks of 1,000 writes, both read-then-write (as execution does: the overlay
   remembers what it read) and blind writes;
3. LevelDB ChainStore block commits per second with 1,000 txs a block (block, receipts,
   tx index, certificate, 2 state writes a tx, one synced WriteBatch).
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.types import SignedTx
from storage import schema
from storage.chain import ChainStore
from storage.leveldb import LevelDBStore
from storage.state import StateStore
from tools.blocks import (
    VALIDATORS,
    certify,
    make_block,
    receipt_for,
    transfer,
)

BUILD_CHUNK = 50_000
WRITES_PER_BLOCK = 1_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_codec(count: int) -> None:
    tx = transfer(7)
    data = tx.encode()
    value = tx.to_value()
    # fresh objects each time: a cached encoding would measure nothing
    fresh = [SignedTx.from_value(value) for _ in range(count)]
    t0 = time.perf_counter()
    for t in fresh:
        t.encode()
    enc = count / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(count):
        SignedTx.decode(data)
    dec = count / (time.perf_counter() - t0)
    print(f"SignedTx token transfer ({len(data)} bytes): encode {enc:,.0f}/s, decode {dec:,.0f}/s")


def commit(
    kv: LevelDBStore,
    state: StateStore,
    changes: dict[bytes, bytes | None],
    known: dict[bytes, bytes | None] | None,
    height: int,
) -> None:
    update = state.compute(changes, known)
    with kv.batch(sync=False) as wb:
        state.stage(update, wb, height)
    state.committed(update, height)


def head_height(kv: LevelDBStore) -> int:
    """The last height with a state root in ``kv`` (-1 if none)."""
    for key, _ in kv.iterate(schema.STATE_ROOT, reverse=True):
        return schema.from_be64(key[len(schema.STATE_ROOT) :])
    return -1


def bench_state(
    keys: int,
    blocks: int,
    cache_depth: int,
    keep_heights: int | None,
    workdir: str,
    state_dir: str | None,
) -> None:
    kv = LevelDBStore(Path(state_dir) if state_dir else Path(workdir) / "state")
    state = StateStore(kv, keep_heights=keep_heights, cache_depth=cache_depth)
    rng = random.Random(1)
    height = head_height(kv) + 1
    if height > 0:
        # A state built by an earlier run (--state-dir): its keys are the same
        # acct/0..keys-1, and the runs only update them, so it still holds --keys keys.
        state.load(height - 1)
        rng = random.Random(height)
        print(f"state of {keys:,} keys reused from {state_dir} at height {height - 1}")
    else:
        t0 = time.perf_counter()
        for start in range(0, keys, BUILD_CHUNK):
            changes: dict[bytes, bytes | None] = {
                b"acct/%010d" % i: rng.randbytes(16)
                for i in range(start, min(keys, start + BUILD_CHUNK))
            }
            commit(kv, state, changes, None, height)
            height += 1
        build_s = time.perf_counter() - t0
        print(f"state of {keys:,} keys built in {build_s:.1f} s; peak RSS {peak_rss_mb():.0f} MB")
    for mode in ("read-then-write", "blind write"):
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        for _ in range(blocks):
            overlay = state.overlay()
            for _ in range(WRITES_PER_BLOCK):
                key = b"acct/%010d" % rng.randrange(keys)
                if mode == "read-then-write":
                    overlay.get(key)
                overlay.set(key, rng.randbytes(16))
            t_root = time.perf_counter()
            overlay.root()
            root_s = time.perf_counter() - t_root
            update = overlay.update()
            with kv.batch(sync=False) as wb:
                state.stage(update, wb, height)
            state.committed(update, height)
            height += 1
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        n = blocks * WRITES_PER_BLOCK
        print(
            f"state updates ({mode}, cache_depth={cache_depth}, keep_heights={keep_heights}): "
            f"{n / wall:,.0f} keys/s wall, "
            f"{n / cpu:,.0f} keys/s per CPU-second (incl. reads and batch write; "
            f"last root {root_s * 1000:.0f} ms)"
        )
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    kv.close()


def bench_chain(blocks: int, workdir: str) -> None:
    store = ChainStore.open(Path(workdir) / "chain")
    rng = random.Random(2)
    txs = [transfer(i) for i in range(1000)]
    receipts = [receipt_for(t, i) for i, t in enumerate(txs)]
    prev = b"\x00" * 32
    elapsed = 0.0
    for height in range(blocks + 1):
        overlay = store.overlay()
        block_txs = [transfer(height * 1000 + i) for i in range(1000)] if height else txs
        block_receipts = [receipt_for(t, i) for i, t in enumerate(block_txs)]
        for _ in range(2 * len(block_txs)):
            overlay.set(b"acct/%010d" % rng.randrange(100_000), rng.randbytes(16))
        block = make_block(height, prev, block_txs, block_receipts, overlay)
        cert = certify(block) if height else None
        t0 = time.perf_counter()
        store.commit_block(block, cert, block_receipts, overlay, VALIDATORS)
        if height:
            elapsed += time.perf_counter() - t0
        prev = block.hash
    print(
        f"ChainStore commits (1,000 txs, 1,000 receipts, 2,000 state writes, synced): "
        f"{blocks / elapsed:,.1f} blocks/s ({elapsed / blocks * 1000:.0f} ms a block, "
        f"root computation included)"
    )
    del receipts
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--block-commits", type=int, default=20)
    parser.add_argument("--cache-depth", type=int, default=None)
    parser.add_argument("--keep-heights", type=int, default=None, help="default: the store's")
    parser.add_argument("--skip", default="", help="comma list of: codec,state,chain")
    parser.add_argument(
        "--state-dir",
        default=None,
        help="LevelDB dir of the state phase, kept after the run and reused by the next "
        "(with the same --keys) instead of building the state again",
    )
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    workdir = tempfile.mkdtemp(prefix="hkchain-bench-storage-")
    try:
        if "codec" not in skip:
            bench_codec(20_000)
        if "state" not in skip:
            from storage.state import DEFAULT_CACHE_DEPTH, DEFAULT_KEEP_HEIGHTS

            bench_state(
                args.keys,
                args.blocks,
                args.cache_depth or DEFAULT_CACHE_DEPTH,
                args.keep_heights or DEFAULT_KEEP_HEIGHTS,
                workdir,
                args.state_dir,
            )
        if "chain" not in skip:
            bench_chain(args.block_commits, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
