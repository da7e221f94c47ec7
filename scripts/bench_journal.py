"""Mempool journal benchmark: what "accepted means on disk" costs. Prints figures, asserts
nothing about speed.

  python scripts/bench_journal.py [--txs 3000] [--dir /tmp]

C clients each submit one tx at a time (or a batch of --batch) and wait for the answer,
as the RPC does: admission to the mempool, then ``await persist()``. Three journals:

- ``group``: the node's journal (every batch fsynced in a worker thread; submissions
  that arrive while one batch syncs share the next one);
- ``unsynced``: the same, without the fsync (what the journal did before: durable
  against SIGKILL, not against power loss);
- ``fsync per tx``: one synced write per tx, no sharing (concurrency 1 of ``group``
  measures the same).

For each: txs/s, fsyncs, txs per fsync, and the latency of one submission p50/p99. The
admission checks are stubbed (signatures counted as checked, state checks accept): this
measures the journal, not the VM.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.crypto import PrivateKey
from core.state import StateReader
from core.types import SignedTx, Tx
from node.config import MempoolConfig
from node.mempool import Mempool
from storage.leveldb import LevelDBStore

CHAIN_ID = "hk-bench"


class AcceptAll:
    """The mempool's TxChecker, accepting every tx: the bench measures the journal."""

    def check_tx(self, state: StateReader, stx: SignedTx, next_height: int,
                 pending_nonce: int | None = None) -> None:
        return None

    def account_nonce(self, state: StateReader, address: str) -> int:
        return 0


def sign_txs(n: int) -> list[SignedTx]:
    keys = [PrivateKey.from_seed_text(f"journal-bench-{i}") for i in range(64)]
    out = []
    for i in range(n):
        key = keys[i % len(keys)]
        tx = Tx(CHAIN_ID, key.public_key, i // len(keys), "token", "transfer",
                (keys[0].address, 5), 1_000, 1_000)
        out.append(tx.sign(key))
    return out


def _unsynced_writer(pool: Mempool, journal: LevelDBStore) -> None:
    def write(ops: list[tuple[bytes, bytes | None]]) -> None:
        with journal.batch(sync=False) as wb:
            for key, value in ops:
                if value is None:
                    wb.delete(key)
                else:
                    wb.put(key, value)
        pool.journal_syncs += 1

    pool._write_journal = write  # type: ignore[method-assign]


async def run(mode: str, clients: int, batch: int, txs: list[SignedTx], root: Path) -> dict[str, float]:
    journal = LevelDBStore(root / f"{mode}-{clients}-{batch}", cache_bytes=8 << 20,
                           write_buffer_bytes=8 << 20)
    config = MempoolConfig(max_txs=len(txs) + 1, max_bytes=1 << 30, max_txs_per_sender=len(txs))
    pool = Mempool(config, CHAIN_ID, AcceptAll(), lambda: None, lambda: 0, journal)  # type: ignore[arg-type, return-value]
    if mode == "unsynced":
        _unsynced_writer(pool, journal)
    latencies: list[float] = []
    chunks = [txs[i:i + batch] for i in range(0, len(txs), batch)]
    queue = iter(chunks)

    async def client() -> None:
        for chunk in queue:
            started = time.perf_counter()
            pool.add_many(chunk, signature_checked=True)
            if mode == "fsync per tx":
                for stx in chunk:  # what a journal without group commit does
                    await asyncio.get_running_loop().run_in_executor(
                        None, lambda s=stx: journal.put(b"p/" + s.hash, s.encoded, sync=True))
            else:
                await pool.persist()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    syncs = pool.journal_syncs if mode != "fsync per tx" else len(txs)
    journal.close()
    latencies.sort()
    return {
        "tx_per_s": len(txs) / elapsed,
        "fsyncs": syncs if mode != "unsynced" else 0,
        "txs_per_fsync": len(txs) / syncs if mode != "unsynced" and syncs else 0.0,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--txs", type=int, default=3000)
    ap.add_argument("--dir", type=Path, default=None, help="where the journals go (a real disk)")
    args = ap.parse_args()
    txs = sign_txs(args.txs)
    print(f"{args.txs} txs per run; journal in {args.dir or tempfile.gettempdir()}")
    print(f"{'journal':<14}{'clients':>8}{'batch':>7}{'tx/s':>10}{'fsyncs':>8}{'tx/fsync':>10}"
          f"{'p50 ms':>9}{'p99 ms':>9}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for mode, clients, batch in [
            ("fsync per tx", 1, 1), ("unsynced", 1, 1), ("group", 1, 1),
            ("unsynced", 16, 1), ("group", 16, 1),
            ("unsynced", 128, 1), ("group", 128, 1),
            ("unsynced", 4, 100), ("group", 4, 100),
        ]:
            r = asyncio.run(run(mode, clients, batch, txs, Path(tmp)))
            print(f"{mode:<14}{clients:>8}{batch:>7}{r['tx_per_s']:>10,.0f}{r['fsyncs']:>8,.0f}"
                  f"{r['txs_per_fsync']:>10,.1f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}")


if __name__ == "__main__":
    main()
