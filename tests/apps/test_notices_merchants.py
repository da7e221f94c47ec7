"""Notices with read acknowledgements; merchant payments with the platform fee to the
treasury, and featured listings."""

from __future__ import annotations

from tests.apps.harness import DAY_S, Community, h


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
