"""`hkchain audit` and `hkchain pentest`: the committees' regular risk check.

Thin commands: they parse options and print; the engines are tools/audit.py and
tools/pentest.py. Both exit with status 1 when something fails, so a cron job or CI can
alert on it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from cli.common import console, friendly_errors, network_home
from node.config import CONFIG_FILE
from tools.audit import AuditReport, audit_home

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
    reports = [audit_home(h) for h in _node_homes(home or network_home())]
    if as_json:
        doc = [r.to_json() for r in reports]
        click.echo(json.dumps(doc[0] if len(doc) == 1 else doc, indent=2))
    else:
        for report in reports:
            _print_report(report)
    if any(r.failed for r in reports):
        sys.exit(1)
