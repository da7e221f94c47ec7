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
              help="Instead of a network, make one node that joins the local network in this "
                   "home (or its nodes.json): an observer with --observer, else a node that "
                   "follows and votes once governance adds its key to the validator set.")
@click.option("--state-sync", is_flag=True,
              help="With --join: the node starts from a snapshot of a certified height, "
                   "checked part by part, instead of replaying every block.")
@friendly_errors
def init(validators: int, home: Path | None, base_port: int, genesis_template: Path | None,
         chain_id: str | None, force: bool, observer: bool, join: Path | None,
         state_sync: bool) -> None:
    """Create keys, one genesis and a config per node for a local network.

    Writes DIR/nodeK/{node.key,genesis.json,config.json} for each validator and a funded
    operator key DIR/operator.key (committee role). Start one node with
    `hkchain node start --home DIR/node0`, or all of them with `hkchain localnet --home DIR`.

    With --observer --join NET: a home for an observer of the network in NET
    (NET/observerK unless --home), whose key every validator of NET admits once restarted.
    With --join NET alone: a home for a node that joins NET (NET/joinerK) and becomes a
    validator when the validators vote its key in. --state-sync makes either start from a
    snapshot instead of replaying every block.
    """
    from node.home import init_network

    if state_sync and join is None:
        raise click.UsageError("--state-sync is for a node that joins a network: pass --join NET")
    if observer and join is None:
        raise click.UsageError("--observer needs --join NET, the home of the network to follow")
    if join is not None:
        _init_observer(join, home, force, observer, state_sync)
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


def _init_observer(join: Path, home: Path | None, force: bool, observer: bool, state_sync: bool) -> None:
    from node.home import NODES_FILE, init_observer

    network = join.parent if join.is_file() and join.name == NODES_FILE else join
    made = init_observer(network, home, force=force, observer=observer, state_sync=state_sync)
    n = made.node
    print_table(
        f"{'Observer' if observer else 'Joining node'} {n.name} of the network in {network}"
        f"{' (state sync)' if state_sync else ''}",
        ["node", "home", "rpc", "p2p", "address", "public key"],
        [(n.name, n.home, n.rpc_url, n.p2p_url, n.address, n.public_key.hex())],
    )
    click.echo(f"admitted by {', '.join(made.admitted_by)} (their config.json p2p.observers);")
    click.echo("restart running validators so they read it, then run "
               f"`hkchain node start --home {n.home}{' --observer' if observer else ''}`")
    if not observer:
        click.echo("it votes once the validators add its public key by a chain proposal "
                   "(governance propose_chain [\"add_validator\", KEY, NAME])")


@click.group("node")
def node() -> None:
    """Run one node."""


@node.command("start")
@click.option("--home", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The node's home directory (config.json, node.key, genesis.json, data/).")
@click.option("--observer", is_flag=True,
              help="Follow and serve the RPC, never vote or propose (set for good by "
                   "`hkchain init --observer`).")
@click.option("--state-sync", is_flag=True,
              help="If the node's store is empty, start from a snapshot of a certified "
                   "height fetched from its peers instead of replaying every block (set "
                   "for good by `hkchain init --join NET --state-sync`).")
@friendly_errors
def node_start(home: Path, observer: bool, state_sync: bool) -> None:
    """Run the node in HOME in the foreground until Ctrl-C or SIGTERM."""
    from node.service import run_node

    run_node(home, observer=observer, state_sync=state_sync)


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
