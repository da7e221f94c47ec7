"""Transaction gossip: bodies pushed by the node a client gave them to, relays announced.

A tx a node accepts from a client is new to every peer, so its body goes to each of
them at once (a push): one frame per link instead of an announcement, a request and the
body. A tx learnt from a peer is relayed by announcing its hash to up to
``RELAY_FANOUT`` peers, and only after ``RELAY_DELAY_S`` and only while the tx is still
pending: in a full mesh every peer had the push long before, and at light load the tx is
committed by then, so relays cost nothing; where links are missing or the origin's push
did not get through, the announcements, relayed onwards in turn, reach the rest. A node
asks for an announced hash from one announcer at a time, and a body crosses each link at
most once in the usual course (two clients giving one tx to two nodes can make a copy
cross twice; the second is counted in ``duplicates`` and dropped). Pushes and
announcements are batched per peer and flushed by one task (no per-tx tasks), except a
push when nothing was flushed for ``FLUSH_INTERVAL_S``, which leaves once the current
step is done; a request that is not answered in time moves to the next peer that
announced the hash. Peers never get hashes they are known to hold.

At light load a block gathers txs for a while before it is proposed, and a tx is needed
at once only by that block's proposer: the others need its body by the time the proposal
reaches them. So the node may hold a push to the other peers until shortly before the
proposal is due (``push(..., rest_by_s=...)``): the txs a node's clients give it during
one block's wait then cross each such link in one frame, not one frame each. Whatever is
held leaves at that time, or sooner with ``flush_pushes`` (this node proposing); a
proposal that names a held tx and comes first carries it to the others itself (``proposed``).

The pool may hold a peer's tx and admit it later (a validator not about to
propose: node/inbox.py); it is relayed once admitted, if still pending then.

A peer that connects (or reconnects) is announced the whole pool: txs accepted while it was
away, and those a restarted node took back from its journal, reach it then; the node that
accepted a tx must not be the only one that ever proposes it (an observer never does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from typing import Protocol

from core.types import MAX_BLOCK_BYTES, MAX_BLOCK_TXS, SignedTx
from p2p.bodies import TxBodies
from p2p.messages import MAX_HASHES_PER_FRAME, MAX_TXS_PER_FRAME, TxAnnounce, TxRequest, Txs
from p2p.network import Network, Peer, Spawn

log = logging.getLogger("hkchain.p2p.gossip")

FLUSH_INTERVAL_S = 0.01
# How long a tx learnt from a peer waits before this node announces it to the others
# (module docstring): longer than a chain takes to commit it, busy or lightly loaded, and
# at 31 validators a busy chain takes a second or more. Every node relays what is still
# pending then to all its peers but the source, so a delay shorter than commits take
# multiplies the frames on every link (at 0.5 s and 31 validators, relays were most of a
# loaded node's frames, every one announcing what the peer already had).
RELAY_DELAY_S = 2.0
# The flusher wakes for relays this long after the first is due, so relays due within a
# slice go out together, one frame per peer (one wake per slice, not one per tx
# received): a relay waits between RELAY_DELAY_S and RELAY_DELAY_S + RELAY_SLICE_S.
RELAY_SLICE_S = 0.5
# A slice's relays go to at most this many peers, drawn afresh each slice (the source
# left out): in a mesh of 64 a relay to every peer was 62 frames per node per slice while
# a busy chain kept txs pending past RELAY_DELAY_S, and that load slowed its heights so that
# more txs stayed pending (a storm). Relayed onwards by each receiver in turn, a tx the
# origin's push missed still reaches a peer through one of the others with near certainty.
RELAY_FANOUT = 8
REQUEST_TIMEOUT_S = 2.0
MAX_KNOWN_PER_PEER = 100_000
MAX_IN_FLIGHT = 200_000
MAX_TXS_FRAME_BYTES = 4 * 1024 * 1024
# Bodies received lately are kept this long (by count and bytes) whatever the mempool made
# of them, so a proposal by reference (p2p/proposals.py) finds a body whose admission is
# still being checked off the loop, or that the pool turned away: two blocks' worth.
MAX_RECENT_BODIES = 2 * MAX_BLOCK_TXS
MAX_RECENT_BODY_BYTES = 2 * MAX_BLOCK_BYTES


class TxPool(Protocol):
    """What gossip needs from the mempool."""

    def has(self, tx_hash: bytes) -> bool: ...

    def get(self, tx_hash: bytes) -> SignedTx | None: ...

    def pending_hashes(self) -> list[bytes]:
        """Every tx the pool holds, in the order it admitted them."""

    def admit_from_peer(self, txs: list[SignedTx]) -> list[bytes]:
        """Take txs a peer sent: check and admit them now, or hold them to check later
        (``has`` and ``get`` then answer for them); return the hashes admitted now."""


class _BoundedSet:
    """Insertion-ordered set that forgets its oldest members beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[bytes, None] = OrderedDict()

    def add(self, item: bytes) -> None:
        self._items[item] = None
        if len(self._items) > self.limit:
            self._items.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        return item in self._items


class TxGossip:
    def __init__(self, network: Network, pool: TxPool) -> None:
        self.network = network
        self.pool = pool
        self._known: dict[bytes, _BoundedSet] = {}  # hashes each peer has (or was sent)
        self._outbox: dict[bytes, list[bytes]] = {}  # per peer: hashes to announce
        self._pushes: dict[bytes, list[bytes]] = {}  # per peer: hashes whose bodies to push
        self._held: dict[bytes, list[bytes]] = {}  # per peer: pushes held until _held_timer
        self._held_timer: asyncio.TimerHandle | None = None
        # Relays waiting for their announcement: (due time, peer they came from, hashes).
        self._relays: deque[tuple[float, bytes | None, list[bytes]]] = deque()
        self._relay_timer: asyncio.TimerHandle | None = None
        self._random = random.Random()  # which peers a slice's relays go to: no consensus reads it
        # hash -> (peer asked, deadline, other announcers to try next)
        self._in_flight: dict[bytes, tuple[bytes, float, list[bytes]]] = {}
        self._wake = asyncio.Event()
        self._retry_timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._push_soon: asyncio.Handle | None = None  # an immediate flush of pushes, queued
        self._last_flush_s = float("-inf")  # loop time of the last flush
        self.bodies_received = 0
        self.bodies_sent = 0
        self.bodies_pushed = 0
        self.duplicates = 0  # bodies received of txs this node already held
        self.recent = TxBodies(MAX_RECENT_BODIES, MAX_RECENT_BODY_BYTES)
        network.handle(TxAnnounce.TAG, self._on_announce)  # type: ignore[arg-type]
        network.handle(TxRequest.TAG, self._on_request)  # type: ignore[arg-type]
        network.handle(Txs.TAG, self._on_txs)  # type: ignore[arg-type]
        network.on_connect.append(self._on_connect)
        network.on_disconnect.append(self._on_disconnect)

    def start(self, spawn: Spawn | None = None) -> None:
        """Run the flusher: under the host's supervisor if given, else as a bare task."""
        if spawn is not None:
            spawn("tx gossip", self._flusher)
        else:
            self._task = asyncio.create_task(self._flusher())

    def _retry_due(self) -> None:
        self._retry_timer = None
        self._wake.set()

    def _relay_due(self) -> None:
        self._relay_timer = None
        self._wake.set()

    async def stop(self) -> None:
        if self._push_soon is not None:
            self._push_soon.cancel()
        if self._held_timer is not None:
            self._held_timer.cancel()
        if self._retry_timer is not None:
            self._retry_timer.cancel()
        if self._relay_timer is not None:
            self._relay_timer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # --- outgoing ----------------------------------------------------------------------------

    def push(self, hashes: Iterable[bytes], *, first: bytes | None = None,
             rest_by_s: float | None = None) -> None:
        """Txs this node accepted from a client: their bodies go to every peer not known
        to hold them, with the next flush. With ``rest_by_s`` (a loop time) only the
        peer ``first`` (the proposer of the block being gathered, if it is another node)
        gets them then; the other peers' wait until ``rest_by_s`` or ``flush_pushes``."""
        hashes = list(hashes)
        if not hashes:
            return
        loop = asyncio.get_running_loop()
        hold = rest_by_s is not None and rest_by_s > loop.time()
        for key in self.network.peers:
            known = self._known.get(key)
            held = hold and key != first
            box = (self._held if held else self._pushes).setdefault(key, [])
            box.extend(h for h in hashes if known is None or h not in known)
        if hold:
            assert rest_by_s is not None
            if self._held_timer is not None and self._held_timer.when() > rest_by_s:
                self._held_timer.cancel()
                self._held_timer = None
            if self._held_timer is None and self._held:
                self._held_timer = loop.call_at(rest_by_s, self._release_held)
            if not self._pushes:
                return
        if self._push_soon is None and loop.time() - self._last_flush_s >= FLUSH_INTERVAL_S:
            # Nothing flushed for an interval: the txs leave once this step is done rather
            # than after the flusher's pause, which would only delay them on their way to
            # the proposer and wake the process once more. Busier, they batch as before.
            self._push_soon = loop.call_soon(self._push_now)
        else:
            self._wake.set()

    def proposed(self, hashes: Iterable[bytes]) -> None:
        """A proposal naming ``hashes`` reached this node, signed by its proposer: it
        reaches the other validators too, with the bodies or with a fetch of those they
        lack, so held pushes of them would only send a body twice."""
        if not self._held:
            return
        gone = set(hashes)
        for key, box in self._held.items():
            self._held[key] = [h for h in box if h not in gone]

    def _push_now(self) -> None:
        self._push_soon = None
        if self._pushes or self._outbox:
            self._flush()

    def _release_held(self) -> None:
        self._held_timer = None
        self.flush_pushes()

    def announce(self, hashes: Iterable[bytes], source: bytes | None = None) -> None:
        """Relay txs learnt from a peer: announce ``hashes`` to up to ``RELAY_FANOUT``
        peers, not ``source`` nor those known to have them, ``RELAY_DELAY_S`` from now,
        those still pending."""
        hashes = list(hashes)
        if not hashes:
            return
        loop = asyncio.get_running_loop()
        self._relays.append((loop.time() + RELAY_DELAY_S, source, hashes))
        if self._relay_timer is None:
            self._relay_timer = loop.call_at(self._relays[0][0] + RELAY_SLICE_S, self._relay_due)

    def _release_relays(self, now_s: float) -> None:
        targets: list[bytes] | None = None
        while self._relays and self._relays[0][0] <= now_s:
            _, source, hashes = self._relays.popleft()
            pending = [h for h in hashes if self.pool.has(h)]
            if pending:
                if targets is None:
                    targets = list(self.network.peers)
                    if len(targets) > RELAY_FANOUT:
                        targets = self._random.sample(targets, RELAY_FANOUT)
                self._queue_announce(pending, source, targets)
        if self._relays and self._relay_timer is None:
            self._relay_timer = asyncio.get_running_loop().call_at(self._relays[0][0] + RELAY_SLICE_S,
                                                                   self._relay_due)

    def _queue_announce(self, hashes: list[bytes], source: bytes | None,
                        targets: Iterable[bytes]) -> None:
        for key in targets:
            if key == source:
                continue
            known = self._known.get(key)
            box = self._outbox.setdefault(key, [])
            for h in hashes:
                if known is None or h not in known:
                    box.append(h)
        self._wake.set()

    async def _flusher(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            # A short pause collects the txs of a burst into one frame per peer.
            await asyncio.sleep(FLUSH_INTERVAL_S)
            self._release_relays(loop.time())
            self._flush()
            self._retry_timed_out(loop.time())
            if self._in_flight and self._retry_timer is None:
                self._retry_timer = loop.call_later(REQUEST_TIMEOUT_S, self._retry_due)

    def flush_pushes(self) -> None:
        """Send the pushes (held ones too) and announcements queued now, without waiting
        for the flusher: a proposal sent next then follows the bodies of its txs on each
        link."""
        if self._held:
            held, self._held = self._held, {}
            for key, hashes in held.items():
                self._pushes.setdefault(key, []).extend(hashes)
        if self._held_timer is not None:
            self._held_timer.cancel()
            self._held_timer = None
        if self._pushes or self._outbox:
            self._flush()

    def _flush(self) -> None:
        self._last_flush_s = asyncio.get_running_loop().time()
        pushes, self._pushes = self._pushes, {}
        for peer, known, hashes in self._linked(pushes):
            bodies = []
            for h in hashes:
                stx = self.pool.get(h)
                if stx is None or h in known:
                    continue  # committed or evicted meanwhile, or the peer has it
                known.add(h)
                bodies.append(stx)
            self._send_bodies(peer, bodies)
            self.bodies_pushed += len(bodies)
        outbox, self._outbox = self._outbox, {}
        for peer, known, hashes in self._linked(outbox):
            fresh = []
            for h in hashes:
                if h not in known:
                    known.add(h)
                    fresh.append(h)
            for i in range(0, len(fresh), MAX_HASHES_PER_FRAME):
                peer.send(TxAnnounce(tuple(fresh[i : i + MAX_HASHES_PER_FRAME])))

    def _known_by(self, key: bytes) -> _BoundedSet:
        """The hashes the peer ``key`` holds or was sent."""
        return self._known.setdefault(key, _BoundedSet(MAX_KNOWN_PER_PEER))

    def _linked(self, boxes: dict[bytes, list[bytes]]) -> Iterator[tuple[Peer, _BoundedSet, list[bytes]]]:
        """Each still-linked peer of ``boxes`` with what it holds and its queued hashes."""
        for key, hashes in boxes.items():
            peer = self.network.peers.get(key)
            if peer is not None:
                yield peer, self._known_by(key), hashes

    def _retry_timed_out(self, now_s: float) -> None:
        retry: dict[bytes, list[bytes]] = {}
        for h, (asked, deadline, others) in list(self._in_flight.items()):
            if deadline > now_s and asked in self.network.peers:
                continue
            del self._in_flight[h]
            if self.pool.has(h):
                continue
            while others:
                nxt = others.pop(0)
                if nxt in self.network.peers:
                    self._in_flight[h] = (nxt, now_s + REQUEST_TIMEOUT_S, others)
                    retry.setdefault(nxt, []).append(h)
                    break
        for key, hs in retry.items():
            self.network.send(key, TxRequest(tuple(hs)))

    # --- incoming ------------------------------------------------------------------------

    def _on_connect(self, peer: Peer) -> None:
        self._known[peer.public_key] = _BoundedSet(MAX_KNOWN_PER_PEER)
        # Whatever it missed while the link was down: hashes only, it asks for what it lacks.
        pending = self.pool.pending_hashes()
        if pending:
            self._outbox[peer.public_key] = pending
            self._wake.set()

    def _on_disconnect(self, peer: Peer) -> None:
        self._known.pop(peer.public_key, None)
        self._outbox.pop(peer.public_key, None)
        self._held.pop(peer.public_key, None)
        self._wake.set()  # requests in flight to it move to other announcers

    def _on_announce(self, peer: Peer, frame: TxAnnounce) -> None:
        known = self._known_by(peer.public_key)
        now_s = asyncio.get_running_loop().time()
        wanted = []
        for h in frame.hashes:
            known.add(h)
            if self.pool.has(h):
                continue
            flight = self._in_flight.get(h)
            if flight is not None:
                if flight[0] != peer.public_key and len(flight[2]) < 8:
                    flight[2].append(peer.public_key)
                continue
            if len(self._in_flight) >= MAX_IN_FLIGHT:
                break
            self._in_flight[h] = (peer.public_key, now_s + REQUEST_TIMEOUT_S, [])
            wanted.append(h)
        if wanted:
            peer.send(TxRequest(tuple(wanted)))
            self._wake.set()

    @staticmethod
    def _send_bodies(peer: Peer, txs: list[SignedTx]) -> None:
        batch: list[SignedTx] = []
        size = 0
        for stx in txs:
            if len(batch) >= MAX_TXS_PER_FRAME or size + len(stx.encoded) > MAX_TXS_FRAME_BYTES:
                peer.send(Txs(tuple(batch)))
                batch, size = [], 0
            batch.append(stx)
            size += len(stx.encoded)
        if batch:
            peer.send(Txs(tuple(batch)))

    def _on_request(self, peer: Peer, frame: TxRequest) -> None:
        known = self._known_by(peer.public_key)
        bodies = []
        for h in frame.hashes:
            stx = self.pool.get(h)
            if stx is not None:
                known.add(h)
                bodies.append(stx)
        self._send_bodies(peer, bodies)
        self.bodies_sent += len(frame.hashes)

    def _on_txs(self, peer: Peer, frame: Txs) -> None:
        """Bodies asked for, or pushed by the node that accepted them from a client: each
        one new to this node goes to the pool, and those it admits now are relayed."""
        known = self._known_by(peer.public_key)
        fresh: list[SignedTx] = []
        for stx in frame.txs:
            h = stx.hash
            known.add(h)
            self.recent.add(stx)
            self._in_flight.pop(h, None)
            if self.pool.has(h):
                self.duplicates += 1
                continue
            fresh.append(stx)
        self.bodies_received += len(fresh)
        if not fresh:
            return
        admitted = self.pool.admit_from_peer(fresh)
        self.announce(admitted, source=peer.public_key)
