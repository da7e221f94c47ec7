"""The holders of each role, listed for the committees' console: granted in order, a
revoke keeps the list dense, paged latest first, and bad arguments refused."""

from __future__ import annotations

import pytest

from tests.apps.harness import Community, key
from vm.api import QueryError


def everyone(c: Community, role: str) -> list[str]:
    out: list[str] = []
    cursor = 0
    while True:
        page = c.c.q("roles", "holders", role, cursor, 2)
        out += page["items"]
        cursor = page["next"]
        if cursor == 0:
            return out


def test_holders_follow_grants_and_revokes(town: Community) -> None:
    c = town.c
    assert everyone(town, "merchant") == [town.shop.address]
    shops = [key(f"shop-{i}") for i in range(4)]
    for k in shops:
        c.grant(k, "merchant")
    c.grant(shops[0], "merchant")  # again: listed once
    assert everyone(town, "merchant") == [k.address for k in reversed([town.shop, *shops])]
    assert c.q("roles", "holders", "merchant", 0, 50)["count"] == 5
    c.send(town.committee, "roles", "revoke", shops[1].address, "merchant")
    left = everyone(town, "merchant")
    assert sorted(left) == sorted(k.address for k in (town.shop, shops[0], shops[2], shops[3]))
    assert len(left) == 4 and c.q("roles", "holders", "merchant", 0, 50)["count"] == 4
    c.send(town.committee, "roles", "revoke", shops[3].address, "merchant")  # the last one
    c.send(town.committee, "roles", "revoke", shops[3].address, "merchant")  # not held: nothing
    assert sorted(everyone(town, "merchant")) == sorted(k.address for k in (town.shop, shops[0], shops[2]))
    c.grant(shops[1], "merchant")
    assert everyone(town, "merchant")[0] == shops[1].address
    assert all(c.q("roles", "holds", a, "merchant") for a in everyone(town, "merchant"))
    # The genesis grants and the households' resident role are listed too.
    assert c.operator.address in everyone(town, "committee")
    residents = everyone(town, "resident")
    assert {k.address for k in town.homes} <= set(residents)


def test_holders_refuses_bad_arguments(town: Community) -> None:
    c = town.c
    for args, code in ((("mayor", 0, 10), "unknown_role"), (("merchant", -1, 10), "bad_arg"),
                       (("merchant", 0, 0), "bad_arg"), (("merchant", 0, 51), "bad_arg"),
                       (("merchant", "0", 10), "bad_arg")):
        with pytest.raises(QueryError) as err:
            c.q("roles", "holders", *args)
        assert err.value.code == code, args
