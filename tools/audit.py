"""The committees' regular risk check of one node home (`hkchain audit`).

``audit_home(home)`` looks at a node's home directory and, if the node runs, at its RPC,
and returns one ``Finding`` per item with a verdict: ``ok``, ``warn``, ``fail``, or
``skip`` when the item could not be measured (it then says why instead of guessing).
Items: key file mode and encryption, RPC and p2p binds and TLS, rate limits, version,
disk space and data size, peer connectivity, clock offset, WAL and store integrity, and
evidence of equivocation. The store is opened only when no node holds it (LevelDB's lock
says so); a running node's store is reported as in use, never opened beside it.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import os
import shutil
import socket
import ssl
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from core.crypto import is_key_file_encrypted
from core.errors import KeyFileError
from node.config import ConfigError, NodeConfig
from node.rpc import tls_context

VERDICTS = ("ok", "warn", "fail", "skip")
RPC_TIMEOUT_S = 3.0
MAX_RPC_BYTES = 4 * 1024 * 1024
# Free space below which a node will soon stop on a full disk (warn) or is about to (fail).
FAIL_FREE_BYTES = 1 << 30
WARN_FREE_BYTES = 10 << 30
WARN_FREE_FRACTION_PERCENT = 10
# A clock further than this from the latest block's proposer breaks block time checks.
WARN_CLOCK_OFFSET_MS = 5_000
MAX_DATA_FILES = 1_000_000
# Days until the disk is full at the chain's current pace.
FAIL_DAYS_LEFT = 14
WARN_DAYS_LEFT = 90
DAY_MS = 86_400_000
MIN_PACE_BLOCKS = 1_000
# Days left on the RPC's TLS certificate below which to renew.
WARN_CERT_DAYS_LEFT = 21


@dataclass(frozen=True)
class Finding:
    item: str
    verdict: str
    detail: str
    action: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict}")


@dataclass(frozen=True)
class AuditReport:
    home: str
    node: str
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> bool:
        return any(f.verdict == "fail" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        counts = {v: sum(1 for f in self.findings if f.verdict == v) for v in VERDICTS}
        return {"home": self.home, "node": self.node, "verdict": "fail" if self.failed else
                ("warn" if counts["warn"] else "ok"), "counts": counts,
                "findings": [asdict(f) for f in self.findings]}


# --- RPC ---------------------------------------------------------------------------------

Fetch = Callable[[str], Any]


def http_get_json(url: str, context: ssl.SSLContext | None = None) -> Any:
    """GET ``url`` and decode JSON; raises OSError (URLError is one) or ValueError."""
    with urllib.request.urlopen(url, timeout=RPC_TIMEOUT_S, context=context) as resp:
        return json.loads(resp.read(MAX_RPC_BYTES))


def _local_host(config: NodeConfig) -> str:
    host = config.rpc.host
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def local_rpc_url(config: NodeConfig) -> str:
    """Where this machine reaches the node's RPC (an all-interfaces bind via loopback)."""
    host = _local_host(config)
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if config.rpc.tls else 'http'}://{host}:{config.rpc.port}"


def local_tls_context(config: NodeConfig, home: Path) -> ssl.SSLContext | None:
    """How the audit talks TLS to its own node: it trusts the configured certificate (and
    the system's CAs) but not its name, since it dials the listener's address, which the
    certificate need not name. None without TLS."""
    paths = config.rpc_tls_paths(home)
    if paths is None:
        return None
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # the served leaf itself is trusted
    with contextlib.suppress(OSError, ssl.SSLError):
        ctx.load_verify_locations(cafile=str(paths[0]))
    return ctx


# --- the items ---------------------------------------------------------------------------


def check_key(home: Path, config: NodeConfig) -> list[Finding]:
    return check_key_file(config.key_path(home), "key", "the validator's signing key")


def audit_operator_key(network_home: Path) -> AuditReport:
    """The funded operator key of a local network's home (``operator.key``)."""
    path = network_home / "operator.key"
    return AuditReport(str(network_home), "operator",
                       tuple(check_key_file(path, "operator key", "the funded operator key")))


def check_key_file(path: Path, label: str, what: str) -> list[Finding]:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        return [Finding(f"{label} file", "fail", f"{path} cannot be read: {exc.strerror}",
                        "restore the key from its backup")]
    out: list[Finding] = []
    if mode & 0o077:
        out.append(Finding(f"{label} file mode", "fail",
                           f"{path} has mode {mode:04o}: other users of this machine can read "
                           f"{what}",
                           f"chmod 600 {path}, and rotate the key if others may have copied it"))
    else:
        out.append(Finding(f"{label} file mode", "ok", f"{path} has mode {mode:04o} (owner only)"))
    try:
        encrypted = is_key_file_encrypted(path)
    except KeyFileError as exc:
        return [*out, Finding(f"{label} encryption", "fail", exc.message, "restore the key file")]
    if encrypted:
        out.append(Finding(f"{label} encryption", "ok", "the key is encrypted with a passphrase"))
    else:
        out.append(Finding(f"{label} encryption", "warn",
                           f"the key is stored unencrypted: a stolen disk or backup is {what} "
                           "stolen",
                           "encrypt it (hkchain keys new --encrypt) if an operator can type "
                           "the passphrase at each start; keep the disk encrypted otherwise"))
    return out


def is_loopback(host: str) -> bool:
    """Whether ``host`` (as written, never looked up) names this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_all_interfaces(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")


def check_binds(config: NodeConfig) -> list[Finding]:
    out: list[Finding] = []
    r = config.rpc
    where = f"{r.host}:{r.port}"
    if is_loopback(r.host):
        out.append(Finding("rpc bind", "ok", f"RPC listens on {where}, loopback only"))
    elif r.tls:
        out.append(Finding("rpc bind", "ok", f"RPC listens on {where} with TLS"))
    elif _is_all_interfaces(r.host):
        out.append(Finding("rpc bind", "fail",
                           f"RPC listens on {where}, every interface, without TLS: anyone on "
                           "the network can reach it and read or alter its traffic",
                           "bind rpc.host to 127.0.0.1 and put a TLS-terminating reverse proxy "
                           "(nginx, Caddy) in front for remote clients"))
    else:
        out.append(Finding("rpc bind", "warn",
                           f"RPC listens on {where}, reachable from that network, without TLS",
                           "serve it through a TLS-terminating reverse proxy (nginx, Caddy), "
                           "or bind to 127.0.0.1"))
    p = config.p2p
    where = f"{p.host}:{p.port}"
    remote_peers = [peer.name for peer in p.peers if not _peer_on_loopback(peer.url)]
    if is_loopback(p.host):
        if remote_peers:
            out.append(Finding("p2p bind", "warn",
                               f"p2p listens on {where}, loopback only, but peers "
                               f"{', '.join(remote_peers)} are elsewhere: they cannot dial in",
                               "bind p2p.host to the interface the peers reach"))
        else:
            out.append(Finding("p2p bind", "ok", f"p2p listens on {where}, loopback only"))
    elif _is_all_interfaces(p.host):
        out.append(Finding("p2p bind", "warn",
                           f"p2p listens on {where}, every interface: peers authenticate, but "
                           "any host can open connections and spend the node's handshakes",
                           "bind p2p.host to the one interface the peers reach, and let the "
                           "firewall admit only the peers' addresses"))
    else:
        out.append(Finding("p2p bind", "ok",
                           f"p2p listens on {where}; peers authenticate with their node keys "
                           "and every frame is encrypted"))
    return out


def _peer_on_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return is_loopback(urlsplit(url).hostname or "")


def check_rpc_tls(config: NodeConfig, home: Path, running: bool, now_s: float,
                  context: ssl.SSLContext | None) -> Finding:
    """Whether the RPC serves TLS itself; if so, that its files serve and, on a running
    node, what the live certificate is and how long it has left."""
    r = config.rpc
    paths = config.rpc_tls_paths(home)
    if paths is None:
        if is_loopback(r.host):
            return Finding("rpc tls", "ok", "off: plain HTTP on loopback only (remote clients "
                           "reach it through a TLS-terminating reverse proxy, docs/RPC.md)")
        return Finding("rpc tls", "warn", f"off: plain HTTP on {r.host}:{r.port}",
                       "set rpc.tls_cert_file and rpc.tls_key_file, or bind to 127.0.0.1 "
                       "behind a TLS-terminating reverse proxy (docs/RPC.md)")
    cert_file, key_file = paths
    try:
        tls_context(cert_file, key_file)
    except ConfigError as exc:
        return Finding("rpc tls", "fail", f"on, but the node cannot serve it: {exc.message}",
                       "give rpc.tls_cert_file a PEM certificate chain and rpc.tls_key_file "
                       "its unencrypted PEM key")
    key_mode = stat.S_IMODE(key_file.stat().st_mode)
    if key_mode & 0o077:
        return Finding("rpc tls", "fail", f"on, but the TLS key {key_file} has mode {key_mode:04o}: "
                       "other users can read it", f"chmod 600 {key_file}")
    if not running or context is None:
        return Finding("rpc tls", "ok", f"on ({cert_file}); the node is stopped, so the "
                       "certificate it serves was not checked")
    try:
        with socket.create_connection((_local_host(config), r.port), timeout=RPC_TIMEOUT_S) as raw, \
                context.wrap_socket(raw) as tls:
            peer = tls.getpeercert()
    except (OSError, ssl.SSLError) as exc:
        return Finding("rpc tls", "fail", f"on, but the RPC does not serve the configured "
                       f"certificate over TLS: {exc}",
                       "restart the node after changing its certificate files")
    days_left = int((ssl.cert_time_to_seconds(str(peer["notAfter"])) - now_s) // 86_400) if peer else 0
    text = f"on ({cert_file}), certificate valid for {days_left} more days"
    if days_left < 0:
        return Finding("rpc tls", "fail", f"on, but the certificate expired {-days_left} days ago",
                       "renew it, then restart the node")
    if days_left < WARN_CERT_DAYS_LEFT:
        return Finding("rpc tls", "warn", text, "renew the certificate soon, then restart the node")
    return Finding("rpc tls", "ok", text)


def check_rate_limits(config: NodeConfig) -> Finding:
    r, p = config.rpc, config.p2p
    text = (f"RPC {r.rate_limit_per_s}/s (burst {r.rate_burst}) per client, queries "
            f"{r.query_gas_per_s:,} gas/s per client, {r.max_queries_per_client} at once; "
            f"p2p {p.rate_limit_frames_per_s} frames/s (burst {p.rate_burst_frames}) per peer")
    if r.rate_limit_per_s > 10 * 200 or r.rate_burst > 10 * 400:
        return Finding("rate limits", "warn", text + ": RPC limit over 10x the default",
                       "lower rpc.rate_limit_per_s / rpc.rate_burst unless one client "
                       "really needs that much")
    return Finding("rate limits", "ok", text)


def check_version() -> Finding:
    try:
        version = metadata.version("hkchain")
    except metadata.PackageNotFoundError:
        return Finding("version", "warn", "hkchain is not installed as a package: version unknown",
                       "install a released version (pip install hkchain)")
    return Finding("version", "ok", f"hkchain {version}")


def _dir_size(path: Path) -> int:
    total = 0
    count = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            count += 1
            if count > MAX_DATA_FILES:
                return total
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                continue
    return total


@dataclass(frozen=True)
class ChainPace:
    """How fast the chain grows: blocks committed over the time between two headers."""

    height: int
    blocks: int
    span_ms: int

    @property
    def blocks_per_day(self) -> int:
        return self.blocks * DAY_MS // self.span_ms if self.span_ms > 0 else 0


def check_disk(home: Path, config: NodeConfig, pace: ChainPace | None,
               usage: Callable[[Path], Any] = shutil.disk_usage) -> list[Finding]:
    data = config.data_path(home)
    disk = usage(data if data.exists() else home)
    size = _dir_size(data) if data.exists() else 0
    free_text = f"{disk.free / 2**30:.1f} GiB free of {disk.total / 2**30:.1f} GiB"
    size_text = f"data dir {data} holds {size / 2**20:.1f} MiB"
    days_left: int | None = None
    if pace is not None and pace.height > 0:
        per_block = size // pace.height
        size_text += f" ({per_block:,} bytes per block over {pace.height:,} blocks)"
        per_day = per_block * pace.blocks_per_day
        if pace.height < MIN_PACE_BLOCKS:
            # A young store is mostly fixed overhead (genesis, LevelDB's files): dividing it
            # by a few blocks would project a growth many times the real one.
            size_text += f"; growth not projected before {MIN_PACE_BLOCKS:,} blocks"
        elif per_day > 0:
            days_left = disk.free // per_day
            size_text += (f"; growing about {per_day / 2**20:,.1f} MiB a day at "
                          f"{pace.blocks_per_day:,} blocks a day")
            free_text += f", full in about {days_left:,} days at that pace"
    out = [Finding("data size", "ok", size_text)]
    if disk.free < FAIL_FREE_BYTES or (days_left is not None and days_left < FAIL_DAYS_LEFT):
        out.append(Finding("disk space", "fail", free_text + ": the node stops when the disk fills",
                           "free space or move data_dir to a larger disk now"))
    elif (disk.free < WARN_FREE_BYTES or disk.free * 100 < disk.total * WARN_FREE_FRACTION_PERCENT
          or (days_left is not None and days_left < WARN_DAYS_LEFT)):
        out.append(Finding("disk space", "warn", free_text, "plan more space within weeks"))
    else:
        out.append(Finding("disk space", "ok", free_text))
    return out


def chain_pace(url: str, status: dict[str, Any], fetch: Fetch) -> ChainPace | None:
    """From the head's and block 1's timestamps (None if the node does not say)."""
    height = status.get("height")
    latest = status.get("latest_time_ms")
    if not isinstance(height, int) or not isinstance(latest, int) or height < 2:
        return None
    try:
        first = fetch(url + "/v1/blocks/1")
        t1 = first["header"]["timestamp_ms"]
    except (OSError, ValueError, KeyError, TypeError):
        return ChainPace(height, 0, 0)
    if not isinstance(t1, int):
        return ChainPace(height, 0, 0)
    return ChainPace(height, height - 1, latest - t1)


def check_peers(config: NodeConfig, status: dict[str, Any] | None, why: str) -> Finding:
    if status is None:
        return Finding("peers", "skip", f"not measured: {why}", "start the node and audit again")
    connected = {p.get("name") for p in status.get("peers", []) if isinstance(p, dict)}
    configured = [p.name for p in config.p2p.peers]
    missing = [n for n in configured if n not in connected]
    text = f"{len(connected)} of {len(configured)} configured peers connected"
    if not configured:
        return Finding("peers", "ok", "no peers configured (a single-node network)")
    if not connected:
        return Finding("peers", "fail", text + ": the node is cut off and cannot commit",
                       "check the network path and the peers' p2p ports")
    if missing:
        return Finding("peers", "warn", text + f"; missing {', '.join(missing)}",
                       "ask those committees whether their node is up; check firewalls")
    return Finding("peers", "ok", text)


def check_clock(config: NodeConfig, status: dict[str, Any] | None, why: str,
                now_ms: int) -> Finding:
    """Against the proposer of the latest block: its timestamp is the proposer's clock.
    A fresh head bounds the offset; an old head cannot tell a slow chain from a fast clock."""
    if status is None or not isinstance(status.get("latest_time_ms"), int):
        return Finding("clock offset", "skip", f"not measured: {why}")
    age = now_ms - status["latest_time_ms"]
    interval = config.block.empty_block_interval_ms
    if age < -WARN_CLOCK_OFFSET_MS:
        return Finding("clock offset", "warn",
                       f"this clock is at least {-age / 1000:.1f} s behind the proposer of "
                       "the latest block",
                       "enable time synchronisation (chrony/systemd-timesyncd)")
    if age <= interval + WARN_CLOCK_OFFSET_MS:
        return Finding("clock offset", "ok",
                       f"within {WARN_CLOCK_OFFSET_MS // 1000} s of the latest block's proposer "
                       f"(block age {age} ms, blocks at least every {interval} ms)")
    return Finding("clock offset", "skip",
                   f"not measured: the head block is {age / 1000:.1f} s old, so a stalled "
                   "chain cannot be told from a clock that runs ahead",
                   "check that the chain commits, then audit again")


def check_store(home: Path, config: NodeConfig, running: bool) -> list[Finding]:
    chain_dir = config.data_path(home) / "chain"
    if running:
        return [Finding("store integrity", "skip", "not checked: the store is in use by the "
                        "running node", "audit again while the node is stopped")]
    if not chain_dir.exists():
        return [Finding("store integrity", "ok", f"no store yet at {chain_dir} (never started)")]
    import plyvel

    from consensus.wal import MAX_VOTE_RECORD_BYTES
    from storage.chain import ChainStore
    from storage.errors import StorageError
    from storage.wal import ConsensusWAL

    try:
        store = ChainStore.open(chain_dir)
    except StorageError as exc:
        if "lock" in exc.message.lower():
            return [Finding("store integrity", "skip", "not checked: the store is in use (a "
                            "node holds its lock)", "audit again while the node is stopped")]
        return [Finding("store integrity", "fail", f"the store does not open: {exc.message}",
                        "restore data_dir from a backup, or resync from the peers")]
    except (plyvel.Error, ValueError) as exc:
        return [Finding("store integrity", "fail", f"the store does not open: {exc}",
                        "restore data_dir from a backup, or resync from the peers")]
    try:
        out = [Finding("store integrity", "ok",
                       f"head at height {store.height}; its state root matches its header")]
        try:
            record = ConsensusWAL(store.kv, max_record_bytes=MAX_VOTE_RECORD_BYTES).load()
        except StorageError as exc:
            out.append(Finding("wal", "fail", f"the consensus WAL cannot be read: {exc.message}",
                               "do not start the node until it is restored: a validator "
                               "without its WAL may vote twice"))
        else:
            if record is not None and len(record) > MAX_VOTE_RECORD_BYTES:
                out.append(Finding("wal", "fail", f"the WAL record is {len(record)} bytes, over "
                                   f"its bound of {MAX_VOTE_RECORD_BYTES}", "restore data_dir"))
            else:
                size = 0 if record is None else len(record)
                out.append(Finding("wal", "ok", f"the consensus WAL reads ({size} bytes)"))
        return out
    finally:
        store.close()


def check_evidence(evidence: dict[str, Any] | None, why: str) -> Finding:
    if evidence is None:
        return Finding("evidence", "skip", f"not measured: {why}")
    count = evidence.get("count", 0)
    if not isinstance(count, int) or count == 0:
        return Finding("evidence", "ok", "no validator has signed two blocks for one height")
    who = sorted({str(e.get("validator", e.get("name", "?"))) for e in evidence.get("evidence", [])
                  if isinstance(e, dict)})
    return Finding("evidence", "warn",
                   f"{count} equivocation record(s) seen" + (f" ({', '.join(who)})" if who else ""),
                   "GET /v1/evidence shows them; tell the committees: the validator's key may "
                   "be stolen or its node broken")


def audit_home(home: Path, *, fetch: Fetch | None = None, now_ms: int | None = None) -> AuditReport:
    """Every item for the node in ``home`` (a directory with config.json)."""
    config = NodeConfig.load(home)
    url = local_rpc_url(config)
    context = local_tls_context(config, home)
    if fetch is None:
        fetch = functools.partial(http_get_json, context=context)
    status: dict[str, Any] | None = None
    evidence: dict[str, Any] | None = None
    why = "the node's RPC does not answer (node stopped?)"
    try:
        doc = fetch(url + "/v1/status")
        if isinstance(doc, dict):
            status = doc
            ev = fetch(url + "/v1/evidence")
            evidence = ev if isinstance(ev, dict) else None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
        why = f"the node's RPC at {url} does not answer ({reason}); is the node stopped?"
    pace = chain_pace(url, status, fetch) if status is not None else None
    findings: list[Finding] = []
    findings += check_key(home, config)
    findings += check_binds(config)
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    findings.append(check_rpc_tls(config, home, status is not None, now_ms / 1000, context))
    findings.append(check_rate_limits(config))
    findings.append(check_version())
    findings += check_disk(home, config, pace)
    findings.append(check_peers(config, status, why))
    findings.append(check_clock(config, status, why,
                                now_ms))
    findings += check_store(home, config, running=status is not None)
    findings.append(check_evidence(evidence, why))
    return AuditReport(str(home), config.name, tuple(findings))
