"""Readable content: the texts behind the hashes on chain.

Proposal texts, notices, service request descriptions, comments, dispute reasons and
activity descriptions are kept in the nodes' replicated content-addressed blob store
(node/blobs.py, like culture works); the chain stores their SHA-256. Before a command
signs, ``read_body`` checks what was given (a file that exists, UTF-8 text within its
size limit) and ``publish`` uploads it, checking that the node stored the same hash.
``fetch_text`` downloads a body from a node and refuses it unless its SHA-256 is the one
on chain.

Size limits (bytes of UTF-8): a document (proposal, notice, spend plan) ≤ 256 KiB; a
short text (comment, description, reason) ≤ 4 KiB; an attached file that is not text
(a signed contract's scan) ≤ 10 MiB, the blob store's limit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import click

from cli.wallet import NodeUnreachable, RpcError, run

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # the blob store's limit (node/blobs.py)
BLOB_TIMEOUT_S = 60.0


async def upload_blob(rpc_url: str, data: bytes) -> str:
    """Store ``data`` in a node's blob store; its SHA-256 (hex), checked against ours."""
    url = rpc_url.rstrip("/") + "/v1/blobs"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=BLOB_TIMEOUT_S)) as s, \
                s.post(url, data=data, headers={"Content-Type": "application/octet-stream"}) as resp:
            doc: Any = await resp.json(content_type=None)
            status = resp.status
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        raise NodeUnreachable(f"cannot upload to {rpc_url}: {exc or type(exc).__name__}") from exc
    if status >= 400 or not isinstance(doc, dict):
        err = doc.get("error", {}) if isinstance(doc, dict) else {}
        raise RpcError(str(err.get("message", f"HTTP {status}")), code=str(err.get("code", "http_error")),
                       http_status=status)
    h = str(doc.get("hash", ""))
    if h != hashlib.sha256(data).hexdigest():
        raise RpcError("node answered another hash than the file's", code="hash_mismatch", http_status=status)
    return h


async def download_blob(rpc_url: str, content_hash: str) -> bytes:
    """A blob from a node, refused unless its SHA-256 is ``content_hash``."""
    url = rpc_url.rstrip("/") + "/v1/blobs/" + content_hash
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=BLOB_TIMEOUT_S)) as s, \
                s.get(url) as resp:
            status = resp.status
            chunks: list[bytes] = []
            size = 0
            while size <= MAX_UPLOAD_BYTES:
                chunk = await resp.content.read(256 * 1024)  # may return less: loop to EOF
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            body = b"".join(chunks)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise NodeUnreachable(f"cannot download from {rpc_url}: {exc or type(exc).__name__}") from exc
    if status == 404:
        raise RpcError(f"node {rpc_url} does not hold {content_hash} (yet)", code="not_found", http_status=404)
    if status >= 400:
        raise RpcError(f"node answered HTTP {status}", code=f"http_{status}", http_status=status)
    if hashlib.sha256(body).hexdigest() != content_hash:
        raise RpcError("the node sent bytes of another hash", code="hash_mismatch", http_status=status)
    return body



DOC_MAX_BYTES = 256 * 1024
SHORT_MAX_BYTES = 4 * 1024
FILE_MAX_BYTES = MAX_UPLOAD_BYTES
HASH_HEX = 64


@dataclass(frozen=True)
class Body:
    data: bytes

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.data).digest()


def text_body(text: str, what: str, max_bytes: int) -> Body:
    """Text typed on the command line: not empty, within ``max_bytes`` of UTF-8."""
    data = text.strip().encode()
    if not data:
        raise click.BadParameter("the text is empty", param_hint=what)
    if len(data) > max_bytes:
        raise click.BadParameter(f"{len(data)} bytes of text; at most {max_bytes}", param_hint=what)
    return Body(data)


def file_body(path: Path, what: str, max_bytes: int, *, text: bool = True) -> Body:
    """A file's bytes: the file must exist; with ``text`` it must be UTF-8 text."""
    if not path.is_file():
        raise click.BadParameter(f"no such file: {path}", param_hint=what)
    size = path.stat().st_size
    if size == 0:
        raise click.BadParameter(f"{path} is empty", param_hint=what)
    if size > max_bytes:
        raise click.BadParameter(f"{path} has {size} bytes; at most {max_bytes}", param_hint=what)
    data = path.read_bytes()
    if text:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise click.BadParameter(f"{path} is not UTF-8 text", param_hint=what) from None
    return Body(data)


def read_body(file: Path | None, text: str | None, *, file_opt: str, text_opt: str,
              max_bytes: int, required: bool = True) -> Body | None:
    """Exactly one of a file and an inline text (or neither, when not ``required``)."""
    if file is not None and text is not None:
        raise click.UsageError(f"give {file_opt} or {text_opt}, not both")
    if file is not None:
        return file_body(file, file_opt, max_bytes)
    if text is not None:
        return text_body(text, text_opt, max_bytes)
    if required:
        raise click.UsageError(f"give the text: {text_opt} TEXT or {file_opt} FILE")
    return None


def publish(rpc_url: str, body: Body) -> bytes:
    """Upload ``body`` to the node's blob store; its hash, as the node confirmed it."""
    try:
        h = run(upload_blob(rpc_url, body.data))
    except (NodeUnreachable, RpcError) as exc:
        raise click.ClickException(f"uploading the text: {exc.message} [{exc.code}]") from exc
    return bytes.fromhex(h)


@dataclass(frozen=True)
class Fetched:
    """A body read back: its text if it is UTF-8, else only its size."""

    hash_hex: str
    text: str | None
    size: int
    error: str | None = None

    def shown(self, max_chars: int = 20_000) -> str:
        if self.error is not None:
            return f"(text not available: {self.error})"
        if self.text is None:
            return f"(a file of {self.size} bytes, not text: `hkchain culture get {self.hash_hex} --out FILE`)"
        text = self.text.rstrip()
        return text if len(text) <= max_chars else text[:max_chars] + "…"


def fetch_text(rpc_url: str, content_hash: object) -> Fetched:
    """The body of ``content_hash`` (bytes, or hex with or without 0x) from the node,
    checked against the hash. Never raises for a missing or bad body: says why instead."""
    if isinstance(content_hash, bytes):
        hex_hash = content_hash.hex()
    else:
        hex_hash = str(content_hash).removeprefix("0x").lower()
    if len(hex_hash) != HASH_HEX:
        return Fetched(hex_hash, None, 0, "no hash on chain")
    try:
        data = run(download_blob(rpc_url, hex_hash))
    except (NodeUnreachable, RpcError) as exc:
        return Fetched(hex_hash, None, 0, f"{exc.message} [{exc.code}]")
    try:
        return Fetched(hex_hash, data.decode("utf-8"), len(data))
    except UnicodeDecodeError:
        return Fetched(hex_hash, None, len(data))
