"""Rewards minted through the token's minting rule: likes capped per creator per day with
nothing for self-likes, and attendance rewarded once per activity."""

from __future__ import annotations

from typing import Any

from tests.apps.harness import DAY_S, Community, h, key, short_votes


def test_likes_earn_up_to_the_daily_cap(town: Community) -> None:
    c = town.c
    creator = town.homes[0]
    wid = c.send(creator, "culture", "register_work", h("calligraphy blob"), "Spring", "calligraphy", 52_000)
    c.fails("exists", town.homes[1], "culture", "register_work", h("calligraphy blob"), "Copy",
            "calligraphy", 52_000)
    assert c.q("culture", "work_by_hash", h("calligraphy blob")) == wid
    likers = [key(f"liker-{i}") for i in range(25)]
    c.block([(town.committee, "token", "transfer", [k.address, 1_000_000]) for k in likers])
    c.block([(town.committee, "roles", "grant", [k.address, "resident"]) for k in likers])
    # Self-like: recorded, earns nothing; likes are fee-sponsored, so it costs nothing either.
    before = c.balance(creator.address)
    r = c.try_send(creator, "culture", "like", wid)
    assert r.ok and r.result == 0 and r.fee > 0
    assert r.events[-1].name == "Fee" and r.events[-1].fields["payer"] == "governance"
    assert c.balance(creator.address) == before
    before = c.balance(creator.address)
    rewards = [c.send(k, "culture", "like", wid) for k in likers[:22]]
    day = c.time_s // DAY_S
    assert rewards == [1] * 20 + [0, 0]  # like_reward 1, daily_cap 20
    assert c.balance(creator.address) == before + 20 == before + c.q("culture", "earned", creator.address, day)
    c.fails("exists", likers[0], "culture", "like", wid)
    # Next day the cap starts again.
    c.advance(DAY_S)
    assert c.send(likers[22], "culture", "like", wid) == 1
    assert c.q("culture", "work", wid)["likes"] == 24
    c.send(likers[23], "culture", "comment", wid, h("beautiful brushwork"))
    assert c.q("culture", "work", wid)["comments"] == 1


def test_governance_sets_the_like_rule(town: Community) -> None:
    c = town.c
    c.fails("not_allowed", town.committee, "culture", "set_param", "like_reward", 5)
    pid = c.send(c.validators[0], "governance", "propose_chain",
                 ["call", "culture", "set_param", ["like_reward", 5]], "Reward likes more")
    c.block([(v, "governance", "vote", [pid, "yes"]) for v in c.validators[:3]])
    c.empty_blocks_until(c.q("governance", "proposal", pid)["closes"] + 1)
    assert c.q("culture", "params")["like_reward"] == 5
    wid = c.send(town.homes[0], "culture", "register_work", h("photo"), "Harbour", "photography", 10)
    assert c.send(town.homes[1], "culture", "like", wid) == 5


def test_outsider_cannot_like(town: Community) -> None:
    c = town.c
    wid = c.send(town.homes[0], "culture", "register_work", h("essay"), "Essay", "writing", 10)
    r = c.fails("not_allowed", town.outsider, "culture", "like", wid)
    assert "resident" in c.explain(r)


def test_attendance_rewarded_once(town: Community) -> None:
    c = town.c
    a, b, d = town.homes[0], town.homes[1], town.homes[2]
    start = c.time_s + 3600
    aid = c.send(town.committee, "activities", "propose", "volunteer", "Beach clean-up", start, 2)
    c.send(a, "activities", "sign_up", aid)
    c.send(b, "activities", "sign_up", aid)
    c.fails("full", d, "activities", "sign_up", aid)
    c.fails("not_allowed", town.outsider, "activities", "sign_up", aid)
    c.fails("too_early", town.committee, "activities", "confirm_attendance", aid, [a.address])
    c.advance(3600)
    c.fails("not_allowed", a, "activities", "confirm_attendance", aid, [a.address])
    c.fails("not_found", town.committee, "activities", "confirm_attendance", aid, [d.address])
    before = c.balance(a.address)
    assert c.send(town.committee, "activities", "confirm_attendance", aid, [a.address]) == 10
    assert c.send(town.committee, "activities", "confirm_attendance", aid, [a.address, b.address]) == 10
    assert c.balance(a.address) == before + 10
    assert c.q("activities", "activity", aid)["attended"] == 2
    assert c.q("activities", "attended", aid, b.address) is True


def test_resident_activity_needs_approval(town: Community) -> None:
    c = town.c
    aid = c.send(town.homes[0], "activities", "propose", "culture", "Poetry night", c.time_s + 999, 10)
    c.fails("bad_state", town.homes[1], "activities", "sign_up", aid)
    c.fails("not_allowed", town.homes[1], "activities", "approve", aid)
    c.send(town.committee, "activities", "approve", aid)
    c.send(town.homes[1], "activities", "sign_up", aid)
    c.send(town.homes[2], "activities", "sign_up", aid)
    c.send(town.homes[1], "activities", "withdraw", aid)
    c.fails("not_found", town.homes[1], "activities", "withdraw", aid)
    assert c.q("activities", "participants", aid) == [town.homes[2].address]
    assert c.q("activities", "activity", aid)["signed_up"] == 1


def test_a_ring_of_likers_cannot_farm(town: Community) -> None:
    c = town.c
    ring = town.homes[:4]
    works = {k.address: [c.send(k, "culture", "register_work", h(f"{k.address}-{i}"), f"作品{i}", "writing", 10)
                         for i in range(8)] for k in ring}
    cap = c.q("culture", "params")["liker_daily_cap"]
    assert cap == 5
    earned = []
    for liker in ring:
        got = 0
        for creator, ids in works.items():
            if creator != liker.address:
                for wid in ids:
                    got += c.send(liker, "culture", "like", wid)
        earned.append(got)
        assert c.q("culture", "given", liker.address, c.time_s // DAY_S) == got
    # 24 likes each, but each liker's likes earn at most the liker's cap in a day.
    assert earned == [cap] * len(ring)
    c.advance(DAY_S)
    extra = c.send(town.homes[4], "culture", "register_work", h("next day"), "明日", "writing", 10)
    assert c.send(ring[0], "culture", "like", extra) == 1


def _small_allowance(genesis: dict[str, Any]) -> None:
    short_votes(genesis)
    for rule in genesis["params"]["token"]["mint_rules"]:
        if rule["minter"] == "activities":
            rule["cap_per_day"] = 25


def test_attendance_beyond_the_days_allowance_is_refused_clearly() -> None:
    town = Community(_small_allowance)
    c = town.c
    people = town.homes[:3]
    aid = c.send(town.committee, "activities", "propose", "volunteer", "植树", c.time_s + 60, 10)
    for k in people:
        c.send(k, "activities", "sign_up", aid)
    c.advance(120)
    before = [c.balance(k.address) for k in people]
    assert c.q("activities", "allowance") == {"points_left": 25, "reward": 10, "attendees": 2}
    r = c.fails("mint_cap", town.committee, "activities", "confirm_attendance", aid, [k.address for k in people])
    assert "allowance" in c.explain(r) and "08:00 (UTC+8)" in c.explain(r)
    assert [c.balance(k.address) for k in people] == before  # nothing minted, nobody recorded
    assert c.send(town.committee, "activities", "confirm_attendance", aid, [k.address for k in people[:2]]) == 20
    assert c.q("activities", "allowance")["attendees"] == 0
    c.fails("mint_cap", town.committee, "activities", "confirm_attendance", aid, [people[2].address])
    # Already confirmed attendees cost nothing and do not count against the allowance.
    assert c.send(town.committee, "activities", "confirm_attendance", aid, [people[0].address]) == 0
    c.advance(DAY_S)  # the allowance resets with the chain day
    assert c.send(town.committee, "activities", "confirm_attendance", aid, [people[2].address]) == 10
