"""No input ever gets a 5xx from the RPC: hypothesis drives every route of the running
app (taken from its router, so a route added later is covered without editing this file)
with arbitrary text in the path parameters, arbitrary query strings, arbitrary bodies and
content types. The node is a real single-validator node (the real VM and genesis), run on
its own event loop in a thread so the test can speak plain blocking HTTP."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, composite

from node.home import default_genesis_template, init_network
from node.service import Node
from tests.e2e.harness import free_base_port

_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")
CONTENT_TYPES = ("application/json", "application/msgpack", "application/octet-stream",
                 "text/plain", "multipart/form-data", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {name} placeholders, or a static prefix ending in "/"
    params: tuple[str, ...]
    query: tuple[str, ...] = ()  # the query parameters the OpenAPI document names


# Query parameter names to try on every route, besides those the document names.
COMMON_QUERY = ("height", "limit", "cursor", "from", "committee", "format", "address")


class NodeThread:
    """A real node on its own event loop in a daemon thread."""

    def __init__(self, home: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.node: Node = self.call(self._start(home))

    async def _start(self, home: Path) -> Node:
        node = Node.open(home)
        await node.start()
        return node

    def call(self, coro: Any, timeout_s: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        self.call(self.node.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeThread]:
    home = tmp_path_factory.mktemp("fuzz")
    net = init_network(home / "net", 1, base_port=free_base_port(1),
                       genesis_template=default_genesis_template())
    nt = NodeThread(net.nodes[0].home)
    try:
        yield nt
    finally:
        nt.close()


def app_routes(node: Node) -> list[Route]:
    """Every (method, path) the RPC app serves, from its router, with the query
    parameters its OpenAPI entry names."""
    from node.rpc import openapi_document

    paths = openapi_document(node.config.rpc)["paths"]
    out: set[Route] = set()
    for route in node.rpc.app.router.routes():
        resource = route.resource
        if resource is None:
            continue
        info = resource.get_info()
        if "formatter" in info:
            path = str(info["formatter"])
        elif "prefix" in info:  # a static directory: any file name under it
            path = str(info["prefix"]).rstrip("/") + "/{file}"
        else:
            path = str(info.get("path", resource.canonical))
        op = paths.get(path, {}).get(route.method.lower(), {})
        query = tuple(sorted({p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}))
        out.add(Route(route.method, path, tuple(_PARAM.findall(path)), query))
    return sorted(out, key=lambda r: (r.path, r.method))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
# Keys the JSON routes read, so bodies reach past the first shape check.
known_keys = st.sampled_from(["tx", "txs", "contract", "method", "args", "subscribe"])


@composite
def bodies(draw: DrawFn) -> bytes:
    kind = draw(st.sampled_from(["none", "bytes", "text", "json", "shaped", "escapes"]))
    if kind == "none":
        return b""
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "shaped":
        doc = draw(st.dictionaries(known_keys, json_values, max_size=4))
        return json.dumps(doc).encode()
    # JSON string escapes that decode to lone surrogates or control characters.
    esc = draw(st.lists(st.sampled_from([r"\ud800", r"\udfff", r"\u0000", r"\u00b2", "a", "0"]),
                        max_size=6))
    field, text = draw(known_keys), "".join(esc)
    return f'{{"{field}": "{text}", "contract": "culture", "method": "{text}", "args": ["{text}"]}}'.encode()


TRICKY = ("²", "١٢", "-1", "1" * 30)


@composite
def requests_for(draw: DrawFn, route: Route, good: dict[str, tuple[str, ...]]
                 ) -> tuple[str, str, bytes, dict[str, str]]:
    method = route.method if draw(st.integers(0, 5)) else draw(st.sampled_from(METHODS))
    path = route.path
    for name in route.params:
        # Valid values too (an address, a height, a hash), so the handler gets past the
        # path to the query string and the body.
        text = draw(st.one_of(st.text(max_size=80), st.sampled_from((*TRICKY, "0x", " 1", "1\n")),
                              st.sampled_from(good.get(name, good["*"]))))
        path = _PARAM.sub(quote(text, safe=""), path, count=1)
    values = st.one_of(st.text(max_size=40), st.sampled_from((*TRICKY, "0", "1.2", "١.٢")))
    query = [(n, draw(values)) for n in route.query if draw(st.booleans())]
    names = st.one_of(st.text(max_size=12), st.sampled_from(COMMON_QUERY))
    query += draw(st.lists(st.tuples(names, values), max_size=2))
    if query:
        path += "?" + urlencode(query)
    headers = {"Content-Type": draw(st.one_of(st.sampled_from(CONTENT_TYPES),
                                              st.text(st.characters(min_codepoint=32, max_codepoint=126),
                                                      max_size=40)))}
    body = draw(bodies()) if method not in ("GET", "HEAD") or draw(st.booleans()) else b""
    return method, path, body, headers


def send(port: int, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def test_the_router_lists_every_documented_route(running: NodeThread) -> None:
    from node.rpc import openapi_document

    routes = {(r.method.lower(), r.path) for r in app_routes(running.node) if r.method != "HEAD"}
    documented = {(m, p) for p, ops in openapi_document(running.node.config.rpc)["paths"].items()
                  for m in ops}
    assert documented <= routes, documented - routes
    assert ("get", "/v1/blocks/{which}") in routes


def test_unicode_digits_are_not_a_height(running: NodeThread) -> None:
    port = running.node.rpc.port
    for text in ("²", "١٢", "٣", "𝟙", "12\n"):
        assert send(port, "GET", "/v1/blocks/" + quote(text), b"", {}) == 400, text
        assert send(port, "GET", "/v1/proofs/00?height=" + quote(text), b"", {}) == 400, text
    assert send(port, "GET", "/v1/blocks/0", b"", {}) == 200


def test_every_parameter_of_every_route_refuses_unicode_digits(running: NodeThread) -> None:
    """A sweep to go with the random test: each path and documented query parameter of
    each route in turn gets each tricky value, the others valid."""
    node = running.node
    port = node.rpc.port
    good = {"address": node.key.address, "which": "0", "hash": "00" * 32}
    tried = 0
    for route in app_routes(node):
        if route.method not in ("GET", "POST"):
            continue
        base = {name: good.get(name, "0") for name in route.params}
        slots = [("path", n) for n in route.params] + [("query", n) for n in route.query]
        for kind, name in slots:
            for value in TRICKY:
                params = dict(base, **({name: value} if kind == "path" else {}))
                path = route.path
                for n in route.params:
                    path = path.replace("{" + n + "}", quote(params[n], safe=""), 1)
                if kind == "query":
                    path += "?" + urlencode({name: value})
                status = send(port, route.method, path, b"{}" if route.method == "POST" else b"",
                              {"Content-Type": "application/json"})
                assert status < 500, (route.method, path, status)
                tried += 1
    assert tried > 20


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          deadline=None)
@given(data=st.data())
def test_no_input_gets_a_5xx_on_any_route(running: NodeThread, data: st.DataObject) -> None:
    port = running.node.rpc.port
    routes = app_routes(running.node)
    assert len(routes) >= 10
    node = running.node
    hashes = ("00" * 32, node.genesis_block.hash.hex())
    good = {"address": (node.key.address,), "which": ("0", "1", "latest"), "hash": hashes,
            "*": (node.key.address, "0", "latest", *hashes)}
    for route in routes:
        method, path, body, headers = data.draw(requests_for(route, good), label=f"{route.method} {route.path}")
        status = send(port, method, path, body, headers)
        assert status < 500, (method, path, body[:200], headers, status)
    # Any path at all, routed or not.
    path = "/" + quote(data.draw(st.text(max_size=60), label="path"), safe="/")
    assert send(port, "GET", path, b"", {}) < 500

