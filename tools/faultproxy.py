"""User-space fault injection for the p2p links of a local network.

The kernel may offer no netem, so faults are injected by a loopback TCP proxy on every
link: a node's config names the proxy's port instead of the peer's, and the proxy forwards
bytes to the peer's real p2p port. On a ``Link`` a test or an operator can:

- ``cut``: blackhole one or both directions while the TCP connection stays open, which is
  what a failed path looks like to the ends: nothing arrives, nothing is refused, and only
  a heartbeat can tell. Bytes of a stream that lost some are never forwarded again (a
  websocket with a gap is garbage); connections opened during a cut are accepted and get
  no answer, like SYNs into a dead path.
- ``heal``: new connections pass again (the ends close the dead ones themselves).
- ``delay``: hold each chunk ``delay_ms`` (plus up to ``jitter_ms``) before forwarding it,
  in order.

``FaultNet`` puts one ``Link`` on every ordered pair of nodes (the dialer's view of the
peer) and cuts or heals by node: ``isolate``, ``partition``, ``heal``. Everything binds to
127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

log = logging.getLogger("hkchain.faultproxy")

LOOPBACK = "127.0.0.1"
CHUNK_BYTES = 64 * 1024
UP = "up"  # from the side that opened the connection to the target
DOWN = "down"  # from the target back


@dataclass
class _Direction:
    dead: bool = False  # lost bytes to a cut: never forwards again


@dataclass(eq=False)
class _Conn:
    up: _Direction = field(default_factory=_Direction)
    down: _Direction = field(default_factory=_Direction)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


class Link:
    """A proxy from ``127.0.0.1:port`` to ``target_host:target_port``."""

    def __init__(self, name: str, target_port: int, target_host: str = LOOPBACK,
                 listen_port: int = 0) -> None:
        self.name = name
        self.target_host = target_host
        self.target_port = target_port
        self.port = listen_port
        self.cut_up = False
        self.cut_down = False
        self.delay_ms = 0
        self.jitter_ms = 0
        self.connections = 0  # accepted so far
        self.dropped_bytes = 0
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._rng = random.Random(name)

    # --- control ---------------------------------------------------------------------

    def cut(self, up: bool = True, down: bool = True) -> None:
        """Blackhole the given directions (both by default); connections stay open."""
        self.cut_up = self.cut_up or up
        self.cut_down = self.cut_down or down

    def heal(self) -> None:
        self.cut_up = self.cut_down = False

    def delay(self, delay_ms: int, jitter_ms: int = 0) -> None:
        if delay_ms < 0 or jitter_ms < 0:
            raise ValueError("delay and jitter are non-negative milliseconds")
        self.delay_ms, self.jitter_ms = delay_ms, jitter_ms

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
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    # --- forwarding ------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = _Conn(writers=[writer])
        self._conns.add(conn)
        try:
            if self.is_cut:
                # Into a dead path: swallow whatever comes until the dialer gives up.
                conn.up.dead = conn.down.dead = True
                while await reader.read(CHUNK_BYTES):
                    pass
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
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        sender = asyncio.ensure_future(self._send(queue, writer, state))
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    data = await reader.read(CHUNK_BYTES)
                except (ConnectionError, OSError):
                    data = b""
                if state.dead or self._cut(direction):
                    state.dead = True
                    self.dropped_bytes += len(data)
                    if not data:
                        # The end closed after the path died: its FIN is lost too. Wait
                        # for the other end to give up on its own.
                        return
                    continue
                if not data:
                    queue.put_nowait(None)
                    await sender
                    return
                extra = self._rng.randint(0, self.jitter_ms) if self.jitter_ms else 0
                due = loop.time() + (self.delay_ms + extra) / 1000
                queue.put_nowait((due, data))
        finally:
            if not sender.done():
                if state.dead:
                    sender.cancel()
                else:
                    queue.put_nowait(None)
                    with contextlib.suppress(Exception):
                        await sender

    async def _send(self, queue: asyncio.Queue[tuple[float, bytes] | None],
                    writer: asyncio.StreamWriter, state: _Direction) -> None:
        loop = asyncio.get_running_loop()
        last_due = 0.0
        try:
            while True:
                item = await queue.get()
                if item is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                due, data = item
                due = max(due, last_due)  # jitter never reorders a stream
                last_due = due
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if state.dead:
                    self.dropped_bytes += len(data)
                    continue
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            return


class FaultNet:
    """A ``Link`` for every ordered pair of nodes: ``link(a, b)`` carries what node ``a``
    dials to reach node ``b``."""

    def __init__(self, p2p_ports: dict[str, int]) -> None:
        self.p2p_ports = dict(p2p_ports)
        self.links: dict[tuple[str, str], Link] = {
            (a, b): Link(f"{a}->{b}", p2p_ports[b])
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
