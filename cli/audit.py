"""`hkchain audit` and `hkchain pentest`: the committees' regular risk check.

Thin commands: they parse options and print; the engines are tools/audit.py and
tools/pentest.py. Both exit with status 1 when something fails, so a cron job or CI can
alert on it.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import click

from cli.common import (
    chosen_home,
    console,
    default_rpc_url,
    friendly_errors,
    load_key,
    network_home,
)
from node.config import CONFIG_FILE
from tools.audit import AuditReport, audit_home, audit_operator_key
from tools.pentest import (
    DEFAULT_CONCURRENCY,
    DEFAULT_FLOOD_REQUESTS,
    DEFAULT_FLOOD_SECONDS,
    DEFAULT_TIMEOUT_S,
    MAX_CONCURRENCY,
    MAX_FLOOD_REQUESTS,
    MAX_FLOOD_SECONDS,
    PentestConfig,
    PentestReport,
    check_target,
    run_pentest,
    target_limits,
)

_NODE_DIR = re.compile(r"^(node|observer)([0-9]+)$")
_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


def _node_homes(home: Path) -> list[Path]:
    """A node home, or every node (nodeK/, observerK/) of a local network's home."""
    if (home / CONFIG_FILE).exists():
        return [home]
    nodes = [p for p in home.iterdir() if p.is_dir() and _NODE_DIR.match(p.name)
             and (p / CONFIG_FILE).exists()]
    if not nodes:
        raise click.ClickException(f"{home} holds neither {CONFIG_FILE} (a node's home) nor "
                                   "node folders with one (a local network's home)")
    return sorted(nodes, key=lambda p: (p.name.rstrip("0123456789"), int(_NODE_DIR.match(p.name)[2])))  # type: ignore[index]


def _print_report(report: AuditReport) -> None:
    from rich.table import Table

    table = Table(title=f"Audit of {report.node} ({report.home})", title_justify="left")
    for column in ("item", "verdict", "finding", "what to do"):
        table.add_column(column, overflow="fold")
    for f in report.findings:
        table.add_row(f.item, f"[{_STYLE[f.verdict]}]{f.verdict}[/]", f.detail, f.action)
    console().print(table)


@click.command("audit")
@click.option("--home", "home", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, metavar="DIR",
              show_default="hkchain --home, $HKCHAIN_HOME or ./localnet",
              help="A node's home (its config.json), or a local network's home (every node).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@friendly_errors
def audit(home: Path | None, as_json: bool) -> None:
    """Check a node's security posture: one verdict per item (ok, warn, fail, skip).

    Items: key file mode and encryption, what RPC and p2p bind to and TLS, rate limits,
    version, disk space and data size, peers, clock offset, WAL and store integrity
    (only while the node is stopped), evidence of equivocation. Exits with status 1 if
    any item fails.
    """
    chosen = home or network_home()
    reports = [audit_home(h) for h in _node_homes(chosen)]
    if not (chosen / CONFIG_FILE).exists() and (chosen / "operator.key").exists():
        reports.append(audit_operator_key(chosen))
    if as_json:
        doc = [r.to_json() for r in reports]
        click.echo(json.dumps(doc[0] if len(doc) == 1 else doc, indent=2))
    else:
        for report in reports:
            _print_report(report)
    if any(r.failed for r in reports):
        sys.exit(1)


@click.command("pentest")
@click.option("--rpc", "rpc_url", default=default_rpc_url, metavar="URL",
              show_default="$HKCHAIN_RPC, else node0 of the network home",
              help="Your own node's RPC: loopback, or listed in --home's config.")
@click.option("--home", "home", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, metavar="DIR",
              help="The node's home or the network's home: a non-loopback --rpc must be "
                   "listed there; its limits (rpc.max_body_bytes, rpc.max_batch) are probed.")
@click.option("--key", "key_file", default=None, metavar="FILE",
              help="A funded key: commits one 1-point transfer to itself when no recent block "
                   "holds a tx to replay (else replays and forgeries are not tested).")
@click.option("--requests", "flood_requests", default=DEFAULT_FLOOD_REQUESTS, show_default=True,
              type=click.IntRange(1, MAX_FLOOD_REQUESTS), help="Most requests of the flood.")
@click.option("--seconds", "flood_seconds", default=DEFAULT_FLOOD_SECONDS, show_default=True,
              type=click.FloatRange(0.1, MAX_FLOOD_SECONDS), help="Most seconds of the flood.")
@click.option("--concurrency", default=DEFAULT_CONCURRENCY, show_default=True,
              type=click.IntRange(1, MAX_CONCURRENCY), help="Requests in flight at once.")
@click.option("--timeout", "timeout_s", default=DEFAULT_TIMEOUT_S, show_default=True,
              type=click.FloatRange(0.5, 120.0), help="Seconds before an unanswered request is a finding.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@friendly_errors
def pentest(rpc_url: str, home: Path | None, key_file: str | None, flood_requests: int,
            flood_seconds: float, concurrency: int, timeout_s: float, as_json: bool) -> None:
    """Attack your own node with a bounded corpus of hostile requests, then check it lives.

    Malformed and oversize bodies, Unicode and odd bytes in paths and queries, replays of
    a committed tx, forged signatures, expensive reads, and a flood bounded by --requests
    and --seconds. Findings: any 5xx (beyond the documented 503 load shedding), any
    request unanswered within --timeout, any replay or forgery accepted. Refuses, sending
    nothing, a target that is neither loopback nor listed in --home. Exits 1 on any
    finding or if the node stopped committing.
    """
    home = home or chosen_home()
    check_target(rpc_url, home)  # refuse before any key is read or byte is sent
    key = load_key(key_file) if key_file else None
    limits = target_limits(rpc_url, home)
    config = PentestConfig(rpc_url=rpc_url, key=key, flood_requests=flood_requests,
                           flood_seconds=flood_seconds, concurrency=concurrency,
                           timeout_s=timeout_s, max_body_bytes=limits.max_body_bytes,
                           max_batch=limits.max_batch)

    def progress(phase: str) -> None:
        if not as_json:
            click.echo(f"… {phase}", err=True)

    report = asyncio.run(run_pentest(config, home, progress))
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_pentest(report)
    if not report.passed:
        sys.exit(1)


def _print_pentest(report: PentestReport) -> None:
    doc = report.to_json()
    out = console()
    out.print(f"Pentest of {report.target}: {doc['requests']:,} requests in {len(report.cases)} cases")
    from rich.table import Table

    table = Table(title_justify="left")
    for column in ("category", "case", "answers", "findings"):
        table.add_column(column, overflow="fold")
    for c in report.cases:
        answers = ", ".join(f"{k}×{v}" for k, v in sorted(c.statuses.items()))
        table.add_row(c.category, c.name, answers,
                      "[bold red]" + "; ".join(c.findings) + "[/]" if c.findings else "[green]none[/]")
    out.print(table)
    f = report.flood
    out.print(f"flood: {f['requests']:,} requests in {f['seconds']} s ({f['per_s']:,}/s), "
              f"{f['rate_limited']:,} rate-limited (429)")
    for note in report.notes:
        out.print(f"[yellow]note:[/] {note}")
    live = report.liveness
    out.print(f"liveness: status {'answers' if live['status_answers'] else 'DOES NOT answer'}, "
              f"height {live['height_before']} → {live['height_after']} "
              f"({'advancing' if live['advanced'] else 'NOT advancing'})")
    if report.passed:
        out.print("[green]verdict: pass[/] (no finding, node live)")
    else:
        out.print(f"[bold red]verdict: FAIL[/] ({len(report.findings)} finding(s)"
                  f"{'' if live['live'] else ', node not live'})")
