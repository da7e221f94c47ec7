"""`hkchain index` and `hkchain stats`: the analytics indexer and its figures.

The commands only parse arguments and call analytics/; see docs/ANALYTICS.md.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from cli.common import default_rpc_url, friendly_errors
from core.fields import is_decimal


def _host_port(text: str | None) -> tuple[str, int] | None:
    if text is None:
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not is_decimal(port) or not 0 < int(port) < 65536:
        raise click.BadParameter("give HOST:PORT, e.g. 127.0.0.1:8600", param_hint="--serve")
    return host or "127.0.0.1", int(port)


def _node_defaults(home: Path | None, rpc_url: str | None, genesis: Path | None,
                   db_url: str | None) -> tuple[str, Path, str]:
    """RPC URL, genesis file and database URL, defaulting to the node home's."""
    from analytics.schema import default_url
    from cli.common import network_home

    if home is None and genesis is None and (network_home() / "node0" / "config.json").exists():
        home = network_home() / "node0"  # the local network's first node
    if home is not None:
        from node.config import NodeConfig

        config = NodeConfig.load(home)
        rpc_url = rpc_url or f"http://{config.rpc.host}:{config.rpc.port}"
        genesis = genesis or home / config.genesis_file
        db_url = db_url or default_url(home)
    if genesis is None:
        raise click.UsageError("give --home (a node's home) or --genesis FILE (the validators to trust)")
    return rpc_url or default_rpc_url(), genesis, db_url or default_url(Path.cwd())


@click.command("index")
@click.option("--home", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A node's home: its RPC, genesis.json and the default database file in it "
                   "(default: the local network's node0).")
@click.option("--rpc", "rpc_url", default=None, metavar="URL",
              help="RPC URL of the node to follow (default: the home's, else $HKCHAIN_RPC).")
@click.option("--genesis", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Genesis file whose validators to trust (default: the home's).")
@click.option("--db", "db_url", default=None, metavar="URL",
              help="sqlite:///FILE (default HOME/analytics.sqlite) or postgresql://USER@HOST/DB.")
@click.option("--batch", "batch_blocks", default=256, show_default=True, type=click.IntRange(1, 256),
              help="Blocks per database transaction.")
@click.option("--once", is_flag=True, help="Catch up to the node's head, then exit.")
@click.option("--serve", default=None, metavar="HOST:PORT",
              help="Also serve the stats API and the indexer's /metrics (its lag) here.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@friendly_errors
def index(home: Path | None, rpc_url: str | None, genesis: Path | None, db_url: str | None,
          batch_blocks: int, once: bool, serve: str | None, quiet: bool) -> None:
    """Follow a node's committed blocks into the analytics database, verifying each
    block's certificate; resumes where it stopped."""
    from analytics.runner import index as run_index

    rpc, genesis_path, db = _node_defaults(home, rpc_url, genesis, db_url)
    asyncio.run(run_index(db, rpc, genesis_path, batch_blocks=batch_blocks, once=once,
                          serve=_host_port(serve), progress=not quiet))


@click.command("stats")
@click.option("--db", "db_url", default=None, metavar="URL",
              help="The analytics database (default: HOME/analytics.sqlite with --home).")
@click.option("--home", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A node's home whose analytics database to read.")
@click.option("--committee", default="*", show_default=True,
              help="A committee member's hk1 address, genesis, or * for the district.")
@click.option("--figure", "figure_names", multiple=True, metavar="NAME",
              help="Only this figure (repeatable); all by default.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the figures into DIR instead of printing them.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True,
              help="Export format: one CSV per figure, or one workbook.")
@click.option("--serve", default=None, metavar="HOST:PORT", help="Serve the stats API over the database.")
@friendly_errors
def stats(db_url: str | None, home: Path | None, committee: str, figure_names: tuple[str, ...],
          as_json: bool, export_dir: Path | None, fmt: str, serve: str | None) -> None:
    """The committees' figures from the analytics database (small cells hidden)."""
    from analytics import api, export, runner, schema
    from analytics import figures as fg

    if db_url is None:
        from cli.common import network_home

        node0 = network_home() / "node0"
        if home is None and (node0 / schema.DB_FILE).exists():
            home = node0
        if home is None:
            raise click.UsageError("give --db URL or --home (a node's home)")
        db_url = schema.default_url(home)
    scope = api.parse_committee(committee)
    names = list(figure_names)
    for n in names:
        fg.figure(n)
    where = _host_port(serve)
    if where is not None:
        asyncio.run(runner.serve(db_url, *where))
        return
    engine = schema.make_engine(db_url)
    try:
        schema.migrate(engine)
        if export_dir is not None:
            for path in export.export(engine, export_dir, fmt, scope, names or None):
                click.echo(str(path))
            return
        docs = [api.figure_doc(engine, f.name, scope) for f in (map(fg.figure, names) if names else fg.FIGURES)]
    finally:
        engine.dispose()
    if as_json:
        import json

        click.echo(json.dumps({"committee": scope, "figures": docs}, ensure_ascii=False, indent=2))
        return
    from cli.common import print_table

    if all(not d["rows"] for d in docs):
        click.echo("No figures yet: run `hkchain index` to fill the database.")
        return
    for doc in docs:
        print_table(f"{doc['title_zh']} — {doc['title']} ({'district' if scope == '*' else scope})",
                    [c["name"] for c in doc["columns"]], doc["rows"])
