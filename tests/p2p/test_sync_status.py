"""Block sync's Status frames: a chain committing many blocks a second tells each observer
its height a few times a second and each validator once in several seconds, and always,
in the end, its latest height."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from core.types import Block, CommitCertificate
from p2p.messages import BlocksRequest, Status, decode_frame
from p2p.sync import STATUS_INTERVAL_S, VALIDATOR_STATUS_INTERVAL_S, BlockSync
from tests.node.harness import wait_for
from tests.p2p.test_network import KEYS, SealedSocket, StaticAdmission, make_network, run_handshake


class Chain:
    def __init__(self) -> None:
        self.head = 0

    def height(self) -> int:
        return self.head

    def committed_block(self, height: int) -> tuple[Block, CommitCertificate] | None:
        return None

    async def apply_synced(self, block: Block, certificate: CommitCertificate) -> None:
        raise AssertionError("nothing to sync in this test")


async def statuses_until(ws: SealedSocket, height: int, timeout_s: float) -> list[int]:
    """Heights of the Status frames received until one tells ``height``."""
    seen: list[int] = []
    async with asyncio.timeout(timeout_s):
        while not seen or seen[-1] != height:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.BINARY, msg
            frame = decode_frame(msg.data)
            if isinstance(frame, Status):
                seen.append(frame.height)
    return seen


@pytest.mark.parametrize(("validator", "interval_s"),
                         [(False, STATUS_INTERVAL_S), (True, VALIDATOR_STATUS_INTERVAL_S)],
                         ids=["observer", "validator"])
async def test_status_is_sent_at_most_once_an_interval_and_tells_the_latest_height(
        validator: bool, interval_s: float) -> None:
    net = make_network(KEYS[0])
    peer_key = KEYS[1].public_key
    others = frozenset(k.public_key for k in KEYS if k.public_key != peer_key)
    net.admission = StaticAdmission(others | {peer_key} if validator else others,
                                    frozenset() if validator else frozenset({peer_key}))
    chain = Chain()
    sync = BlockSync(net, chain, batch_blocks=8)
    await net.start()
    session, ws = await run_handshake(net, KEYS[1])
    try:
        await wait_for(lambda: len(net.peers) == 1, what="peer")
        assert await statuses_until(ws, 0, 5) == [0]  # told on connect
        loop = asyncio.get_running_loop()
        start = loop.time()
        # 40 commits 25 ms apart: one second of a chain at 40 blocks a second.
        for _ in range(40):
            chain.head += 1
            sync.announce_height(chain.head)
            await asyncio.sleep(0.025)
        seen = await statuses_until(ws, 40, interval_s + 5)
        elapsed = loop.time() - start
        assert seen == sorted(seen) and seen[-1] == 40
        # The first commit is told at once, then at most one per interval.
        assert seen[0] == 1
        assert len(seen) <= 2 + elapsed / interval_s, (seen, elapsed)
        assert len(seen) < 10, seen
        if validator:
            # A validator hears of the commits in between from consensus, not from here.
            assert seen == [1, 40], seen
    finally:
        await ws.close()
        await session.close()
        await sync.stop()
        await net.stop()


async def test_a_quorum_ahead_is_asked_for_blocks_before_its_status_says_so() -> None:
    """Consensus saw a quorum at a height above ours while the peers' last Status (sent at
    most once an interval) still says they are level: the node asks a linked peer anyway."""
    net = make_network(KEYS[0])
    chain = Chain()
    chain.head = 7  # level with the peer, whose Hello says 7 (tests/p2p/test_network.py)
    sync = BlockSync(net, chain, batch_blocks=8)
    await net.start()
    sync.start()
    session, ws = await run_handshake(net, KEYS[1])
    try:
        await wait_for(lambda: len(net.peers) == 1, what="peer")
        assert not sync.syncing
        sync.request_sync(9)
        async with asyncio.timeout(5):
            while True:
                msg = await ws.receive()
                assert msg.type == aiohttp.WSMsgType.BINARY, msg
                frame = decode_frame(msg.data)
                if isinstance(frame, BlocksRequest):
                    break
        assert frame.from_height == 8
    finally:
        await ws.close()
        await session.close()
        await sync.stop()
        await net.stop()
