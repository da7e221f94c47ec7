"""Authenticated, encrypted websocket links between nodes: listening, dialing, handshake,
framing.

``Network`` owns every peer connection. A connection starts with a mutual handshake
(both sides send Hello with a fresh challenge, then sign the other's challenge bound to
chain id, genesis hash, both keys and an ephemeral X25519 key of their own, and start one
secretstream per direction: p2p/secure.py); only keys the node admits (validators of the
current set, observers from config) get through. After it, every message is a sealed
frame: one that does not open closes the link (``LinkTampered``, not blamed on the peer);
an opened frame is decoded by ``p2p.messages.decode_frame`` and handed to the handler
registered for their tag. A peer
that sends an oversized frame, a frame that does not decode, a text frame, or more frames
than its rate allows is disconnected and logged; the node carries on. A handler that
raises DecodeError, ValidationError or PeerMisbehaved blames the peer (the link is dropped);
any other error is the node's own and goes to ``on_handler_error``, never to the peer.

Exactly one connection per pair is kept: configured peers are dialed by the node with
the lower key (observers dial everyone they list), and when two connections to one peer
race, both ends keep the one dialed by the lower key. Lost links are redialed with capped
exponential backoff. Every link carries a websocket heartbeat (``p2p.heartbeat_ms``): a
link that stays silent through a ping and half a heartbeat more is dead and dropped, so
a cut path is noticed within seconds even while TCP itself still believes in it; and
since pongs are not authenticated, a link on which no sealed frame (keepalives included)
opens for ``SILENCE_HEARTBEATS`` heartbeats is dead too. A node listing more than
``HEARTBEAT_LINKS`` peers stretches every link's heartbeat in proportion
(``link_heartbeat_s``): what keeps links alive then costs it what ``HEARTBEAT_LINKS`` links
would, instead of growing with the network (with 211 peers, a dead link is noticed within
about 40 s instead of 1.5 s).

Misbehaviour costs the peer, never its neighbours: the link that carried the offending
frame is dropped (``punish``, with a stable reason code), and its key is refused, after
the handshake and with a Goodbye that says why, for ``p2p.misbehaviour_ban_ms``, doubled
per further offence up to ``p2p.max_misbehaviour_ban_ms``. A dead link or a fault of
the node's own is nobody's misbehaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from aiohttp import web

from core.crypto import PrivateKey, verify
from core.errors import DecodeError, ValidationError
from p2p.errors import HandshakeError, LinkTampered, PeerMisbehaved
from p2p.messages import (
    CHALLENGE_SIZE,
    PROTOCOL_VERSION,
    Auth,
    Frame,
    Goodbye,
    Hello,
    StreamStart,
    decode_frame,
    handshake_signing_bytes,
    hello_version,
)
from p2p.secure import SEAL_OVERHEAD, EphemeralKey, SecureChannel, session_keys, transcript_hash

log = logging.getLogger("hkchain.p2p")

MAX_SEND_QUEUE_FRAMES = 8192
MAX_PENDING_HANDSHAKES = 64
MAX_CONNECTIONS = 512
# A link on which no sealed frame opens for this many heartbeats is dead, even if its
# pings are answered (pongs are not authenticated, so a path that drops every frame could
# forge them). Generous, since one large frame on a slow path takes a while to arrive
# whole; a cut path is noticed much sooner by the websocket heartbeat itself.
SILENCE_HEARTBEATS = 10
# Up to this many listed peers a link's heartbeat is ``p2p.heartbeat_ms``; beyond, it grows
# in proportion. A keepalive, a ping and its pong each cost both ends a frame, per link:
# 63 links at the plain heartbeat cost an idle validator more than its consensus does.
HEARTBEAT_LINKS = 8
# A side with nothing to say sends a keepalive after this share of its link heartbeat:
# any frame resets the peer's websocket heartbeat, so a link that carries keepalives this
# often is never pinged (a ping and its pong would cost both ends two frames more).
KEEPALIVE_SHARE = 0.8
# A peer's offences are forgotten after this long without a new one.
PENALTY_MEMORY_S = 600.0

WebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse
FrameHandler = Callable[["Peer", Frame], None]
# How the host runs a named background loop under its supervision (node/supervisor.py).
Spawn = Callable[[str, Callable[[], Awaitable[None]]], None]
# What the host does with an error of its own raised while handling a peer's frame.
HandlerErrorSink = Callable[[str, BaseException], None]
# Told of each peer dropped for misbehaviour, with the reason code.
MisbehaviourSink = Callable[["Peer", str], None]


def _log_handler_error(what: str, exc: BaseException) -> None:
    log.error("%s failed: %s", what, exc, exc_info=exc)


class PeerAddress(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def public_key(self) -> bytes: ...
    @property
    def url(self) -> str: ...


class P2PSettings(Protocol):
    """The p2p section of the node config (node.config.P2PConfig) as p2p/ reads it."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def peers(self) -> Sequence[PeerAddress]: ...
    @property
    def max_frame_bytes(self) -> int: ...
    @property
    def rate_limit_frames_per_s(self) -> int: ...
    @property
    def rate_burst_frames(self) -> int: ...
    @property
    def handshake_timeout_ms(self) -> int: ...
    @property
    def heartbeat_ms(self) -> int: ...
    @property
    def reconnect_min_ms(self) -> int: ...
    @property
    def reconnect_max_ms(self) -> int: ...
    @property
    def sync_batch_blocks(self) -> int: ...
    @property
    def misbehaviour_ban_ms(self) -> int: ...
    @property
    def max_misbehaviour_ban_ms(self) -> int: ...


class Admission(Protocol):
    """Who may connect, as the node decides it (validator set of the current height, plus
    observers from config)."""

    def is_admitted(self, public_key: bytes) -> bool: ...

    def is_validator(self, public_key: bytes) -> bool: ...

    def height(self) -> int: ...


@dataclass(frozen=True)
class Identity:
    key: PrivateKey
    chain_id: str
    genesis_hash: bytes


@dataclass
class Penalty:
    """What a peer's misbehaviour has cost it so far (loop time, seconds)."""

    offences: int
    last_offence_s: float
    banned_until_s: float
    reason: str


class TokenBucket:
    """``rate_per_s`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate_per_s: float, burst: float, now_s: float) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.tokens = burst
        self.updated_s = now_s

    def take(self, now_s: float, n: float = 1.0) -> bool:
        self.tokens = min(self.burst, self.tokens + (now_s - self.updated_s) * self.rate_per_s)
        self.updated_s = now_s
        if self.tokens < n:
            return False
        self.tokens -= n
        return True


@dataclass
class FrameCost:
    """Frames of one kind received, and the loop thread's CPU they took."""

    count: int = 0
    cpu_s: float = 0.0


class Peer:
    """One authenticated connection. ``send`` never blocks: frames queue for a writer
    task; a peer that cannot keep up with a full queue is disconnected."""

    def __init__(
        self,
        network: Network,
        ws: WebSocket,
        channel: SecureChannel,
        public_key: bytes,
        name: str,
        dialed_by_lower_key: bool,
        outbound: bool,
        height: int,
    ) -> None:
        self.network = network
        self.ws = ws
        self.channel = channel
        self.public_key = public_key
        self.name = name
        self.dialed_by_lower_key = dialed_by_lower_key
        self.outbound = outbound
        self.height = height
        self.closed = asyncio.Event()
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(MAX_SEND_QUEUE_FRAMES)
        cfg = network.config
        self._bucket = TokenBucket(
            cfg.rate_limit_frames_per_s, cfg.rate_burst_frames, asyncio.get_running_loop().time()
        )
        self.frames_in = 0
        # Why the peer closed the link, if it said so (its Goodbye).
        self.goodbye_reason: str | None = None
        self.frames_out = 0
        # When the writer last sent a frame, and the timer that sends a keepalive once the
        # link has been quiet for KEEPALIVE_SHARE of a heartbeat: one timer per quiet
        # spell, not one per frame (a timeout around each wait and each read cost about
        # 15 µs a frame: scripts/bench_p2p_frames.py).
        self._last_sent_s = 0.0
        self._keepalive: asyncio.TimerHandle | None = None
        # Thread CPU seconds the frame being dispatched took to decode: a handler reads it
        # to account for what a kind of frame costs (node metrics of proposals).
        self.last_decode_cpu_s = 0.0

    def __repr__(self) -> str:
        return f"Peer({self.name or self.public_key.hex()[:12]})"

    @property
    def label(self) -> str:
        return self.name or self.public_key.hex()[:12]

    def send(self, frame: Frame) -> bool:
        return self.send_bytes(frame.encode())

    def send_bytes(self, data: bytes) -> bool:
        if self.closed.is_set():
            return False
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            log.warning("peer %s is not reading its frames; disconnecting", self.label)
            self.close("send queue full")
            return False
        return True

    def close(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        # Wake the writer; it says goodbye and closes the socket.
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        self._close_reason = reason

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        self._last_sent_s = loop.time()
        self._keepalive_due()  # arms the timer: nothing is due yet
        try:
            while True:
                data = await self._queue.get()
                if data is None:
                    break
                # Sealed here, in send order: the writer is the only user of the send stream.
                await self.ws.send_bytes(self.channel.seal(data))
                self._last_sent_s = loop.time()
                if data:
                    self.frames_out += 1
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as exc:
            log.debug("send to %s failed: %s", self.label, exc)
        finally:
            self.closed.set()
            if self._keepalive is not None:
                self._keepalive.cancel()
            with contextlib.suppress(Exception):
                reason = getattr(self, "_close_reason", "closing")
                if not self.ws.closed:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(
                            self.ws.send_bytes(self.channel.seal(Goodbye(reason[:200]).encode())), 1.0)
                    await asyncio.wait_for(self.ws.close(), 2.0)

    def _keepalive_due(self) -> None:
        if self.closed.is_set():
            return
        loop = asyncio.get_running_loop()
        keepalive_s = self.network.link_heartbeat_s * KEEPALIVE_SHARE
        now = loop.time()
        due = self._last_sent_s + keepalive_s
        if now >= due:
            if self._queue.empty():
                # Nothing to say: an empty sealed frame keeps the link alive.
                self.send_bytes(b"")
            # Else the writer is still on an earlier frame (a peer slow to read): the next
            # look is a keepalive from now, not at once again.
            due = now + keepalive_s
        self._keepalive = loop.call_at(due, self._keepalive_due)

    async def _reader(self) -> None:
        loop = asyncio.get_running_loop()
        max_bytes = self.network.config.max_frame_bytes
        silence_s = SILENCE_HEARTBEATS * self.network.link_heartbeat_s
        # One deadline across pings and pongs (which aiohttp answers inside receive): only
        # a frame that opens moves it, and only once it is within ``silence_s``, so the
        # timer is rescheduled once a quarter of that, not per frame. A silent link is
        # dropped after between 1 and 1.25 times ``silence_s``.
        slack_s = silence_s / 4
        try:
            async with asyncio.timeout_at(loop.time() + silence_s + slack_s) as deadline:
                await self._read_frames(loop, max_bytes, silence_s, slack_s, deadline)
        except TimeoutError:
            if deadline.expired():
                raise TimeoutError(f"no authenticated frame for {silence_s:g} s: link dead") from None
            raise

    async def _read_frames(self, loop: asyncio.AbstractEventLoop, max_bytes: int, silence_s: float,
                           slack_s: float, deadline: asyncio.Timeout) -> None:
        while not self.closed.is_set():
            msg = await self.ws.receive()
            if msg.type == aiohttp.WSMsgType.BINARY:
                if not self._bucket.take(loop.time()):
                    raise PeerMisbehaved("frame rate limit exceeded", code="rate_limited")
                started_cpu_s = time.thread_time()
                plaintext = self.channel.open(msg.data)
                now = loop.time()
                when = deadline.when()
                if when is not None and when - now < silence_s:
                    deadline.reschedule(now + silence_s + slack_s)
                if not plaintext:
                    continue  # keepalive
                decode_started_s = time.thread_time()
                frame = decode_frame(plaintext, max_bytes)
                self.last_decode_cpu_s = time.thread_time() - decode_started_s
                self.frames_in += 1
                if isinstance(frame, Goodbye):
                    log.info("peer %s said goodbye: %s", self.label, frame.reason)
                    self.goodbye_reason = frame.reason
                    return
                try:
                    self.network.dispatch(self, frame)
                finally:
                    self.network.count_frame(type(frame).__name__, time.thread_time() - started_cpu_s)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                raise PeerMisbehaved("text frame on a binary protocol", code="text_frame")
            elif msg.type == aiohttp.WSMsgType.ERROR:
                if isinstance(msg.data, TimeoutError | ConnectionError | aiohttp.ClientError):
                    # No pong within the heartbeat (or the socket failed): the link is
                    # dead, which is nobody's misbehaviour.
                    raise TimeoutError(f"link dead: {msg.data}")
                if (isinstance(msg.data, aiohttp.WebSocketError)
                        and msg.data.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG):
                    raise PeerMisbehaved(f"oversized frame: {msg.data}", code="oversized_frame")
                raise PeerMisbehaved(f"websocket error: {msg.data}", code="websocket_error")
            elif msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
            ):
                if msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
                    raise PeerMisbehaved("oversized frame", code="oversized_frame")
                return

    async def run(self) -> None:
        """Serve the connection until it closes; never raises for what the peer did."""
        writer = asyncio.create_task(self._writer())
        try:
            await self._reader()
        except (PeerMisbehaved, DecodeError, ValidationError) as exc:
            self.network.punish(self, exc.code, exc.message)
        except LinkTampered as exc:
            self.network.tampered(self, exc)
        except (TimeoutError, ConnectionError, aiohttp.ClientError) as exc:
            log.info("link to %s lost: %s", self.label, exc)
        finally:
            self.close("closing")
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(writer), 3.0)
            if not writer.done():
                writer.cancel()
            if not self.ws.closed:
                with contextlib.suppress(Exception):
                    await self.ws.close()


async def _receive_binary(ws: WebSocket, timeout_s: float) -> bytes:
    msg = await asyncio.wait_for(ws.receive(), timeout_s)
    if msg.type != aiohttp.WSMsgType.BINARY:
        raise HandshakeError(f"connection closed during handshake ({msg.type.name})", code="protocol")
    data: bytes = msg.data
    return data


def _decode_handshake_frame(data: bytes, max_bytes: int) -> Frame:
    try:
        return decode_frame(data, max_bytes)
    except DecodeError as exc:
        raise HandshakeError(f"undecodable handshake frame: {exc.message}", code="protocol") from exc


async def _receive_frame(ws: WebSocket, timeout_s: float, max_bytes: int) -> Frame:
    return _decode_handshake_frame(await _receive_binary(ws, timeout_s), max_bytes)


@dataclass(frozen=True)
class Handshaken:
    """A link that passed the handshake: who the peer is, and the channel its frames
    are sealed and opened with from now on."""

    hello: Hello
    channel: SecureChannel


async def handshake(
    ws: WebSocket,
    identity: Identity,
    admission: Admission,
    expected_key: bytes | None,
    timeout_s: float,
    max_frame_bytes: int,
) -> Handshaken:
    """Run the mutual handshake on a fresh websocket; return the peer's verified Hello and
    the link's encrypted channel (p2p/secure.py).

    Raises HandshakeError (after telling the other side why) if it fails."""
    challenge = os.urandom(CHALLENGE_SIZE)
    ephemeral = EphemeralKey()
    me = identity.key.public_key
    hello = Hello(PROTOCOL_VERSION, identity.chain_id, identity.genesis_hash, me, challenge,
                  admission.height())
    try:
        await ws.send_bytes(hello.encode())
        data = await _receive_binary(ws, timeout_s)
        version = hello_version(data, max_frame_bytes)
        if version is not None and version != PROTOCOL_VERSION:
            raise HandshakeError(
                f"peer speaks p2p protocol version {version}, this node speaks {PROTOCOL_VERSION} "
                "(encrypted links); run the same release on both", code="wrong_version")
        theirs = _decode_handshake_frame(data, max_frame_bytes)
        if isinstance(theirs, Goodbye):
            raise HandshakeError(f"refused by peer: {theirs.reason}", code="refused")
        if not isinstance(theirs, Hello):
            raise HandshakeError("expected Hello", code="protocol")
        if theirs.version != PROTOCOL_VERSION:
            raise HandshakeError(f"protocol version {theirs.version}", code="wrong_version")
        if theirs.chain_id != identity.chain_id:
            raise HandshakeError(f"wrong chain {theirs.chain_id!r}", code="wrong_chain")
        if theirs.genesis_hash != identity.genesis_hash:
            raise HandshakeError("wrong genesis hash", code="wrong_genesis")
        if theirs.public_key == me:
            raise HandshakeError("connected to itself", code="self_connect")
        if expected_key is not None and theirs.public_key != expected_key:
            raise HandshakeError("peer key is not the configured one", code="unexpected_peer")
        if not admission.is_admitted(theirs.public_key):
            raise HandshakeError("key is neither a validator nor an observer", code="not_admitted")
        sig = identity.key.sign(
            handshake_signing_bytes(identity.chain_id, identity.genesis_hash, theirs.challenge,
                                    me, theirs.public_key, ephemeral.public_key)
        )
        await ws.send_bytes(Auth(sig, ephemeral.public_key).encode())
        auth = await _receive_frame(ws, timeout_s, max_frame_bytes)
        if isinstance(auth, Goodbye):
            raise HandshakeError(f"refused by peer: {auth.reason}", code="refused")
        if not isinstance(auth, Auth):
            raise HandshakeError("expected Auth", code="protocol")
        signed = handshake_signing_bytes(identity.chain_id, identity.genesis_hash, challenge,
                                         theirs.public_key, me, auth.ephemeral_key)
        if not verify(theirs.public_key, signed, auth.signature):
            raise HandshakeError("challenge signature does not verify", code="bad_auth")
        transcript = transcript_hash(identity.chain_id, identity.genesis_hash,
                                     (me, challenge, ephemeral.public_key),
                                     (theirs.public_key, theirs.challenge, auth.ephemeral_key))
        send_key, receive_key = session_keys(ephemeral.shared_secret(auth.ephemeral_key), transcript,
                                             me, theirs.public_key)
        channel = SecureChannel(send_key, receive_key)
        await ws.send_bytes(StreamStart(channel.header).encode())
        start = await _receive_frame(ws, timeout_s, max_frame_bytes)
        if isinstance(start, Goodbye):
            raise HandshakeError(f"refused by peer: {start.reason}", code="refused")
        if not isinstance(start, StreamStart):
            raise HandshakeError("expected StreamStart", code="protocol")
        channel.start_receiving(start.header)
        return Handshaken(theirs, channel)
    except TimeoutError:
        raise HandshakeError("handshake timed out", code="handshake_timeout") from None
    except HandshakeError as exc:
        if exc.code != "refused" and not ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.send_bytes(Goodbye(f"{exc.code}: {exc.message}"[:200]).encode()), 1.0)
        raise
    except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
        raise HandshakeError(f"link failed during handshake: {exc}", code="protocol") from exc


class Network:
    """Listens on ``/p2p``, dials configured peers, and routes frames to handlers."""

    def __init__(self, config: P2PSettings, identity: Identity, admission: Admission) -> None:
        self.config = config
        self.identity = identity
        self.admission = admission
        self.peers: dict[bytes, Peer] = {}
        self.handlers: dict[int, FrameHandler] = {}
        self.on_handler_error: HandlerErrorSink = _log_handler_error
        self.on_connect: list[Callable[[Peer], None]] = []
        self.on_disconnect: list[Callable[[Peer], None]] = []
        self.on_misbehaviour: list[MisbehaviourSink] = []
        # Told of each link closed because a sealed frame did not open.
        self.on_tampered: list[Callable[[Peer], None]] = []
        self.misbehaviours = 0
        # Per kind of frame received (its class name): how many, and the event loop's
        # thread CPU that opening, decoding and handling them took. What a handler hands
        # to a worker thread or a later task is not in it. Read by the host's metrics.
        self.frames_received: dict[str, FrameCost] = {}
        # Links closed because a sealed frame failed to open (not blamed on the peer).
        self.tampered_links = 0
        self.refused_handshakes = 0
        self.penalties: dict[bytes, Penalty] = {}
        self._names = {p.public_key: p.name for p in config.peers}
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending_handshakes = 0
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self.port: int = config.port

    @property
    def public_key(self) -> bytes:
        return self.identity.key.public_key

    @property
    def link_heartbeat_s(self) -> float:
        """Each link's heartbeat: ``p2p.heartbeat_ms``, stretched by listed peers over
        ``HEARTBEAT_LINKS``. aiohttp pings after this long without a frame and drops the
        link when no pong comes within half of it: a dead link is noticed within 1.5 of
        them."""
        return self.config.heartbeat_ms / 1000 * max(1.0, len(self.config.peers) / HEARTBEAT_LINKS)

    @property
    def _dial_timeout_s(self) -> float:
        return 2 * self.config.heartbeat_ms / 1000

    def handle(self, tag: int, handler: FrameHandler) -> None:
        self.handlers[tag] = handler

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/p2p", self._accept)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        for peer in self.config.peers:
            self._spawn(self._dial_loop(peer))
        log.info("p2p listening on %s:%d", self.config.host, self.port)

    async def stop(self) -> None:
        self._stopping = True
        for peer in list(self.peers.values()):
            peer.close("node shutting down")
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- sending ---------------------------------------------------------------------------

    def send(self, public_key: bytes, frame: Frame) -> bool:
        peer = self.peers.get(public_key)
        return peer.send(frame) if peer is not None else False

    def broadcast(self, frame: Frame, exclude: bytes | None = None, validators: bool | None = None) -> int:
        return self.broadcast_bytes(frame.encode(), exclude, validators)

    def broadcast_bytes(self, data: bytes, exclude: bytes | None = None,
                        validators: bool | None = None) -> int:
        """``broadcast`` of an encoded frame; the number of peers it was queued for. With
        ``validators`` True only to validators, False only to the others (observers)."""
        n = 0
        for key, peer in list(self.peers.items()):
            if key == exclude or (validators is not None and self.admission.is_validator(key) != validators):
                continue
            n += peer.send_bytes(data)
        return n

    def count_frame(self, kind: str, cpu_s: float) -> None:
        cost = self.frames_received.get(kind)
        if cost is None:
            cost = self.frames_received[kind] = FrameCost()
        cost.count += 1
        cost.cpu_s += cpu_s

    def dispatch(self, peer: Peer, frame: Frame) -> None:
        handler = self.handlers.get(frame.TAG)
        if handler is None:
            raise PeerMisbehaved(f"unexpected frame {type(frame).__name__}", code="unexpected_frame")
        try:
            handler(peer, frame)
        except (PeerMisbehaved, DecodeError, ValidationError):
            raise  # the peer's fault: the link is dropped
        except Exception as exc:
            # Ours, not the peer's: the link stays and the host decides (a node stops on a
            # fault of its own store; anything else is logged with what it was doing).
            self.on_handler_error(f"handling {type(frame).__name__} from {peer.label}", exc)

    # --- misbehaviour ------------------------------------------------------------------------

    def punish(self, peer: Peer, code: str, message: str) -> None:
        """Drop ``peer`` for what it sent and refuse its key for a while (see the module
        docstring). Only for faults the peer's own frames prove, never for ours."""
        now = asyncio.get_running_loop().time()
        key = peer.public_key
        cfg = self.config
        prior = self.penalties.get(key)
        offences = 1
        if prior is not None and now - prior.last_offence_s < PENALTY_MEMORY_S:
            offences = prior.offences + 1
        ban_ms = min(cfg.max_misbehaviour_ban_ms, cfg.misbehaviour_ban_ms << min(offences - 1, 32))
        self.penalties[key] = Penalty(offences, now, now + ban_ms / 1000, code)
        if len(self.penalties) > MAX_CONNECTIONS:
            oldest = min(self.penalties, key=lambda k: self.penalties[k].last_offence_s)
            del self.penalties[oldest]
        self.misbehaviours += 1
        log.warning("dropping peer %s (%s): %s; refused for %d ms (offence %d)",
                    peer.label, code, message, ban_ms, offences)
        for cb in self.on_misbehaviour:
            try:
                cb(peer, code)
            except Exception:
                log.exception("on_misbehaviour callback failed")
        peer.close(f"{code}: {message}")

    def tampered(self, peer: Peer, exc: LinkTampered) -> None:
        """Close a link on which a sealed frame did not open. Anyone on the path can cause
        that, so the peer is neither blamed nor banned; the dialer links again."""
        log.warning("closing link to %s: %s", peer.label, exc.message)
        self.tampered_links += 1
        for cb in self.on_tampered:
            try:
                cb(peer)
            except Exception:
                log.exception("on_tampered callback failed")
        peer.close(f"{exc.code}: {exc.message}")

    def banned_for_s(self, public_key: bytes) -> float:
        """How much longer ``public_key`` is refused for misbehaviour (0 if it is not)."""
        penalty = self.penalties.get(public_key)
        if penalty is None:
            return 0.0
        return max(0.0, penalty.banned_until_s - asyncio.get_running_loop().time())

    # --- connections -----------------------------------------------------------------------

    def should_dial(self, peer_key: bytes) -> bool:
        me = self.public_key
        both_validators = self.admission.is_validator(me) and self.admission.is_validator(peer_key)
        return me < peer_key or not both_validators

    async def _accept(self, request: web.Request) -> web.StreamResponse:
        if self._pending_handshakes >= MAX_PENDING_HANDSHAKES or len(self.peers) >= MAX_CONNECTIONS:
            raise web.HTTPServiceUnavailable(text="too many connections")
        ws = web.WebSocketResponse(
            max_msg_size=self.config.max_frame_bytes + SEAL_OVERHEAD, autoping=True,
            heartbeat=self.link_heartbeat_s,
        )
        try:
            await ws.prepare(request)
        except ConnectionError as exc:
            # The dialer went away during the upgrade (it gave up, or its path died): not
            # an error of this node, and nothing to answer.
            # aiohttp then finds the transport gone and drops the request quietly.
            log.info("inbound link from %s closed during the upgrade: %s", request.remote, exc)
            return web.Response(status=400, text="closed during the websocket upgrade")
        self._pending_handshakes += 1
        try:
            done = await handshake(ws, self.identity, self.admission, None,
                                   self.config.handshake_timeout_ms / 1000, self.config.max_frame_bytes)
        except HandshakeError as exc:
            self.refused_handshakes += 1
            log.warning("refused inbound peer from %s: %s (%s)", request.remote, exc.message, exc.code)
            await ws.close()
            return ws
        finally:
            self._pending_handshakes -= 1
        dialed_by_lower = done.hello.public_key < self.public_key
        await self._serve(ws, done, outbound=False, dialed_by_lower=dialed_by_lower)
        return ws

    async def _serve(self, ws: WebSocket, done: Handshaken, outbound: bool, dialed_by_lower: bool) -> None:
        hello = done.hello
        key = hello.public_key
        banned_s = self.banned_for_s(key)
        if banned_s > 0:
            # Known only now that it proved its key; it hears why before the link closes.
            reason = self.penalties[key].reason
            self.refused_handshakes += 1
            log.info("refusing peer %s: misbehaved (%s), banned for %.1f s more",
                     self._names.get(key) or key.hex()[:12], reason, banned_s)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.send_bytes(done.channel.seal(Goodbye(
                    f"banned: misbehaved ({reason}); retry in {banned_s:.1f} s").encode())), 1.0)
            with contextlib.suppress(Exception):
                await ws.close()
            return
        peer = Peer(self, ws, done.channel, key, self._names.get(key, ""), dialed_by_lower, outbound,
                    hello.height)
        existing = self.peers.get(key)
        if existing is not None:
            # Both ends apply the same rule, so they keep the same one of two racing links:
            # the one dialed by the lower key; of two dialed by the same side, the newer
            # (the dialer only redials when it found the old one dead).
            if existing.dialed_by_lower_key and not dialed_by_lower:
                log.debug("duplicate link to %s; keeping the existing one", peer.label)
                await ws.close()
                return
            existing.close("replaced by a newer link")
        self.peers[key] = peer
        log.info("peer %s connected (%s, height %d)", peer.label, "out" if outbound else "in", hello.height)
        for cb in self.on_connect:
            try:
                cb(peer)
            except Exception:
                log.exception("on_connect callback failed")
        try:
            await peer.run()
        finally:
            log.info("peer %s disconnected", peer.label)
            if self.peers.get(key) is peer:
                del self.peers[key]
                self._notify_disconnect(peer)

    def _notify_disconnect(self, peer: Peer) -> None:
        for cb in self.on_disconnect:
            try:
                cb(peer)
            except Exception:
                log.exception("on_disconnect callback failed")

    async def _dial_loop(self, target: PeerAddress) -> None:
        assert self._session is not None
        backoff_ms = self.config.reconnect_min_ms
        while not self._stopping:
            existing = self.peers.get(target.public_key)
            if existing is not None:
                if existing.closed.is_set():
                    # Closing but not yet gone: an already-set event would not yield.
                    await asyncio.sleep(self.config.reconnect_min_ms / 1000)
                else:
                    await existing.closed.wait()
                continue
            banned_s = self.banned_for_s(target.public_key)
            if banned_s > 0:
                await asyncio.sleep(banned_s)
                continue
            if not self.should_dial(target.public_key):
                # The other side dials; look again later in case the roles change.
                await asyncio.sleep(self.config.reconnect_max_ms / 1000)
                continue
            started = asyncio.get_running_loop().time()
            try:
                # A peer behind a dead path never answers the upgrade; give up on it as
                # the heartbeat would give up on a silent link, and try again.
                ws = await asyncio.wait_for(
                    self._session.ws_connect(
                        target.url,
                        max_msg_size=self.config.max_frame_bytes + SEAL_OVERHEAD,
                        timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                        autoping=True,
                        heartbeat=self.link_heartbeat_s,
                    ),
                    self._dial_timeout_s,
                )
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                log.debug("cannot reach %s at %s: %s", target.name, target.url, exc)
            else:
                try:
                    done = await handshake(ws, self.identity, self.admission, target.public_key,
                                            self.config.handshake_timeout_ms / 1000,
                                            self.config.max_frame_bytes)
                except HandshakeError as exc:
                    log.warning("handshake with %s failed: %s (%s)", target.name, exc.message, exc.code)
                    await ws.close()
                else:
                    await self._serve(ws, done, outbound=True,
                                      dialed_by_lower=self.public_key < target.public_key)
                    if asyncio.get_running_loop().time() - started > 10.0:
                        backoff_ms = self.config.reconnect_min_ms
            if self._stopping:
                return
            # Jitter keeps a restarted network from reconnecting in lockstep.
            await asyncio.sleep(backoff_ms * random.uniform(0.5, 1.0) / 1000)
            backoff_ms = min(self.config.reconnect_max_ms, backoff_ms * 2)
