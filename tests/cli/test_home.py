"""The network home: `hkchain --home DIR` and $HKCHAIN_HOME tell every command where the
local network is (DIR/nodes.json for --rpc, DIR/operator.key for --key), from any folder;
localnet's summary and hints stay whole and pasteable."""

from __future__ import annotations

import io
import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from cli.main import main
from core.crypto import PrivateKey
from node.home import init_network
from node.localnet import PIPE_WIDTH, Supervisor, look_around_hints, print_summary

UNREACHABLE = "http://127.0.0.1:1"  # nothing listens on port 1: a quick "cannot reach"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("HKCHAIN_HOME", "HKCHAIN_RPC", "HKCHAIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # a folder with no ./localnet
    return cwd


def make_home(home: Path, rpc_urls: list[str], *, operator: bool = True) -> Path:
    home.mkdir(parents=True)
    nodes = [{"name": f"node{i}", "rpc_url": url, "pid": 100 + i} for i, url in enumerate(rpc_urls)]
    (home / "nodes.json").write_text(json.dumps({"nodes": nodes}))
    if operator:
        PrivateKey.generate().save(home / "operator.key")
    return home


def invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner(env=env).invoke(main, args)
    return result.exit_code, result.output


def test_home_flag_finds_nodes_json_from_any_folder(clean_env: Path, tmp_path: Path) -> None:
    home = make_home(tmp_path / "net", [UNREACHABLE, "http://127.0.0.1:2"])
    code, out = invoke(["--home", str(home), "status"])
    # It tried node0 of that home's nodes.json: the URL only that file names.
    assert code == 1 and f"cannot reach node at {UNREACHABLE}" in out


def test_hkchain_home_env_finds_it_too_and_the_flag_wins(clean_env: Path, tmp_path: Path) -> None:
    home = make_home(tmp_path / "net", [UNREACHABLE])
    code, out = invoke(["status"], env={"HKCHAIN_HOME": str(home)})
    assert code == 1 and f"cannot reach node at {UNREACHABLE}" in out
    other = make_home(tmp_path / "other", ["http://127.0.0.1:3"])
    code, out = invoke(["--home", str(other), "status"], env={"HKCHAIN_HOME": str(home)})
    assert code == 1 and "cannot reach node at http://127.0.0.1:3" in out


def test_rpc_flag_wins_over_the_home(clean_env: Path, tmp_path: Path) -> None:
    home = make_home(tmp_path / "net", ["http://127.0.0.1:2"])
    code, out = invoke(["--home", str(home), "status", "--rpc", UNREACHABLE])
    assert code == 1 and f"cannot reach node at {UNREACHABLE}" in out


def test_a_named_home_without_a_network_is_a_clear_error(clean_env: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out = invoke(["--home", str(empty), "status"])
    assert code == 1
    assert f"{empty / 'nodes.json'} does not exist: no local network in {empty}" in out
    assert "cannot reach" not in out  # no silent fallback to another port
    (empty / "nodes.json").write_text("{not json")
    code, out = invoke(["status"], env={"HKCHAIN_HOME": str(empty)})
    assert code == 1 and "nodes.json cannot be read" in out


def test_the_home_operator_key_signs_and_its_absence_is_named(clean_env: Path, tmp_path: Path) -> None:
    home = make_home(tmp_path / "net", [UNREACHABLE])
    to = PrivateKey.generate().address
    code, out = invoke(["--home", str(home), "transfer", "--to", to, "--amount", "1"])
    assert code == 1 and f"cannot reach node at {UNREACHABLE}" in out  # got past the key

    keyless = make_home(tmp_path / "keyless", [UNREACHABLE], operator=False)
    code, out = invoke(["--home", str(keyless), "transfer", "--to", to, "--amount", "1"])
    assert code == 1 and f"no key: {keyless / 'operator.key'} does not exist" in out


def test_init_and_localnet_use_the_group_home(clean_env: Path, tmp_path: Path) -> None:
    home = tmp_path / "from-flag"
    code, out = invoke(["--home", str(home), "init", "--validators", "1"])
    assert code == 0, out
    assert (home / "node0" / "config.json").exists() and (home / "operator.key").exists()
    env_home = tmp_path / "from-env"
    code, out = invoke(["init", "--validators", "1"], env={"HKCHAIN_HOME": str(env_home)})
    assert code == 0, out
    assert (env_home / "node0" / "config.json").exists()
    assert not (clean_env / "localnet").exists()


def test_transfer_to_a_key_file_pays_its_address(clean_env: Path, tmp_path: Path) -> None:
    home = make_home(tmp_path / "net", [UNREACHABLE])
    alice = clean_env / "alice.key"
    PrivateKey.generate().save(alice, passphrase="pw")  # encrypted: only its public key is read
    code, out = invoke(["--home", str(home), "transfer", "--to", "alice.key", "--amount", "1"])
    assert code == 1 and "cannot reach node" in out  # the recipient resolved; the node is down
    (clean_env / "notes.txt").write_text("hello")
    code, out = invoke(["--home", str(home), "transfer", "--to", "notes.txt", "--amount", "1"])
    assert code == 1 and "notes.txt is not an hkchain key file" in out
    code, out = invoke(["--home", str(home), "transfer", "--to", "hk1nosuchaddress", "--amount", "1"])
    assert code == 1 and "not a valid address" in out


def test_summary_in_a_pipe_keeps_names_pids_and_full_urls(tmp_path: Path) -> None:
    net = init_network(tmp_path / "net", 4, base_port=21000)
    sup = Supervisor(net)
    buf = io.StringIO()
    print_summary(Console(file=buf, width=PIPE_WIDTH, highlight=False), sup, tmp_path / "net")
    text = buf.getvalue()
    table = text.split("Open the residents' app")[0]
    for node in net.nodes:
        for value in (node.name, node.rpc_url, node.p2p_url, node.address):
            assert value in table, value
    assert "…" not in table


def test_summary_in_a_narrow_terminal_folds_instead_of_cutting(tmp_path: Path) -> None:
    net = init_network(tmp_path / "net", 2, base_port=21000)
    buf = io.StringIO()
    print_summary(Console(file=buf, width=70, highlight=False), Supervisor(net))
    table = buf.getvalue().split("Open the residents' app")[0]
    assert "…" not in table and "node0" in table and "node1" in table
    # Folded over lines, every character is still there: join each column's pieces.
    rows = [line.split("│")[1:-1] for line in table.splitlines() if line.startswith("│")]
    columns = ["".join(row[k].strip() for row in rows) for k in range(5)]
    for node in net.nodes:
        assert node.rpc_url in columns[2] and node.p2p_url in columns[3]
        assert node.address in columns[4]


def test_hints_name_the_home_only_when_it_is_not_the_default(tmp_path: Path) -> None:
    net = init_network(tmp_path / "net", 1, base_port=21000)
    plain = look_around_hints(net, None)
    assert all(shlex.split(h)[0] == "hkchain" and "--home" not in h for h in plain)
    assert all("<" not in h and "…" not in h for h in plain)  # no placeholders to fill in
    odd = tmp_path / "a net's home"
    for hint in look_around_hints(net, odd):
        argv = shlex.split(hint)
        assert argv[0] == "hkchain"
        if argv[1] != "keys":
            assert argv[1:3] == ["--home", str(odd)]
    query = shlex.split(look_around_hints(net, odd)[3])
    assert json.loads(query[-1]) == [net.operator_address]
