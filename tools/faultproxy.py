"""User-space fault injection for the p2p links of a local network.

The kernel may offer no netem, so faults are injected by a loopback TCP proxy on every
link: a node's config names the proxy's port instead of the peer's, and the proxy forwards
bytes to the peer's real p2p port. On a ``Link`` a test or an operator can:

- ``cut``: blackhole one or both directions while the TCP connection stays open, which is
  what a failed path looks like to the ends: nothing arrives, nothing is refused, and only
  a heartbeat can tell. Bytes of a stream that lost some are never forwarded again (a
  websocket with a gap is garbage); connections opened during a cut are accepted and get
  no answer, like SYNs into a dead path. A one-way cut (``cut(up=False)``) leaves the
  other direction flowing.
- ``heal``: new connections pass again (the ends close the dead ones themselves).
- ``delay``: hold each unit ``delay_ms`` plus a seeded ``0..jitter_ms`` before forwarding
  it, in order (jitter never reorders a TCP stream).
- ``lose`` and ``duplicate``: drop, or send twice, a seeded fraction of the websocket
  messages. TCP itself never loses or repeats a byte, and a gap or a repeat inside a
  stream would only make the websocket garbage, which a cut already covers. So the proxy
  is frame-aware: after the HTTP upgrade it parses the websocket frames (RFC 6455 §5.2)
  and drops or repeats whole unfragmented data frames, which leaves a valid stream that
  is missing, or repeats, a p2p message — the loss and duplication a message protocol
  must tolerate. Control frames (ping, pong, close) and fragments always pass: path death
  is what ``cut`` models, and a lossy link is slow, not dead. A stream that is not a
  websocket upgrade, or a frame larger than ``MAX_FRAME_BYTES``, is forwarded untouched.
- ``packet_loss``: what a lost packet does to TCP: the segment is sent again after a
  retransmission timeout, so the unit (and, in order, everything behind it) arrives
  ``rto_ms`` late. This is the loss a real link inflicts on the p2p links, whose frames are
  sealed in sequence (p2p/secure.py): ``lose`` and ``duplicate`` on a sealed link are what
  an attacker on the path does, and the receiving node closes the link as tampered.
- ``limit``: a bandwidth cap, a token bucket per direction shared by the link's
  connections; the proxy reads no faster than it may write, so the sender feels TCP
  backpressure as on a slow line.

Every random choice comes from a ``random.Random`` seeded by the ``FaultNet``'s seed, the
link's name, the connection's index on the link and the direction, so one seed gives the
same drops and duplicates for the same traffic. Every parameter is bounded (see the
``MAX_*`` constants) and every connection holds at most ``MAX_QUEUED_BYTES`` per direction.

``FaultNet`` puts one ``Link`` on every ordered pair of nodes (the dialer's view of the
peer) and applies faults by node: ``isolate``, ``partition``, ``heal``, ``delay``,
``packet_loss``, ``lose``, ``duplicate``, ``limit``, ``clear``. Everything binds to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import struct
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

log = logging.getLogger("hkchain.faultproxy")

LOOPBACK = "127.0.0.1"
CHUNK_BYTES = 64 * 1024
UP = "up"  # from the side that opened the connection to the target
DOWN = "down"  # from the target back
DIRECTIONS = (UP, DOWN)

MAX_DELAY_MS = 60_000
MAX_JITTER_MS = 60_000
MIN_RATE_BYTES_PER_S = 1024
MAX_RATE_BYTES_PER_S = 1 << 30
MAX_BURST_BYTES = 16 << 20
# Larger frames pass untouched (p2p frames are at most a few MiB: p2p/messages.py).
MAX_FRAME_BYTES = 32 << 20
MAX_HTTP_HEAD_BYTES = 16 * 1024
# Per connection and direction: the proxy stops reading beyond this (TCP backpressure).
MAX_QUEUED_BYTES = 8 << 20

_OP_TEXT, _OP_BINARY = 0x1, 0x2


class FaultError(ValueError):
    """A fault parameter out of its bounds."""


def _fraction(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise FaultError(f"{name} is a fraction from 0 to 1, got {value!r}")
    return float(value)


@dataclass
class TokenBucket:
    """``rate_bytes_per_s`` tokens a second, at most ``burst_bytes`` saved up; starts full."""

    rate_bytes_per_s: int
    burst_bytes: int
    tokens: float = field(init=False)
    updated_s: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst_bytes)

    def wait_s(self, now_s: float, n: int) -> float:
        """Take ``n`` (≤ burst) tokens and return 0, or return how long until they exist."""
        if self.updated_s is not None:
            self.tokens = min(float(self.burst_bytes),
                              self.tokens + (now_s - self.updated_s) * self.rate_bytes_per_s)
        self.updated_s = now_s
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.rate_bytes_per_s


@dataclass
class Shape:
    """The faults of one direction of a link, other than cuts."""

    loss: float = 0.0  # fraction of websocket data frames dropped
    packet_loss: float = 0.0  # fraction of units held back a retransmission timeout
    rto_ms: int = 0
    duplicate: float = 0.0  # fraction of websocket data frames sent twice
    bucket: TokenBucket | None = None  # bandwidth cap


@dataclass
class Counts:
    """What a link did to one direction's traffic, over all its connections."""

    bytes_in: int = 0  # read from the sending end
    bytes_out: int = 0  # written to the receiving end
    data_frames: int = 0  # websocket data frames seen (what loss and duplication act on)
    frames_lost: int = 0
    frames_duplicated: int = 0
    retransmits: int = 0  # units held back by packet_loss


class _Framer:
    """Splits one direction of a stream into units to forward: the HTTP upgrade, then each
    websocket frame whole (a data frame marked droppable), or raw bytes once the stream is
    not (or no longer) a websocket the proxy can follow."""

    def __init__(self, direction: str) -> None:
        self.direction = direction
        self.state = "head"  # head -> frames | raw
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        self.buf += data
        out: list[tuple[bytes, bool]] = []
        if self.state == "head":
            prefix = b"GET " if self.direction == UP else b"HTTP/"
            if not (prefix.startswith(self.buf[:4]) if len(self.buf) < 4
                    else self.buf.startswith(prefix[:4])):
                self.state = "raw"  # not HTTP: hold nothing back
                return self._raw(out)
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HTTP_HEAD_BYTES:
                    self.state = "raw"
                return self._raw(out)
            head = bytes(self.buf[: end + 4])
            del self.buf[: end + 4]
            out.append((head, False))
            self.state = "frames" if self._is_upgrade(head) else "raw"
        if self.state == "frames":
            while (frame := self._next_frame()) is not None:
                out.append(frame)
        return self._raw(out)

    def _raw(self, out: list[tuple[bytes, bool]]) -> list[tuple[bytes, bool]]:
        if self.state == "raw" and self.buf:
            out.append((bytes(self.buf), False))
            self.buf.clear()
        return out

    def _is_upgrade(self, head: bytes) -> bool:
        first, _, rest = head.partition(b"\r\n")
        lower = rest.lower()
        if self.direction == UP:
            return first.startswith(b"GET ") and b"upgrade: websocket" in lower
        # A compressed websocket cannot lose a frame without corrupting the next ones.
        return first.split(b" ")[1:2] == [b"101"] and b"permessage-deflate" not in lower

    def _next_frame(self) -> tuple[bytes, bool] | None:
        buf = self.buf
        if len(buf) < 2:
            return None
        b0, b1 = buf[0], buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            if len(buf) < 4:
                return None
            n = struct.unpack_from("!H", buf, 2)[0]
            pos = 4
        elif n == 127:
            if len(buf) < 10:
                return None
            n = struct.unpack_from("!Q", buf, 2)[0]
            pos = 10
        if b1 & 0x80:
            pos += 4  # masking key
        total = pos + n
        if total > MAX_FRAME_BYTES:
            self.state = "raw"  # too big to hold whole: forward the rest as it comes
            return None
        if len(buf) < total:
            return None
        frame = bytes(buf[:total])
        del buf[:total]
        fin, opcode = b0 & 0x80, b0 & 0x0F
        return frame, bool(fin) and opcode in (_OP_TEXT, _OP_BINARY)


@dataclass
class _Direction:
    dead: bool = False  # lost bytes to a cut: never forwards again
    queued_bytes: int = 0
    rng: random.Random = field(default_factory=random.Random)


@dataclass(eq=False)
class _Conn:
    up: _Direction = field(default_factory=_Direction)
    down: _Direction = field(default_factory=_Direction)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


class Link:
    """A proxy from ``127.0.0.1:port`` to ``target_host:target_port``."""

    def __init__(self, name: str, target_port: int, target_host: str = LOOPBACK,
                 listen_port: int = 0, seed: int = 0) -> None:
        self.name = name
        self.seed = seed
        self.target_host = target_host
        self.target_port = target_port
        self.port = listen_port
        self.cut_up = False
        self.cut_down = False
        self.delay_ms = 0
        self.jitter_ms = 0
        self.shape = {d: Shape() for d in DIRECTIONS}
        self.counts = {d: Counts() for d in DIRECTIONS}
        self.connections = 0  # accepted so far
        self.dropped_bytes = 0  # lost to cuts
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    # --- control ---------------------------------------------------------------------

    def cut(self, up: bool = True, down: bool = True) -> None:
        """Blackhole the given directions (both by default); connections stay open."""
        self.cut_up = self.cut_up or up
        self.cut_down = self.cut_down or down

    def heal(self) -> None:
        self.cut_up = self.cut_down = False

    def delay(self, delay_ms: int, jitter_ms: int = 0) -> None:
        if not (0 <= delay_ms <= MAX_DELAY_MS and 0 <= jitter_ms <= MAX_JITTER_MS):
            raise FaultError(f"delay is 0..{MAX_DELAY_MS} ms and jitter 0..{MAX_JITTER_MS} ms")
        self.delay_ms, self.jitter_ms = delay_ms, jitter_ms

    def lose(self, fraction: float, up: bool = True, down: bool = True) -> None:
        """Drop ``fraction`` of the websocket data frames in the given directions."""
        fraction = _fraction("loss", fraction)
        for d in self._directions(up, down):
            self.shape[d].loss = fraction

    def duplicate(self, fraction: float, up: bool = True, down: bool = True) -> None:
        """Send ``fraction`` of the websocket data frames twice in the given directions."""
        fraction = _fraction("duplication", fraction)
        for d in self._directions(up, down):
            self.shape[d].duplicate = fraction

    def packet_loss(self, fraction: float, rto_ms: int = 200, up: bool = True,
                    down: bool = True) -> None:
        """Hold ``fraction`` of the units (websocket frames, or reads of another stream)
        ``rto_ms`` longer, head-of-line: a lost TCP segment and its retransmission (Linux's
        minimum RTO is 200 ms)."""
        fraction = _fraction("packet loss", fraction)
        if not 1 <= rto_ms <= MAX_DELAY_MS:
            raise FaultError(f"the retransmission timeout is 1..{MAX_DELAY_MS} ms")
        for d in self._directions(up, down):
            self.shape[d].packet_loss, self.shape[d].rto_ms = fraction, rto_ms

    def limit(self, rate_bytes_per_s: int | None, burst_bytes: int | None = None,
              up: bool = True, down: bool = True) -> None:
        """Cap the given directions at ``rate_bytes_per_s`` (None lifts the cap); a burst of
        ``burst_bytes`` (default: a tenth of a second's worth, at least 16 KiB) passes at
        once."""
        if rate_bytes_per_s is None:
            for d in self._directions(up, down):
                self.shape[d].bucket = None
            return
        if not MIN_RATE_BYTES_PER_S <= rate_bytes_per_s <= MAX_RATE_BYTES_PER_S:
            raise FaultError(f"rate is {MIN_RATE_BYTES_PER_S}..{MAX_RATE_BYTES_PER_S} bytes/s")
        if burst_bytes is None:
            burst_bytes = min(MAX_BURST_BYTES, max(16 * 1024, rate_bytes_per_s // 10))
        if not 1 <= burst_bytes <= MAX_BURST_BYTES:
            raise FaultError(f"burst is 1..{MAX_BURST_BYTES} bytes")
        for d in self._directions(up, down):
            self.shape[d].bucket = TokenBucket(rate_bytes_per_s, burst_bytes)

    def clear(self) -> None:
        """Lift delay, loss, duplication and caps (cuts stay: ``heal`` lifts those)."""
        self.delay_ms = self.jitter_ms = 0
        self.shape = {d: Shape() for d in DIRECTIONS}

    @staticmethod
    def _directions(up: bool, down: bool) -> list[str]:
        return [d for d, on in ((UP, up), (DOWN, down)) if on]

    @property
    def is_cut(self) -> bool:
        return self.cut_up or self.cut_down

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, LOOPBACK, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            for w in conn.writers:
                w.close()
        # Every connection's handler ends here, so none is left for the loop to cancel.
        handlers = set(self._handlers)
        if handlers:
            _, pending = await asyncio.wait(handlers, timeout=2.0)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2.0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    # --- forwarding ------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._forward(reader, writer)
        except asyncio.CancelledError:
            pass  # stopped: asyncio's server callback would log a cancelled handler as an error
        finally:
            self._handlers.discard(task)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.connections
        self.connections += 1
        conn = _Conn(writers=[writer])
        conn.up.rng.seed(f"{self.seed}/{self.name}/{index}/{UP}")
        conn.down.rng.seed(f"{self.seed}/{self.name}/{index}/{DOWN}")
        self._conns.add(conn)
        try:
            if self.is_cut:
                # Into a dead path: swallow whatever comes until the dialer gives up.
                conn.up.dead = conn.down.dead = True
                while data := await reader.read(CHUNK_BYTES):
                    self.dropped_bytes += len(data)
                return
            try:
                t_reader, t_writer = await asyncio.open_connection(self.target_host, self.target_port)
            except OSError:
                return  # nothing listens there: the dialer sees its connection close
            conn.writers.append(t_writer)
            up = asyncio.ensure_future(self._pump(reader, t_writer, conn.up, UP))
            down = asyncio.ensure_future(self._pump(t_reader, writer, conn.down, DOWN))
            await asyncio.gather(up, down, return_exceptions=True)
        finally:
            self._conns.discard(conn)
            for w in conn.writers:
                with contextlib.suppress(Exception):
                    w.close()

    def _cut(self, direction: str) -> bool:
        return self.cut_up if direction == UP else self.cut_down

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    state: _Direction, direction: str) -> None:
        queue: deque[tuple[float, bytes] | None] = deque()
        ready = asyncio.Event()  # the queue has something
        room = asyncio.Event()  # the queue is under MAX_QUEUED_BYTES
        room.set()
        sender = asyncio.ensure_future(self._send(queue, ready, room, writer, state, direction))
        framer = _Framer(direction)
        counts = self.counts[direction]
        loop = asyncio.get_running_loop()
        try:
            while True:
                await room.wait()
                try:
                    data = await reader.read(CHUNK_BYTES)
                except (ConnectionError, OSError):
                    data = b""
                counts.bytes_in += len(data)
                if state.dead or self._cut(direction):
                    state.dead = True
                    self.dropped_bytes += len(data)
                    if not data:
                        # The end closed after the path died: its FIN is lost too. Wait
                        # for the other end to give up on its own.
                        return
                    continue
                if not data:
                    if framer.buf:
                        queue.append((loop.time(), bytes(framer.buf)))  # a torn last frame
                    queue.append(None)
                    ready.set()
                    await sender
                    return
                shape = self.shape[direction]
                for unit, droppable in framer.feed(data):
                    copies = 1
                    if droppable:
                        counts.data_frames += 1
                        if shape.loss and state.rng.random() < shape.loss:
                            counts.frames_lost += 1
                            continue
                        if shape.duplicate and state.rng.random() < shape.duplicate:
                            counts.frames_duplicated += 1
                            copies = 2
                    extra = state.rng.randint(0, self.jitter_ms) if self.jitter_ms else 0
                    if shape.packet_loss and state.rng.random() < shape.packet_loss:
                        counts.retransmits += 1
                        extra += shape.rto_ms
                    due = loop.time() + (self.delay_ms + extra) / 1000
                    for _ in range(copies):
                        queue.append((due, unit))
                        state.queued_bytes += len(unit)
                if state.queued_bytes >= MAX_QUEUED_BYTES:
                    room.clear()
                ready.set()
        finally:
            if not sender.done():
                if state.dead:
                    sender.cancel()
                else:
                    queue.append(None)
                    ready.set()
                    with contextlib.suppress(Exception):
                        await sender

    async def _send(self, queue: deque[tuple[float, bytes] | None], ready: asyncio.Event,
                    room: asyncio.Event, writer: asyncio.StreamWriter, state: _Direction,
                    direction: str) -> None:
        loop = asyncio.get_running_loop()
        counts = self.counts[direction]
        last_due = 0.0
        try:
            while True:
                while not queue:
                    ready.clear()
                    await ready.wait()
                item = queue.popleft()
                if item is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                due, data = item
                state.queued_bytes -= len(data)
                if state.queued_bytes < MAX_QUEUED_BYTES:
                    room.set()
                due = max(due, last_due)  # jitter never reorders a stream
                last_due = due
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                for start in range(0, len(data), CHUNK_BYTES):
                    piece = data[start:start + CHUNK_BYTES]
                    await self._throttle(direction, len(piece))
                    if state.dead:
                        self.dropped_bytes += len(piece)
                        continue
                    writer.write(piece)
                    counts.bytes_out += len(piece)
                    await writer.drain()
        except (ConnectionError, OSError):
            return

    async def _throttle(self, direction: str, n: int) -> None:
        """Wait until the direction's cap (if any) lets ``n`` bytes through."""
        loop = asyncio.get_running_loop()
        while True:
            bucket = self.shape[direction].bucket  # may be changed or lifted meanwhile
            if bucket is None:
                return
            take = min(n, bucket.burst_bytes)
            wait_s = bucket.wait_s(loop.time(), take)
            if wait_s == 0:
                n -= take
                if n == 0:
                    return
                continue
            await asyncio.sleep(wait_s)  # the cap itself: tokens accrue at the rate


class FaultNet:
    """A ``Link`` for every ordered pair of nodes: ``link(a, b)`` carries what node ``a``
    dials to reach node ``b``. ``seed`` seeds every link's random choices."""

    def __init__(self, p2p_ports: dict[str, int], seed: int = 0) -> None:
        self.p2p_ports = dict(p2p_ports)
        self.seed = seed
        self.links: dict[tuple[str, str], Link] = {
            (a, b): Link(f"{a}->{b}", p2p_ports[b], seed=seed)
            for a in p2p_ports for b in p2p_ports if a != b
        }

    def link(self, a: str, b: str) -> Link:
        return self.links[(a, b)]

    def url(self, a: str, b: str) -> str:
        """The p2p URL node ``a`` should use for peer ``b``."""
        return f"ws://{LOOPBACK}:{self.link(a, b).port}/p2p"

    async def start(self) -> None:
        for link in self.links.values():
            await link.start()

    async def stop(self) -> None:
        for link in self.links.values():
            await link.stop()

    def partition(self, *groups: Iterable[str]) -> None:
        """Cut every link between nodes of different groups (nodes in no group are cut
        off from everyone)."""
        group_of: dict[str, int] = {}
        for i, g in enumerate(groups):
            for name in g:
                if name not in self.p2p_ports:
                    raise KeyError(f"no node {name!r}")
                group_of[name] = i
        for (a, b), link in self.links.items():
            ga, gb = group_of.get(a), group_of.get(b)
            if ga is None or gb is None or ga != gb:
                link.cut()

    def isolate(self, name: str) -> None:
        self.partition([n for n in self.p2p_ports if n != name])

    def heal(self) -> None:
        for link in self.links.values():
            link.heal()

    def delay(self, delay_ms: int, jitter_ms: int = 0) -> None:
        for link in self.links.values():
            link.delay(delay_ms, jitter_ms)

    def lose(self, fraction: float) -> None:
        for link in self.links.values():
            link.lose(fraction)

    def packet_loss(self, fraction: float, rto_ms: int = 200) -> None:
        for link in self.links.values():
            link.packet_loss(fraction, rto_ms)

    def duplicate(self, fraction: float) -> None:
        for link in self.links.values():
            link.duplicate(fraction)

    def limit(self, rate_bytes_per_s: int | None, burst_bytes: int | None = None) -> None:
        for link in self.links.values():
            link.limit(rate_bytes_per_s, burst_bytes)

    def clear(self) -> None:
        for link in self.links.values():
            link.clear()

    def totals(self) -> Counts:
        """Every link's counts, both directions, added up."""
        total = Counts()
        for link in self.links.values():
            for c in link.counts.values():
                total.bytes_in += c.bytes_in
                total.bytes_out += c.bytes_out
                total.data_frames += c.data_frames
                total.frames_lost += c.frames_lost
                total.frames_duplicated += c.frames_duplicated
                total.retransmits += c.retransmits
        return total
