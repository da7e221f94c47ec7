"""The indexer inside a node (config analytics.enabled): a real node process indexes its
own blocks into the SQLite file in its home, serves the figures on its RPC and shows the
indexer's lag in its /metrics. And the switch's settings are checked like any other."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from analytics.schema import DB_FILE
from cli.wallet import RpcClient, Wallet, run
from core.crypto import PrivateKey
from node.config import AnalyticsConfig, ConfigError, NodeConfig
from tests.e2e.harness import describe_logs, make_network, running

pytestmark = pytest.mark.slow
WAIT_S = 60.0


def _get(url: str) -> tuple[int, Any]:
    with urlopen(url, timeout=10) as resp:
        body = resp.read().decode()
        return resp.status, (json.loads(body) if body.startswith(("{", "[")) else body)


def test_a_node_with_the_switch_on_indexes_itself_and_serves_the_figures(tmp_path: Path) -> None:
    net = make_network(tmp_path / "net", 1)
    home = net.nodes[0].home
    config = NodeConfig.load(home)
    config.with_changes(analytics=AnalyticsConfig(enabled=True, batch_blocks=16)).save(home)
    with running(net) as sup:
        sup.wait_ready(timeout_ms=60_000)
        rpc_url = net.nodes[0].rpc_url

        async def transfers() -> int:
            async with RpcClient(rpc_url) as rpc:
                w = Wallet(PrivateKey.load(net.operator_key_file), rpc)
                for i in range(6):
                    _, receipt = await w.transfer(PrivateKey.from_seed_text(f"e{i}").address, 10 + i)
                    assert receipt is not None and receipt["receipt"]["status"] == 0
                return int((await rpc.status())["height"])
        height = run(transfers())
        deadline = time.monotonic() + WAIT_S
        while True:
            status, doc = _get(f"{rpc_url}/v1/stats")
            if status == 200 and (doc["indexer"]["height"] or -1) >= height:
                break
            assert time.monotonic() < deadline, f"the indexer did not reach {height}: {doc}\n{describe_logs(sup)}"
            time.sleep(0.2)
        status, fig = _get(f"{rpc_url}/v1/stats/txs_by_kind")
        assert status == 200 and fig["figure"] == "txs_by_kind"
        kinds = {r[2]: r for r in fig["rows"]}
        # Six transfers from one sender: a cell over fewer than 5 households, so hidden.
        assert fig["rows"] and kinds["token.transfer"][3:6] == [None, 1, None]
        _, metrics = _get(f"{rpc_url}/metrics")
        assert "hkchain_indexer_lag_blocks" in metrics and "hkchain_indexer_height" in metrics
        assert (home / DB_FILE).exists()


def test_the_switch_is_checked_like_any_setting(tmp_path: Path) -> None:
    base = NodeConfig(name="n0", chain_id="c")
    doc = json.loads(json.dumps(dataclasses.asdict(base)))
    for bad, where in (({"enabled": "yes"}, "analytics.enabled"), ({"batch_blocks": 0}, "analytics.batch_blocks"),
                       ({"nope": 1}, "analytics.nope")):
        (tmp_path / "config.json").write_text(json.dumps({**doc, "analytics": {**doc["analytics"], **bad}}))
        with pytest.raises(ConfigError, match=where):
            NodeConfig.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**doc, "analytics": {"enabled": True}}))
    assert NodeConfig.load(tmp_path).analytics == AnalyticsConfig(enabled=True)
