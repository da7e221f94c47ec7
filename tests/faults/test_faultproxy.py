"""The fault proxy itself (tools/faultproxy.py), against real websockets and TCP streams
on loopback: every fault is observed from what arrives and from the link's counts.

- loss and duplication act on whole websocket data frames: what arrives is a valid
  websocket carrying the sent messages minus the lost ones (or plus the repeats), in order,
  as many as the counts say; the same seed gives the same choices;
- a one-way cut swallows one direction and passes the other;
- a bandwidth cap holds the bytes that arrive to the rate (plus one burst), and the proxy
  reads no further ahead than its queue bound;
- delay and jitter hold messages back without reordering them, and packet loss holds a
  fraction back a retransmission timeout, head-of-line;
- a stream that is not a websocket is never touched by loss;
- parameters out of bounds are refused and change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

import tools.faultproxy as fp
from tools.faultproxy import DOWN, UP, FaultError, Link, TokenBucket

N_MESSAGES = 600


@dataclass
class WsServer:
    """A websocket endpoint that records what it receives and can echo it."""

    echo: bool = False
    received: list[bytes] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.received.append(msg.data)
                if self.echo:
                    await ws.send_bytes(msg.data)
        self.closed.set()
        return ws


@contextlib.asynccontextmanager
async def ws_server(echo: bool = False) -> AsyncIterator[WsServer]:
    server = WsServer(echo=echo)
    app = web.Application()
    app.router.add_get("/ws", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    try:
        yield server
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def proxy(target_port: int, seed: int = 0) -> AsyncIterator[Link]:
    link = Link("a->b", target_port, seed=seed)
    await link.start()
    try:
        yield link
    finally:
        await link.stop()


def message(i: int) -> bytes:
    return struct.pack("!I", i) * 8  # 32 bytes, numbered


async def send_all(port: int, messages: list[bytes]) -> None:
    """Send the messages up, then close: the close frame (never lost) marks the end."""
    async with aiohttp.ClientSession() as session, session.ws_connect(f"ws://127.0.0.1:{port}/ws") as ws:
        for m in messages:
            await ws.send_bytes(m)
        await ws.close()


async def run_through(link_setup: dict[str, float], seed: int) -> tuple[list[bytes], Link]:
    sent = [message(i) for i in range(N_MESSAGES)]
    async with ws_server() as server, proxy(server.port, seed) as link:
        link.lose(link_setup.get("loss", 0.0), down=False)
        link.duplicate(link_setup.get("dup", 0.0), down=False)
        await send_all(link.port, sent)
        await asyncio.wait_for(server.closed.wait(), 10)
        return server.received, link


async def test_loss_drops_whole_messages_seeded_and_counted() -> None:
    got, link = await run_through({"loss": 0.3}, seed=7)
    c = link.counts[UP]
    assert c.data_frames == N_MESSAGES
    assert len(got) == N_MESSAGES - c.frames_lost
    # Binomial(600, 0.3): mean 180, sd ≈ 11; well outside ±5 sd is a broken loss.
    assert 125 <= c.frames_lost <= 235, c.frames_lost
    # What arrives is intact and in order: a subsequence of what was sent.
    numbers = [struct.unpack("!I", m[:4])[0] for m in got]
    assert all(m == message(n) for m, n in zip(got, numbers, strict=True))
    assert numbers == sorted(set(numbers))
    assert c.frames_duplicated == 0
    # The same seed drops the same messages; another seed others.
    again, _ = await run_through({"loss": 0.3}, seed=7)
    other, _ = await run_through({"loss": 0.3}, seed=8)
    assert again == got
    assert other != got


async def test_duplication_repeats_whole_messages_next_to_the_original() -> None:
    got, link = await run_through({"dup": 0.2}, seed=3)
    c = link.counts[UP]
    assert c.frames_lost == 0
    assert 60 <= c.frames_duplicated <= 180, c.frames_duplicated  # mean 120, sd ≈ 10
    assert len(got) == N_MESSAGES + c.frames_duplicated
    numbers = [struct.unpack("!I", m[:4])[0] for m in got]
    assert sorted(set(numbers)) == list(range(N_MESSAGES))
    repeats = [n for i, n in enumerate(numbers) if i and numbers[i - 1] == n]
    assert len(repeats) == c.frames_duplicated
    assert numbers == sorted(numbers)  # each repeat right after its original


async def test_loss_in_one_direction_leaves_the_other_whole() -> None:
    async with ws_server(echo=True) as server, proxy(server.port, seed=1) as link:
        link.lose(0.5, up=False)  # replies only
        echoed: list[bytes] = []
        async with aiohttp.ClientSession() as session, session.ws_connect(f"ws://127.0.0.1:{link.port}/ws") as ws:
            for i in range(200):
                await ws.send_bytes(message(i))
            await asyncio.wait_for(_until(lambda: len(server.received) == 200), 10)
            # Every echo has left the server; the proxy has counted each one (kept or lost).
            await asyncio.wait_for(_until(lambda: link.counts[DOWN].data_frames == 200), 10)
            kept = 200 - link.counts[DOWN].frames_lost
            while len(echoed) < kept:
                msg = await asyncio.wait_for(ws.receive(), 10)
                echoed.append(msg.data)
        assert server.received == [message(i) for i in range(200)]
        assert link.counts[UP].frames_lost == 0
        assert 50 <= link.counts[DOWN].frames_lost <= 150
        assert echoed == [m for m in server.received if m in set(echoed)]


async def _until(check: Callable[[], bool]) -> None:
    while not check():
        await asyncio.sleep(0.01)


async def test_a_one_way_cut_swallows_one_direction_and_passes_the_other() -> None:
    async with ws_server(echo=True) as server, proxy(server.port) as link:
        # Its close handshake is swallowed too: do not wait long for the answer.
        async with aiohttp.ClientSession() as session, session.ws_connect(
                f"ws://127.0.0.1:{link.port}/ws", timeout=aiohttp.ClientWSTimeout(ws_close=0.2)) as ws:
            await ws.send_bytes(message(0))
            assert (await asyncio.wait_for(ws.receive(), 10)).data == message(0)
            link.cut(up=False, down=True)
            for i in range(1, 6):
                await ws.send_bytes(message(i))
            # Up still flows: the server gets all five and echoes them...
            await asyncio.wait_for(_until(lambda: len(server.received) == 6), 10)
            # ...and the proxy swallows the echoes (5 frames of 2 + 32 bytes).
            await asyncio.wait_for(_until(lambda: link.dropped_bytes >= 5 * 34), 10)
            out_before = link.counts[DOWN].bytes_out
            assert link.counts[DOWN].bytes_in - out_before >= 5 * 34
            link.heal()
            # The direction that lost bytes stays dead (a gap makes the stream garbage).
            await ws.send_bytes(message(6))
            await asyncio.wait_for(_until(lambda: len(server.received) == 7), 10)
            await asyncio.wait_for(_until(lambda: link.dropped_bytes >= 6 * 34), 10)
            assert link.counts[DOWN].bytes_out == out_before
        # A new connection after the heal passes both ways.
        async with aiohttp.ClientSession() as session, session.ws_connect(f"ws://127.0.0.1:{link.port}/ws") as ws:
            await ws.send_bytes(message(9))
            assert (await asyncio.wait_for(ws.receive(), 10)).data == message(9)


async def test_delay_and_jitter_hold_messages_back_in_order() -> None:
    async with ws_server(echo=True) as server, proxy(server.port, seed=5) as link:
        link.delay(100, 50)
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession() as session, session.ws_connect(f"ws://127.0.0.1:{link.port}/ws") as ws:
            for i in range(5):
                sent_at = loop.time()
                await ws.send_bytes(message(i))
                reply = await asyncio.wait_for(ws.receive(), 10)
                rtt = loop.time() - sent_at
                assert reply.data == message(i)
                assert rtt >= 0.2  # held at least 100 ms each way
            # A burst is delivered in order whatever each frame's jitter.
            for i in range(5, 65):
                await ws.send_bytes(message(i))
            replies = [(await asyncio.wait_for(ws.receive(), 10)).data for _ in range(60)]
        assert replies == [message(i) for i in range(5, 65)]
        assert server.received == [message(i) for i in range(65)]


async def test_packet_loss_holds_frames_back_a_retransmission_timeout_in_order() -> None:
    rto_ms = 200
    async with ws_server(echo=True) as server, proxy(server.port, seed=2) as link:
        link.packet_loss(0.3, rto_ms, down=False)
        loop = asyncio.get_running_loop()
        slow = 0
        async with aiohttp.ClientSession() as session, session.ws_connect(f"ws://127.0.0.1:{link.port}/ws") as ws:
            for i in range(30):
                sent_at = loop.time()
                await ws.send_bytes(message(i))
                assert (await asyncio.wait_for(ws.receive(), 10)).data == message(i)
                slow += loop.time() - sent_at >= rto_ms / 1000
            held = link.counts[UP].retransmits  # the upgrade request is a unit too
            # Head-of-line: a burst behind a held frame waits with it; nothing is reordered.
            for i in range(30, 130):
                await ws.send_bytes(message(i))
            replies = [(await asyncio.wait_for(ws.receive(), 10)).data for _ in range(100)]
        c = link.counts[UP]
        assert replies == [message(i) for i in range(30, 130)]
        assert server.received == [message(i) for i in range(130)]
        assert c.frames_lost == 0 and c.frames_duplicated == 0
        assert 15 <= c.retransmits <= 65, c.retransmits  # Binomial(130, 0.3): mean 39, sd ≈ 5
        # Every held round trip took at least the timeout (a loaded machine may add more).
        assert held >= 2 and slow >= held - 1, (held, slow)
        assert link.counts[DOWN].retransmits == 0


@contextlib.asynccontextmanager
async def tcp_sink() -> AsyncIterator[tuple[int, list[tuple[float, int]], asyncio.Event]]:
    """A TCP server that records (loop time, bytes) of every read until EOF."""
    arrivals: list[tuple[float, int]] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            arrivals.append((loop.time(), len(data)))
        writer.close()
        done.set()

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], arrivals, done
    finally:
        server.close()


async def test_a_bandwidth_cap_holds_the_arriving_bytes_to_the_rate() -> None:
    rate, burst, total = 256 * 1024, 16 * 1024, 640 * 1024
    async with tcp_sink() as (port, arrivals, done), proxy(port) as link:
        link.limit(rate, burst, down=False)
        _, writer = await asyncio.open_connection("127.0.0.1", link.port)
        writer.write(b"\x00" * total)
        await writer.drain()
        writer.close()
        await asyncio.wait_for(done.wait(), 30)
    assert sum(n for _, n in arrivals) == total == link.counts[UP].bytes_out
    # From the first arrival on, at most one burst more than the rate allows has arrived
    # at every instant (a loaded machine only makes it slower, never faster).
    first_t = arrivals[0][0]
    received = 0
    for t, n in arrivals:
        received += n
        allowed = burst + (t - first_t) * rate + 64 * 1024  # + the first read's chunk
        assert received <= allowed, (received, allowed, t - first_t)
    elapsed = arrivals[-1][0] - first_t
    print(f"cap {rate} B/s: {total} B in {elapsed:.2f} s = {total / elapsed:.0f} B/s")


async def test_a_capped_link_reads_no_further_ahead_than_its_queue_bound(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fp, "MAX_QUEUED_BYTES", 32 * 1024)
    rate, total = 256 * 1024, 512 * 1024
    async with tcp_sink() as (port, _arrivals, done), proxy(port) as link:
        link.limit(rate, 16 * 1024)
        _, writer = await asyncio.open_connection("127.0.0.1", link.port)
        writer.write(b"\x00" * total)
        sending = asyncio.ensure_future(writer.drain())
        worst = 0
        c = link.counts[UP]
        while not done.is_set():
            worst = max(worst, c.bytes_in - c.bytes_out)
            if sending.done():
                writer.close()
            await asyncio.sleep(0.005)  # sampling the counts, not waiting for an event
        await sending
    # Queue bound + one read that tipped it + the piece being written.
    assert worst <= 32 * 1024 + 2 * fp.CHUNK_BYTES, worst
    assert c.bytes_out == total


async def test_a_stream_that_is_not_a_websocket_is_never_dropped() -> None:
    async with tcp_sink() as (port, arrivals, done), proxy(port) as link:
        link.lose(1.0)
        link.duplicate(1.0)
        _, writer = await asyncio.open_connection("127.0.0.1", link.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)) * 100)
        await writer.drain()
        writer.close()
        await asyncio.wait_for(done.wait(), 10)
    assert sum(n for _, n in arrivals) == 27 + 25600
    assert link.counts[UP].data_frames == 0


def test_the_token_bucket_refills_at_the_rate_up_to_the_burst() -> None:
    b = TokenBucket(1000, 500)
    assert b.wait_s(0.0, 500) == 0  # starts full
    assert b.wait_s(0.0, 100) == pytest.approx(0.1)
    assert b.wait_s(0.1, 100) == 0
    assert b.wait_s(100.0, 500) == 0  # refilled, but only to the burst
    assert b.wait_s(100.0, 1) == pytest.approx(0.001)


def test_fault_parameters_out_of_bounds_are_refused_and_change_nothing() -> None:
    link = Link("x", 1)
    link.lose(0.1)
    link.delay(10, 5)
    link.limit(10_000)
    bad_calls: list[Callable[[], None]] = [
        lambda: link.lose(1.5), lambda: link.lose(-0.1), lambda: link.duplicate(2.0),
                lambda: link.delay(-1), lambda: link.delay(10, fp.MAX_JITTER_MS + 1),
                lambda: link.delay(fp.MAX_DELAY_MS + 1), lambda: link.limit(0),
                lambda: link.packet_loss(1.1), lambda: link.packet_loss(0.1, 0),
                lambda: link.limit(10_000, 0), lambda: link.limit(10_000, fp.MAX_BURST_BYTES + 1)]
    for bad in bad_calls:
        with pytest.raises(FaultError):
            bad()
    assert link.shape[UP].loss == link.shape[DOWN].loss == 0.1
    assert link.shape[UP].duplicate == 0.0
    assert (link.delay_ms, link.jitter_ms) == (10, 5)
    bucket = link.shape[UP].bucket
    assert bucket is not None and bucket.rate_bytes_per_s == 10_000
    link.clear()
    assert link.shape[UP].loss == 0 and link.shape[UP].bucket is None and link.delay_ms == 0
