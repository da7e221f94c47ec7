"""Fixtures of the analytics tests: the seeded localnet (once per session) and a fresh
database per test, on SQLite and on a real PostgreSQL (the same tests run on both)."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics import schema as s
from analytics.indexer import Indexer
from analytics.runner import load_trusted_genesis
from analytics.source import RpcSource
from tests.analytics.chain import Chain, start_chain
from tests.analytics.postgres import PostgresServer, postgres_server
from tests.analytics.recount import Recount


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    yield from start_chain(tmp_path_factory.mktemp("analytics-chain"))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresServer | str]:
    # A test run stopped with SIGTERM (a timeout) still tears the fixtures down, so the
    # PostgreSQL server, a daemon of its own, is stopped too: pytest's Ctrl-C path.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with postgres_server() as server:
            yield server
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'analytics.sqlite'}"
    server = request.getfixturevalue("pg")
    assert isinstance(server, PostgresServer | str)
    if isinstance(server, str):
        pytest.skip(server)
    return server.new_database()


def index_chain(db_url: str, chain: Chain, batch_blocks: int = 50) -> int:
    """Index the chain up to its head now, in process; the height reached."""
    genesis, trusted = load_trusted_genesis(chain.genesis)
    ix = Indexer(s.make_engine(db_url), RpcSource(chain.rpc_url), genesis, trusted, batch_blocks=batch_blocks)

    async def go() -> int:
        try:
            return await ix.catch_up()
        finally:
            await ix.source.close()
            ix.engine.dispose()
    return asyncio.run(go())


@pytest.fixture
def indexed(chain: Chain, db_url: str) -> tuple[str, Recount]:
    """A database holding the chain up to some height, and the recount of those blocks."""
    height = index_chain(db_url, chain)
    pages = chain.pages()[:height + 1]
    return db_url, Recount(pages, json.loads(chain.genesis.read_text()))
