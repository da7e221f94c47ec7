"""Where the indexer reads the chain: a node's public RPC, like any client.

``RpcSource`` pages committed blocks with their certificates and receipts
(``GET /v1/blocks?from=H&limit=N``), asks for the node's status, reads the validator
schedule with a state proof when the set changes, and waits for new blocks on the
websocket (``/v1/ws``), falling back to polling when the websocket is down. Nothing the
node says is trusted: analytics/indexer.py verifies every block before writing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Protocol

import aiohttp

from analytics.errors import SourceError

MAX_PAGE_BYTES = 64 * 1024 * 1024
DEFAULT_TIMEOUT_MS = 30_000
# The state key of the validator schedule (vm/layout.py VALIDATORS_KEY; a test checks they
# agree): [[effective_height, [[public_key, name], ...]], ...].
VALIDATORS_KEY = b"sys/validators"


class ChainSource(Protocol):
    """What the indexer needs of a node."""

    async def status(self) -> dict[str, Any]:
        """``GET /v1/status``: chain_id, genesis_hash, height, validators..."""

    async def blocks(self, start: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """The head height and up to ``limit`` blocks from ``start`` on, with receipts."""

    async def proof(self, key: bytes, height: int) -> dict[str, Any]:
        """``GET /v1/proofs/{key}?height=H``."""

    async def wait_for_block(self, after: int, timeout_ms: int) -> None:
        """Return when a block above ``after`` may be committed, or after ``timeout_ms``."""

    async def close(self) -> None: ...


class RpcSource:
    """ChainSource over a node's HTTP RPC and websocket."""

    def __init__(self, rpc_url: str, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        self.rpc_url = rpc_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_ms / 1000)
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._heads: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        self._ws_task: asyncio.Task[None] | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        url = self.rpc_url + path
        try:
            async with self._http().get(url, params=params) as resp:
                parts: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(1 << 16):
                    size += len(chunk)
                    if size > MAX_PAGE_BYTES:
                        raise SourceError(f"{url}: answer larger than {MAX_PAGE_BYTES} bytes",
                                          code="bad_answer")
                    parts.append(chunk)
                body = b"".join(parts)
                try:
                    doc = json.loads(body)
                except (ValueError, RecursionError):
                    raise SourceError(f"{url}: answer is not JSON (HTTP {resp.status})",
                                      code="bad_answer") from None
                if resp.status != 200:
                    err = doc.get("error", {}) if isinstance(doc, dict) else {}
                    raise SourceError(f"{url}: HTTP {resp.status} {err.get('code', '')}: "
                                      f"{err.get('message', '')}".rstrip(),
                                      code=str(err.get("code") or "bad_answer"))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SourceError(f"cannot reach the node at {self.rpc_url}: {exc or type(exc).__name__}") from None
        if not isinstance(doc, dict):
            raise SourceError(f"{url}: answer is not a JSON object", code="bad_answer")
        return doc

    async def status(self) -> dict[str, Any]:
        return await self._get("/v1/status")

    async def blocks(self, start: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        doc = await self._get("/v1/blocks", {"from": str(start), "limit": str(limit)})
        head, blocks = doc.get("head"), doc.get("blocks")
        if type(head) is not int or not isinstance(blocks, list):
            raise SourceError("GET /v1/blocks: not {head, blocks}", code="bad_answer")
        return head, blocks

    async def proof(self, key: bytes, height: int) -> dict[str, Any]:
        return await self._get(f"/v1/proofs/{key.hex()}", {"height": str(height)})

    async def _follow(self) -> None:
        ws_url = self.rpc_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/v1/ws"
        while True:
            try:
                async with self._http().ws_connect(ws_url, heartbeat=30.0, max_msg_size=4 * 1024 * 1024) as ws:
                    await ws.send_json({"subscribe": ["blocks"]})
                    async for msg in ws:
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            break
                        with contextlib.suppress(ValueError):
                            doc = json.loads(msg.data)
                            if isinstance(doc, dict) and doc.get("type") == "block" and type(doc.get("height")) is int:
                                if self._heads.full():
                                    self._heads.get_nowait()
                                self._heads.put_nowait(doc["height"])
            except (aiohttp.ClientError, TimeoutError, OSError):
                pass
            await asyncio.sleep(1.0)  # reconnect back-off; polling covers the gap

    async def wait_for_block(self, after: int, timeout_ms: int) -> None:
        if self._ws_task is None:
            self._ws_task = asyncio.create_task(self._follow())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_ms / 1000):
                while True:
                    if await self._heads.get() > after:
                        return

    async def close(self) -> None:
        if self._ws_task is not None:
            self._ws_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ws_task
            self._ws_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
