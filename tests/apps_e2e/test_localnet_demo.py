"""`hkchain localnet --demo` as a new user runs it: the network starts, the community is
seeded once, the summary shows it, the chain holds it, and Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from tests.e2e.harness import free_base_port
from tools.demo import RESIDENTS

pytestmark = pytest.mark.slow

N_NODES = 4
SEED_TIMEOUT_S = 150.0
STOP_TIMEOUT_S = 30.0


class _Output:
    """The process's output, read by a thread so the pipe never fills."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            self.lines.append(raw.decode(errors="replace"))

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, marker: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while marker not in self.text:
            if proc.poll() is not None:
                self._thread.join(5)
                raise AssertionError(f"localnet --demo exited early:\n{self.text}")
            assert time.monotonic() < deadline, f"{marker!r} not printed in time:\n{self.text}"
            time.sleep(0.2)

    def finish(self) -> str:
        self._thread.join(STOP_TIMEOUT_S)
        return self.text


def test_localnet_demo_seeds_a_community_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    home = tmp_path / "localnet"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "localnet", "--demo", "--nodes", str(N_NODES), "--home", str(home),
         "--base-port", str(free_base_port(N_NODES))],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    output = _Output(proc)
    try:
        # The last line of the demo's summary: seeding and printing are done.
        output.wait_for("hkchain gov vote", proc, SEED_TIMEOUT_S)
        manifest = json.loads((home / "demo" / "community.json").read_text())
        rpc = json.loads((home / "nodes.json").read_text())["nodes"][1]["rpc_url"]
        assert [h["unit"] for h in manifest["households"]] == [r.unit for r in RESIDENTS]
        totals = CliRunner().invoke(main, ["households", "totals", "--rpc", rpc, "--json"])
        assert totals.exit_code == 0, totals.output
        assert json.loads(totals.stdout)["result"] == {
            "households": len(RESIDENTS), "total_area_dm2": sum(r.area_dm2 for r in RESIDENTS)}
        proposal = CliRunner().invoke(main, ["gov", "proposal", str(manifest["spend_proposal"]), "--rpc", rpc])
        assert proposal.exit_code == 0 and "open" in proposal.output, proposal.output

        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=STOP_TIMEOUT_S)
        text = output.finish()
        assert proc.returncode == 0, text
        for shown in ("Households", "Culture works", "Look around", "All nodes stopped"):
            assert shown in text, f"{shown!r} not in the output:\n{text}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
