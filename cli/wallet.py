"""The wallet client library: a node's HTTP RPC from the outside, and signing of txs.

``RpcClient`` is the asyncio client (aiohttp) of the routes the node documents in its
OpenAPI document (``GET /openapi.json``, built in node/rpc.py). ``Wallet``
holds one key, learns the chain id and the sender's next nonce from a node, and then
tracks the nonce locally, so a batch of txs is signed without a round trip per tx.
Every failure is a typed ``WalletError``: ``RpcError`` carries the node's error code,
``NodeUnreachable`` says the node did not answer at all. ``run`` gives the CLI a
synchronous entry point.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp

from core import codec
from core.codec import Value
from core.crypto import PrivateKey
from core.errors import ChainError, ValidationError
from core.render import value_from_json, value_to_json
from core.types import MAX_ARGS, SignedTx, Tx
from vm.gas import MILLI

T = TypeVar("T")

DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_EXPIRY_MARGIN = 100  # blocks a tx stays valid for after the height it was built at
# Gas a tx may use unless told otherwise: a transfer takes about 3,500 and a vote 4,400
# (docs/CONTRACTS.md). Gas is priced in milli-points, so the default max_fee is
# ceil(gas limit x gas_price_milli / 1000) points; the payer must hold it when the tx runs.
DEFAULT_GAS_LIMIT = 50_000
MAX_BATCH_TXS = 1_000  # the node's batch limit; larger lists are sent in chunks
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
MAX_WS_MESSAGE_BYTES = 4 * 1024 * 1024
POLL_INTERVAL_MS = 200
MSGPACK_TYPE = "application/msgpack"


class WalletError(ChainError):
    """Base of the wallet's errors."""

    code = "wallet_error"


class NodeUnreachable(WalletError):
    """The node did not answer (refused, timed out, not an hkchain RPC)."""

    code = "unreachable"


class RpcError(WalletError):
    """The node answered with an error; ``code`` is its machine-readable error code."""

    def __init__(self, message: str, *, code: str, http_status: int) -> None:
        super().__init__(message, code=code)
        self.http_status = http_status


class DryRunRefused(WalletError):
    """The dry run says the tx would fail or could not run: it is not sent, no fee is
    paid. ``code`` is the would-be receipt's error code; ``fee`` what it would have cost."""

    def __init__(self, message: str, *, code: str, fee: int) -> None:
        super().__init__(message, code=code)
        self.fee = fee


class TxTimeout(WalletError):
    """A submitted tx was not committed within the wait."""

    code = "tx_timeout"


# --- JSON arguments ------------------------------------------------------------------


def parse_json_args(text: str) -> tuple[Value, ...]:
    """Positional tx arguments from a JSON array (a single non-array value is one arg).
    Strings starting with "0x" are bytes; floats are refused (core/render.py's mapping)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"arguments are not valid JSON: {exc}", code="bad_args") from exc
    items = doc if isinstance(doc, list) else [doc]
    if len(items) > MAX_ARGS:
        raise ValidationError(f"at most {MAX_ARGS} arguments", code="bad_args")
    return tuple(value_from_json(v) for v in items)


# --- the RPC client ------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitResult:
    """The node's answer for one submitted tx: accepted (hash) or rejected (code)."""

    tx_hash: str
    accepted: bool
    error_code: str = ""
    error_message: str = ""


class RpcClient:
    """Async client of one node's RPC. Use as ``async with RpcClient(url) as rpc``."""

    def __init__(self, url: str, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        self.url = url.rstrip("/")
        self.timeout_ms = timeout_ms
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RpcClient:
        timeout = aiohttp.ClientTimeout(total=self.timeout_ms / 1000)
        self._session = aiohttp.ClientSession(timeout=timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("RpcClient used outside `async with`")
        return self._session

    async def _request(
        self, method: str, path: str, *, body: bytes | None = None, content_type: str = "",
        json_body: Any = None,
    ) -> Any:
        url = self.url + path
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            async with self.session.request(
                method, url, data=body, json=json_body, headers=headers
            ) as resp:
                raw = await _read_bounded(resp, MAX_RESPONSE_BYTES)
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self._unreachable(exc) from exc
        try:
            doc = json.loads(raw) if raw else None
        except ValueError as exc:
            raise NodeUnreachable(
                f"node at {self.url} did not answer with JSON (HTTP {status}): is it an hkchain RPC?"
            ) from exc
        if status >= 400:
            code, message = _error_of(doc, status)
            raise RpcError(message, code=code, http_status=status)
        return doc

    def _unreachable(self, exc: BaseException) -> NodeUnreachable:
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return NodeUnreachable(
                f"the node at {self.url} serves a TLS certificate this machine does not trust "
                f"({exc.certificate_error.__class__.__name__}: "
                f"{getattr(exc.certificate_error, 'verify_message', '') or exc.certificate_error}); "
                "for a self-signed certificate, name it in SSL_CERT_FILE=cert.pem")
        hint = ""
        if isinstance(exc, aiohttp.ServerDisconnectedError) and self.url.startswith("http://"):
            hint = "; if the node serves TLS, use https://"
        return NodeUnreachable(f"cannot reach node at {self.url} ({_describe(exc)}{hint})")

    async def status(self) -> dict[str, Any]:
        return _as_dict(await self._request("GET", "/v1/status"), "status")

    async def block(self, height: int | None = None) -> dict[str, Any]:
        """The block at ``height`` (the latest if None) with its certificate."""
        which = "latest" if height is None else str(int(height))
        return _as_dict(await self._request("GET", f"/v1/blocks/{which}"), "block")

    async def tx(self, tx_hash: str) -> dict[str, Any]:
        return _as_dict(await self._request("GET", f"/v1/txs/{tx_hash}"), "tx")

    async def query(self, contract: str, method: str, args: Sequence[Value] = ()) -> Any:
        doc = await self._request(
            "POST",
            "/v1/query",
            json_body={"contract": contract, "method": method, "args": value_to_json(list(args))},
        )
        return _as_dict(doc, "query").get("result")

    async def proof(self, key_hex: str) -> dict[str, Any]:
        return _as_dict(await self._request("GET", f"/v1/proofs/{key_hex}"), "proof")

    async def metrics(self) -> str:
        try:
            async with self.session.get(self.url + "/metrics") as resp:
                return (await _read_bounded(resp, MAX_RESPONSE_BYTES)).decode()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self._unreachable(exc) from exc

    async def simulate(self, stx: SignedTx) -> dict[str, Any]:
        """Dry-run one signed tx: ``{height, next_height, pending_before, receipt}``."""
        doc: dict[str, Any] = await self._request(
            "POST", "/v1/txs/simulate", body=stx.encode(), content_type=MSGPACK_TYPE)
        return doc

    async def submit(self, stx: SignedTx) -> str:
        """Submit one tx; its hash (hex) once the node accepted it, else RpcError."""
        result = (await self.submit_batch([stx]))[0]
        if not result.accepted:
            raise RpcError(result.error_message or result.error_code, code=result.error_code,
                           http_status=400)
        return result.tx_hash

    async def submit_batch(self, txs: Sequence[SignedTx]) -> list[SubmitResult]:
        """Submit txs in chunks of MAX_BATCH_TXS; one result per tx, in order."""
        out: list[SubmitResult] = []
        for start in range(0, len(txs), MAX_BATCH_TXS):
            chunk = txs[start : start + MAX_BATCH_TXS]
            # msgpack of a list of SignedTx values: the txs' canonical bytes, no hex.
            body = codec.encode([t.to_value() for t in chunk])
            doc = await self._request("POST", "/v1/txs", body=body, content_type=MSGPACK_TYPE)
            out.extend(_submit_results(doc, chunk))
        return out

    async def wait_tx(self, tx_hash: str, *, timeout_ms: int = 30_000) -> dict[str, Any]:
        """Poll until the tx is committed (its record has a receipt); TxTimeout if not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000
        while True:
            try:
                doc = await self.tx(tx_hash)
                if doc.get("status") == "committed":
                    return doc
                if doc.get("status") in ("rejected", "expired"):
                    code, message = _error_of(doc, 200)
                    raise RpcError(f"tx {tx_hash} was {doc['status']}: {message}", code=code,
                                   http_status=200)
            except RpcError as exc:
                if exc.code != "not_found":
                    raise
            if loop.time() >= deadline:
                raise TxTimeout(f"tx {tx_hash} not committed within {timeout_ms} ms")
            await asyncio.sleep(POLL_INTERVAL_MS / 1000)

    async def account(self, address: str) -> dict[str, Any]:
        """Balance and next nonce of an account."""
        return _as_dict(await self._request("GET", f"/v1/accounts/{address}"), "account")

    async def statement(self, address: str, cursor: str = "", limit: int = 20) -> dict[str, Any]:
        """A page of an address's statement (docs/APPLICATIONS.md), newest first."""
        query = urlencode({"cursor": cursor, "limit": limit})
        return _as_dict(await self._request("GET", f"/v1/accounts/{address}/statement?{query}"), "statement")

    async def subscribe(self, topics: Sequence[str] = ("blocks", "events")) -> AsyncIterator[dict[str, Any]]:
        """Messages pushed by the node over the websocket, as parsed JSON objects."""
        ws_url = self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/v1/ws"
        try:
            ws = await self.session.ws_connect(ws_url, max_msg_size=MAX_WS_MESSAGE_BYTES,
                                               heartbeat=20.0)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self._unreachable(exc) from exc
        async with ws:
            await ws.send_json({"subscribe": list(topics)})
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.ERROR:
                    raise NodeUnreachable(f"subscription to {self.url} failed: {msg.data or ws.exception()}")
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                try:
                    doc = json.loads(msg.data)
                except ValueError as exc:
                    raise NodeUnreachable(f"node at {self.url} sent a non-JSON message") from exc
                if not isinstance(doc, dict) or doc.get("type") == "subscribed":
                    continue
                if doc.get("type") == "error":
                    raise RpcError(str(doc.get("message", "subscription ended")),
                                   code=str(doc.get("code", "error")), http_status=200)
                yield doc
            if ws.close_code not in (None, aiohttp.WSCloseCode.OK, aiohttp.WSCloseCode.GOING_AWAY):
                raise NodeUnreachable(f"node at {self.url} closed the subscription (code {ws.close_code})")


async def _read_bounded(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, refusing more than ``limit`` bytes (a node is not trusted to be small)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise NodeUnreachable(f"node at {resp.url.origin()} sent an answer over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        err = exc.os_error
        return os.strerror(err.errno).lower() if err.errno else str(err)
    return str(exc) or type(exc).__name__


def _error_of(doc: Any, status: int) -> tuple[str, str]:
    if isinstance(doc, dict):
        err = doc.get("error", doc)
        if isinstance(err, dict):
            code = str(err.get("code") or f"http_{status}")
            return code, str(err.get("message") or code)
        if isinstance(err, str):
            return str(doc.get("code") or f"http_{status}"), err
    return f"http_{status}", f"node answered HTTP {status}"


def _as_dict(doc: Any, what: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise NodeUnreachable(f"node sent a malformed {what} answer")
    return doc


def _submit_results(doc: Any, chunk: Sequence[SignedTx]) -> list[SubmitResult]:
    items = _as_dict(doc, "submit").get("results")
    if not isinstance(items, list) or len(items) != len(chunk):
        raise NodeUnreachable("node sent a malformed submit answer")
    out = []
    for stx, item in zip(chunk, items, strict=True):
        if not isinstance(item, dict):
            raise NodeUnreachable("node sent a malformed submit answer")
        err = item.get("error")
        if err:
            code, message = _error_of({"error": err}, 400)
            out.append(SubmitResult(stx.hash.hex(), False, code, message))
        else:
            out.append(SubmitResult(str(item.get("hash", stx.hash.hex())), True))
    return out


# --- the wallet ----------------------------------------------------------------------


class Wallet:
    """One signing key against one node: builds, signs and submits txs.

    The chain id, current height, gas price and the sender's next nonce are fetched once
    (``sync``); afterwards the nonce advances locally with each signed tx, so batches
    need no round trip per tx. Call ``sync`` again after a rejection. ``max_fee``
    defaults to the fee of ``gas_limit`` gas at the chain's price (``fees.gas_price_milli``,
    points per 1,000 gas), rounded up as the chain rounds fees.
    """

    def __init__(
        self,
        key: PrivateKey,
        rpc: RpcClient,
        *,
        max_fee: int | None = None,
        gas_limit: int = DEFAULT_GAS_LIMIT,
        expiry_margin: int = DEFAULT_EXPIRY_MARGIN,
    ) -> None:
        self.key = key
        self.rpc = rpc
        self.max_fee = max_fee
        self.gas_limit = gas_limit
        self.gas_price_milli = 1
        self.expiry_margin = expiry_margin
        self.chain_id = ""
        self.height = 0
        self.next_nonce = 0
        self._synced = False

    @property
    def address(self) -> str:
        return self.key.address

    async def sync(self) -> None:
        status = await self.rpc.status()
        self.chain_id = str(status["chain_id"])
        self.height = int(status["height"])
        account = await self.rpc.account(self.address)
        # Follow the sender's txs already waiting in this node's mempool, if any.
        self.next_nonce = int(account.get("pending_nonce", account["nonce"]))
        if self.max_fee is None:
            price = await self.rpc.query("fees", "gas_price_milli")
            if type(price) is not int or price < 0:
                raise NodeUnreachable(f"node at {self.rpc.url} sent a malformed gas price")
            self.gas_price_milli = price
        self._synced = True

    @property
    def default_max_fee(self) -> int:
        if self.max_fee is not None:
            return self.max_fee
        return (self.gas_limit * self.gas_price_milli + MILLI - 1) // MILLI

    def build(self, contract: str, method: str, args: Sequence[Value] = (), *,
              max_fee: int | None = None) -> SignedTx:
        """Sign the next call with the locally tracked nonce (call ``sync`` first)."""
        if not self._synced:
            raise RuntimeError("Wallet.build before Wallet.sync")
        tx = Tx(
            chain_id=self.chain_id,
            sender=self.key.public_key,
            nonce=self.next_nonce,
            contract=contract,
            method=method,
            args=tuple(args),
            max_fee=self.default_max_fee if max_fee is None else max_fee,
            expiry_height=self.height + self.expiry_margin,
        )
        tx.validate_basic()
        self.next_nonce += 1
        return tx.sign(self.key)

    async def call(self, contract: str, method: str, args: Sequence[Value] = (), *,
                   wait_ms: int | None = 30_000, dry_run: bool = True,
                   on_dry_run: Callable[[dict[str, Any]], None] | None = None,
                   ) -> tuple[str, dict[str, Any] | None]:
        """Build, sign and submit one call; wait for its receipt unless ``wait_ms`` is None.

        First (unless ``dry_run`` is False) the node dry-runs the signed tx: if it would
        fail or could not run, DryRunRefused is raised and nothing is sent, so no fee is
        paid; otherwise ``on_dry_run`` is handed the would-be receipt (its fee) first."""
        if not self._synced:
            await self.sync()
        stx = self.build(contract, method, args)
        if dry_run:
            try:
                receipt = (await self.rpc.simulate(stx))["receipt"]
            except RpcError:
                self._synced = False  # the nonce was not consumed
                raise
            if receipt.get("status") != 0:
                self._synced = False
                code = str(receipt.get("error_code") or receipt.get("status_name") or "failed")
                fee = int(receipt.get("fee", 0))
                message = str(receipt.get("error_message") or "the call would fail")
                cost = f"; it would have cost a fee of {fee} points" if fee else ""
                raise DryRunRefused(f"not sent, no fee paid: {message}{cost}", code=code, fee=fee)
            if on_dry_run is not None:
                on_dry_run(receipt)
        try:
            tx_hash = await self.rpc.submit(stx)
        except RpcError:
            self._synced = False  # the nonce may not have been consumed
            raise
        if wait_ms is None:
            return tx_hash, None
        return tx_hash, await self.rpc.wait_tx(tx_hash, timeout_ms=wait_ms)

    async def transfer(self, to_address: str, amount: int, *,
                       wait_ms: int | None = 30_000) -> tuple[str, dict[str, Any] | None]:
        return await self.call("token", "transfer", [to_address, amount], wait_ms=wait_ms)


def run(coro: Awaitable[T]) -> T:
    """Run one coroutine to completion: the synchronous entry point used by the CLI."""

    async def _main() -> T:
        return await coro

    return asyncio.run(_main())
