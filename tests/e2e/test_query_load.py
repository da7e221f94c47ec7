"""One RPC client cannot stall a validator: 50 looping contract view calls at once, then a
flood of them, sent to one validator of a real 4-node localnet while it commits. That
validator's block interval stays within twice its value without them, no view changes,
and every call is answered (out of gas, or refused by the per-client limits).

A liveness check with generous bounds, not a benchmark: ``python -m tools.query_load``
prints the figures (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from tests.e2e.harness import describe_logs, make_network, running
from tools.query_load import measure

pytestmark = pytest.mark.slow

ALLOWED = {"422 out_of_gas", "429 too_many_queries", "429 query_budget_exhausted", "503 busy"}


async def test_looping_queries_from_one_client_do_not_slow_the_chain(tmp_path: Path) -> None:
    net = make_network(tmp_path / "net", 4)
    with running(net) as sup:
        sup.wait_ready()
        baseline, burst, flood = await measure(net, calls=50, baseline_s=6.0, flood_s=4.0,
                                               flood_rate=200)
        logs = describe_logs(sup)
    assert len(baseline.block_intervals_ms) >= 4, logs
    usual_ms = statistics.median(baseline.block_intervals_ms)
    for phase in (burst, flood):
        assert phase.view_changes == 0, (phase.summary(), logs)
        assert max(phase.block_intervals_ms) <= 2 * usual_ms, (usual_ms, phase.summary())
        assert set(phase.answers) <= ALLOWED, phase.answers
    assert sum(burst.answers.values()) == 50
    # The calls really ran (out of gas at the cap), and the client's limits refused the rest.
    assert burst.answers["422 out_of_gas"] >= 1
    assert burst.answers["429 too_many_queries"] + burst.answers["429 query_budget_exhausted"] >= 1
    assert baseline.view_changes == 0
