"""tools/audit.py and `hkchain audit` on node homes made by init_network: a careless home
fails on its key and binds, a careful one passes, and what cannot be measured says so."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from core.crypto import PrivateKey
from node.config import NodeConfig
from node.home import default_genesis_template, init_network
from tools.audit import audit_home, check_clock

NOW_MS = 1_800_000_000_000
FAIL_FREE = 1 << 30


def _stopped(url: str) -> Any:
    raise ConnectionRefusedError(111, "Connection refused")


def _home(tmp_path: Path) -> Path:
    net = init_network(tmp_path / "net", 1, base_port=21000,
                       genesis_template=default_genesis_template())
    return net.nodes[0].home


def _verdicts(home: Path, fetch: Any = _stopped) -> dict[str, str]:
    return {f.item: f.verdict for f in audit_home(home, fetch=fetch, now_ms=NOW_MS).findings}


def test_careless_home_fails_on_key_mode_and_binds(tmp_path: Path) -> None:
    home = _home(tmp_path)
    config = NodeConfig.load(home)
    config.key_path(home).chmod(0o644)
    config.with_changes(rpc=dataclasses.replace(config.rpc, host="0.0.0.0"),
                        p2p=dataclasses.replace(config.p2p, host="0.0.0.0")).save(home)
    report = audit_home(home, fetch=_stopped, now_ms=NOW_MS)
    verdicts = {f.item: f for f in report.findings}
    assert verdicts["key file mode"].verdict == "fail"
    assert "0644" in verdicts["key file mode"].detail
    assert "chmod 600" in verdicts["key file mode"].action
    assert verdicts["key encryption"].verdict == "warn"
    assert verdicts["rpc bind"].verdict == "fail"
    assert verdicts["p2p bind"].verdict == "warn"
    assert report.failed

    result = CliRunner().invoke(main, ["audit", "--home", str(home), "--json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    assert doc["verdict"] == "fail"
    assert {f["item"] for f in doc["findings"] if f["verdict"] == "fail"} == {"key file mode", "rpc bind"}


def test_careful_home_passes(tmp_path: Path) -> None:
    home = _home(tmp_path)
    path = NodeConfig.load(home).key_path(home)
    PrivateKey.load(path).save(path, "correct horse battery staple")
    path.chmod(0o600)
    verdicts = _verdicts(home)
    unmeasured = {"peers", "clock offset", "evidence"}  # the node is stopped
    assert {item for item, v in verdicts.items() if v == "skip"} == unmeasured
    measured = {item: v for item, v in verdicts.items() if item not in unmeasured}
    assert measured.pop("disk space") != "fail"  # depends on this machine's disk
    assert set(measured.values()) == {"ok"}, measured

    result = CliRunner().invoke(main, ["audit", "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["counts"]["fail"] == 0


def test_a_network_home_audits_every_node(tmp_path: Path) -> None:
    net = init_network(tmp_path / "net", 2, base_port=21000,
                       genesis_template=default_genesis_template())
    result = CliRunner().invoke(main, ["audit", "--home", str(net.home), "--json"])
    assert result.exit_code == 0, result.output
    assert [r["node"] for r in json.loads(result.output)] == ["node0", "node1", "operator"]
    net.operator_key_file.chmod(0o644)
    result = CliRunner().invoke(main, ["audit", "--home", str(net.home), "--json"])
    assert result.exit_code == 1, result.output
    operator = json.loads(result.output)[2]
    assert [f["item"] for f in operator["findings"] if f["verdict"] == "fail"] == ["operator key file mode"]


def test_not_a_home_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["audit", "--home", str(tmp_path)])
    assert result.exit_code != 0
    assert "neither config.json" in result.output


@pytest.mark.parametrize(("peers", "verdict"), [([], "fail"), ([{"name": "node1"}], "ok")])
def test_running_node_answers_peers_and_evidence(tmp_path: Path, peers: list[Any],
                                                 verdict: str) -> None:
    net = init_network(tmp_path / "net", 2, base_port=21000,
                       genesis_template=default_genesis_template())

    def fetch(url: str) -> Any:
        if url.endswith("/v1/status"):
            return {"height": 10, "latest_time_ms": NOW_MS - 500, "peers": peers}
        return {"count": 2, "evidence": [{"validator": "node3"}]}

    findings = audit_home(net.nodes[0].home, fetch=fetch, now_ms=NOW_MS).findings
    report = {f.item: f for f in findings}
    assert report["peers"].verdict == verdict
    assert report["clock offset"].verdict == "ok"
    assert report["evidence"].verdict == "warn" and "node3" in report["evidence"].detail
    # A running node's store is never opened beside it.
    assert report["store integrity"].verdict == "skip"
    assert "in use" in report["store integrity"].detail


@pytest.mark.parametrize(("age_ms", "verdict"), [(800, "ok"), (-20_000, "warn"), (120_000, "skip")])
def test_clock_offset_is_measured_only_against_a_fresh_head(age_ms: int, verdict: str) -> None:
    config = NodeConfig(name="node0", chain_id="hkchain-local")
    status = {"latest_time_ms": NOW_MS - age_ms}
    assert check_clock(config, status, "", NOW_MS).verdict == verdict
    assert check_clock(config, None, "node stopped", NOW_MS).verdict == "skip"


class _Disk:
    def __init__(self, free: int, total: int) -> None:
        self.free, self.total = free, total


def test_disk_growth_is_projected_from_the_chain_pace(tmp_path: Path) -> None:
    from tools.audit import ChainPace, check_disk

    home = _home(tmp_path)
    config = NodeConfig.load(home)
    data = config.data_path(home)
    data.mkdir(parents=True, exist_ok=True)
    with (data / "blob").open("wb") as f:  # sparse: 10,000 bytes a block over 1,000 blocks
        f.truncate(10_000_000)
    pace = ChainPace(height=1000, blocks=999, span_ms=999 * 1000)  # a block a second
    per_day = 10_000 * 86_400

    def disk_of(days: int) -> Any:
        return lambda _path: _Disk(free=per_day * days + 2**40, total=2**41)

    findings = {f.item: f for f in check_disk(home, config, pace, disk_of(0))}
    assert "86,400 blocks a day" in findings["data size"].detail
    assert findings["disk space"].verdict == "ok"  # 1 TiB lasts years at 824 MiB a day
    def small(_path: Path) -> _Disk:  # 10 days of growth plus the 1 GiB floor
        return _Disk(free=per_day * 10 + FAIL_FREE, total=2**36)

    findings = {f.item: f for f in check_disk(home, config, pace, small)}
    assert findings["disk space"].verdict == "fail"  # about 11 days left
    assert "full in about 11 days" in findings["disk space"].detail
    young = ChainPace(height=999, blocks=998, span_ms=998 * 1000)
    findings = {f.item: f for f in check_disk(home, config, young, small)}
    assert "not projected" in findings["data size"].detail
    assert findings["disk space"].verdict == "warn"
    findings = {f.item: f for f in check_disk(home, config, None, small)}
    assert findings["disk space"].verdict == "warn"  # no pace: only the free bytes (9.1 GiB)


def test_a_damaged_store_fails(tmp_path: Path) -> None:
    home = _home(tmp_path)
    chain = NodeConfig.load(home).data_path(home) / "chain"
    chain.mkdir(parents=True)
    (chain / "CURRENT").write_text("MANIFEST-000009\n")  # names a manifest that is gone
    finding = {f.item: f for f in audit_home(home, fetch=_stopped, now_ms=NOW_MS).findings}
    assert finding["store integrity"].verdict == "fail", finding["store integrity"]
    assert "does not open" in finding["store integrity"].detail
    assert "wal" not in finding


async def test_rpc_tls_is_reported_from_the_live_node(tmp_path: Path) -> None:
    """TLS on: the audit reaches the running node over https (its status counts), checks
    the certificate it serves and its days left; a readable key or files that cannot
    serve fail; TLS off is fine on loopback only."""
    import asyncio

    from tests.node.harness import make_homes, open_node, stop_nodes
    from tests.node.test_rpc_tls import write_self_signed

    homes = make_homes(tmp_path, 1, rpc_overrides={"tls_cert_file": "tls/cert.pem",
                                                    "tls_key_file": "tls/key.pem"})
    home = homes[0].home
    write_self_signed(home / "tls")
    node = open_node(homes[0])
    await node.start()
    try:
        report = await asyncio.to_thread(audit_home, home)
    finally:
        await stop_nodes([node])
    found = {f.item: f for f in report.findings}
    assert found["rpc tls"].verdict == "ok", found["rpc tls"]
    assert "valid for 29 more days" in found["rpc tls"].detail  # made for 30 days
    assert found["peers"].verdict != "skip"  # the status came over https

    (home / "tls" / "key.pem").chmod(0o644)
    found = {f.item: f for f in audit_home(home, fetch=_stopped, now_ms=NOW_MS).findings}
    assert found["rpc tls"].verdict == "fail" and "chmod 600" in found["rpc tls"].action
    write_self_signed(tmp_path / "other")
    (home / "tls" / "cert.pem").write_bytes((tmp_path / "other" / "cert.pem").read_bytes())
    found = {f.item: f for f in audit_home(home, fetch=_stopped, now_ms=NOW_MS).findings}
    assert found["rpc tls"].verdict == "fail" and "cannot serve" in found["rpc tls"].detail

    config = NodeConfig.load(home)
    plain = dataclasses.replace(config.rpc, tls_cert_file="", tls_key_file="")
    config.with_changes(rpc=plain).save(home)
    assert _verdicts(home)["rpc tls"] == "ok"
    config.with_changes(rpc=dataclasses.replace(plain, host="0.0.0.0")).save(home)
    assert _verdicts(home)["rpc tls"] == "warn"
