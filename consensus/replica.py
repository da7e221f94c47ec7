"""One PBFT validator (or observer) as a sans-IO state machine.

The replica owns the agreement on one height at a time: PRE-PREPARE (or NEW-VIEW) →
PREPARE → COMMIT → decide with a CommitCertificate, view changes on timeout or on proof of
a faulty proposer (Castro and Liskov, OSDI 1999, with one slot per height), and the
VoteRecord it writes through the injected VoteLog before any vote leaves it. It reads no
clock and draws no randomness: the host passes ``now_ms`` into every step and acts on the
returned Output (see consensus/api.py).

Safety rests on three rules kept here: an honest validator PREPAREs at most one block per
(height, view) and never votes in a view below one it has left; it reports its highest
prepared certificate when leaving a view; and a NEW-VIEW must re-propose the block of the
highest prepared certificate among its quorum of VIEW-CHANGEs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from consensus.api import Application, Message, Output, VoteLog
from consensus.messages import (
    MAX_VIEW,
    Commit,
    Decision,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
)
from consensus.verifier import SignatureVerifier
from consensus.wal import VoteRecord
from core.crypto import PrivateKey
from core.errors import ChainError, DecodeError
from core.types import (
    VOTE_COMMIT,
    VOTE_PREPARE,
    Block,
    CommitCertificate,
    ValidatorSet,
    Vote,
    vote_signing_bytes,
)


class ConsensusError(ChainError):
    code = "consensus_error"


class CorruptVoteLogError(ConsensusError):
    """The vote log holds a record that does not decode: refuse to vote rather than guess."""

    code = "corrupt_vote_log"


# How long a view waits for a proposer the host takes as down (``absent_timeout_ms_for``).
# The host has had no link to it for 5 s, so no proposal can come from it: the wait is
# only for the link to come back, which it seldom does in the next instant. It does not
# grow with the view timeout, which a large network sets long (26.5 s for 212 validators
# by ``hkchain init``'s rule) and which a dead proposer would otherwise cost a quarter of
# at each of its turns. At 212 validators a dead proposer's height is this wait, a view
# change and a height (docs/CONSENSUS.md, "View 1 and a run of dead proposers").
ABSENT_TIMEOUT_MS = 250


def absent_timeout_ms_for(view_timeout_ms: int) -> int:
    """How long a view waits for a proposer the host takes as down
    (``ReplicaConfig.absent_timeout_ms``; the node and the simulator's model both use
    this): ``ABSENT_TIMEOUT_MS``, never more than the view timeout."""
    return min(ABSENT_TIMEOUT_MS, view_timeout_ms)


# How long view 0 waits, at least, for a proposer that missed its last turn
# (``ReplicaConfig.missed_turn_timeout_ms``): ample for a proposer that is up to propose,
# far below the view timeout of a large network.
MISSED_TURN_TIMEOUT_MS = 2_000


@dataclass(frozen=True)
class ReplicaConfig:
    """Timers (ms, integer backoff) and the bounds on what a replica keeps for later."""

    view_timeout_ms: int = 2_000
    timeout_backoff: int = 2  # each further view at one height waits this many times longer
    max_view_timeout_ms: int = 60_000
    max_future_heights: int = 8  # messages up to this far ahead are buffered
    max_buffered_per_sender: int = 64  # per future height
    max_future_views: int = 64  # votes and VIEW-CHANGEs this far above the current view
    max_evidence: int = 1_024
    catch_up_interval_ms: int = 1_000  # at most one DECISION reply per lagging peer per interval
    # At view 0 of a height, a validator that knows of no pending txs gives the proposer
    # this much longer than the view timeout: an idle chain's proposer makes an empty block
    # only every so often, and nobody should change view over that. ``on_work`` ends the
    # wait (the view timer then runs from that moment).
    idle_wait_ms: int = 0
    # The view timeout follows the network: view 0 waits at least ``timeout_margin`` times
    # the median time the last ``timeout_window`` decided heights took (from entering the
    # height, or from the end of its idle wait, to the decision), within view_timeout_ms
    # and max_view_timeout_ms. A loaded or slow network then stops changing view over
    # heights that are merely slow; a silent proposer costs a few typical heights. The
    # median moves only when most heights of the window are slow. 0: a fixed timeout.
    timeout_margin: int = 0
    timeout_window: int = 5
    # A view whose proposer the host has had no link to for a while (``on_absent``) waits
    # at most this long: a validator that is down otherwise costs the whole view timeout
    # at each of its turns, seconds at a time in a large network. A proposer that is up
    # but cut off from this validator only costs the view this validator's votes: the
    # others change view only once f + 1 validators ask. 0: every view waits its full
    # timeout.
    absent_timeout_ms: int = 0
    # View 0 of a height whose proposer missed its last turn (the height one rotation
    # back, with the same set, was decided in a later view) waits at most this long, or
    # ``timeout_margin`` times the median height if that is longer: a proposer that is up
    # but silent (wedged, or Byzantine) otherwise costs the whole view timeout at every
    # turn, 26.5 s at 212 validators. Every validator reads the same committed chain, so
    # all shorten the same views. A proposer back to health has that long to propose,
    # and proposes in full at its next turn. 0: off.
    missed_turn_timeout_ms: int = 0

    def __post_init__(self) -> None:
        if self.view_timeout_ms < 1 or self.max_view_timeout_ms < self.view_timeout_ms:
            raise ValueError("view timeouts must be positive and the cap at least the base")
        if self.timeout_backoff < 1:
            raise ValueError("timeout_backoff must be at least 1")
        for name in (
            "max_future_heights",
            "max_buffered_per_sender",
            "max_future_views",
            "max_evidence",
            "catch_up_interval_ms",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if (self.idle_wait_ms < 0 or self.timeout_margin < 0 or self.absent_timeout_ms < 0
                or self.missed_turn_timeout_ms < 0):
            raise ValueError("idle_wait_ms, timeout_margin, absent_timeout_ms and "
                             "missed_turn_timeout_ms must not be negative")
        if self.timeout_window < 1:
            raise ValueError("timeout_window must be positive")

    def view_timeout(self, view: int, base_ms: int) -> int:
        """How long view ``view`` of a height may take before a view change, in ms, when
        view 0 may take ``base_ms`` (at least ``view_timeout_ms``: Replica._view_timeout)."""
        timeout = min(base_ms, self.max_view_timeout_ms)
        for _ in range(view):
            timeout *= self.timeout_backoff
            if timeout >= self.max_view_timeout_ms:
                return self.max_view_timeout_ms
        return timeout


@dataclass(frozen=True)
class Equivocation:
    """Two conflicting messages signed by one validator: the evidence operators see."""

    validator: bytes
    first: Vote | PrePrepare | NewView
    second: Vote | PrePrepare | NewView


@dataclass
class _HeightState:
    """Everything the replica knows about the height it is deciding; dropped on moving on."""

    validators: ValidatorSet | None
    # The proposer of the block below this height (``Application.proposer_of``): view 1's
    # proposer when it is another validator than view 0's (``ValidatorSet.proposer``).
    last_proposer: bytes | None = None
    # View 0's proposer missed its last turn (``ReplicaConfig.missed_turn_timeout_ms``).
    missed_turn: bool = False
    view: int = 0
    view_change_sent: bool = False  # left ``view - 1``; waiting for NEW-VIEW of ``view``
    # While waiting for NEW-VIEW, the view timer only runs once a quorum asked for the view
    # (PBFT 4.5.2): until then the deadline re-sends our VIEW-CHANGE instead, so no replica
    # runs ahead through views alone and the others can always catch up with it.
    view_timer_running: bool = True
    own_view_change: ViewChange | None = None
    deadline_ms: int | None = None
    idle: bool = False  # view 0's timer includes the idle wait (no pending txs known)
    timer_from_ms: int = 0  # when view 0's timer began to count (past the idle wait)
    # Proposing at a height just entered waits for the next tick (due at once), so a step
    # never decides more than the heights its input completes: a lone validator would
    # otherwise propose and decide forever inside one step.
    proposal_due: bool = False
    prepared_hash: bytes | None = None  # own PREPARE in ``view``
    committed_hash: bytes | None = None  # own COMMIT in ``view``
    prepared: PreparedCertificate | None = None  # highest prepared certificate
    pre_prepare: PrePrepare | None = None
    blocks: dict[bytes, Block] = field(default_factory=dict)
    valid: dict[bytes, bool] = field(default_factory=dict)  # app.validate results
    proposals: dict[int, bytes] = field(default_factory=dict)  # view -> accepted block hash
    new_views: dict[int, NewView] = field(default_factory=dict)
    votes: dict[tuple[int, int, bytes], Vote] = field(default_factory=dict)
    tally: dict[tuple[int, int, bytes], dict[bytes, Vote]] = field(default_factory=dict)
    view_changes: dict[int, dict[bytes, ViewChange]] = field(default_factory=dict)
    latest_view_change: dict[bytes, int] = field(default_factory=dict)


class Replica:
    """A PBFT replica. ``height`` is the next height to decide (last committed + 1);
    ``key`` None makes a non-voting observer that still follows and decides."""

    def __init__(
        self,
        chain_id: str,
        key: PrivateKey | None,
        app: Application,
        log: VoteLog,
        height: int,
        config: ReplicaConfig = ReplicaConfig(),
        *,
        verifier: SignatureVerifier | None = None,
        last_commit: tuple[Block, CommitCertificate] | None = None,
    ) -> None:
        if height < 1:
            raise ValueError("height is the next height to decide, at least 1")
        self.chain_id = chain_id
        self.config = config
        self._key = key
        self._me = key.public_key if key is not None else None
        self._app = app
        self._log = log
        self._verifier = verifier if verifier is not None else SignatureVerifier()
        self._now_ms = 0
        self._started = False
        self._evidence: list[Equivocation] = []
        self._evidence_seen: set[tuple[bytes, int, int, int, int]] = set()
        self._buffer: dict[int, dict[bytes, list[Message]]] = {}
        self._peer_height: dict[bytes, int] = {}
        self._sync_requested: tuple[int, int] | None = None  # (target height, at ms)
        # The decision of height - 1, handed to validators still voting on it; the host
        # passes it in on restart and after a sync (from its block store).
        self._last_decision: Decision | None = None
        self._previous_validators: ValidatorSet | None = None
        if last_commit is not None and last_commit[0].height == height - 1:
            self._last_decision = Decision(*last_commit)
            self._previous_validators = app.validator_set(height - 1)
        self._catch_up_sent_ms: dict[bytes, int] = {}
        # How long the last decided heights took (ms), for the adaptive timeout.
        self._height_ms: deque[int] = deque(maxlen=config.timeout_window)
        # Validators the host has had no link to for a while (``on_absent``).
        self._absent: frozenset[bytes] = frozenset()
        self._record = self._load_record()
        self._height = height
        self._s = self._height_state(height)
        self._restore_record()

    # --- what the host reads ---------------------------------------------------------

    @property
    def height(self) -> int:
        return self._height

    @property
    def view(self) -> int:
        return self._s.view

    @property
    def validators(self) -> ValidatorSet | None:
        return self._s.validators

    def proposer(self, view: int) -> bytes | None:
        """The proposer of ``view`` at the height being decided; None while its validator
        set is not known."""
        return None if self._s.validators is None else self._proposer(view)

    @property
    def evidence(self) -> tuple[Equivocation, ...]:
        """Evidence recorded and not yet taken (at most ``config.max_evidence``)."""
        return tuple(self._evidence)

    def take_evidence(self) -> list[Equivocation]:
        """Hand the recorded evidence to the host (which keeps it) and make room for more."""
        taken, self._evidence = self._evidence, []
        return taken

    @property
    def last_decision(self) -> Decision | None:
        return self._last_decision

    @property
    def prepared(self) -> PreparedCertificate | None:
        return self._s.prepared

    @property
    def view_timeout_ms(self) -> int:
        """How long the current view may take before a view change (ms)."""
        return self._view_timeout(self._s.view)

    @property
    def idle(self) -> bool:
        """Whether the view timer still grants the idle wait: ``on_work`` is then worth a
        step when the host holds txs to propose."""
        return self._s.idle

    # --- steps -------------------------------------------------------------------------

    def start(self, now_ms: int) -> Output:
        out = Output()
        self._now_ms = now_ms
        self._start(out)
        return self._finish(out)

    def on_message(self, msg: Message, now_ms: int) -> Output:
        out = Output()
        self._now_ms = max(self._now_ms, now_ms)
        if not self._started:
            self._start(out)
        self._handle(msg, out)
        return self._finish(out)

    def on_messages(self, msgs: Sequence[Message], now_ms: int) -> Output:
        """Several messages in one step (a collector's bundle of votes): the same as one
        ``on_message`` each, in order, with their outputs joined; the host carries them
        out once."""
        out = Output()
        self._now_ms = max(self._now_ms, now_ms)
        if not self._started:
            self._start(out)
        for msg in msgs:
            self._handle(msg, out)
        return self._finish(out)

    def on_tick(self, now_ms: int) -> Output:
        out = Output()
        self._now_ms = max(self._now_ms, now_ms)
        if not self._started:
            self._start(out)
        s = self._s
        if s.proposal_due:
            s.proposal_due = False
            self._maybe_propose(out)
            s = self._s
        if s.validators is not None and s.deadline_ms is not None and self._now_ms >= s.deadline_ms:
            if s.view_timer_running:
                self._start_view_change(s.view + 1, out)
            else:
                s.deadline_ms = self._now_ms + self._view_timeout(s.view)
                if s.own_view_change is not None:
                    out.broadcast.append(s.own_view_change)
        return self._finish(out)

    def on_work(self, now_ms: int) -> Output:
        """The host holds txs waiting to be proposed: the idle wait (``idle_wait_ms``) is
        over, and view 0's timer runs from now unless it would already end sooner."""
        out = Output()
        self._now_ms = max(self._now_ms, now_ms)
        if not self._started:
            self._start(out)
        self._end_idle_wait()
        return self._finish(out)

    def on_absent(self, keys: frozenset[bytes], now_ms: int) -> Output:
        """The host has had no link to these validators for a while, and has to the
        others: a view one of them proposes waits at most ``absent_timeout_ms``. A view
        already running is cut short if its proposer is among them; none is lengthened
        when one comes back (its proposal still counts until the view changes)."""
        out = Output()
        self._now_ms = max(self._now_ms, now_ms)
        self._absent = frozenset(keys)
        s = self._s
        if self._started and s.deadline_ms is not None:
            wait = self.config.idle_wait_ms if s.idle else 0  # an idle chain's wait stays
            s.deadline_ms = min(s.deadline_ms, self._now_ms + self._view_timeout(s.view) + wait)
        return self._finish(out)

    def on_synced(
        self,
        height: int,
        now_ms: int,
        last_commit: tuple[Block, CommitCertificate] | None = None,
    ) -> Output:
        """The host committed every block up to ``height`` by block sync; ``last_commit``
        is the block at ``height`` with its certificate, if the host has it at hand."""
        out = Output()
        self._now_ms = max(self._now_ms, now_ms)
        self._started = True
        if height >= self._height:
            self._last_decision = None
            if last_commit is not None and last_commit[0].height == height:
                self._last_decision = Decision(*last_commit)
            self._advance_to(height + 1, out)
        return self._finish(out)

    # --- internals: lifecycle -----------------------------------------------------------

    def _start(self, out: Output) -> None:
        self._started = True
        s = self._s
        if s.validators is None:
            return
        self._start_view_timer()
        if s.view_change_sent and self._can_vote() and self._key is not None:
            s.view_timer_running = False
            vc = self._own_view_change(s.view)
            s.own_view_change = vc
            out.broadcast.append(vc)
            self._add_view_change(vc, out)
        self._maybe_propose(out)

    def _finish(self, out: Output) -> Output:
        s = self._s
        if s.validators is None:
            out.wake_at_ms = None
        elif s.proposal_due:
            out.wake_at_ms = self._now_ms
        else:
            out.wake_at_ms = s.deadline_ms
        return out

    def _view_timeout(self, view: int) -> int:
        base = self.config.view_timeout_ms
        typical = 0
        if self.config.timeout_margin and self._height_ms:
            ordered = sorted(self._height_ms)
            typical = self.config.timeout_margin * ordered[len(ordered) // 2]
            base = max(base, typical)
        timeout = self.config.view_timeout(view, base)
        if view == 0 and self._s.missed_turn and self.config.missed_turn_timeout_ms:
            timeout = min(timeout, max(self.config.missed_turn_timeout_ms, typical))
        vs = self._s.validators
        if (self.config.absent_timeout_ms and vs is not None
                and self._proposer(view) in self._absent):
            return min(timeout, self.config.absent_timeout_ms)
        return timeout

    def _height_state(self, height: int) -> _HeightState:
        """A height just entered: its set, the last block's proposer, and whether view 0's
        proposer missed its last turn (the height one rotation back, with the same set,
        decided in a later view: its view-0 proposer was this one)."""
        vs = self._app.validator_set(height)
        missed = False
        if vs is not None and self.config.missed_turn_timeout_ms and height > len(vs):
            back = height - len(vs)
            earlier = self._app.validator_set(back)
            view = self._app.committed_view(back)
            missed = earlier is not None and earlier.hash == vs.hash and bool(view)
        return _HeightState(vs, self._app.proposer_of(height - 1), missed)

    def _proposer(self, view: int) -> bytes:
        """The proposer of ``view`` at this height (a height whose set is known)."""
        s = self._s
        assert s.validators is not None
        return s.validators.proposer(self._height, view, s.last_proposer)

    def _start_view_timer(self) -> None:
        """The timer of a height just entered (or resumed): view 0, not yet left, waits
        the idle wait on top of the view timeout until ``on_work``."""
        s = self._s
        s.idle = self.config.idle_wait_ms > 0 and s.view == 0 and not s.view_change_sent
        s.deadline_ms = self._now_ms + self._view_timeout(s.view)
        s.timer_from_ms = self._now_ms
        if s.idle:
            s.deadline_ms += self.config.idle_wait_ms

    def _end_idle_wait(self) -> None:
        """There is work at view 0 (txs pending, or the proposal came): its timer runs
        from now, unless it would already end sooner."""
        s = self._s
        if not s.idle:
            return
        s.idle = False
        s.timer_from_ms = self._now_ms
        if s.view == 0 and not s.view_change_sent and s.deadline_ms is not None:
            s.deadline_ms = min(s.deadline_ms, self._now_ms + self._view_timeout(0))

    def _load_record(self) -> VoteRecord | None:
        data = self._log.load()
        if data is None:
            return None
        try:
            return VoteRecord.decode(data)
        except DecodeError as exc:
            raise CorruptVoteLogError(f"vote log record does not decode: {exc.message}") from exc

    def _restore_record(self) -> None:
        r = self._record
        if r is None or r.height != self._height:
            return
        s = self._s
        s.view = r.view
        s.view_change_sent = r.view_change_sent
        s.prepared_hash = r.prepared_hash
        s.committed_hash = r.committed_hash
        s.prepared = r.prepared
        if r.prepared is not None:
            block = self._load_block(r.prepared.block_hash)
            if block is not None:
                s.blocks[block.hash] = block
            # Without the body the certificate still goes into every VIEW-CHANGE, which
            # is all safety needs; the block itself then comes from whoever has it.

    def _load_block(self, block_hash: bytes) -> Block | None:
        data = self._log.load_block(block_hash)
        if data is None:
            return None
        try:
            block = Block.decode(data)
        except DecodeError as exc:
            raise CorruptVoteLogError(f"kept block does not decode: {exc.message}") from exc
        if block.hash != block_hash:
            raise CorruptVoteLogError("kept block does not match its hash")
        return block

    def _save_record(self) -> None:
        s = self._s
        record = VoteRecord(
            self._height, s.view, s.view_change_sent, s.prepared_hash, s.committed_hash, s.prepared
        )
        self._log.save(record.encode())
        self._record = record

    def _can_vote(self) -> bool:
        vs = self._s.validators
        return self._me is not None and vs is not None and self._me in vs

    def _advance_to(self, height: int, out: Output) -> None:
        if self._s.prepared is not None and self._can_vote():
            self._log.keep_blocks(())  # the kept block is committed now, or was replaced
        self._previous_validators = self._s.validators
        self._height = height
        # What was seen below this height cannot be seen again: the messages are dropped.
        self._evidence_seen = {k for k in self._evidence_seen if k[1] >= height}
        self._s = self._height_state(height)
        self._restore_record()
        for h in [h for h in self._buffer if h < height]:
            del self._buffer[h]
        if self._s.validators is None:
            return
        self._start_view_timer()
        self._s.proposal_due = True
        pending = self._buffer.pop(height, {})
        for msgs in pending.values():
            for msg in msgs:
                if self._height != height:
                    return  # decided while replaying: the rest is stale
                self._handle(msg, out)

    # --- internals: message intake ------------------------------------------------------

    def _handle(self, msg: Message, out: Output) -> None:
        if isinstance(msg, Decision):
            self._on_decision(msg, out)
            return
        if not isinstance(msg, PrePrepare | Prepare | Commit | ViewChange | NewView):
            return
        chain_id = msg.vote.chain_id if isinstance(msg, Prepare | Commit) else msg.chain_id
        if chain_id != self.chain_id:
            return
        if msg.height < self._height:
            self._on_old_height(msg, out)
            return
        vs = self._s.validators
        if vs is None or msg.sender not in vs:
            return
        if msg.height > self._height:
            self._on_future_height(msg, out)
            return
        if isinstance(msg, PrePrepare):
            self._on_pre_prepare(msg, out)
        elif isinstance(msg, Prepare | Commit):
            self._on_vote(msg.vote, out)
        elif isinstance(msg, ViewChange):
            self._on_view_change(msg, out)
        else:
            self._on_new_view(msg, out)

    def _authentic(self, msg: PrePrepare | Prepare | Commit | ViewChange | NewView) -> bool:
        if isinstance(msg, Prepare | Commit):
            return self._verifier.verify_vote(msg.vote)
        return self._verifier.verify(msg.sender, msg.signing_bytes(), msg.signature)

    def _on_old_height(
        self, msg: PrePrepare | Prepare | Commit | ViewChange | NewView, out: Output
    ) -> None:
        # A validator that timed out on a decided height: hand it our last decision, which
        # either decides its height or proves it must sync up to ours. Late votes are
        # normal after a decision and get no answer.
        if not isinstance(msg, ViewChange):
            return
        d = self._last_decision
        prev = self._previous_validators
        current = self._s.validators
        if d is None or not (
            (prev is not None and msg.sender in prev)
            or (current is not None and msg.sender in current)
        ):
            return
        last = self._catch_up_sent_ms.get(msg.sender)
        if last is not None and self._now_ms - last < self.config.catch_up_interval_ms:
            return
        self._catch_up_sent_ms[msg.sender] = self._now_ms
        out.send.append((msg.sender, d))

    def _on_future_height(
        self, msg: PrePrepare | Prepare | Commit | ViewChange | NewView, out: Output
    ) -> None:
        # Checked against the current set: the set of a future height may not be known yet.
        if not self._authentic(msg):
            return
        vs = self._s.validators
        assert vs is not None
        sender = msg.sender
        if msg.height > self._peer_height.get(sender, 0):
            self._peer_height[sender] = msg.height
            heights = sorted((self._peer_height.get(k, 0) for k in vs.public_keys), reverse=True)
            quorum_height = heights[vs.quorum - 1]
            if quorum_height > self._height:
                # A quorum has moved on, so an honest validator decided quorum_height - 1.
                self._request_sync(quorum_height - 1, out)
        if msg.height > self._height + self.config.max_future_heights:
            return
        queue = self._buffer.setdefault(msg.height, {}).setdefault(sender, [])
        if len(queue) < self.config.max_buffered_per_sender:
            queue.append(msg)

    def _request_sync(self, target: int, out: Output) -> None:
        prev = self._sync_requested
        if (
            prev is None
            or target > prev[0]
            or self._now_ms - prev[1] >= self.config.view_timeout_ms
        ):
            self._sync_requested = (target, self._now_ms)
            out.sync_to_height = target

    def proposal_due(self) -> tuple[int, int] | None:
        """(height, view) of the block the next ``on_tick`` asks ``propose`` for, if any:
        the host may build it beforehand, off its event loop."""
        s = self._s
        if not self._started or not s.proposal_due or not self._may_propose():
            return None
        return self._height, 0

    # --- internals: proposals -----------------------------------------------------------

    def _may_propose(self) -> bool:
        s = self._s
        vs = s.validators
        return not (
            self._key is None
            or vs is None
            or not self._can_vote()
            or s.view != 0
            or s.view_change_sent
            or s.prepared_hash is not None  # proposed before a restart: never a second block
            or 0 in s.proposals
            or self._proposer(0) != self._me
        )

    def _maybe_propose(self, out: Output) -> None:
        s = self._s
        if self._key is None or not self._may_propose():
            return
        block = self._app.propose(self._height, 0, self._now_ms)
        pp = PrePrepare.create(self._key, self.chain_id, self._height, 0, block)
        s.pre_prepare = pp
        out.broadcast.append(pp)
        self._on_proposal(0, block, out)

    def _on_pre_prepare(self, pp: PrePrepare, out: Output) -> None:
        s = self._s
        vs = s.validators
        assert vs is not None
        if pp.proposer != self._proposer(0) or not self._authentic(pp):
            return
        first = s.pre_prepare
        if first is not None:
            if first.block.hash != pp.block.hash:
                self._record_equivocation(pp.proposer, (0, 0, 0), first, pp)
                if s.view == 0 and not s.view_change_sent:
                    self._start_view_change(1, out)  # a proven faulty proposer
            return
        s.pre_prepare = pp
        if s.view == 0 and not s.view_change_sent:
            self._on_proposal(0, pp.block, out)

    def _on_proposal(self, view: int, block: Block, out: Output) -> None:
        s = self._s
        if view in s.proposals:
            return
        if not self._validate(block):
            self._start_view_change(view + 1, out)  # the proposer of ``view`` is faulty
            return
        self._end_idle_wait()
        s.proposals[view] = block.hash
        s.blocks[block.hash] = block
        if self._can_vote() and self._key is not None and view == s.view:
            if s.prepared_hash is None:
                s.prepared_hash = block.hash
                self._save_record()
            if s.prepared_hash == block.hash:  # also re-sends the vote after a restart
                vote = Vote.create(
                    self._key, VOTE_PREPARE, self.chain_id, self._height, view, block.hash
                )
                out.broadcast.append(Prepare(vote))
                self._verifier.signed(vote)
                self._add_vote(vote)
        self._check_prepared(out)
        for kind, w, h in list(s.tally):
            if kind == VOTE_COMMIT and h == block.hash and self._height == block.height:
                self._try_decide(w, h, out)

    def _validate(self, block: Block) -> bool:
        s = self._s
        ok = s.valid.get(block.hash)
        if ok is None:
            ok = (
                block.height == self._height
                and block.header.chain_id == self.chain_id
                and self._app.validate(block)
            )
            s.valid[block.hash] = ok
        return ok

    # --- internals: votes ----------------------------------------------------------------

    def _on_vote(self, vote: Vote, out: Output) -> None:
        s = self._s
        if vote.kind == VOTE_PREPARE and vote.view < s.view:
            return
        if vote.view > s.view + self.config.max_future_views:
            return
        if not self._verifier.verify_vote(vote):
            return
        if not self._add_vote(vote):
            return
        if vote.kind == VOTE_PREPARE:
            if vote.view == s.view:
                self._check_prepared(out)
        else:
            self._try_decide(vote.view, vote.block_hash, out)

    def _add_vote(self, vote: Vote) -> bool:
        """Count a verified vote; False for a duplicate or an equivocation (kept as evidence)."""
        s = self._s
        key = (vote.kind, vote.view, vote.validator)
        prior = s.votes.get(key)
        if prior is not None:
            if prior.block_hash != vote.block_hash:
                self._record_equivocation(vote.validator, (vote.kind, vote.view, 1), prior, vote)
            return False
        s.votes[key] = vote
        s.tally.setdefault((vote.kind, vote.view, vote.block_hash), {})[vote.validator] = vote
        return True

    def _record_equivocation(
        self,
        validator: bytes,
        what: tuple[int, int, int],
        first: Vote | PrePrepare | NewView,
        second: Vote | PrePrepare | NewView,
    ) -> None:
        key = (validator, self._height, *what)
        if key in self._evidence_seen or len(self._evidence) >= self.config.max_evidence:
            return
        self._evidence_seen.add(key)
        self._evidence.append(Equivocation(validator, first, second))

    def _check_prepared(self, out: Output) -> None:
        s = self._s
        vs = s.validators
        if vs is None or s.view_change_sent or s.view not in s.proposals:
            return
        block_hash = s.proposals[s.view]
        prepares = s.tally.get((VOTE_PREPARE, s.view, block_hash), {})
        if len(prepares) < vs.quorum:
            return
        key = self._key if self._can_vote() and s.committed_hash is None else None
        if key is not None:
            s.committed_hash = block_hash  # in the record below with a new certificate
        new_certificate = s.prepared is None or s.prepared.view < s.view
        if new_certificate:
            votes = [prepares[k] for k in sorted(prepares)]
            s.prepared = PreparedCertificate.from_votes(votes)
            if self._can_vote():
                # The body first, so the record that names it never outlives it; then
                # only this block is worth keeping at this height.
                self._log.save_block(block_hash, s.blocks[block_hash].encoded)
                self._save_record()
                self._log.keep_blocks((block_hash,))
        if key is not None:
            if not new_certificate:
                self._save_record()
            vote = Vote.create(
                key, VOTE_COMMIT, self.chain_id, self._height, s.view, block_hash
            )
            out.broadcast.append(Commit(vote))
            self._verifier.signed(vote)
            self._add_vote(vote)
            self._try_decide(s.view, block_hash, out)

    def _try_decide(self, view: int, block_hash: bytes, out: Output) -> None:
        s = self._s
        vs = s.validators
        commits = s.tally.get((VOTE_COMMIT, view, block_hash), {})
        if vs is None or len(commits) < vs.quorum or block_hash not in s.blocks:
            return
        block = s.blocks[block_hash]
        if not self._validate(block):
            return  # a quorum committed a block this application rejects: leave it to sync
        cert = CommitCertificate.from_votes([commits[k] for k in sorted(commits)])
        self._decide(block, cert, out)

    def _decide(self, block: Block, cert: CommitCertificate, out: Output) -> None:
        s = self._s
        if not s.idle and s.validators is not None:
            # In whatever view: were every height to outlast the timeout, the samples of
            # view 0 alone would never come, and the timeout never adapt.
            self._height_ms.append(self._now_ms - s.timer_from_ms)
        self._app.commit(block, cert)
        out.decided.append((block, cert))
        self._last_decision = Decision(block, cert)
        self._catch_up_sent_ms.clear()
        self._advance_to(block.height + 1, out)

    def _on_decision(self, d: Decision, out: Output) -> None:
        c = d.certificate
        if (
            d.block.header.chain_id != self.chain_id
            or d.height < self._height
            or c.height != d.block.height
            or c.block_hash != d.block.hash
        ):
            return
        vs = self._s.validators
        if vs is None:
            return
        if d.height > self._height:
            # The set of that height may differ from ours: f + 1 signers we know show that
            # an honest validator committed it. Block sync verifies every certificate itself.
            if self._known_signers(d.certificate, vs) > vs.max_faulty:
                self._request_sync(d.height, out)
            return
        if self._certificate_valid(d.certificate, vs) and self._validate(d.block):
            self._decide(d.block, d.certificate, out)

    def _known_signers(self, cert: CommitCertificate, vs: ValidatorSet) -> int:
        msg = vote_signing_bytes(
            VOTE_COMMIT, self.chain_id, cert.height, cert.view, cert.block_hash
        )
        signers = {
            k for k, sig in cert.signatures if k in vs and self._verifier.verify(k, msg, sig)
        }
        return len(signers)

    def _certificate_valid(self, cert: CommitCertificate, vs: ValidatorSet) -> bool:
        if cert.chain_id != self.chain_id or len(cert.signatures) < vs.quorum:
            return False
        msg = vote_signing_bytes(
            VOTE_COMMIT, self.chain_id, cert.height, cert.view, cert.block_hash
        )
        keys = [k for k, _ in cert.signatures]
        if keys != sorted(set(keys)):
            return False
        return all(k in vs and self._verifier.verify(k, msg, sig) for k, sig in cert.signatures)

    # --- internals: view changes -------------------------------------------------------------

    def _start_view_change(self, new_view: int, out: Output) -> None:
        s = self._s
        if new_view <= s.view or new_view > MAX_VIEW or s.validators is None:
            return
        s.view = new_view
        s.view_change_sent = True
        s.view_timer_running = False
        s.idle = False
        s.own_view_change = None
        s.prepared_hash = None
        s.committed_hash = None
        s.deadline_ms = self._now_ms + self._view_timeout(new_view)
        out.view_changes += 1
        if self._can_vote() and self._key is not None:
            self._save_record()  # before the VIEW-CHANGE leaves: never vote below new_view
            vc = self._own_view_change(new_view)
            s.own_view_change = vc
            out.broadcast.append(vc)
            self._add_view_change(vc, out)

    def _own_view_change(self, new_view: int) -> ViewChange:
        s = self._s
        assert self._key is not None
        p = s.prepared
        block = None if p is None else s.blocks.get(p.block_hash)
        return ViewChange.create(self._key, self.chain_id, self._height, new_view, p, block)

    def _prepared_valid(self, cert: PreparedCertificate | None, vs: ValidatorSet) -> bool:
        if cert is None:
            return True
        keys = [k for k, _ in cert.signatures]
        if len(keys) < vs.quorum or keys != sorted(set(keys)) or cert.height != self._height:
            return False
        msg = cert.signing_bytes(self.chain_id)
        return all(k in vs and self._verifier.verify(k, msg, sig) for k, sig in cert.signatures)

    def _view_change_valid(self, vc: ViewChange, vs: ValidatorSet) -> bool:
        return (
            vc.validator in vs
            and vc.height == self._height
            and self._verifier.verify(vc.validator, vc.digest, vc.signature)
            and self._prepared_valid(vc.prepared, vs)
        )

    def _on_view_change(self, vc: ViewChange, out: Output) -> None:
        s = self._s
        vs = s.validators
        assert vs is not None
        w = vc.new_view
        if w < s.view or w > s.view + self.config.max_future_views:
            return
        if vc.validator in s.view_changes.get(w, {}) or not self._view_change_valid(vc, vs):
            return
        self._add_view_change(vc, out)

    def _add_view_change(self, vc: ViewChange, out: Output) -> None:
        s = self._s
        vs = s.validators
        assert vs is not None
        w = vc.new_view
        collected = s.view_changes.setdefault(w, {})
        collected[vc.validator] = vc
        if w == s.view and not s.view_timer_running and len(collected) >= vs.quorum:
            s.view_timer_running = True
            s.deadline_ms = self._now_ms + self._view_timeout(w)
        if vc.block is not None and vc.prepared is not None and vc.block.hash == vc.prepared.block_hash:
            block = vc.block  # bound to the signed certificate by its hash
            if block.hash not in s.blocks:
                s.blocks[block.hash] = block
                for kind, view, h in list(s.tally):
                    if kind == VOTE_COMMIT and h == block.hash and self._height == block.height:
                        self._try_decide(view, h, out)
                if self._height != vc.height:
                    return
        if w > s.latest_view_change.get(vc.validator, -1):
            s.latest_view_change[vc.validator] = w
        if w > s.view:
            # f + 1 validators ask for later views, so at least one honest one does: follow
            # to the highest view that f + 1 of them have reached (PBFT's liveness rule).
            ahead = sorted(
                (v for k, v in s.latest_view_change.items() if v > s.view and k != self._me),
                reverse=True,
            )
            if len(ahead) > vs.max_faulty:
                self._start_view_change(ahead[vs.max_faulty], out)
        self._maybe_send_new_view(w, out)

    def _required_hash(self, view_changes: tuple[ViewChange, ...]) -> bytes | None:
        """The block a NEW-VIEW built on ``view_changes`` must propose: that of the highest
        prepared certificate among them, or None when no one prepared anything."""
        best: PreparedCertificate | None = None
        for vc in view_changes:
            p = vc.prepared
            if p is not None and (
                best is None or (p.view, p.block_hash) > (best.view, best.block_hash)
            ):
                best = p
        return None if best is None else best.block_hash

    def _maybe_send_new_view(self, view: int, out: Output) -> None:
        s = self._s
        vs = s.validators
        if (
            self._key is None
            or vs is None
            or view != s.view
            or not s.view_change_sent
            or not self._can_vote()
            or view in s.proposals
            or s.prepared_hash is not None  # proposed before a restart: never a second block
            or self._proposer(view) != self._me
        ):
            return
        collected = s.view_changes.get(view, {})
        if len(collected) < vs.quorum:
            return
        chosen = tuple(collected[k] for k in sorted(collected)[: vs.quorum])
        required = self._required_hash(chosen)
        if required is None:
            block = self._app.propose(self._height, view, self._now_ms)
        elif required in s.blocks:
            block = s.blocks[required]
        else:
            # No body for the prepared block (no VIEW-CHANGE carried it and it never
            # reached us): the view times out and the next proposer, who may have it,
            # tries. Proposing anything else would be refused by every honest validator.
            return
        nv = NewView.create(self._key, self.chain_id, self._height, view, chosen, block)
        s.new_views[view] = nv
        s.view_change_sent = False
        s.view_timer_running = True
        s.deadline_ms = self._now_ms + self._view_timeout(view)
        out.broadcast.append(nv)
        self._on_proposal(view, block, out)

    def _on_new_view(self, nv: NewView, out: Output) -> None:
        s = self._s
        vs = s.validators
        assert vs is not None
        w = nv.view
        if w < s.view or w > s.view + self.config.max_future_views:
            return
        if nv.proposer != self._proposer(w) or not self._authentic(nv):
            return
        first = s.new_views.get(w)
        if first is not None:
            if first.block.hash != nv.block.hash:
                self._record_equivocation(nv.proposer, (0, w, 2), first, nv)
                if w == s.view:
                    self._start_view_change(w + 1, out)
            return
        senders = [vc.validator for vc in nv.view_changes]
        if (
            len(senders) < vs.quorum
            or senders != sorted(set(senders))
            or not all(
                vc.new_view == w and self._view_change_valid(vc, vs) for vc in nv.view_changes
            )
        ):
            return
        s.new_views[w] = nv
        required = self._required_hash(nv.view_changes)
        if required is not None and required != nv.block.hash:
            # Signed proof that the proposer of w tried to replace a prepared block.
            self._start_view_change(w + 1, out)
            return
        if w > s.view:
            s.view = w
            s.idle = False
            s.prepared_hash = None
            s.committed_hash = None
            out.view_changes += 1
        s.view_change_sent = False
        s.view_timer_running = True
        s.deadline_ms = self._now_ms + self._view_timeout(w)
        self._on_proposal(w, nv.block, out)
