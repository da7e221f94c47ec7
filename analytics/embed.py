"""The indexer inside a node (config.json ``"analytics": {"enabled": true}``), so a
committee needs no second service: the node adds the stats routes to its RPC app and runs
the indexer as a task of its event loop, following the node's own RPC like any client.
Its metrics join the node's ``/metrics``. A failure of the indexer is logged and retried
(or, for a block that does not verify, stops the indexer): it never stops the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from analytics import schema
from analytics.api import add_stats_routes
from analytics.indexer import Indexer, IndexerMetrics
from analytics.runner import load_trusted_genesis
from analytics.source import RpcSource

log = logging.getLogger("hkchain.analytics")


class EmbeddedIndexer:
    def __init__(self, home: Path, db_url: str, genesis_path: Path, *, batch_blocks: int,
                 registry: CollectorRegistry | None) -> None:
        self.db_url = db_url or schema.default_url(home)
        self.genesis_path = genesis_path
        self.batch_blocks = batch_blocks
        self.engine = schema.make_engine(self.db_url)
        self.metrics = IndexerMetrics(registry)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._source: RpcSource | None = None

    def attach(self, app: web.Application) -> None:
        """The stats routes on the node's RPC app (before it starts)."""
        add_stats_routes(app, self.engine)

    def start(self, rpc_url: str) -> None:
        """Start following the node's RPC at ``rpc_url`` (once it listens)."""
        genesis, trusted = load_trusted_genesis(self.genesis_path)
        self._source = RpcSource(rpc_url)
        indexer = Indexer(self.engine, self._source, genesis, trusted, batch_blocks=self.batch_blocks,
                          metrics=self.metrics)
        self._task = asyncio.create_task(self._run(indexer))

    async def _run(self, indexer: Indexer) -> None:
        while not self._stop.is_set():
            try:
                await indexer.run(self._stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the node keeps running whatever the indexer meets
                code = getattr(exc, "code", type(exc).__name__)
                self.metrics.errors.labels(str(code)).inc()
                log.error("analytics indexer stopped: %s", json.dumps(str(exc))[:500])
                if code == "verification_failed":
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=5.0)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._source is not None:
            await self._source.close()
        self.engine.dispose()
