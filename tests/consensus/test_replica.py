"""The replica on its own: normal case, view changes, the vote log across restarts, and
input it must drop without side effects."""

from __future__ import annotations

import dataclasses

import pytest

from consensus.api import Message
from consensus.messages import Commit, NewView, Prepare, PrePrepare, ViewChange
from consensus.replica import Replica, ReplicaConfig
from core.crypto import PrivateKey
from core.types import VOTE_COMMIT, VOTE_PREPARE, Vote
from tests.consensus.helpers import (
    CHAIN_ID,
    CONFIG,
    KEYS,
    OUTSIDER,
    VALIDATORS,
    Cluster,
    key_of_proposer,
    new_app,
)
from tools.simulator_app import MemoryVoteLog


def index_of(key: PrivateKey) -> int:
    return KEYS.index(key)


def test_four_validators_decide_the_same_blocks_with_valid_certificates() -> None:
    c = Cluster()
    c.start()
    c.deliver_all(until_height=8)  # nothing times out: heights follow without any tick
    assert min(c.heights()) == 8
    decided = [[b.hash for b, _ in c.decided[i]][:7] for i in range(4)]
    assert all(len(d) == 7 for d in decided)
    assert decided[1] == decided[0] and decided[2] == decided[0] and decided[3] == decided[0]
    for block, cert in c.decided[0]:
        cert.verify(CHAIN_ID, VALIDATORS)
        assert cert.block_hash == block.hash
    assert c.view_changes == 0


def test_a_silent_proposer_is_replaced_by_a_view_change() -> None:
    c = Cluster()
    silent = index_of(key_of_proposer(1, 0))
    c.down = {silent}
    c.start()
    c.deliver_all()
    assert c.heights() == [1, 1, 1, 1]
    c.tick(CONFIG.view_timeout_ms, until_height=2)  # view 0 times out everywhere
    alive = [i for i in range(4) if i != silent]
    assert all(c.replicas[i].height == 2 for i in alive)
    assert all(c.decided[i][0][1].view == 1 for i in alive)
    assert c.view_changes >= 3


def test_new_view_re_proposes_a_prepared_block() -> None:
    c = Cluster()
    # Every COMMIT is lost: the block is prepared everywhere, decided nowhere.
    c.drop = lambda _to, msg: isinstance(msg, Commit)
    c.start()
    c.deliver_all()
    prepared = c.replicas[0].prepared
    assert prepared is not None and c.heights() == [1, 1, 1, 1]
    c.drop = lambda _to, _msg: False
    c.tick(CONFIG.view_timeout_ms, until_height=2)
    assert c.heights() == [2, 2, 2, 2]
    for i in range(4):
        block, cert = c.decided[i][0]
        assert block.hash == prepared.block_hash  # the prepared block, not a new one
        assert cert.view >= 1


def test_a_height_costs_a_validator_two_synced_vote_records() -> None:
    """Before its PREPARE, and once prepared, before its COMMIT: the prepared certificate
    and the commit go into one record, so a height is two synced writes, not three."""
    c = Cluster()
    c.start()
    c.deliver_all(until_height=6)
    for i, log in enumerate(c.logs):
        assert isinstance(log, MemoryVoteLog)
        decided = len(c.decided[i])
        assert decided >= 5
        # The height in progress may have written its first record already.
        assert 2 * decided <= log.saves <= 2 * decided + 1, (log.saves, decided)


def test_restart_never_signs_a_conflicting_prepare() -> None:
    app, log = new_app(), MemoryVoteLog()
    proposer = key_of_proposer(1, 0)
    me = next(k for k in KEYS if k is not proposer)
    block_a = app.propose(1, 0, 10)
    block_b = app.propose(1, 0, 11)
    assert block_a.hash != block_b.hash
    r = Replica(CHAIN_ID, me, app, log, 1, CONFIG)
    r.start(0)
    out = r.on_message(PrePrepare.create(proposer, CHAIN_ID, 1, 0, block_a), 1)
    assert [m.vote.block_hash for m in out.broadcast if isinstance(m, Prepare)] == [block_a.hash]
    assert log.record is not None  # written before the PREPARE left
    # Crash: everything but the vote log is lost; the equivocating proposer tries again.
    restarted = Replica(CHAIN_ID, me, app, log, 1, CONFIG)
    restarted.start(2)
    out = restarted.on_message(PrePrepare.create(proposer, CHAIN_ID, 1, 0, block_b), 3)
    assert not [m for m in out.broadcast if isinstance(m, Prepare)]
    # The same block again is fine: the same vote is sent again.
    again = Replica(CHAIN_ID, me, app, log, 1, CONFIG)
    again.start(4)
    out = again.on_message(PrePrepare.create(proposer, CHAIN_ID, 1, 0, block_a), 5)
    assert [m.vote.block_hash for m in out.broadcast if isinstance(m, Prepare)] == [block_a.hash]


def test_restart_after_a_view_change_never_votes_in_the_old_view() -> None:
    app, log = new_app(), MemoryVoteLog()
    proposer = key_of_proposer(1, 0)
    me = next(k for k in KEYS if k is not proposer)
    r = Replica(CHAIN_ID, me, app, log, 1, CONFIG)
    r.start(0)
    out = r.on_tick(CONFIG.view_timeout_ms)
    assert out.view_changes == 1 and any(isinstance(m, ViewChange) for m in out.broadcast)
    restarted = Replica(CHAIN_ID, me, app, log, 1, CONFIG)
    assert restarted.view == 1
    out = restarted.start(0)
    assert any(isinstance(m, ViewChange) and m.new_view == 1 for m in out.broadcast)
    late = PrePrepare.create(proposer, CHAIN_ID, 1, 0, app.propose(1, 0, 1))
    out = restarted.on_message(late, 1)
    assert not [m for m in out.broadcast if isinstance(m, Prepare)]


def test_bad_input_is_dropped_without_side_effects() -> None:
    app, log = new_app(), MemoryVoteLog()
    me = KEYS[0]
    r = Replica(CHAIN_ID, me, app, log, 1, CONFIG)
    r.start(0)
    proposer = key_of_proposer(1, 0)
    block = app.propose(1, 0, 1)
    good = PrePrepare.create(proposer, CHAIN_ID, 1, 0, block)
    repeated = ViewChange.create(KEYS[1], CHAIN_ID, 1, 1, None)
    bad_inputs: list[Message] = [
        PrePrepare.create(OUTSIDER, CHAIN_ID, 1, 0, block),  # not a validator
        PrePrepare(CHAIN_ID, 1, 0, block, proposer.public_key, bytes(64)),  # bad signature
        PrePrepare.create(proposer, "other-chain", 1, 0, block),  # another chain
        PrePrepare.create(
            KEYS[(index_of(proposer) + 1) % 4], CHAIN_ID, 1, 0, block
        ),  # not its turn
        Prepare(Vote.create(OUTSIDER, VOTE_PREPARE, CHAIN_ID, 1, 0, block.hash)),
        Commit(Vote(VOTE_COMMIT, CHAIN_ID, 1, 0, block.hash, KEYS[1].public_key, bytes(64))),
        ViewChange.create(KEYS[1], CHAIN_ID, 1 + 10_000, 1, None),  # far future height
        NewView.create(KEYS[2], CHAIN_ID, 1, 1, (), block),  # no view changes at all
        # One VIEW-CHANGE counted three times is not a quorum (built here, not decoded).
        NewView.create(key_of_proposer(1, 1), CHAIN_ID, 1, 1, (repeated,) * 3, block),
    ]
    for msg in bad_inputs:
        out = r.on_message(msg, 1)
        assert out.broadcast == [] and out.decided == [] and out.send == []
        assert out.sync_to_height is None
    assert (r.height, r.view, r.evidence, log.record) == (1, 0, (), None)
    out = r.on_message(good, 2)  # and it still works
    assert any(isinstance(m, Prepare) for m in out.broadcast)


def test_conflicting_votes_are_kept_as_evidence() -> None:
    app = new_app()
    r = Replica(CHAIN_ID, KEYS[0], app, MemoryVoteLog(), 1, CONFIG)
    r.start(0)
    liar = KEYS[2]
    a = Vote.create(liar, VOTE_PREPARE, CHAIN_ID, 1, 0, b"\x01" * 32)
    b = Vote.create(liar, VOTE_PREPARE, CHAIN_ID, 1, 0, b"\x02" * 32)
    r.on_message(Prepare(a), 1)
    r.on_message(Prepare(b), 2)
    r.on_message(Prepare(b), 3)  # the same pair again is not new evidence
    assert len(r.evidence) == 1
    ev = r.evidence[0]
    assert ev.validator == liar.public_key and {ev.first, ev.second} == {a, b}


def test_evidence_taken_by_the_host_makes_room_for_more() -> None:
    r = Replica(CHAIN_ID, KEYS[0], new_app(), MemoryVoteLog(), 1,
                dataclasses.replace(CONFIG, max_evidence=1))
    r.start(0)
    liar = KEYS[2]
    for view, t in ((0, 1), (1, 3)):
        for h in (b"\x01" * 32, b"\x02" * 32):
            r.on_message(Prepare(Vote.create(liar, VOTE_PREPARE, CHAIN_ID, 1, view, h)), t)
        if view == 0:
            assert len(r.evidence) == 1
            taken = r.take_evidence()
            assert len(taken) == 1 and not r.evidence
    # Without the take, the bound of one would have refused the second pair.
    assert [e.first.view for e in r.evidence] == [1]


def test_a_quorum_at_a_higher_height_asks_for_sync_and_buffers_are_bounded() -> None:
    app = new_app()
    r = Replica(CHAIN_ID, KEYS[0], app, MemoryVoteLog(), 1, CONFIG)
    r.start(0)
    syncs = []
    for k in KEYS[1:]:
        vc = ViewChange.create(k, CHAIN_ID, 3, 1, None)
        syncs.append(r.on_message(vc, 1).sync_to_height)
    assert syncs[:-1] == [None, None] and syncs[-1] == 2  # quorum of 3 seen at height 3
    for view in range(1, 500):
        r.on_message(ViewChange.create(KEYS[1], CHAIN_ID, 2, view, None), 2)
    buffered = sum(len(q) for per_height in r._buffer.values() for q in per_height.values())
    assert buffered <= 3 + CONFIG.max_buffered_per_sender


def test_an_observer_follows_without_voting() -> None:
    c = Cluster()
    observer_app = new_app()
    observer = Replica(CHAIN_ID, None, observer_app, MemoryVoteLog(), 1, CONFIG)
    observer.start(0)
    c.start()
    seen = []
    while c.queue and observer.height < 2:
        j, msg = c.queue.pop(0)
        if j == 0:
            out = observer.on_message(msg, 0)
            assert out.broadcast == []
            seen.extend(out.decided)
        c.apply(j, c.replicas[j].on_message(msg, 0))
    assert observer.height == 2 and seen[0][0].hash == c.decided[0][0][0].hash


def test_messages_in_one_step_do_what_one_step_each_does() -> None:
    """A collector's bundle is handed to the replica in one step (on_messages): what it
    asks for is what the same messages, one step each, ask for, in the same order."""
    c = Cluster()
    watched = index_of(next(k for k in KEYS if k is not key_of_proposer(1, 0)))
    seen: list[Message] = []
    c.drop = lambda to, msg: (to == watched and seen.append(msg)) or False  # type: ignore[func-returns-value]
    c.start()
    c.deliver_all(until_height=3)
    assert len(seen) > 10

    def fresh() -> Replica:
        return Replica(CHAIN_ID, KEYS[watched], new_app(), MemoryVoteLog(), 1, CONFIG)

    one_by_one, together = fresh(), fresh()
    broadcast: list[Message] = []
    decided = []
    for msg in seen:
        out = one_by_one.on_message(msg, 7)
        broadcast += out.broadcast
        decided += out.decided
    out = together.on_messages(seen, 7)
    assert out.broadcast == broadcast and len(broadcast) >= 4
    assert [b.hash for b, _ in out.decided] == [b.hash for b, _ in decided] and len(decided) >= 2
    assert together.height == one_by_one.height >= 3


IDLE_CONFIG = dataclasses.replace(CONFIG, idle_wait_ms=1_000)


def backup_at_height_2(config: ReplicaConfig) -> Replica:
    """A backup of height 2 (which it entered at 0 ms, by its start after a sync), before
    any proposal."""
    key = next(k for k in KEYS if k is not key_of_proposer(2, 0))
    r = Replica(CHAIN_ID, key, new_app(), MemoryVoteLog(), 2, config)
    out = r.start(0)
    assert out.wake_at_ms is not None
    return r


def test_an_idle_height_gives_the_proposer_the_idle_wait_before_a_view_change() -> None:
    r = backup_at_height_2(IDLE_CONFIG)
    assert r.idle
    timeout, wait = IDLE_CONFIG.view_timeout_ms, IDLE_CONFIG.idle_wait_ms
    out = r.on_tick(timeout)  # a plain view timeout: no view change while idle
    assert out.view_changes == 0 and r.view == 0 and out.wake_at_ms == timeout + wait
    out = r.on_tick(timeout + wait)
    assert out.view_changes == 1 and r.view == 1 and not r.idle


def test_pending_work_ends_the_idle_wait_and_the_timer_runs_from_then() -> None:
    r = backup_at_height_2(IDLE_CONFIG)
    timeout = IDLE_CONFIG.view_timeout_ms
    out = r.on_work(300)
    assert not r.idle and out.wake_at_ms == 300 + timeout
    assert r.on_tick(300 + timeout - 1).view_changes == 0
    assert r.on_tick(300 + timeout).view_changes == 1
    # Work known right at the start of the height: never later than without the wait.
    r = backup_at_height_2(IDLE_CONFIG)
    assert r.on_work(0).wake_at_ms == timeout


def test_a_proposal_ends_the_idle_wait() -> None:
    c = Cluster(IDLE_CONFIG)
    c.start()
    proposer = index_of(key_of_proposer(1, 0))
    backup = next(i for i in range(4) if i != proposer)
    pp = next(m for j, m in c.queue if j == backup and isinstance(m, PrePrepare))
    r = c.replicas[backup]
    assert r.idle
    out = r.on_message(pp, 250)
    assert not r.idle and out.wake_at_ms == 250 + IDLE_CONFIG.view_timeout_ms


def test_work_after_a_view_change_does_not_shorten_the_later_view() -> None:
    r = backup_at_height_2(IDLE_CONFIG)
    timeout, wait = IDLE_CONFIG.view_timeout_ms, IDLE_CONFIG.idle_wait_ms
    r.on_tick(timeout + wait)
    assert r.view == 1 and not r.idle
    before = r.on_tick(timeout + wait + 1).wake_at_ms
    assert r.on_work(timeout + wait + 2).wake_at_ms == before


def test_without_an_idle_wait_the_timer_is_the_view_timeout() -> None:
    r = backup_at_height_2(CONFIG)
    assert not r.idle
    assert r.on_tick(CONFIG.view_timeout_ms).view_changes == 1


def deliver_at_pace(c: Cluster, until_height: int, step_ms: int) -> None:
    """Deliver one message per ``step_ms`` of the cluster's clock (and fire the timers that
    come due), until every replica reached ``until_height``: a network this slow."""
    for _ in range(50_000):
        if min(c.heights()) >= until_height:
            return
        c.now_ms += step_ms
        for i, r in enumerate(c.replicas):
            at = c.wake_at_ms.get(i)
            if at is not None and at <= c.now_ms:
                c.apply(i, r.on_tick(c.now_ms))
        if c.queue:
            j, msg = c.queue.pop(0)
            c.apply(j, c.replicas[j].on_message(msg, c.now_ms))
    raise AssertionError("the heights were not reached")


ADAPTIVE = dataclasses.replace(CONFIG, max_view_timeout_ms=10_000, timeout_margin=3, timeout_window=5)


def test_the_view_timeout_follows_heights_that_are_merely_slow() -> None:
    c = Cluster(ADAPTIVE)
    c.start()
    deliver_at_pace(c, 4, step_ms=1)  # heights of a few dozen ms: the configured floor
    assert [r.view_timeout_ms for r in c.replicas] == [ADAPTIVE.view_timeout_ms] * 4
    # A message every 8 ms: a height takes about 200 ms, twice the configured timeout.
    deliver_at_pace(c, 16, step_ms=8)
    assert all(r.view_timeout_ms >= 3 * 150 for r in c.replicas), [r.view_timeout_ms for r in c.replicas]
    assert [cert.view for _, cert in c.decided[0][-6:]] == [0] * 6  # no more view changes
    for block, cert in c.decided[0]:
        cert.verify(CHAIN_ID, VALIDATORS)
        assert cert.block_hash == block.hash


def test_a_fixed_view_timeout_keeps_changing_view_over_slow_heights() -> None:
    fixed = dataclasses.replace(ADAPTIVE, timeout_margin=0)
    c = Cluster(fixed)
    c.start()
    deliver_at_pace(c, 10, step_ms=8)
    assert [r.view_timeout_ms for r in c.replicas] == [fixed.view_timeout_ms] * 4
    assert any(cert.view > 0 for _, cert in c.decided[0][-6:])


def test_the_adaptive_view_timeout_stays_within_its_cap() -> None:
    capped = dataclasses.replace(ADAPTIVE, max_view_timeout_ms=300)
    c = Cluster(capped)
    c.start()
    deliver_at_pace(c, 10, step_ms=8)
    assert all(r.view_timeout_ms <= 300 for r in c.replicas)


def test_a_replica_never_checks_its_own_votes_signatures() -> None:
    # Its own votes come back to it inside a collector's bundle and in certificates.
    c = Cluster()
    c.start()
    c.deliver_all(until_height=2)
    r = c.replicas[0]
    block, cert = c.decided[0][0]
    verifier = r._verifier
    before = verifier.verified
    for kind in (VOTE_PREPARE, VOTE_COMMIT):
        own = Vote.create(KEYS[0], kind, CHAIN_ID, 1, cert.view, block.hash)  # Ed25519 is deterministic
        assert verifier.verify_vote(own)
        assert verifier.verify(own.validator, own.signing_bytes(), own.signature)
    assert verifier.verified == before


ABSENT = dataclasses.replace(CONFIG, absent_timeout_ms=20)


def test_a_proposer_the_host_has_no_link_to_gets_the_short_timeout() -> None:
    c = Cluster(ABSENT)
    silent = key_of_proposer(1, 0)
    c.down = {index_of(silent)}
    c.start()
    c.deliver_all()
    alive = [i for i in range(4) if i not in c.down]
    # Not marked absent: its view waits the whole view timeout.
    assert [c.replicas[i].view_timeout_ms for i in alive] == [CONFIG.view_timeout_ms] * 3
    c.tick(ABSENT.absent_timeout_ms, until_height=2)
    assert c.view_changes == 0 and c.heights() == [1, 1, 1, 1]
    # Marked absent at the live three: the view running is cut short to 20 ms from now.
    for i in alive:
        c.apply(i, c.replicas[i].on_absent(frozenset({silent.public_key}), c.now_ms))
    assert [c.replicas[i].view_timeout_ms for i in alive] == [ABSENT.absent_timeout_ms] * 3
    assert all(c.wake_at_ms[i] == c.now_ms + ABSENT.absent_timeout_ms for i in alive)
    c.tick(ABSENT.absent_timeout_ms, until_height=2)
    assert all(c.replicas[i].height == 2 for i in alive)
    assert all(c.decided[i][0][1].view == 1 for i in alive)
    # The next views' proposers are up: their timeouts are the configured ones.
    assert all(c.replicas[i].view_timeout_ms == CONFIG.view_timeout_ms for i in alive)


def test_a_proposer_cut_off_from_one_validator_alone_still_decides_its_view() -> None:
    c = Cluster(ABSENT)
    proposer = key_of_proposer(1, 0)
    lonely = next(i for i in range(4) if KEYS[i] is not proposer)
    # Nothing from the proposer reaches that validator, which takes it for absent.
    c.drop = lambda to, msg: to == lonely and getattr(msg, "sender", None) == proposer.public_key
    c.start()
    c.apply(lonely, c.replicas[lonely].on_absent(frozenset({proposer.public_key}), c.now_ms))
    c.tick(ABSENT.absent_timeout_ms, until_height=2)
    # It left view 0 alone: one VIEW-CHANGE is fewer than the f + 1 the others follow.
    assert c.view_changes == 1 and c.replicas[lonely].view == 1
    others = [i for i in range(4) if i != lonely]
    assert all(c.replicas[i].height >= 2 for i in others)
    assert all(c.decided[i][0][1].view == 0 for i in others)


def test_the_absent_timeout_is_never_longer_than_the_view_timeout() -> None:
    long_absent = dataclasses.replace(CONFIG, absent_timeout_ms=10 * CONFIG.view_timeout_ms)
    r = Replica(CHAIN_ID, KEYS[0], new_app(), MemoryVoteLog(), 1, long_absent)
    r.start(0)
    r.on_absent(frozenset({VALIDATORS.proposer(1, 0)}), 0)
    assert r.view_timeout_ms == CONFIG.view_timeout_ms
    with pytest.raises(ValueError):
        dataclasses.replace(CONFIG, absent_timeout_ms=-1)


def test_at_an_idle_height_an_absent_proposer_still_gets_the_idle_wait_and_no_more() -> None:
    config = dataclasses.replace(IDLE_CONFIG, absent_timeout_ms=20)
    r = backup_at_height_2(config)
    assert r.idle
    out = r.on_absent(frozenset({VALIDATORS.proposer(2, 0)}), 50)
    assert out.wake_at_ms == 50 + config.absent_timeout_ms + config.idle_wait_ms
    assert r.on_tick(50 + config.idle_wait_ms).view_changes == 0
    assert r.on_tick(50 + config.absent_timeout_ms + config.idle_wait_ms).view_changes == 1
