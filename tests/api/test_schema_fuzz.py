"""Schemathesis against a real node's ``/openapi.json``: every documented operation is
driven with requests generated from the document (its coverage, fuzzing and stateful
phases, plus methods the document does not list), bounded and seeded so a run is short and
repeatable. Every response must be no 5xx, carry a documented status and content type, and
match its documented schema; requests that break the schema must be refused.

The node is a one-validator localnet process (the real VM and genesis), and it must still
commit blocks after the run. Settings the command line does not carry are in
tests/api/schemathesis.toml; widen the run with HKCHAIN_API_FUZZ_EXAMPLES.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.wallet import RpcClient
from tests.e2e.harness import describe_logs, make_network, running, wait_until

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 20261130
MAX_EXAMPLES = int(os.environ.get("HKCHAIN_API_FUZZ_EXAMPLES", "25"))
RUN_TIMEOUT_S = 420


async def test_every_response_of_a_real_node_conforms_to_its_openapi_document(tmp_path: Path) -> None:
    net = make_network(tmp_path / "net", 1)
    url = net.nodes[0].rpc_url
    with running(net) as sup:
        await asyncio.to_thread(sup.wait_ready, None, 60_000)
        cmd = [sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(CONFIG),
               "run", f"{url}/openapi.json", "--seed", str(SEED),
               "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic",
               "--workers", "1", "--request-timeout", "20", "--suppress-health-check", "all"]
        proc = await asyncio.to_thread(
            subprocess.run, cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
            cwd=tmp_path,  # its cache of failures stays out of the source tree
        )
        report = proc.stdout[-20_000:] + proc.stderr[-5_000:]
        assert proc.returncode == 0, f"schemathesis found failures:\n{report}\n{describe_logs(sup)}"
        # Not a vacuous pass: the document was loaded and its operations were exercised.
        assert "Tested: " in proc.stdout and " passed" in proc.stdout, report
        async with RpcClient(url, timeout_ms=5000) as rpc:
            height = int((await rpc.status())["height"])

            async def moved_on() -> bool:
                return int((await rpc.status())["height"]) > height

            await wait_until("the node to commit after the run", moved_on, timeout_s=30)
        assert "RPC handler failed" not in sup.log_tail(0), describe_logs(sup)
