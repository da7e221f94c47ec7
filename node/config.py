"""A node's configuration: ``config.json`` in the node's home directory.

One frozen dataclass per section; ``NodeConfig.load(home)`` validates strictly (unknown
keys, wrong types and out-of-range values are ConfigErrors naming the field) and
``save(home)`` writes the same format back. Paths inside the file are relative to the
home directory. For a local network, node K listens for RPC on 127.0.0.1:(26600 + 10K)
and for peers on 127.0.0.1:(26601 + 10K) (see ``localnet_ports``).

Example::

    {
      "name": "node0", "chain_id": "hkchain-local",
      "key_file": "node_key.json", "data_dir": "data", "genesis_file": "genesis.json",
      "rpc": {"host": "127.0.0.1", "port": 26600, ...},
      "p2p": {"host": "127.0.0.1", "port": 26601,
              "peers": [{"name": "node1", "public_key": "ab…", "url": "ws://127.0.0.1:26611/p2p"}],
              "observers": []},
      "consensus": {...}, "block": {...}, "mempool": {...}, "log_level": "INFO"
    }
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from core.crypto import PUBLIC_KEY_SIZE
from core.errors import ChainError
from core.types import MAX_BLOCK_TX_BYTES, MAX_BLOCK_TXS, MAX_CHAIN_ID_CHARS
from p2p.messages import MAX_FRAME_BYTES

CONFIG_FILE = "config.json"
LOCALNET_RPC_BASE_PORT = 26600
LOCALNET_P2P_BASE_PORT = 26601
LOCALNET_PORT_STRIDE = 10
MAX_PEERS = 256
MAX_CONFIG_BYTES = 1 << 20
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

S = TypeVar("S")


class ConfigError(ChainError):
    """A config file that is missing, unreadable, or breaks a rule; names the field."""

    code = "bad_config"


def localnet_ports(index: int) -> tuple[int, int]:
    """(rpc port, p2p port) of node ``index`` in a local network."""
    return (
        LOCALNET_RPC_BASE_PORT + LOCALNET_PORT_STRIDE * index,
        LOCALNET_P2P_BASE_PORT + LOCALNET_PORT_STRIDE * index,
    )


# --- sections --------------------------------------------------------------------------


@dataclass(frozen=True)
class RpcConfig:
    host: str = "127.0.0.1"
    port: int = LOCALNET_RPC_BASE_PORT
    max_body_bytes: int = 8 * 1024 * 1024
    max_batch: int = 1000
    # Token bucket per client address: sustained requests per second, and burst size.
    rate_limit_per_s: int = 200
    rate_burst: int = 400
    max_ws_subscribers: int = 256
    # Contract view calls (POST /v1/query), run in worker threads (node/queries.py): how
    # many at once, how many may wait (beyond: 503 busy), how many one client may have
    # running or waiting (beyond: 429 too_many_queries), and one client's gas budget per
    # second and burst (beyond: 429 query_budget_exhausted).
    query_workers: int = 2
    max_queued_queries: int = 64
    max_queries_per_client: int = 16
    query_gas_per_s: int = 1_000_000
    query_gas_burst: int = 10_000_000
    # Serve the RPC over TLS (https, wss) with this certificate chain and key, both PEM;
    # relative to the node home or absolute. Both empty: plain HTTP (put a TLS-terminating
    # reverse proxy in front for remote clients, docs/RPC.md).
    tls_cert_file: str = ""
    tls_key_file: str = ""

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert_file)


@dataclass(frozen=True)
class PeerConfig:
    name: str
    public_key: bytes
    url: str


@dataclass(frozen=True)
class P2PConfig:
    host: str = "127.0.0.1"
    port: int = LOCALNET_P2P_BASE_PORT
    peers: tuple[PeerConfig, ...] = ()
    # Public keys of non-validator nodes admitted to read (sync, gossip), never to vote.
    observers: tuple[bytes, ...] = ()
    # The largest legal frame (p2p/messages.py, derived from core.types.MAX_BLOCK_BYTES):
    # a node with a smaller limit would refuse a legal proposal and stall.
    max_frame_bytes: int = MAX_FRAME_BYTES
    # Token bucket per peer connection: frames per second, and burst size.
    rate_limit_frames_per_s: int = 2000
    rate_burst_frames: int = 4000
    handshake_timeout_ms: int = 5000
    # A link silent this long is pinged; without a pong within half of it, it is dropped
    # (a cut path is noticed within 1.5 heartbeats). A dial not answered within two
    # heartbeats is given up and retried. With more than 8 peers listed, each link's
    # heartbeat is stretched by peers / 8 (p2p.network.HEARTBEAT_LINKS).
    heartbeat_ms: int = 1000
    reconnect_min_ms: int = 200
    # Low, so a healed link is redialed within a second or two: dialing a few peers is cheap.
    reconnect_max_ms: int = 2000
    sync_batch_blocks: int = 64
    # A peer dropped for what it sent (garbage, a forged signature, a bad block) is refused
    # for this long, doubled for each further offence up to the cap; offences are
    # forgotten after ten minutes without one.
    misbehaviour_ban_ms: int = 1000
    max_misbehaviour_ban_ms: int = 60_000


@dataclass(frozen=True)
class ConsensusConfig:
    # Time a replica waits for a view to commit before voting to change it; doubles per
    # consecutive failed view, capped at max_view_timeout_ms.
    view_timeout_ms: int = 4000
    max_view_timeout_ms: int = 60_000
    # PREPAREs and COMMITs go to the view's proposer, which forwards each quorum to every
    # validator as one bundle (docs/CONSENSUS.md, "How votes travel at district scale"):
    # 2(n − 1) messages a height per validator become about 4. A vote not answered within
    # a quarter of the view timeout is then sent to all, as without a collector. Every
    # validator of a network should set the same value; mixed, they still commit, slower.
    vote_collector: bool = False


@dataclass(frozen=True)
class BlockConfig:
    max_block_txs: int = 2000
    # Bytes of txs the proposer puts in a block: at most core.types.MAX_BLOCK_TX_BYTES, so
    # the block itself stays within MAX_BLOCK_BYTES.
    max_block_bytes: int = 4 * 1024 * 1024
    # An idle chain makes one empty block per this interval.
    empty_block_interval_ms: int = 1000
    # Light load is batched: while fewer txs than a full block are pending, the proposer
    # proposes no sooner than this after the last commit, so txs arriving meanwhile share
    # a block instead of each costing a whole round of consensus. A full block goes at
    # once. 140 ms makes a block about every 150 ms at 4 validators on one machine, and a
    # tx's median wait about 75 ms; a longer round adds to the interval, which spares a
    # CPU-bound network (proposing back to back slowed 64 validators on two cores). 0: no
    # wait; never longer than the empty-block interval.
    batch_interval_ms: int = 140


@dataclass(frozen=True)
class MempoolConfig:
    max_txs: int = 50_000
    max_bytes: int = 64 * 1024 * 1024
    max_txs_per_sender: int = 1000
    # A tx may expire at most this many blocks after the next height (else expiry_too_far).
    max_expiry_blocks: int = 100_000


@dataclass(frozen=True)
class AnalyticsConfig:
    """The analytics indexer run inside the node (docs/ANALYTICS.md): off by default."""

    enabled: bool = False
    db: str = ""  # a database URL; empty: the SQLite file analytics.sqlite in the home
    batch_blocks: int = 256


@dataclass(frozen=True)
class NodeConfig:
    """Everything a node reads at start. Paths are relative to the home directory."""

    SECTIONS: ClassVar[dict[str, type]] = {
        "rpc": RpcConfig,
        "p2p": P2PConfig,
        "consensus": ConsensusConfig,
        "block": BlockConfig,
        "mempool": MempoolConfig,
        "analytics": AnalyticsConfig,
    }

    name: str
    chain_id: str
    key_file: str = "node_key.json"
    data_dir: str = "data"
    genesis_file: str = "genesis.json"
    rpc: RpcConfig = field(default_factory=RpcConfig)
    p2p: P2PConfig = field(default_factory=P2PConfig)
    consensus: ConsensusConfig = field(default_factory=ConsensusConfig)
    block: BlockConfig = field(default_factory=BlockConfig)
    mempool: MempoolConfig = field(default_factory=MempoolConfig)
    analytics: AnalyticsConfig = field(default_factory=AnalyticsConfig)
    log_level: str = "INFO"
    # An observer follows the chain (every block's certificate checked) and serves the
    # RPC, but never votes or proposes, even should its key join the validator set
    # (docs/OBSERVERS.md). ``hkchain node start --observer`` sets it for one run.
    observer: bool = False
    # A node whose store is empty starts from a snapshot of a recent certified height,
    # fetched from its peers and checked part by part, instead of replaying every block
    # (docs/OBSERVERS.md, "Joining by state sync"). Ignored once the store holds a chain.
    state_sync: bool = False

    def __post_init__(self) -> None:
        _validate(self)

    # --- paths ---------------------------------------------------------------------------

    def key_path(self, home: Path) -> Path:
        return Path(home) / self.key_file

    def data_path(self, home: Path) -> Path:
        return Path(home) / self.data_dir

    def genesis_path(self, home: Path) -> Path:
        return Path(home) / self.genesis_file

    def rpc_tls_paths(self, home: Path) -> tuple[Path, Path] | None:
        """(certificate chain, key) files of the RPC's TLS, or None for plain HTTP."""
        if not self.rpc.tls:
            return None
        return Path(home) / self.rpc.tls_cert_file, Path(home) / self.rpc.tls_key_file

    @property
    def rpc_url(self) -> str:
        scheme = "https" if self.rpc.tls else "http"
        return f"{scheme}://{_url_host(self.rpc.host)}:{self.rpc.port}"

    @property
    def p2p_url(self) -> str:
        return f"ws://{_url_host(self.p2p.host)}:{self.p2p.port}/p2p"

    # --- persistence -----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = _to_json(self)
        return doc

    @classmethod
    def from_json(cls, doc: object) -> NodeConfig:
        if not isinstance(doc, dict):
            raise ConfigError("config must be a JSON object")
        try:
            return _from_json(cls, doc, "")
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid config: {exc}") from exc

    def save(self, home: Path) -> Path:
        """Write ``home/config.json`` atomically; returns its path."""
        home = Path(home)
        home.mkdir(parents=True, exist_ok=True)
        target = home / CONFIG_FILE
        tmp = target.with_name(CONFIG_FILE + ".tmp")
        with open(tmp, "w") as f:
            json.dump(self.to_json(), f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        return target

    @classmethod
    def load(cls, home: Path) -> NodeConfig:
        path = Path(home) / CONFIG_FILE
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
        try:
            return cls.from_json(doc)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc.message}") from exc

    def with_changes(self, **changes: Any) -> NodeConfig:
        return dataclasses.replace(self, **changes)


# --- JSON mapping ------------------------------------------------------------------------


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _to_json(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, tuple):
        return [_to_json(x) for x in obj]
    return obj


def _expect(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise ConfigError(f"{where}: {what}")


def _hex_key(v: object, where: str) -> bytes:
    _expect(isinstance(v, str), where, "expected a hex public key string")
    assert isinstance(v, str)
    try:
        key = bytes.fromhex(v)
    except ValueError:
        raise ConfigError(f"{where}: not valid hex") from None
    _expect(len(key) == PUBLIC_KEY_SIZE, where, f"a public key is {PUBLIC_KEY_SIZE} bytes")
    return key


def _from_json(cls: type[S], doc: dict[str, Any], prefix: str) -> S:
    names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in doc:
        _expect(key in names, f"{prefix}{key}", "unknown setting")
    kwargs: dict[str, Any] = {}
    for name, f in names.items():
        where = f"{prefix}{name}"
        if name not in doc:
            has_default = f.default is not dataclasses.MISSING or (
                f.default_factory is not dataclasses.MISSING
            )
            _expect(has_default, where, "missing required setting")
            continue
        v = doc[name]
        if cls is NodeConfig and name in NodeConfig.SECTIONS:
            _expect(isinstance(v, dict), where, "expected an object")
            kwargs[name] = _from_json(NodeConfig.SECTIONS[name], v, where + ".")
        elif cls is P2PConfig and name == "peers":
            _expect(isinstance(v, list) and len(v) <= MAX_PEERS, where, "expected a list of peers")
            peers = []
            for i, p in enumerate(v):
                _expect(isinstance(p, dict), f"{where}[{i}]", "expected an object")
                peers.append(_from_json(PeerConfig, p, f"{where}[{i}]."))
            kwargs[name] = tuple(peers)
        elif cls is P2PConfig and name == "observers":
            _expect(isinstance(v, list) and len(v) <= MAX_PEERS, where, "expected a list of keys")
            kwargs[name] = tuple(_hex_key(k, f"{where}[{i}]") for i, k in enumerate(v))
        elif cls is PeerConfig and name == "public_key":
            kwargs[name] = _hex_key(v, where)
        elif f.type in ("bool", bool):
            _expect(type(v) is bool, where, "expected true or false")
            kwargs[name] = v
        elif f.type in ("int", int):
            _expect(type(v) is int, where, "expected an integer")
            kwargs[name] = v
        elif f.type in ("str", str):
            _expect(type(v) is str, where, "expected a string")
            kwargs[name] = v
        else:  # pragma: no cover - every field is mapped above
            raise ConfigError(f"{where}: unsupported setting type")
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{prefix}{exc.message}" if prefix else exc.message) from exc


# --- validation --------------------------------------------------------------------------


def _check_port(port: int, where: str) -> None:
    _expect(0 <= port <= 65535, where, "port must be in [0, 65535] (0 picks a free port)")


def _check_range(value: int, lo: int, hi: int, where: str) -> None:
    _expect(lo <= value <= hi, where, f"must be in [{lo}, {hi}]")


def _check_relative(path: str, where: str) -> None:
    _expect(bool(path), where, "must not be empty")
    _expect(not os.path.isabs(path), where, "must be relative to the node home")
    _expect(".." not in Path(path).parts, where, "must stay inside the node home")


def _check_ws_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    _expect(parts.scheme in ("ws", "wss"), where, "must be a ws:// or wss:// URL")
    try:
        port = parts.port
    except ValueError:
        port = None
    _expect(bool(parts.hostname) and port is not None, where, "must name a host and a port")


def _validate(c: NodeConfig) -> None:
    _expect(bool(_NAME_RE.match(c.name)), "name", "1-64 characters of A-Z a-z 0-9 _ . -")
    _expect(0 < len(c.chain_id) <= MAX_CHAIN_ID_CHARS, "chain_id", "1-64 characters")
    _check_relative(c.key_file, "key_file")
    _check_relative(c.data_dir, "data_dir")
    _check_relative(c.genesis_file, "genesis_file")
    _expect(c.log_level in LOG_LEVELS, "log_level", f"one of {', '.join(LOG_LEVELS)}")

    r = c.rpc
    _check_port(r.port, "rpc.port")
    _expect(bool(r.tls_cert_file) == bool(r.tls_key_file), "rpc.tls_key_file" if r.tls_cert_file
            else "rpc.tls_cert_file", "rpc.tls_cert_file and rpc.tls_key_file go together: set both or neither")
    for value, where in ((r.tls_cert_file, "rpc.tls_cert_file"), (r.tls_key_file, "rpc.tls_key_file")):
        _expect(len(value) <= 4096 and "\x00" not in value, where, "not a usable path")
    _check_range(r.max_body_bytes, 1024, 256 * 1024 * 1024, "rpc.max_body_bytes")
    _check_range(r.max_batch, 1, 100_000, "rpc.max_batch")
    _check_range(r.rate_limit_per_s, 1, 1_000_000, "rpc.rate_limit_per_s")
    _check_range(r.rate_burst, 1, 10_000_000, "rpc.rate_burst")
    _check_range(r.max_ws_subscribers, 0, 100_000, "rpc.max_ws_subscribers")
    _check_range(r.query_workers, 1, 64, "rpc.query_workers")
    _check_range(r.max_queued_queries, 0, 100_000, "rpc.max_queued_queries")
    _check_range(r.max_queries_per_client, 1, 100_000, "rpc.max_queries_per_client")
    _check_range(r.query_gas_per_s, 1, 10**12, "rpc.query_gas_per_s")
    _check_range(r.query_gas_burst, 1, 10**12, "rpc.query_gas_burst")

    _check_range(c.analytics.batch_blocks, 1, 256, "analytics.batch_blocks")
    _expect(len(c.analytics.db) <= 1024, "analytics.db", "at most 1024 characters")

    p = c.p2p
    _check_port(p.port, "p2p.port")
    _check_range(p.max_frame_bytes, MAX_FRAME_BYTES, 2 * MAX_FRAME_BYTES, "p2p.max_frame_bytes")
    _check_range(p.rate_limit_frames_per_s, 1, 1_000_000, "p2p.rate_limit_frames_per_s")
    _check_range(p.rate_burst_frames, 1, 10_000_000, "p2p.rate_burst_frames")
    _check_range(p.handshake_timeout_ms, 100, 600_000, "p2p.handshake_timeout_ms")
    _check_range(p.heartbeat_ms, 100, 600_000, "p2p.heartbeat_ms")
    _check_range(p.reconnect_min_ms, 10, 600_000, "p2p.reconnect_min_ms")
    _check_range(p.reconnect_max_ms, p.reconnect_min_ms, 3_600_000, "p2p.reconnect_max_ms")
    _check_range(p.sync_batch_blocks, 1, 10_000, "p2p.sync_batch_blocks")
    _check_range(p.misbehaviour_ban_ms, 0, 3_600_000, "p2p.misbehaviour_ban_ms")
    _check_range(p.max_misbehaviour_ban_ms, p.misbehaviour_ban_ms, 86_400_000,
                 "p2p.max_misbehaviour_ban_ms")
    seen: set[bytes] = set()
    names: set[str] = set()
    for i, peer in enumerate(p.peers):
        where = f"p2p.peers[{i}]"
        _expect(bool(_NAME_RE.match(peer.name)), f"{where}.name", "1-64 characters of A-Z a-z 0-9 _ . -")
        _expect(len(peer.public_key) == PUBLIC_KEY_SIZE, f"{where}.public_key", "32 bytes")
        _check_ws_url(peer.url, f"{where}.url")
        _expect(peer.public_key not in seen, f"{where}.public_key", "duplicate peer")
        _expect(peer.name not in names, f"{where}.name", "duplicate peer name")
        seen.add(peer.public_key)
        names.add(peer.name)
    _expect(len(set(p.observers)) == len(p.observers), "p2p.observers", "duplicate key")

    k = c.consensus
    _check_range(k.view_timeout_ms, 50, 3_600_000, "consensus.view_timeout_ms")
    _check_range(k.max_view_timeout_ms, k.view_timeout_ms, 86_400_000, "consensus.max_view_timeout_ms")

    b = c.block
    _check_range(b.max_block_txs, 1, MAX_BLOCK_TXS, "block.max_block_txs")
    _check_range(b.max_block_bytes, 64 * 1024, MAX_BLOCK_TX_BYTES, "block.max_block_bytes")
    _check_range(b.empty_block_interval_ms, 10, 3_600_000, "block.empty_block_interval_ms")
    _check_range(b.batch_interval_ms, 0, 60_000, "block.batch_interval_ms")

    m = c.mempool
    _check_range(m.max_txs, 1, 10_000_000, "mempool.max_txs")
    _check_range(m.max_bytes, 64 * 1024, 16 * 1024 * 1024 * 1024, "mempool.max_bytes")
    _check_range(m.max_txs_per_sender, 1, m.max_txs, "mempool.max_txs_per_sender")
    _check_range(m.max_expiry_blocks, 1, 100_000_000, "mempool.max_expiry_blocks")
