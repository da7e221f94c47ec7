"""Public display names chosen by their holders, shown in lists; activities with a place,
an end and a described text; community news as a kind of notice."""

from __future__ import annotations

from tests.apps.harness import DAY_S, Community, h


def test_display_names(town: Community) -> None:
    c = town.c
    me, other = town.homes[0], town.homes[1]
    c.send(me, "names", "set_name", "王阿姨")
    c.send(town.providers[0], "names", "set_name", "老张修理铺")
    assert c.q("names", "name_of", me.address) == "王阿姨"
    assert c.q("names", "names_of", [me.address, other.address, town.providers[0].address]) == {
        me.address: "王阿姨", town.providers[0].address: "老张修理铺"}
    c.fails("not_allowed", town.outsider, "names", "set_name", "路人")
    for bad in ("", "   ", "x" * 33, "两行\n名字", 7):
        c.fails("bad_arg", other, "names", "set_name", bad)
    c.fails("not_allowed", other, "names", "clear_name", me.address)
    c.send(town.committee, "names", "clear_name", me.address)  # e.g. a name posing as the committee
    assert c.q("names", "name_of", me.address) is None
    c.fails("not_found", me, "names", "clear_name", me.address)
    c.send(me, "names", "set_name", "王芳")
    c.send(me, "names", "clear_name", me.address)
    assert c.q("names", "names_of", [me.address]) == {}


def test_an_activity_with_place_end_and_description(town: Community) -> None:
    c = town.c
    start = c.time_s + DAY_S
    aid = c.send(town.committee, "activities", "propose_details", "culture", "书法课", start, start + 7200,
                 "社区活动室", h("每周六上午的书法课"), 20)
    a = c.q("activities", "activity", aid)
    assert (a["end_time"], a["place"], a["description_hash"]) == (start + 7200, "社区活动室", h("每周六上午的书法课"))
    assert c.q("activities", "activities", "upcoming", "", 0, 10)["items"][0]["place"] == "社区活动室"
    for end, place, dh in ((start, "室", h("d")), (start + 31 * DAY_S, "室", h("d")), (start + 60, "", h("d")),
                           (start + 60, "x" * 101, h("d")), (start + 60, "室", b"short")):
        c.fails("bad_arg", town.committee, "activities", "propose_details", "culture", "t", start, end, place, dh, 5)
    plain = c.send(town.committee, "activities", "propose", "volunteer", "清洁日", start, 5)
    assert "place" not in c.q("activities", "activity", plain)


def test_news_is_a_kind_of_notice(town: Community) -> None:
    c = town.c
    n1 = c.send(town.committee, "notices", "post", "停水通知", h("停水"))
    n2 = c.send(town.committee, "notices", "publish", "news", "敬老茶话会", h("茶话会"))
    c.fails("bad_arg", town.committee, "notices", "publish", "advert", "广告", h("广告"))
    c.fails("not_allowed", town.homes[0], "notices", "publish", "news", "新闻", h("新闻"))
    assert c.q("notices", "notice", n1)["kind"] == "notice" and c.q("notices", "notice", n2)["kind"] == "news"
    assert [n["id"] for n in c.q("notices", "notices", "news", 0, 10)["items"]] == [n2]
    assert [n["id"] for n in c.q("notices", "notices", "notice", 0, 10)["items"]] == [n1]
