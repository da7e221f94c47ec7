"""`hkchain init`: keys, one genesis and a config per node for a local network."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

import node.home as home_module
from cli.main import main
from core.crypto import PrivateKey
from node.config import BlockConfig, ConsensusConfig, NodeConfig
from node.home import (
    DEFAULT_BASE_PORT,
    FALLBACK_EPHEMERAL_RANGE,
    LARGE_NETWORK_EMPTY_BLOCK_INTERVAL_MS,
    LARGE_NETWORK_FROM_VALIDATORS,
    MAX_LOCAL_VALIDATORS,
    HomeError,
    check_base_port,
    ephemeral_port_range,
    init_network,
    init_observer,
    load_network,
    make_genesis,
    max_base_port,
    node_ports,
    view_timeout_ms_for,
)
from tests.cli.conftest import DEV_OPERATOR, dev_validator, template_doc


def _init(home: Path, template: Path, *extra: str) -> str:
    result = CliRunner().invoke(
        main, ["init", "--validators", "4", "--home", str(home), "--genesis", str(template),
               "--base-port", "31000", *extra]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_init_writes_keys_genesis_and_configs(tmp_path: Path, genesis_template: Path) -> None:
    home = tmp_path / "net"
    output = _init(home, genesis_template)
    geneses = {(home / f"node{i}" / "genesis.json").read_bytes() for i in range(4)}
    assert len(geneses) == 1, "every node must get the same genesis"
    genesis = json.loads(geneses.pop())
    keys = [PrivateKey.load(home / f"node{i}" / "node.key") for i in range(4)]
    operator = PrivateKey.load(home / "operator.key")
    assert operator.address in output

    for path in [home / "operator.key", *(home / f"node{i}" / "node.key" for i in range(4))]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert [v["public_key"] for v in genesis["validators"]] == [k.public_key.hex() for k in keys]
    assert genesis["genesis_time_ms"] > 1
    assert genesis["chain_id"] == "hkchain-test"

    configs = [NodeConfig.load(home / f"node{i}") for i in range(4)]
    ports = set()
    for i, config in enumerate(configs):
        assert config.chain_id == genesis["chain_id"]
        assert PrivateKey.load(config.key_path(home / f"node{i}")) == keys[i]
        assert config.rpc.host == config.p2p.host == "127.0.0.1"
        assert (config.rpc.port, config.p2p.port) == node_ports(i, 31000)
        ports.update({config.rpc.port, config.p2p.port})
        peers = {p.public_key: p for p in config.p2p.peers}
        assert set(peers) == {k.public_key for j, k in enumerate(keys) if j != i}
        for j, key in enumerate(keys):
            if j != i:
                assert peers[key.public_key].url == configs[j].p2p_url
    assert len(ports) == 8


def test_genesis_gives_the_dev_grants_to_the_fresh_keys(tmp_path: Path) -> None:
    keys = [PrivateKey.from_seed_text(f"fresh-{i}") for i in range(2)]
    operator = PrivateKey.from_seed_text("fresh-operator")
    doc = make_genesis(template_doc(4), keys, operator, genesis_time_ms=42)
    text = json.dumps(doc)
    for dev in [DEV_OPERATOR, *(dev_validator(i) for i in range(4))]:
        assert dev.address not in text and dev.public_key.hex() not in text
    assert doc["accounts"] == [
        {"address": operator.address, "balance": 1_000_000},
        {"address": keys[0].address, "balance": 10},
        {"address": keys[1].address, "balance": 10},
    ]
    assert doc["roles"] == {"committee": [operator.address], "observer": ["hk1notakeyjustaname"]}
    assert doc["params"] == {"min_fee": 1, "treasury": operator.address}
    assert doc["contracts"] == template_doc()["contracts"]
    assert doc["validators"] == [
        {"name": "node0", "public_key": keys[0].public_key.hex()},
        {"name": "node1", "public_key": keys[1].public_key.hex()},
    ]
    assert doc["genesis_time_ms"] == 42


def test_init_refuses_an_existing_home_unless_forced(tmp_path: Path, genesis_template: Path) -> None:
    home = tmp_path / "net"
    _init(home, genesis_template)
    first = PrivateKey.load(home / "operator.key").address
    (home / "notes.txt").write_text("mine")
    again = CliRunner().invoke(main, ["init", "--home", str(home), "--genesis", str(genesis_template)])
    assert again.exit_code == 1
    assert "--force" in again.output and "Traceback" not in again.output
    assert PrivateKey.load(home / "operator.key").address == first

    _init(home, genesis_template, "--force")
    assert PrivateKey.load(home / "operator.key").address != first
    assert (home / "notes.txt").read_text() == "mine", "--force removes only what init wrote"


def test_load_network_reads_back_what_init_wrote(tmp_path: Path, genesis_template: Path) -> None:
    made = init_network(tmp_path / "n", 3, base_port=32000, genesis_template=genesis_template)
    loaded = load_network(tmp_path / "n")
    assert loaded == made
    assert [n.rpc_url for n in loaded.nodes] == [f"http://127.0.0.1:{32000 + 10 * i}" for i in range(3)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--validators", "0"], "0 is not in the range"),
        (["--base-port", "80"], "80 is not in the range"),
        (["--genesis", "/nonexistent/genesis.json"], "does not exist"),
    ],
)
def test_init_rejects_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["init", "--home", str(tmp_path / "x"), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_init_reports_a_broken_template_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "g.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(main, ["init", "--home", str(tmp_path / "x"), "--genesis", str(bad)])
    assert result.exit_code == 1
    assert "not valid JSON" in result.output and "Traceback" not in result.output
    with pytest.raises(HomeError):
        load_network(tmp_path / "x")


@pytest.mark.parametrize("validators", [1, 4, 7])
def test_init_from_the_repository_genesis(tmp_path: Path, validators: int) -> None:
    from node.genesis import load_genesis
    from node.home import default_genesis_template

    template = json.loads(default_genesis_template().read_text())
    net = init_network(tmp_path / "n", validators)
    genesis = load_genesis(net.nodes[0].home / "genesis.json")
    assert [v.public_key for v in genesis.validators.validators] == [n.public_key for n in net.nodes]
    doc = genesis.document
    assert doc["params"] == template["params"] and doc["contracts"] == template["contracts"]
    text = json.dumps(doc)
    assert DEV_OPERATOR.address not in text
    for entry in template["validators"]:
        assert entry["public_key"] not in text
    # Whatever the template grants its operator, the fresh operator now holds.
    granted = json.dumps(template).count(DEV_OPERATOR.address)
    assert granted > 0 and text.count(net.operator_address) == granted


@pytest.fixture
def kernel_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kernel's ephemeral range as Linux ships it, whatever this host is set to."""
    path = tmp_path / "ip_local_port_range"
    path.write_text("32768\t60999\n")
    monkeypatch.setattr(home_module, "EPHEMERAL_RANGE_FILE", path)
    return path


def test_init_refuses_ports_in_the_kernels_ephemeral_range(
    tmp_path: Path, genesis_template: Path, kernel_range: Path
) -> None:
    home = tmp_path / "big"
    result = CliRunner().invoke(
        main, ["init", "--validators", "64", "--home", str(home), "--genesis", str(genesis_template),
               "--base-port", "40000"]
    )
    assert result.exit_code != 0
    out = " ".join(result.output.split())
    assert "ports 40000..40631 overlap the kernel's ephemeral ports 32768..60999" in out
    assert "address already in use" in out and "use --base-port 32130 or lower" in out
    assert "Traceback" not in result.output
    assert not home.exists(), "a refused init writes nothing"


def test_a_range_that_only_runs_into_the_ephemeral_ports_is_refused(kernel_range: Path) -> None:
    # 64 nodes from 32200 end at 32831: the base is below 32768 but the range is not.
    with pytest.raises(HomeError, match="overlap"):
        check_base_port(32200, 64)
    check_base_port(max_base_port(64), 64)
    assert max_base_port(64) == 32130 and node_ports(63, 32130)[1] < 32768
    with pytest.raises(HomeError, match="overlap"):
        check_base_port(max_base_port(64) + 10, 64)
    check_base_port(61000, 4)  # above the range is fine too


def test_the_range_is_read_from_the_kernel(tmp_path: Path, kernel_range: Path) -> None:
    kernel_range.write_text("20000 30000\n")
    assert ephemeral_port_range() == (20000, 30000)
    with pytest.raises(HomeError, match="use --base-port 19360 or lower"):
        check_base_port(26600, 64)
    kernel_range.write_text("1024 65535\n")
    with pytest.raises(HomeError, match="lower the kernel's range"):
        check_base_port(2000, 4)
    kernel_range.write_text("garbage\n")
    assert ephemeral_port_range() == FALLBACK_EPHEMERAL_RANGE
    assert ephemeral_port_range(tmp_path / "missing") == FALLBACK_EPHEMERAL_RANGE


def test_the_default_base_port_fits_the_largest_local_network(kernel_range: Path) -> None:
    check_base_port(DEFAULT_BASE_PORT, MAX_LOCAL_VALIDATORS)


def test_init_observer_joins_a_local_network(tmp_path: Path, genesis_template: Path) -> None:
    home = tmp_path / "net"
    _init(home, genesis_template)
    result = CliRunner().invoke(main, ["init", "--observer", "--join", str(home)])
    assert result.exit_code == 0, result.output
    assert "observer0" in result.output and "--observer" in result.output
    obs_home = home / "observer0"
    config = NodeConfig.load(obs_home)
    net = load_network(home)
    key = PrivateKey.load(obs_home / "node.key")
    assert config.observer and config.name == "observer0"
    assert config.chain_id == net.chain_id
    assert (obs_home / "genesis.json").read_bytes() == (home / "node0" / "genesis.json").read_bytes()
    assert [(p.name, p.public_key, p.url) for p in config.p2p.peers] == [
        (n.name, n.public_key, n.p2p_url) for n in net.nodes]
    assert (config.rpc.port, config.p2p.port) == node_ports(4, 31000), "the slot after the validators"
    assert stat.S_IMODE((obs_home / "node.key").stat().st_mode) == 0o600
    for node in net.nodes:
        assert NodeConfig.load(node.home).p2p.observers == (key.public_key,)
    assert len(load_network(home).nodes) == 4, "an observer is not a validator of the network"

    # A second one, named by nodes.json, takes the next slot; both stay admitted.
    (home / "nodes.json").write_text("{}")
    again = CliRunner().invoke(main, ["init", "--observer", "--join", str(home / "nodes.json")])
    assert again.exit_code == 0, again.output
    second = NodeConfig.load(home / "observer1")
    assert second.rpc.port == node_ports(5, 31000)[0]
    assert len(NodeConfig.load(home / "node2").p2p.observers) == 2

    # Replacing one with --force drops its old key from the validators' lists.
    other = tmp_path / "elsewhere"
    assert CliRunner().invoke(main, ["init", "--observer", "--join", str(home), "--home", str(other)]).exit_code == 0
    replaced = PrivateKey.load(other / "node.key").public_key
    refused = CliRunner().invoke(main, ["init", "--observer", "--join", str(home), "--home", str(other)])
    assert refused.exit_code != 0 and "--force" in refused.output
    assert CliRunner().invoke(
        main, ["init", "--observer", "--join", str(home), "--home", str(other), "--force"]).exit_code == 0
    observers = NodeConfig.load(home / "node0").p2p.observers
    assert replaced not in observers and PrivateKey.load(other / "node.key").public_key in observers
    assert len(observers) == 3

    # --force of the network removes its observers too.
    _init(home, genesis_template, "--force")
    assert not (home / "observer0").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--observer"], "--observer needs --join"),
        (["--state-sync"], "pass --join NET"),
    ],
)
def test_init_observer_needs_both_flags(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["init", *args])
    assert result.exit_code == 2 and message in result.output


def test_init_join_makes_a_node_that_joins_by_state_sync(tmp_path: Path, genesis_template: Path) -> None:
    home = tmp_path / "net"
    _init(home, genesis_template)
    result = CliRunner().invoke(main, ["init", "--join", str(home), "--state-sync"])
    assert result.exit_code == 0, result.output
    assert "joiner0" in result.output and "add_validator" in result.output
    config = NodeConfig.load(home / "joiner0")
    key = PrivateKey.load(home / "joiner0" / "node.key").public_key
    assert config.state_sync and not config.observer and config.name == "joiner0"
    assert (config.rpc.port, config.p2p.port) == node_ports(4, 31000)
    for node in load_network(home).nodes:
        validator = NodeConfig.load(node.home)
        assert validator.p2p.observers == (key,), "admitted before it is a validator"
        assert [p.url for p in validator.p2p.peers if p.public_key == key] == [config.p2p_url]
    net = load_network(home)
    assert len(net.nodes) == 4 and net.observers == (), "localnet does not start it"
    _init(home, genesis_template, "--force")
    assert not (home / "joiner0").exists()


def test_init_observer_refuses_a_directory_without_a_network(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", "--observer", "--join", str(tmp_path)])
    assert result.exit_code != 0 and "holds no local network" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_network_with_an_observer_reads_back_with_it(tmp_path: Path, genesis_template: Path) -> None:
    from node.localnet import Supervisor

    home = tmp_path / "net"
    _init(home, genesis_template)
    made = init_observer(home)
    net = load_network(home)
    assert net.observers == (made.node,) and len(net.nodes) == 4
    sup = Supervisor(net)
    assert [n.name for n in sup.nodes] == ["node0", "node1", "node2", "node3", "observer0"]
    doc = sup.nodes_file_doc()
    assert [n["name"] for n in doc["nodes"]] == ["node0", "node1", "node2", "node3"]
    assert doc["observers"] == [{**made.node.to_json(), "pid": None}]

    # An observer home of another chain is refused, not started beside the network.
    config = NodeConfig.load(made.node.home)
    config.with_changes(chain_id="another-chain").save(made.node.home)
    with pytest.raises(HomeError, match="follows chain 'another-chain'"):
        load_network(home)


@pytest.mark.parametrize("validators", [4, LARGE_NETWORK_FROM_VALIDATORS - 1, LARGE_NETWORK_FROM_VALIDATORS])
def test_a_large_network_sends_its_votes_through_a_collector_and_idles_slower(
        tmp_path: Path, genesis_template: Path, validators: int) -> None:
    net = init_network(tmp_path / "net", validators, base_port=31000, genesis_template=genesis_template)
    large = validators >= LARGE_NETWORK_FROM_VALIDATORS
    configs = [NodeConfig.load(n.home) for n in net.nodes]
    assert [c.consensus.vote_collector for c in configs] == [large] * validators
    interval = LARGE_NETWORK_EMPTY_BLOCK_INTERVAL_MS if large else BlockConfig().empty_block_interval_ms
    assert {c.block.empty_block_interval_ms for c in configs} == {interval}
    timeout = ConsensusConfig().view_timeout_ms
    assert {c.consensus.view_timeout_ms for c in configs} == {timeout}  # the base up to 32


@pytest.mark.parametrize(("validators", "timeout_ms"), [(15, 4000), (32, 4000), (33, 4125), (64, 8000)])
def test_a_large_network_on_one_machine_waits_longer_before_changing_view(
        tmp_path: Path, genesis_template: Path, validators: int, timeout_ms: int) -> None:
    assert view_timeout_ms_for(validators) == timeout_ms
    net = init_network(tmp_path / "net", validators, base_port=31000, genesis_template=genesis_template)
    configs = [NodeConfig.load(n.home) for n in net.nodes]
    assert {c.consensus.view_timeout_ms for c in configs} == {timeout_ms}
    # The replica's backoff still has room above it.
    assert all(c.consensus.max_view_timeout_ms > timeout_ms for c in configs)
