"""`hkchain init`, `hkchain node start` and `hkchain localnet`: set up and run nodes.

Each command parses its arguments and calls one function of node/ (node/home.py,
node/service.py, node/localnet.py); nothing here knows how a node works.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import friendly_errors, network_home, print_table
from node.home import DEFAULT_BASE_PORT, MAX_LOCAL_VALIDATORS

HOME_PATH = click.Path(file_okay=False, path_type=Path)
GENESIS_PATH = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("init")
@click.option("--validators", "-n", default=4, show_default=True,
              type=click.IntRange(1, MAX_LOCAL_VALIDATORS), help="Number of validator nodes.")
@click.option("--home", default=None, type=HOME_PATH, show_default="hkchain --home, $HKCHAIN_HOME or ./localnet",
              help="Directory for the network (DIR/nodeK, DIR/operator.key).")
@click.option("--base-port", default=DEFAULT_BASE_PORT, show_default=True, type=click.IntRange(1024, 65000),
              help="Node K listens for RPC on BASE+10K and for peers on BASE+10K+1; every port "
                   "must lie outside the kernel's ephemeral range (32768 up on Linux).")
@click.option("--genesis", "genesis_template", type=GENESIS_PATH, default=None,
              help="Genesis template (default: the package's genesis.json, the default local network).")
@click.option("--chain-id", default=None, help="Chain id (default: the template's).")
@click.option("--force", is_flag=True, help="Replace a network already in --home.")
@click.option("--observer", is_flag=True,
              help="Instead of a network, make one observer (a node that follows and serves "
                   "the RPC but never votes) of the network named by --join.")
@click.option("--join", "join", default=None, type=click.Path(exists=True, path_type=Path),
              help="With --observer: the local network's home (or its nodes.json).")
@friendly_errors
def init(validators: int, home: Path | None, base_port: int, genesis_template: Path | None,
         chain_id: str | None, force: bool, observer: bool, join: Path | None) -> None:
    """Create keys, one genesis and a config per node for a local network.

    Writes DIR/nodeK/{node.key,genesis.json,config.json} for each validator and a funded
    operator key DIR/operator.key (committee role). Start one node with
    `hkchain node start --home DIR/node0`, or all of them with `hkchain localnet --home DIR`.

    With --observer --join NET: a home for an observer of the network in NET
    (NET/observerK unless --home), whose key every validator of NET admits once restarted.
    """
    from node.home import init_network

    if join is not None and not observer:
        raise click.UsageError("--join makes an observer: pass --observer too")
    if observer:
        if join is None:
            raise click.UsageError("--observer needs --join NET, the home of the network to follow")
        _init_observer(join, home, force)
        return
    home = home or network_home()
    net = init_network(home, validators, base_port=base_port, genesis_template=genesis_template,
                       chain_id=chain_id, force=force)
    print_table(
        f"Initialised chain {net.chain_id} in {home}",
        ["node", "home", "rpc", "p2p", "validator address"],
        [(n.name, n.home, n.rpc_url, n.p2p_url, n.address) for n in net.nodes],
    )
    click.echo(f"operator key  {net.operator_key_file}  (address {net.operator_address})")


def _init_observer(join: Path, home: Path | None, force: bool) -> None:
    from node.home import NODES_FILE, init_observer

    network = join.parent if join.is_file() and join.name == NODES_FILE else join
    made = init_observer(network, home, force=force)
    n = made.node
    print_table(
        f"Observer {n.name} of the network in {network}",
        ["node", "home", "rpc", "p2p", "address"],
        [(n.name, n.home, n.rpc_url, n.p2p_url, n.address)],
    )
    click.echo(f"admitted by {', '.join(made.admitted_by)} (their config.json p2p.observers);")
    click.echo("restart running validators so they read it, then run "
               f"`hkchain node start --home {n.home} --observer`")


@click.group("node")
def node() -> None:
    """Run one node."""


@node.command("start")
@click.option("--home", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The node's home directory (config.json, node.key, genesis.json, data/).")
@click.option("--observer", is_flag=True,
              help="Follow and serve the RPC, never vote or propose (set for good by "
                   "`hkchain init --observer`).")
@friendly_errors
def node_start(home: Path, observer: bool) -> None:
    """Run the node in HOME in the foreground until Ctrl-C or SIGTERM."""
    from node.service import run_node

    run_node(home, observer=observer)


@click.command("localnet")
@click.option("--nodes", "-n", default=4, show_default=True, type=click.IntRange(1, MAX_LOCAL_VALIDATORS),
              help="Number of validators (for a new home).")
@click.option("--home", default=None, type=HOME_PATH, show_default="hkchain --home, $HKCHAIN_HOME or ./localnet",
              help="Directory of the network; reused if it already holds one.")
@click.option("--base-port", default=DEFAULT_BASE_PORT, show_default=True, type=click.IntRange(1024, 65000),
              help="Node K listens for RPC on BASE+10K and for peers on BASE+10K+1, outside the kernel's "
                   "ephemeral range (new home only).")
@click.option("--genesis", "genesis_template", type=GENESIS_PATH, default=None,
              help="Genesis template for a new home (default: the package's genesis.json).")
@click.option("--demo", is_flag=True,
              help="Seed a demo community (households, bills, works, a vote) once the nodes run.")
@friendly_errors
def localnet(nodes: int, home: Path | None, base_port: int, genesis_template: Path | None,
             demo: bool) -> None:
    """Run a local network: every validator as its own process on 127.0.0.1.

    Initialises --home if it is empty, starts the nodes (logs in DIR/nodeK/node.log),
    writes DIR/nodes.json (name, home, RPC and p2p URLs, address, pid of each node) and a
    funded operator key DIR/operator.key, then waits. Ctrl-C stops every node.
    """
    from node.localnet import run_localnet

    after_start = None
    if demo:
        from cli.apps.demo import seed_and_print

        after_start = seed_and_print
    run_localnet(home or network_home(), nodes, base_port=base_port, genesis_template=genesis_template,
                 after_start=after_start)
