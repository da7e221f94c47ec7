"""Versioned migrations: a fresh database gets every step and the views; a database of an
older version is brought up (the rollups' step empties the derived tables and the cursor,
so the chain is indexed again); a database newer than the code is refused, untouched."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from analytics import figures as fg
from analytics import schema as s
from analytics.errors import DatabaseError
from tests.analytics.recount import Recount


def _versions(url: str) -> list[int]:
    engine = s.make_engine(url)
    try:
        with engine.connect() as conn:
            return [int(v) for v in conn.execute(sa.select(s.hk_schema.c.version).order_by(s.hk_schema.c.version)).scalars()]
    finally:
        engine.dispose()


def test_a_fresh_database_gets_every_step_and_the_views(db_url: str) -> None:
    engine = s.make_engine(db_url)
    try:
        assert s.migrate(engine) == s.LATEST_VERSION
        assert s.migrate(engine) == s.LATEST_VERSION  # again: nothing to do
        with engine.connect() as conn:
            for f in fg.FIGURES:
                fg.read(conn, f)
    finally:
        engine.dispose()
    assert _versions(db_url) == [v for v, _, _ in s.MIGRATIONS]


def test_an_older_database_is_brought_up_and_indexed_again(db_url: str) -> None:
    engine = s.make_engine(db_url)
    try:
        with engine.begin() as conn:  # a database as version 3 left it, with a cursor
            s.hk_schema.create(conn)
            for version, description, step in s.MIGRATIONS[:3]:
                step(conn)
                conn.execute(sa.insert(s.hk_schema).values(version=version, description=description,
                                                           applied_ms=int(time.time() * 1000)))
            conn.execute(sa.insert(s.hk_cursor).values(id=1, chain_id="c", genesis_hash="00", height=41,
                                                       block_hash="ab", updated_ms=0))
            conn.execute(sa.insert(s.blocks).values(height=41, hash="ab", state_root="00", ts_ms=0, day="1970-01-01",
                                                    proposer="00", view=0, tx_count=0, signers=3))
        assert s.migrate(engine) == s.LATEST_VERSION
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(s.hk_cursor)).scalar() == 0
            assert conn.execute(sa.select(sa.func.count()).select_from(s.blocks)).scalar() == 0
            assert fg.read(conn, fg.figure("txs_by_kind")) == []
    finally:
        engine.dispose()


def test_a_newer_database_is_refused(db_url: str) -> None:
    engine = s.make_engine(db_url)
    try:
        s.migrate(engine)
        with engine.begin() as conn:
            conn.execute(sa.insert(s.hk_schema).values(version=s.LATEST_VERSION + 1, description="future",
                                                       applied_ms=0))
        with pytest.raises(DatabaseError) as err:
            s.migrate(engine)
        assert err.value.code == "schema_too_new"
    finally:
        engine.dispose()


def test_the_rollup_of_service_requests_is_filled_from_what_was_indexed_before_it(
        indexed: tuple[str, Recount]) -> None:
    db_url, recount = indexed
    engine = s.make_engine(db_url)
    try:
        with engine.begin() as conn:  # the database as version 8 left it: requests, no rollup
            conn.execute(sa.text("DROP VIEW IF EXISTS v_service_requests"))
            s.seen_requests.drop(conn)
            s.agg_requests.drop(conn)
            conn.execute(sa.delete(s.hk_schema).where(s.hk_schema.c.version >= 9))
        assert s.migrate(engine) == s.LATEST_VERSION
        f = fg.figure("service_requests")
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(s.service_requests)).scalar()
            for scope in ["*", *sorted(recount.committees())]:
                got = [json.dumps(r, sort_keys=True) for r in fg.read(conn, f, scope)]
                want = [json.dumps(r, sort_keys=True) for r in recount.figure(f.name, scope)]
                assert sorted(got) == sorted(want), scope
    finally:
        engine.dispose()


def test_the_rollups_of_satisfaction_and_turnout_are_filled_from_what_was_indexed_before_them(
        indexed: tuple[str, Recount]) -> None:
    db_url, recount = indexed
    engine = s.make_engine(db_url)
    try:
        with engine.begin() as conn:  # the database as version 9 left it: ratings and votes, no rollups
            for view in ("v_satisfaction_trend", "v_proposal_turnout"):
                conn.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
            s.ix_ratings_month.drop(conn)
            s.agg_satisfaction.drop(conn)
            s.agg_turnout.drop(conn)
            conn.execute(sa.delete(s.hk_schema).where(s.hk_schema.c.version >= 10))
        assert s.migrate(engine) == s.LATEST_VERSION
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(s.agg_satisfaction)).scalar()
            assert conn.execute(sa.select(sa.func.count()).select_from(s.agg_turnout)).scalar()
            for name in ("satisfaction", "turnout"):
                f = fg.figure(name)
                for scope in ["*", *sorted(recount.committees())]:
                    got = [json.dumps(r, sort_keys=True) for r in fg.read(conn, f, scope)]
                    want = [json.dumps(r, sort_keys=True) for r in recount.figure(f.name, scope)]
                    assert sorted(got) == sorted(want), (name, scope)
    finally:
        engine.dispose()
