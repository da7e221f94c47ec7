"""`hkchain faults`: run the fault scenarios of tools/faults.py against a fresh local
network of 4 node processes on this machine (loopback only, free ports).

``hkchain faults run`` runs every scenario with short faults (as CI does); ``--long`` holds
them for 30 s; ``--scenario NAME`` (repeatable) picks some. Each scenario prints one line
with its figures; the exit status is 1 if any failed or could not run here.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import click

from tools.faults import (
    SCENARIOS,
    FaultsError,
    ScenarioFailed,
    ScenarioUnavailable,
    Settings,
    run_scenario,
)


@click.group("faults")
def faults() -> None:
    """Fault scenarios (partitions, loss, clock, full disk, kill -9 loops) against a local
    network."""


@faults.command("list")
def list_scenarios() -> None:
    """The scenarios and what each injects."""
    for name, (_fn, what) in SCENARIOS.items():
        click.echo(f"{name:10} {what}")


@faults.command("run")
@click.option("--long", "long_", is_flag=True,
              help="Hold each fault for 30 s (cuts, windows) instead of a few seconds.")
@click.option("--scenario", "names", multiple=True, type=click.Choice(list(SCENARIOS)),
              help="Run only this scenario (repeatable); default: all.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seeds the proxies' loss, duplication and jitter.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep each scenario's network (homes and node logs) under this folder "
                   "(default: a temporary folder, removed).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON lines.")
def run(long_: bool, names: tuple[str, ...], seed: int, workdir: Path | None, as_json: bool) -> None:
    """Run the scenarios; each checks its liveness bound, safety (same blocks and roots on
    every node) and that every accepted tx commits exactly once."""
    chosen = list(names) or list(SCENARIOS)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="hkchain-faults-") as tmp:
        settings = Settings(long=long_, seed=seed, workdir=workdir or Path(tmp))
        for name in chosen:
            if not as_json:
                click.echo(f"{name}: running ({'long' if long_ else 'short'}) …", err=True)
            try:
                result = asyncio.run(run_scenario(name, settings))
            except (ScenarioFailed, ScenarioUnavailable) as exc:
                failures += 1
                verdict = "failed" if isinstance(exc, ScenarioFailed) else "not run"
                if as_json:
                    click.echo(json.dumps({"scenario": name, "verdict": verdict, "error": exc.message}))
                else:
                    click.echo(f"FAILED {name}: {exc.message}" if verdict == "failed"
                               else f"NOT RUN {name}: {exc.message}")
                continue
            except FaultsError as exc:
                raise click.ClickException(f"{name}: {exc.message}") from exc
            if as_json:
                click.echo(json.dumps({"scenario": name, "verdict": "ok", "figures": result.figures,
                                       "summary": result.summary}, ensure_ascii=False))
            else:
                click.echo(f"ok {name}: {result.summary}")
    if failures:
        raise SystemExit(1)
