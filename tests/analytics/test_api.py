"""The figures through the stats API, the CLI (tables and --json) and the CSV and XLSX
exports: the same rows as the recount from the chain, Chinese headers in the exports,
small cells empty everywhere, clear errors for bad requests. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from openpyxl import load_workbook

from analytics import api
from analytics import figures as fg
from analytics import schema as s
from analytics.api import add_stats_routes
from cli.main import main
from tests.analytics.recount import Recount

pytestmark = pytest.mark.slow


def _canon(rows: list[list[Any]]) -> list[str]:
    return sorted(json.dumps(r, ensure_ascii=False) for r in rows)


def _want(recount: Recount, f: fg.Figure, scope: str) -> list[list[Any]]:
    return [[r[c] for c, _ in f.columns] for r in recount.figure(f.name, scope)]


async def test_the_api_serves_every_figure_as_recounted(indexed: tuple[str, Recount]) -> None:
    db_url, recount = indexed
    engine = s.make_engine(db_url)
    app = web.Application()
    add_stats_routes(app, engine)
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/v1/stats")
        doc = await resp.json()
        assert resp.status == 200 and [f["name"] for f in doc["figures"]] == [f.name for f in fg.FIGURES]
        assert doc["indexer"]["height"] >= 10
        for f in fg.FIGURES:
            for scope in ["*", *sorted(recount.committees())]:
                resp = await client.get(f"/v1/stats/{f.name}", params={"committee": scope})
                got = await resp.json()
                assert resp.status == 200, got
                assert [c["name"] for c in got["columns"]] == [c for c, _ in f.columns]
                assert _canon(got["rows"]) == _canon(_want(recount, f, scope)), (f.name, scope)
                flag = [c for c, _ in f.columns].index("suppressed")
                assert got["suppressed_rows"] == sum(1 for r in got["rows"] if r[flag] == 1)
        for path, params, code in (("/v1/stats/nope", {}, "bad_request"),
                                   ("/v1/stats/turnout", {"committee": "hk1bad"}, "bad_request"),
                                   ("/v1/stats/turnout", {"committee": "x'; drop table txs; --"}, "bad_request")):
            resp = await client.get(path, params=params)
            assert (resp.status, (await resp.json())["error"]["code"]) == (400, code)
    engine.dispose()


def test_stats_json_and_tables_from_the_cli(indexed: tuple[str, Recount]) -> None:
    db_url, recount = indexed
    result = CliRunner().invoke(main, ["stats", "--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {d["figure"] for d in doc["figures"]} == {f.name for f in fg.FIGURES}
    for d in doc["figures"]:
        assert _canon(d["rows"]) == _canon(_want(recount, fg.figure(d["figure"]), "*"))
    table = CliRunner().invoke(main, ["stats", "--db", db_url, "--figure", "fee_collection"], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "物业费收缴率" in table.output and "2027-01" in table.output


def test_csv_and_xlsx_exports_carry_the_figures_with_chinese_headers(indexed: tuple[str, Recount],
                                                                    tmp_path: Path) -> None:
    db_url, recount = indexed
    committee = sorted(c for c in recount.committees() if c.startswith("hk1"))[0]
    for fmt in ("csv", "xlsx"):
        out = tmp_path / fmt
        result = CliRunner().invoke(main, ["stats", "--db", db_url, "--committee", committee,
                                           "--export", str(out), "--format", fmt])
        assert result.exit_code == 0, result.output
        for f in fg.FIGURES:
            if fmt == "csv":
                with (out / f"{f.name}.csv").open(encoding="utf-8-sig", newline="") as fh:
                    header, *body = list(csv.reader(fh))
                rows = [[None if v == "" else v for v in r] for r in body]
                want = [[None if v is None else str(v) for v in r] for r in _want(recount, f, committee)]
            else:
                ws = load_workbook(out / "hkchain-stats.xlsx")[f.title_zh[:31]]
                header, *rows = [list(r) for r in ws.iter_rows(values_only=True)]
                want = _want(recount, f, committee)
            assert header == [zh for _, zh in f.columns]
            assert header[0] == "居委会"
            assert _canon(rows) == _canon(want), (fmt, f.name)


async def test_the_api_exports_each_figure_as_csv_and_xlsx(indexed: tuple[str, Recount]) -> None:
    db_url, recount = indexed
    committee = sorted(c for c in recount.committees() if c.startswith("hk1"))[0]
    engine = s.make_engine(db_url)
    app = web.Application()
    add_stats_routes(app, engine)
    async with TestClient(TestServer(app)) as client:
        for f in fg.FIGURES:
            for scope in ("*", committee):
                resp = await client.get(f"/v1/stats/{f.name}/export", params={"format": "csv", "committee": scope})
                assert resp.status == 200 and resp.content_type == "text/csv"
                name = "district" if scope == "*" else scope
                assert resp.headers["Content-Disposition"] == f'attachment; filename="hkchain-{f.name}-{name}.csv"'
                header, *body = list(csv.reader((await resp.read()).decode("utf-8-sig").splitlines()))
                assert header == [zh for _, zh in f.columns]
                want = [[None if v is None else str(v) for v in r] for r in _want(recount, f, scope)]
                assert _canon([[None if v == "" else v for v in r] for r in body]) == _canon(want), (f.name, scope)
                resp = await client.get(f"/v1/stats/{f.name}/export", params={"format": "xlsx", "committee": scope})
                assert resp.status == 200 and resp.headers["Content-Disposition"].endswith('.xlsx"')
                wb = load_workbook(io.BytesIO(await resp.read()))
                assert wb.sheetnames == [f.title_zh[:31], "说明"]
                header, *rows = [list(r) for r in wb[f.title_zh[:31]].iter_rows(values_only=True)]
                assert header == [zh for _, zh in f.columns]
                assert _canon(rows) == _canon(_want(recount, f, scope)), (f.name, scope)
        for params, code in (({"format": "pdf"}, "bad_request"), ({}, "bad_request"),
                             ({"format": "csv", "committee": "hk1bad"}, "bad_request")):
            resp = await client.get("/v1/stats/turnout/export", params=params)
            assert (resp.status, (await resp.json())["error"]["code"]) == (400, code)
        resp = await client.get("/v1/stats/nope/export", params={"format": "csv"})
        assert (resp.status, (await resp.json())["error"]["code"]) == (400, "bad_request")
    engine.dispose()


def test_a_figure_names_the_height_its_rows_were_read_at(indexed: tuple[str, Recount],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The indexer commits a batch (rows and cursor) between the API reading a figure's rows
    and its height: the answer still names the height of the rows it holds."""
    db_url, _ = indexed
    engine = s.make_engine(db_url)
    with engine.connect() as conn:
        before = conn.execute(sa.select(s.hk_cursor.c.height)).scalar_one()
    read = fg.read

    def read_then_commit(conn: Any, fig: fg.Figure, committee: str = fg.DISTRICT) -> list[dict[str, Any]]:
        rows = read(conn, fig, committee)
        with engine.begin() as other:  # another writer, as the indexer is
            other.execute(sa.update(s.hk_cursor).values(height=s.hk_cursor.c.height + 1))
        return rows

    monkeypatch.setattr(fg, "read", read_then_commit)
    doc = api.figure_doc(engine, "txs_by_kind", "*")
    assert doc["indexed_height"] == before
    assert api.cursor(engine)["height"] == before + 1
    engine.dispose()


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["stats", "--db", "mysql://x/y"])
    assert r.exit_code != 0 and "sqlite or postgresql" in r.output
    r = runner.invoke(main, ["stats", "--db", f"sqlite:///{tmp_path / 'a.sqlite'}", "--figure", "nope"])
    assert r.exit_code != 0 and "no figure named 'nope'" in r.output
    r = runner.invoke(main, ["stats", "--db", f"sqlite:///{tmp_path / 'a.sqlite'}", "--committee", "x"])
    assert r.exit_code != 0 and "committee" in r.output
    r = runner.invoke(main, ["stats", "--db", "postgresql://nobody@127.0.0.1:1/none"])
    assert r.exit_code != 0 and "cannot open the database" in r.output
