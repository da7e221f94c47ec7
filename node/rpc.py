"""The node's HTTP RPC (aiohttp, JSON): submit txs, read txs, blocks, state and proofs,
subscribe to blocks and events, scrape metrics. Every route is described in the OpenAPI
document served at ``/openapi.json`` (built here, next to the handlers).

Bad input never gets a 500: bodies are size-limited (413 ``too_large``), decoded strictly
(400 ``malformed``), batches bounded (413 ``batch_too_large``), clients rate-limited per
address (429 ``rate_limited``). Every error body is ``{"error": {"code", "message"}}``
with a stable code. A tx is answered with its hash or the mempool's refusal code. With
``rpc.tls_cert_file`` and ``rpc.tls_key_file`` set it serves TLS itself (https, wss).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from core import codec
from core.crypto import parse_address
from core.errors import AddressError, ChainError, DecodeError, ValidationError
from core.fields import parse_hex, parse_uint
from core.hashing import HASH_SIZE
from core.render import (
    block_json,
    value_from_json,
    value_to_json,
)
from core.types import TAG_SIGNED_TX, SignedTx
from node.blobs import BlobService, add_blob_routes, blob_openapi_paths
from node.config import ConfigError, RpcConfig
from node.events import Subscription
from node.evidence import DEFAULT_EVIDENCE_PAGE, MAX_EVIDENCE_PAGE
from node.queries import QueryRefused
from node.register import RegisterService, add_register_routes, register_openapi_paths
from node.rpc_errors import HTTP_STATUS_CODES, status_of
from node.statement import StatementError
from node.webapp import add_web_routes
from p2p.network import TokenBucket
from storage.state import MAX_STATE_KEY_BYTES
from vm.api import QueryError

if TYPE_CHECKING:
    from node.api import NodeApi

log = logging.getLogger("hkchain.rpc")

MSGPACK_TYPES = ("application/msgpack", "application/x-msgpack", "application/vnd.msgpack")
MAX_RATE_CLIENTS = 10_000
MAX_WS_CLIENT_MESSAGE_BYTES = 4096
WS_TOPICS = ("blocks", "events", "validators")
MAX_QUERY_ARGS = 32
MAX_NAME_CHARS = 64
# GET /v1/blocks pages a range: a page holds at most this many blocks and stops early
# once its txs pass MAX_RANGE_TXS, so one answer stays a few MB at most.
MAX_RANGE_BLOCKS = 256
MAX_RANGE_TXS = 5_000



class RpcError(ChainError):
    """An error answer: ``code`` for machines, message for people, HTTP status."""

    def __init__(self, status: int, code: str, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.retry_after_s = retry_after_s


def error_response(http_status: int, code: str, message: str, **extra: Any) -> web.Response:
    body = {**extra, "error": {"code": code, "message": message}}
    return web.json_response(body, status=http_status)


def _parse_hash(text: str, what: str) -> bytes:
    try:
        return parse_hex(text, what, HASH_SIZE)
    except DecodeError as exc:
        raise RpcError(400, "malformed", exc.message) from None


def _before_snapshot(snapshot: int | None, height: int) -> str:
    if snapshot is None or not 0 < height <= snapshot:
        return ""
    return (f": this node joined by state sync at height {snapshot} and keeps no blocks or "
            f"receipts before {snapshot + 1}; ask a node that keeps the whole chain")


def _parse_height(text: str, what: str = "height") -> int:
    try:
        return parse_uint(text, what)
    except DecodeError as exc:
        raise RpcError(400, "malformed", exc.message) from None


def tls_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """The server side of the RPC's TLS from a PEM certificate chain and key; ConfigError
    naming the file and what is wrong with it (unreadable, not PEM, key not matching the
    certificate, key encrypted) before anything listens."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    for path, where in ((cert_file, "rpc.tls_cert_file"), (key_file, "rpc.tls_key_file")):
        if not path.is_file():
            raise ConfigError(f"{where}: {path} is not a readable file")

    def no_passphrase() -> str:
        # Without this OpenSSL would prompt on the terminal for an encrypted key.
        raise ConfigError(f"rpc.tls_key_file: {key_file} is encrypted; give the node an "
                          "unencrypted key readable only by its own user")

    try:
        ctx.load_cert_chain(cert_file, key_file, password=no_passphrase)
    except ssl.SSLError as exc:
        raise ConfigError(f"rpc.tls_cert_file/rpc.tls_key_file: cannot use {cert_file} with "
                          f"{key_file}: {exc.reason or exc}") from None
    except OSError as exc:
        raise ConfigError(f"rpc.tls_cert_file/rpc.tls_key_file: cannot read {cert_file} or "
                          f"{key_file}: {exc.strerror or exc}") from None
    return ctx


class RpcServer:
    def __init__(self, node: NodeApi, blobs: BlobService, config: RpcConfig,
                 register: RegisterService | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.node = node
        self.blobs = blobs
        self.register = register
        self.config = config
        self.ssl_context = ssl_context
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._runner: web.AppRunner | None = None
        self.port = config.port
        self.app = self._build_app()

    # --- app -----------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.config.max_body_bytes,
            middlewares=[self._errors_middleware, self._rate_middleware],
        )
        r = app.router
        r.add_post("/v1/txs", self.post_txs)
        r.add_post("/v1/txs/simulate", self.post_simulate)
        # Not "simulate": a GET there is a wrong method (405, Allow: POST), not a bad hash.
        r.add_get("/v1/txs/{hash:(?!simulate$)[^/]+}", self.get_tx)
        r.add_get("/v1/blocks", self.get_blocks)
        r.add_get("/v1/blocks/{which}", self.get_block)
        r.add_get("/v1/status", self.get_status)
        r.add_get("/v1/evidence", self.get_evidence)
        r.add_get("/v1/accounts/{address}", self.get_account)
        r.add_get("/v1/accounts/{address}/statement", self.get_statement)
        r.add_post("/v1/query", self.post_query)
        r.add_get("/v1/proofs/{key}", self.get_proof)
        r.add_get("/v1/ws", self.websocket)
        r.add_get("/metrics", self.get_metrics)
        r.add_get("/openapi.json", self.get_openapi)
        add_blob_routes(r, self.blobs)
        if self.register is not None:
            add_register_routes(r, self.register)
        add_web_routes(r)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port,
                           ssl_context=self.ssl_context)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        log.info("RPC listening on %s://%s:%d", "https" if self.ssl_context else "http",
                 self.config.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _errors_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        started = time.perf_counter()
        status = 500
        try:
            resp = await handler(request)
            status = resp.status
            return resp
        except RpcError as exc:
            status = exc.status
            resp = error_response(exc.status, exc.code, exc.message)
            if exc.retry_after_s is not None:
                resp.headers["Retry-After"] = str(exc.retry_after_s)
            return resp
        except web.HTTPRequestEntityTooLarge:
            status = 413
            return error_response(413, "too_large", f"request body exceeds {self.config.max_body_bytes} bytes")
        except web.HTTPException as exc:
            status = exc.status
            if exc.status < 400:
                raise
            code = HTTP_STATUS_CODES.get(exc.status, "http_error")
            resp = error_response(exc.status, code, exc.reason)
            if "Allow" in exc.headers:  # RFC 9110: a 405 names the methods the route takes
                resp.headers["Allow"] = exc.headers["Allow"]
            return resp
        except ChainError as exc:
            status = 400
            return error_response(400, exc.code, exc.message)
        except ConnectionError as exc:
            # The client went away mid-answer (a websocket upgrade it gave up on, a reset):
            # no fault of the node. aiohttp finds the transport gone and drops this reply.
            status = 499  # "client closed request", for the metrics
            log.info("client %s closed %s %s early: %s", request.remote, request.method,
                     request.path, exc)
            return web.Response(status=status, text="the client closed the connection")
        except Exception:
            log.exception("RPC handler failed on %s %s", request.method, request.path)
            return error_response(500, "internal", "internal error (logged on the node)")
        finally:
            m = self.node.metrics
            m.rpc_seconds.labels(route).observe(time.perf_counter() - started)
            m.rpc_requests.labels(route, str(status)).inc()

    @web.middleware
    async def _rate_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        client = request.remote or "?"
        now = time.monotonic()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = TokenBucket(self.config.rate_limit_per_s, self.config.rate_burst, now)
            self._buckets[client] = bucket
            if len(self._buckets) > MAX_RATE_CLIENTS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
        if not bucket.take(now):
            raise RpcError(429, "rate_limited", "too many requests from this client; slow down")
        return await handler(request)

    # --- txs -----------------------------------------------------------------------------

    async def _read_body(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > self.config.max_body_bytes:
            raise RpcError(413, "too_large", f"request body exceeds {self.config.max_body_bytes} bytes")
        return await request.read()

    def _parse_txs(self, request: web.Request, body: bytes) -> tuple[list[SignedTx | ChainError], bool]:
        """(txs or per-item decode errors, whether it was a batch)."""
        if not body:
            raise RpcError(400, "malformed", "empty body")
        items: list[Any]
        batch: bool
        if request.content_type in MSGPACK_TYPES:
            try:
                value = codec.decode(body, self.config.max_body_bytes)
            except DecodeError as exc:
                raise RpcError(400, "malformed", f"body is not canonical msgpack: {exc.message}") from exc
            if type(value) is not list or not value:
                raise RpcError(400, "malformed", "body must be a SignedTx or a list of them")
            if type(value[0]) is int and value[0] == TAG_SIGNED_TX:
                items, batch = [value], False
            else:
                items, batch = value, True
            self._check_batch(len(items))
            out: list[SignedTx | ChainError] = []
            for v in items:
                try:
                    out.append(SignedTx.from_value(v))
                except DecodeError as exc:
                    out.append(exc)
            return out, batch
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise RpcError(400, "malformed", "body is neither JSON nor msgpack (set Content-Type)") from exc
        if isinstance(doc, dict) and set(doc) == {"tx"}:
            items, batch = [doc["tx"]], False
        elif isinstance(doc, dict) and set(doc) == {"txs"} and isinstance(doc["txs"], list):
            items, batch = doc["txs"], True
        else:
            raise RpcError(400, "malformed", 'JSON body must be {"tx": hex} or {"txs": [hex, ...]}')
        self._check_batch(len(items))
        parsed: list[SignedTx | ChainError] = []
        for item in items:
            if not isinstance(item, str):
                parsed.append(DecodeError("each tx must be a hex string"))
                continue
            if len(item) > 2 * (SignedTx.MAX_BYTES + 1):
                parsed.append(DecodeError(f"a signed tx is at most {SignedTx.MAX_BYTES} bytes",
                                          code="too_large"))
                continue
            try:
                parsed.append(SignedTx.decode(parse_hex(item, "tx", max_size=self.config.max_body_bytes)))
            except DecodeError as exc:
                parsed.append(exc)
        return parsed, batch

    def _check_batch(self, n: int) -> None:
        if n == 0:
            raise RpcError(400, "malformed", "no txs in the body")
        if n > self.config.max_batch:
            raise RpcError(413, "batch_too_large", f"batch of {n} txs exceeds {self.config.max_batch}")

    async def post_txs(self, request: web.Request) -> web.Response:
        body = await self._read_body(request)
        items, batch = self._parse_txs(request, body)
        results = await self.node.submit(items)
        if not batch:
            r = results[0]
            if isinstance(r, ChainError):
                status = status_of(r.code)
                return error_response(status, r.code, r.message)
            return web.json_response({"hash": r.hex()}, status=202)
        out: list[dict[str, Any]] = []
        accepted = 0
        for r in results:
            if isinstance(r, ChainError):
                out.append({"error": {"code": r.code, "message": r.message}})
            else:
                accepted += 1
                out.append({"hash": r.hex()})
        return web.json_response({"results": out, "accepted": accepted})

    async def post_simulate(self, request: web.Request) -> web.Response:
        """A dry run: the receipt the tx would get in the next block; nothing is kept."""
        body = await self._read_body(request)
        items, batch = self._parse_txs(request, body)
        if batch:
            raise RpcError(400, "malformed", "a dry run takes one tx")
        stx = items[0]
        try:
            if isinstance(stx, ChainError):
                raise stx
            doc = await self.node.simulate(stx, request.remote or "?")
        except QueryRefused as exc:
            raise RpcError(exc.status, exc.code, exc.message, retry_after_s=exc.retry_after_s) from exc
        except ChainError as exc:
            return error_response(status_of(exc.code), exc.code, exc.message)
        return web.json_response(doc)

    async def get_tx(self, request: web.Request) -> web.Response:
        h = _parse_hash(request.match_info["hash"], "tx hash")
        doc = self.node.tx_status(h)
        if doc["status"] == "unknown":
            return error_response(404, "not_found", "no such tx on this node", **doc)
        return web.json_response(doc)

    # --- chain ---------------------------------------------------------------------------

    async def get_block(self, request: web.Request) -> web.Response:
        which = request.match_info["which"]
        store = self.node.store
        height = store.height if which == "latest" else _parse_height(which)
        block = store.block(height)
        if block is None:
            raise RpcError(404, "not_found", f"no block at height {height} (head is {store.height})"
                           + _before_snapshot(store.snapshot_height(), height))
        return web.json_response(block_json(block, store.certificate(height)))

    async def get_blocks(self, request: web.Request) -> web.Response:
        """A page of committed blocks from ``from`` on, each with its certificate and its
        receipts: what an indexer needs to follow the chain and verify every record."""
        store = self.node.store
        start = _parse_height(request.query.get("from", ""), "from")
        try:
            limit = parse_uint(request.query.get("limit", str(MAX_RANGE_BLOCKS)), "limit", MAX_RANGE_BLOCKS)
        except DecodeError as exc:
            raise RpcError(400, "malformed", exc.message) from None
        if limit == 0:
            raise RpcError(400, "malformed", f"limit must be 1..{MAX_RANGE_BLOCKS}")
        head = store.height
        snapshot = store.snapshot_height()
        if snapshot is not None and 0 < start <= snapshot:
            # Its receipts were never fetched either: a page would not verify.
            raise RpcError(404, "not_found", f"no blocks from height {start}"
                           + _before_snapshot(snapshot, start))
        blocks: list[dict[str, Any]] = []
        txs = 0
        for height in range(start, min(head, start + limit - 1) + 1):
            block = store.block(height)
            if block is None:  # pruned or not yet written: the page ends here
                break
            doc = block_json(block, store.certificate(height))
            doc["receipts"] = [self.node.receipt_doc(r) for r in store.receipts(height)]
            blocks.append(doc)
            txs += len(block.txs)
            if txs >= MAX_RANGE_TXS:
                break
        return web.json_response({"head": head, "blocks": blocks})

    async def get_status(self, request: web.Request) -> web.Response:
        return web.json_response(self.node.status())

    async def get_evidence(self, request: web.Request) -> web.Response:
        """Proof that validators signed two different blocks for one height and view."""
        try:
            limit = parse_uint(request.query.get("limit", str(DEFAULT_EVIDENCE_PAGE)), "limit",
                               MAX_EVIDENCE_PAGE)
        except DecodeError as exc:
            raise RpcError(400, "malformed", exc.message) from None
        if limit == 0:
            raise RpcError(400, "malformed", f"limit must be 1..{MAX_EVIDENCE_PAGE}")
        return web.json_response(self.node.evidence(limit))

    async def get_account(self, request: web.Request) -> web.Response:
        text = request.match_info["address"]
        try:
            parse_address(text)
        except AddressError as exc:
            raise RpcError(400, "bad_address", exc.message) from exc
        return web.json_response(self.node.account(text))

    async def get_statement(self, request: web.Request) -> web.Response:
        text = request.match_info["address"]
        try:
            parse_address(text)
        except AddressError as exc:
            raise RpcError(400, "bad_address", exc.message) from exc
        try:
            doc = self.node.statement(text, request.query.get("cursor"), request.query.get("limit"))
        except StatementError as exc:
            raise RpcError(400, "malformed", exc.message) from exc
        return web.json_response(doc)

    async def post_query(self, request: web.Request) -> web.Response:
        body = await self._read_body(request)
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise RpcError(400, "malformed", "body must be JSON") from exc
        if not isinstance(doc, dict) or not set(doc) <= {"contract", "method", "args"}:
            raise RpcError(400, "malformed", 'body must be {"contract", "method", "args"}')
        contract, method, args = doc.get("contract"), doc.get("method"), doc.get("args", [])
        for name, v in (("contract", contract), ("method", method)):
            if not isinstance(v, str) or not 0 < len(v) <= MAX_NAME_CHARS:
                raise RpcError(400, "malformed", f"{name} must be a short non-empty string")
        if not isinstance(args, list) or len(args) > MAX_QUERY_ARGS:
            raise RpcError(400, "malformed", f"args must be a list of at most {MAX_QUERY_ARGS}")
        try:
            values = [value_from_json(a) for a in args]
        except ValidationError as exc:
            raise RpcError(400, "malformed", exc.message) from exc
        assert isinstance(contract, str) and isinstance(method, str)
        try:
            result, height = await self.node.query(contract, method, values, request.remote or "?")
        except QueryRefused as exc:
            raise RpcError(exc.status, exc.code, exc.message, retry_after_s=exc.retry_after_s) from exc
        except QueryError as exc:
            raise RpcError(422, exc.code, exc.message) from exc
        return web.json_response({"result": value_to_json(result), "height": height})

    async def get_proof(self, request: web.Request) -> web.Response:
        try:
            key = parse_hex(request.match_info["key"], "key", max_size=MAX_STATE_KEY_BYTES)
        except DecodeError as exc:
            raise RpcError(400, "malformed", exc.message) from None
        if not key:
            raise RpcError(400, "malformed", f"key must be 1-{MAX_STATE_KEY_BYTES} bytes")
        store = self.node.store
        h = request.query.get("height")
        height = store.height if h is None else _parse_height(h)
        block = store.block(height)
        if block is None:
            raise RpcError(404, "not_found", f"no block at height {height}")
        try:
            value, proof = store.prove(key, height)
        except KeyError as exc:
            raise RpcError(404, "state_pruned", f"state of height {height} is no longer kept") from exc
        proof_value = proof.to_value()
        return web.json_response({
            "key": key.hex(),
            "value": None if value is None else value.hex(),
            "height": height,
            "state_root": block.header.state_root.hex(),
            "proof": value_to_json(proof_value),
            "proof_encoded": codec.encode(proof_value).hex(),
        })

    # --- subscriptions and metrics ---------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_WS_CLIENT_MESSAGE_BYTES, heartbeat=30.0)
        await ws.prepare(request)
        sub = Subscription()
        if not self.node.events.subscribe(sub):
            await ws.send_json({"type": "error", "code": "too_many_subscribers"})
            await ws.close()
            return ws
        writer = asyncio.create_task(self._ws_writer(ws, sub))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                reply = self._ws_command(sub, msg.data)
                await ws.send_json(reply)
        finally:
            self.node.events.unsubscribe(sub)
            writer.cancel()
            await ws.close()
        return ws

    def _ws_command(self, sub: Subscription, text: str) -> dict[str, Any]:
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            return {"type": "error", "code": "malformed", "message": "messages are JSON"}
        topics = doc.get("subscribe") if isinstance(doc, dict) else None
        if isinstance(topics, str):
            topics = [topics]
        if not isinstance(topics, list) or not all(t in WS_TOPICS for t in topics):
            return {"type": "error", "code": "malformed",
                    "message": 'send {"subscribe": ["blocks", "events", "validators"], "contract"?, "event"?}'}
        assert isinstance(doc, dict)
        contract, event = doc.get("contract"), doc.get("event")
        if not isinstance(contract, str | None) or not isinstance(event, str | None):
            return {"type": "error", "code": "malformed", "message": "contract and event are strings"}
        sub.blocks = "blocks" in topics
        sub.events = "events" in topics
        sub.validators = "validators" in topics
        sub.contract = contract
        sub.event_name = event
        return {"type": "subscribed", "topics": sorted(set(topics)), "contract": contract, "event": event}

    async def _ws_writer(self, ws: web.WebSocketResponse, sub: Subscription) -> None:
        while True:
            msg = await sub.queue.get()
            if msg is None:
                await ws.send_json({"type": "error", "code": "overflow",
                                    "message": "subscriber fell behind; reconnect"})
                await ws.close()
                return
            await ws.send_str(msg)

    async def get_metrics(self, request: web.Request) -> web.Response:
        self.node.refresh_metrics()
        return web.Response(body=self.node.metrics.render(),
                            content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    async def get_openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document(self.config))


# --- the OpenAPI document ------------------------------------------------------------------


def _error_ref(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": schema or {"type": "object"}}}}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object schema: these fields present with these types (more fields may follow)."""
    return {"type": "object", "required": sorted(required),
            "properties": {**required, **(optional or {})}}


_HEX = {"type": "string", "pattern": "^[0-9a-f]*$"}
_HASH_HEX = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_KEY_HEX = _HASH_HEX
_UINT = {"type": "integer", "minimum": 0}
_TEXT = {"type": "string"}
_REF = {name: {"$ref": f"#/components/schemas/{name}"}
        for name in ("Block", "Header", "Certificate", "Tx", "Receipt", "Status", "Evidence",
                     "Account", "TxStatus")}

RESPONSE_SCHEMAS: dict[str, Any] = {
    "Header": _obj({"chain_id": _TEXT, "height": _UINT, "prev_hash": _HASH_HEX, "tx_root": _HASH_HEX,
                    "state_root": _HASH_HEX, "receipts_root": _HASH_HEX, "proposer": _HEX,
                    "view": _UINT, "timestamp_ms": _UINT, "validator_set_hash": _HASH_HEX,
                    "encoded": _HEX}),
    "Certificate": {**_obj({"chain_id": _TEXT, "height": _UINT, "view": _UINT, "block_hash": _HASH_HEX,
                            "signatures": {"type": "array", "items": _obj(
                                {"validator": _KEY_HEX, "signature": _HEX})},
                            "encoded": _HEX}), "nullable": True},
    "Tx": _obj({"hash": _HASH_HEX, "chain_id": _TEXT, "sender": _KEY_HEX, "sender_address": _TEXT,
                "nonce": _UINT, "contract": _TEXT, "method": _TEXT, "args": {"type": "array"},
                "max_fee": _UINT, "expiry_height": _UINT, "signature": _HEX, "encoded": _HEX}),
    "Receipt": _obj({"tx_hash": _HASH_HEX, "status": {"type": "integer", "enum": [0, 1, 2]},
                     "status_name": _TEXT, "gas_used": _UINT, "fee": _UINT, "events": {"type": "array"},
                     "error_code": _TEXT, "error_contract": _TEXT, "error_line": _UINT,
                     "error_message": _TEXT, "encoded": _HEX}, {"result": {}}),
    "Block": _obj({"height": _UINT, "hash": _HASH_HEX, "header": _REF["Header"],
                   "txs": {"type": "array", "items": _REF["Tx"]}, "certificate": _REF["Certificate"]}),
    "Status": _obj({
        "chain_id": _TEXT, "node": _TEXT, "public_key": _KEY_HEX, "address": _TEXT,
        "validator": {"type": "boolean"}, "observer": {"type": "boolean"}, "genesis_hash": _HASH_HEX,
        "height": _UINT, "latest_hash": _HASH_HEX, "latest_time_ms": _UINT, "state_root": _HASH_HEX,
        "view": _UINT, "syncing": {"type": "boolean"},
        "validators": {"type": "array", "items": _obj(
            {"public_key": _KEY_HEX, "address": _TEXT, "name": _TEXT})},
        "peers": {"type": "array", "items": _obj(
            {"name": _TEXT, "public_key": _KEY_HEX, "height": _UINT,
             "direction": {"type": "string", "enum": ["in", "out"]}})},
        "banned_peers": {"type": "array", "items": _obj(
            {"name": _TEXT, "public_key": _KEY_HEX, "reason": _TEXT, "offences": _UINT,
             "banned_for_ms": _UINT})},
        "mempool": _obj({"txs": _UINT, "bytes": _UINT}),
    }, {"snapshot_height": {**_UINT, "nullable": True}}),
    "Evidence": _obj({
        "height": _UINT, "view": _UINT,
        "kind": {"type": "string", "enum": ["pre-prepare", "prepare", "commit", "new-view"]},
        "validator": _KEY_HEX, "validator_address": _TEXT,
        "validator_name": {"type": "string", "nullable": True}, "seen_at_ms": _UINT,
        "first": _obj({"block_hash": _HASH_HEX, "signed_bytes": _HEX, "signature": _HEX}),
        "second": _obj({"block_hash": _HASH_HEX, "signed_bytes": _HEX, "signature": _HEX}),
    }),
    "Account": _obj({"address": _TEXT, "balance": _UINT, "nonce": _UINT, "pending_nonce": _UINT,
                     "height": _UINT}),
    "TxStatus": _obj({"hash": _HASH_HEX, "status": {
        "type": "string", "enum": ["pending", "committed", "rejected", "expired", "unknown"]}},
        {"height": _UINT, "index": _UINT, "receipt": {**_REF["Receipt"], "nullable": True},
         "error": _obj({"code": _TEXT, "message": _TEXT})}),
}


def openapi_document(config: RpcConfig) -> dict[str, Any]:
    doc = _openapi_document(config)
    doc["components"]["schemas"].update(RESPONSE_SCHEMAS)
    # Every route is behind the per-client rate limit (_rate_middleware).
    for ops in doc["paths"].values():
        for op in ops.values():
            op["responses"].setdefault("429", _error_ref("rate limited (code `rate_limited`)"))
    return doc


def _openapi_document(config: RpcConfig) -> dict[str, Any]:
    hex_hash = {"type": "string", "pattern": "^(0x)?[0-9a-fA-F]{64}$"}
    # bech32: "hk1", 32 characters of the 20-byte account id, a 6-character checksum.
    address = {"type": "string", "pattern": "^hk1[02-9ac-hj-np-z]{38}$"}
    hex_bytes = {"type": "string", "pattern": "^(0x)?([0-9a-fA-F]{2})+$"}
    name = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS}
    state_key = {"type": "string", "minLength": 2, "maxLength": 2 * MAX_STATE_KEY_BYTES + 2,
                 "pattern": "^(0x)?([0-9a-fA-F]{2})+$"}
    common_errors = {
        "400": _error_ref("malformed request (code `malformed`)"),
        "429": _error_ref("rate limited (code `rate_limited`)"),
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "hkchain node RPC",
            "version": "1",
            "description": (
                "JSON over HTTP. Every error body is {error: {code, message}}. Values (tx "
                "arguments, results, event fields) map bytes to \"0x…\" hex strings. "
                f"Bodies are limited to {config.max_body_bytes} bytes, batches to "
                f"{config.max_batch} txs, clients to {config.rate_limit_per_s} requests/s."
            ),
        },
        "paths": {
            "/v1/txs": {"post": {
                "summary": "Submit one signed tx or a batch",
                "description": (
                    "Body: msgpack (Content-Type application/msgpack) of one SignedTx value or "
                    "a list of them; or JSON {\"tx\": hex} / {\"txs\": [hex, ...]} of the "
                    "canonical SignedTx bytes. One tx: 202 {hash} or an error. A batch: 200 "
                    "{results: [{hash} | {error}], accepted}. Refusal codes: malformed, "
                    "too_large, wrong_chain, invalid, bad_signature, bad_nonce, nonce_gap, "
                    "expired, insufficient_fee, unknown_contract, mempool_full (503)."
                ),
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {
                        "type": "object", "minProperties": 1, "maxProperties": 1,
                        "additionalProperties": False, "properties": {
                            "tx": hex_bytes,
                            # A batch answers each item on its own (200, an error per
                            # bad one), so any string is a legal item.
                            "txs": {"type": "array", "minItems": 1, "maxItems": config.max_batch,
                                    "items": {"type": "string"}}}}},
                    "application/msgpack": {"schema": {"type": "string", "format": "binary"}},
                }},
                "responses": {
                    "200": _ok("batch answers, one per tx in order", {"type": "object", "properties": {
                        "results": {"type": "array", "items": {"type": "object"}},
                        "accepted": {"type": "integer"}}}),
                    "202": _ok("accepted into the mempool", _obj({"hash": _HASH_HEX})),
                    "413": _error_ref("body or batch too large (too_large, batch_too_large)"),
                    "422": _error_ref("the tx was refused (code says why)"),
                    "503": _error_ref("mempool full; retry later"),
                    **common_errors,
                },
            }},
            "/v1/txs/simulate": {"post": {
                "summary": "Dry run: the receipt one signed tx would get, committing nothing",
                "description": (
                    "Body as POST /v1/txs (one tx). The tx runs on a snapshot of the head "
                    "state as the next block would run it, after the sender's pending txs "
                    "of lower nonces. 200 {height, next_height, pending_before, receipt: "
                    "{status, status_name, gas_used, fee, result, events, error_code, "
                    "error_contract, error_line, error_message}}: status 0 ok, 1 failed (the fee would be charged), 2 "
                    "invalid (not executable: bad_nonce, nonce_gap, expired, "
                    "insufficient_fee, wrong_chain, unknown_contract, unknown_method). "
                    "It runs in a query worker under the limits of POST /v1/query and is "
                    "charged the gas it used. Refusals: malformed, too_large, invalid, "
                    "bad_signature, too_many_queries (429), query_budget_exhausted (429), "
                    "busy (503)."
                ),
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {
                        "type": "object", "required": ["tx"], "additionalProperties": False,
                        "properties": {"tx": hex_bytes}}},
                    "application/msgpack": {"schema": {"type": "string", "format": "binary"}},
                }},
                "responses": {
                    "200": _ok("the would-be receipt"),
                    "413": _error_ref("tx too large (too_large)"),
                    "422": _error_ref("the tx cannot be run (invalid, bad_signature)"),
                    "503": _error_ref("too many queries waiting (busy)"),
                    **common_errors,
                },
            }},
            "/v1/txs/{hash}": {"get": {
                "summary": "Status of a tx",
                "description": ("status: pending | committed (height, index, receipt with "
                                "events, gas, fee, error) | rejected / expired (error) | unknown (404)."),
                "parameters": [{"name": "hash", "in": "path", "required": True, "schema": hex_hash}],
                "responses": {"200": _ok("the tx's status", _REF["TxStatus"]),
                              "404": _error_ref("unknown tx"),
                              **common_errors},
            }},
            "/v1/blocks": {"get": {
                "summary": "A page of committed blocks with certificates and receipts",
                "parameters": [
                    {"name": "from", "in": "query", "required": True, "description": "first height",
                     "schema": {"type": "integer", "minimum": 0}},
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_RANGE_BLOCKS}}],
                "responses": {"200": _ok("{head, blocks: [{height, hash, header, txs, "
                                         "certificate, receipts}]}", _obj({
                                             "head": _UINT, "blocks": {"type": "array", "items": {
                                                 "allOf": [_REF["Block"], _obj({"receipts": {
                                                     "type": "array", "items": _REF["Receipt"]}})]}}})),
                              **common_errors},
            }},
            "/v1/blocks/{which}": {"get": {
                "summary": "A committed block with its commit certificate",
                "parameters": [{"name": "which", "in": "path", "required": True,
                                "description": "a height or `latest`",
                                "schema": {"type": "string", "pattern": "^([0-9]{1,20}|latest)$"}}],
                "responses": {"200": _ok("header, txs and certificate", _REF["Block"]),
                              "404": _error_ref("no such block"), **common_errors},
            }},
            "/v1/status": {"get": {
                "summary": "Chain id, height, latest hash, state root, view, validators, peers, syncing",
                "responses": {"200": _ok("node status", _REF["Status"]), "429": common_errors["429"]},
            }},
            "/v1/evidence": {"get": {
                "summary": "Equivocation evidence: validators that signed two different blocks "
                           "for one height and view, newest first",
                "description": (
                    "{count, evidence: [{height, view, kind (pre-prepare | prepare | commit | "
                    "new-view), validator (public key hex), validator_address, validator_name, "
                    "seen_at_ms (this node's clock), first, second}]}. first and second are "
                    "{block_hash, signed_bytes, signature}: Ed25519-verify each signature over "
                    "its signed_bytes with the validator's key, and see that the block hashes "
                    "differ, to check the fault without trusting this node."
                ),
                "parameters": [{"name": "limit", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 1,
                                           "maximum": MAX_EVIDENCE_PAGE,
                                           "default": DEFAULT_EVIDENCE_PAGE}}],
                "responses": {"200": _ok("{count, evidence}", _obj({
                    "count": _UINT, "evidence": {"type": "array", "items": _REF["Evidence"]}})),
                              **common_errors},
            }},
            "/v1/accounts/{address}": {"get": {
                "summary": "Balance and next nonce of an account",
                "parameters": [{"name": "address", "in": "path", "required": True,
                                "schema": address}],
                "responses": {"200": _ok("balance, nonce, pending_nonce", _REF["Account"]),
                              "400": _error_ref("not an address (bad_address)"),
                              "429": common_errors["429"]},
            }},
            "/v1/accounts/{address}/statement": {"get": {
                "summary": "An address's statement: committed txs that touched it, newest first, "
                           "with points in and out, fees and bills paid (docs/APPLICATIONS.md)",
                "parameters": [{"name": "address", "in": "path", "required": True,
                                "schema": address},
                               {"name": "cursor", "in": "query", "required": False,
                                "description": 'the "next" of the previous page ("<height>.<index>")',
                                "schema": {"type": "string"}},
                               {"name": "limit", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
                "responses": {"200": _ok("{address, items, next, history_from}"),
                              "400": _error_ref("not an address (bad_address), bad cursor or limit (malformed)"),
                              "429": common_errors["429"]},
            }},
            "/v1/query": {"post": {
                "summary": "A read-only contract view call on the head state",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["contract", "method"],
                    "additionalProperties": False,
                    "properties": {"contract": name, "method": name,
                                   "args": {"type": "array", "maxItems": MAX_QUERY_ARGS}}}}}},
                "responses": {"200": _ok("{result, height}"),
                              "422": _error_ref("the call failed: the VM's code (unknown_contract, "
                                                        "unknown_method, not_view, bad_args, "
                                                        "runtime_error, out_of_gas, …) or the "
                                                        "contract's own"),
                              **common_errors,
                              "429": _error_ref("rate_limited, too_many_queries (this client's calls in "
                                                "progress) or query_budget_exhausted (its gas; see Retry-After)"),
                              "503": _error_ref("busy: every query worker taken and the queue full; retry")},
            }},
            "/v1/proofs/{key}": {"get": {
                "summary": "A state proof of one key against a height's state root",
                "parameters": [
                    {"name": "key", "in": "path", "required": True, "schema": state_key,
                     "description": f"the state key, hex (1-{MAX_STATE_KEY_BYTES} bytes)"},
                    {"name": "height", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 0}, "description": "default: head"},
                ],
                "responses": {"200": _ok("{key, value, height, state_root, proof, proof_encoded}"),
                              "404": _error_ref("no such height, or its state is pruned"),
                              **common_errors},
            }},
            "/v1/ws": {"get": {
                "summary": "Websocket: subscribe to new blocks, events and validator-set changes",
                "description": (
                    "Send {\"subscribe\": [\"blocks\", \"events\", \"validators\"], "
                    "\"contract\"?: name, \"event\"?: name}. The node answers {type: "
                    "subscribed}, then pushes {type: block, height, hash, state_root, tx_count, "
                    "txs}, {type: event, height, tx_hash, contract, name, fields} and {type: "
                    "validators, height, effective_height, in_force, hash, validators} (a "
                    "change decided, then in force). A subscriber that falls behind "
                    "gets {type: error, code: overflow} and is closed."
                ),
                "responses": {"101": {"description": "switching to the websocket protocol"},
                              "400": _error_ref("not a websocket upgrade request (malformed)"),
                              "429": common_errors["429"]},
            }},
            "/metrics": {"get": {
                "summary": "Prometheus metrics (text format)",
                "responses": {"200": {"description": "metrics",
                                      "content": {"text/plain": {"schema": {"type": "string"}}}}},
            }},
            **blob_openapi_paths(),
            **register_openapi_paths(),
            "/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": _ok("the OpenAPI document")},
            }},
        },
        "components": {"schemas": {"Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string", "minLength": 1}, "message": {"type": "string"}}}},
        }}},
    }
