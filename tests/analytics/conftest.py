"""Fixtures of the analytics tests: the seeded localnet (once per session) and a fresh
database per test, on SQLite and on a real PostgreSQL (the same tests run on both)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.analytics.chain import Chain, start_chain
from tests.analytics.postgres import PostgresServer, postgres_server


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    yield from start_chain(tmp_path_factory.mktemp("analytics-chain"))


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresServer | str]:
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'analytics.sqlite'}"
    server = request.getfixturevalue("pg")
    assert isinstance(server, PostgresServer | str)
    if isinstance(server, str):
        pytest.skip(server)
    return server.new_database()
