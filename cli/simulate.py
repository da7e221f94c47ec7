"""`hkchain simulate`: run the consensus simulator over many seeds (see tools/simulator.py).

Fault options left out are drawn from each seed; the ones given are fixed for every run.
A violation prints its seed and the exact command that replays it, and the exit status
is 1.
"""

from __future__ import annotations

from typing import Any

import click

from core.types import MAX_BLOCK_TX_BYTES, MAX_VALIDATORS
from tools.simnet import NetworkModel
from tools.simulator import (
    NO_FAULTS,
    SimulationOptions,
    SimulationResult,
    run_campaign,
)

_PERMILLE = click.IntRange(0, 1000)
_MS = click.IntRange(0, 100_000)
_FAULT_OPTIONS = (
    # (cli name, FaultRates field, range, help)
    ("drop", "drop_permille", _PERMILLE, "Per-mille of messages dropped while faults last."),
    ("duplicate", "duplicate_permille", _PERMILLE, "Per-mille of messages delivered twice."),
    ("max-delay", "max_delay_ms", _MS, "Largest network delay in simulated ms."),
    ("partition", "partition_permille", _PERMILLE,
     "Per-mille chance per 500 ms that a partition starts."),
    ("crash", "crash_permille", _PERMILLE, "Per-mille chance per 500 ms that a replica crashes."),
    ("skew", "max_clock_skew_ms", _MS, "Largest clock skew between validators in ms."),
    ("isolate", "isolate_permille", _PERMILLE,
     "Per-mille chance a replica is cut off as it decides."),
    ("byzantine", "byzantine", click.IntRange(0, (MAX_VALIDATORS - 1) // 3),
     "Validators sending conflicting and garbage votes (<= f)."),
)


def _fault_options(f: Any) -> Any:
    for name, _field, value_range, help_text in reversed(_FAULT_OPTIONS):
        f = click.option(f"--{name}", type=value_range, default=None, help=help_text)(f)
    f = click.option(
        "--equivocate/--no-equivocate", default=None, help="Byzantine proposers equivocate."
    )(f)
    f = click.option(
        "--reconfigure/--no-reconfigure",
        default=None,
        help="The validator set shrinks and grows during the run.",
    )(f)
    return f


@click.command("simulate")
@click.option("--validators", type=click.IntRange(1, MAX_VALIDATORS), default=4, show_default=True,
              help="How many validators the simulated network has (n = 3f + 1 tolerates f faults).")
@click.option(
    "--heights",
    type=click.IntRange(1, 100_000),
    default=30,
    show_default=True,
    help="Heights every honest validator must decide in each run.",
)
@click.option(
    "--seeds",
    type=click.IntRange(1, 1_000_000),
    default=10,
    show_default=True,
    help="How many runs (seeds first-seed, first-seed + 1, …).",
)
@click.option("--first-seed", type=click.IntRange(0, 2**63), default=0, show_default=True,
              help="The seed of the first run; runs use consecutive seeds (print one to replay it).")
@click.option("--no-faults", is_flag=True, help="A perfect network: no faults of any kind.")
@click.option(
    "--view-timeout",
    "view_timeout_ms",
    type=click.IntRange(1, 60_000),
    default=200,
    show_default=True,
    help="Base view timeout in simulated ms (capped at 8x).",
)
@click.option(
    "--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes."
)
@click.option(
    "--block-bytes",
    type=click.IntRange(0, MAX_BLOCK_TX_BYTES),
    default=0,
    show_default=True,
    help="Fill each block with this many bytes of txs (0: a few small txs). Blocks travel, "
    "and are kept in the vote log, within the node's real limits.",
)
@click.option(
    "--network",
    is_flag=True,
    help="Use the network model: per-link latency, uplink bandwidth with queueing and CPU "
    "costs per signature and tx (docs/CONSENSUS.md); prints commit latency and per-node costs.",
)
@click.option("--latency", type=(click.IntRange(0, 10_000), click.IntRange(0, 10_000)),
              default=(2, 30), show_default=True, metavar="MIN MAX",
              help="With --network: each link's latency floor is drawn in [MIN, MAX] ms.")
@click.option("--uplink-mbit", type=click.IntRange(1, 100_000), default=100, show_default=True,
              help="With --network: each node's uplink in Mbit/s.")
@click.option("--message-us", type=click.IntRange(0, 100_000), default=0, show_default=True,
              help="With --network: host CPU per consensus message sent or received, besides "
              "its signature checks (about 130 measured; 0: left out).")
@click.option("--host-cores", type=click.IntRange(0, 1024), default=0, show_default=True,
              help="With --network: the nodes share this many cores, as a localnet on one "
              "machine does (0: a core each).")
@click.option("--gossip-fanout", type=click.IntRange(0, 255), default=0, show_default=True,
              help="With --network: model the mempools' gossip of tx bodies, each node sending "
              "each tx to this many peers (0: left out).")
@click.option("--proposals-by-reference", is_flag=True,
              help="With --network: a PRE-PREPARE carries its txs' hashes, not their bodies.")
@click.option("--vote-collector", is_flag=True,
              help="With --network: PREPAREs and COMMITs go to the view's proposer, which "
              "forwards each quorum as one bundle, instead of all to all.")
@click.option("--crashed", type=click.IntRange(0, (MAX_VALIDATORS - 1) // 3), default=0,
              show_default=True,
              help="Validators down for the whole run (with --byzantine, at most f together).")
@click.option("--fault-ms", type=click.IntRange(0, 10_000_000), default=None,
              help="How long faults last, in simulated ms (default: until half the heights "
              "are decided).")
@click.option("--tx-rate", type=click.IntRange(0, 100_000), default=0, show_default=True,
              help="Txs arriving per second; a block carries those since the last block "
              "(0: a few small txs per block). Not with --block-bytes.")
@click.option("--batch-ms", type=click.IntRange(0, 60_000), default=0, show_default=True,
              help="The node's batching rule: the proposer waits this long after its last "
              "decision before proposing (block.batch_interval_ms; at most half the view "
              "timeout). 0: heights back to back.")
@click.option("--absent-after", "absent_after_ms", type=click.IntRange(0, 600_000), default=0,
              show_default=True, metavar="MS",
              help="The node's rule for a proposer that is down: a validator down this long "
              "(the node: 5000) is taken as down, and a view it proposes waits 250 ms, if "
              "that is shorter than the view timeout. 0: off.")
@click.option("--missed-turn", "missed_turn_ms", type=click.IntRange(0, 600_000), default=0,
              show_default=True, metavar="MS",
              help="The node's rule for a proposer that missed its last turn: view 0 waits at "
              "most MS for it (the node: 2000), or three times the median height if longer "
              "(the node; not modelled here). 0: off.")
@click.option("--verbose", "-v", is_flag=True, help="One line per run.")
@_fault_options
def simulate(
    validators: int,
    heights: int,
    seeds: int,
    first_seed: int,
    no_faults: bool,
    view_timeout_ms: int,
    jobs: int,
    block_bytes: int,
    network: bool,
    latency: tuple[int, int],
    uplink_mbit: int,
    message_us: int,
    host_cores: int,
    gossip_fanout: int,
    proposals_by_reference: bool,
    vote_collector: bool,
    crashed: int,
    fault_ms: int | None,
    tx_rate: int,
    batch_ms: int,
    absent_after_ms: int,
    missed_turn_ms: int,
    verbose: bool,
    equivocate: bool | None,
    reconfigure: bool | None,
    **fault_values: int | None,
) -> None:
    """Run N validators of the real consensus code over a simulated network and clock,
    one run per seed, checking safety, certificates and liveness after every step."""
    overrides: list[tuple[str, int | bool]] = []
    for name, field_name, _range, _help in _FAULT_OPTIONS:
        value = fault_values.get(name.replace("-", "_"))
        if value is not None:
            overrides.append((field_name, value))
    if equivocate is not None:
        overrides.append(("equivocate", equivocate))
    if reconfigure is not None:
        overrides.append(("reconfigure", reconfigure))
    f = (validators - 1) // 3
    byzantine = dict(overrides).get("byzantine", 0)
    if byzantine > f:
        raise click.BadParameter(
            f"at most f = {f} for {validators} validators", param_hint="--byzantine"
        )
    if crashed + int(byzantine) > f:
        raise click.BadParameter(
            f"at most f = {f} crashed and byzantine validators together for {validators} "
            "validators",
            param_hint="--crashed",
        )
    if crashed and not no_faults and "byzantine" not in dict(overrides):
        # A byzantine count drawn from the seed could exceed f together with --crashed.
        overrides.append(("byzantine", 0))
    if tx_rate and block_bytes:
        raise click.BadParameter("give --tx-rate or --block-bytes, not both", param_hint="--tx-rate")
    if not network and (message_us or host_cores or gossip_fanout or proposals_by_reference or vote_collector):
        raise click.BadParameter("needs --network", param_hint="--gossip-fanout, "
                                 "--proposals-by-reference, --vote-collector")
    if latency[0] > latency[1]:
        raise click.BadParameter("MIN must not exceed MAX", param_hint="--latency")
    model = (
        NetworkModel(
            latency_min_us=latency[0] * 1000,
            latency_max_us=latency[1] * 1000,
            uplink_bits_per_s=uplink_mbit * 1_000_000,
            message_us=message_us,
            host_cores=host_cores,
            gossip_fanout=gossip_fanout,
            proposals_by_reference=proposals_by_reference,
            vote_collector=vote_collector,
        )
        if network
        else None
    )
    base = SimulationOptions(
        validators=validators,
        heights=heights,
        seed=first_seed,
        faults=NO_FAULTS if no_faults else None,
        fault_overrides=tuple(overrides),
        view_timeout_ms=view_timeout_ms,
        max_view_timeout_ms=8 * view_timeout_ms,
        block_bytes=block_bytes,
        network=model,
        crashed=crashed,
        chaos_ms=fault_ms,
        tx_rate_per_s=tx_rate,
        batch_interval_ms=batch_ms,
        absent_after_ms=absent_after_ms,
        missed_turn_ms=missed_turn_ms,
    )
    results: list[SimulationResult] = []

    def report(result: SimulationResult, options: SimulationOptions) -> None:
        results.append(result)
        if verbose or not result.ok:
            status = "ok" if result.ok else f"VIOLATION: {result.violation}"
            click.echo(
                f"seed {result.seed}: heights {result.heights_decided} view changes "
                f"{result.view_changes} messages {result.messages} crashes {result.crashes} "
                f"simulated {result.simulated_ms} ms - {status}"
            )

    summary = run_campaign(base, seeds, jobs, report)
    rate = summary.heights / summary.wall_s if summary.wall_s > 0 else 0.0
    per_height = summary.messages / summary.heights if summary.heights else 0.0
    click.echo(
        f"{summary.runs} runs of {validators} validators x {heights} heights in "
        f"{summary.wall_s:.1f} s: {summary.heights} heights decided ({rate:.0f} heights/s), "
        f"{summary.view_changes} view changes, {summary.crashes} crashes, {summary.syncs} syncs, "
        f"{summary.evidence} equivocations recorded, {per_height:.1f} messages/height, "
        f"{len(summary.failures)} violations"
    )
    if model is not None:
        _print_network_figures(results, validators - crashed)
    if summary.failures:
        for result, command in summary.failures:
            click.echo(f"seed {result.seed} failed: {result.violation}", err=True)
            click.echo(f"  reproduce: {command}", err=True)
        raise SystemExit(1)


def _print_network_figures(results: list[SimulationResult], live: int) -> None:
    """Commit latency, per-node traffic, CPU and view changes of the network model's runs."""
    samples = sorted(us for r in results for us in r.latencies_us)
    heights = sum(r.heights_decided for r in results)
    if not samples or not heights:
        click.echo("network model: no height was decided")
        return
    from tools.simnet import percentile

    sent = [b for r in results for b in r.bytes_sent if b]
    msgs = sum(m for r in results for m in r.messages_sent)
    busy = sum(c for r in results for c in r.cpu_busy_us)
    simulated_us = sum(r.simulated_ms for r in results) * 1000
    per_node_height = heights * live
    changes = sum(r.view_changes for r in results)
    uplink = max(
        (b * 8 * 1000 // max(r.simulated_ms, 1) for r in results for b in r.bytes_sent),
        default=0,
    )
    click.echo(
        f"network model: commit latency p50 {percentile(samples, 500) / 1000:.1f} ms "
        f"p99 {percentile(samples, 990) / 1000:.1f} ms max {samples[-1] / 1000:.1f} ms "
        f"({len(samples)} decisions); per node per height "
        f"{sum(sent) / per_node_height / 1024:.1f} KiB and {msgs / per_node_height:.0f} "
        f"messages sent; busiest uplink {uplink / 1_000_000:.2f} Mbit/s; CPU "
        f"{100 * busy / max(simulated_us * live, 1):.1f}% of a core per node; "
        f"{changes} view changes over all replicas ({changes / per_node_height:.2f} per "
        "replica per height)"
    )
