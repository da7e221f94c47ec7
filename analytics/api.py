"""The stats API: the figures as JSON over HTTP (aiohttp), for the committees' dashboard.

``add_stats_routes`` puts ``GET /v1/stats``, ``GET /v1/stats/{figure}`` and
``GET /v1/stats/{figure}/export`` (CSV or XLSX, as ``hkchain stats --export``) on any aiohttp
router (the node's, when it runs the indexer in process); ``serve_stats`` runs them alone
beside a database, with the indexer's ``/metrics``. Database reads run in a worker
thread. Small cells are already suppressed by the views. Routes and answers:
docs/ANALYTICS.md.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.engine import Engine

from analytics import export
from analytics import figures as fg
from analytics import schema as s
from analytics.errors import AnalyticsError, BadRequest, DatabaseError

# A committee is named by a member's address (bech32, lowercase), "genesis" or "*".
COMMITTEE_RE = re.compile(r"^(\*|genesis|hk1[02-9ac-hj-np-z]{38})$")
ENGINE_KEY = web.AppKey("analytics_engine", Engine)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def parse_committee(text: str | None) -> str:
    committee = fg.DISTRICT if text in (None, "") else str(text)
    if not COMMITTEE_RE.match(committee):
        raise BadRequest("committee must be * (the district), genesis or a committee member's hk1… address")
    return committee


def cursor(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return _cursor(conn)


def _cursor(conn: sa.Connection) -> dict[str, Any]:
    row = conn.execute(sa.select(s.hk_cursor.c.height, s.hk_cursor.c.updated_ms)).first()
    return {"height": None if row is None else int(row[0]), "updated_ms": None if row is None else int(row[1])}


def figure_doc(engine: Engine, name: str, committee: str) -> dict[str, Any]:
    """One figure as the API answers it. The rows and the height they are at are read in
    one snapshot, so the height names exactly the blocks the rows count while the indexer
    writes beside: PostgreSQL's REPEATABLE READ, or on SQLite an explicit BEGIN (the
    driver opens no transaction for reads, so each SELECT would see the latest commit)."""
    f = fg.figure(name)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            conn.exec_driver_sql("BEGIN")
        records = fg.read(conn, f, committee)
        height = _cursor(conn)["height"]
    return {
        "figure": f.name, "title": f.title, "title_zh": f.title_zh, "committee": committee,
        "columns": [{"name": c, "title_zh": zh} for c, zh in f.columns],
        "rows": fg.rows_of(f, records),
        "suppressed_rows": sum(1 for r in records if r["suppressed"]),
        "min_households": fg.MIN_HOUSEHOLDS,
        "indexed_height": height,
    }


def catalogue() -> list[dict[str, Any]]:
    return [{"name": f.name, "title": f.title, "title_zh": f.title_zh,
             "columns": [{"name": c, "title_zh": zh} for c, zh in f.columns]} for f in fg.FIGURES]


async def _run(fn: Any, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(fn, *args)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        raise DatabaseError(f"cannot read the analytics database: {type(exc.orig).__name__}") from None


async def get_catalogue(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    try:
        indexer = await _run(cursor, engine)
    except AnalyticsError as exc:
        return _error(503, exc.code, exc.message)
    return web.json_response({"figures": catalogue(), "indexer": indexer})


async def get_figure(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    try:
        name = request.match_info["figure"]
        committee = parse_committee(request.query.get("committee"))
        fg.figure(name)
        doc = await _run(figure_doc, engine, name, committee)
    except BadRequest as exc:
        return _error(400, exc.code, exc.message)
    except AnalyticsError as exc:
        return _error(503, exc.code, exc.message)
    return web.json_response(doc, dumps=_dumps)


EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_file(engine: Engine, name: str, committee: str, fmt: str) -> tuple[bytes, str]:
    """One figure as the file ``hkchain stats --export`` writes for it; (body, file name)."""
    f = fg.figure(name)
    with engine.connect() as conn:
        records = fg.read(conn, f, committee)
    scope = "district" if committee == fg.DISTRICT else committee
    body = export.csv_bytes(f, records) if fmt == "csv" else export.xlsx_bytes([(f, records)], committee)
    return body, f"hkchain-{f.name}-{scope}.{fmt}"


async def get_export(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    try:
        name = request.match_info["figure"]
        committee = parse_committee(request.query.get("committee"))
        fmt = request.query.get("format", "")
        if fmt not in EXPORT_TYPES:
            raise BadRequest(f"format must be one of {', '.join(EXPORT_TYPES)}")
        fg.figure(name)
        body, filename = await _run(export_file, engine, name, committee, fmt)
    except BadRequest as exc:
        return _error(400, exc.code, exc.message)
    except AnalyticsError as exc:
        return _error(503, exc.code, exc.message)
    return web.Response(body=body, headers={
        "Content-Type": EXPORT_TYPES[fmt],
        "Content-Disposition": f'attachment; filename="{filename}"',
    })


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False)


def add_stats_routes(app: web.Application, engine: Engine) -> None:
    """The stats routes on ``app`` (before it starts), reading ``engine``'s database."""
    app[ENGINE_KEY] = engine
    app.router.add_get("/v1/stats", get_catalogue)
    app.router.add_get("/v1/stats/{figure}", get_figure)
    app.router.add_get("/v1/stats/{figure}/export", get_export)


def stats_openapi_paths() -> dict[str, Any]:
    return {
        "/v1/stats": {"get": {"summary": "The analytics figures and the indexer's height",
                              "responses": {"200": {"description": "{figures, indexer}"}}}},
        "/v1/stats/{figure}": {"get": {
            "summary": "One figure (small cells suppressed), for a committee or the district",
            "parameters": [
                {"name": "figure", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "committee", "in": "query", "required": False,
                 "schema": {"type": "string"}, "description": "* (default), genesis or an hk1 address"}],
            "responses": {"200": {"description": "{figure, columns, rows, ...}"},
                          "400": {"description": "bad_request"}, "503": {"description": "database_error"}},
        }},
        "/v1/stats/{figure}/export": {"get": {
            "summary": "One figure as a CSV file or an XLSX workbook (Chinese headers, small cells empty)",
            "parameters": [
                {"name": "figure", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "format", "in": "query", "required": True,
                 "schema": {"type": "string", "enum": ["csv", "xlsx"]}},
                {"name": "committee", "in": "query", "required": False,
                 "schema": {"type": "string"}, "description": "* (default), genesis or an hk1 address"}],
            "responses": {"200": {"description": "the file, as an attachment"},
                          "400": {"description": "bad_request"}, "503": {"description": "database_error"}},
        }},
    }


async def serve_stats(engine: Engine, host: str, port: int, *,
                      registry: CollectorRegistry | None = None) -> web.AppRunner:
    """Serve the stats API (and ``registry`` at /metrics) until the runner is cleaned up."""
    app = web.Application()
    add_stats_routes(app, engine)
    if registry is not None:
        async def metrics(_: web.Request) -> web.Response:
            return web.Response(body=generate_latest(registry), content_type="text/plain", charset="utf-8")
        app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise AnalyticsError(f"cannot serve the stats API on {host}:{port}: {exc.strerror or exc}",
                             code="port_unavailable") from None
    return runner
