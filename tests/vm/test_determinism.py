"""Same blocks on the same state give the same state and receipts in every process,
whatever the hash seed (dict/set order) of the interpreter running the VM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.vm import scenario

ROOT = Path(__file__).resolve().parents[2]


def test_same_result_across_hash_seeds() -> None:
    outputs = set()
    for seed in ("0", "1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run(
            [sys.executable, "-m", "tests.vm.scenario"], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout.strip()
        assert len(out) == 64, out
        outputs.add(out)
    outputs.add(scenario.run())
    assert len(outputs) == 1, outputs
