"""The paginated list views (docs/APPLICATIONS.md "Lists"): newest first, filters, cursor
pages that walk everything exactly once, a bounded scan per page, and bad arguments
refused with bad_arg."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apps.harness import DAY_S, Community, h
from vm.api import QueryError


def walk(town: Community, contract: str, method: str, *filters: Any, limit: int) -> list[list[Any]]:
    """Every page of a list, following ``next`` until 0."""
    pages = []
    cursor = 0
    for _ in range(1000):
        page = town.c.q(contract, method, *filters, cursor, limit)
        assert set(page) == {"items", "next"}
        assert len(page["items"]) <= limit
        pages.append(page["items"])
        cursor = page["next"]
        if cursor == 0:
            return pages
    raise AssertionError("a list never ended")


def ids(pages: list[list[Any]]) -> list[int]:
    return [item["id"] for page in pages for item in page]


def test_open_requests_for_providers(town: Community) -> None:
    c = town.c
    a = town.providers[0]
    c.send(a, "services", "register_provider", ["水电维修", "保洁"])
    rids = [c.send(town.homes[i % 3], "services", "request", cat, h(f"req {i}"), 500)
            for i, cat in enumerate(["水电维修", "保洁", "水电维修", "保洁", "水电维修"])]
    c.send(a, "services", "offer", rids[0], 300)
    c.send(town.homes[0], "services", "accept", rids[0], "")
    c.send(town.homes[1], "services", "cancel", rids[1])
    open_ids = ids(walk(town, "services", "requests", "open", "", "", limit=2))
    assert open_ids == [rids[4], rids[3], rids[2]]  # newest first, no accepted or cancelled
    assert ids(walk(town, "services", "requests", "open", "水电维修", "", limit=50)) == [rids[4], rids[2]]
    assert ids(walk(town, "services", "requests", "", "", "", limit=3)) == rids[::-1]
    # A party sees its own requests, and the provider those it took.
    mine = ids(walk(town, "services", "requests", "", "", town.homes[0].address, limit=1))
    assert mine == [rids[3], rids[0]]
    assert ids(walk(town, "services", "requests", "", "", a.address, limit=5)) == [rids[0]]
    first = c.q("services", "requests", "accepted", "", "", 0, 10)["items"][0]
    assert first == {**c.q("services", "request_of", rids[0]), "offers": 1}


def test_a_page_scans_a_bounded_number_of_records(town: Community) -> None:
    c = town.c
    home = town.homes[0]
    old = c.send(home, "services", "request", "保洁", h("old"), 100)
    many = 300
    c.block([(home, "services", "request", ["保洁", h(f"r{i}"), 100]) for i in range(many)])
    c.block([(home, "services", "cancel", [old + 1 + i]) for i in range(many)])
    page = c.q("services", "requests", "open", "", "", 0, 50)
    # 256 cancelled requests looked at, none open: an empty page that is not the end.
    assert page["items"] == [] and page["next"] == old + 1 + many - 256
    assert ids(walk(town, "services", "requests", "open", "", "", limit=50)) == [old]


def test_bills_of_a_household_and_arrears(town: Community) -> None:
    c = town.c
    c.send(town.company, "property", "set_schedule", [["mgmt", "物业管理费", "area", 250]])
    homes = [k.address for k in town.homes]
    bills: dict[str, list[int]] = {a: [] for a in homes}
    for period in ("2027-01", "2027-02", "2027-03"):
        for a in homes:
            bills[a].append(c.send(town.company, "property", "issue_bill", a, period, []))
    me = homes[1]
    c.send(town.homes[1], "property", "pay_bill", bills[me][0])
    history = ids(walk(town, "property", "bills", me, "", "", limit=2))
    assert history == bills[me][::-1]
    assert ids(walk(town, "property", "bills", me, "unpaid", "", limit=1)) == bills[me][:0:-1]
    assert ids(walk(town, "property", "bills", me, "paid", "", limit=5)) == [bills[me][0]]
    feb = ids(walk(town, "property", "bills", "", "", "2027-02", limit=2))
    assert feb == [bills[a][1] for a in reversed(homes)]
    unpaid = ids(walk(town, "property", "bills", "", "unpaid", "", limit=4))
    assert len(unpaid) == 3 * len(homes) - 1 and bills[me][0] not in unpaid
    # A cursor taken from another list still starts below it.
    page = c.q("property", "bills", me, "", "", bills[me][2], 50)
    assert ids([page["items"]]) == [bills[me][1], bills[me][0]] and page["next"] == 0


def test_service_contracts_proposals_and_drafts(town: Community) -> None:
    c = town.c
    t = c.time_s
    cids = [c.send(town.company, "property", "register_contract", h(f"c{i}"), f"电梯维保公司{i}",
                   t, t + 365 * DAY_S, 1000 * i) for i in range(3)]
    assert ids(walk(town, "property", "contracts", limit=2)) == cids[::-1]
    d1 = c.send(town.homes[0], "assembly", "draft", 9, "增设电动车充电桩", h("text 1"), [])
    d2 = c.send(town.homes[1], "assembly", "draft", 9, "更换楼道灯", h("text 2"), [])
    c.send(town.homes[2], "assembly", "comment", d2, h("同意"))
    pid = c.send(town.committee, "assembly", "sponsor", d1)
    drafting = c.q("assembly", "drafts", "drafting", 0, 10)
    assert ids([drafting["items"]]) == [d2] and drafting["items"][0]["comments"] == 1
    assert ids(walk(town, "assembly", "drafts", "voting", limit=1)) == [d1]
    assert ids(walk(town, "governance", "proposals", "open", limit=1)) == [pid]
    town.vote_all(pid, ["yes"] * 5)
    assert ids(walk(town, "governance", "proposals", "open", limit=1)) == []
    assert ids(walk(town, "governance", "proposals", "passed", limit=1)) == [pid]


def test_notices_works_and_activities(town: Community) -> None:
    c = town.c
    n1 = c.send(town.company, "notices", "post", "停水通知", h("n1"))
    n2 = c.send(town.committee, "notices", "post", "垃圾分类", h("n2"))
    assert ids(walk(town, "notices", "notices", "", limit=1)) == [n2, n1]
    w1 = c.send(town.homes[0], "culture", "register_work", h("w1"), "书法", "calligraphy", 100)
    w2 = c.send(town.homes[1], "culture", "register_work", h("w2"), "摄影", "photography", 100)
    assert ids(walk(town, "culture", "works", "", limit=5)) == [w2, w1]
    assert ids(walk(town, "culture", "works", town.homes[0].address, limit=5)) == [w1]
    soon = c.send(town.committee, "activities", "propose", "volunteer", "清洁日", c.time_s + 60, 10)
    later = c.send(town.committee, "activities", "propose", "culture", "书法课", c.time_s + DAY_S, 10)
    assert ids(walk(town, "activities", "activities", "upcoming", "", limit=5)) == [later, soon]
    c.advance(3600)
    c.empty_blocks_until(c.height + 2)
    assert ids(walk(town, "activities", "activities", "upcoming", "", limit=5)) == [later]
    assert ids(walk(town, "activities", "activities", "past", "", limit=5)) == [soon]


@pytest.mark.parametrize(("contract", "method", "args"), [
    ("services", "requests", ["", "", "", 0, 0]),
    ("services", "requests", ["", "", "", 0, 51]),
    ("services", "requests", ["", "", "", -1, 10]),
    ("services", "requests", ["", "", "", "0", 10]),
    ("services", "requests", ["gone", "", "", 0, 10]),
    ("services", "requests", [1, "", "", 0, 10]),
    ("property", "bills", ["", "overdue", "", 0, 10]),
    ("property", "contracts", [0, 100]),
    ("governance", "proposals", ["closed", 0, 10]),
    ("assembly", "drafts", ["x", 0, 10]),
    ("notices", "notices", ["ad", 0, 10]),
    ("culture", "works", [b"x", 0, 10]),
    ("activities", "activities", ["soon", "", 0, 10]),
])
def test_bad_list_arguments(town: Community, contract: str, method: str, args: list[Any]) -> None:
    with pytest.raises(QueryError) as err:
        town.c.q(contract, method, *args)
    assert err.value.code == "bad_arg"


def test_empty_lists_end_at_once(town: Community) -> None:
    assert town.c.q("services", "requests", "", "", "", 0, 10) == {"items": [], "next": 0}
    assert town.c.q("property", "bills", town.homes[0].address, "", "", 0, 10) == {"items": [], "next": 0}
