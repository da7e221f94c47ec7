"""Throughput of the node stack (RPC admission, gossip, consensus glue, commit) on an
in-process network of four validators with the small test executor, so the VM's cost is
left out. Prints figures; asserts nothing about speed.

    python -m tests.node.bench_network --txs 6000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from tests.node.harness import make_homes, make_tx, start_nodes, stop_nodes, wait_for, wait_for_mesh

SENDERS = 6
CHUNK = 500


async def run(n_txs: int) -> None:
    homes = make_homes(Path(tempfile.mkdtemp(prefix="hk-bench-")), 4, empty_block_interval_ms=200,
                       mempool_overrides={"max_txs_per_sender": 5000, "max_txs": 100_000})
    nodes = await start_nodes(homes)
    try:
        await wait_for_mesh(nodes)
        per_sender = n_txs // SENDERS
        txs = [make_tx(u, i, key=f"{u}-{i}") for u in range(SENDERS) for i in range(per_sender)]
        start_height = nodes[0].store.height
        started = time.perf_counter()
        for k in range(0, len(txs), CHUNK):
            chunk = txs[k : k + CHUNK]
            # Each sender's txs go to one node, so nonces arrive in order.
            results = await nodes[chunk[0].tx.sender[0] % 4].submit(chunk)
            refused = [r for r in results if not isinstance(r, bytes)]
            assert not refused, refused[:3]
        submitted_s = time.perf_counter() - started
        await wait_for(lambda: all(n.store.tx_location(txs[-1].hash) is not None and not len(n.mempool)
                                   for n in nodes), timeout_s=600, what="every tx committed")
        elapsed_s = time.perf_counter() - started
        blocks = nodes[0].store.height - start_height
        print(f"{len(txs)} txs committed by 4 in-process validators (one Python process, one core) "
              f"in {elapsed_s:.2f} s = {len(txs) / elapsed_s:.0f} tx/s; submitting took "
              f"{submitted_s:.2f} s; {blocks} blocks; view changes "
              f"{[int(n.metrics.view_changes._value.get()) for n in nodes]}")
    finally:
        await stop_nodes(nodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--txs", type=int, default=6000)
    args = parser.parse_args()
    asyncio.run(run(min(args.txs, 60_000)))


if __name__ == "__main__":
    main()
