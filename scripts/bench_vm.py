"""Benchmark of the contract VM through the executor (prints figures; asserts nothing).

    python scripts/bench_vm.py [--txs 5000] [--rounds 5]

Prints token transfers per second through ``ContractExecutor.execute_block`` on one core
(signatures are made before timing: the executor never checks them), both wall-clock and
process CPU time (the machine may be shared), the gas of common actions, and the gas and
time of a governance vote.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from core.crypto import PrivateKey
from core.state import StateView
from core.types import SignedTx, Tx
from vm.api import BlockContext
from vm.executor import ContractExecutor
from vm.journal import DictState

ROOT = Path(__file__).resolve().parents[1]
CHAIN_ID = "hk-bench"


def setup(households: int, storage_overlay: bool = False) -> tuple[ContractExecutor, StateView, PrivateKey, list[PrivateKey]]:
    doc = json.loads((ROOT / "genesis.json").read_text())
    operator = PrivateKey.from_seed_text("bench-operator")
    homes = [PrivateKey.from_seed_text(f"bench-household-{i}") for i in range(households)]
    doc["chain_id"] = CHAIN_ID
    doc["accounts"] = [{"address": operator.address, "balance": 10**15},
                       {"address": "governance", "balance": 10**12}]
    doc["roles"] = [{"address": operator.address, "role": "committee"}]
    doc["households"] = [{"address": h.address, "area_dm2": 8_000 + i} for i, h in enumerate(homes)]
    # the system contracts only, with the owner register in `roles`
    doc["contracts"] = {name: f"{name}.py" for name in ("roles", "token", "fees", "governance")}
    doc["params"] = {k: doc["params"][k] for k in ("fees", "roles")}
    ex = ContractExecutor(CHAIN_ID)
    state: StateView = DictState()
    if storage_overlay:  # the node's state overlay over an in-memory store
        from storage.kv import MemoryStore
        from storage.state import StateStore

        state = StateStore(MemoryStore()).overlay()
    ex.init_genesis(state, doc)
    return ex, state, operator, homes


def ctx(height: int) -> BlockContext:
    return BlockContext(CHAIN_ID, height, 1_767_225_600_000 + height * 1000, b"\x00" * 32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txs", type=int, default=5000, help="transfers per block (≤ 10000)")
    ap.add_argument("--rounds", type=int, default=5, help="blocks to time (bounded to 20)")
    ap.add_argument("--storage", action="store_true",
                    help="execute over storage's StateOverlay instead of a dict")
    a = ap.parse_args()
    n, rounds = min(a.txs, 10_000), min(a.rounds, 20)

    ex, state, operator, homes = setup(households=200, storage_overlay=a.storage)
    print(f"state: {'storage.state overlay (memory store)' if a.storage else 'vm.journal.DictState'}")
    recipients = [PrivateKey.from_seed_text(f"bench-recipient-{i}").address for i in range(100)]
    nonce, height = 0, 0
    wall_rates, cpu_rates = [], []
    gas = 0
    for _ in range(rounds):
        txs: list[SignedTx] = []
        for i in range(n):
            txs.append(Tx(CHAIN_ID, operator.public_key, nonce, "token", "transfer",
                          (recipients[i % len(recipients)], 1), 100_000, 10**9).sign(operator))
            nonce += 1
        for t in txs:
            _ = t.hash  # the node hashes each tx at admission
        height += 1
        w0, c0 = time.perf_counter(), time.process_time()
        receipts = ex.execute_block(state, ctx(height), txs)
        w1, c1 = time.perf_counter(), time.process_time()
        assert all(r.status == 0 for r in receipts)
        gas = receipts[0].gas_used
        wall_rates.append(n / (w1 - w0))
        cpu_rates.append(n / max(c1 - c0, 1e-9))
    print(f"token.transfer through execute_block, {n} txs/block × {rounds} blocks, one core:")
    print(f"  wall: median {statistics.median(wall_rates):,.0f} tx/s, best {max(wall_rates):,.0f} tx/s")
    print(f"  cpu:  median {statistics.median(cpu_rates):,.0f} tx/s, best {max(cpu_rates):,.0f} tx/s")
    print(f"  gas per transfer: {gas:,}")

    # A governance vote: an owners' matter with 200 households voting.
    height += 1
    (r,) = ex.execute_block(state, ctx(height), [Tx(
        CHAIN_ID, operator.public_key, nonce, "governance", "propose_owners",
        (5, "use the maintenance fund for the lifts", b"\x05" * 32), 10**7, 10**9).sign(operator)])
    nonce += 1
    assert r.status == 0, (r.error_code, r.error_contract, r.error_line)
    pid = r.result
    print(f"governance.propose_owners gas: {r.gas_used:,}")
    votes = [Tx(CHAIN_ID, h.public_key, 0, "governance", "vote", (pid, "yes" if i % 3 else "no"),
                10**6, 10**9).sign(h) for i, h in enumerate(homes)]
    for t in votes:
        _ = t.hash
    height += 1
    w0, c0 = time.perf_counter(), time.process_time()
    receipts = ex.execute_block(state, ctx(height), votes)
    w1, c1 = time.perf_counter(), time.process_time()
    assert all(r.status == 0 for r in receipts), {r.error_code for r in receipts}
    vote_gas = statistics.median(r.gas_used for r in receipts)
    print(f"governance.vote (owners' matter, sponsored): gas {vote_gas:,.0f}, "
          f"{(w1 - w0) / len(votes) * 1e6:,.0f} µs wall, {(c1 - c0) / len(votes) * 1e6:,.0f} µs cpu per vote")
    changes = [Tx(CHAIN_ID, h.public_key, 1, "governance", "vote", (pid, "yes"), 10**6, 10**9).sign(h)
               for h in homes[:50]]
    height += 1
    receipts = ex.execute_block(state, ctx(height), changes)
    print(f"governance.vote changing an earlier vote: gas {receipts[0].gas_used:,}")
    tally = ex.query(state, "governance", "tally", [pid], height, 0)
    print(f"tally after {len(homes)} votes: {tally!r}")


if __name__ == "__main__":
    main()
