"""`hkchain bench`: load a network with pre-signed txs and report what it sustained.

The command only parses options, draws the progress bar and prints the report (a table
for people, JSON with --json); the engine is tools/bench.py. It exits with status 1 when
the consistency checks fail (a tx lost or committed twice, nodes that disagree).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import console, default_key_file, friendly_errors
from core.types import MAX_BLOCK_TXS
from tools.bench import (
    DEFAULT_BATCH_TXS,
    DEFAULT_SENDERS,
    DEFAULT_WINDOW_TXS,
    MAX_BATCH_TXS,
    MAX_BENCH_TXS,
    MAX_DURATION_S,
    MAX_NODES,
    MAX_RATE_PER_S,
    MAX_SENDERS,
    MAX_WINDOW_TXS,
    WORKLOADS,
    BenchConfig,
    BenchReport,
    Percentiles,
    describe_config,
    report_json,
    run_bench,
)


class _Bar:
    """tools.bench.ProgressSink drawn with rich on stderr (stdout stays clean for --json)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID = progress.add_task("starting", total=1.0)

    def update(self, phase: str, elapsed_s: float, total_s: float, submitted: int,
               committed: int) -> None:
        done = min(1.0, elapsed_s / total_s) if phase in ("load", "drain", "done") else 0.0
        rate = f"{committed / elapsed_s:,.0f} tx/s" if elapsed_s > 0 and phase == "load" else ""
        self.progress.update(
            self.task, completed=done,
            description=f"{phase:<8} submitted {submitted:>8,}  committed {committed:>8,}  {rate}",
        )


@click.command("bench")
@click.option("--duration", "duration_s", default=30.0, show_default=True,
              type=click.FloatRange(0.1, MAX_DURATION_S), help="Seconds of load.")
@click.option("--rate", "rate_per_s", default=None, type=click.IntRange(1, MAX_RATE_PER_S),
              help="Target tx/s (default: as fast as the network commits).")
@click.option("--nodes", "-n", default=4, show_default=True, type=click.IntRange(1, MAX_NODES),
              help="Validators of the local network the bench starts.")
@click.option("--workload", default="transfers", show_default=True, type=click.Choice(WORKLOADS),
              help="transfers; votes (Article 278 owners' vote); mixed (6 transfers, 2 votes, "
                   "1 rating, 1 bill payment in 10); idle (no txs: an idle network's CPU).")
@click.option("--rpc", "rpc_urls", multiple=True, metavar="URL",
              help="Bench running nodes instead (repeat for each node); needs --key.")
@click.option("--key", "key_file", default=default_key_file, metavar="FILE",
              show_default="$HKCHAIN_KEY, else the network home's operator.key",
              help="With --rpc: a funded committee key that pays and registers the senders.")
@click.option("--senders", default=DEFAULT_SENDERS, show_default=True,
              type=click.IntRange(1, MAX_SENDERS), help="Sender keys the load is spread over.")
@click.option("--batch", "batch_txs", default=DEFAULT_BATCH_TXS, show_default=True,
              type=click.IntRange(1, MAX_BATCH_TXS), help="Most txs per RPC request.")
@click.option("--window", "window_txs", default=DEFAULT_WINDOW_TXS, show_default=True,
              type=click.IntRange(1, MAX_WINDOW_TXS),
              help="Without --rate: most txs submitted but not yet committed.")
@click.option("--warmup", "warmup_s", default=None, type=click.FloatRange(0, MAX_DURATION_S),
              help="Seconds excluded from the steady window (default: min(5, duration/5)).")
@click.option("--txs", "max_txs", default=None, type=click.IntRange(1, MAX_BENCH_TXS),
              help="Txs to pre-sign (default: rate × duration, or 5000/s × duration).")
@click.option("--block-txs", "block_txs", default=None, type=click.IntRange(1, MAX_BLOCK_TXS),
              help="The bench localnet's block.max_block_txs (default: the node's, 2000).")
@click.option("--home", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Keep the bench network in this (new) directory instead of a temporary one.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@friendly_errors
def bench(duration_s: float, rate_per_s: int | None, nodes: int, workload: str,
          rpc_urls: tuple[str, ...], key_file: str | None, senders: int, batch_txs: int,
          window_txs: int, warmup_s: float | None, max_txs: int | None, block_txs: int | None,
          home: Path | None, as_json: bool) -> None:
    """Measure committed throughput, commit latency and cost per tx.

    Starts a local network of NODES validator processes (or uses --rpc nodes), pre-signs
    the workload, submits it in batches through every node's RPC and follows commits over
    the websocket. Checks at the end that every accepted tx committed exactly once on
    every node and that all nodes agree on every state root; exits 1 if not.
    """
    config = BenchConfig(
        duration_s=duration_s, rate_per_s=rate_per_s, nodes=nodes, workload=workload,
        rpc_urls=rpc_urls, funder_key_file=Path(key_file) if key_file and rpc_urls else None,
        senders=senders, batch_txs=batch_txs, window_txs=window_txs, warmup_s=warmup_s,
        max_txs=max_txs, home=home, block_txs=block_txs,
    )
    err = Console(stderr=True, highlight=False)
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        report = run_bench(config, _Bar(progress))
    if as_json:
        click.echo(report_json(report))
    else:
        print_report(console(), report, describe_config(config))
    if not report.ok:
        for failure in report.failures:
            err.print(f"[bold red]FAILED[/bold red] {failure}")
        sys.exit(1)


def _ms(p: Percentiles) -> str:
    if p.samples == 0:
        return "-"
    return f"{p.p50:,.0f} / {p.p95:,.0f} / {p.p99:,.0f} / {p.max:,.0f}"


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.1f} MiB"


def _num(v: Any, fmt: str = ",.1f") -> str:
    return "-" if v is None else format(v, fmt)


def _disk_line(r: BenchReport) -> str:
    """The first measured node's data-directory growth per committed tx, by store."""
    for f in r.node_figures:
        if f.disk_bytes_per_tx is not None:
            parts = ", ".join(f"{name} {v:,.0f}" for name, v in sorted(f.disk_parts_bytes_per_tx.items()))
            line = (f"{f.disk_bytes_per_tx:,.0f} B on {f.name} ({parts}); of its "
                    f"{_mb(f.disk_bytes)} at the end, {_mb(f.disk_wal_bytes)} in LevelDB logs "
                    f"not yet compacted")
            if f.disk_settled_bytes_per_tx is not None:
                settled = ", ".join(f"{name} {v:,.0f}"
                                    for name, v in sorted(f.disk_settled_parts_bytes_per_tx.items()))
                line += f"; compacted once stopped: {f.disk_settled_bytes_per_tx:,.0f} B ({settled})"
            if f.disk_live_bytes_per_tx is not None:
                line += f"; live data in fresh tables: {f.disk_live_bytes_per_tx:,.0f} B"
            if f.disk_records_bytes_per_tx:
                biggest = sorted(f.disk_records_bytes_per_tx.items(), key=lambda kv: -kv[1])
                line += "; live records: " + ", ".join(
                    f"{name} {v:,.0f}" for name, v in biggest if v >= 0.5)
            return line
    return "-"


def _proposal_line(r: BenchReport) -> str:
    p = r.proposals
    if not p.sent and not p.received:
        return "-"
    return (f"{p.sent:,} sent, {_num(p.bytes_per_block, ',.0f')} B on the wire per block (to all "
            f"peers); {p.received:,} received, decode CPU {_num(p.decode_cpu_ms_per_proposal, '.3f')} "
            f"ms per proposal, {_num(p.decode_cpu_ms_per_block, '.3f')} ms per block (all validators)"
            + ("" if p.bodies_fetched is None else
               f"; by reference: {p.bodies_fetched:,} tx bodies fetched, "
               f"{_num(p.fetch_failures, ',d')} fetches failed"))


def print_report(console: Console, r: BenchReport, command: str) -> None:
    summary = Table(title=f"{command}", title_justify="left", show_header=False)
    summary.add_column(style="bold cyan", no_wrap=True)
    summary.add_column()
    m = r.machine
    rows: list[tuple[str, str]] = [
        ("machine", f"{m.get('cpu_model')} × {m.get('cores')} cores, Python {m.get('python')}; "
                    f"load average {m.get('load_average_at_start')} at the start"),
        ("workload", f"{r.workload}, {r.nodes} nodes ({r.mode}), " + (
            "no load" if r.workload == "idle"
            else f"rate {r.rate_per_s} tx/s" if r.rate_per_s else "as fast as it commits")),
        ("mix", ", ".join(f"{name} {n:,}" for name, n in sorted(r.mix.items())) or "-"),
        ("txs", f"{r.presigned:,} pre-signed in {r.presign_s} s; {r.submitted:,} accepted, "
                f"{r.committed:,} committed, {sum(r.refused.values()):,} refused, "
                f"{r.retried:,} resent"),
        ("committed TPS", f"{r.tps:,.1f} over the steady window of {r.steady_window_s:.1f} s "
                          f"(warm-up {r.warmup_s:g} s excluded)"),
        ("latency ms p50/p95/p99/max", _ms(r.latency_ms)),
        ("block txs p50/p95/p99/max", _ms(r.block_txs)),
        ("block interval ms p50/p95/p99/max", _ms(r.block_interval_ms)),
        ("view changes", _num(r.view_changes, "d")),
        ("proposals (PRE-PREPARE)", _proposal_line(r)),
        ("CPU of the machine", "-" if r.cpu_percent_of_machine is None
         else f"{r.cpu_percent_of_machine:.1f} % (all nodes, steady window); the bench "
              f"client itself {_num(r.client_cpu_percent_of_core)} % of one core"),
        ("Ed25519 ceiling", f"{r.ed25519_verifies_per_s:,.0f} verifies/s/core → "
                            f"{r.ed25519_ceiling_tps:,.0f} tx/s; ratio "
                            f"{_num(r.ceiling_ratio, '.3f')}"),
        ("exactly once", "yes" if r.exactly_once else "NO"),
        ("state roots agree", f"{'yes' if r.state_roots_agree else 'NO'} "
                              f"({r.heights_compared} heights compared)"),
    ]
    rows.append(("disk per committed tx", _disk_line(r)))
    for name, value in rows:
        summary.add_row(name, value)
    console.print(summary)
    nodes = Table(title="per node", title_justify="left")
    for col in ("node", "pid", "height", "CPU s", "CPU % core", "CPU ms/tx", "peak RSS",
                "disk", "disk B/tx", "view changes", "accepted", "committed", "unreachable",
                "resubscribed", "lost", "dup"):
        nodes.add_column(col, justify="right" if col != "node" else "left")
    for f in r.node_figures:
        nodes.add_row(f.name, _num(f.pid, "d"), _num(f.height, "d"), _num(f.cpu_s, ".2f"),
                      _num(f.cpu_percent_of_core), _num(f.cpu_ms_per_tx, ".3f"),
                      _mb(f.peak_rss_bytes), _mb(f.disk_bytes), _num(f.disk_bytes_per_tx, ",.0f"),
                      _num(f.view_changes, "d"), str(f.accepted), str(f.committed),
                      str(f.unreachable), str(f.resubscribed),
                      f"{f.lost} ({f.lost_behind_hole} behind a hole)" if f.lost_behind_hole
                      else str(f.lost), str(f.duplicates))
    console.print(nodes)
    for note in r.notes:
        console.print(f"note: {note}")
