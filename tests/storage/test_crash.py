"""Crash atomicity: SIGKILL a committing process at random moments, reopen, check.

After every kill the store must sit exactly at a committed block boundary: the head
block, its certificate and receipts exist, the state tree's root is the head header's
state_root, every key has the value the committed blocks gave it, and nothing of the
next block is visible. HKCHAIN_CRASH_KILLS sets the number of kills (25 by default);
HKCHAIN_CRASH_SEED the seed.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from storage.chain import ChainStore
from storage.state import verify_state_proof
from tests.storage.crash_child import (
    KEEP_HEIGHTS,
    KEY_SPACE,
    planned_txs,
    planned_writes,
)

KILLS = int(os.environ.get("HKCHAIN_CRASH_KILLS", "25"))
SEED = int(os.environ.get("HKCHAIN_CRASH_SEED", "20261127"))
READY_TIMEOUT_S = 30.0
MAX_RUN_BEFORE_KILL_S = 0.4
REPO = Path(__file__).resolve().parents[2]


def start_child(path: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.storage.crash_child", str(path), str(SEED)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    readable, _, _ = select.select([child.stdout], [], [], READY_TIMEOUT_S)
    line = child.stdout.readline() if readable else ""
    if not line.startswith("ready"):
        child.kill()
        child.wait(timeout=10)
        raise AssertionError(f"child did not open the store: {line!r}, rc={child.returncode}")
    return child


class Model:
    """The state that heights 0..height must have produced."""

    def __init__(self) -> None:
        self.height = -1
        self.state: dict[bytes, bytes] = {}

    def advance_to(self, height: int) -> None:
        while self.height < height:
            self.height += 1
            for key, value in planned_writes(SEED, self.height).items():
                if value is None:
                    self.state.pop(key, None)
                else:
                    self.state[key] = value


def check_store(path: Path, model: Model, rng: random.Random) -> int:
    store = ChainStore.open(path, keep_heights=KEEP_HEIGHTS)
    try:
        head = store.height
        assert head >= model.height, "a committed block was lost"
        model.advance_to(head)
        if head < 0:
            return head
        block = store.head
        assert block is not None and store.block(head) == block
        assert store.state_root == block.header.state_root
        assert store.block_by_hash(block.hash) == block
        if head > 0:
            cert = store.certificate(head)
            assert cert is not None and cert.block_hash == block.hash
            parent = store.block(head - 1)
            assert parent is not None and block.header.prev_hash == parent.hash
        assert block.txs == tuple(planned_txs(head))
        receipts = store.receipts(head)
        assert [r.tx_hash for r in receipts] == [t.hash for t in block.txs]
        for i, tx in enumerate(block.txs):
            assert store.tx_location(tx.hash) == (head, i)
        assert store.validator_set(head + 1) is not None
        # every key of the key space, plus the per-block markers
        state = store.state()
        keys = [b"acct/%d" % i for i in range(KEY_SPACE)] + [b"head"]
        keys += [b"block/%d" % h for h in range(max(0, head - 3), head + 3)]
        for key in keys:
            assert state.get(key) == model.state.get(key), key
        for key in rng.sample(keys, 25):
            value, proof = store.prove(key)
            assert value == model.state.get(key)
            assert verify_state_proof(block.header.state_root, key, value, proof)
        # nothing of the next block
        nxt = head + 1
        assert store.block(nxt) is None and store.certificate(nxt) is None
        assert store.receipts(nxt) == []
        assert store.validator_set(nxt + 1) is None
        for tx in planned_txs(nxt):
            assert store.tx_location(tx.hash) is None
        return head
    finally:
        store.close()


def test_crash_at_random_moments_leaves_a_committed_boundary(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    path = tmp_path / "chain"
    model = Model()
    heads = []
    for _ in range(KILLS):
        child = start_child(path)
        time.sleep(rng.uniform(0.0, MAX_RUN_BEFORE_KILL_S))  # the random moment of the kill
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert child.stdout is not None
        child.stdout.close()
        heads.append(check_store(path, model, rng))
    print(f"crash test: {KILLS} kills (seed {SEED}), final head {heads[-1]}")
    assert heads[-1] > KILLS // 2, "the child made too little progress to test anything"
