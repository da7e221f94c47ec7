"""Check-in at the door: the organiser opens it with a code's hash; a signed-up resident
who sends the right code while it is open is confirmed and rewarded once, however the
attendance is recorded (check-in or the organiser's confirmation)."""

from __future__ import annotations

import hashlib

from tests.apps.harness import Community

CODE = "482913"


def _code_hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


def test_check_in_with_the_code_confirms_and_rewards_once(town: Community) -> None:
    c = town.c
    a, b, d = town.homes[0], town.homes[1], town.homes[2]
    start = c.time_s + 2 * 3600
    aid = c.send(town.committee, "activities", "propose", "culture", "书法交流会", start, 10)
    c.send(a, "activities", "sign_up", aid)
    c.send(b, "activities", "sign_up", aid)
    c.fails("bad_state", a, "activities", "check_in", aid, CODE)  # not opened yet
    c.fails("not_allowed", a, "activities", "open_check_in", aid, _code_hash(CODE), start)
    c.fails("bad_arg", town.committee, "activities", "open_check_in", aid, b"short", start)
    c.fails("bad_arg", town.committee, "activities", "open_check_in", aid, _code_hash(CODE),
            c.time_s + 5 * 3600)  # longer than 4 hours
    c.send(town.committee, "activities", "open_check_in", aid, _code_hash(CODE), start + 1800)
    assert c.q("activities", "check_in_until", aid) == start + 1800
    c.fails("too_early", a, "activities", "check_in", aid, CODE)  # more than an hour before
    c.advance(3600 + 60)
    c.fails("wrong_code", a, "activities", "check_in", aid, "000000")
    c.fails("not_found", d, "activities", "check_in", aid, CODE)  # not signed up
    before = c.balance(a.address)
    assert c.send(a, "activities", "check_in", aid, CODE) is True
    reward = c.q("activities", "params")["attendance_reward"]
    assert c.balance(a.address) >= before + reward - 10  # the reward, less the fee
    assert c.q("activities", "attended", aid, a.address) is True
    assert c.send(a, "activities", "check_in", aid, CODE) is False  # no second reward
    c.advance(3600)
    # The organiser's confirmation after a check-in mints nothing more for that resident.
    assert c.send(town.committee, "activities", "confirm_attendance", aid, [a.address, b.address]) == reward
    assert c.q("activities", "activity", aid)["attended"] == 2
    c.advance(3600)
    c.fails("too_late", b, "activities", "check_in", aid, CODE)
