"""The simulator over the real replica: pinned regression seeds, a short randomised
campaign (run on every push by .ci/run through pytest), reproducibility, and a
deliberately broken protocol that it must catch."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import tools.simulator as simulator
from cli.simulate import simulate
from consensus.messages import ViewChange
from consensus.replica import Replica
from tests.consensus.regression_seeds import REGRESSION_SEEDS
from tools.simulator import (
    NO_FAULTS,
    FaultRates,
    SimulationOptions,
    SimulationResult,
    run_campaign,
    run_simulation,
)


class NewViewIgnoresPreparedReplica(Replica):
    """BROKEN ON PURPOSE, for these tests only: NEW-VIEW proposes a fresh block even when a
    quorum reported a prepared one, so a block decided somewhere can be replaced."""

    def _required_hash(self, view_changes: tuple[ViewChange, ...]) -> bytes | None:
        return None


@pytest.mark.parametrize(
    ("seed", "validators", "heights", "faults", "found"),
    REGRESSION_SEEDS,
    ids=[f"seed{s[0]}-n{s[1]}" for s in REGRESSION_SEEDS],
)
def test_regression_seed(
    seed: int, validators: int, heights: int, faults: FaultRates, found: str
) -> None:
    result = run_simulation(SimulationOptions(validators, heights, seed, faults))
    assert result.ok, f"{found}: {result.violation}"
    assert result.heights_decided >= heights


def test_short_randomised_campaign() -> None:
    summary = run_campaign(SimulationOptions(validators=4, heights=30, seed=1_000), seeds=20)
    print(
        f"\n20 seeds x 4 validators x 30 heights: {summary.wall_s:.1f} s, "
        f"{summary.view_changes} view changes, {summary.crashes} crashes, "
        f"{summary.evidence} equivocations recorded"
    )
    assert [r.violation for r, _ in summary.failures] == []
    assert summary.heights >= 20 * 30
    assert summary.view_changes > 0 and summary.crashes > 0 and summary.evidence > 0


def test_short_campaign_with_crashed_validators_taken_as_down() -> None:
    """The node's rule for a proposer that is down, under the random faults: at each
    check (once a second) every running replica is told of the validators crashed since
    it last heard, and views they propose are cut short. Safety and liveness hold."""
    results = [run_simulation(SimulationOptions(validators=7, heights=20, seed=seed,
                                                absent_after_ms=1))
               for seed in range(2_000, 2_010)]
    assert [r.violation for r in results if not r.ok] == []
    assert all(r.heights_decided >= 20 for r in results)
    assert sum(r.crashes for r in results) > 0 and sum(r.absences for r in results) > 0


@pytest.mark.parametrize("validators", [1, 7])
def test_other_sizes(validators: int) -> None:
    summary = run_campaign(SimulationOptions(validators=validators, heights=15, seed=77), seeds=3)
    assert [r.violation for r, _ in summary.failures] == []


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    validators=st.sampled_from([4, 5, 7]),
    drop=st.sampled_from([0, 100, 400]),
    isolate=st.sampled_from([0, 500]),
)
def test_any_seed_keeps_safety_and_liveness(
    seed: int, validators: int, drop: int, isolate: int
) -> None:
    overrides = (("drop_permille", drop), ("isolate_permille", isolate))
    options = SimulationOptions(validators, 10, seed, fault_overrides=overrides)
    result = run_simulation(options)
    assert result.ok, f"{result.violation} (seed {seed})"


def test_the_fault_free_case_costs_order_n_squared_messages() -> None:
    result = run_simulation(SimulationOptions(4, 20, 0, NO_FAULTS))
    assert result.ok and result.view_changes == 0
    # PRE-PREPARE to n - 1 peers, then PREPARE and COMMIT from each to n - 1 peers.
    per_height = 3 + 2 * 4 * 3
    assert per_height * 19 <= result.messages <= per_height * 21


def test_a_run_is_reproducible_from_its_seed() -> None:
    options = SimulationOptions(validators=4, heights=15, seed=42)
    first, second = run_simulation(options), run_simulation(options)
    assert first == second


def test_the_printed_options_replay_the_run() -> None:
    drawn = run_simulation(SimulationOptions(validators=4, heights=15, seed=7))
    replayed = run_simulation(
        SimulationOptions(validators=4, heights=15, seed=7, faults=drawn.faults)
    )
    assert replayed == drawn


def test_a_broken_protocol_is_caught() -> None:
    caught: SimulationResult | None = None
    for seed in range(200):
        result = run_simulation(
            SimulationOptions(validators=4, heights=30, seed=seed), NewViewIgnoresPreparedReplica
        )
        if not result.ok:
            caught = result
            break
    assert caught is not None, "the simulator did not catch NEW-VIEW ignoring prepared blocks"
    assert caught.violation is not None and caught.violation.startswith("safety")
    # The same seed passes with the real replica.
    assert run_simulation(SimulationOptions(validators=4, heights=30, seed=caught.seed)).ok


def test_cli_reports_a_violation_with_its_reproduction(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(options: SimulationOptions) -> SimulationResult:
        return run_simulation(options, NewViewIgnoresPreparedReplica)

    monkeypatch.setattr(simulator, "_run_one", broken)
    result = CliRunner().invoke(simulate, ["--seeds", "40", "--heights", "30", "--isolate", "300"])
    assert result.exit_code == 1, result.output
    assert "reproduce: hkchain simulate --validators 4 --heights 30 --first-seed" in result.output
    assert "--view-timeout 200" in result.output
    assert "--isolate 300" in result.output


def test_cli_passes_on_a_healthy_run() -> None:
    result = CliRunner().invoke(simulate, ["--seeds", "2", "--heights", "10", "-v"])
    assert result.exit_code == 0, result.output
    assert "0 violations" in result.output and "seed 1:" in result.output


def test_blocks_over_the_old_wal_limit_survive_crashes_and_view_changes() -> None:
    # 4.5 MB blocks: more than the 4 MiB at which the vote log once refused the record that
    # carried the prepared block. The simulator's vote log is the real WAL now, so it
    # meets that limit where it would have hidden it.
    options = SimulationOptions(
        validators=4, heights=6, seed=1, block_bytes=4_500_000,
        fault_overrides=(("crash_permille", 400), ("drop_permille", 100)),
    )
    result = run_simulation(options)
    assert result.ok, result.violation
    assert result.heights_decided >= 6 and result.crashes > 0 and result.view_changes > 0
