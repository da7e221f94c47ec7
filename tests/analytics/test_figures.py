"""Every figure, for the district and for each committee, equals a recount taken straight
from the chain's events (tests/analytics/recount.py), on SQLite and on PostgreSQL; small
cells are hidden; the turnout and points figures hold what the load put on chain."""

from __future__ import annotations

import json
from typing import Any

import pytest

from analytics import figures as fg
from analytics import schema as s
from tests.analytics.chain import EXTRA_HOUSEHOLDS, Chain
from tests.analytics.conftest import index_chain
from tests.analytics.recount import Recount

pytestmark = pytest.mark.slow


def _canon(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows)


def test_every_figure_matches_a_recount_from_the_chain(indexed: tuple[str, Recount]) -> None:
    db_url, recount = indexed
    engine = s.make_engine(db_url)
    scopes = [fg.DISTRICT, *sorted(recount.committees())]
    assert len(scopes) >= 3  # the district, the two committees (and genesis)
    try:
        with engine.connect() as conn:
            for f in fg.FIGURES:
                for scope in scopes:
                    got = fg.read(conn, f, scope)
                    want = recount.figure(f.name, scope)
                    assert _canon(got) == _canon(want), f"{f.name} for {scope}"
                    assert all(list(r) == [c for c, _ in f.columns] for r in got)
    finally:
        engine.dispose()


def test_the_rollups_continued_block_by_block_match_the_recount_too(chain: Chain, db_url: str) -> None:
    # One block per batch: every rollup is continued across batches, and a vote, a rating
    # again or a household's new area reaches buckets an earlier batch wrote.
    height = index_chain(db_url, chain, batch_blocks=1)
    pages = chain.pages()[:height + 1]
    recount = Recount(pages, json.loads(chain.genesis.read_text()))
    engine = s.make_engine(db_url)
    try:
        with engine.connect() as conn:
            for f in fg.FIGURES:
                for scope in [fg.DISTRICT, *sorted(recount.committees())]:
                    assert _canon(fg.read(conn, f, scope)) == _canon(recount.figure(f.name, scope)), (f.name, scope)
    finally:
        engine.dispose()


def test_the_figures_say_what_the_load_did(indexed: tuple[str, Recount]) -> None:
    db_url, _ = indexed
    engine = s.make_engine(db_url)
    try:
        with engine.connect() as conn:
            turnout = [r for r in fg.read(conn, fg.figure("turnout")) if r["title"] == "Renew the property contract"]
            assert len(turnout) == 1
            t = turnout[0]
            assert t["total_owners"] == 6 + EXTRA_HOUSEHOLDS and t["voted_heads"] == EXTRA_HOUSEHOLDS + 2
            assert t["quorum_reached"] == 1 and t["time_to_quorum_ms"] >= 0 and t["category"] == 4
            # The demo's spend vote: three of six households, no quorum.
            demo = [r for r in fg.read(conn, fg.figure("turnout")) if r["title"] != t["title"]]
            assert demo and demo[0]["quorum_reached"] == 0 and demo[0]["voted_heads"] == 3
            fees = {(r["estate"], r["month"]): r for r in fg.read(conn, fg.figure("fee_collection"))}
            assert fees[("*", "2027-01")]["bills"] == 6 + EXTRA_HOUSEHOLDS
            points = fg.read(conn, fg.figure("points"))
            assert sum(r["at_merchants"] or 0 for r in points) == 120 + 340 + sum(50 + i for i in range(8))
            sources = {r["source"] for r in fg.read(conn, fg.figure("points_by_source"))}
            assert "culture:like" in sources
    finally:
        engine.dispose()


def test_small_cells_are_hidden(indexed: tuple[str, Recount]) -> None:
    db_url, _ = indexed
    engine = s.make_engine(db_url)
    try:
        with engine.connect() as conn:
            seen_hidden = 0
            for f in fg.FIGURES:
                for r in fg.read(conn, f):
                    if r["suppressed"]:
                        seen_hidden += 1
                        assert all(r[c] is None for c, _ in f.values) and r["households"] is None
                    else:
                        assert r["households"] >= fg.MIN_HOUSEHOLDS
            # The demo's single service request category and its few raters are small cells.
            assert seen_hidden > 0
    finally:
        engine.dispose()
