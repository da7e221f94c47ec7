"""The short CI bench: `hkchain bench` end to end on a real 4-validator localnet.

It runs the command for a few seconds and checks the report's consistency fields (every
accepted tx committed exactly once on every node, all nodes on one chain of state roots,
the counts adding up). Its figures are printed for the log, never asserted: speed is
judged from docs/PERFORMANCE.md runs, not from a shared CI machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.slow

BENCH_TIMEOUT_S = 240


def _bench(*args: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "bench", *args, "--json"],
        capture_output=True, text=True, timeout=BENCH_TIMEOUT_S, check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = {}
    return proc.returncode, report, proc.stderr


def _print_figures(capsys: pytest.CaptureFixture[str], report: dict[str, Any]) -> None:
    lat = report["latency_ms"]
    with capsys.disabled():
        print(
            f"\n[ci bench] {report['workload']}: {report['tps']} committed tx/s over "
            f"{report['steady_window_s']} s; latency p50 {lat['p50']} ms p99 {lat['p99']} ms; "
            f"{report['submitted']} accepted, {report['committed']} committed; "
            f"CPU {report['cpu_percent_of_machine']}% of the machine"
        )


def test_short_transfer_bench_commits_every_tx_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, stderr = _bench("--duration", "4", "--rate", "150", "--senders", "24")
    assert report, f"no JSON report (exit {code}):\n{stderr[-3000:]}"
    _print_figures(capsys, report)
    assert code == 0 and report["ok"], report["failures"]
    assert report["exactly_once"] and report["state_roots_agree"]
    assert report["heights_compared"] >= 1
    assert report["refused"] == {}
    assert 0 < report["submitted"] <= report["presigned"]
    assert report["committed"] == report["submitted"]
    for node in report["node_figures"]:
        assert node["lost"] == 0 and node["duplicates"] == 0
        assert node["txs_seen"] == report["submitted"]
        assert node["pid"] is not None and node["peak_rss_bytes"] > 0
        # Committed txs grow the chain store; the parts add up to the whole.
        parts = node["disk_parts_bytes_per_tx"]
        assert parts["chain"] > 0 and node["disk_bytes_per_tx"] > 0
        assert abs(sum(parts.values()) - node["disk_bytes_per_tx"]) <= len(parts) * 0.1
        assert 0 <= node["disk_wal_bytes"] <= node["disk_bytes"]
    assert len(report["node_figures"]) == 4
    settled = report["node_figures"][0]["disk_settled_parts_bytes_per_tx"]
    assert settled["chain"] > 0 and report["node_figures"][0]["disk_settled_bytes_per_tx"] > 0
    # Live bytes by kind of record: the load's blocks, receipts and tx index are there,
    # and no key of the chain store falls outside the schema's families.
    records = report["node_figures"][0]["disk_records_bytes_per_tx"]
    assert records["blocks"] > 0 and records["receipts"] > 0 and records["tx index"] > 0
    assert "unknown" not in records and "receipts (layout 2)" not in records
    # Compacted, the directory holds its live entries fully merged, as the same entries
    # written afresh into new tables do: the two agree but for table boundaries and
    # LevelDB's own files (LOG, MANIFEST), whatever the load left dead (the journal's
    # txs, the WAL's blocks). The live figure counts the whole store, what it held before
    # the load included, and the other two its growth: so whole directories are compared
    # (each figure is rounded to 0.1 B/tx).
    node0, committed = report["node_figures"][0], report["committed"]
    before = node0["disk_bytes"] - node0["disk_bytes_per_tx"] * committed
    compacted = before + node0["disk_settled_bytes_per_tx"] * committed
    live = node0["disk_live_bytes_per_tx"] * committed
    slack = 64 * 1024 + 0.15 * committed
    assert 0 < live <= compacted * 1.1 + slack, (live, compacted)
    assert compacted <= live * 1.1 + slack, (live, compacted)
    assert report["latency_ms"]["samples"] <= report["committed"]


def test_short_mixed_bench_votes_rates_and_pays_bills(capsys: pytest.CaptureFixture[str]) -> None:
    code, report, stderr = _bench("--duration", "3", "--rate", "100", "--senders", "12",
                                  "--workload", "mixed", "--nodes", "4")
    assert report, f"no JSON report (exit {code}):\n{stderr[-3000:]}"
    _print_figures(capsys, report)
    assert code == 0 and report["ok"], report["failures"]
    assert report["exactly_once"] and report["state_roots_agree"]
    assert report["committed"] == report["submitted"] > 0
    assert report["receipts_sampled"].get("ok", 0) > 0
    mix = report["mix"]
    assert mix.get("governance.vote", 0) > 0 and mix.get("token.transfer", 0) > 0
    assert mix.get("property.pay_bill", 0) + mix.get("property.rate", 0) > 0
