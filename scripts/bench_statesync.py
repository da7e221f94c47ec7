"""State-sync benchmark: the time for a new node to join a chain whose state holds N
accounts, over loopback. Prints figures, asserts nothing about speed.

  python scripts/bench_statesync.py [--accounts 1000000] [--state-dir /tmp/hkchain-ss-1m]

1. Builds (or reuses, with --state-dir) a LevelDB chain store: genesis (the package's
   genesis.json with four bench validator keys), then blocks that give each of N accounts
   a balance and a nonce (2N state keys), each block certified by the four keys.
2. Starts a serving process on that store (p2p on 127.0.0.1, the node's own
   ChainSnapshotSource and SnapshotServer), and in this process runs the node's
   ``join_by_state_sync`` against it: the offer, its certificate checked against the
   genesis set, every part checked against the state root, the store written and
   installed. Prints the wall time, the keys and parts, and peak RSS of the joiner, then
   opens the joined store and checks its state root and a sample of balances.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import codec
from core.crypto import PrivateKey, address_of
from core.merkle import EMPTY_ROOT
from core.types import VOTE_COMMIT, Block, BlockHeader, CommitCertificate, Vote
from node.config import NodeConfig, P2PConfig, PeerConfig
from node.genesis import ensure_genesis, parse_genesis
from node.home import default_genesis_template, make_genesis
from storage.chain import ChainStore
from vm import layout
from vm.executor import ContractExecutor

KEYS = [PrivateKey.from_seed_text(f"bench-statesync-validator-{i}") for i in range(4)]
OPERATOR = PrivateKey.from_seed_text("bench-statesync-operator")
SERVER_KEY = KEYS[0]
CLIENT_KEY = PrivateKey.from_seed_text("bench-statesync-joiner")
KEYS_PER_BLOCK = 100_000
GENESIS_TIME_MS = 1_700_000_000_000


def genesis_doc() -> dict[str, object]:
    template = json.loads(default_genesis_template().read_text())
    return make_genesis(template, KEYS, OPERATOR, genesis_time_ms=GENESIS_TIME_MS,
                        chain_id="hkchain-bench-statesync")


def account(i: int) -> str:
    return address_of(hashlib.sha256(b"bench-account-%d" % i).digest())


def build(store: ChainStore, accounts: int) -> None:
    doc = genesis_doc()
    genesis = parse_genesis(doc)
    executor = ContractExecutor(genesis.chain_id)
    ensure_genesis(store, genesis, executor)
    if store.height > 0:
        print(f"chain of {accounts:,} accounts reused at height {store.height}")
        return
    t0 = time.perf_counter()
    writes = [(layout.balance_key(account(i)), codec.encode(1000 + i % 997)) for i in range(accounts)]
    writes += [(layout.nonce_key(account(i)), codec.encode(1 + i % 13)) for i in range(accounts)]
    for start in range(0, len(writes), KEYS_PER_BLOCK):
        head = store.head
        assert head is not None
        height = head.height + 1
        vs = store.validator_set(height)
        assert vs is not None
        overlay = store.overlay()
        for k, v in writes[start : start + KEYS_PER_BLOCK]:
            overlay.set(k, v)
        header = BlockHeader(genesis.chain_id, height, head.hash, EMPTY_ROOT, overlay.root(),
                             EMPTY_ROOT, vs.proposer(height, 0), 0, GENESIS_TIME_MS + height * 1000,
                             vs.hash)
        block = Block(header, ())
        cert = CommitCertificate.from_votes([
            Vote.create(k, VOTE_COMMIT, genesis.chain_id, height, 0, block.hash) for k in KEYS])
        store.commit_block(block, cert, [], overlay, executor.validator_set(overlay, height + 1))
    print(f"chain of {accounts:,} accounts ({len(writes):,} state keys) built in "
          f"{time.perf_counter() - t0:.1f} s, head {store.height}")


async def serve(state_dir: Path, port: int) -> None:
    from node.statesync import ChainSnapshotSource
    from p2p.network import Identity, Network
    from p2p.statesync import SnapshotServer

    store = ChainStore.open(state_dir)
    genesis_block = store.block(0)
    assert genesis_block is not None

    class Admit:
        def is_admitted(self, key: bytes) -> bool:
            return key == CLIENT_KEY.public_key

        def is_validator(self, key: bytes) -> bool:
            return False

        def height(self) -> int:
            return store.height

    net = Network(P2PConfig(port=port), Identity(SERVER_KEY, genesis_block.header.chain_id,
                                                 genesis_block.hash), Admit())
    SnapshotServer(net, ChainSnapshotSource(store))
    await net.start()
    print("serving", flush=True)
    await asyncio.Event().wait()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def join(port: int, workdir: Path) -> None:
    from node.statesync import join_by_state_sync

    doc = genesis_doc()
    genesis = parse_genesis(doc)
    config = NodeConfig(name="joiner", chain_id=genesis.chain_id, state_sync=True, p2p=P2PConfig(
        port=free_port(), peers=(PeerConfig("server", SERVER_KEY.public_key, f"ws://127.0.0.1:{port}/p2p"),)))
    cpu0 = time.process_time()
    result = await join_by_state_sync(workdir, config, CLIENT_KEY, genesis, ContractExecutor(genesis.chain_id))
    cpu = time.process_time() - cpu0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"joined at height {result.height}: {result.keys:,} state keys in {result.parts:,} parts, "
          f"{result.seconds:.1f} s wall ({result.keys / result.seconds:,.0f} keys/s); joiner CPU "
          f"{cpu:.1f} s, peak RSS {rss_mb:.0f} MB; peers refused: {len(result.blamed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--state-dir", default=None,
                        help="LevelDB dir of the served chain, kept and reused by the next run")
    parser.add_argument("--serve-port", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("hkchain.p2p").setLevel(logging.WARNING)
    logging.getLogger("hkchain.p2p.statesync").setLevel(logging.INFO)
    if args.serve_port is not None:
        asyncio.run(serve(Path(args.state_dir), args.serve_port))
        return
    workdir = Path(tempfile.mkdtemp(prefix="hkchain-bench-statesync-"))
    state_dir = Path(args.state_dir) if args.state_dir else workdir / "served"
    store = ChainStore.open(state_dir)
    try:
        build(store, args.accounts)
        root, height = store.state_root, store.height
    finally:
        store.close()
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--state-dir", str(state_dir),
                               "--serve-port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "serving":
            raise SystemExit("the serving process did not start")
        served_cpu = cpu_seconds(server.pid)
        asyncio.run(join(port, workdir / "joiner"))
        print(f"serving node CPU {cpu_seconds(server.pid) - served_cpu:.1f} s; machine load "
              f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        server.terminate()
        server.wait(timeout=10)
    joined = ChainStore.open(workdir / "joiner" / "data" / "chain")
    try:
        assert joined.height == height and joined.state_root == root, "joined a different state"
        ex = ContractExecutor(joined.head.header.chain_id)  # type: ignore[union-attr]
        for i in range(0, args.accounts, max(1, args.accounts // 50)):
            assert ex.balance(joined.state(), account(i)) == 1000 + i % 997
        print(f"joined store checked: height {height}, state root {root.hex()[:16]}…, sampled balances match")
    finally:
        joined.close()
        import shutil

        shutil.rmtree(workdir / "joiner", ignore_errors=True)
        if not args.state_dir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
