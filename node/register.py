"""The committee's sealed register over HTTP: sealed household cards stored, read and
erased by committee members, and the access log, at ``/v1/register/…``.

The node is a safe, never a reader. Every card reaches it already sealed by the member's
browser (or CLI) to the committee members' keys (privacy/register.py's SealedRecord: a
SecretBox of the card under a random data key, that key in a SealedBox per member), so
the node holds no plaintext and no key that opens one. It checks what it can without
opening: the shape of a sealed record, that the writer and every member of the register
can open it, that an erased record never comes back.

Every request is signed by a committee member's Ed25519 key (headers ``X-Hkchain-Key``,
``-Time``, ``-Nonce``, ``-Signature``) over the chain id, the method, the path with its
query, the SHA-256 of the body, the time and a nonce (docs/PROTOCOL.md, "Signed register
requests"). The node refuses a request more than five minutes off its clock, a nonce it
has seen, and a key whose address does not hold the ``committee`` role in the committed
state (a view call of ``roles.holds``): the chain decides who is on the committee.
Every read of a sealed card, every store, removal and erasure is written to the access
log with who, when and why.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from aiohttp import web

from core import codec
from core.crypto import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, address_of, is_address, verify
from core.errors import ChainError
from core.hashing import HASH_SIZE, sha256
from privacy.register import PrivacyError, PrivacyStore, SealedRecord

T = TypeVar("T")


class ViewQueries(Protocol):
    """What the register needs of the node: view calls at the committed height
    (node.api.QueryRunner.query)."""

    async def query(self, contract: str, method: str, args: list[Any], client: str) -> tuple[Any, int]: ...

DOMAIN_REGISTER_REQUEST = b"hkchain/register-request/1\x00"
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
NONCE_BYTES = 16
MAX_NONCES = 100_000
MAX_RECORD_BODY_BYTES = 64 * 1024
MAX_LOG_BODY_BYTES = 4 * 1024
MAX_PAGE = 500
DEFAULT_PAGE = 100
MAX_PURPOSE_CHARS = 200
COMMITTEE_ROLE = "committee"
HEADER_KEY = "X-Hkchain-Key"
HEADER_TIME = "X-Hkchain-Time"
HEADER_NONCE = "X-Hkchain-Nonce"
HEADER_SIGNATURE = "X-Hkchain-Signature"
# PrivacyError codes and the HTTP status the register answers them with.
PRIVACY_STATUS = {"not_found": 404, "erased": 410, "wrong_key": 403, "members_missing": 409,
                  "commitment_taken": 409, "bad_record": 400}


class RegisterError(ChainError):
    """A refused register request: ``code`` (docs/RPC.md) and the HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status


def request_signing_bytes(chain_id: str, method: str, path_qs: str, body: bytes, time_ms: int,
                          nonce: bytes) -> bytes:
    """What a register request's signature covers (docs/PROTOCOL.md)."""
    return DOMAIN_REGISTER_REQUEST + codec.encode(
        [chain_id, method.upper(), path_qs, sha256(body), time_ms, nonce])


def sign_request(key: Any, chain_id: str, method: str, path_qs: str, body: bytes,
                 time_ms: int, nonce: bytes) -> dict[str, str]:
    """The headers of a request signed with ``key`` (a core.crypto.PrivateKey): for the
    CLI and the tests; the browser does the same in web/static/js/console/register.js."""
    sig = key.sign(request_signing_bytes(chain_id, method, path_qs, body, time_ms, nonce))
    return {HEADER_KEY: key.public_key.hex(), HEADER_TIME: str(time_ms),
            HEADER_NONCE: nonce.hex(), HEADER_SIGNATURE: sig.hex()}


def _hex_header(request: web.Request, name: str, size: int) -> bytes:
    text = request.headers.get(name, "")
    try:
        value = bytes.fromhex(text) if len(text) == 2 * size else b""
    except ValueError:
        value = b""
    if len(value) != size:
        raise RegisterError(401, "auth_required",
                            f"a register request carries {name} ({size} bytes of hex); see docs/PROTOCOL.md")
    return value


class RegisterService:
    """The register's routes: authentication, the role check, and the store's calls off
    the event loop."""

    def __init__(self, store: PrivacyStore, chain_id: str, queries: ViewQueries,
                 clock_ms: Callable[[], int] | None = None) -> None:
        self.store = store
        self.chain_id = chain_id
        self.queries = queries
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._nonces: OrderedDict[bytes, int] = OrderedDict()

    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))

    async def _body(self, request: web.Request, limit: int) -> bytes:
        if request.content_length is not None and request.content_length > limit:
            raise RegisterError(413, "too_large", f"a register request body is at most {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.read(16 * 1024):
            size += len(chunk)
            if size > limit:
                raise RegisterError(413, "too_large", f"a register request body is at most {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def authenticate(self, request: web.Request, body: bytes) -> str:
        """The address of the committee member who signed ``request``, or RegisterError."""
        public_key = _hex_header(request, HEADER_KEY, PUBLIC_KEY_SIZE)
        nonce = _hex_header(request, HEADER_NONCE, NONCE_BYTES)
        signature = _hex_header(request, HEADER_SIGNATURE, SIGNATURE_SIZE)
        time_text = request.headers.get(HEADER_TIME, "")
        if not (time_text.isascii() and time_text.isdigit() and len(time_text) <= 16):
            raise RegisterError(401, "auth_required", f"{HEADER_TIME} is the time in ms since 1970")
        time_ms = int(time_text)
        now = self.clock_ms()
        if abs(now - time_ms) > MAX_CLOCK_SKEW_MS:
            raise RegisterError(401, "auth_expired", "the request's time is more than 5 minutes from "
                                "the node's clock: check the device's clock and send it again")
        msg = request_signing_bytes(self.chain_id, request.method, request.raw_path, body, time_ms, nonce)
        if not verify(public_key, msg, signature):
            raise RegisterError(401, "auth_bad_signature", "the request's signature does not verify")
        # Forget nonces older than the time window: a replay of one is refused by its time.
        while self._nonces and (len(self._nonces) >= MAX_NONCES
                                or next(iter(self._nonces.values())) < now - 2 * MAX_CLOCK_SKEW_MS):
            self._nonces.popitem(last=False)
        if nonce in self._nonces:
            raise RegisterError(401, "auth_replayed", "this request was already received")
        self._nonces[nonce] = now
        address = address_of(public_key)
        holds, _ = await self.queries.query("roles", "holds", [address, COMMITTEE_ROLE], address)
        if holds is not True:
            raise RegisterError(403, "not_committee",
                                f"{address} does not hold the committee role on chain")
        return address

    def _commitment(self, request: web.Request) -> bytes:
        text = request.match_info["commitment"]
        try:
            value = bytes.fromhex(text) if len(text) == 2 * HASH_SIZE else b""
        except ValueError:
            value = b""
        if len(value) != HASH_SIZE:
            raise RegisterError(400, "malformed", "a commitment is 64 hex characters")
        return value

    @staticmethod
    def _purpose(text: str | None) -> str:
        purpose = (text or "").strip()
        if not purpose or len(purpose) > MAX_PURPOSE_CHARS or not purpose.isprintable():
            raise RegisterError(400, "malformed", f"say why (purpose: 1..{MAX_PURPOSE_CHARS} printable characters)")
        return purpose

    @staticmethod
    def _limit(request: web.Request) -> int:
        text = request.query.get("limit", str(DEFAULT_PAGE))
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE:
            raise RegisterError(400, "malformed", f"limit is 1..{MAX_PAGE}")
        return int(text)

    @staticmethod
    def _privacy(exc: PrivacyError) -> RegisterError:
        return RegisterError(PRIVACY_STATUS.get(exc.code, 400), exc.code, exc.message)

    # --- routes ----------------------------------------------------------------------

    async def get_members(self, request: web.Request) -> web.Response:
        await self.authenticate(request, b"")
        keys = await self._io(self.store.members)
        return web.json_response({"members": [{"public_key": k.hex(), "address": address_of(k)} for k in keys]})

    async def list_records(self, request: web.Request) -> web.Response:
        await self.authenticate(request, b"")
        household = request.query.get("household", "")
        if household and not is_address(household):
            raise RegisterError(400, "bad_address", "household: an hk1… address")
        after = request.query.get("after", "")
        limit = self._limit(request)

        def page() -> dict[str, Any]:
            items = []
            for r in self.store.records():
                if household and r.household != household:
                    continue
                if after and r.commitment.hex() <= after:
                    continue
                items.append(r)
                if len(items) > limit:
                    break
            more = len(items) > limit
            items = items[:limit]
            return {"records": [{"commitment": r.commitment.hex(), "household": r.household,
                                 "recipients": list(r.recipients), "erased_at": r.erased_at} for r in items],
                    "next": items[-1].commitment.hex() if more and items else ""}

        try:
            return web.json_response(await self._io(page))
        except PrivacyError as exc:
            raise self._privacy(exc) from None

    async def get_record(self, request: web.Request) -> web.Response:
        who = await self.authenticate(request, b"")
        commitment = self._commitment(request)
        purpose = self._purpose(request.query.get("purpose"))

        def read() -> SealedRecord:
            record = self.store.get(commitment)
            if record.erased_at:
                raise PrivacyError("this record was erased on request", code="erased")
            if who not in record.keys:
                raise PrivacyError(f"this record is not sealed to {who}", code="wrong_key")
            self.store.log(who, record, f"read: {purpose}")
            return record

        try:
            record = await self._io(read)
        except PrivacyError as exc:
            raise self._privacy(exc) from None
        return web.json_response(record.to_json())

    async def put_record(self, request: web.Request) -> web.Response:
        body = await self._body(request, MAX_RECORD_BODY_BYTES)
        who = await self.authenticate(request, body)
        commitment = self._commitment(request)
        try:
            doc = json.loads(body)
            record = SealedRecord.from_json(doc if isinstance(doc, dict) else {})
        except ValueError:
            raise RegisterError(400, "malformed", "the body is a sealed household record (JSON)") from None
        except PrivacyError as exc:
            raise self._privacy(exc) from None
        if record.commitment != commitment:
            raise RegisterError(400, "malformed", "the record's commitment differs from the one in the path")

        def write() -> bool:
            new = self.store.put(record, who)
            self.store.log(who, record, "stored" if new else "stored again (re-sealed)")
            return new

        try:
            new = await self._io(write)
        except PrivacyError as exc:
            raise self._privacy(exc) from None
        return web.json_response({"commitment": commitment.hex(), "household": record.household,
                                  "created": new}, status=201 if new else 200)

    async def delete_record(self, request: web.Request) -> web.Response:
        """Remove a record the chain does not use: its household's on-chain commitment is
        another (superseded by an update) or the household is not registered (a
        registration that did not go through)."""
        who = await self.authenticate(request, b"")
        commitment = self._commitment(request)
        try:
            record = await self._io(self.store.get, commitment)
        except PrivacyError as exc:
            raise self._privacy(exc) from None
        if who not in record.keys and not record.erased_at:
            raise RegisterError(403, "wrong_key", f"this record is not sealed to {who}")
        on_chain, _ = await self.queries.query("households", "verify", [record.household, commitment], who)
        if on_chain is True:
            raise RegisterError(409, "in_use", "the chain's household register uses this record: "
                                "erase it on the resident's request instead")

        def remove() -> None:
            self.store.remove(commitment)
            self.store.log(who, record, "removed (not used on chain)")

        await self._io(remove)
        return web.json_response({"commitment": commitment.hex(), "removed": True})

    async def erase_record(self, request: web.Request) -> web.Response:
        body = await self._body(request, MAX_LOG_BODY_BYTES)
        who = await self.authenticate(request, body)
        commitment = self._commitment(request)
        try:
            erased = await self._io(self.store.erase, commitment, who, self.clock_ms() // 1000)
        except PrivacyError as exc:
            raise self._privacy(exc) from None
        return web.json_response(erased.to_json())

    async def get_log(self, request: web.Request) -> web.Response:
        await self.authenticate(request, b"")
        limit = self._limit(request)
        household = request.query.get("household", "")
        entries = await self._io(self.store.access_log)
        if household:
            entries = [e for e in entries if e.get("household") == household]
        return web.json_response({"entries": list(reversed(entries))[:limit], "total": len(entries)})

    async def post_log(self, request: web.Request) -> web.Response:
        body = await self._body(request, MAX_LOG_BODY_BYTES)
        who = await self.authenticate(request, body)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise RegisterError(400, "malformed", 'the body is {"purpose": …, "commitment": hex (optional)}')
        purpose = self._purpose(doc.get("purpose") if isinstance(doc.get("purpose"), str) else "")
        record = None
        if doc.get("commitment"):
            text = doc["commitment"]
            try:
                c = bytes.fromhex(text) if isinstance(text, str) and len(text) == 2 * HASH_SIZE else b""
            except ValueError:
                c = b""
            if not c:
                raise RegisterError(400, "malformed", "commitment: 64 hex characters")
            try:
                record = await self._io(self.store.get, c)
            except PrivacyError as exc:
                raise self._privacy(exc) from None
        await self._io(self.store.log, who, record, purpose)
        return web.json_response({"logged": True}, status=201)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _answering(handler: Handler) -> Handler:
    """A refusal as the RPC's error body ``{"error": {"code", "message"}}`` with its status."""

    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except RegisterError as exc:
            return web.json_response({"error": {"code": exc.code, "message": exc.message}}, status=exc.status)

    return wrapped


def add_register_routes(router: web.UrlDispatcher, service: RegisterService) -> None:
    router.add_get("/v1/register/members", _answering(service.get_members))
    router.add_get("/v1/register/records", _answering(service.list_records))
    router.add_get("/v1/register/records/{commitment}", _answering(service.get_record))
    router.add_put("/v1/register/records/{commitment}", _answering(service.put_record))
    router.add_delete("/v1/register/records/{commitment}", _answering(service.delete_record))
    router.add_post("/v1/register/records/{commitment}/erase", _answering(service.erase_record))
    router.add_get("/v1/register/log", _answering(service.get_log))
    router.add_post("/v1/register/log", _answering(service.post_log))


def register_openapi_paths() -> dict[str, Any]:
    """The OpenAPI entries of the register routes (merged into the node's document)."""
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    auth = [{"name": n, "in": "header", "required": True, "schema": {"type": "string"}}
            for n in (HEADER_KEY, HEADER_TIME, HEADER_NONCE, HEADER_SIGNATURE)]
    commitment = {"name": "commitment", "in": "path", "required": True,
                  "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}
    refusals = {"401": {"description": "not signed, stale, replayed or a bad signature "
                                       "(auth_required, auth_expired, auth_replayed, auth_bad_signature)", **err},
                "403": {"description": "not a committee member on chain (not_committee), or not a "
                                       "recipient of the record (wrong_key)", **err}}
    record = {"content": {"application/json": {"schema": {"type": "object", "description":
              "a sealed household record, version 2 (docs/PROTOCOL.md)"}}}}

    def op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
        params = [*auth, *extra.pop("parameters", [])]
        return {"summary": summary, "parameters": params, "responses": {**responses, **refusals}, **extra}

    return {
        "/v1/register/members": {"get": op(
            "The committee members' public keys every record is sealed to",
            {"200": {"description": "{members: [{public_key, address}]}"}})},
        "/v1/register/records": {"get": op(
            "Records without their sealed content: commitment, household, recipients, erased_at",
            {"200": {"description": "{records, next}"}},
            parameters=[{"name": n, "in": "query", "schema": {"type": "string"}}
                        for n in ("household", "after", "limit")])},
        "/v1/register/records/{commitment}": {
            "get": op("One sealed record, for a member it is sealed to; the read is logged with its purpose",
                      {"200": {"description": "the sealed record", **record},
                       "404": {"description": "no such record (not_found)", **err},
                       "410": {"description": "erased on request (erased)", **err}},
                      parameters=[commitment, {"name": "purpose", "in": "query", "required": True,
                                               "schema": {"type": "string"}}]),
            "put": op("Store a record sealed by the member (to themselves and every member)",
                      {"201": {"description": "stored"}, "200": {"description": "stored again"},
                       "400": {"description": "not a sealed record (bad_record, malformed)", **err},
                       "409": {"description": "not sealed to every member (members_missing), or another "
                                              "household's commitment (commitment_taken)", **err},
                       "410": {"description": "erased on request: never written again (erased)", **err}},
                      parameters=[commitment], requestBody={"required": True, **record}),
            "delete": op("Remove a record the chain does not use (superseded or never registered)",
                         {"200": {"description": "removed"},
                          "409": {"description": "the chain uses it: erase instead (in_use)", **err}},
                         parameters=[commitment]),
        },
        "/v1/register/records/{commitment}/erase": {"post": op(
            "Erase a household's personal data on request: the sealed card and its keys are destroyed",
            {"200": {"description": "the erased record (commitment, household, erased_at)"},
             "410": {"description": "already erased (erased)", **err}}, parameters=[commitment])},
        "/v1/register/log": {
            "get": op("The access log, newest first", {"200": {"description": "{entries, total}"}},
                      parameters=[{"name": n, "in": "query", "schema": {"type": "string"}}
                                  for n in ("household", "limit")]),
            "post": op("Append to the access log: {purpose, commitment (optional)}",
                       {"201": {"description": "logged"}}),
        },
    }
