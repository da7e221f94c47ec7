"""Running the indexer as a program (``hkchain index``) and the stats server
(``hkchain stats --serve``): reading the trusted genesis, opening the database, the
progress bar, following until stopped, serving the stats API and the indexer's metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from analytics import schema
from analytics.errors import AnalyticsError
from analytics.indexer import DEFAULT_BATCH_BLOCKS, DEFAULT_POLL_MS, Indexer, IndexerMetrics
from analytics.source import RpcSource
from core.errors import ChainError
from core.types import ValidatorSet
from core.verify import validator_set_from_json

MAX_GENESIS_BYTES = 16 * 1024 * 1024


def load_trusted_genesis(path: Path) -> tuple[dict[str, Any], ValidatorSet]:
    """The genesis file whose validators the indexer trusts for the first blocks."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AnalyticsError(f"cannot read genesis file {path}: {exc.strerror or exc}",
                             code="bad_genesis") from None
    if len(raw) > MAX_GENESIS_BYTES:
        raise AnalyticsError(f"genesis file {path} is too large", code="bad_genesis")
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or not isinstance(doc.get("chain_id"), str):
            raise ValueError("not a genesis object with a chain_id")
        return doc, validator_set_from_json(doc.get("validators"))
    except (ValueError, ChainError) as exc:
        raise AnalyticsError(f"genesis file {path}: {exc}", code="bad_genesis") from None


async def index(db_url: str, rpc_url: str, genesis_path: Path, *, batch_blocks: int = DEFAULT_BATCH_BLOCKS,
                once: bool = False, serve: tuple[str, int] | None = None, progress: bool = True,
                poll_ms: int = DEFAULT_POLL_MS) -> int:
    """``hkchain index``: catch up (with a progress bar), then follow unless ``once``.
    Returns the height indexed when it stops."""
    genesis, trusted = load_trusted_genesis(genesis_path)
    engine = schema.make_engine(db_url)
    registry = CollectorRegistry(auto_describe=True)
    metrics = IndexerMetrics(registry)
    source = RpcSource(rpc_url)
    console = Console(stderr=True)
    bar = Progress(TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TextColumn("blocks"),
                   TextColumn("{task.fields[rows]} rows"), TimeRemainingColumn(),
                   console=console, disable=not progress, transient=False)
    task = bar.add_task("index", total=None, rows=0)
    rows_total = 0
    start_height = -1

    def on_batch(height: int, head: int, rows: int) -> None:
        nonlocal rows_total
        rows_total += rows
        bar.update(task, total=head - start_height, completed=height - start_height, rows=rows_total)

    indexer = Indexer(engine, source, genesis, trusted, batch_blocks=batch_blocks, poll_ms=poll_ms,
                      metrics=metrics, on_batch=on_batch)
    server = None
    try:
        cursor = await asyncio.to_thread(indexer.open)
        start_height = cursor.height if cursor else -1
        if serve is not None:
            from analytics.api import serve_stats

            server = await serve_stats(engine, serve[0], serve[1], registry=registry)
        with bar:
            height = await indexer.catch_up()
        if progress:
            console.print(f"indexed up to block {height} ({rows_total} rows) into {engine.url.render_as_string(hide_password=True)}")
        if once:
            return height
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        runner = asyncio.create_task(indexer.run(stop))
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for t in (runner, waiter):
            t.cancel()
        if runner in done and not runner.cancelled() and runner.exception() is not None:
            raise runner.exception()  # type: ignore[misc]
        return indexer.cursor.height if indexer.cursor else -1
    finally:
        if server is not None:
            await server.cleanup()
        await source.close()
        engine.dispose()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve(db_url: str, host: str, port: int) -> None:
    """``hkchain stats --serve``: the stats API over an existing database until stopped."""
    engine = schema.make_engine(db_url)
    try:
        await asyncio.to_thread(schema.migrate, engine)
        from analytics.api import serve_stats

        runner = await serve_stats(engine, host, port)
        try:
            await _until_stopped()
        finally:
            await runner.cleanup()
    finally:
        engine.dispose()
