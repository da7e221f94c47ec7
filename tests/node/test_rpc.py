"""The RPC of one node of a four-validator in-process network: every answer path, and
never a 500 for bad input."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core import codec
from core.errors import ValidationError
from core.types import SignedTx
from core.verify import verify_receipts
from node.service import Node
from node.webapp import WEB_ROUTES
from storage.state import StateProof
from tests.node.fakes import PowerLossStore
from tests.node.harness import (
    USER_KEYS,
    make_homes,
    make_tx,
    start_nodes,
    stop_nodes,
    wait_for,
)

MAX_BATCH = 5
MAX_BODY = 64 * 1024


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    homes = make_homes(tmp_path, 4, empty_block_interval_ms=100,
                       rpc_overrides={"max_batch": MAX_BATCH, "max_body_bytes": MAX_BODY},
                       mempool_overrides={"max_txs": 8, "max_txs_per_sender": 8})
    nodes = await start_nodes(homes)
    yield nodes[0]
    await stop_nodes(nodes)


@pytest.fixture
async def http(node: Node) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    async with aiohttp.ClientSession() as session:
        yield session, f"http://127.0.0.1:{node.rpc.port}"


async def call(http: tuple[aiohttp.ClientSession, str], method: str, path: str,
               **kwargs: Any) -> tuple[int, Any]:
    session, base = http
    async with session.request(method, base + path, **kwargs) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


def jtx(stx: SignedTx) -> dict[str, str]:
    return {"tx": stx.encoded.hex()}


async def test_submit_one_tx_and_follow_it_to_its_receipt(node: Node, http: Any) -> None:
    stx = make_tx(0, 0, key="a", value="b")
    status, doc = await call(http, "POST", "/v1/txs", json=jtx(stx))
    assert (status, doc) == (202, {"hash": stx.hash.hex()})
    await wait_for(lambda: node.store.tx_location(stx.hash) is not None, what="commit")
    status, doc = await call(http, "GET", f"/v1/txs/{stx.hash.hex()}")
    assert status == 200 and doc["status"] == "committed"
    assert doc["receipt"]["status"] == 0 and doc["receipt"]["fee"] == 1
    assert doc["receipt"]["events"] == [{"contract": "kv", "name": "Set", "fields": {"key": "a"}}]
    status, doc = await call(http, "POST", "/v1/query", json={"contract": "kv", "method": "get", "args": ["a"]})
    assert status == 200 and doc["result"] == "b"
    status, block = await call(http, "GET", f"/v1/blocks/{doc['height']}")
    assert status == 200 and block["certificate"]["height"] == doc["height"]


async def test_batch_answers_each_tx(node: Node, http: Any) -> None:
    good = make_tx(1, 0)
    forged = SignedTx(make_tx(1, 1).tx, b"\x01" * 64)
    stale = make_tx(1, 0, value="again")  # the same nonce as a pending tx
    status, doc = await call(http, "POST", "/v1/txs", json={"txs": [
        good.encoded.hex(), forged.encoded.hex(), "zz", stale.encoded.hex(), 7]})
    assert status == 200
    codes = [r.get("error", {}).get("code") for r in doc["results"]]
    assert codes == [None, "bad_signature", "malformed", "bad_nonce", "malformed"]
    assert doc["results"][0]["hash"] == good.hash.hex() and doc["accepted"] == 1


async def test_msgpack_bodies(node: Node, http: Any) -> None:
    one, two = make_tx(2, 0), make_tx(2, 1)
    headers = {"Content-Type": "application/msgpack"}
    status, doc = await call(http, "POST", "/v1/txs", data=one.encoded, headers=headers)
    assert (status, doc["hash"]) == (202, one.hash.hex())
    body = codec.encode([two.to_value(), [1, 2]])
    status, doc = await call(http, "POST", "/v1/txs", data=body, headers=headers)
    assert status == 200
    assert doc["results"][0]["hash"] == two.hash.hex()
    assert doc["results"][1]["error"]["code"] == "malformed"
    status, doc = await call(http, "POST", "/v1/txs", data=b"\xc1junk", headers=headers)
    assert (status, doc["error"]["code"]) == (400, "malformed")


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": b""}, 400, "malformed"),
        ({"data": b"{not json"}, 400, "malformed"),
        ({"json": {"txs": "abc"}}, 400, "malformed"),
        ({"json": {"tx": "ab", "extra": 1}}, 400, "malformed"),
        ({"json": [1, 2]}, 400, "malformed"),
        ({"json": {"txs": []}}, 400, "malformed"),
        ({"json": {"tx": "00"}}, 400, "malformed"),
        ({"json": {"txs": ["00"] * (MAX_BATCH + 1)}}, 413, "batch_too_large"),
        ({"data": b"x" * (MAX_BODY + 1)}, 413, "too_large"),
    ],
)
async def test_malformed_submissions_get_4xx(node: Node, http: Any, kwargs: dict[str, Any],
                                             status: int, code: str) -> None:
    got, doc = await call(http, "POST", "/v1/txs", **kwargs)
    assert (got, doc["error"]["code"]) == (status, code)


async def test_single_tx_refusals_map_to_status_codes(node: Node, http: Any) -> None:
    forged = SignedTx(make_tx(3, 0).tx, b"\x01" * 64)
    status, doc = await call(http, "POST", "/v1/txs", json=jtx(forged))
    assert (status, doc["error"]["code"]) == (422, "bad_signature")
    status, doc = await call(http, "POST", "/v1/txs", json=jtx(make_tx(6, 0)))  # unfunded
    assert (status, doc["error"]["code"]) == (422, "insufficient_fee")
    status, doc = await call(http, "POST", "/v1/txs", json=jtx(make_tx(3, 1000)))
    assert (status, doc["error"]["code"]) == (422, "nonce_gap")
    # Txs behind a nonce gap stay pending: fill the pool (8) and see it refuse the 9th.
    for n in range(1, 9):
        status, doc = await call(http, "POST", "/v1/txs", json=jtx(make_tx(4, n)))
        assert status == 202, doc
    status, doc = await call(http, "POST", "/v1/txs", json=jtx(make_tx(5, 1)))
    assert (status, doc["error"]["code"]) == (503, "mempool_full")


async def test_reads_and_their_errors(node: Node, http: Any) -> None:
    status, doc = await call(http, "GET", "/v1/status")
    assert status == 200
    for field in ("chain_id", "height", "latest_hash", "state_root", "view", "validators", "peers", "syncing"):
        assert field in doc
    assert (await call(http, "GET", "/v1/blocks/latest"))[0] == 200
    status, doc = await call(http, "GET", "/v1/blocks/0")
    assert status == 200 and doc["certificate"] is None and doc["height"] == 0
    assert (await call(http, "GET", "/v1/blocks/abc"))[1]["error"]["code"] == "malformed"
    assert (await call(http, "GET", "/v1/blocks/99999999"))[0] == 404
    assert (await call(http, "GET", "/v1/txs/xyz"))[1]["error"]["code"] == "malformed"
    status, doc = await call(http, "GET", "/v1/txs/" + "ab" * 32)
    assert (status, doc["status"], doc["error"]["code"]) == (404, "unknown", "not_found")
    status, doc = await call(http, "GET", f"/v1/accounts/{USER_KEYS[0].address}")
    assert status == 200 and doc["balance"] == 10**9 and doc["nonce"] == 0
    assert (await call(http, "GET", "/v1/accounts/hk1nope"))[1]["error"]["code"] == "bad_address"
    assert (await call(http, "GET", "/v1/nowhere"))[1]["error"]["code"] == "not_found"
    assert (await call(http, "DELETE", "/v1/status"))[0] == 405


async def test_block_pages_carry_receipts_that_verify(node: Node, http: Any) -> None:
    stx = make_tx(2, 0, key="p", value="q")
    assert (await call(http, "POST", "/v1/txs", json=jtx(stx)))[0] == 202
    await wait_for(lambda: node.store.tx_location(stx.hash) is not None, what="commit")
    height, _ = node.store.tx_location(stx.hash)  # type: ignore[misc]
    status, doc = await call(http, "GET", f"/v1/blocks?from={height - 1}&limit=3")
    assert status == 200 and doc["head"] >= height
    assert [b["height"] for b in doc["blocks"]] == list(range(height - 1, min(doc["head"], height + 1) + 1))
    page = doc["blocks"][1]
    assert page == {**(await call(http, "GET", f"/v1/blocks/{height}"))[1], "receipts": page["receipts"]}
    receipts = verify_receipts(page, page["receipts"])
    assert [r.tx_hash for r in receipts] == [bytes.fromhex(t["hash"]) for t in page["txs"]]
    assert stx.hash in {r.tx_hash for r in receipts}
    # A page from beyond the head is empty; limits and numbers are checked.
    status, doc = await call(http, "GET", f"/v1/blocks?from={10**9}")
    assert status == 200 and doc["blocks"] == []
    for query in ("", "?from=-1", "?from=1&limit=0", "?from=1&limit=257", "?from=1&limit=x", "?from=²"):
        status, doc = await call(http, "GET", "/v1/blocks" + query)
        assert (status, doc["error"]["code"]) == (400, "malformed"), query
    forged = dict(page, receipts=page["receipts"][::-1] if len(page["receipts"]) > 1 else [])
    with pytest.raises(ValidationError):
        verify_receipts(forged, forged["receipts"])


async def test_query_errors(node: Node, http: Any) -> None:
    status, doc = await call(http, "POST", "/v1/query", json={"contract": "kv", "method": "nope"})
    assert (status, doc["error"]["code"]) == (422, "query_failed")
    for body in ({"contract": "kv"}, {"contract": 1, "method": "get"}, {"contract": "kv", "method": "get", "args": [1.5]},
                 {"contract": "kv", "method": "get", "args": "x"}, {"contract": "kv", "method": "get", "x": 1}):
        status, doc = await call(http, "POST", "/v1/query", json=body)
        assert (status, doc["error"]["code"]) == (400, "malformed"), body


async def test_state_proof_verifies_against_the_block_root(node: Node, http: Any) -> None:
    key = b"bal/" + USER_KEYS[0].address.encode()
    status, doc = await call(http, "GET", f"/v1/proofs/{key.hex()}?height=0")
    assert status == 200 and doc["height"] == 0
    proof = StateProof.from_value(codec.decode(bytes.fromhex(doc["proof_encoded"])))
    value = bytes.fromhex(doc["value"])
    assert proof.verify(bytes.fromhex(doc["state_root"]), key, value)
    assert not proof.verify(bytes.fromhex(doc["state_root"]), key, value + b"\x00")
    assert (await call(http, "GET", "/v1/proofs/zz"))[0] == 400
    assert (await call(http, "GET", f"/v1/proofs/{key.hex()}?height=x"))[0] == 400


async def test_metrics_and_openapi_cover_every_route(node: Node, http: Any) -> None:
    status, text = await call(http, "GET", "/metrics")
    assert status == 200
    for name in ("hkchain_height", "hkchain_view", "hkchain_view_changes_total", "hkchain_txs_committed_total",
                 "hkchain_mempool_txs", "hkchain_peers", "hkchain_block_commit_seconds", "hkchain_rpc_request_seconds"):
        assert name in text
    status, doc = await call(http, "GET", "/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    routes = {(r.method.lower(), r.resource.canonical) for r in node.rpc.app.router.routes()  # type: ignore[union-attr]
              if r.method != "HEAD"}
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    web_app = {("get", path) for path in WEB_ROUTES}
    assert web_app <= routes
    assert routes - web_app <= documented, routes - web_app - documented


async def test_rate_limit_answers_429(tmp_path: Path) -> None:
    nodes = await start_nodes(make_homes(tmp_path, 4, rpc_overrides={"rate_limit_per_s": 1, "rate_burst": 3}))
    try:
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(6):
                async with session.get(f"http://127.0.0.1:{nodes[0].rpc.port}/v1/status") as resp:
                    statuses.append(resp.status)
                    if resp.status == 429:
                        assert (await resp.json())["error"]["code"] == "rate_limited"
        assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
    finally:
        await stop_nodes(nodes)


async def test_websocket_pushes_blocks_and_filtered_events(node: Node, http: Any) -> None:
    session, base = http
    async with session.ws_connect(base.replace("http", "ws") + "/v1/ws") as ws:
        await ws.send_str("not json")
        assert (await ws.receive_json(timeout=5))["code"] == "malformed"
        await ws.send_json({"subscribe": ["blocks", "events"], "contract": "kv", "event": "Set"})
        assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
        stx = make_tx(0, 0, key="ws")
        await node.submit([stx])
        seen: dict[str, Any] = {}
        for _ in range(200):
            msg = await ws.receive_json(timeout=10)
            seen.setdefault(msg["type"], msg)
            if msg["type"] == "event":
                break
        assert seen["event"]["tx_hash"] == stx.hash.hex() and seen["event"]["fields"] == {"key": "ws"}
        assert "block" in seen
        # The validators topic is taken (its pushes: tests/node/test_events.py); an
        # unknown topic is refused in words.
        await ws.send_json({"subscribe": ["validators"]})
        while (msg := await ws.receive_json(timeout=10))["type"] != "subscribed":
            pass
        assert msg["topics"] == ["validators"]
        await ws.send_json({"subscribe": ["blocks", "gossip"]})
        while (msg := await ws.receive_json(timeout=10))["type"] not in ("error", "subscribed"):
            pass
        assert msg["code"] == "malformed" and "validators" in msg["message"]


async def test_garbage_never_gets_a_500(node: Node, http: Any) -> None:
    bodies: list[bytes] = [b"\x00", b"\xff" * 100, b"[]", b"{}", b"null", b'{"tx": null}', b'{"txs": [null]}',
                           b'{"txs": [[1]]}', b'"' + b"a" * 1000 + b'"', codec.encode([2, [1], b"x"]),
                           b"\x92\x02\x90", b'{"contract": "kv", "method": "get", "args": [[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}',
                           b"[" * 50_000, b'{"txs": ' + b"[" * 50_000, b"\x91" * 50_000]
    for body in bodies:
        for path in ("/v1/txs", "/v1/query"):
            for ctype in ("application/json", "application/msgpack", "text/plain"):
                status, doc = await call(http, "POST", path, data=body, headers={"Content-Type": ctype})
                if status == 200:  # a well-formed batch: each item answered on its own
                    assert path == "/v1/txs" and all("error" in r for r in doc["results"])
                else:
                    assert 400 <= status < 500, (path, ctype, body[:20], status)


async def test_an_address_statement_lists_its_txs_newest_first(node: Node, http: Any) -> None:
    first, second, third = make_tx(2, 0, key="s1"), make_tx(2, 1, key="s2"), make_tx(2, 2, key="s3")
    other = make_tx(3, 0, key="o")
    for stx in (first, second, third, other):
        status, _ = await call(http, "POST", "/v1/txs", json=jtx(stx))
        assert status == 202
    await wait_for(lambda: all(node.store.tx_location(s.hash) is not None for s in (first, second, third, other)),
                   what="commit")
    me = USER_KEYS[2].address
    status, doc = await call(http, "GET", f"/v1/accounts/{me}/statement?limit=2")
    assert status == 200 and doc["address"] == me and doc["history_from"] == 0
    assert [e["tx_hash"] for e in doc["items"]] == [third.hash.hex(), second.hash.hex()]
    entry = doc["items"][0]
    assert entry["contract"] == "kv" and entry["method"] == "set" and entry["signer"] == me
    assert entry["status"] == 0 and entry["fee"] == 1 and entry["points_out"] == 0
    assert entry["lines"] == [{"kind": "fee", "amount": 1, "counterparty": None}]
    assert entry["time_ms"] > 0 and entry["bill"] is None
    status, rest = await call(http, "GET", f"/v1/accounts/{me}/statement?limit=2&cursor={doc['next']}")
    assert status == 200 and [e["tx_hash"] for e in rest["items"]] == [first.hash.hex()]
    assert rest["next"] == ""
    status, nobody = await call(http, "GET", f"/v1/accounts/{USER_KEYS[7].address}/statement")
    assert status == 200 and nobody["items"] == [] and nobody["next"] == ""
    for query, code in (("cursor=abc", "malformed"), ("limit=0", "malformed"), ("limit=101", "malformed"),
                        ("cursor=1.2.3", "malformed")):
        status, err = await call(http, "GET", f"/v1/accounts/{me}/statement?{query}")
        assert status == 400 and err["error"]["code"] == code, query
    status, err = await call(http, "GET", "/v1/accounts/hk1nope/statement")
    assert status == 400 and err["error"]["code"] == "bad_address"


async def test_simulate_returns_the_receipt_and_commits_nothing(node: Node, http: Any) -> None:
    stx = make_tx(2, 0, key="dry", value="run")
    status, doc = await call(http, "POST", "/v1/txs/simulate", json=jtx(stx))
    assert status == 200, doc
    assert doc["receipt"]["status"] == 0 and doc["receipt"]["fee"] == 1
    assert doc["receipt"]["events"] == [{"contract": "kv", "name": "Set", "fields": {"key": "dry"}}]
    assert doc["next_height"] == doc["height"] + 1 and doc["pending_before"] == 0
    status, q = await call(http, "POST", "/v1/query", json={"contract": "kv", "method": "get", "args": ["dry"]})
    assert status == 200 and q["result"] is None
    assert node.store.tx_location(stx.hash) is None and not node.mempool.has(stx.hash)
    account = (await call(http, "GET", f"/v1/accounts/{USER_KEYS[2].address}"))[1]
    assert (account["nonce"], account["balance"]) == (0, 10**9)
    # The same bytes can still be sent, and commit.
    assert (await call(http, "POST", "/v1/txs", json=jtx(stx)))[0] == 202


async def test_simulate_follows_pending_txs_and_reports_invalid_ones(node: Node, http: Any) -> None:
    first = make_tx(3, 0, key="a")
    assert (await call(http, "POST", "/v1/txs", json=jtx(first)))[0] == 202
    if node.store.tx_location(first.hash) is None:
        status, doc = await call(http, "POST", "/v1/txs/simulate", json=jtx(make_tx(3, 1, key="b")))
        assert status == 200 and doc["receipt"]["status"] == 0, doc
    status, doc = await call(http, "POST", "/v1/txs/simulate", json=jtx(make_tx(3, 40)))
    assert status == 200 and doc["receipt"]["status"] == 2  # a nonce no block would take now
    status, doc = await call(http, "POST", "/v1/txs/simulate", json=jtx(make_tx(6, 0)))  # unfunded
    assert status == 200 and doc["receipt"]["status"] == 2 and doc["receipt"]["fee"] == 0


async def test_simulate_refusals(node: Node, http: Any) -> None:
    forged = SignedTx(make_tx(4, 0).tx, b"\x01" * 64)
    status, doc = await call(http, "POST", "/v1/txs/simulate", json=jtx(forged))
    assert (status, doc["error"]["code"]) == (422, "bad_signature")
    status, doc = await call(http, "POST", "/v1/txs/simulate",
                             json={"txs": [make_tx(4, 0).encoded.hex()] * 2})
    assert (status, doc["error"]["code"]) == (400, "malformed")
    status, doc = await call(http, "POST", "/v1/txs/simulate", json={"tx": "zz"})
    assert (status, doc["error"]["code"]) == (400, "malformed")


async def test_a_tx_over_the_size_limit_is_too_large(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, 1, rpc_overrides={"max_body_bytes": 1 << 20})
    nodes = await start_nodes(homes)
    big = make_tx(5, 0, value="x" * (64 * 1024))
    try:
        async with aiohttp.ClientSession() as session:
            http = (session, f"http://127.0.0.1:{nodes[0].rpc.port}")
            for path in ("/v1/txs", "/v1/txs/simulate"):
                status, doc = await call(http, "POST", path, json=jtx(big))
                assert (status, doc["error"]["code"]) == (413, "too_large"), (path, doc)
                status, doc = await call(http, "POST", path, data=big.encoded,
                                         headers={"Content-Type": "application/msgpack"})
                assert (status, doc["error"]["code"]) == (413, "too_large"), (path, doc)
    finally:
        await stop_nodes(nodes)


async def test_202_means_the_tx_is_on_disk(node: Node, http: Any) -> None:
    journal = PowerLossStore()  # stands in for the node's journal: it knows what was synced
    node.mempool._journal = journal
    stx = make_tx(1, 0, key="durable")
    status, doc = await call(http, "POST", "/v1/txs", json=jtx(stx))
    assert status == 202, doc
    assert any(stx.encoded == v for v in journal.durable.values()), "answered before the fsync"


async def test_expiry_too_far_ahead_is_refused(node: Node, http: Any) -> None:
    far = node.store.height + 1 + node.config.mempool.max_expiry_blocks + 1
    status, doc = await call(http, "POST", "/v1/txs", json=jtx(make_tx(2, 0, expiry=10_000_000)))
    assert (status, doc["error"]["code"]) == (422, "expiry_too_far")
    assert "100000 blocks" in doc["error"]["message"]
    status, doc = await call(http, "POST", "/v1/txs", json=jtx(make_tx(2, 0, expiry=far + 1000)))
    assert (status, doc["error"]["code"]) == (422, "expiry_too_far")
    status, doc = await call(http, "POST", "/v1/txs", json=jtx(make_tx(2, 0, expiry=far - 1)))
    assert status == 202, doc


async def test_a_websocket_client_that_resets_during_the_upgrade_is_no_error_of_the_node(
    node: Node, http: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    """A wallet or browser that drops its connection while the websocket upgrade is
    answered: logged at INFO, never as an RPC handler failure, and the node keeps serving."""
    port = node.rpc.port
    request = (f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    with caplog.at_level(logging.INFO):
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
                s.sendall(request)
            await asyncio.sleep(0.01)
        status, doc = await call(http, "GET", "/v1/status")
    assert status == 200 and doc["height"] >= 0
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors

