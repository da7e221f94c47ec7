"""The `hkchain` entry point: one click group; each command module registers its commands."""

from __future__ import annotations

from pathlib import Path

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hkchain")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="HKCHAIN_HOME",
              default=None, metavar="DIR", show_default="$HKCHAIN_HOME, else ./localnet",
              help="The local network's folder: where localnet and init put it, and where the "
                   "other commands find its nodes.json (--rpc) and operator.key (--key).")
def main(home: Path | None) -> None:
    """hkchain: a permissioned PBFT blockchain for neighbourhood committees.

    Start a local 4-validator network with `hkchain localnet`, then talk to it with
    `hkchain status`, `hkchain transfer` and friends. They find the network through
    ./localnet (or --home DIR, or $HKCHAIN_HOME) from any folder; --rpc URL and --key FILE
    name a node and a key directly.
    """


def _register() -> None:
    # Command modules are imported here, not at the top, so `hkchain --help` stays fast and
    # each module owns its own commands.
    from cli import client, keys, network

    main.add_command(keys.keys)
    from cli.simulate import simulate
    main.add_command(simulate)
    from cli.bench import bench
    main.add_command(bench)
    from cli.analytics import index, stats
    main.add_command(index)
    main.add_command(stats)
    from cli.prove import prove
    main.add_command(prove)
    from cli.audit import audit, pentest
    main.add_command(audit)
    main.add_command(pentest)
    from cli.faults import faults
    main.add_command(faults)
    for command in (network.init, network.node, network.localnet, client.status, client.block,
                    client.receipt, client.tx, client.transfer, client.query, client.deploy,
                    client.watch):
        main.add_command(command)
    from cli.apps import groups  # the application groups (cli/apps/)

    for group in groups():
        main.add_command(group)


_register()
