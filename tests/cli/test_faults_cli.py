"""`hkchain faults`: the scenarios are listed, a name that is not one is refused before
anything runs, and a scenario this machine cannot inject is reported as not run (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import tools.faults
from cli.main import main
from tools.faults import SCENARIOS


def test_list_names_every_scenario() -> None:
    out = CliRunner().invoke(main, ["faults", "list"])
    assert out.exit_code == 0, out.output
    assert [line.split()[0] for line in out.output.splitlines()] == list(SCENARIOS)


def test_an_unknown_scenario_is_refused_before_anything_runs(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["faults", "run", "--scenario", "nope", "--workdir", str(tmp_path)])
    assert out.exit_code == 2
    assert "nope" in out.output and "isolate" in out.output
    assert list(tmp_path.iterdir()) == []


def test_a_scenario_that_cannot_be_injected_here_is_reported_not_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools.faults, "FAKETIME_LIBS", (str(tmp_path / "no-libfaketime.so"),))
    out = CliRunner().invoke(main, ["faults", "run", "--scenario", "clock", "--workdir", str(tmp_path)])
    assert out.exit_code == 1, out.output
    assert "NOT RUN clock: libfaketime is not installed" in out.output
