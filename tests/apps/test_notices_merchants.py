"""Notices with read acknowledgements; merchant payments with the platform fee to the
treasury, and featured listings."""

from __future__ import annotations

import pytest

from tests.apps.harness import DAY_S, Community, h
from vm.api import QueryError


def test_notices_acknowledged(town: Community) -> None:
    c = town.c
    c.fails("not_allowed", town.homes[0], "notices", "post", "Water cut", h("text"))
    nid = c.send(town.company, "notices", "post", "Water cut on Friday", h("text"))
    assert c.send(town.homes[0], "notices", "acknowledge", nid) == 1
    assert c.send(town.homes[1], "notices", "acknowledge", nid) == 2
    c.fails("exists", town.homes[0], "notices", "acknowledge", nid)
    c.fails("not_allowed", town.outsider, "notices", "acknowledge", nid)
    c.fails("not_found", town.homes[0], "notices", "acknowledge", nid + 1)
    assert c.q("notices", "acknowledged", nid, town.homes[1].address) is True
    assert c.q("notices", "notice", nid)["acks"] == 2


def test_read_receipts_list_the_readers_latest_first_page_by_page(town: Community) -> None:
    c = town.c
    nid = c.send(town.committee, "notices", "publish", "notice", "Lift maintenance", h("lift"))
    other = c.send(town.committee, "notices", "publish", "news", "Choir wins", h("choir"))
    assert c.q("notices", "readers", nid, 0, 10) == {"items": [], "next": 0}
    times = []
    for home in town.homes:
        c.send(home, "notices", "acknowledge", nid)
        times.append(c.time_s)
    c.send(town.homes[0], "notices", "acknowledge", other)
    first = c.q("notices", "readers", nid, 0, 3)
    assert [r["address"] for r in first["items"]] == [k.address for k in reversed(town.homes[2:])]
    assert [r["at"] for r in first["items"]] == list(reversed(times[2:]))
    rest = c.q("notices", "readers", nid, first["next"], 3)
    assert [r["address"] for r in rest["items"]] == [town.homes[1].address, town.homes[0].address]
    assert rest["next"] == 0
    assert c.q("notices", "readers", other, 0, 50)["items"] == [{"address": town.homes[0].address, "at": c.time_s}]
    for bad in ((nid, -1, 3), (nid, 0, 0), (nid, 0, 51), (nid, "x", 3)):
        with pytest.raises(QueryError) as err:
            c.q("notices", "readers", *bad)
        assert err.value.code == "bad_arg", bad
    with pytest.raises(QueryError) as err:
        c.q("notices", "readers", other + 1, 0, 3)
    assert err.value.code == "not_found"


def test_merchant_payment_fee_to_treasury(town: Community) -> None:
    c = town.c
    shop = town.shop.address
    c.fails("not_found", town.homes[0], "merchants", "purchase", shop, 1000, "order-1")
    c.send(town.shop, "merchants", "register", "Wing Kee Noodles", "food")
    c.fails("not_allowed", town.outsider, "merchants", "register", "Fake", "food")
    shop_before, treasury_before = c.balance(shop), c.balance("governance")
    r = c.try_send(town.homes[0], "merchants", "purchase", shop, 2500, "order-1")
    assert r.ok and r.result == 25  # 1 % platform fee
    assert c.balance(shop) == shop_before + 2475
    # The treasury gets the platform fee, plus the tx fee (fee_split: all to governance)
    # unless it sponsored that fee itself (a resident's first actions).
    sponsored = r.events[-1].fields["payer"] == "governance"
    assert c.balance("governance") == treasury_before + 25 + (0 if sponsored else r.fee)
    assert c.q("merchants", "payment", shop, "order-1")["payer"] == town.homes[0].address
    c.fails("exists", town.homes[1], "merchants", "purchase", shop, 2500, "order-1")


def test_the_platform_fee_rounds_up_to_a_whole_point(town: Community) -> None:
    c = town.c
    shop = town.shop.address
    c.send(town.shop, "merchants", "register", "小卖部", "food")
    for amount, fee in ((5, 1), (1, 0), (2, 1), (100, 1), (101, 2), (120, 2), (2500, 25)):
        before = c.balance(shop)
        assert c.send(town.homes[1], "merchants", "purchase", shop, amount, f"o-{amount}") == fee
        assert c.balance(shop) == before + amount - fee


def test_featured_listing_paid_to_treasury(town: Community) -> None:
    c = town.c
    c.send(town.shop, "merchants", "register", "Wing Kee Noodles", "food")
    treasury_before = c.balance("governance")
    r = c.try_send(town.shop, "merchants", "promote", 3)
    assert r.ok and r.result == c.time_s + 3 * DAY_S
    assert c.balance("governance") == treasury_before + 300 + r.fee
    assert c.q("merchants", "featured") == [town.shop.address]
    c.advance(3 * DAY_S)
    c.empty_blocks_until(c.height + 2)
    assert c.q("merchants", "featured") == []
    c.fails("not_allowed", town.homes[0], "merchants", "promote", 1)
