"""In-process networks of nodes on loopback for tests: homes in a temp dir, free ports,
a bounded wait for conditions."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.crypto import PrivateKey
from core.types import SignedTx, Tx
from node.config import (
    BlockConfig,
    ConsensusConfig,
    MempoolConfig,
    NodeConfig,
    P2PConfig,
    PeerConfig,
    RpcConfig,
)
from node.genesis import load_genesis
from node.service import Node
from storage.chain import ChainStore
from storage.leveldb import LevelDBStore
from tests.node.fakes import KvExecutor

CHAIN_ID = "hk-test"
USER_KEYS = [PrivateKey.from_seed_text(f"user{i}") for i in range(8)]


_handed_out: set[int] = set()


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range, so client sockets of the
    tests (which take ephemeral ports) cannot grab it before the node binds it."""
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(20_000, 32_000)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found")


async def wait_for(cond: Callable[[], bool], timeout_s: float = 20.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class NodeHome:
    home: Path
    key: PrivateKey
    config: NodeConfig


def make_homes(
    root: Path, n: int, *, observers: int = 0, empty_block_interval_ms: int = 200,
    view_timeout_ms: int = 2000, p2p_overrides: dict[str, Any] | None = None,
    rpc_overrides: dict[str, Any] | None = None, mempool_overrides: dict[str, Any] | None = None,
    block_overrides: dict[str, Any] | None = None,
    consensus_overrides: dict[str, Any] | None = None,
) -> list[NodeHome]:
    keys = [PrivateKey.from_seed_text(f"node{i}") for i in range(n + observers)]
    ports = [(free_port(), free_port()) for _ in keys]
    genesis = {
        "chain_id": CHAIN_ID,
        "genesis_time_ms": 1_700_000_000_000,
        "validators": [{"public_key": k.public_key.hex(), "name": f"node{i}"} for i, k in enumerate(keys[:n])],
        "accounts": {k.address: 10**9 for k in USER_KEYS[:6]},  # users 6 and 7 have nothing
    }
    homes = []
    for i, key in enumerate(keys):
        home = root / f"node{i}"
        home.mkdir(parents=True)
        key.save(home / "node_key.json")
        (home / "genesis.json").write_text(json.dumps(genesis))
        peers = tuple(
            PeerConfig(f"node{j}", keys[j].public_key, f"ws://127.0.0.1:{ports[j][1]}/p2p")
            for j in range(len(keys)) if j != i and (j < n or (i < n and False))
        )
        config = NodeConfig(
            name=f"node{i}",
            chain_id=CHAIN_ID,
            rpc=dataclasses.replace(
                RpcConfig(port=ports[i][0], rate_limit_per_s=10_000, rate_burst=10_000),
                **(rpc_overrides or {}),
            ),
            mempool=dataclasses.replace(MempoolConfig(), **(mempool_overrides or {})),
            p2p=dataclasses.replace(
                P2PConfig(
                    port=ports[i][1], peers=peers,
                    observers=tuple(k.public_key for k in keys[n:]),
                    reconnect_min_ms=50, reconnect_max_ms=500,
                ),
                **(p2p_overrides or {}),
            ),
            consensus=dataclasses.replace(ConsensusConfig(view_timeout_ms=view_timeout_ms),
                                          **(consensus_overrides or {})),
            block=dataclasses.replace(BlockConfig(empty_block_interval_ms=empty_block_interval_ms),
                                      **(block_overrides or {})),
        )
        config.save(home)
        homes.append(NodeHome(home, key, config))
    return homes


def open_node(h: NodeHome, node_class: type[Node] = Node) -> Node:
    config = NodeConfig.load(h.home)
    genesis = load_genesis(config.genesis_path(h.home))
    data = config.data_path(h.home)
    data.mkdir(parents=True, exist_ok=True)
    store = ChainStore.open(data / "chain")
    journal = LevelDBStore(data / "mempool")
    return node_class(config, h.home, h.key, genesis, KvExecutor(CHAIN_ID), store, journal)


async def start_nodes(homes: list[NodeHome]) -> list[Node]:
    nodes = [open_node(h) for h in homes]
    for node in nodes:
        await node.start()
    return nodes


async def wait_for_mesh(nodes: list[Node], *, first_block: bool = False, timeout_s: float = 20.0) -> None:
    """Wait until every node links to every other; with ``first_block``, also until every
    node has committed the same height, at least 1, and every replica is at one height."""
    await wait_for(lambda: all(len(n.network.peers) == len(nodes) - 1 for n in nodes),
                   timeout_s=timeout_s, what="full mesh")
    if first_block:
        await wait_for(lambda: len({n.store.height for n in nodes}) == 1 and nodes[0].store.height >= 1,
                       timeout_s=timeout_s, what="the first block on every node")
        await wait_for(lambda: len({n.replica.height for n in nodes}) == 1, timeout_s=timeout_s,
                       what="every replica at one height")


async def stop_nodes(nodes: list[Node]) -> None:
    for node in nodes:
        await node.stop()


def make_tx(user: int, nonce: int, key: str = "k", value: object = 1, expiry: int = 10_000) -> SignedTx:
    k = USER_KEYS[user]
    tx = Tx(CHAIN_ID, k.public_key, nonce, "kv", "set", (key, value), 10, expiry)  # type: ignore[arg-type]
    return tx.sign(k)
