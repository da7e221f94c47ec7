"""`hkchain index` and `hkchain stats`: the analytics indexer and its figures.

The commands only parse arguments and call analytics/; see docs/ANALYTICS.md.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from cli.common import default_rpc_url, friendly_errors


def _node_defaults(home: Path | None, rpc_url: str | None, genesis: Path | None,
                   db_url: str | None) -> tuple[str, Path, str]:
    """RPC URL, genesis file and database URL, defaulting to the node home's."""
    from analytics.schema import default_url

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
              help="A node's home: its RPC, genesis.json and the default database file in it.")
@click.option("--rpc", "rpc_url", default=None, metavar="URL",
              help="RPC URL of the node to follow (default: the home's, else $HKCHAIN_RPC).")
@click.option("--genesis", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Genesis file whose validators to trust (default: the home's).")
@click.option("--db", "db_url", default=None, metavar="URL",
              help="sqlite:///FILE (default HOME/analytics.sqlite) or postgresql://USER@HOST/DB.")
@click.option("--batch", "batch_blocks", default=256, show_default=True, type=click.IntRange(1, 256),
              help="Blocks per database transaction.")
@click.option("--once", is_flag=True, help="Catch up to the node's head, then exit.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@friendly_errors
def index(home: Path | None, rpc_url: str | None, genesis: Path | None, db_url: str | None,
          batch_blocks: int, once: bool, quiet: bool) -> None:
    """Follow a node's committed blocks into the analytics database, verifying each
    block's certificate; resumes where it stopped."""
    from analytics.runner import index as run_index

    rpc, genesis_path, db = _node_defaults(home, rpc_url, genesis, db_url)
    asyncio.run(run_index(db, rpc, genesis_path, batch_blocks=batch_blocks, once=once,
                          progress=not quiet))
