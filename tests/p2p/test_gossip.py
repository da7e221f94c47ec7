"""Tx gossip: a client's txs pushed as bodies, relays announced by hash later and only
while pending, fetch on request from one announcer, retry another; a peer that connects
hears of the whole pool."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest

from core.crypto import PrivateKey
from core.types import SignedTx
from node.config import P2PConfig
from p2p.gossip import RELAY_DELAY_S, RELAY_FANOUT, RELAY_SLICE_S, REQUEST_TIMEOUT_S, TxGossip
from p2p.messages import Status, TxAnnounce, TxRequest, Txs, decode_frame
from p2p.network import Identity, Network
from tests.node.harness import free_port, make_tx, wait_for
from tests.p2p.test_network import (
    CHAIN,
    GENESIS,
    KEYS,
    SealedSocket,
    StaticAdmission,
    make_network,
    run_handshake,
)


class Pool:
    def __init__(self) -> None:
        self.txs: dict[bytes, SignedTx] = {}

    def has(self, tx_hash: bytes) -> bool:
        return tx_hash in self.txs

    def get(self, tx_hash: bytes) -> SignedTx | None:
        return self.txs.get(tx_hash)

    def pending_hashes(self) -> list[bytes]:
        return list(self.txs)

    def admit_from_peer(self, txs: list[SignedTx]) -> list[bytes]:
        for t in txs:
            self.txs[t.hash] = t
        return [t.hash for t in txs]


async def next_request(ws: SealedSocket, timeout_s: float) -> TxRequest:
    async with asyncio.timeout(timeout_s):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.BINARY, msg
            frame = decode_frame(msg.data)
            if isinstance(frame, TxRequest):
                return frame


async def test_fetches_from_one_announcer_and_retries_another_that_answers() -> None:
    net = make_network(KEYS[0])
    pool = Pool()
    gossip = TxGossip(net, pool)
    await net.start()
    gossip.start()
    stx = make_tx(0, 0)
    a_session, a = await run_handshake(net, KEYS[1])
    b_session, b = await run_handshake(net, KEYS[2])
    try:
        await wait_for(lambda: len(net.peers) == 2, what="two peers")
        await a.send_bytes(TxAnnounce((stx.hash,)).encode())
        assert (await next_request(a, 5)).hashes == (stx.hash,)
        await b.send_bytes(TxAnnounce((stx.hash,)).encode())
        # A never answers; after the request timeout the node asks B, once.
        req = await next_request(b, REQUEST_TIMEOUT_S + 5)
        assert req.hashes == (stx.hash,)
        await b.send_bytes(Txs((stx,)).encode())
        await wait_for(lambda: pool.has(stx.hash), what="body fetched from B")
        assert gossip.bodies_received == 1
        # A late copy from A of a tx the node now holds is dropped.
        await a.send_bytes(Txs((stx,)).encode())
        await wait_for(lambda: gossip.duplicates == 1, what="duplicate body counted")
        assert gossip.bodies_received == 1
    finally:
        for ws, session in ((a, a_session), (b, b_session)):
            await ws.close()
            await session.close()
        await gossip.stop()
        await net.stop()


async def next_frame(ws: SealedSocket, timeout_s: float) -> object:
    """The next frame that is not a Status (the network's own)."""
    async with asyncio.timeout(timeout_s):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.BINARY, msg
            frame = decode_frame(msg.data)
            if not isinstance(frame, Status):
                return frame


async def test_a_push_at_light_load_leaves_without_the_flushers_pause() -> None:
    """Nothing flushed lately: the pushed txs leave once the current step is done, with
    no flusher running at all, and those pushed in the same step share one frame."""
    net = make_network(KEYS[0])
    pool = Pool()
    gossip = TxGossip(net, pool)  # not started: no flusher task
    await net.start()
    first, second = make_tx(3, 0), make_tx(3, 1)
    session, ws = await run_handshake(net, KEYS[1])
    try:
        await wait_for(lambda: len(net.peers) == 1, what="peer")
        pool.txs[first.hash] = first
        pool.txs[second.hash] = second
        gossip.push([first.hash])
        gossip.push([second.hash])
        frame = await next_frame(ws, 5)
        assert isinstance(frame, Txs) and frame.txs == (first, second)
        assert gossip.bodies_pushed == 2
    finally:
        await ws.close()
        await session.close()
        await gossip.stop()
        await net.stop()


async def test_a_push_held_for_the_block_reaches_the_proposer_at_once_and_the_others_together() -> None:
    """While a block gathers txs, the proposer gets each of a client's txs at once; the
    other peers get those of the wait in one frame at the time given, or at
    ``flush_pushes`` if sooner, never twice, and not those a proposal brought first."""
    net = make_network(KEYS[0])
    pool = Pool()
    gossip = TxGossip(net, pool)
    await net.start()
    gossip.start()
    txs = [make_tx(6, n) for n in range(4)]
    p_session, proposer = await run_handshake(net, KEYS[1])
    o_session, other = await run_handshake(net, KEYS[2])
    try:
        await wait_for(lambda: len(net.peers) == 2, what="two peers")
        for t in txs:  # after the links opened: no announcement of the pool to them
            pool.txs[t.hash] = t
        loop = asyncio.get_running_loop()
        start = loop.time()
        hold_s = 0.6
        gossip.push([txs[0].hash], first=KEYS[1].public_key, rest_by_s=start + hold_s)
        frame = await next_frame(proposer, 5)
        assert isinstance(frame, Txs) and frame.txs == (txs[0],)
        gossip.push([txs[1].hash], first=KEYS[1].public_key, rest_by_s=start + hold_s + 5)
        frame = await next_frame(proposer, 5)
        assert isinstance(frame, Txs) and frame.txs == (txs[1],)
        # The other peer: both in one frame, at the earlier of the two times.
        frame = await next_frame(other, 5)
        assert loop.time() - start >= hold_s
        assert isinstance(frame, Txs) and frame.txs == (txs[0], txs[1])
        # Proposing itself (no one to rush), the node sends what it holds before its
        # proposal: flush_pushes releases the held ones early.
        start = loop.time()
        gossip.push([txs[2].hash], rest_by_s=start + 30)
        gossip.push([txs[3].hash], rest_by_s=start + 30)
        with pytest.raises(TimeoutError):
            await next_frame(other, 0.3)
        gossip.flush_pushes()
        for ws in (proposer, other):
            frame = await next_frame(ws, 5)
            assert isinstance(frame, Txs) and frame.txs == (txs[2], txs[3])
        # Released, nothing stays held to go out again at the time once given.
        gossip.push([t.hash for t in txs], rest_by_s=loop.time() + 0.2)
        with pytest.raises(TimeoutError):
            await next_frame(other, 0.6)
        assert gossip.bodies_pushed == 2 + 2 + 4
        # A proposal naming a held tx came first: it carries that one, the rest still go.
        late = [make_tx(7, n) for n in range(2)]
        for t in late:
            pool.txs[t.hash] = t
        start = loop.time()
        gossip.push([t.hash for t in late], first=KEYS[1].public_key, rest_by_s=start + 0.3)
        frame = await next_frame(proposer, 5)
        assert isinstance(frame, Txs) and frame.txs == tuple(late)
        gossip.proposed([late[0].hash])
        frame = await next_frame(other, 5)
        assert loop.time() - start >= 0.3
        assert isinstance(frame, Txs) and frame.txs == (late[1],)
    finally:
        for ws, session in ((proposer, p_session), (other, o_session)):
            await ws.close()
            await session.close()
        await gossip.stop()
        await net.stop()


async def test_a_clients_txs_are_pushed_as_bodies_and_a_pushed_body_is_admitted() -> None:
    net = make_network(KEYS[0])
    pool = Pool()
    gossip = TxGossip(net, pool)
    await net.start()
    gossip.start()
    mine, theirs = make_tx(3, 0), make_tx(4, 0)
    session, ws = await run_handshake(net, KEYS[1])
    try:
        await wait_for(lambda: len(net.peers) == 1, what="peer")
        pool.txs[mine.hash] = mine
        gossip.push([mine.hash])
        frame = await next_frame(ws, 5)
        assert isinstance(frame, Txs) and frame.txs == (mine,)  # the body, not a hash
        assert gossip.bodies_pushed == 1
        # The peer pushes one of its clients' txs: admitted without being asked for, and
        # neither pushed nor announced back to it.
        await ws.send_bytes(Txs((theirs,)).encode())
        await wait_for(lambda: pool.has(theirs.hash), what="pushed body admitted")
        assert gossip.bodies_received == 1 and gossip.duplicates == 0
        gossip.push([mine.hash])  # already sent: the peer is known to hold it
        await asyncio.sleep(RELAY_DELAY_S + RELAY_SLICE_S + 0.2)  # no frame may come: nothing is due
        with pytest.raises(TimeoutError):
            await next_frame(ws, 0.2)
    finally:
        await ws.close()
        await session.close()
        await gossip.stop()
        await net.stop()


async def test_relays_are_announced_after_the_delay_and_only_while_pending() -> None:
    net = make_network(KEYS[0])
    pool = Pool()
    gossip = TxGossip(net, pool)
    await net.start()
    gossip.start()
    pending, committed = make_tx(5, 0), make_tx(5, 1)
    session, ws = await run_handshake(net, KEYS[1])
    try:
        await wait_for(lambda: len(net.peers) == 1, what="peer")
        loop = asyncio.get_running_loop()
        pool.txs[pending.hash] = pending
        pool.txs[committed.hash] = committed
        start = loop.time()
        gossip.announce([pending.hash, committed.hash])
        del pool.txs[committed.hash]  # committed before the relay is due
        frame = await next_frame(ws, RELAY_DELAY_S + RELAY_SLICE_S + 5)
        assert loop.time() - start >= RELAY_DELAY_S
        assert isinstance(frame, TxAnnounce) and frame.hashes == (pending.hash,)
    finally:
        await ws.close()
        await session.close()
        await gossip.stop()
        await net.stop()


async def test_announces_admitted_txs_to_peers_that_lack_them_and_serves_bodies() -> None:
    net = make_network(KEYS[0])
    pool = Pool()
    gossip = TxGossip(net, pool)
    await net.start()
    gossip.start()
    stx = make_tx(1, 0)
    session, ws = await run_handshake(net, KEYS[1])
    try:
        await wait_for(lambda: len(net.peers) == 1, what="peer")
        pool.txs[stx.hash] = stx
        gossip.announce([stx.hash])
        async with asyncio.timeout(5):
            while True:
                frame = decode_frame((await ws.receive()).data)
                if isinstance(frame, TxAnnounce):
                    break
        assert frame.hashes == (stx.hash,)
        await ws.send_bytes(TxRequest((stx.hash, b"\x00" * 32)).encode())
        async with asyncio.timeout(5):
            while True:
                frame = decode_frame((await ws.receive()).data)
                if isinstance(frame, Txs):
                    break
        assert frame.txs == (stx,)  # unknown hashes are skipped
    finally:
        await ws.close()
        await session.close()
        await gossip.stop()
        await net.stop()


async def next_announce(ws: SealedSocket, timeout_s: float) -> TxAnnounce:
    async with asyncio.timeout(timeout_s):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.BINARY, msg
            frame = decode_frame(msg.data)
            if isinstance(frame, TxAnnounce):
                return frame


async def test_a_peer_that_connects_is_announced_the_pool_it_missed() -> None:
    """Txs a node holds before a peer connects (taken back from its journal after a
    restart, or accepted while the link was down) are announced to that peer on connect,
    and again when it reconnects: otherwise only their own node could ever propose them."""
    net = make_network(KEYS[0])
    pool = Pool()
    gossip = TxGossip(net, pool)
    held = [make_tx(2, n) for n in range(3)]
    for stx in held:
        pool.txs[stx.hash] = stx  # in the pool before any peer, never announced
    await net.start()
    gossip.start()
    try:
        for _connection in range(2):
            session, ws = await run_handshake(net, KEYS[1])
            try:
                frame = await next_announce(ws, 5)
                assert list(frame.hashes) == [t.hash for t in held]
                await ws.send_bytes(TxRequest(frame.hashes).encode())
                async with asyncio.timeout(5):
                    while not isinstance(body := decode_frame((await ws.receive()).data), Txs):
                        pass
                assert list(body.txs) == held
            finally:
                await ws.close()
                await session.close()
            await wait_for(lambda: not net.peers, what="the peer gone")
    finally:
        await gossip.stop()
        await net.stop()


async def test_a_slices_relays_go_to_at_most_the_fanout_of_peers() -> None:
    """With more peers than RELAY_FANOUT, a relay is announced to RELAY_FANOUT of them,
    not to every one: in a large mesh that would be a frame per peer per slice."""
    keys = [PrivateKey.from_seed_text(f"gossip-fanout-{i}") for i in range(RELAY_FANOUT + 4)]
    # As make_network's, with an admission that knows every one of these peers.
    config = P2PConfig(port=free_port(), reconnect_min_ms=50, reconnect_max_ms=200,
                       handshake_timeout_ms=2000, heartbeat_ms=60_000)
    net = Network(config, Identity(KEYS[0], CHAIN, GENESIS),
                  StaticAdmission(frozenset(k.public_key for k in keys)))
    pool = Pool()
    gossip = TxGossip(net, pool)
    await net.start()
    gossip.start()
    stx = make_tx(6, 0)
    links = [await run_handshake(net, k) for k in keys]
    try:
        await wait_for(lambda: len(net.peers) == len(keys), what="every peer linked")
        pool.txs[stx.hash] = stx
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RELAY_DELAY_S + RELAY_SLICE_S + 2

        async def announced(ws: SealedSocket) -> bool:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    while True:
                        frame = await next_frame(ws, deadline - loop.time())
                        if isinstance(frame, TxAnnounce):
                            return stx.hash in frame.hashes
            return False

        gossip.announce([stx.hash])
        got = await asyncio.gather(*(announced(ws) for _, ws in links))
        assert sum(got) == RELAY_FANOUT, got
    finally:
        for session, ws in links:
            await ws.close()
            await session.close()
        await gossip.stop()
        await net.stop()
