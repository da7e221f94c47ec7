"""The simulator's network model: link latency floors, uplink queueing, CPU queues, and
whole runs over it (deterministic per seed, crashed validators, the CLI's figures)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from click.testing import CliRunner

from cli.simulate import simulate
from consensus.messages import PrePrepare
from consensus.replica import absent_timeout_ms_for
from tools.simnet import Network, NetworkModel, percentile
from tools.simulator import (
    ABSENT_CHECK_MS,
    CHAIN_ID,
    NO_FAULTS,
    Simulation,
    SimulationOptions,
    reproduce_command,
    run_simulation,
)

MODEL = NetworkModel(
    latency_min_us=2_000,
    latency_max_us=30_000,
    jitter_permille=0,
    uplink_bits_per_s=100_000_000,
    verify_us=45,
    tx_us=93,
)


def test_a_large_message_delays_the_next_one_on_the_same_uplink() -> None:
    net = Network(MODEL, 3, seed=1)
    floor_1, floor_2 = net.floor_us[0][1], net.floor_us[0][2]
    # 1 MB at 100 Mbit/s is 8,000,000 bits / 100 bits per µs = 80,000 µs on the uplink.
    big = net.send(0, 0, 1, 1_000_000)
    assert big == 80_000 + floor_1
    # 1,000 bytes sent 10 µs later wait for the first to finish: 80,000 + 80 µs out.
    small = net.send(10, 0, 2, 1_000)
    assert small == 80_080 + floor_2
    # Another node's uplink is free: the same small message leaves at once.
    assert net.send(10, 1, 2, 1_000) == 10 + 80 + net.floor_us[1][2]
    # Once the uplink is idle again a message leaves when it is sent.
    assert net.send(200_000, 0, 2, 1_000) == 200_080 + floor_2


def test_transmit_time_rounds_up() -> None:
    assert MODEL.transmit_us(1) == 1  # 8 bits at 100 bits per µs: 0.08 µs, one whole µs
    assert MODEL.transmit_us(12_500) == 1_000
    assert MODEL.transmit_us(0) == 0


def test_latency_never_falls_below_the_links_floor() -> None:
    model = NetworkModel(latency_min_us=2_000, latency_max_us=30_000, jitter_permille=500)
    net = Network(model, 8, seed=3)
    floors = [f for row in net.floor_us for f in row]
    assert all(2_000 <= f <= 30_000 for f in floors)
    assert len(set(floors)) > 10  # drawn per link, not one figure for all
    for i in range(2_000):
        src, dst = i % 8, (i * 7 + 1) % 8
        now = net.uplink_free_us[src]  # an idle uplink: the arrival is floor + jitter
        arrival = net.send(now, src, dst, 100)
        floor = net.floor_us[src][dst]
        assert floor <= arrival - now - model.transmit_us(100) <= floor + floor // 2


def test_the_cpu_queue_serves_messages_in_turn() -> None:
    net = Network(MODEL, 2, seed=0)
    # A PRE-PREPARE with 100 txs: 101 signatures and 100 txs executed.
    assert net.process(1_000, 0, 101, 100) == 1_000 + 101 * 45 + 100 * 93
    # A vote arriving meanwhile waits for it.
    assert net.process(1_500, 0, 1, 0) == 1_000 + 101 * 45 + 100 * 93 + 45
    assert net.process(1_500, 1, 1, 0) == 1_545  # the other node's CPU is idle
    assert net.cpu_busy_us == [101 * 45 + 100 * 93 + 45, 45]


def test_bad_model_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        NetworkModel(latency_min_us=5, latency_max_us=4)
    with pytest.raises(ValueError):
        NetworkModel(uplink_bits_per_s=0)


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 500) == 50
    assert percentile(values, 990) == 99
    assert percentile(values, 1000) == 100
    assert percentile([], 500) == 0


def _networked(**kwargs: object) -> SimulationOptions:
    base = SimulationOptions(validators=7, heights=6, seed=11, faults=NO_FAULTS,
                             network=NetworkModel())
    return SimulationOptions(**{**base.__dict__, **kwargs})


def test_the_model_is_deterministic_per_seed() -> None:
    first, second = run_simulation(_networked()), run_simulation(_networked())
    assert first.ok and first == second
    assert first.latencies_us and first.bytes_sent and first.cpu_busy_us
    other = run_simulation(_networked(seed=12))
    assert other.ok and other.latencies_us != first.latencies_us


def test_commit_latency_reflects_the_links_and_uplinks() -> None:
    result = run_simulation(_networked())
    # Three message delays at least (PRE-PREPARE, PREPARE, COMMIT), each at least 2 ms.
    assert min(result.latencies_us) >= 3 * 2_000
    slow = run_simulation(_networked(network=NetworkModel(uplink_bits_per_s=1_000_000)))
    fast = run_simulation(_networked(network=NetworkModel(uplink_bits_per_s=1_000_000_000)))
    assert sorted(slow.latencies_us)[len(slow.latencies_us) // 2] > sorted(
        fast.latencies_us
    )[len(fast.latencies_us) // 2]


def test_crashed_validators_stay_down_and_the_rest_commit() -> None:
    result = run_simulation(_networked(crashed=2))
    assert result.ok and result.heights_decided >= 6
    assert sorted(result.bytes_sent).count(0) == 2  # the two crashed sent nothing
    with pytest.raises(ValueError):
        run_simulation(_networked(crashed=3))


def test_a_crashed_proposer_taken_as_down_costs_a_short_view_not_the_timeout() -> None:
    """The node's rule for a proposer that is down, in the model: once every replica takes
    the crashed validators as down, a view they propose waits the short timeout (250 ms), so
    no height waits the whole view timeout. The first check is at 1 s, and cuts short a
    view already waiting on a crashed proposer."""
    slow = _networked(validators=7, heights=14, crashed=2, view_timeout_ms=8_000,
                      max_view_timeout_ms=64_000)
    off = run_simulation(slow)
    on = run_simulation(replace(slow, absent_after_ms=1))
    assert off.ok and on.ok and on.heights_decided >= 14
    # Both meet a crashed proposer's turn; without the rule it costs the view timeout.
    assert off.view_changes > 0 and on.view_changes > 0
    assert max(off.latencies_us) >= 8_000_000
    # At worst a crashed proposer's view begun before the first check (at 1 s) and a
    # short view of 250 ms, against 8 s and 16 s.
    short_ms = absent_timeout_ms_for(8_000)
    assert short_ms == 250
    assert max(on.latencies_us) < (2 * short_ms + ABSENT_CHECK_MS + 500) * 1000
    assert on.simulated_ms * 3 < off.simulated_ms
    assert "--absent-after 1 " in reproduce_command(replace(slow, absent_after_ms=1), NO_FAULTS)


def test_a_run_of_crashed_proposers_costs_one_view_change_a_height() -> None:
    """Three validators next to each other in the rotation are down. View 1 goes to the
    last block's proposer (``ValidatorSet.proposer``), which is up, so each height whose
    proposer is down costs one short view and one view change: with view 1 rotating, the
    first of the three heights would pass through all three dead proposers."""
    options = _networked(validators=10, heights=30, seed=13, crashed=3, view_timeout_ms=8_000,
                         max_view_timeout_ms=64_000, absent_after_ms=1)
    sim = Simulation(options)
    rotation = sim.schedule(1)
    assert sorted(rotation.index_of(n.key.public_key) for n in sim.nodes if n.down) == [3, 4, 5]
    result = sim.run()
    assert result.ok and result.heights_decided >= 30
    # 30 heights give each of the three 3 turns: 9 heights, one view change each at each of
    # the 7 replicas that run.
    assert result.view_changes == 9 * 7
    # No height waits the view timeout: at worst one that began before the first check.
    short_ms = absent_timeout_ms_for(8_000)
    assert max(result.latencies_us) < (ABSENT_CHECK_MS + short_ms + 500) * 1000


def test_a_proposer_that_missed_its_last_turn_gets_a_short_view_at_its_next() -> None:
    """Two validators stay silent for the whole run and are never taken as down (the rule
    for absent validators is off), as a proposer that keeps its links but is wedged or
    Byzantine. Their first turns cost the view timeout. With the rule, every validator
    reads from the chain that they missed their last turn, and each later one costs the
    short view (2 s) instead."""
    base = _networked(validators=7, heights=40, crashed=2, view_timeout_ms=8_000,
                      max_view_timeout_ms=64_000)
    off = run_simulation(base)
    on = run_simulation(replace(base, missed_turn_ms=2_000))
    assert off.ok and on.ok and on.heights_decided >= 40
    waited_off = [us for us in off.latencies_us if us >= 8_000_000]
    waited_on = [us for us in on.latencies_us if us >= 8_000_000]
    short_on = [us for us in on.latencies_us if 2_000_000 <= us < 3_000_000]
    # The 5 replicas that run each decide every height: two first turns waited in full.
    assert len(waited_on) == 2 * 5
    assert len(short_on) >= 2 * len(waited_on)
    assert len(waited_off) == len(waited_on) + len(short_on)  # every turn in full without it
    assert on.simulated_ms * 2 < off.simulated_ms
    assert "--missed-turn 2000 " in reproduce_command(replace(base, missed_turn_ms=2_000), NO_FAULTS)


def test_the_rule_for_a_proposer_that_is_down_changes_nothing_when_no_one_is() -> None:
    base = _networked(view_timeout_ms=4_000, max_view_timeout_ms=32_000)
    assert run_simulation(replace(base, absent_after_ms=1)) == run_simulation(base)


def test_the_cli_prints_the_network_figures() -> None:
    result = CliRunner().invoke(
        simulate,
        ["--validators", "7", "--heights", "4", "--seeds", "1", "--no-faults", "--network",
         "--crashed", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "network model: commit latency p50" in result.output
    assert "0 violations" in result.output
    refused = CliRunner().invoke(
        simulate, ["--validators", "7", "--crashed", "1", "--byzantine", "2"]
    )
    assert refused.exit_code != 0 and "at most f = 2" in refused.output


def test_the_reproduce_command_carries_the_network_options() -> None:
    options = _networked(crashed=1, chaos_ms=900)
    command = reproduce_command(options, NO_FAULTS)
    assert "--network --latency 2 30 --uplink-mbit 100 " in command
    assert "--crashed 1 " in command and "--fault-ms 900 " in command
    args = command.split()[2:]
    result = CliRunner().invoke(simulate, args)
    assert result.exit_code == 0, result.output
    assert "network model: commit latency p50" in result.output


def test_light_load_with_the_batching_rule_makes_fewer_busier_blocks_and_less_cpu() -> None:
    """With txs arriving at 50/s, proposing back to back makes a block every round; the
    node's batching rule (100 ms after the last decision) makes blocks of the txs of a
    whole interval, heights take the interval longer, and each node's CPU share falls."""
    def run(batch_ms: int) -> tuple[float, float, float]:
        options = SimulationOptions(validators=7, heights=12, seed=2, faults=NO_FAULTS,
                                    network=MODEL, tx_rate_per_s=50, batch_interval_ms=batch_ms)
        sim = Simulation(options)
        result = sim.run()
        assert result.ok, result.violation
        blocks = result.heights_decided
        height_ms = result.simulated_ms / blocks
        share = sum(result.cpu_busy_us) / (result.simulated_ms * 1000 * options.validators)
        txs = [len(sim.ledger[h][0].txs) for h in range(2, blocks + 1)]
        return height_ms, share, sum(txs) / len(txs)

    back_to_back_ms, back_to_back_share, back_to_back_txs = run(0)
    batched_ms, batched_share, batched_txs = run(100)
    assert batched_ms >= back_to_back_ms + 90, (batched_ms, back_to_back_ms)
    assert batched_share < back_to_back_share * 0.7, (batched_share, back_to_back_share)
    # A block carries the txs of the time since the last: 50/s × (interval + a round).
    assert batched_txs >= 5 and batched_txs > 2 * back_to_back_txs, (batched_txs, back_to_back_txs)
    options = SimulationOptions(validators=4, heights=3, seed=1, faults=NO_FAULTS, network=MODEL,
                                tx_rate_per_s=20, batch_interval_ms=100)
    assert "--tx-rate 20 --batch-ms 100 " in reproduce_command(options, NO_FAULTS)


def test_tx_rate_and_block_bytes_do_not_mix() -> None:
    result = CliRunner().invoke(simulate, ["--validators", "4", "--heights", "2", "--no-faults",
                                           "--network", "--tx-rate", "20", "--block-bytes", "1000"])
    assert result.exit_code != 0 and "--tx-rate or --block-bytes" in result.output


def test_each_message_costs_its_host_cpu_on_both_ends() -> None:
    model = NetworkModel(jitter_permille=0, message_us=140)
    net = Network(model, 2, seed=0)
    # The sender frames it first (140 µs), then it goes out on the uplink.
    arrival = net.send(1_000, 0, 1, 1_250)
    assert arrival == 1_000 + 140 + 100 + net.floor_us[0][1]
    # A second send queues behind the first on the sender's CPU.
    assert net.send(1_000, 0, 1, 1_250) == 1_000 + 280 + 100 + net.floor_us[0][1]
    assert net.process(arrival, 1, 1, 0) == arrival + 140 + model.verify_us
    assert net.cpu_busy_us == [280, 140 + model.verify_us]


def test_nodes_sharing_cores_wait_for_a_free_one() -> None:
    model = NetworkModel(jitter_permille=0, host_cores=2)
    net = Network(model, 3, seed=0)
    # Three nodes each handle a 1,000 µs job at once on two cores: the third waits.
    done = [net.process(0, i, 0, 1_000 // model.tx_us + 1) for i in range(3)]
    cost = (1_000 // model.tx_us + 1) * model.tx_us
    assert done == [cost, cost, 2 * cost]
    # A node's own work stays one thread: its next job waits for its last (done at
    # ``cost``), then takes the core that is free by then.
    assert net.process(0, 0, 0, 1) == cost + model.tx_us
    assert net.process(0, 1, 0, 1) == cost + 2 * model.tx_us
    unshared = Network(NetworkModel(jitter_permille=0), 3, seed=0)
    assert [unshared.process(0, i, 0, 1_000 // model.tx_us + 1) for i in range(3)] == [cost] * 3


def test_gossip_takes_its_share_of_the_uplink_and_one_check_per_tx() -> None:
    model = NetworkModel(jitter_permille=0, gossip_fanout=8, tx_bytes=250)
    # 200 tx/s × 250 B × 8 peers × 8 bits = 3.2 Mbit/s of the 100: 96.8 left for consensus.
    assert model.gossip_bits_per_s(200) == 3_200_000
    assert model.transmit_us(12_100, 200) == -(-12_100 * 8 * 1_000_000 // 96_800_000)
    with pytest.raises(ValueError, match="fills the uplink"):
        NetworkModel(gossip_fanout=255, tx_bytes=10_000).transmit_us(1, 1_000)
    net = Network(model, 3, seed=0, tx_rate_per_s=200)
    net.add_gossip(2_000_000, [True, False, True])  # 2 s: 400 txs
    assert net.bytes_sent == [400 * 250 * 8, 0, 400 * 250 * 8]
    assert net.cpu_busy_us == [400 * model.verify_us, 0, 400 * model.verify_us]


def test_a_proposal_by_reference_carries_hashes_not_bodies() -> None:
    options = SimulationOptions(validators=4, heights=3, seed=1, faults=NO_FAULTS, network=MODEL,
                                tx_rate_per_s=2_000, batch_interval_ms=100)
    sim = Simulation(options)
    assert sim.run().ok
    block = sim.ledger[3][0]
    assert len(block.txs) >= 100
    msg = PrePrepare.create(sim.nodes[0].key, CHAIN_ID, 3, 0, block)
    data = msg.encode()
    by_ref = NetworkModel(proposals_by_reference=True)
    bodies = sum(len(stx.encoded) for stx in block.txs)
    assert MODEL.wire_bytes(msg, data) == len(data)
    assert by_ref.wire_bytes(msg, data) == len(data) - bodies + 32 * len(block.txs)


def _district(**model: object) -> tuple[int, int, int, int]:
    """(p50 latency µs, busiest node's bytes, messages, view changes) of a fault-free run."""
    network = NetworkModel(**{"gossip_fanout": 4, **model})  # type: ignore[arg-type]
    result = run_simulation(SimulationOptions(
        validators=16, heights=8, seed=5, faults=NO_FAULTS, network=network, tx_rate_per_s=200,
        batch_interval_ms=100, view_timeout_ms=1_000, max_view_timeout_ms=8_000))
    assert result.ok, result.violation
    lat = sorted(result.latencies_us)
    return lat[len(lat) // 2], max(result.bytes_sent), sum(result.messages_sent), result.view_changes


def test_a_vote_collector_sends_fewer_messages_at_the_cost_of_two_more_hops() -> None:
    all_lat, _all_bytes, all_msgs, all_vc = _district()
    col_lat, _col_bytes, col_msgs, col_vc = _district(vote_collector=True)
    assert all_vc == 0 and col_vc == 0
    # All to all: 2 n (n - 1) votes a height; through a collector 2 (n - 1) up and 2 (n - 1)
    # bundles down, so far fewer messages in all...
    assert col_msgs * 3 < all_msgs, (col_msgs, all_msgs)
    # ...but each vote phase is two link delays instead of one.
    assert col_lat > all_lat + 2 * 2_000, (col_lat, all_lat)


def test_the_collector_of_a_crashed_proposer_only_costs_the_view_it_would_have_lost() -> None:
    result = run_simulation(SimulationOptions(
        validators=7, heights=8, seed=3, faults=NO_FAULTS, crashed=2,
        network=NetworkModel(vote_collector=True)))
    assert result.ok and result.heights_decided >= 8
    assert result.view_changes > 0


def test_the_cli_takes_the_district_design_options() -> None:
    args = ["--validators", "7", "--heights", "3", "--seeds", "1", "--no-faults", "--network",
            "--tx-rate", "100", "--batch-ms", "100", "--message-us", "140", "--gossip-fanout", "4",
            "--proposals-by-reference", "--vote-collector"]
    result = CliRunner().invoke(simulate, args)
    assert result.exit_code == 0, result.output
    assert "0 violations" in result.output
    options = _networked(network=NetworkModel(message_us=140, gossip_fanout=4,
                                              proposals_by_reference=True, vote_collector=True))
    assert ("--message-us 140 --gossip-fanout 4 --proposals-by-reference --vote-collector "
            in reproduce_command(options, NO_FAULTS))
    refused = CliRunner().invoke(simulate, ["--validators", "4", "--vote-collector"])
    assert refused.exit_code != 0 and "needs --network" in refused.output
