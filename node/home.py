"""Node homes of a local network: what `hkchain init` writes and `hkchain localnet` reads.

``init_network`` lays out ``DIR/nodeK/`` for each validator (``node.key`` mode 0600,
``config.json``, one shared ``genesis.json``) and a funded operator key
``DIR/operator.key``. The genesis is the template's (root genesis.json: parameters,
contracts, roles) with the template's validator keys and the dev operator key swapped for
the fresh ones everywhere they appear, so every grant the template gives them goes to
their fresh counterparts. ``load_network`` reads an existing layout back.

Ports: node K listens for RPC on ``base_port + 10K`` and for peers on
``base_port + 10K + 1`` (node/config.py's localnet layout), so two local networks with
different ``--base-port`` never collide. No port of a network may fall in the kernel's
ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range, 32768..60999 by default):
the kernel hands those ports to outgoing connections, and a large network's nodes dial
each other so often that one of them soon holds a port a node has yet to bind
(``address already in use``). ``init_network`` refuses such a base and names one that fits.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.crypto import PUBLIC_KEY_SIZE, PrivateKey, address_of
from core.errors import ChainError
from node.config import (
    CONFIG_FILE,
    LOCALNET_P2P_BASE_PORT,
    LOCALNET_PORT_STRIDE,
    LOCALNET_RPC_BASE_PORT,
    BlockConfig,
    ConsensusConfig,
    NodeConfig,
    P2PConfig,
    PeerConfig,
    RpcConfig,
)
from node.genesis import GenesisError, parse_genesis

DEFAULT_BASE_PORT = LOCALNET_RPC_BASE_PORT
P2P_PORT_OFFSET = LOCALNET_P2P_BASE_PORT - LOCALNET_RPC_BASE_PORT
MAX_LOCAL_VALIDATORS = 64
NODE_KEY_FILE = "node.key"
GENESIS_FILE = "genesis.json"
OPERATOR_KEY_FILE = "operator.key"
NODES_FILE = "nodes.json"
MAX_GENESIS_BYTES = 16 * 1024 * 1024
DEV_OPERATOR_SEED = "hkchain-dev-operator"
_NODE_DIR_RE = re.compile(r"^node[0-9]+$")
_OBSERVER_DIR_RE = re.compile(r"^(observer|joiner)[0-9]+$")
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Where the kernel does not say (BSD, macOS): the IANA dynamic range of RFC 6335.
FALLBACK_EPHEMERAL_RANGE = (49152, 65535)
MIN_BASE_PORT = 1024


class HomeError(ChainError):
    """A home directory that cannot be created or read as a local network."""

    code = "bad_home"


@dataclass(frozen=True)
class LocalNode:
    """One validator of a local network, as an operator needs to find it."""

    name: str
    home: Path
    rpc_url: str
    p2p_url: str
    address: str
    public_key: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "home": str(self.home),
            "rpc_url": self.rpc_url,
            "p2p_url": self.p2p_url,
            "address": self.address,
            "public_key": self.public_key.hex(),
        }


@dataclass(frozen=True)
class LocalNetwork:
    home: Path
    chain_id: str
    nodes: tuple[LocalNode, ...]
    operator_key_file: Path
    operator_address: str
    # Nodes that follow without voting, in DIR/observerK (``init_observer``).
    observers: tuple[LocalNode, ...] = ()


def node_ports(index: int, base_port: int = DEFAULT_BASE_PORT) -> tuple[int, int]:
    """(rpc port, p2p port) of node ``index`` of a network at ``base_port``."""
    rpc = base_port + LOCALNET_PORT_STRIDE * index
    return rpc, rpc + P2P_PORT_OFFSET


def ephemeral_port_range(path: Path | None = None) -> tuple[int, int]:
    """(first, last) port the kernel may give to outgoing connections."""
    try:
        fields = (path or EPHEMERAL_RANGE_FILE).read_text().split()
        low, high = int(fields[0]), int(fields[1])
    except (OSError, ValueError, IndexError):
        return FALLBACK_EPHEMERAL_RANGE
    if not 0 < low <= high <= 65535:
        return FALLBACK_EPHEMERAL_RANGE
    return low, high


def max_base_port(validators: int, ephemeral: tuple[int, int] | None = None) -> int:
    """The highest base port whose whole ``validators``-node range ends below the
    ephemeral range (a multiple of the port stride; below MIN_BASE_PORT if none fits)."""
    low, _ = ephemeral or ephemeral_port_range()
    span = node_ports(validators - 1, 0)[1]
    top = low - 1 - span
    return top - top % LOCALNET_PORT_STRIDE


def check_base_port(base_port: int, validators: int, ephemeral: tuple[int, int] | None = None) -> None:
    """HomeError unless every port of a ``validators``-node network at ``base_port`` lies in
    MIN_BASE_PORT..65535 and outside the kernel's ephemeral range."""
    last_port = node_ports(validators - 1, base_port)[1]
    if base_port < MIN_BASE_PORT or last_port > 65535:
        raise HomeError(f"ports {base_port}..{last_port} are outside {MIN_BASE_PORT}..65535; "
                        f"pick another --base-port")
    low, high = ephemeral or ephemeral_port_range()
    if base_port <= high and last_port >= low:
        top = max_base_port(validators, (low, high))
        fix = (f"use --base-port {top} or lower (default {DEFAULT_BASE_PORT})" if top >= MIN_BASE_PORT
               else f"lower the kernel's range ({EPHEMERAL_RANGE_FILE}) or use fewer nodes")
        raise HomeError(
            f"ports {base_port}..{last_port} overlap the kernel's ephemeral ports {low}..{high}, "
            f"which it gives to outgoing connections: a node would find its port taken "
            f"(address already in use) once the network dials itself; {fix}"
        )


def default_genesis_template() -> Path:
    """The default local network's genesis: the repository's top-level genesis.json.

    An installed wheel carries a copy as ``node/genesis.json`` (setup.py copies it at
    build time); a source checkout or editable install reads the top-level file itself.
    """
    here = Path(__file__).resolve().parent
    packaged = here / GENESIS_FILE
    return packaged if packaged.is_file() else here.parent / GENESIS_FILE


# From this many validators ``init_network`` makes a large network's config. Its votes go
# through a collector (consensus.vote_collector, docs/CONSENSUS.md): measured on one
# machine at 20 tx/s (docs/PERFORMANCE.md, "Real processes at scale"), 16 and 31
# validators committed sooner and spent less CPU with it; in smaller networks its extra
# hop costs more than the few messages it saves. And an idle chain makes an empty block
# every LARGE_NETWORK_EMPTY_BLOCK_INTERVAL_MS instead of every second
# (block.empty_block_interval_ms, which the validators wait on top of the view timeout
# while they know of no pending tx): an idle height costs every validator a round of
# votes, 2f + 1 signature checks twice and a synced write, so an idle network's CPU grows
# with n. Load is not slowed: a pending tx is proposed after the batch interval, not the
# empty-block one, and a silent proposer still costs one view timeout once txs wait.
LARGE_NETWORK_FROM_VALIDATORS = 16
LARGE_NETWORK_EMPTY_BLOCK_INTERVAL_MS = 10_000
# A local network's validators share one machine, so a loaded height's CPU grows with n:
# every tx's signature is checked and the tx executed at every node, and each node checks
# the 2f + 1 signatures of both bundles. At 64 validators on two cores at 20 tx/s, heights took
# 1-4 s: the 4 s view timeout (and the collector's fallback, a quarter of it) fired on
# heights that were only slow, and the view changes and all-to-all votes that followed
# cost more than they saved (docs/PERFORMANCE.md, "64 validators stall on timers"). So a
# large network's view timeout grows with its size: 8 s at 64 validators, the base 4 s up
# to 32. A silent proposer's turn costs that much longer in exchange.
LARGE_NETWORK_VIEW_TIMEOUT_MS_PER_VALIDATOR = 125


def view_timeout_ms_for(validators: int) -> int:
    """The view timeout ``init_network`` gives a network of ``validators``."""
    return max(ConsensusConfig().view_timeout_ms, LARGE_NETWORK_VIEW_TIMEOUT_MS_PER_VALIDATOR * validators)


def init_network(
    home: Path,
    validators: int = 4,
    *,
    base_port: int = DEFAULT_BASE_PORT,
    genesis_template: Path | None = None,
    chain_id: str | None = None,
    force: bool = False,
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
) -> LocalNetwork:
    """Create keys, genesis and config for ``validators`` nodes under ``home``."""
    home = Path(home)
    if not 1 <= validators <= MAX_LOCAL_VALIDATORS:
        raise HomeError(f"--validators must be between 1 and {MAX_LOCAL_VALIDATORS}")
    check_base_port(base_port, validators)
    template_path = genesis_template or default_genesis_template()
    template = _read_genesis(template_path)
    _prepare_home(home, force)

    keys = [PrivateKey.generate() for _ in range(validators)]
    operator = PrivateKey.generate()
    genesis = make_genesis(template, keys, operator, genesis_time_ms=now_ms(), chain_id=chain_id)
    try:
        parse_genesis(genesis)  # the nodes will read it back the same way
    except GenesisError as exc:
        raise HomeError(f"genesis template {template_path}: {exc.message}") from exc
    genesis_bytes = (json.dumps(genesis, indent=2) + "\n").encode()
    net_chain_id = str(genesis["chain_id"])

    names = [f"node{i}" for i in range(validators)]
    large = validators >= LARGE_NETWORK_FROM_VALIDATORS
    nodes = []
    for i, key in enumerate(keys):
        node_home = home / names[i]
        rpc_port, p2p_port = node_ports(i, base_port)
        node_home.mkdir(parents=True, exist_ok=True)
        key.save(node_home / NODE_KEY_FILE)
        _write_file(node_home / GENESIS_FILE, genesis_bytes)
        peers = tuple(
            PeerConfig(
                name=names[j],
                public_key=keys[j].public_key,
                url=f"ws://127.0.0.1:{node_ports(j, base_port)[1]}/p2p",
            )
            for j in range(validators)
            if j != i
        )
        config = NodeConfig(
            name=names[i],
            chain_id=net_chain_id,
            key_file=NODE_KEY_FILE,
            genesis_file=GENESIS_FILE,
            rpc=RpcConfig(host="127.0.0.1", port=rpc_port),
            p2p=P2PConfig(host="127.0.0.1", port=p2p_port, peers=peers),
            consensus=ConsensusConfig(vote_collector=large,
                                      view_timeout_ms=view_timeout_ms_for(validators)),
            block=BlockConfig(empty_block_interval_ms=LARGE_NETWORK_EMPTY_BLOCK_INTERVAL_MS)
            if large else BlockConfig(),
        )
        config.save(node_home)
        nodes.append(_local_node(node_home, config, key.public_key))
    operator.save(home / OPERATOR_KEY_FILE)
    return LocalNetwork(home, net_chain_id, tuple(nodes), home / OPERATOR_KEY_FILE, operator.address)


def load_network(home: Path) -> LocalNetwork:
    """Read the layout written by ``init_network``; HomeError if it is not one."""
    home = Path(home)
    node_dirs = sorted(
        (p for p in home.iterdir() if p.is_dir() and _NODE_DIR_RE.match(p.name)),
        key=lambda p: int(p.name[4:]),
    ) if home.is_dir() else []
    if not node_dirs:
        raise HomeError(f"{home} holds no local network (run `hkchain init --home {home}`)")
    nodes = []
    chain_ids = set()
    for node_home in node_dirs:
        config = NodeConfig.load(node_home)
        key = PrivateKey.load(config.key_path(node_home))
        nodes.append(_local_node(node_home, config, key.public_key))
        chain_ids.add(config.chain_id)
    if len(chain_ids) != 1:
        raise HomeError(f"the nodes under {home} disagree on the chain id: {sorted(chain_ids)}")
    observers = []
    for obs_home in sorted((p for p in home.iterdir() if p.is_dir() and p.name.startswith("observer")
                            and _OBSERVER_DIR_RE.match(p.name) and (p / CONFIG_FILE).exists()),
                           key=lambda p: int(p.name[8:])):
        config = NodeConfig.load(obs_home)
        if config.chain_id not in chain_ids:
            raise HomeError(f"{obs_home} follows chain {config.chain_id!r}, not this network's "
                            f"{sorted(chain_ids)[0]!r}")
        key = PrivateKey.load(config.key_path(obs_home))
        observers.append(_local_node(obs_home, config, key.public_key))
    operator_file = home / OPERATOR_KEY_FILE
    operator = PrivateKey.load(operator_file)
    return LocalNetwork(home, chain_ids.pop(), tuple(nodes), operator_file, operator.address,
                        tuple(observers))


@dataclass(frozen=True)
class ObserverHome:
    """What ``init_observer`` made: the observer's node, and the validators that admit it."""

    node: LocalNode
    admitted_by: tuple[str, ...]


def init_observer(network_home: Path, home: Path | None = None, *, force: bool = False,
                  observer: bool = True, state_sync: bool = False) -> ObserverHome:
    """A home for an observer of the local network in ``network_home``.

    The observer gets a fresh key, the network's genesis and chain id, every validator
    as a peer, the network's consensus, block and mempool settings, and the next ports
    of the network's layout (node K = validators + observers so far). Its key is added to
    ``p2p.observers`` of every validator's config, so they admit it once (re)started.
    ``home`` defaults to ``network_home/observerK``.

    ``observer`` False makes a joining node instead (``network_home/joinerK``): the same,
    but not an observer, so it votes once governance adds its key to the validator set;
    the validators also list it as a peer, so they dial it as they dial each other.
    ``state_sync`` sets it to start from a snapshot (docs/OBSERVERS.md).
    """
    network_home = Path(network_home)
    net = load_network(network_home)
    if home is not None and (Path(home) / CONFIG_FILE).exists():
        if not force:
            raise HomeError(f"{home} already holds a node; pass --force to replace it")
        _unadmit(net, PrivateKey.load(NodeConfig.load(home).key_path(home)).public_key)
    first = NodeConfig.load(net.nodes[0].home)
    # Observers are numbered, and take ports, in the order the validators admitted them.
    index = len(first.p2p.observers)
    name = f"{'observer' if observer else 'joiner'}{index}"
    home = Path(home) if home is not None else network_home / name
    if home.exists() and not home.is_dir():
        raise HomeError(f"{home} exists and is not a directory")
    if (home / CONFIG_FILE).exists() and not force:
        raise HomeError(f"{home} already holds a node; pass --home to put the observer elsewhere")
    # The layout of init_network: node K at base + 10K, so the first validator's RPC port
    # is the base; the observer takes the slot after the validators and earlier observers.
    base = first.rpc.port
    slot = len(net.nodes) + index
    check_base_port(base, slot + 1)
    rpc_port, p2p_port = node_ports(slot, base)
    genesis_bytes = first.genesis_path(net.nodes[0].home).read_bytes()

    key = PrivateKey.generate()
    if force:  # a replaced observer's files, never others
        for old in (NODE_KEY_FILE, GENESIS_FILE):
            (home / old).unlink(missing_ok=True)
        if (home / "data").is_dir():
            shutil.rmtree(home / "data")
    home.mkdir(parents=True, exist_ok=True)
    key.save(home / NODE_KEY_FILE)
    _write_file(home / GENESIS_FILE, genesis_bytes)
    peers = tuple(PeerConfig(name=n.name, public_key=n.public_key, url=n.p2p_url) for n in net.nodes)
    config = first.with_changes(
        name=name,
        key_file=NODE_KEY_FILE,
        genesis_file=GENESIS_FILE,
        data_dir="data",
        rpc=dataclasses.replace(first.rpc, port=rpc_port),
        p2p=dataclasses.replace(first.p2p, port=p2p_port, peers=peers, observers=()),
        observer=observer,
        state_sync=state_sync,
    )
    config.save(home)
    me = PeerConfig(name=name, public_key=key.public_key, url=config.p2p_url)
    for node in net.nodes:
        validator = NodeConfig.load(node.home)
        p2p = validator.p2p
        if key.public_key not in p2p.observers:
            p2p = dataclasses.replace(p2p, observers=(*p2p.observers, key.public_key))
        if not observer and all(p.public_key != key.public_key for p in p2p.peers):
            p2p = dataclasses.replace(p2p, peers=(*p2p.peers, me))
        validator.with_changes(p2p=p2p).save(node.home)
    return ObserverHome(_local_node(home, config, key.public_key), tuple(n.name for n in net.nodes))


def _unadmit(net: LocalNetwork, public_key: bytes) -> None:
    """Drop a replaced observer's key from every validator's ``p2p.observers``."""
    for node in net.nodes:
        config = NodeConfig.load(node.home)
        if public_key in config.p2p.observers or any(p.public_key == public_key for p in config.p2p.peers):
            observers = tuple(k for k in config.p2p.observers if k != public_key)
            peers = tuple(p for p in config.p2p.peers if p.public_key != public_key)
            config.with_changes(p2p=dataclasses.replace(config.p2p, observers=observers,
                                                        peers=peers)).save(node.home)


def is_initialised(home: Path) -> bool:
    return (Path(home) / "node0" / CONFIG_FILE).exists()


# --- genesis ---------------------------------------------------------------------------


def make_genesis(
    template: dict[str, Any],
    validator_keys: list[PrivateKey],
    operator: PrivateKey,
    *,
    genesis_time_ms: int,
    chain_id: str | None = None,
) -> dict[str, Any]:
    """The template with fresh keys in place of the development ones.

    The template's validators (by position) and the dev operator have their address and
    public key (hex) replaced wherever they occur (accounts, roles, parameters); the
    validator list is rebuilt from the fresh keys; entries naming a template validator
    beyond the new size are dropped. Parameters, contracts and other grants are kept.
    """
    template_validators = template.get("validators")
    if not isinstance(template_validators, list) or not template_validators:
        raise HomeError("genesis template has no validator list")
    dev_operator = PrivateKey.from_seed_text(DEV_OPERATOR_SEED)
    swaps = {
        dev_operator.address: operator.address,
        dev_operator.public_key.hex(): operator.public_key.hex(),
    }
    dropped: set[str] = set()
    for i, entry in enumerate(template_validators):
        dev_key = _template_key(entry, i)
        dev_address = address_of(dev_key)
        if i < len(validator_keys):
            swaps[dev_key.hex()] = validator_keys[i].public_key.hex()
            swaps[dev_address] = validator_keys[i].address
        else:
            dropped.update({dev_key.hex(), dev_address})

    doc: dict[str, Any] = _swap(template, swaps, dropped)
    doc["validators"] = [
        _validator_entry(template_validators[i % len(template_validators)], key, f"node{i}")
        for i, key in enumerate(validator_keys)
    ]
    doc["genesis_time_ms"] = genesis_time_ms
    if chain_id is not None:
        doc["chain_id"] = chain_id
    if not isinstance(doc.get("chain_id"), str) or not doc["chain_id"]:
        raise HomeError("genesis template has no chain_id")
    return doc


def _template_key(entry: Any, index: int) -> bytes:
    key_hex = entry.get("public_key") if isinstance(entry, dict) else entry
    try:
        key = bytes.fromhex(key_hex) if isinstance(key_hex, str) else b""
    except ValueError:
        key = b""
    if len(key) != PUBLIC_KEY_SIZE:
        raise HomeError(f"genesis template: validators[{index}] has no valid public_key")
    return key


def _validator_entry(shape: Any, key: PrivateKey, name: str) -> Any:
    # Follow the template's shape for one validator, whatever fields it carries.
    if isinstance(shape, str):
        return key.public_key.hex()
    if not isinstance(shape, dict):
        raise HomeError("genesis template: a validator entry must be an object or a hex key")
    entry = dict(shape)
    entry["public_key"] = key.public_key.hex()
    if "name" in entry:
        entry["name"] = name
    if "address" in entry:
        entry["address"] = key.address
    return entry


def _swap(value: Any, swaps: dict[str, str], dropped: set[str]) -> Any:
    if isinstance(value, str):
        return swaps.get(value, value)
    if isinstance(value, list):
        return [_swap(v, swaps, dropped) for v in value if not _mentions(v, dropped)]
    if isinstance(value, dict):
        return {
            swaps.get(k, k): _swap(v, swaps, dropped)
            for k, v in value.items()
            if k not in dropped and not _mentions(v, dropped)
        }
    return value


def _mentions(value: Any, dropped: set[str]) -> bool:
    """An entry that belongs to a dropped key: it is that key, or an object naming it."""
    if isinstance(value, str):
        return value in dropped
    if isinstance(value, dict):
        return any(isinstance(v, str) and v in dropped for v in value.values())
    return False


def _read_genesis(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_GENESIS_BYTES + 1)
    except OSError as exc:
        raise HomeError(f"cannot read genesis template {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_GENESIS_BYTES:
        raise HomeError(f"genesis template {path} is larger than {MAX_GENESIS_BYTES} bytes")
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise HomeError(f"genesis template {path} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise HomeError(f"genesis template {path} must be a JSON object")
    return doc


# --- files -----------------------------------------------------------------------------


def _prepare_home(home: Path, force: bool) -> None:
    if home.exists() and not home.is_dir():
        raise HomeError(f"{home} exists and is not a directory")
    ours = _our_entries(home)
    if ours and not force:
        raise HomeError(f"{home} already holds a network; pass --force to replace it")
    for entry in ours:
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    home.mkdir(parents=True, exist_ok=True)


def _our_entries(home: Path) -> list[Path]:
    """What init writes under a home (only these are ever removed by --force)."""
    if not home.is_dir():
        return []
    return [
        p for p in home.iterdir()
        if (p.is_dir() and (_NODE_DIR_RE.match(p.name) or _OBSERVER_DIR_RE.match(p.name)))
        or p.name in (OPERATOR_KEY_FILE, NODES_FILE)
    ]


def _write_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _local_node(node_home: Path, config: NodeConfig, public_key: bytes) -> LocalNode:
    return LocalNode(
        name=config.name,
        home=node_home,
        rpc_url=config.rpc_url,
        p2p_url=config.p2p_url,
        address=address_of(public_key),
        public_key=public_key,
    )
