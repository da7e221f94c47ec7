"""Content-addressed blobs (culture works: photos, scans of calligraphy) kept by every node.

A blob is named by the SHA-256 of its bytes (hex), so anyone can check what a node serves
against the hash registered on chain. ``BlobStore`` keeps them as files under the node's
data directory (``data/blobs/ab/abcd…``), written to a temporary file, fsynced and
renamed, so a crash never leaves a half blob under a real name. Limits: one blob at most
``MAX_BLOB_BYTES`` (10 MiB), the store at most ``max_total_bytes``.

``BlobService`` replicates: when a committed block registers a hash (an event of a
watched contract carrying ``content_hash``) that this node lacks, it asks its peers over
the p2p link (``BlobRequest``/``Blob`` frames), one peer at a time, checks the hash of
what comes back and stores it; unanswered hashes are retried with backoff, and a periodic
scan of the registered works (a contract view) catches whatever was missed while the node
was down. ``add_blob_routes`` puts ``POST /v1/blobs`` and ``GET /v1/blobs/{hash}`` on the
RPC; an upload that no committed block registers within ``PENDING_TTL_S`` is deleted, and
each client's uploads are limited in bytes per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from core.errors import ChainError, DecodeError
from core.fields import parse_hex
from core.hashing import HASH_SIZE
from core.types import Block, Receipt
from node.supervisor import is_local_fault
from p2p.messages import MAX_BLOB_BYTES as MAX_BLOB_FRAME_BYTES
from p2p.messages import Blob, BlobRequest
from p2p.network import Network, Peer, Spawn, TokenBucket

if TYPE_CHECKING:
    from node.api import QueryRunner, ViewCall
    from p2p.messages import Frame

log = logging.getLogger("hkchain.blobs")

MAX_BLOB_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024
BLOBS_DIR = "blobs"
TMP_DIR = "tmp"
PENDING_DIR = "pending"
# A blob uploaded through the RPC that no committed block registers within this time is
# deleted: uploads cannot fill a node with files nobody put on chain.
PENDING_TTL_S = 24 * 3600
READ_CHUNK_BYTES = 256 * 1024
# Replication: how long one peer gets to answer, and the backoff between rounds.
FETCH_TIMEOUT_S = 15.0
RETRY_MIN_S = 1.0
RETRY_MAX_S = 30.0
MAX_WANTED = 10_000
SCAN_INTERVAL_S = 30.0
# Serving peers: bytes per second a peer may pull from us, and the burst.
SERVE_RATE_BYTES_PER_S = 50 * 1024 * 1024
SERVE_BURST_BYTES = 4 * MAX_BLOB_BYTES
MAX_SERVE_BUCKETS = 1024
MAX_CONCURRENT_SERVES = 8
# Uploads through the RPC: bytes per second per client address, and the burst.
UPLOAD_RATE_BYTES_PER_S = 1024 * 1024
UPLOAD_BURST_BYTES = 64 * 1024 * 1024
MAX_UPLOAD_CLIENTS = 10_000
# The event fields that carry a registered blob's hash (docs/APPLICATIONS.md "Readable
# content"): works and notices, proposal and spend documents, service requests'
# descriptions, dispute reasons, comments, activity descriptions.
CONTENT_HASH_FIELDS = ("content_hash", "doc_hash", "description_hash", "reason_hash", "hash")

assert MAX_BLOB_BYTES <= MAX_BLOB_FRAME_BYTES, "a blob must fit in one p2p frame"


class BlobError(ChainError):
    """A blob refused or not found. ``code``: too_large, empty, hash_mismatch,
    not_found, store_full, malformed, rate_limited."""

    code = "blob_error"


def blob_hash(data: bytes) -> bytes:
    """A blob's name: the plain SHA-256 of its bytes (what `sha256sum` prints)."""
    return hashlib.sha256(data).digest()


def parse_blob_hash(text: str) -> bytes:
    """A blob hash from 64 hex characters (an optional 0x prefix); BlobError otherwise."""
    try:
        return parse_hex(text, "a blob hash", HASH_SIZE)
    except DecodeError:
        raise BlobError("a blob hash is 64 hex characters", code="malformed") from None


class BlobStore:
    """Files named by their SHA-256 under ``root``. Methods block on disk I/O: the RPC and
    the replicator call them in a worker thread."""

    def __init__(self, root: Path, *, max_blob_bytes: int = MAX_BLOB_BYTES,
                 max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES) -> None:
        if max_blob_bytes > MAX_BLOB_BYTES:
            raise ValueError(f"max_blob_bytes above the protocol limit {MAX_BLOB_BYTES}")
        self.root = Path(root)
        self.max_blob_bytes = max_blob_bytes
        self.max_total_bytes = max_total_bytes
        (self.root / TMP_DIR).mkdir(parents=True, exist_ok=True)
        (self.root / PENDING_DIR).mkdir(exist_ok=True)
        for leftover in (self.root / TMP_DIR).iterdir():  # a crash mid-write
            with contextlib.suppress(OSError):
                leftover.unlink()
        self.total_bytes = sum(p.stat().st_size for p in self._files())

    def _files(self) -> Iterable[Path]:
        for sub in self.root.iterdir():
            if sub.is_dir() and len(sub.name) == 2:
                yield from (p for p in sub.iterdir() if len(p.name) == 2 * HASH_SIZE)

    def path(self, h: bytes) -> Path:
        name = h.hex()
        return self.root / name[:2] / name

    def has(self, h: bytes) -> bool:
        return len(h) == HASH_SIZE and self.path(h).is_file()

    def size_of(self, h: bytes) -> int | None:
        """The size of blob ``h`` on disk, or None if this store lacks it."""
        if len(h) != HASH_SIZE:
            return None
        try:
            return self.path(h).stat().st_size
        except OSError:
            return None

    def hashes(self) -> list[bytes]:
        return sorted(bytes.fromhex(p.name) for p in self._files())

    def get(self, h: bytes) -> bytes | None:
        if len(h) != HASH_SIZE:
            return None
        try:
            with open(self.path(h), "rb") as f:
                data = f.read(self.max_blob_bytes + 1)
        except FileNotFoundError:
            return None
        if blob_hash(data) != h:  # bit rot or a hand-edited file: never serve it
            log.error("blob %s on disk does not match its name; removing it", h.hex())
            self._remove(h)
            return None
        return data

    def put(self, data: bytes, expected: bytes | None = None, *, pending: bool = False) -> bytes:
        """Store ``data``; its hash. With ``expected``, refuse bytes of another hash.
        ``pending``: an upload not yet registered on chain (see ``collect_unregistered``)."""
        if not data:
            raise BlobError("a blob must not be empty", code="empty")
        if len(data) > self.max_blob_bytes:
            raise BlobError(f"blob of {len(data)} bytes exceeds {self.max_blob_bytes}",
                            code="too_large")
        h = blob_hash(data)
        if expected is not None and h != expected:
            raise BlobError("blob bytes do not match the requested hash", code="hash_mismatch")
        if self.has(h):
            return h
        if self.total_bytes + len(data) > self.max_total_bytes:
            raise BlobError("the node's blob store is full", code="store_full")
        target = self.path(h)
        target.parent.mkdir(exist_ok=True)
        tmp = self.root / TMP_DIR / f"{h.hex()}.{os.getpid()}.{time.monotonic_ns()}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if pending:
            (self.root / PENDING_DIR / h.hex()).touch()
        os.replace(tmp, target)
        self.total_bytes += len(data)
        return h

    def confirm(self, h: bytes) -> None:
        """``h`` is registered on chain: keep it for good."""
        with contextlib.suppress(OSError):
            (self.root / PENDING_DIR / h.hex()).unlink()

    def collect_unregistered(self, max_age_s: float = PENDING_TTL_S, limit: int = 10_000) -> list[bytes]:
        """Delete uploads still unregistered after ``max_age_s``; the hashes deleted."""
        cutoff = time.time() - max_age_s
        removed = []
        for marker in list((self.root / PENDING_DIR).iterdir())[:limit]:
            try:
                if marker.stat().st_mtime > cutoff:
                    continue
                h = bytes.fromhex(marker.name)
            except (OSError, ValueError):
                continue
            if len(h) == HASH_SIZE:
                self._remove(h)
                removed.append(h)
            with contextlib.suppress(OSError):
                marker.unlink()
        return removed

    def _remove(self, h: bytes) -> None:
        p = self.path(h)
        with contextlib.suppress(OSError):
            self.total_bytes -= p.stat().st_size
            p.unlink()


def content_hashes(receipts: Sequence[Receipt], contracts: Sequence[str]) -> list[bytes]:
    """The blob hashes that committed events of ``contracts`` register."""
    out = []
    for r in receipts:
        if not r.ok:
            continue
        for ev in r.events:
            if ev.contract in contracts:
                for name in CONTENT_HASH_FIELDS:
                    h = ev.fields.get(name)
                    if type(h) is bytes and len(h) == HASH_SIZE:
                        out.append(h)
    return out


class BlobService:
    """A node's blobs: the store, serving peers, and fetching registered blobs it lacks.

    ``registered`` (optional) lists every blob hash the chain has registered (a view of
    the culture contract on the head state); it drives the periodic catch-up scan.
    """

    def __init__(
        self,
        store: BlobStore,
        network: Network,
        *,
        contracts: Sequence[str] = ("culture",),
        registered: Callable[[], Awaitable[list[bytes]]] | None = None,
        fetch_timeout_s: float = FETCH_TIMEOUT_S,
        scan_interval_s: float = SCAN_INTERVAL_S,
        pending_ttl_s: float = PENDING_TTL_S,
    ) -> None:
        self.store = store
        self.network = network
        self.contracts = tuple(contracts)
        self.registered = registered
        self.fetch_timeout_s = fetch_timeout_s
        self.scan_interval_s = scan_interval_s
        self.pending_ttl_s = pending_ttl_s
        # hash -> earliest loop time of the next attempt
        self.wanted: OrderedDict[bytes, float] = OrderedDict()
        self._backoff: dict[bytes, float] = {}
        self._waiting: dict[bytes, tuple[bytes, asyncio.Future[bytes | None]]] = {}
        self._buckets: OrderedDict[bytes, TokenBucket] = OrderedDict()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._serving: set[asyncio.Task[None]] = set()
        self._scan_error: str | None = None  # the last reason the scan could not list works
        self.fetched = 0
        self.failed_rounds = 0  # fetch rounds that asked every peer and got nothing valid
        self.served = 0
        network.handle(BlobRequest.TAG, self._on_request)
        network.handle(Blob.TAG, self._on_blob)

    # --- lifecycle ---------------------------------------------------------------------

    def start(self, spawn: Spawn | None = None) -> None:
        """Run the fetch and scan loops: under the host's supervisor if given (a loop that
        fails is restarted, a local fault stops the node), else as bare tasks."""
        if spawn is not None:
            spawn("blob fetch", self._fetch_loop)
            spawn("blob scan", self._scan_loop)
            return
        self._tasks = [asyncio.create_task(self._fetch_loop()),
                       asyncio.create_task(self._scan_loop())]

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._serving]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []

    # --- what to fetch -----------------------------------------------------------------

    def on_block_committed(self, block: Block, receipts: Sequence[Receipt]) -> None:
        """Called by the node after each commit: want every newly registered blob."""
        self.want(content_hashes(receipts, self.contracts))

    def want(self, hashes: Iterable[bytes]) -> None:
        now = asyncio.get_running_loop().time()
        added = False
        for h in hashes:
            if self.store.has(h):
                self.store.confirm(h)
                continue
            if h in self.wanted:
                continue
            if len(self.wanted) >= MAX_WANTED:
                log.warning("too many blobs wanted; %s left for the next scan", h.hex())
                break
            self.wanted[h] = now
            added = True
        if added:
            self._wake.set()

    async def _scan_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self.registered is not None:
                try:
                    self.want(await self.registered())
                except ChainError as exc:
                    if is_local_fault(exc):
                        raise  # the node's own store: the supervisor stops the node
                    # Said once at WARNING (a chain without the culture application says
                    # it at every scan), again only when the reason changes.
                    level = logging.DEBUG if exc.message == self._scan_error else logging.WARNING
                    self._scan_error = exc.message
                    log.log(level, "blob scan: the registered works could not be listed: %s (%s)",
                            exc.message, exc.code)
                else:
                    self._scan_error = None
            removed = await loop.run_in_executor(None, self.store.collect_unregistered, self.pending_ttl_s)
            if removed:
                log.info("deleted %d uploaded blobs never registered on chain", len(removed))
            await asyncio.sleep(self.scan_interval_s)

    async def _fetch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            due = [h for h, t in self.wanted.items() if t <= now]
            for h in due:
                got = await self._fetch(h)
                if got:
                    self.wanted.pop(h, None)
                    self._backoff.pop(h, None)
                else:
                    delay = min(RETRY_MAX_S, self._backoff.get(h, RETRY_MIN_S / 2) * 2)
                    self._backoff[h] = delay
                    self.failed_rounds += 1
                    if h in self.wanted:
                        self.wanted[h] = loop.time() + delay
            self._wake.clear()
            next_at = min(self.wanted.values(), default=loop.time() + RETRY_MAX_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.05, next_at - loop.time()))

    async def _fetch(self, h: bytes) -> bool:
        """Ask peers one at a time; True once a blob of hash ``h`` is stored."""
        if self.store.has(h):
            return True
        loop = asyncio.get_running_loop()
        for key in list(self.network.peers):
            fut: asyncio.Future[bytes | None] = loop.create_future()
            self._waiting[h] = (key, fut)
            if not self.network.send(key, BlobRequest(h)):
                self._waiting.pop(h, None)
                continue
            try:
                data = await asyncio.wait_for(fut, self.fetch_timeout_s)
            except TimeoutError:
                data = None
            finally:
                self._waiting.pop(h, None)
            if data is None:
                continue
            try:
                await loop.run_in_executor(None, self.store.put, data, h)
            except BlobError as exc:
                log.warning("blob %s from a peer refused: %s", h.hex()[:12], exc.message)
                continue
            self.fetched += 1
            log.info("replicated blob %s (%d bytes)", h.hex()[:12], len(data))
            return True
        return False

    # --- peers -------------------------------------------------------------------------

    def _on_blob(self, peer: Peer, frame: Frame) -> None:
        assert isinstance(frame, Blob)
        waiting = self._waiting.get(frame.blob_hash)
        if waiting is None or waiting[0] != peer.public_key or waiting[1].done():
            return  # unasked-for bytes are dropped, never stored
        if not frame.found:
            waiting[1].set_result(None)
        elif blob_hash(frame.data) != frame.blob_hash:
            log.warning("peer %s sent a blob that does not match its hash", peer.label)
            waiting[1].set_result(None)
        else:
            waiting[1].set_result(frame.data)

    def _on_request(self, peer: Peer, frame: Frame) -> None:
        assert isinstance(frame, BlobRequest)
        h = frame.blob_hash
        loop = asyncio.get_running_loop()
        bucket = self._buckets.get(peer.public_key)
        if bucket is None:
            bucket = TokenBucket(SERVE_RATE_BYTES_PER_S, SERVE_BURST_BYTES, loop.time())
            self._buckets[peer.public_key] = bucket
            if len(self._buckets) > MAX_SERVE_BUCKETS:
                self._buckets.popitem(last=False)
        size = self.store.size_of(h)
        # Refuse before reading: a flood of requests must cost neither memory nor disk.
        if size is None or len(self._serving) >= MAX_CONCURRENT_SERVES or not bucket.take(loop.time(), size):
            if size is not None:
                log.info("peer %s pulls blobs too fast; answering not found", peer.label)
            peer.send(Blob(h, False, b""))
            return
        task = asyncio.create_task(self._serve(peer, h))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    async def _serve(self, peer: Peer, h: bytes) -> None:
        data = await asyncio.get_running_loop().run_in_executor(None, self.store.get, h)
        peer.send(Blob(h, data is not None, data or b""))
        if data is not None:
            self.served += 1


# --- RPC routes ------------------------------------------------------------------------


def add_blob_routes(router: web.UrlDispatcher, service: BlobService) -> None:
    """``POST /v1/blobs`` (raw bytes → {hash, size}) and ``GET /v1/blobs/{hash}``."""

    buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take_upload_budget(client: str, size: int) -> None:
        now = time.monotonic()
        bucket = buckets.pop(client, None) or TokenBucket(UPLOAD_RATE_BYTES_PER_S, UPLOAD_BURST_BYTES, now)
        buckets[client] = bucket
        if len(buckets) > MAX_UPLOAD_CLIENTS:
            buckets.popitem(last=False)
        if not bucket.take(now, size):
            raise BlobError("too many bytes uploaded from this client; retry later", code="rate_limited")

    async def post_blob(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > service.store.max_blob_bytes:
            raise BlobError(f"blob exceeds {service.store.max_blob_bytes} bytes", code="too_large")
        # Read the stream ourselves: the app's body limit is sized for txs, not files.
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = await request.content.read(READ_CHUNK_BYTES)
            if not chunk:
                break
            size += len(chunk)
            if size > service.store.max_blob_bytes:
                raise BlobError(f"blob exceeds {service.store.max_blob_bytes} bytes", code="too_large")
            chunks.append(chunk)
        data = b"".join(chunks)
        take_upload_budget(request.remote or "?", len(data))
        h = await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(service.store.put, data, pending=True))
        if h in service.wanted:  # registered before it was uploaded: keep it, stop looking
            service.want([h])
        return web.json_response({"hash": h.hex(), "size": len(data)}, status=201)

    async def get_blob(request: web.Request) -> web.Response:
        h = parse_blob_hash(request.match_info["hash"])
        data = await asyncio.get_running_loop().run_in_executor(None, service.store.get, h)
        if data is None:
            raise BlobError(f"no blob {h.hex()} on this node (yet)", code="not_found")
        return web.Response(body=data, content_type="application/octet-stream",
                            headers={"ETag": f'"{h.hex()}"',
                                     "Cache-Control": "public, max-age=31536000, immutable",
                                     "X-Content-Type-Options": "nosniff"})

    router.add_post("/v1/blobs", _answering_errors(post_blob))
    router.add_get("/v1/blobs/{hash}", _answering_errors(get_blob))


BLOB_ERROR_STATUS = {"too_large": 413, "not_found": 404, "store_full": 507, "rate_limited": 429}

Handler = Callable[[web.Request], Awaitable[web.Response]]


def _answering_errors(handler: Handler) -> Handler:
    """A BlobError becomes the RPC's error body with the status its code deserves."""

    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except BlobError as exc:
            return web.json_response({"error": {"code": exc.code, "message": exc.message}},
                                     status=BLOB_ERROR_STATUS.get(exc.code, 400))

    return wrapped


def blob_openapi_paths() -> dict[str, Any]:
    """The OpenAPI entries of the blob routes (merged into the node's document)."""
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {
        "/v1/blobs": {"post": {
            "summary": "Upload a blob (raw bytes, at most 10 MiB); answers its SHA-256",
            "requestBody": {"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}},
            "responses": {
                "201": {"description": "stored", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"hash": {"type": "string"},
                                                     "size": {"type": "integer"}}}}}},
                "400": {"description": "empty body (empty)", **err},
                "413": {"description": "larger than 10 MiB (too_large)", **err},
                "429": {"description": "this client uploaded too much lately (rate_limited)", **err},
                "507": {"description": "the node's blob store is full (store_full)", **err},
            },
        }},
        "/v1/blobs/{hash}": {"get": {
            "summary": "A blob by its SHA-256 (hex); registered works are on every node",
            "parameters": [{"name": "hash", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^(0x)?[0-9a-fA-F]{64}$"}}],
            "responses": {
                "200": {"description": "the bytes", "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}},
                "400": {"description": "not a SHA-256 in hex (malformed)", **err},
                "404": {"description": "not on this node (yet) (not_found)", **err},
            },
        }},
    }


# --- wiring into a node ----------------------------------------------------------------

# Contracts whose events register blobs (field ``content_hash``) every node should hold.
REPLICATED_CONTRACTS = ("culture", "notices", "assembly", "governance", "services", "property",
                        "activities")
# Each catch-up scan also reads the newest page of these lists (contract, view, filter
# args, record fields holding hashes): what a node missed while down is fetched later.
SCANNED_LISTS: tuple[tuple[str, str, list[Any], tuple[str, ...]], ...] = (
    ("notices", "notices", [""], ("content_hash",)),
    ("assembly", "drafts", [""], ("doc_hash",)),
    ("governance", "proposals", [""], ("doc_hash",)),
    ("services", "requests", ["", "", ""], ("description_hash",)),
    ("activities", "activities", ["", ""], ("description_hash",)),
)
SCAN_PAGE = 50
MAX_SCAN_WORKS = 4096


def open_blob_service(data_dir: Path, network: Network, node: QueryRunner) -> BlobService:
    """The blob service of a node: files under its ``data_dir``, replicating registered
    culture works (and notice documents) over its p2p ``network``; ``node`` answers the
    contract views that list registered works (in its query workers, off the loop)."""
    store = BlobStore(data_dir / BLOBS_DIR)

    scanned_upto = 0  # works below this id were looked at (all of them once per start)

    def scan(view: ViewCall, upto: int) -> tuple[int, list[bytes]]:
        # In a query worker, every view at one height: works registered since ``upto``,
        # newest first, at most MAX_SCAN_WORKS a round, then the newest page of each list.
        count = view("culture", "count", [])
        if type(count) is not int:
            return upto, []
        out = []
        for work_id in range(count, max(upto, count - MAX_SCAN_WORKS), -1):
            work = view("culture", "work", [work_id])
            h = work.get("content_hash") if isinstance(work, dict) else None
            if type(h) is bytes and len(h) == HASH_SIZE:
                out.append(h)
        for contract, list_view, filters, fields in SCANNED_LISTS:
            try:
                page = view(contract, list_view, [*filters, 0, SCAN_PAGE])
            except ChainError:
                continue  # a chain without this application
            items = page.get("items") if isinstance(page, dict) else None
            for item in items if isinstance(items, list) else []:
                for name in fields:
                    h = item.get(name) if isinstance(item, dict) else None
                    if type(h) is bytes and len(h) == HASH_SIZE:
                        out.append(h)
        return count, out

    async def registered() -> list[bytes]:
        nonlocal scanned_upto
        scanned_upto, out = await node.read_views(functools.partial(scan, upto=scanned_upto))
        return out

    return BlobService(store, network, contracts=REPLICATED_CONTRACTS, registered=registered)
