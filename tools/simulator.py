"""A deterministic simulator of a validator network running the real consensus code.

N replicas (consensus.replica.Replica, unchanged) run in one process over a simulated
network and clock, all driven by one seed, in the manner of TigerBeetle's VOPR: random
delays, drops, duplicates and reordering, partitions that heal, crash-and-restart that
loses everything not in the vote log, clock skew, a proposer that equivocates, and up to
f validators that send conflicting or garbage votes. Unless fixed by the caller, the
fault rates themselves are drawn from the seed.

After every step the simulator checks the invariants: no two honest replicas decide
different blocks at one height, every decided block carries a valid certificate, and
after the faults heal every honest replica keeps deciding within a bound. The first
violation ends the run; its seed and options reproduce it exactly.
"""

from __future__ import annotations

import heapq
import multiprocessing
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from consensus.api import Message, Output
from consensus.messages import Commit, Prepare, PrePrepare, decode_message
from consensus.replica import Replica, ReplicaConfig, absent_timeout_ms_for
from consensus.verifier import SignatureVerifier
from core.crypto import PrivateKey
from core.errors import DecodeError
from core.types import Block, CommitCertificate, Validator, ValidatorSet, Vote
from tools.simnet import (
    Network,
    NetworkModel,
    bundle_bytes,
    percentile,
    signatures_in,
    txs_in,
)
from tools.simulator_app import MemoryVoteLog, ToyApplication

CHAIN_ID = "hkchain-sim"
MAX_EVENTS_PER_RUN = 20_000_000
MAX_DECODE_MEMO = 4_096
# How often a node looks for validators it has had no link to (node/service.py,
# ``_watch_absent``).
ABSENT_CHECK_MS = 1_000

ReplicaFactory = Callable[..., Replica]


@dataclass(frozen=True)
class FaultRates:
    """How hostile one run is. Probabilities in per-mille, times in simulated ms."""

    drop_permille: int = 0
    duplicate_permille: int = 0
    min_delay_ms: int = 1
    max_delay_ms: int = 20
    partition_permille: int = 0  # chance per 500 ms of chaos that a partition starts
    crash_permille: int = 0  # chance per 500 ms of chaos that a replica crashes
    max_clock_skew_ms: int = 0
    # An adaptive adversary: chance that a replica is cut off from everyone the moment it
    # decides, so the others must finish the height without its decision.
    isolate_permille: int = 0
    byzantine: int = 0  # validators sending conflicting and garbage votes (at most f)
    equivocate: bool = False  # byzantine proposers send different blocks to different peers
    reconfigure: bool = False  # the validator set shrinks and grows every RECONFIGURE_PERIOD

    @staticmethod
    def random_for(rng: random.Random, validators: int) -> FaultRates:
        f = (validators - 1) // 3
        byzantine = rng.randint(0, f)
        return FaultRates(
            drop_permille=rng.choice([0, 10, 50, 150, 300]),
            duplicate_permille=rng.choice([0, 20, 100]),
            min_delay_ms=1,
            max_delay_ms=rng.choice([5, 20, 60, 150]),
            partition_permille=rng.choice([0, 50, 200]),
            crash_permille=rng.choice([0, 50, 200]),
            max_clock_skew_ms=rng.choice([0, 50, 500]),
            isolate_permille=rng.choice([0, 100, 300]),
            byzantine=byzantine,
            equivocate=byzantine > 0 and rng.random() < 0.7,
            reconfigure=(validators - 2) // 3 >= byzantine and rng.random() < 0.5,
        )

    def as_options(self) -> str:
        """The `hkchain simulate` options that fix these rates."""
        return (
            f"--drop {self.drop_permille} --duplicate {self.duplicate_permille} "
            f"--max-delay {self.max_delay_ms} --partition {self.partition_permille} "
            f"--crash {self.crash_permille} --skew {self.max_clock_skew_ms} "
            f"--isolate {self.isolate_permille} "
            f"--byzantine {self.byzantine} --{'' if self.equivocate else 'no-'}equivocate "
            f"--{'' if self.reconfigure else 'no-'}reconfigure"
        )


NO_FAULTS = FaultRates()
RECONFIGURE_PERIOD = 7  # heights between validator-set changes when reconfiguring


@dataclass(frozen=True)
class SimulationOptions:
    validators: int = 4
    heights: int = 30
    seed: int = 0
    faults: FaultRates | None = None  # None: drawn from the seed
    # Fields of FaultRates fixed by the caller over the drawn (or given) rates.
    fault_overrides: tuple[tuple[str, int | bool], ...] = ()
    view_timeout_ms: int = 200
    max_view_timeout_ms: int = 1_600
    chaos_ms: int | None = None  # how long faults last; None: until half the heights
    block_bytes: int = 0  # tx bytes per block (0: a few small txs; at most MAX_BLOCK_TX_BYTES)
    # The network model (tools/simnet.py): link latency, uplink queueing and CPU costs in
    # place of the fault rates' uniform delay. None: the plain model, as pinned seeds expect.
    network: NetworkModel | None = None
    crashed: int = 0  # validators down for the whole run (at most f)
    # Light load: txs arrive at this rate, and a block carries those since the last one.
    tx_rate_per_s: int = 0
    # The node's batching rule (node/service.py, ``_pace``): the proposer of view 0 waits
    # this long after its last decision before proposing (at most half a view timeout).
    batch_interval_ms: int = 0
    # The node's rule for a proposer that is down (node/service.py, ``ABSENT_AFTER_S``): a
    # validator down this long is taken as down by every replica, and a view it proposes
    # waits ``absent_timeout_ms_for`` the view timeout. 0: off, as pinned seeds expect.
    absent_after_ms: int = 0
    # View 0 of a proposer that missed its last turn waits at most this long (the node's
    # ``MISSED_TURN_TIMEOUT_MS``; ``ReplicaConfig.missed_turn_timeout_ms``). 0: off.
    missed_turn_ms: int = 0

    def replica_config(self) -> ReplicaConfig:
        return ReplicaConfig(
            view_timeout_ms=self.view_timeout_ms,
            timeout_backoff=2,
            max_view_timeout_ms=self.max_view_timeout_ms,
            catch_up_interval_ms=self.view_timeout_ms,
            absent_timeout_ms=(absent_timeout_ms_for(self.view_timeout_ms)
                               if self.absent_after_ms else 0),
            missed_turn_timeout_ms=min(self.missed_turn_ms, self.view_timeout_ms),
        )


@dataclass
class SimulationResult:
    seed: int
    validators: int
    faults: FaultRates
    violation: str | None = None
    heights_decided: int = 0  # highest height every honest replica reached
    view_changes: int = 0
    messages: int = 0  # point-to-point deliveries attempted (before drops)
    decisions: int = 0
    crashes: int = 0
    syncs: int = 0
    evidence: int = 0  # equivocations recorded by honest replicas
    absences: int = 0  # times a replica was told of a validator newly taken as down
    simulated_ms: int = 0
    heal_ms: int = 0
    # With the network model: commit latency samples (µs from the moment a height opened,
    # when the first honest replica decided the one before, to each honest decision), and
    # what each node sent and spent.
    latencies_us: list[int] = field(default_factory=list)
    bytes_sent: list[int] = field(default_factory=list)
    messages_sent: list[int] = field(default_factory=list)
    cpu_busy_us: list[int] = field(default_factory=list)

    def latency_ms(self, permille: int) -> float:
        return percentile(sorted(self.latencies_us), permille) / 1000

    @property
    def ok(self) -> bool:
        return self.violation is None


class Violation(Exception):
    pass


@dataclass
class _Node:
    index: int
    key: PrivateKey
    app: ToyApplication
    log: MemoryVoteLog
    skew_ms: int
    byzantine: bool
    replica: Replica | None = None
    wake_token: int = 0
    height_progress_ms: int = 0
    decided_ms: int = 0  # when it last decided a height
    partition_side: int = 0
    up_at_ms: int | None = None  # restart time while crashed
    down: bool = False  # crashed for the whole run
    down_since_ms: int | None = None  # when its replica last stopped, while it is down
    booted_ms: int = 0  # when its replica last started
    absent: frozenset[bytes] = frozenset()  # what its replica was last told is down


# Event kinds, ordered only by (time, sequence number).
_DELIVER, _WAKE, _RESTART, _SYNC, _CHAOS, _CHECK, _REJOIN, _ARRIVE, _ABSENT = range(9)


# An event: (time_ms, sequence number, kind, node index, payload); the sequence number
# makes the order total, so ties never compare payloads.
_Event = tuple[int, int, int, int, object]


class Simulation:
    """One seeded run. ``replica_factory`` lets tests plug in a deliberately broken replica."""

    def __init__(
        self, options: SimulationOptions, replica_factory: ReplicaFactory = Replica
    ) -> None:
        self.options = options
        self.rng = random.Random(options.seed)
        # Drawn even when given, so a run replays exactly from its printed options.
        drawn = FaultRates.random_for(self.rng, options.validators)
        faults = options.faults or drawn
        if options.fault_overrides:
            fields: dict[str, Any] = dict(options.fault_overrides)
            faults = replace(faults, **fields)
        f = (options.validators - 1) // 3
        if faults.byzantine > f:
            raise ValueError(f"at most f = {f} byzantine validators for n = {options.validators}")
        if faults.byzantine + options.crashed > f:
            raise ValueError(f"at most f = {f} crashed and byzantine validators together")
        self.faults = faults
        self.replica_factory = replica_factory
        self.config = options.replica_config()
        self.verifier = SignatureVerifier(1 << 18)  # shared by the replicas: a pure memo
        self.checker = SignatureVerifier(1 << 16)  # the invariant checker's own
        n = options.validators
        keys = [PrivateKey.from_seed_text(f"sim-validator-{i}") for i in range(n)]
        self.full_set = ValidatorSet(
            tuple(Validator(k.public_key, f"v{i}") for i, k in enumerate(keys))
        )
        self.small_set = ValidatorSet(self.full_set.validators[:-1])
        order = list(range(n - 1))  # the last validator may leave the set: keep it honest
        self.rng.shuffle(order)
        byzantine = set(order[: faults.byzantine])
        self.nodes = [
            _Node(
                i,
                keys[i],
                ToyApplication(CHAIN_ID, self.schedule, self.checker,
                               block_bytes=options.block_bytes,
                               tx_rate_per_s=options.tx_rate_per_s),
                MemoryVoteLog(),
                self.rng.randint(-faults.max_clock_skew_ms, faults.max_clock_skew_ms),
                i in byzantine,
            )
            for i in range(n)
        ]
        self.by_key = {node.key.public_key: node for node in self.nodes}
        if options.crashed:
            # Drawn from its own generator, so runs without crashed validators replay as before.
            down_rng = random.Random(f"hkchain-sim-down-{options.seed}")
            for i in down_rng.sample([i for i in order if i not in byzantine], options.crashed):
                self.nodes[i].down = True
                self.nodes[i].down_since_ms = 0
        self.network = (
            Network(options.network, n, options.seed, options.tx_rate_per_s)
            if options.network is not None
            else None
        )
        # With a vote collector: (collector, kind, height, view, block hash) -> the signed
        # votes it gathered, in arrival order, until they make a quorum.
        self.collected: dict[tuple[int, int, int, int, bytes], dict[bytes, bytes]] = {}
        self.now_us = 0  # with the network model: the exact time of the event being handled
        self.opened_us: dict[int, int] = {1: 0}  # height -> when its predecessor was first decided
        self.result = SimulationResult(options.seed, n, faults)
        self.ledger: dict[int, tuple[Block, CommitCertificate]] = {}
        self.now_ms = 0
        self.healed = False
        self.events: list[_Event] = []
        self.seq = 0
        self.decode_memo: dict[bytes, Message] = {}
        max_delay_ms = faults.max_delay_ms
        if options.network is not None:
            max_delay_ms = max(max_delay_ms, options.network.latency_max_us // 1000 + 1)
        self.liveness_bound_ms = (f + 4) * 2 * options.max_view_timeout_ms + 20 * max_delay_ms
        self.chaos_until_ms = options.chaos_ms
        self.isolation = 0  # token of the adversary's latest isolation
        self.progressed = True  # a replica committed since the end condition was checked

    # --- the validator-set schedule (governance stand-in) ---------------------------------

    def schedule(self, height: int) -> ValidatorSet:
        if self.faults.reconfigure and (height // RECONFIGURE_PERIOD) % 2 == 1:
            return self.small_set
        return self.full_set

    # --- event plumbing ------------------------------------------------------------------------

    def _push(self, time_ms: int, kind: int, node: int, payload: object = None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (time_ms, self.seq, kind, node, payload))

    def _local(self, node: _Node) -> int:
        return self.now_ms + node.skew_ms + self.faults.max_clock_skew_ms

    def _delay(self) -> int:
        return self.rng.randint(self.faults.min_delay_ms, self.faults.max_delay_ms)

    def _send_bytes(self, src: _Node, dst: _Node, data: bytes | tuple[bytes, ...],
                    size: int | None = None) -> None:
        """Send one message, or (network model only) a collector's bundle of votes, which
        takes ``size`` bytes of the uplink."""
        self.result.messages += 1
        if self.network is not None:
            if size is None:
                assert isinstance(data, bytes)
                msg = self._decode(data)
                size = len(data) if msg is None else self.network.model.wire_bytes(msg, data)
            # The uplink is spent even if the message is lost on the way.
            arrive_us = self.network.send(self.now_us, src.index, dst.index, size)
            if not self.healed:
                if src.partition_side != dst.partition_side:
                    return
                if self.rng.randrange(1000) < self.faults.drop_permille:
                    return
            self._push(-(-arrive_us // 1000), _ARRIVE, dst.index, (data, arrive_us))
            return
        assert isinstance(data, bytes)
        if not self.healed:
            if src.partition_side != dst.partition_side:
                return
            if self.rng.randrange(1000) < self.faults.drop_permille:
                return
        self._push(self.now_ms + self._delay(), _DELIVER, dst.index, data)
        if self.rng.randrange(1000) < self.faults.duplicate_permille:
            self._push(self.now_ms + self._delay(), _DELIVER, dst.index, data)

    # --- running ---------------------------------------------------------------------------------

    def run(self) -> SimulationResult:
        try:
            self._run()
        except Violation as exc:
            self.result.violation = str(exc)
        except AssertionError as exc:  # a replica or the toy application broke a contract
            self.result.violation = f"contract broken at {self.now_ms} ms: {exc}"
        self.result.simulated_ms = self.now_ms
        self.result.heights_decided = min(n.app.height for n in self._honest())
        self.result.evidence = sum(
            len(n.replica.evidence) for n in self._honest() if n.replica is not None
        )
        if self.network is not None:
            self.network.add_gossip(self.now_ms * 1000, [not n.down for n in self.nodes])
            self.result.bytes_sent = list(self.network.bytes_sent)
            self.result.messages_sent = list(self.network.messages_sent)
            self.result.cpu_busy_us = list(self.network.cpu_busy_us)
        return self.result

    def _honest(self) -> list[_Node]:
        return [n for n in self.nodes if not n.byzantine and not n.down]

    def _run(self) -> None:
        for node in self.nodes:
            if not node.down:
                self._boot(node)
        self._push(500, _CHAOS, -1)
        self._push(self.liveness_bound_ms // 4, _CHECK, -1)
        if self.options.absent_after_ms:
            self._push(ABSENT_CHECK_MS, _ABSENT, -1)
        target = self.options.heights
        honest = self._honest()
        for _ in range(MAX_EVENTS_PER_RUN):
            if self.progressed:
                self.progressed = False
                if all(n.app.height >= target for n in honest):
                    return
            if not self.events:
                raise Violation("no events left before every honest replica decided")
            ev = heapq.heappop(self.events)
            self.now_ms = ev[0]
            self.now_us = self.now_ms * 1000
            self._dispatch(ev)
            if not self.healed and self._should_heal():
                self._heal()
        raise Violation(f"event budget of {MAX_EVENTS_PER_RUN} exhausted")

    def _should_heal(self) -> bool:
        if self.chaos_until_ms is not None:
            return self.now_ms >= self.chaos_until_ms
        return (
            len(self.ledger) >= self.options.heights // 2
            or self.now_ms >= self.options.heights * self.options.max_view_timeout_ms
        )

    def _heal(self) -> None:
        self.healed = True
        self.result.heal_ms = self.now_ms
        for node in self.nodes:
            node.partition_side = 0
            node.height_progress_ms = self.now_ms
            if node.replica is None and not node.down:
                self._boot(node)

    def _dispatch(self, ev: _Event) -> None:
        _, _, kind, index, payload = ev
        if kind == _CHAOS:
            self._chaos()
            return
        if kind == _REJOIN:
            if self.isolation == payload:
                for n in self.nodes:
                    n.partition_side = 0
            return
        if kind == _CHECK:
            self._check_liveness()
            self._push(self.now_ms + self.liveness_bound_ms // 4, _CHECK, -1)
            return
        if kind == _ABSENT:
            self._tell_absent()
            self._push(self.now_ms + ABSENT_CHECK_MS, _ABSENT, -1)
            return
        node = self.nodes[index]
        if kind == _RESTART:
            if node.replica is None and node.up_at_ms == ev[0]:
                self._boot(node)
            return
        replica = node.replica
        if replica is None:
            return  # a crashed replica hears nothing
        if kind == _ARRIVE:
            assert isinstance(payload, tuple) and self.network is not None
            data, arrive_us = payload
            if isinstance(data, tuple):  # a collector's bundle: each vote checked, then handled
                ready_us = self.network.process(max(arrive_us, self.now_us), index, len(data), 0)
                for vote in data:
                    self._push(-(-ready_us // 1000), _DELIVER, index, (vote, ready_us))
                return
            msg = self._decode(data)
            if msg is None:
                return
            txs_verified = self.network.model.gossip_fanout > 0
            ready_us = self.network.process(
                max(arrive_us, self.now_us), index, signatures_in(msg, txs_verified), txs_in(msg)
            )
            self._push(-(-ready_us // 1000), _DELIVER, index, (data, ready_us))
            return
        if kind == _WAKE:
            if payload == node.wake_token:
                self._apply(node, replica.on_tick(self._local(node)))
        elif kind == _DELIVER:
            if isinstance(payload, tuple):  # the network model: handled at an exact µs
                payload, self.now_us = payload
            assert isinstance(payload, bytes)
            msg = self._decode(payload)
            if msg is not None:
                if self._collecting(node, msg):
                    self._collect(node, msg, payload)
                self._apply(node, replica.on_message(msg, self._local(node)))
        elif kind == _SYNC:
            assert isinstance(payload, int)
            self._sync(node, replica, payload)

    def _decode(self, data: bytes) -> Message | None:
        msg = self.decode_memo.get(data)
        if msg is None:
            try:
                msg = decode_message(data)
            except DecodeError:
                return None  # garbage is dropped by the host, as the node's p2p layer does
            if len(self.decode_memo) >= MAX_DECODE_MEMO:
                self.decode_memo.clear()
            self.decode_memo[data] = msg
        return msg

    @staticmethod
    def _last_commit(node: _Node) -> tuple[Block, CommitCertificate] | None:
        if not node.app.blocks:
            return None
        return node.app.blocks[-1], node.app.certificates[-1]

    def _boot(self, node: _Node) -> None:
        node.up_at_ms = None
        node.down_since_ms = None
        node.booted_ms = self.now_ms
        node.absent = frozenset()  # a new replica has heard of no one down
        node.replica = self.replica_factory(
            CHAIN_ID,
            node.key,
            node.app,
            node.log,
            node.app.height + 1,
            self.config,
            verifier=self.verifier,
            last_commit=self._last_commit(node),
        )
        node.height_progress_ms = max(node.height_progress_ms, self.now_ms)
        self._apply(node, node.replica.start(self._local(node)))

    def _tell_absent(self) -> None:
        """Every running replica hears which validators have been down for
        ``absent_after_ms``, counted from its own start, as a node counts the time without a
        link to each (node/service.py, ``_update_absent``). A crashed validator's links are
        gone for everyone; a byzantine one keeps its links, so it is never taken as down, and
        neither is one across a partition (links are not modelled)."""
        after = self.options.absent_after_ms
        for node in self.nodes:
            replica = node.replica
            if replica is None:
                continue
            absent = frozenset(
                other.key.public_key for other in self.nodes
                if other.down_since_ms is not None
                and self.now_ms - max(other.down_since_ms, node.booted_ms) >= after
            )
            if absent != node.absent:
                self.result.absences += len(absent - node.absent)
                node.absent = absent
                self._apply(node, replica.on_absent(absent, self._local(node)))

    # --- faults ------------------------------------------------------------------------------------

    def _chaos(self) -> None:
        if self.healed:
            return
        fr = self.faults
        if self.rng.randrange(1000) < fr.partition_permille:
            sides = [self.rng.randrange(2) for _ in self.nodes]
            for node, side in zip(self.nodes, sides, strict=True):
                node.partition_side = side
        elif any(n.partition_side for n in self.nodes) and self.rng.randrange(3) == 0:
            for node in self.nodes:
                node.partition_side = 0
        if self.rng.randrange(1000) < fr.crash_permille:
            node = self.rng.choice(self.nodes)
            if node.replica is not None:
                node.replica = None
                node.down_since_ms = self.now_ms
                node.up_at_ms = self.now_ms + self.rng.randint(50, 3_000)
                self.result.crashes += 1
                self._push(node.up_at_ms, _RESTART, node.index)
        self._push(self.now_ms + 500, _CHAOS, -1)

    def _byzantine_extras(self, node: _Node, msg: Message, data: bytes) -> dict[int, list[bytes]]:
        """What a byzantine validator sends each peer instead of one honest broadcast."""
        rng = self.rng
        swaps: dict[int, list[bytes]] = {}
        peers = [p.index for p in self.nodes if p is not node]
        if (
            isinstance(msg, PrePrepare)
            and self.faults.equivocate
            and msg.height == node.app.height + 1
        ):
            block = node.app.propose(msg.height, 0, msg.block.header.timestamp_ms + 1)
            other = PrePrepare.create(node.key, CHAIN_ID, msg.height, 0, block).encode()
            for i in peers[: len(peers) // 2]:
                swaps[i] = [other]
        elif isinstance(msg, Prepare | Commit):
            v = msg.vote
            fake = rng.randbytes(32)
            conflicting = Vote.create(node.key, v.kind, v.chain_id, v.height, v.view, fake)
            wrapped = (Prepare if isinstance(msg, Prepare) else Commit)(conflicting).encode()
            for i in peers:
                roll = rng.randrange(10)
                if roll < 2:
                    swaps[i] = [wrapped, data] if rng.randrange(2) else [data, wrapped]
                elif roll == 2:
                    swaps[i] = [wrapped]
                elif roll == 3:
                    swaps[i] = [self._garbage(data), data]
        return swaps

    def _garbage(self, data: bytes) -> bytes:
        rng = self.rng
        kind = rng.randrange(4)
        if kind == 0:
            return rng.randbytes(rng.randint(0, 64))
        if kind == 1:
            return data[: rng.randint(0, len(data) - 1)]
        if kind == 2:  # one flipped byte: a bad signature, or undecodable
            i = rng.randrange(len(data))
            return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
        return data + b"\x00"

    # --- outputs and invariants --------------------------------------------------------------------

    def _apply(self, node: _Node, out: Output) -> None:
        self.result.view_changes += out.view_changes
        for block, cert in out.decided:
            self._on_decided(node, block, cert)
        for msg in out.broadcast:
            data = msg.encode()
            if self._collecting(node, msg) and not node.byzantine:
                assert isinstance(msg, Prepare | Commit)
                collector = self._collector_of(node, msg)
                if collector is node:
                    self._collect(node, msg, data)
                else:
                    self._send_bytes(node, collector, data)
                continue
            swaps = self._byzantine_extras(node, msg, data) if node.byzantine else {}
            for peer in self.nodes:
                if peer is not node:
                    for payload in swaps.get(peer.index, (data,)):
                        self._send_bytes(node, peer, payload)
        for recipient, msg in out.send:
            target = self.by_key.get(recipient)
            if target is not None and target is not node:
                self._send_bytes(node, target, msg.encode())
        if out.sync_to_height is not None:
            self._push(
                self.now_ms + 2 * self.faults.max_delay_ms + 1,
                _SYNC,
                node.index,
                out.sync_to_height,
            )
        if out.wake_at_ms is not None:
            node.wake_token += 1
            at = max(self.now_ms, out.wake_at_ms - node.skew_ms - self.faults.max_clock_skew_ms)
            self._push(self._paced(node, at), _WAKE, node.index, node.wake_token)

    # --- the vote collector (network model) -------------------------------------------------------

    def _collecting(self, node: _Node, msg: Message) -> bool:
        """Whether ``msg`` is a vote that travels through a collector in this run."""
        return (self.network is not None and self.network.model.vote_collector
                and isinstance(msg, Prepare | Commit))

    def _collector_of(self, node: _Node, msg: Prepare | Commit) -> _Node:
        """The collector of a vote's (height, view): that view's proposer, as ``node``
        (the vote's sender) names it from its chain."""
        last = node.app.proposer_of(msg.height - 1)
        return self.by_key[self.schedule(msg.height).proposer(msg.height, msg.view, last)]

    def _collect(self, node: _Node, msg: Message, data: bytes) -> None:
        """The collector gathers a vote; at a quorum it sends the bundle to every validator.
        A byzantine collector keeps its bundles: the view times out, as with a silent
        proposer."""
        assert isinstance(msg, Prepare | Commit)
        v = msg.vote
        if self._collector_of(node, msg) is not node or node.byzantine:
            return
        vs = self.schedule(v.height)
        if v.validator not in vs or not self.checker.verify_vote(v):
            return
        key = (node.index, v.kind, v.height, v.view, v.block_hash)
        votes = self.collected.setdefault(key, {})
        if len(votes) >= vs.quorum or v.validator in votes:
            return
        votes[v.validator] = data
        if len(votes) < vs.quorum:
            return
        bundle = tuple(votes.values())
        for peer in self.nodes:
            if peer is not node:
                self._send_bytes(node, peer, bundle, bundle_bytes(len(bundle)))

    def _paced(self, node: _Node, at: int) -> int:
        """The node's batching rule: a wake due now of the proposer of view 0 is put off
        until ``batch_interval_ms`` after its last decision."""
        wait = min(self.options.batch_interval_ms, self.options.view_timeout_ms // 2)
        replica = node.replica
        if not wait or at > self.now_ms or replica is None or replica.view != 0:
            return at
        vs = replica.validators
        if vs is None or vs.proposer(replica.height, 0) != node.key.public_key:
            return at
        return max(at, node.decided_ms + wait)

    def _on_decided(self, node: _Node, block: Block, cert: CommitCertificate) -> None:
        self.result.decisions += 1
        self.progressed = True
        node.height_progress_ms = self.now_ms
        node.decided_ms = self.now_ms
        h = block.height
        if self.network is not None and not node.byzantine:
            self.opened_us.setdefault(h + 1, self.now_us)
            self.result.latencies_us.append(self.now_us - self.opened_us.get(h, self.now_us))
        if not self.healed and self.rng.randrange(1000) < self.faults.isolate_permille:
            self.isolation += 1
            for n in self.nodes:
                n.partition_side = 1 if n is node else 0
            self._push(self.now_ms + self.rng.randint(100, 3_000), _REJOIN, -1, self.isolation)
        if not node.app.certificate_valid(block, cert):
            raise Violation(f"replica {node.index} decided height {h} without a valid certificate")
        # A byzantine validator's decision counts as well: its certificate was checked
        # just above, and two certified blocks at one height break safety whoever holds them.
        known = self.ledger.get(h)
        if known is None:
            self.ledger[h] = (block, cert)
        elif known[0].hash != block.hash:
            raise Violation(
                f"safety: replica {node.index} decided {block.hash.hex()[:16]} at height {h}, "
                f"another replica decided {known[0].hash.hex()[:16]}"
            )

    def _sync(self, node: _Node, replica: Replica, target: int) -> None:
        start = node.app.height
        while node.app.height < target and node.app.height + 1 in self.ledger:
            block, cert = self.ledger[node.app.height + 1]
            if not node.app.validate(block) or not node.app.certificate_valid(block, cert):
                raise Violation(f"replica {node.index} cannot sync height {block.height}")
            node.app.commit(block, cert)
        if node.app.height > start:
            self.result.syncs += 1
            self.progressed = True
            node.height_progress_ms = self.now_ms
            self._apply(
                node, replica.on_synced(node.app.height, self._local(node), self._last_commit(node))
            )

    def _check_liveness(self) -> None:
        if not self.healed:
            return
        for node in self._honest():
            if node.app.height >= self.options.heights:
                continue
            stalled = self.now_ms - max(node.height_progress_ms, self.result.heal_ms)
            if stalled > self.liveness_bound_ms:
                raise Violation(
                    f"liveness: replica {node.index} decided nothing for {stalled} ms after the "
                    f"faults healed (bound {self.liveness_bound_ms} ms) at height {node.app.height + 1}"
                )


def run_simulation(
    options: SimulationOptions, replica_factory: ReplicaFactory = Replica
) -> SimulationResult:
    """Run one seeded simulation and return what it saw (``violation`` set on failure)."""
    return Simulation(options, replica_factory).run()


def reproduce_command(options: SimulationOptions, faults: FaultRates) -> str:
    """The command line that replays one run exactly."""
    return (
        f"hkchain simulate --validators {options.validators} --heights {options.heights} "
        f"--first-seed {options.seed} --seeds 1 --view-timeout {options.view_timeout_ms} "
        + (f"--block-bytes {options.block_bytes} " if options.block_bytes else "")
        + (f"--crashed {options.crashed} " if options.crashed else "")
        + (f"--tx-rate {options.tx_rate_per_s} " if options.tx_rate_per_s else "")
        + (f"--batch-ms {options.batch_interval_ms} " if options.batch_interval_ms else "")
        + (f"--absent-after {options.absent_after_ms} " if options.absent_after_ms else "")
        + (f"--missed-turn {options.missed_turn_ms} " if options.missed_turn_ms else "")
        + (f"--fault-ms {options.chaos_ms} " if options.chaos_ms is not None else "")
        + (_network_options(options.network) if options.network is not None else "")
        + faults.as_options()
    )


def _network_options(model: NetworkModel) -> str:
    return (
        f"--network --latency {model.latency_min_us // 1000} {model.latency_max_us // 1000} "
        f"--uplink-mbit {model.uplink_bits_per_s // 1_000_000} "
        + (f"--message-us {model.message_us} " if model.message_us else "")
        + (f"--host-cores {model.host_cores} " if model.host_cores else "")
        + (f"--gossip-fanout {model.gossip_fanout} " if model.gossip_fanout else "")
        + ("--proposals-by-reference " if model.proposals_by_reference else "")
        + ("--vote-collector " if model.vote_collector else "")
    )


@dataclass
class CampaignSummary:
    """What a series of seeded runs saw, for `hkchain simulate` and the issue's figures."""

    runs: int = 0
    failures: list[tuple[SimulationResult, str]] = field(default_factory=list)
    heights: int = 0
    view_changes: int = 0
    messages: int = 0
    crashes: int = 0
    syncs: int = 0
    evidence: int = 0
    wall_s: float = 0.0

    def add(self, result: SimulationResult, options: SimulationOptions) -> None:
        self.runs += 1
        self.heights += result.heights_decided
        self.view_changes += result.view_changes
        self.messages += result.messages
        self.crashes += result.crashes
        self.syncs += result.syncs
        self.evidence += result.evidence
        if not result.ok:
            self.failures.append((result, reproduce_command(options, result.faults)))


def _run_one(options: SimulationOptions) -> SimulationResult:
    return run_simulation(options)


def run_campaign(
    base: SimulationOptions,
    seeds: int,
    jobs: int = 1,
    on_result: Callable[[SimulationResult, SimulationOptions], None] | None = None,
) -> CampaignSummary:
    """Run seeds base.seed, base.seed + 1, … (in ``jobs`` worker processes) and sum up.
    Only the campaign's wall time is measured; the simulations never read a clock."""
    all_options = [replace(base, seed=base.seed + i) for i in range(seeds)]
    summary = CampaignSummary()
    started = time.monotonic()

    def collect(results: Iterable[SimulationResult]) -> None:
        for options, result in zip(all_options, results, strict=True):
            summary.add(result, options)
            if on_result is not None:
                on_result(result, options)

    if jobs <= 1:
        collect(map(_run_one, all_options))
    else:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            collect(pool.imap(_run_one, all_options, chunksize=4))
    summary.wall_s = time.monotonic() - started
    return summary


__all__ = [
    "NO_FAULTS",
    "CampaignSummary",
    "FaultRates",
    "Simulation",
    "SimulationOptions",
    "SimulationResult",
    "reproduce_command",
    "run_campaign",
    "run_simulation",
]
