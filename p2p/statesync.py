"""State sync over the wire: serve snapshots to joining nodes, and fetch one.

A joining node asks its peers for a snapshot offer (a committed block with its
certificate), fetches the validator-set changes decided up to that height, and has the
host check them (``SnapshotTarget.check_offer``: the certificate against the set learnt
from genesis and the certified changes). It then asks for the parts of that height's
state tree (storage/snapshot.py), one request per peer in flight, each answer's parts
checked by the host against the hashes already trusted (``accept``).

Only what a peer sent can be its fault: an offer or change that does not verify, a part
that does not hash to its slot, an answer with nothing in it. That peer is disconnected,
counted (``Network.misbehaviours``), never asked again in this sync, and its paths go to
another peer. A peer that is slow, busy or no longer keeps the height is passed over,
not blamed; when no peer keeps the height any more the sync starts over from a new
offer. Anything else that fails (the host's store) propagates: it is the node's own.

The serving side answers from a source the node implements; reading parts runs in a
worker thread (it only reads immutable tree nodes), at most ``MAX_SERVING`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.errors import ChainError, DecodeError, ValidationError
from p2p.messages import (
    FRAME_TAGS,
    MAX_STATE_PATHS,
    STATE_BUSY,
    STATE_NOT_KEPT,
    STATE_OK,
    Frame,
    SnapshotOffer,
    SnapshotRequest,
    StatePart,
    StateParts,
    StateRequest,
    ValsetChange,
    ValsetChanges,
    ValsetChangesRequest,
)
from p2p.network import Network, Peer

log = logging.getLogger("hkchain.p2p.statesync")

REQUEST_TIMEOUT_S = 20.0
MAX_SERVING = 2  # parts requests read at once by a serving node (worker threads)
LEAVES_FROM_DEPTH = 3  # about 4,096 leaves parts at most: ~700 keys each at 3M keys
PATHS_PER_REQUEST = 64
PER_PEER_IN_FLIGHT = 2
BUSY_PAUSE_S = 0.2
NO_PEER_PAUSE_S = 1.0
MAX_OFFER_ROUNDS = 1000


class StateSyncError(ChainError):
    code = "state_sync_failed"


# --- serving ---------------------------------------------------------------------------


class SnapshotSource(Protocol):
    """What a node serves (implemented by node/statesync.py)."""

    def snapshot_offer(self, min_height: int) -> SnapshotOffer: ...

    def valset_changes(self, from_height: int, to_height: int) -> ValsetChanges: ...

    def state_parts(self, request: StateRequest) -> StateParts:
        """Blocking (tree reads): called in a worker thread."""


class SnapshotServer:
    """Answers the state-sync frames of peers from ``source``."""

    def __init__(self, network: Network, source: SnapshotSource) -> None:
        self.network = network
        self.source = source
        self.serving = 0
        network.handle(SnapshotRequest.TAG, self._on_offer_request)  # type: ignore[arg-type]
        network.handle(ValsetChangesRequest.TAG, self._on_changes_request)  # type: ignore[arg-type]
        network.handle(StateRequest.TAG, self._on_state_request)  # type: ignore[arg-type]

    def _on_offer_request(self, peer: Peer, frame: SnapshotRequest) -> None:
        peer.send(self.source.snapshot_offer(frame.min_height))

    def _on_changes_request(self, peer: Peer, frame: ValsetChangesRequest) -> None:
        peer.send(self.source.valset_changes(frame.from_height, frame.to_height))

    def _on_state_request(self, peer: Peer, frame: StateRequest) -> None:
        if self.serving >= MAX_SERVING:
            peer.send(StateParts(frame.height, STATE_BUSY, ()))
            return
        self.serving += 1
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self.source.state_parts, frame)

        def done(f: asyncio.Future[StateParts]) -> None:
            self.serving -= 1
            exc = None if f.cancelled() else f.exception()
            if exc is not None or f.cancelled():
                peer.send(StateParts(frame.height, STATE_BUSY, ()))
                if exc is not None:  # ours: the store failed under us
                    self.network.on_handler_error(f"serving state parts to {peer.label}", exc)
                return
            peer.send(f.result())

        future.add_done_callback(done)


# --- fetching --------------------------------------------------------------------------


def _ignore(peer: Peer, frame: Frame) -> None:
    pass


class SnapshotTarget(Protocol):
    """The joining node's side (node/statesync.py)."""

    def check_offer(self, offer: SnapshotOffer, changes: list[ValsetChange]) -> int:
        """Verify the offer and the changes; start a builder for its height, which is
        returned. ValidationError or DecodeError: the offer is bad (the peer's fault)."""

    def wanted(self) -> list[bytes]: ...

    def accept(self, part: StatePart) -> None:
        """Check and keep one part; ValidationError if it does not fit (the peer's fault)."""

    @property
    def done(self) -> bool: ...


@dataclass
class _Ask:
    kind: type[Frame]
    future: asyncio.Future[Frame]
    first_path: bytes | None = None  # a StateRequest's: its answer's first part's path


class StateSyncClient:
    """Fetches one snapshot into ``target`` from the peers of ``network``."""

    def __init__(
        self,
        network: Network,
        target: SnapshotTarget,
        *,
        leaves_from_depth: int = LEAVES_FROM_DEPTH,
        paths_per_request: int = PATHS_PER_REQUEST,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.network = network
        self.target = target
        self.leaves_from_depth = leaves_from_depth
        self.paths_per_request = max(1, min(paths_per_request, MAX_STATE_PATHS))
        self.timeout_s = timeout_s
        self.banned: set[bytes] = set()
        self.blamed: list[tuple[bytes, str]] = []
        self.height = -1
        self.parts = 0
        self.on_progress: Callable[[int], None] | None = None
        self._asks: dict[bytes, list[_Ask]] = {}  # per peer, oldest first
        self._peer_added = asyncio.Event()
        # A joining node takes part in nothing else yet: its peers' gossip, votes and
        # status are not misbehaviour, just not for it.
        for tag in FRAME_TAGS:
            if tag not in network.handlers:
                network.handle(tag, _ignore)
        for frame in (SnapshotOffer, ValsetChanges, StateParts):
            network.handle(frame.TAG, self._on_answer)
        network.on_connect.append(lambda p: self._peer_added.set())
        network.on_disconnect.append(self._on_disconnect)

    # answers

    def _on_answer(self, peer: Peer, frame: Frame) -> None:
        waiting = [a for a in self._asks.get(peer.public_key, ())
                   if isinstance(frame, a.kind) and not a.future.done()]
        if isinstance(frame, StateParts) and frame.parts:
            # Two requests may be in flight: the answer names its first path (an answer
            # that names neither goes to the older, whose check then refuses it).
            named = [a for a in waiting if a.first_path == frame.parts[0].path]
            waiting = named or waiting
        if waiting:
            waiting[0].future.set_result(frame)
        # else: late or unasked, ignored

    def _on_disconnect(self, peer: Peer) -> None:
        for ask in self._asks.get(peer.public_key, ()):
            if not ask.future.done():
                ask.future.cancel()

    async def _ask(self, key: bytes, frame: Frame, kind: type[Frame]) -> Frame | None:
        """Send ``frame`` to ``key`` and wait for its answer of type ``kind`` (None: the
        link went away or the peer did not answer in time)."""
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        first = frame.paths[0] if isinstance(frame, StateRequest) and frame.paths else None
        ask = _Ask(kind, future, first)
        self._asks.setdefault(key, []).append(ask)
        try:
            if not self.network.send(key, frame):
                return None
            return await asyncio.wait_for(future, self.timeout_s)
        except (TimeoutError, asyncio.CancelledError):
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            return None
        finally:
            asks = self._asks.get(key, [])
            if ask in asks:
                asks.remove(ask)
            if not asks:
                self._asks.pop(key, None)

    def blame(self, key: bytes, why: str) -> None:
        """``key`` sent something that does not verify: never ask it again, drop it."""
        log.warning("state sync: peer %s sent %s; asking another", key.hex()[:12], why)
        self.banned.add(key)
        self.blamed.append((key, why))
        peer = self.network.peers.get(key)
        if peer is not None:
            self.network.punish(peer, "bad_state_sync", why)  # dropped and refused a while
        else:
            self.network.misbehaviours += 1

    def _candidates(self) -> list[bytes]:
        return sorted(k for k in self.network.peers if k not in self.banned)

    async def _wait_for_peers(self) -> list[bytes]:
        while True:
            found = self._candidates()
            if found:
                return found
            self._peer_added.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._peer_added.wait(), NO_PEER_PAUSE_S * 5)
            if not self._candidates():
                log.info("state sync: waiting for a peer to serve a snapshot (%d refused for bad data)",
                         len(self.banned))

    # the sync

    async def run(self) -> int | None:
        """Fetch a whole snapshot; the height it is of. None if every configured peer
        answered that it has no chain beyond genesis: there is nothing to sync (a new
        network), and the node starts from genesis like the others."""
        for _ in range(MAX_OFFER_ROUNDS):
            height = await self._take_offer()
            if height is None:
                return None
            if await self._fetch_parts(height):
                return height
            log.info("state sync: no peer keeps height %d any more; starting over", height)
        raise StateSyncError("state sync found no height its peers keep long enough")

    async def _take_offer(self) -> int | None:
        """Ask peers for offers, highest first, until one verifies."""
        configured = {p.public_key for p in self.network.config.peers}
        rounds = 0
        while True:
            rounds += 1
            if rounds % 10 == 0:
                log.info("state sync: no snapshot to take yet from %d connected peers (of %d "
                         "configured, %d refused for bad data)", len(self.network.peers),
                         len(configured), len(self.banned))
            peers = await self._wait_for_peers()
            answers = await asyncio.gather(*(self._ask(k, SnapshotRequest(0), SnapshotOffer)
                                             for k in peers))
            empty = {k for k, a in zip(peers, answers, strict=True)
                     if isinstance(a, SnapshotOffer) and a.block is None}
            if configured and configured <= empty:
                log.info("state sync: no peer has a chain beyond genesis; nothing to sync")
                return None
            offers = sorted(((a.block.height, k, a) for k, a in zip(peers, answers, strict=True)
                             if isinstance(a, SnapshotOffer) and a.block is not None),
                            key=lambda x: -x[0])
            for height, key, offer in offers:
                changes = await self._changes(key, height)
                if changes is None:
                    continue
                try:
                    self.target.check_offer(offer, changes)
                except (ValidationError, DecodeError) as exc:
                    self.blame(key, f"a snapshot offer of height {height} that does not verify "
                                    f"({exc.code}: {exc.message})")
                    continue
                self.height = height
                log.info("state sync: fetching the state of height %d", height)
                return height
            await asyncio.sleep(NO_PEER_PAUSE_S)

    async def _changes(self, key: bytes, height: int) -> list[ValsetChange] | None:
        out: list[ValsetChange] = []
        start = 1
        while start <= height:
            answer = await self._ask(key, ValsetChangesRequest(start, height), ValsetChanges)
            if not isinstance(answer, ValsetChanges):
                return None
            if not answer.changes:
                return out
            for change in answer.changes:
                h = change.header.height
                if not start <= h <= height:
                    self.blame(key, "validator-set changes out of the range asked for")
                    return None
                start = h + 1
                out.append(change)
        return out

    async def _fetch_parts(self, height: int) -> bool:
        """Fetch every part of ``height``; False if no peer keeps it any more."""
        not_kept: set[bytes] = set()
        in_flight: dict[asyncio.Task[Frame | None], tuple[bytes, list[bytes]]] = {}
        asked: set[bytes] = set()
        resting: dict[bytes, float] = {}
        loop = asyncio.get_running_loop()
        try:
            while not self.target.done:
                load = Counter(k for k, _ in in_flight.values())
                now = loop.time()
                free = [k for k in self._candidates()
                        if k not in not_kept and resting.get(k, 0) <= now]
                todo = [p for p in self.target.wanted() if p not in asked]
                # Two requests per peer in flight: it reads one while this node checks
                # the other's parts.
                for key in free * PER_PEER_IN_FLIGHT:
                    if not todo:
                        break
                    if load[key] >= PER_PEER_IN_FLIGHT:
                        continue
                    load[key] += 1
                    paths, todo = todo[: self.paths_per_request], todo[self.paths_per_request :]
                    asked.update(paths)
                    task = asyncio.ensure_future(self._ask(
                        key, StateRequest(height, self.leaves_from_depth, tuple(paths)), StateParts))
                    in_flight[task] = (key, paths)
                if not in_flight:
                    candidates = self._candidates()
                    if candidates and all(k in not_kept for k in candidates):
                        return False
                    if not candidates:
                        await self._wait_for_peers()
                    else:
                        await asyncio.sleep(BUSY_PAUSE_S)
                    continue
                done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    key, paths = in_flight.pop(task)
                    asked.difference_update(paths)
                    answer = task.result()
                    if not isinstance(answer, StateParts):
                        log.info("state sync: peer %s did not answer in time; asking others",
                                 key.hex()[:12])
                        resting[key] = loop.time() + NO_PEER_PAUSE_S  # slow or gone
                        continue
                    if answer.status == STATE_NOT_KEPT:
                        not_kept.add(key)
                    elif answer.status == STATE_BUSY:
                        resting[key] = loop.time() + BUSY_PAUSE_S
                    else:
                        self._take_parts(key, height, paths, answer)
        finally:
            for task in in_flight:
                task.cancel()
        return True

    def _take_parts(self, key: bytes, height: int, paths: list[bytes], answer: StateParts) -> None:
        assert answer.status == STATE_OK
        if key in self.banned:
            return  # the other answer of a peer already refused: nothing of it is used
        if answer.height != height:
            self.blame(key, "state parts of another height than asked")
            return
        if not answer.parts:
            self.blame(key, "an empty answer for state it claims to keep")
            return
        if len(answer.parts) > len(paths):
            self.blame(key, "more state parts than asked for")
            return
        for asked, part in zip(paths, answer.parts, strict=False):
            if part.path != asked:
                self.blame(key, "state parts not in the order asked")
                return
            try:
                self.target.accept(part)
            except (ValidationError, DecodeError) as exc:
                self.blame(key, f"a state part that does not verify ({exc.code}: {exc.message})")
                return
            self.parts += 1
        if self.on_progress is not None:
            self.on_progress(self.parts)

