"""The content-addressed blob store and its replication protocol, in process: names are
SHA-256, limits hold, damaged files are never served, and a blob crosses from the peer
that has it to the peer that lacks it only if its hash checks out."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DecodeError
from core.types import Event, Receipt
from node.blobs import (
    TMP_DIR,
    BlobError,
    BlobService,
    BlobStore,
    content_hashes,
    parse_blob_hash,
)
from p2p.messages import MAX_BLOB_BYTES, Blob, BlobRequest, Frame, decode_frame


def test_put_names_the_blob_by_its_sha256_and_get_returns_the_bytes(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"calligraphy scan" * 100
    h = store.put(data)
    assert h == hashlib.sha256(data).digest()
    assert store.path(h).name == h.hex()
    assert store.get(h) == data
    assert store.put(data) == h  # idempotent
    assert store.total_bytes == len(data)
    assert store.hashes() == [h]
    assert BlobStore(tmp_path).total_bytes == len(data)  # counted again on open


@pytest.mark.parametrize(
    ("data", "code"),
    [(b"", "empty"), (b"x" * 1025, "too_large")],
)
def test_bad_blobs_are_refused_and_nothing_is_written(tmp_path: Path, data: bytes, code: str) -> None:
    store = BlobStore(tmp_path, max_blob_bytes=1024)
    with pytest.raises(BlobError) as err:
        store.put(data)
    assert err.value.code == code
    assert store.hashes() == [] and store.total_bytes == 0


def test_bytes_of_another_hash_are_refused(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(BlobError) as err:
        store.put(b"what the peer sent", expected=hashlib.sha256(b"what was asked for").digest())
    assert err.value.code == "hash_mismatch"
    assert store.hashes() == []


def test_store_refuses_beyond_its_total_size(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_blob_bytes=100, max_total_bytes=150)
    store.put(b"a" * 100)
    with pytest.raises(BlobError) as err:
        store.put(b"b" * 100)
    assert err.value.code == "store_full"


def test_a_damaged_file_is_never_served(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    h = store.put(b"original work")
    store.path(h).write_bytes(b"bit rot")
    assert store.get(h) is None
    assert not store.has(h)


def test_leftovers_of_a_crash_mid_write_are_removed_on_open(tmp_path: Path) -> None:
    BlobStore(tmp_path)
    (tmp_path / TMP_DIR / "half-written").write_bytes(b"partial")
    BlobStore(tmp_path)
    assert list((tmp_path / TMP_DIR).iterdir()) == []


@settings(max_examples=30)
@given(st.binary(min_size=1, max_size=2048))
def test_any_bytes_round_trip(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    store = BlobStore(tmp_path_factory.mktemp("blobs"))
    assert store.get(store.put(data)) == data


def test_blob_hash_parsing() -> None:
    h = os.urandom(32)
    assert parse_blob_hash(h.hex()) == h
    assert parse_blob_hash("0x" + h.hex().upper()) == h
    for bad in ("", "zz" * 32, h.hex()[:-2], h.hex() + "00"):
        with pytest.raises(BlobError):
            parse_blob_hash(bad)


def test_registered_hashes_come_from_successful_events_of_watched_contracts() -> None:
    h1, h2, h3 = (os.urandom(32) for _ in range(3))

    def receipt(status: int, contract: str, h: Any) -> Receipt:
        return Receipt(os.urandom(32), status, 1, 1, None,
                       (Event(contract, "WorkRegistered", {"content_hash": h, "id": 1}),))

    receipts = [receipt(0, "culture", h1), receipt(1, "culture", h2), receipt(0, "token", h3),
                receipt(0, "culture", b"short"), receipt(0, "notices", h3)]
    assert content_hashes(receipts, ("culture", "notices")) == [h1, h3]


def test_every_kind_of_text_hash_is_registered() -> None:
    hs = [os.urandom(32) for _ in range(5)]
    events = (Event("assembly", "Drafted", {"id": 1, "doc_hash": hs[0]}),
              Event("services", "Requested", {"id": 1, "description_hash": hs[1]}),
              Event("services", "Disputed", {"id": 1, "reason_hash": hs[2]}),
              Event("assembly", "Commented", {"id": 1, "hash": hs[3]}),
              Event("token", "Transfer", {"hash": hs[4]}))
    receipts = [Receipt(os.urandom(32), 0, 1, 1, None, events)]
    assert content_hashes(receipts, ("assembly", "services")) == hs[:4]


def test_blob_frames_round_trip_and_garbage_is_a_decode_error() -> None:
    h = os.urandom(32)
    for frame in (BlobRequest(h), Blob(h, True, b"bytes"), Blob(h, False, b"")):
        assert decode_frame(frame.encode()) == frame
    from core import codec

    for bad in ([151, h, 1, b""], [151, h, True], [150, b"short"],
                [151, h, True, b"x" * (MAX_BLOB_BYTES + 1)]):
        with pytest.raises(DecodeError):
            decode_frame(codec.encode(bad), MAX_BLOB_BYTES * 2)


# --- replication between two services over a fake link ------------------------------------


class _Peer:
    def __init__(self, public_key: bytes, deliver: Any) -> None:
        self.public_key = public_key
        self.label = public_key.hex()[:8]
        self._deliver = deliver

    def send(self, frame: Frame) -> bool:
        asyncio.get_running_loop().call_soon(self._deliver, frame)
        return True


class _Network:
    """Just what BlobService uses: peers, send, handle."""

    def __init__(self) -> None:
        self.peers: dict[bytes, _Peer] = {}
        self.handlers: dict[int, Any] = {}

    def handle(self, tag: int, handler: Any) -> None:
        self.handlers[tag] = handler

    def send(self, key: bytes, frame: Frame) -> bool:
        peer = self.peers.get(key)
        return peer.send(frame) if peer is not None else False


def _link(a: _Network, a_key: bytes, b: _Network, b_key: bytes) -> None:
    # a's view of b delivers into b's handlers as coming from a, and vice versa.
    a.peers[b_key] = _Peer(b_key, lambda f: b.handlers[f.TAG](b.peers[a_key], f))
    b.peers[a_key] = _Peer(a_key, lambda f: a.handlers[f.TAG](a.peers[b_key], f))


async def _until(cond: Any, timeout_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not cond():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_a_node_fetches_a_registered_blob_it_lacks_from_a_peer(tmp_path: Path) -> None:
    net_a, net_b = _Network(), _Network()
    _link(net_a, b"A" * 32, net_b, b"B" * 32)
    a = BlobService(BlobStore(tmp_path / "a"), net_a, fetch_timeout_s=1.0)  # type: ignore[arg-type]
    b = BlobService(BlobStore(tmp_path / "b"), net_b, fetch_timeout_s=1.0)  # type: ignore[arg-type]
    data = os.urandom(50_000)
    h = b.store.put(data)
    a.start()
    b.start()
    try:
        a.want([h])
        # The fetch counts once the bytes are stored (they land on disk a moment before).
        await _until(lambda: a.fetched == 1)
        assert a.store.get(h) == data and b.served == 1
        assert not a.wanted
    finally:
        await a.stop()
        await b.stop()


async def test_bytes_that_do_not_match_the_hash_are_never_stored(tmp_path: Path) -> None:
    net_a, net_liar = _Network(), _Network()
    _link(net_a, b"A" * 32, net_liar, b"L" * 32)
    a = BlobService(BlobStore(tmp_path / "a"), net_a, fetch_timeout_s=0.5)  # type: ignore[arg-type]
    asked: list[bytes] = []

    def lie(peer: Any, frame: Any) -> None:
        asked.append(frame.blob_hash)
        peer.send(Blob(frame.blob_hash, True, b"not the work"))

    net_liar.handle(BlobRequest.TAG, lie)
    h = hashlib.sha256(b"the real work").digest()
    a.start()
    try:
        a.want([h])
        # The round that asked the liar is over (every peer asked, nothing valid came):
        # whatever it would have stored is stored by now.
        await _until(lambda: a.failed_rounds >= 1)
        assert asked == [h]
        assert not a.store.has(h) and a.fetched == 0
        assert h in a.wanted  # still wanted: retried later, from any peer
    finally:
        await a.stop()


async def test_a_flood_of_requests_is_answered_without_reading_every_time(tmp_path: Path) -> None:
    from node.blobs import MAX_CONCURRENT_SERVES

    net = _Network()
    service = BlobService(BlobStore(tmp_path), net)  # type: ignore[arg-type]
    h = service.store.put(os.urandom(100_000))
    answers: list[Blob] = []

    class Flooder:
        public_key = b"F" * 32
        label = "flooder"

        def send(self, frame: Frame) -> bool:
            assert isinstance(frame, Blob)
            answers.append(frame)
            return True

    flooder = Flooder()
    for _ in range(100):
        net.handlers[BlobRequest.TAG](flooder, BlobRequest(h))
    await _until(lambda: len(answers) == 100)
    found = [a for a in answers if a.found]
    assert 1 <= len(found) <= MAX_CONCURRENT_SERVES
    assert all(a.data == service.store.get(h) for a in found)
    assert service.served == len(found)
    await service.stop()


async def test_rpc_routes_store_serve_and_refuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    import node.blobs as blobs

    monkeypatch.setattr(blobs, "UPLOAD_BURST_BYTES", 3000)
    monkeypatch.setattr(blobs, "UPLOAD_RATE_BYTES_PER_S", 1)
    service = BlobService(BlobStore(tmp_path, max_blob_bytes=2000), _Network())  # type: ignore[arg-type]
    app = web.Application()
    blobs.add_blob_routes(app.router, service)
    async with TestClient(TestServer(app)) as client:
        data = os.urandom(1500)
        resp = await client.post("/v1/blobs", data=data)
        assert resp.status == 201
        doc = await resp.json()
        assert doc == {"hash": hashlib.sha256(data).hexdigest(), "size": 1500}
        resp = await client.get("/v1/blobs/" + doc["hash"])
        assert resp.status == 200 and await resp.read() == data
        for method, path, body, status, code in (
            ("POST", "/v1/blobs", b"", 400, "empty"),
            ("POST", "/v1/blobs", b"x" * 2001, 413, "too_large"),
            ("GET", "/v1/blobs/" + "00" * 32, None, 404, "not_found"),
            ("GET", "/v1/blobs/xyz", None, 400, "malformed"),
            ("POST", "/v1/blobs", os.urandom(1600), 429, "rate_limited"),  # 1500 + 1600 > 3000
        ):
            resp = await client.request(method, path, data=body)
            assert resp.status == status, (path, resp.status)
            assert (await resp.json())["error"]["code"] == code
    assert service.store.hashes() == [bytes.fromhex(doc["hash"])]


async def test_uploads_never_registered_are_collected_and_registered_ones_kept(tmp_path: Path) -> None:
    service = BlobService(BlobStore(tmp_path), _Network())  # type: ignore[arg-type]
    store = service.store
    registered = store.put(b"a registered work", pending=True)
    forgotten = store.put(b"an upload nobody registered", pending=True)
    replicated = store.put(b"fetched from a peer")  # never pending
    assert store.collect_unregistered(max_age_s=3600) == []  # too young to collect
    service.on_block_committed(None, [Receipt(os.urandom(32), 0, 1, 1, None, (  # type: ignore[arg-type]
        Event("culture", "WorkRegistered", {"content_hash": registered}),))])
    assert store.collect_unregistered(max_age_s=0) == [forgotten]
    assert store.hashes() == sorted([registered, replicated])
    assert store.total_bytes == len(b"a registered work") + len(b"fetched from a peer")
