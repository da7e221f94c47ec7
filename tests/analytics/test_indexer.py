"""The indexer against a real node: every block verified and written once, a kill -9 in
the middle of a batch loses and doubles nothing, tampered blocks are refused with nothing
written, the lag is exported, a database of another chain is refused. On SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from analytics import schema as s
from analytics.errors import ChainMismatch, SourceError, VerificationError
from analytics.indexer import HOLD_BATCH_ENV, Indexer, IndexerMetrics
from analytics.runner import load_trusted_genesis
from analytics.source import VALIDATORS_KEY, RpcSource
from tests.analytics.chain import Chain
from vm import layout

pytestmark = pytest.mark.slow


class PagesSource:
    """A ChainSource serving recorded pages (optionally edited), with the node's limits:
    at most ``limit`` blocks from ``start``, the head as recorded or as told."""

    def __init__(self, pages: list[dict[str, Any]], status: dict[str, Any], head: int | None = None) -> None:
        self.pages = pages
        self._status = status
        self.head = len(pages) - 1 if head is None else head

    async def status(self) -> dict[str, Any]:
        return {**self._status, "height": self.head}

    async def blocks(self, start: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        assert 0 < limit <= 256
        return self.head, copy.deepcopy(self.pages[start:start + limit])

    async def proof(self, key: bytes, height: int) -> dict[str, Any]:
        raise AssertionError("no validator change in these pages")

    async def wait_for_block(self, after: int, timeout_ms: int) -> None:
        return None

    async def close(self) -> None:
        return None


def _counts(url: str) -> dict[str, int]:
    engine = s.make_engine(url)
    try:
        with engine.connect() as conn:
            out = {t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                   for t in (s.blocks, s.txs, s.receipts, s.events)}
            out["cursor"] = int(conn.execute(sa.select(s.hk_cursor.c.height)).scalar() or -1)
            out["max_height"] = int(conn.execute(sa.select(sa.func.max(s.blocks.c.height))).scalar() or -1)
            return out
    finally:
        engine.dispose()


def _expected(pages: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "blocks": len(pages),
        "txs": sum(len(p["txs"]) for p in pages),
        "receipts": sum(len(p["receipts"]) for p in pages),
        "events": sum(len(r["events"]) for p in pages for r in p["receipts"]),
        "cursor": len(pages) - 1,
        "max_height": len(pages) - 1,
    }


def _indexer(url: str, chain: Chain, source: Any = None, **kw: Any) -> Indexer:
    genesis, trusted = load_trusted_genesis(chain.genesis)
    return Indexer(s.make_engine(url), source or RpcSource(chain.rpc_url), genesis, trusted, **kw)


async def _catch_up(ix: Indexer) -> int:
    try:
        return await ix.catch_up()
    finally:
        await ix.source.close()
        ix.engine.dispose()


def test_the_schedule_key_is_the_vm_one() -> None:
    assert VALIDATORS_KEY == layout.VALIDATORS_KEY


def test_every_block_tx_receipt_and_event_is_written_once(chain: Chain, db_url: str) -> None:
    height = asyncio.run(_catch_up(_indexer(db_url, chain, batch_blocks=7)))
    pages = chain.pages()[:height + 1]
    assert height >= 10
    assert _counts(db_url) == _expected(pages)
    engine = s.make_engine(db_url)
    with engine.connect() as conn:
        got = {r.hash: (r.height, r.idx, r.kind, r.status) for r in conn.execute(sa.select(s.txs))}
    engine.dispose()
    assert got == {t["hash"]: (p["height"], i, f"{t['contract']}.{t['method']}", p["receipts"][i]["status"])
                   for p in pages for i, t in enumerate(p["txs"])}
    # Run again: nothing new to write, nothing doubled.
    again = asyncio.run(_catch_up(_indexer(db_url, chain)))
    assert _counts(db_url) == _expected(chain.pages()[:again + 1])


def test_a_kill_9_in_the_middle_of_a_batch_loses_and_doubles_nothing(chain: Chain, db_url: str,
                                                                     tmp_path: Path) -> None:
    batch = 4
    cmd = [sys.executable, "-m", "cli", "index", "--rpc", chain.rpc_url, "--genesis", str(chain.genesis),
           "--db", db_url, "--batch", str(batch), "--once", "--quiet"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            env={**os.environ, HOLD_BATCH_ENV: "3"}, start_new_session=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        assert line.startswith("holding batch 3"), line + proc.stderr.read().decode()
        # The third batch's rows are written, not committed: kill the process now.
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    after_kill = _counts(db_url)
    pages = chain.pages()
    assert after_kill == _expected(pages[:2 * batch])  # two whole batches, nothing of the third
    done = subprocess.run([*cmd[:-1]], capture_output=True, timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stderr.decode()
    final = _counts(db_url)
    assert final["cursor"] >= len(pages) - 1
    assert final == _expected(chain.pages()[:final["cursor"] + 1])
    assert "indexed up to block" in done.stderr.decode()


def _status(chain: Chain) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        src = RpcSource(chain.rpc_url)
        try:
            return await src.status()
        finally:
            await src.close()
    return asyncio.run(go())


def _first_with_txs(pages: list[dict[str, Any]]) -> int:
    return next(i for i, p in enumerate(pages) if p["txs"] and i > 2)


@pytest.mark.parametrize("tamper", ["tx_bytes", "receipt_status", "certificate", "prev_hash", "missing_receipt"])
def test_a_tampered_block_is_refused_and_nothing_of_its_batch_written(chain: Chain, db_url: str,
                                                                     tamper: str) -> None:
    pages = chain.pages()
    k = _first_with_txs(pages)
    bad = copy.deepcopy(pages[:k + 1])
    block = bad[k]
    if tamper == "tx_bytes":
        other = next(p for p in pages[k + 1:] if p["txs"])
        block["txs"][0] = other["txs"][0]
    elif tamper == "receipt_status":
        r = block["receipts"][0]
        from core.types import Receipt

        rec = Receipt.decode(bytes.fromhex(r["encoded"]))
        forged = Receipt(rec.tx_hash, 1 - min(rec.status, 1), rec.gas_used, rec.fee, None, (), "x", "y")
        r["encoded"] = forged.encode().hex()
    elif tamper == "certificate":
        block["certificate"] = bad[k - 1]["certificate"]
    elif tamper == "prev_hash":
        bad[k - 1] = copy.deepcopy(bad[k - 2])
        bad[k - 1]["height"] = k - 1
    else:
        block["receipts"] = block["receipts"][1:]
    src = PagesSource(bad, _status(chain))
    ix = _indexer(db_url, chain, source=src, batch_blocks=256)
    with pytest.raises(VerificationError):
        asyncio.run(_catch_up(ix))
    assert _counts(db_url) == {"blocks": 0, "txs": 0, "receipts": 0, "events": 0, "cursor": -1, "max_height": -1}
    # The true pages index fine into the same database.
    good = _indexer(db_url, chain, source=PagesSource(pages[:k + 1], _status(chain)))
    assert asyncio.run(_catch_up(good)) == k
    assert _counts(db_url) == _expected(pages[:k + 1])


def test_the_lag_is_exported_as_a_metric(chain: Chain, db_url: str) -> None:
    pages = chain.pages()
    metrics = IndexerMetrics()
    src = PagesSource(pages[:6], _status(chain), head=len(pages[:6]) - 1 + 40)
    ix = _indexer(db_url, chain, source=src, metrics=metrics, batch_blocks=3)

    async def go() -> None:
        await asyncio.to_thread(ix.open)
        await ix.step()
        await ix.step()
    asyncio.run(go())
    ix.engine.dispose()
    text = metrics.registry.get_sample_value("hkchain_indexer_lag_blocks")
    assert text == 40.0
    assert metrics.registry.get_sample_value("hkchain_indexer_height") == 5.0


def test_a_database_of_another_chain_is_refused(chain: Chain, db_url: str, tmp_path: Path) -> None:
    asyncio.run(_catch_up(_indexer(db_url, chain, source=PagesSource(chain.pages()[:3], _status(chain)))))
    other = json.loads(chain.genesis.read_text())
    other["chain_id"] = "another-chain"
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other))
    genesis, trusted = load_trusted_genesis(path)
    ix = Indexer(s.make_engine(db_url), RpcSource(chain.rpc_url), genesis, trusted)
    with pytest.raises(ChainMismatch):
        asyncio.run(_catch_up(ix))
    assert _counts(db_url)["blocks"] == 3


def test_a_node_that_cannot_serve_a_block_is_a_clear_error(chain: Chain, db_url: str) -> None:
    pages = chain.pages()
    src = PagesSource(pages[:4], _status(chain), head=9)  # says 9, serves 0..3 only
    ix = _indexer(db_url, chain, source=src, batch_blocks=2)
    with pytest.raises(SourceError) as err:
        asyncio.run(_catch_up(ix))
    assert err.value.code == "block_unavailable"
    assert _counts(db_url)["cursor"] == 3
