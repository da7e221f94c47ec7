"""The web app (package web/) served by the RPC server: ``/`` is the app's page,
``/static/…`` and ``/vendor/…`` its files. Every answer carries a strict
Content-Security-Policy: scripts, styles and connections from this origin only, no inline
script, no eval (WebAssembly compilation, which the Argon2id of key files needs, is the one
allowance), no frames, no plugins. Files are read once into memory from a fixed list of
suffixes, so a request can only ever name a file of the app: there is no path to walk."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

import web as webapp

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=()",
    "Cache-Control": "no-cache",
}

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
MAX_ASSET_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets(static_dir: Path = webapp.STATIC_DIR,
                vendor_dir: Path = webapp.VENDOR_DIR) -> dict[str, Asset]:
    """URL path -> asset, for every file of a served suffix under the two folders."""
    assets: dict[str, Asset] = {}
    for prefix, folder in (("/static/", static_dir), ("/vendor/", vendor_dir)):
        for path in sorted(folder.rglob("*")):
            content_type = CONTENT_TYPES.get(path.suffix)
            if content_type is None or not path.is_file():
                continue
            body = path.read_bytes()
            if len(body) > MAX_ASSET_BYTES:
                raise ValueError(f"web asset {path} is over {MAX_ASSET_BYTES} bytes")
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            assets[prefix + path.relative_to(folder).as_posix()] = Asset(body, content_type, etag)
    index = static_dir / "index.html"
    if "/static/index.html" in assets:
        assets["/"] = assets["/static/index.html"]
    elif not index.exists():
        raise FileNotFoundError(f"the web app's page {index} is missing")
    return assets


def _answer(request: web.Request, asset: Asset) -> web.Response:
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers={**SECURITY_HEADERS, "ETag": asset.etag})
    return web.Response(body=asset.body, headers={
        **SECURITY_HEADERS, "Content-Type": asset.content_type, "ETag": asset.etag})


# The app's pages and files: not part of the RPC's API, so not in its OpenAPI document.
WEB_ROUTES = ("/", "/static/{path}", "/vendor/{path}")


def add_web_routes(router: web.UrlDispatcher) -> None:
    """Register ``/``, ``/static/{path}`` and ``/vendor/{path}`` (WEB_ROUTES) on ``router``."""
    assets = load_assets()

    async def serve(request: web.Request) -> web.Response:
        asset = assets.get(request.path)
        if asset is None:
            raise web.HTTPNotFound(reason="no such file of the web app")
        return _answer(request, asset)

    router.add_get("/", serve)
    router.add_get("/static/{path:.+}", serve)
    router.add_get("/vendor/{path:.+}", serve)
