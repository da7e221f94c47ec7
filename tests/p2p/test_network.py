"""The p2p link: mutual handshake admission, and peers that misbehave are dropped while
the node keeps serving."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from core.crypto import PrivateKey
from core.errors import DecodeError
from node.config import P2PConfig, PeerConfig
from p2p.errors import HandshakeError
from p2p.messages import PROTOCOL_VERSION, Goodbye, Status, TxAnnounce, decode_frame
from p2p.network import HEARTBEAT_LINKS, KEEPALIVE_SHARE, Identity, Network, Peer, handshake
from p2p.secure import SecureChannel
from tests.node.harness import free_port, wait_for
from tools.faultproxy import Link

CHAIN = "hk-p2p-test"
GENESIS = b"\x11" * 32
KEYS = [PrivateKey.from_seed_text(f"p2p-{i}") for i in range(3)]
STRANGER = PrivateKey.from_seed_text("p2p-stranger")


@dataclass
class StaticAdmission:
    validators: frozenset[bytes]
    observers: frozenset[bytes] = frozenset()

    def is_validator(self, public_key: bytes) -> bool:
        return public_key in self.validators

    def is_admitted(self, public_key: bytes) -> bool:
        return public_key in self.validators or public_key in self.observers

    def height(self) -> int:
        return 7


ADMISSION = StaticAdmission(frozenset(k.public_key for k in KEYS))
BAN_MS = 400


def make_network(key: PrivateKey, peers: tuple[PeerConfig, ...] = (), **overrides: Any) -> Network:
    config = dataclasses.replace(
        # Raw test clients answer pings only while they read: no heartbeat drops them here.
        P2PConfig(port=free_port(), peers=peers, reconnect_min_ms=50, reconnect_max_ms=200,
                  handshake_timeout_ms=2000, heartbeat_ms=60_000),
        **overrides,
    )
    return Network(config, Identity(key, CHAIN, GENESIS), ADMISSION)


@pytest.fixture
async def server() -> AsyncIterator[Network]:
    net = make_network(KEYS[0], max_frame_bytes=64 * 1024, rate_limit_frames_per_s=50,
                       rate_burst_frames=100, misbehaviour_ban_ms=BAN_MS, max_misbehaviour_ban_ms=4 * BAN_MS)
    net.handle(Status.TAG, lambda peer, frame: None)
    await net.start()
    yield net
    await net.stop()


async def dial(net: Network, key: PrivateKey, chain: str = CHAIN, genesis: bytes = GENESIS,
               admission: StaticAdmission = ADMISSION) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(f"ws://127.0.0.1:{net.port}/p2p", max_msg_size=1 << 24)
    return session, ws


class SealedSocket:
    """A raw test peer past the handshake: what it sends is sealed and what it receives
    opened with the link's channel, like a real peer's, so a test can send any frame."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, channel: SecureChannel) -> None:
        self.ws = ws
        self.channel = channel

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def send_bytes(self, frame: bytes) -> None:
        await self.ws.send_bytes(self.channel.seal(frame))

    async def send_str(self, text: str) -> None:
        await self.ws.send_str(text)

    async def receive(self) -> aiohttp.WSMessage:
        msg = await self.ws.receive()
        if msg.type != aiohttp.WSMsgType.BINARY:
            return msg
        while not (plaintext := self.channel.open(msg.data)):  # skip keepalives
            msg = await self.ws.receive()
            if msg.type != aiohttp.WSMsgType.BINARY:
                return msg
        return msg._replace(data=plaintext)

    async def close(self) -> None:
        await self.ws.close()


async def run_handshake(net: Network, key: PrivateKey, chain: str = CHAIN,
                        genesis: bytes = GENESIS) -> tuple[aiohttp.ClientSession, SealedSocket]:
    session, ws = await dial(net, key)
    everyone = StaticAdmission(frozenset(k.public_key for k in [*KEYS, STRANGER]))
    try:
        done = await handshake(ws, Identity(key, chain, genesis), everyone, KEYS[0].public_key, 2.0, 1 << 20)
    except BaseException:
        await ws.close()
        await session.close()
        raise
    return session, SealedSocket(ws, done.channel)


async def closed_after(ws: aiohttp.ClientWebSocketResponse | SealedSocket) -> list[object]:
    """Frames received until the server closes the link (bounded)."""
    frames: list[object] = []
    async with asyncio.timeout(5):
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.BINARY:
                return frames
            try:
                frames.append(decode_frame(msg.data))
            except DecodeError:
                frames.append(msg.data)


async def test_two_validators_connect_once_and_exchange_frames() -> None:
    a = make_network(KEYS[0])
    b = make_network(KEYS[1])
    a.config = P2PConfig(port=a.config.port, peers=(PeerConfig("b", KEYS[1].public_key, f"ws://127.0.0.1:{b.config.port}/p2p"),),
                         reconnect_min_ms=50, reconnect_max_ms=200)
    b.config = P2PConfig(port=b.config.port, peers=(PeerConfig("a", KEYS[0].public_key, f"ws://127.0.0.1:{a.config.port}/p2p"),),
                         reconnect_min_ms=50, reconnect_max_ms=200)
    got: list[int] = []
    b.handle(Status.TAG, lambda peer, frame: got.append(frame.height))  # type: ignore[attr-defined]
    await a.start()
    await b.start()
    try:
        await wait_for(lambda: KEYS[1].public_key in a.peers and KEYS[0].public_key in b.peers,
                       what="link up")
        assert a.broadcast(Status(42)) == 1
        await wait_for(lambda: got == [42], what="frame delivered")
        # One link per pair, whoever dialed.
        assert len(a.peers) == 1 and len(b.peers) == 1
        assert a.peers[KEYS[1].public_key].height == 7  # from the Hello
    finally:
        await a.stop()
        await b.stop()


async def test_redials_after_the_peer_restarts() -> None:
    # Of two validators the lower key dials.
    low, high = sorted(KEYS[:2], key=lambda k: k.public_key)
    b_port = free_port()
    a = Network(P2PConfig(port=free_port(), peers=(PeerConfig("b", high.public_key, f"ws://127.0.0.1:{b_port}/p2p"),),
                          reconnect_min_ms=50, reconnect_max_ms=200),
                Identity(low, CHAIN, GENESIS), ADMISSION)
    await a.start()
    try:
        for _ in range(2):
            b = Network(P2PConfig(port=b_port), Identity(high, CHAIN, GENESIS), ADMISSION)
            await b.start()
            await wait_for(lambda: high.public_key in a.peers, what="reconnect")
            await b.stop()
            await wait_for(lambda: high.public_key not in a.peers, what="link loss noticed")
    finally:
        await a.stop()


async def test_handshake_accepts_a_validator(server: Network) -> None:
    session, ws = await run_handshake(server, KEYS[1])
    try:
        await wait_for(lambda: KEYS[1].public_key in server.peers, what="admitted")
    finally:
        await ws.close()
        await session.close()


@pytest.mark.parametrize(
    ("key", "chain", "genesis", "code"),
    [
        (STRANGER, CHAIN, GENESIS, "not_admitted"),
        (KEYS[1], "another-chain", GENESIS, "wrong_chain"),
        (KEYS[1], CHAIN, b"\x22" * 32, "wrong_genesis"),
    ],
)
async def test_handshake_refuses(server: Network, key: PrivateKey, chain: str, genesis: bytes, code: str) -> None:
    with pytest.raises(HandshakeError) as info:
        session, ws = await run_handshake(server, key, chain, genesis)
        await ws.close()
        await session.close()
    # The dialer learns why (or refuses on its own side for chain/genesis mismatches).
    assert info.value.code in (code, "refused")
    if info.value.code == "refused":
        assert code in info.value.message
    await wait_for(lambda: server.refused_handshakes >= 1, what="refusal counted")
    assert key.public_key not in server.peers


async def test_handshake_refuses_a_forged_signature(server: Network) -> None:
    """A stranger that claims a validator's key cannot sign its challenge."""
    session, ws = await dial(server, STRANGER)
    try:
        from p2p.messages import Auth, Hello

        await ws.send_bytes(Hello(PROTOCOL_VERSION, CHAIN, GENESIS, KEYS[1].public_key, b"\x00" * 32, 0).encode())
        theirs = decode_frame((await ws.receive()).data)
        assert isinstance(theirs, Hello)
        await ws.send_bytes(Auth(STRANGER.sign(b"whatever"), b"\x09" * 32).encode())
        frames = await closed_after(ws)
        assert any(isinstance(f, Goodbye) and "bad_auth" in f.reason for f in frames)
        assert KEYS[1].public_key not in server.peers
    finally:
        await ws.close()
        await session.close()


async def _misbehave_then_check_still_serving(server: Network, send: object, code: str) -> None:
    session, ws = await run_handshake(server, KEYS[1])
    try:
        await wait_for(lambda: KEYS[1].public_key in server.peers, what="admitted")
        before = server.misbehaviours
        await send(ws)  # type: ignore[operator]
        frames = await closed_after(ws)
        await wait_for(lambda: KEYS[1].public_key not in server.peers, what="peer dropped")
        assert server.misbehaviours == before + 1
        # It costs the sender, with the reason, and no one else.
        assert server.penalties[KEYS[1].public_key].reason == code
        assert set(server.penalties) == {KEYS[1].public_key}
        if code not in ("text_frame", "oversized_frame"):  # the socket itself is torn down
            assert any(isinstance(f, Goodbye) and f.reason.startswith(code) for f in frames), frames
    finally:
        await ws.close()
        await session.close()
    # The node carries on: another validator can connect.
    session, ws = await run_handshake(server, KEYS[2])
    try:
        await wait_for(lambda: KEYS[2].public_key in server.peers, what="still serving")
    finally:
        await ws.close()
        await session.close()


async def test_oversized_frame_drops_the_peer(server: Network) -> None:
    async def send(ws: SealedSocket) -> None:
        await ws.send_bytes(TxAnnounce(tuple(bytes([i % 256]) * 32 for i in range(3000))).encode())

    await _misbehave_then_check_still_serving(server, send, "oversized_frame")


async def test_garbage_frame_drops_the_peer(server: Network) -> None:
    async def send(ws: SealedSocket) -> None:
        await ws.send_bytes(b"\xc1\x00garbage")

    await _misbehave_then_check_still_serving(server, send, "malformed")


async def test_unknown_frame_type_drops_the_peer(server: Network) -> None:
    async def send(ws: SealedSocket) -> None:
        from core import codec

        await ws.send_bytes(codec.encode([9999, b"x"]))

    await _misbehave_then_check_still_serving(server, send, "malformed")


async def test_text_frame_drops_the_peer(server: Network) -> None:
    async def send(ws: SealedSocket) -> None:
        await ws.send_str("hello")

    await _misbehave_then_check_still_serving(server, send, "text_frame")


async def test_flood_beyond_the_rate_limit_drops_the_peer(server: Network) -> None:
    async def send(ws: SealedSocket) -> None:
        frame = Status(1).encode()
        for _ in range(300):  # burst is 100 frames
            if ws.closed:
                return
            await ws.send_bytes(frame)

    await _misbehave_then_check_still_serving(server, send, "rate_limited")


async def test_a_peer_that_misbehaved_is_refused_for_a_while_longer_each_time(server: Network) -> None:
    """Garbage costs the sender a ban that doubles with each offence; once it is over
    the key is admitted again, and other keys are never refused for it."""
    loop = asyncio.get_running_loop()
    key = KEYS[1].public_key
    for offence, ban_ms in ((1, BAN_MS), (2, 2 * BAN_MS)):
        session, ws = await run_handshake(server, KEYS[1])
        try:
            await wait_for(lambda: key in server.peers, what="admitted")
            await ws.send_bytes(b"\xc1garbage")
            dropped_at = loop.time()
            await closed_after(ws)
        finally:
            await ws.close()
            await session.close()
        assert server.penalties[key].offences == offence
        assert abs(server.banned_for_s(key) - ban_ms / 1000) < 0.2
        # Refused while banned, after proving its key, with the reason.
        session, ws = await run_handshake(server, KEYS[1])
        try:
            frames = await closed_after(ws)
            assert any(isinstance(f, Goodbye) and f.reason.startswith("banned: misbehaved (malformed)")
                       for f in frames), frames
            assert key not in server.peers
        finally:
            await ws.close()
            await session.close()
        session2, ws2 = await run_handshake(server, KEYS[2])  # a neighbour is not refused
        try:
            await wait_for(lambda: KEYS[2].public_key in server.peers, what="neighbour admitted")
        finally:
            await ws2.close()
            await session2.close()
        await asyncio.sleep(max(0.0, dropped_at + ban_ms / 1000 - loop.time()) + 0.05)
        assert server.banned_for_s(key) == 0
    session, ws = await run_handshake(server, KEYS[1])
    try:
        await wait_for(lambda: key in server.peers, what="admitted again after the ban")
    finally:
        await ws.close()
        await session.close()


async def test_a_dialer_that_aborts_the_upgrade_is_no_error_of_the_node(
    server: Network, caplog: pytest.LogCaptureFixture,
) -> None:
    """A dialer that sends the websocket upgrade and resets the connection at once (a
    dial given up on, a dead path): the node logs it at INFO, never an ERROR with a
    traceback, and keeps serving."""
    request = (f"GET /p2p HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    with caplog.at_level(logging.INFO):
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", server.port)) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
                s.sendall(request)
            await asyncio.sleep(0.01)
        session, ws = await run_handshake(server, KEYS[2])
        try:
            await wait_for(lambda: KEYS[2].public_key in server.peers, what="still serving")
        finally:
            await ws.close()
            await session.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert server.misbehaviours == 0


async def test_peer_send_queue_is_bounded() -> None:
    """A peer object refuses frames once closed, and never raises to the caller."""
    net = make_network(KEYS[0])
    await net.start()
    try:
        session, ws = await run_handshake(net, KEYS[1])
        await wait_for(lambda: KEYS[1].public_key in net.peers, what="admitted")
        peer: Peer = net.peers[KEYS[1].public_key]
        peer.close("test")
        assert peer.send(Status(1)) is False
        await ws.close()
        await session.close()
    finally:
        await net.stop()


async def test_heartbeat_notices_a_blackholed_link_and_the_dialer_relinks_after_the_heal() -> None:
    # The path dies but TCP stays open (the proxy swallows every byte both ways): only
    # the heartbeat can tell. Both ends must drop the link within 1.5 heartbeats of
    # silence (plus scheduling slack), and the dialer must relink soon after the heal.
    low, high = sorted(KEYS[:2], key=lambda k: k.public_key)
    b_port = free_port()
    link = Link("low->high", b_port)
    await link.start()
    heartbeat_ms = 400
    a = Network(P2PConfig(port=free_port(), peers=(PeerConfig("b", high.public_key, f"ws://127.0.0.1:{link.port}/p2p"),),
                          reconnect_min_ms=50, reconnect_max_ms=200, heartbeat_ms=heartbeat_ms),
                Identity(low, CHAIN, GENESIS), ADMISSION)
    b = Network(P2PConfig(port=b_port, heartbeat_ms=heartbeat_ms), Identity(high, CHAIN, GENESIS), ADMISSION)
    await b.start()
    await a.start()
    loop = asyncio.get_running_loop()
    try:
        await wait_for(lambda: high.public_key in a.peers and low.public_key in b.peers, what="link up")
        misbehaviours = a.misbehaviours + b.misbehaviours
        link.cut()
        cut_at = loop.time()
        await wait_for(lambda: high.public_key not in a.peers and low.public_key not in b.peers,
                       timeout_s=10.0, what="dead link noticed by both ends")
        noticed_s = loop.time() - cut_at
        assert noticed_s < 4 * heartbeat_ms / 1000, noticed_s
        assert link.dropped_bytes > 0  # pings went into the hole
        assert a.misbehaviours + b.misbehaviours == misbehaviours  # a dead path blames no one
        # While the path is dead the dialer keeps trying and never links.
        await wait_for(lambda: link.connections >= 3, what="redials into the dead path")
        assert high.public_key not in a.peers
        link.heal()
        healed_at = loop.time()
        await wait_for(lambda: high.public_key in a.peers and low.public_key in b.peers,
                       timeout_s=10.0, what="relinked after the heal")
        # At most one dial attempt that hangs into the hole (two heartbeats) and one backoff.
        assert loop.time() - healed_at < 2 * heartbeat_ms / 1000 + 0.2 + 1.0
        got: list[int] = []
        b.handle(Status.TAG, lambda peer, frame: got.append(frame.height))  # type: ignore[attr-defined]
        assert a.broadcast(Status(5)) == 1
        await wait_for(lambda: got == [5], what="frames flow again")
    finally:
        await a.stop()
        await b.stop()
        await link.stop()


@pytest.mark.parametrize("listed", [0, 32])
async def test_a_node_listing_many_peers_keeps_each_link_alive_less_often(listed: int) -> None:
    """Up to HEARTBEAT_LINKS listed peers a link's keepalive goes after KEEPALIVE_SHARE of a
    heartbeat of silence; beyond, the heartbeat stretches in proportion, so what keeps links alive does
    not grow with the network. A keepalive never comes sooner than that (a loaded machine
    only makes the gaps longer)."""
    heartbeat_ms = 200
    # Listed peers nobody answers for (their dials fail and back off); only the count matters.
    peers = tuple(PeerConfig(f"p{i}", PrivateKey.generate().public_key, f"ws://127.0.0.1:{free_port()}/p2p")
                  for i in range(listed))
    net = make_network(KEYS[0], peers, heartbeat_ms=heartbeat_ms)
    stretch = max(1.0, listed / HEARTBEAT_LINKS)
    assert net.link_heartbeat_s == pytest.approx(heartbeat_ms / 1000 * stretch)
    await net.start()
    session, sealed = await run_handshake(net, KEYS[1])
    loop = asyncio.get_running_loop()
    try:
        keepalives: list[float] = []
        async with asyncio.timeout(10):
            while len(keepalives) < 6:
                msg = await sealed.ws.receive()
                assert msg.type == aiohttp.WSMsgType.BINARY, msg
                if not sealed.channel.open(msg.data):
                    keepalives.append(loop.time())
        gaps = [b - a for a, b in itertools.pairwise(keepalives)]
        # That share of a (stretched) heartbeat, less the loop's timer granularity.
        assert min(gaps) >= heartbeat_ms / 1000 * stretch * KEEPALIVE_SHARE * 0.9, gaps
    finally:
        await sealed.ws.close()
        await session.close()
        await net.stop()


async def test_a_writer_stuck_on_a_slow_peer_does_not_spin_the_keepalive_timer() -> None:
    """While the writer waits on a peer that does not take its frames, the keepalive timer
    finds frames queued and looks again a keepalive later: it never re-arms in the past,
    which would run it on every turn of the loop."""
    heartbeat_ms = 400
    net = make_network(KEYS[0], heartbeat_ms=heartbeat_ms)
    await net.start()
    session, sealed = await run_handshake(net, KEYS[1])
    loop = asyncio.get_running_loop()

    async def answer_pings() -> None:  # aiohttp answers the server's pings while reading
        while not sealed.ws.closed:
            await sealed.ws.receive()

    reader = asyncio.create_task(answer_pings())
    released = asyncio.Event()  # lets the stuck writer go when the test is done
    try:
        await wait_for(lambda: bool(net.peers), what="the link")
        peer = next(iter(net.peers.values()))
        stuck = asyncio.Event()

        async def never_sent(data: bytes, compress: int | None = None) -> None:
            stuck.set()
            await released.wait()

        peer.ws.send_bytes = never_sent  # type: ignore[method-assign]
        calls = 0
        keepalive_due = peer._keepalive_due

        def counting() -> None:
            nonlocal calls
            calls += 1
            keepalive_due()

        peer._keepalive_due = counting  # type: ignore[method-assign]
        assert peer.send(Status(1)) and peer.send(Status(2))
        await wait_for(stuck.is_set, what="the writer waiting on the peer")
        await wait_for(lambda: calls >= 2, timeout_s=10, what="two keepalive looks")
        keepalive_s = net.link_heartbeat_s * KEEPALIVE_SHARE
        handle = peer._keepalive
        assert handle is not None and handle.when() > loop.time() + keepalive_s / 2, \
            (handle, loop.time())
        assert calls <= 3, calls
    finally:
        released.set()
        reader.cancel()
        await sealed.ws.close()
        await session.close()
        await net.stop()
