"""Block sync: catch up with peers that are ahead, and serve committed blocks to others.

Peers tell each other their committed height (in Hello and after commits: at once if
nothing was told for an interval, else the latest height at the end of it, so a chain
committing ten blocks a second sends two Status frames a second per link, not ten). The
interval is ``STATUS_INTERVAL_S`` towards observers, which follow the chain by it, and
``VALIDATOR_STATUS_INTERVAL_S`` towards validators, which learn of each commit from
consensus (a quorum seen at a later height asks for blocks at once, ``request_sync``):
after every block, a Status to each of 63 validators would cost more than the block's
votes through a collector. While a
peer is ahead, the node asks it for the next batch of blocks with their certificates;
each certificate is verified against the validator set of its height before the block is
executed and committed (by the node, through ``SyncTarget.apply_synced``). A peer that
serves a block that does not verify is disconnected and another is asked. A node offline
for thousands of blocks catches up batch after batch by itself.

Only a block that does not verify is the serving peer's fault. Anything else that fails
while applying one (the node's store, its execution) is ours: it propagates out of the
loop to whoever supervises it (``start(spawn)``; the node stops on a local fault), and the
peer is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Protocol

from core.errors import DecodeError, ValidationError
from core.types import Block, CommitCertificate
from p2p.messages import MAX_BLOCKS_PER_FRAME, Blocks, BlocksRequest, Status
from p2p.network import Network, Peer, Spawn

log = logging.getLogger("hkchain.p2p.sync")

REQUEST_TIMEOUT_S = 10.0
STATUS_INTERVAL_S = 0.5
VALIDATOR_STATUS_INTERVAL_S = 5.0
MAX_SERVE_BYTES = 8 * 1024 * 1024


class SyncTarget(Protocol):
    """The chain as sync sees it (implemented by the node)."""

    def height(self) -> int: ...

    def committed_block(self, height: int) -> tuple[Block, CommitCertificate] | None: ...

    async def apply_synced(self, block: Block, certificate: CommitCertificate) -> None:
        """Verify ``certificate`` against the set of the block's height, execute and commit
        the block (height == self.height() + 1; its execution may run off the event loop,
        and a block committed meanwhile by consensus is left alone). Raise ValidationError
        or DecodeError if the block or its certificate does not verify (the peer's fault);
        any other error is a local one."""


class BlockSync:
    def __init__(self, network: Network, chain: SyncTarget, batch_blocks: int) -> None:
        self.network = network
        self.chain = chain
        self.batch_blocks = max(1, min(batch_blocks, MAX_BLOCKS_PER_FRAME))
        self.peer_heights: dict[bytes, int] = {}
        self.target_height = -1  # a height some quorum or peer is known to have reached
        self.synced_blocks = 0
        self.on_caught_up: list[Callable[[], None]] = []
        self._wake = asyncio.Event()
        self._reply: asyncio.Future[Blocks] | None = None
        self._asked: bytes | None = None
        self._task: asyncio.Task[None] | None = None
        # Status towards observers and towards validators, each at most once an interval.
        self._announcers = (
            _Announcer(STATUS_INTERVAL_S, lambda: self._send_status(validators=False)),
            _Announcer(VALIDATOR_STATUS_INTERVAL_S, lambda: self._send_status(validators=True)),
        )
        network.handle(Status.TAG, self._on_status)  # type: ignore[arg-type]
        network.handle(BlocksRequest.TAG, self._on_request)  # type: ignore[arg-type]
        network.handle(Blocks.TAG, self._on_blocks)  # type: ignore[arg-type]
        network.on_connect.append(self._on_connect)
        network.on_disconnect.append(self._on_disconnect)

    @property
    def best_peer_height(self) -> int:
        return max(self.peer_heights.values(), default=-1)

    @property
    def syncing(self) -> bool:
        return max(self.best_peer_height, self.target_height) > self.chain.height()

    def start(self, spawn: Spawn | None = None) -> None:
        """Run the catch-up loop: under the host's supervisor if given, else as a bare task."""
        if spawn is not None:
            spawn("block sync", self._run)
        else:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        for announcer in self._announcers:
            announcer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def announce_height(self, height: int) -> None:
        """Tell peers our new committed height (after each commit): at once, or at the end
        of the current interval if a Status went out within it."""
        for announcer in self._announcers:
            announcer.announce()

    def _send_status(self, *, validators: bool) -> None:
        self.network.broadcast(Status(self.chain.height()), validators=validators)

    def request_sync(self, height: int) -> None:
        """Consensus saw a quorum at ``height``: fetch blocks up to it."""
        if height > self.target_height:
            self.target_height = height
            self._wake.set()

    # --- handlers ------------------------------------------------------------------------

    def _on_connect(self, peer: Peer) -> None:
        self.peer_heights[peer.public_key] = peer.height
        peer.send(Status(self.chain.height()))
        self._wake.set()

    def _on_disconnect(self, peer: Peer) -> None:
        self.peer_heights.pop(peer.public_key, None)
        if self._asked == peer.public_key and self._reply is not None and not self._reply.done():
            self._reply.cancel()

    def _on_status(self, peer: Peer, frame: Status) -> None:
        self.peer_heights[peer.public_key] = frame.height
        peer.height = frame.height
        if frame.height > self.chain.height():
            self._wake.set()

    def _on_request(self, peer: Peer, frame: BlocksRequest) -> None:
        out: list[tuple[Block, CommitCertificate]] = []
        size = 0
        head = self.chain.height()
        last = min(head, frame.from_height + frame.count - 1)
        for h in range(frame.from_height, last + 1):
            item = self.chain.committed_block(h)
            if item is None:
                break
            size += len(item[0].encoded) + len(item[1].encoded)
            if out and size > MAX_SERVE_BYTES:
                break
            out.append(item)
        peer.send(Blocks(tuple(out), head))

    def _on_blocks(self, peer: Peer, frame: Blocks) -> None:
        self.peer_heights[peer.public_key] = frame.head_height
        if self._asked != peer.public_key or self._reply is None or self._reply.done():
            return  # a late or unsolicited answer: ignore it
        self._reply.set_result(frame)

    # --- the catch-up loop ---------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if not self.syncing:
                self._wake.clear()
                await self._wake.wait()
                continue
            progressed = await self._fetch_batch()
            if not self.syncing:
                log.info("caught up at height %d", self.chain.height())
                for cb in self.on_caught_up:
                    try:
                        cb()
                    except Exception:
                        log.exception("on_caught_up callback failed")
            elif not progressed:
                # Nobody could serve the next block right now: wait for news or a while.
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)

    async def _fetch_batch(self) -> bool:
        mine = self.chain.height()
        ahead = [k for k, h in self.peer_heights.items() if h > mine and k in self.network.peers]
        if not ahead and self.target_height > mine:
            # Consensus saw a quorum ahead, but the peers' last Status (at most one per
            # STATUS_INTERVAL_S) does not say so yet: ask those linked, the highest first.
            best = max((h for k, h in self.peer_heights.items() if k in self.network.peers), default=-1)
            ahead = [k for k, h in self.peer_heights.items() if h == best and k in self.network.peers]
        if not ahead:
            return False
        key = random.choice(ahead)
        loop = asyncio.get_running_loop()
        self._reply = loop.create_future()
        self._asked = key
        if not self.network.send(key, BlocksRequest(mine + 1, self.batch_blocks)):
            return False
        try:
            reply = await asyncio.wait_for(self._reply, REQUEST_TIMEOUT_S)
        except (TimeoutError, asyncio.CancelledError):
            if asyncio.current_task() is not None and asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise
            log.info("sync request to a peer timed out")
            return False
        finally:
            self._asked = None
        applied = 0
        for block, cert in reply.blocks:
            if block.height != self.chain.height() + 1:
                break  # already have it (consensus committed it meanwhile) or a gap
            try:
                await self.chain.apply_synced(block, cert)
            except (ValidationError, DecodeError) as exc:
                peer = self.network.peers.get(key)
                log.warning("peer served block %d that does not verify: %s", block.height, exc.message)
                if peer is not None:
                    self.network.punish(peer, "bad_block", f"block {block.height} in sync: {exc.message}")
                self.peer_heights.pop(key, None)
                return applied > 0
            applied += 1
            self.synced_blocks += 1
            await asyncio.sleep(0)  # let consensus and RPC run between blocks
        if applied:
            self.announce_height(self.chain.height())
        return applied > 0


class _Announcer:
    """Calls ``send`` at once, or at the end of the current ``interval_s`` if it was
    called within it; the call due then tells whatever is latest by that time."""

    def __init__(self, interval_s: float, send: Callable[[], None]) -> None:
        self.interval_s = interval_s
        self._send = send
        self._sent_s = float("-inf")
        self._timer: asyncio.TimerHandle | None = None

    def announce(self) -> None:
        if self._timer is not None:
            return  # the call due at the end of the interval tells the latest
        loop = asyncio.get_running_loop()
        due_s = self._sent_s + self.interval_s
        if loop.time() >= due_s:
            self._fire()
        else:
            self._timer = loop.call_at(due_s, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._sent_s = asyncio.get_running_loop().time()
        self._send()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
