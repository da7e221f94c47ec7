"""Encrypted p2p links: what an attacker on the path can and cannot do.

A websocket relay sits between two real ``Network``s and forwards every message; a test
makes it alter, inject, replay, reorder or drop sealed frames, read what passes, swap the
handshake's ephemeral keys, or swallow everything while answering pings itself. The
receiving node must close the link with a clear reason, deliver nothing that was touched,
blame no one, and link again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from core.errors import DecodeError
from node.config import P2PConfig, PeerConfig
from p2p.errors import HandshakeError, LinkTampered
from p2p.messages import (
    PROTOCOL_VERSION,
    Auth,
    ConsensusFrame,
    Goodbye,
    Hello,
    Status,
    decode_frame,
)
from p2p.network import Identity, Network
from p2p.secure import SEAL_OVERHEAD, EphemeralKey, SecureChannel, session_keys, transcript_hash
from tests.node.harness import free_port, wait_for
from tests.p2p.test_network import ADMISSION, CHAIN, GENESIS, KEYS, closed_after, dial

HANDSHAKE_MESSAGES = 3  # Hello, Auth, StreamStart each way; every later message is sealed
LOW, HIGH = sorted(KEYS[:2], key=lambda k: k.public_key)  # LOW dials HIGH

# (n, sealed message) -> what the relay forwards instead; n counts the sealed frames of
# the direction (keepalives excluded), from 1.
Tamper = Callable[[int, bytes], list[bytes]]


@dataclass
class Relay:
    """A websocket man in the middle on 127.0.0.1: forwards each message of a link, lets
    ``up`` (dialer to listener) tamper with sealed frames of the first connection, and
    ``on_handshake`` rewrite handshake messages, ``(direction, index, data) -> data``."""

    target_port: int
    up: Tamper | None = None
    on_handshake: Callable[[str, int, bytes], bytes] | None = None
    swallow_up: bool = False
    port: int = field(default_factory=free_port)
    seen: list[bytes] = field(default_factory=list)
    connections: int = 0
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/p2p", self._accept)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _accept(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        self.connections += 1
        first = self.connections == 1
        down_ws = web.WebSocketResponse(max_msg_size=1 << 26)  # faces the dialer
        await down_ws.prepare(request)
        up_ws = await self._session.ws_connect(f"ws://127.0.0.1:{self.target_port}/p2p",
                                               max_msg_size=1 << 26)
        pumps = [
            asyncio.create_task(self._pump(down_ws, up_ws, "up", first)),
            asyncio.create_task(self._pump(up_ws, down_ws, "down", first)),
        ]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pumps:
            task.cancel()
        await up_ws.close()
        await down_ws.close()
        return down_ws

    async def _pump(self, src: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                    dst: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                    direction: str, tamper: bool) -> None:
        index = 0
        sealed = 0
        async for msg in src:
            if msg.type != aiohttp.WSMsgType.BINARY:
                return
            data: bytes = msg.data
            self.seen.append(data)
            out = [data]
            if index < HANDSHAKE_MESSAGES:
                if tamper and self.on_handshake is not None:
                    out = [self.on_handshake(direction, index, data)]
            elif direction == "up" and tamper:
                if self.swallow_up:
                    out = []
                elif self.up is not None and len(data) > SEAL_OVERHEAD:  # not a keepalive
                    sealed += 1
                    out = self.up(sealed, data)
            index += 1
            for item in out:
                await dst.send_bytes(item)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Network, Network, list[int], Relay]]:
    """LOW dials HIGH through a relay; HIGH records the Status heights it is handed."""
    high_port = free_port()
    relay = Relay(high_port)
    low = Network(P2PConfig(port=free_port(), peers=(PeerConfig("high", HIGH.public_key,
                                                                f"ws://127.0.0.1:{relay.port}/p2p"),),
                            reconnect_min_ms=50, reconnect_max_ms=200),
                  Identity(LOW, CHAIN, GENESIS), ADMISSION)
    high = Network(P2PConfig(port=high_port), Identity(HIGH, CHAIN, GENESIS), ADMISSION)
    got: list[int] = []
    high.handle(Status.TAG, lambda peer, frame: got.append(frame.height))  # type: ignore[attr-defined]
    await relay.start()
    await high.start()
    yield low, high, got, relay
    await low.stop()
    await high.stop()
    await relay.stop()


def flip_last_bit(n: int, data: bytes) -> list[bytes]:
    return [data[:-1] + bytes([data[-1] ^ 1])] if n == 2 else [data]


def inject_plaintext(n: int, data: bytes) -> list[bytes]:
    # A frame of the attacker's own, in the clear, before the sender's second frame.
    return [Status(999).encode(), data] if n == 2 else [data]


_held: dict[str, bytes] = {}


def replay_first(n: int, data: bytes) -> list[bytes]:
    if n == 1:
        _held["first"] = data
    return [data, _held["first"]] if n == 2 else [data]


def swap_second_and_third(n: int, data: bytes) -> list[bytes]:
    if n == 2:
        _held["second"] = data
        return []
    return [data, _held["second"]] if n == 3 else [data]


def drop_second(n: int, data: bytes) -> list[bytes]:
    return [] if n == 2 else [data]


@pytest.mark.parametrize(
    ("tamper", "delivered"),
    [
        (flip_last_bit, [1]),
        (inject_plaintext, [1]),
        (replay_first, [1, 2]),  # the second arrives intact; its replayed predecessor does not open
        (swap_second_and_third, [1]),
        (drop_second, [1]),
    ],
    ids=["altered", "injected", "replayed", "reordered", "dropped"],
)
async def test_a_touched_frame_closes_the_link_and_is_never_delivered(
    pair: tuple[Network, Network, list[int], Relay], tamper: Tamper, delivered: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    low, high, got, relay = pair
    relay.up = tamper
    told: list[bytes] = []
    high.on_tampered.append(lambda peer: told.append(peer.public_key))
    caplog.set_level(logging.INFO, logger="hkchain.p2p")
    await low.start()
    await wait_for(lambda: HIGH.public_key in low.peers and LOW.public_key in high.peers, what="link up")
    for height in (1, 2, 3, 4):
        low.send(HIGH.public_key, Status(height))
    await wait_for(lambda: high.tampered_links == 1, what="tampering noticed")
    # Nothing after the touched frame was handed on, and nothing of the attacker's.
    assert got == delivered
    assert high.misbehaviours == 0 and low.misbehaviours == 0  # the path did it, not the peer
    assert any("closing link to" in r.getMessage() and "failed authentication" in r.getMessage()
               for r in caplog.records)
    # The dialer is told why, inside the link (the sealed Goodbye opens there).
    await wait_for(lambda: any("said goodbye: link_tampered" in r.getMessage() for r in caplog.records),
                   what="dialer told the reason")
    # It links again (a new connection, which this relay leaves alone) and frames flow.
    await wait_for(lambda: relay.connections >= 2 and HIGH.public_key in low.peers
                   and LOW.public_key in high.peers, what="relinked")
    low.send(HIGH.public_key, Status(5))
    await wait_for(lambda: got[-1:] == [5], what="frames flow on the new link")
    assert 999 not in got and high.tampered_links == 1
    assert told == [LOW.public_key]  # the host hears of it once (the node counts it in /metrics)
    assert high.banned_for_s(LOW.public_key) == 0  # and refuses the peer nothing


async def test_the_path_sees_no_frame_in_the_clear(pair: tuple[Network, Network, list[int], Relay]) -> None:
    low, high, _got, relay = pair
    secret = b"household 3-502 pays 1200 points" * 4
    received: list[bytes] = []
    high.handle(ConsensusFrame.TAG, lambda peer, frame: received.append(frame.payload))  # type: ignore[attr-defined]
    await low.start()
    await wait_for(lambda: HIGH.public_key in low.peers, what="link up")
    low.send(HIGH.public_key, ConsensusFrame(secret))
    await wait_for(lambda: received == [secret], what="delivered")
    assert len(relay.seen) > 2 * HANDSHAKE_MESSAGES
    assert not any(b"household" in data for data in relay.seen)
    # Only the handshake frames decode from what passed; everything after is opaque.
    after = relay.seen[2 * HANDSHAKE_MESSAGES:]
    assert after and all(_undecodable(data) for data in after)


def _undecodable(data: bytes) -> bool:
    try:
        decode_frame(data)
    except DecodeError:
        return True
    return False


async def test_swapped_ephemeral_keys_never_link(pair: tuple[Network, Network, list[int], Relay]) -> None:
    """An attacker that puts its own X25519 key in each Auth (to read both halves) cannot
    sign it with the node keys: both ends refuse with bad_auth."""
    low, high, _got, relay = pair
    attacker = EphemeralKey()

    def swap(direction: str, index: int, data: bytes) -> bytes:
        if index != 1:
            return data
        auth = decode_frame(data)
        assert isinstance(auth, Auth)
        return Auth(auth.signature, attacker.public_key).encode()

    relay.on_handshake = swap
    await low.start()
    await wait_for(lambda: high.refused_handshakes >= 1, what="refused")
    assert HIGH.public_key not in low.peers and LOW.public_key not in high.peers


async def test_a_path_that_swallows_every_frame_but_answers_pings_is_noticed() -> None:
    """Pongs are not authenticated, so the relay keeps both heartbeats happy while it
    drops every sealed frame: the missing keepalives tell."""
    heartbeat_ms = 200
    high_port = free_port()
    relay = Relay(high_port, swallow_up=True)
    low = Network(P2PConfig(port=free_port(), peers=(PeerConfig("high", HIGH.public_key,
                                                                f"ws://127.0.0.1:{relay.port}/p2p"),),
                            reconnect_min_ms=50, reconnect_max_ms=200, heartbeat_ms=heartbeat_ms),
                  Identity(LOW, CHAIN, GENESIS), ADMISSION)
    high = Network(P2PConfig(port=high_port, heartbeat_ms=heartbeat_ms), Identity(HIGH, CHAIN, GENESIS),
                   ADMISSION)
    disconnects: list[float] = []
    high.on_disconnect.append(lambda peer: disconnects.append(asyncio.get_running_loop().time()))
    await relay.start()
    await high.start()
    await low.start()
    try:
        await wait_for(lambda: LOW.public_key in high.peers, what="link up")
        up_at = asyncio.get_running_loop().time()
        await wait_for(lambda: bool(disconnects), timeout_s=30, what="silent link dropped")
        silent_s = disconnects[0] - up_at
        assert silent_s < 10 * heartbeat_ms / 1000 + 2.0, silent_s
        assert high.misbehaviours == 0
    finally:
        await low.stop()
        await high.stop()
        await relay.stop()


async def test_a_listener_with_another_key_cannot_complete(caplog: pytest.LogCaptureFixture) -> None:
    """LOW expects HIGH at an address where another admitted validator answers."""
    other = Network(P2PConfig(port=free_port()), Identity(KEYS[2], CHAIN, GENESIS), ADMISSION)
    low = Network(P2PConfig(port=free_port(), peers=(PeerConfig("high", HIGH.public_key,
                                                                f"ws://127.0.0.1:{other.config.port}/p2p"),),
                            reconnect_min_ms=50, reconnect_max_ms=200),
                  Identity(LOW, CHAIN, GENESIS), ADMISSION)
    caplog.set_level(logging.WARNING, logger="hkchain.p2p")
    await other.start()
    await low.start()
    try:
        await wait_for(lambda: other.refused_handshakes >= 2, what="refused twice")
        assert not low.peers and not other.peers
        assert any("unexpected_peer" in r.getMessage() for r in caplog.records)
    finally:
        await low.stop()
        await other.stop()


async def test_a_peer_of_the_old_plaintext_protocol_is_told_why() -> None:
    net = Network(P2PConfig(port=free_port()), Identity(KEYS[0], CHAIN, GENESIS), ADMISSION)
    await net.start()
    session, ws = await dial(net, KEYS[1])
    try:
        await ws.send_bytes(Hello(1, CHAIN, GENESIS, KEYS[1].public_key, b"\x01" * 32, 0).encode())
        frames = await closed_after(ws)
        goodbyes = [f for f in frames if isinstance(f, Goodbye)]
        assert goodbyes and "wrong_version" in goodbyes[0].reason
        assert f"version 1, this node speaks {PROTOCOL_VERSION}" in goodbyes[0].reason
        assert net.refused_handshakes == 1 and not net.peers
    finally:
        await ws.close()
        await session.close()
        await net.stop()


def test_the_two_ends_derive_crossed_keys_and_open_each_others_frames() -> None:
    a_eph, b_eph = EphemeralKey(b"\x01" * 32), EphemeralKey(b"\x02" * 32)
    a_side = (KEYS[0].public_key, b"\xaa" * 32, a_eph.public_key)
    b_side = (KEYS[1].public_key, b"\xbb" * 32, b_eph.public_key)
    transcript = transcript_hash(CHAIN, GENESIS, a_side, b_side)
    assert transcript == transcript_hash(CHAIN, GENESIS, b_side, a_side)
    a_keys = session_keys(a_eph.shared_secret(b_eph.public_key), transcript, a_side[0], b_side[0])
    b_keys = session_keys(b_eph.shared_secret(a_eph.public_key), transcript, b_side[0], a_side[0])
    assert a_keys == (b_keys[1], b_keys[0]) and a_keys[0] != a_keys[1]
    a, b = SecureChannel(*a_keys), SecureChannel(*b_keys)
    a.start_receiving(b.header)
    b.start_receiving(a.header)
    frames = [Status(i).encode() for i in range(3)] + [b""]
    assert [b.open(a.seal(f)) for f in frames] == frames
    assert a.open(b.seal(b"x")) == b"x"
    # Another chain (or genesis) gives other keys: its frames do not open here.
    other = session_keys(a_eph.shared_secret(b_eph.public_key),
                         transcript_hash("other", GENESIS, a_side, b_side), a_side[0], b_side[0])
    stranger = SecureChannel(*other)
    c = SecureChannel(*b_keys)
    c.start_receiving(stranger.header)
    with pytest.raises(LinkTampered):
        c.open(stranger.seal(b"x"))


def test_a_low_order_ephemeral_key_is_refused() -> None:
    with pytest.raises(HandshakeError) as info:
        EphemeralKey().shared_secret(b"\x00" * 32)
    assert info.value.code == "bad_key"

