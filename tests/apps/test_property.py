"""Property management: schedule, bills with line items, payment in points and off
chain, arrears, the maintenance fund under Article 278 category 5, service contracts and
satisfaction ratings."""

from __future__ import annotations

from typing import Any

from tests.apps.harness import Community, h

SCHEDULE: list[list[Any]] = [["MGMT", "Management fee", "area", 350], ["LIFT", "Lift maintenance", "fixed", 2000]]


def _bill(town: Community, home: int = 0, period: str = "2027-01") -> int:
    c = town.c
    c.send(town.company, "property", "set_schedule", SCHEDULE)
    return int(c.send(town.company, "property", "issue_bill", town.homes[home].address, period,
                      [["Parking permit", 500]]))


def test_bill_issued_paid_and_shown_paid(town: Community) -> None:
    c = town.c
    bid = _bill(town)
    b = c.q("property", "bill", bid)
    area = town.AREAS[0]
    assert b["lines"] == [["Management fee", 350 * area // 100], ["Lift maintenance", 2000],
                          ["Parking permit", 500]]
    assert b["total"] == 350 * area // 100 + 2500 and b["status"] == "unpaid"
    assert c.q("property", "arrears", town.homes[0].address) == {"bills": [bid], "total": b["total"]}
    assert c.q("property", "arrears_all") == {"bills": 1, "total": b["total"]}
    company_before = c.balance(town.company.address)
    c.send(town.homes[0], "property", "pay_bill", bid)
    paid = c.q("property", "bill", bid)
    assert paid["status"] == "paid" and paid["method"] == "points"
    assert paid["paid_by"] == town.homes[0].address
    assert c.balance(town.company.address) == company_before + b["total"]
    assert c.q("property", "arrears", town.homes[0].address) == {"bills": [], "total": 0}
    assert c.q("property", "arrears_all") == {"bills": 0, "total": 0}
    c.fails("bad_state", town.homes[0], "property", "pay_bill", bid)


def test_bill_rules(town: Community) -> None:
    c = town.c
    c.fails("bad_state", town.company, "property", "issue_bill", town.homes[0].address, "2027-01", [])
    c.fails("not_allowed", town.homes[0], "property", "set_schedule", SCHEDULE)
    _bill(town)
    c.fails("exists", town.company, "property", "issue_bill", town.homes[0].address, "2027-01", [])
    c.fails("not_found", town.company, "property", "issue_bill", town.outsider.address, "2027-01", [])
    poor = town.homes[1]
    bid = c.send(town.company, "property", "issue_bill", poor.address, "2027-01",
                 [["Renovation deposit", 1_999_000]])
    c.fails("insufficient_balance", poor, "property", "pay_bill", bid)


def test_offchain_payment_confirmed(town: Community) -> None:
    c = town.c
    bid = _bill(town)
    r = c.fails("not_allowed", town.company, "property", "confirm_payment", bid, "FPS-0001")
    assert "confirmer" in c.explain(r)
    c.send(town.confirmer, "property", "confirm_payment", bid, "FPS-0001")
    b = c.q("property", "bill", bid)
    assert b["status"] == "paid" and b["method"] == "offchain" and b["reference"] == "FPS-0001"
    other = c.send(town.company, "property", "issue_bill", town.homes[1].address, "2027-01", [])
    c.fails("exists", town.confirmer, "property", "confirm_payment", other, "FPS-0001")
    c.send(town.committee, "property", "set_confirmer", town.confirmer.address, False)
    c.fails("not_allowed", town.confirmer, "property", "confirm_payment", other, "FPS-0002")


def test_fund_spend_needs_a_passed_category_5_vote(town: Community) -> None:
    c = town.c
    contractor = town.providers[0].address
    c.send(town.homes[0], "property", "deposit_fund", 100_000)
    assert c.q("property", "fund") == 100_000 == c.balance("property")
    c.fails("not_allowed", town.homes[0], "property", "propose_spend", contractor, 60_000,
            "Repaint stairwell", h("quote"))
    sid = c.send(town.company, "property", "propose_spend", contractor, 60_000, "Repaint stairwell",
                 h("quote"))
    s = c.q("property", "spend", sid)
    p = c.q("governance", "proposal", s["pid"])
    assert p["category"] == 5 and p["kind"] == "owners" and s["status"] == "voting"
    # No passed proposal yet: nothing moves the fund.
    c.fails("bad_state", town.homes[0], "property", "release_spend", sid)
    before = c.balance(contractor)
    # 4 of 5 households take part (quorum), 3 yes: area and heads above one half.
    town.vote_all(s["pid"], ["yes", "yes", "no", "yes"])
    assert c.q("governance", "proposal", s["pid"])["status"] == "passed"
    assert c.q("property", "spend", sid)["status"] == "paid"
    assert c.balance(contractor) == before + 60_000
    assert c.q("property", "fund") == 40_000 == c.balance("property")


def test_fund_spend_rejected_or_short(town: Community) -> None:
    c = town.c
    to = town.providers[1].address
    c.send(town.homes[0], "property", "deposit_fund", 10_000)
    rejected = c.send(town.committee, "property", "propose_spend", to, 5_000, "Fountain", h("a"))
    short = c.send(town.committee, "property", "propose_spend", to, 50_000, "New lift", h("b"))
    pr, ps = (c.q("property", "spend", i)["pid"] for i in (rejected, short))
    c.block([(k, "governance", "vote", [pr, "no"]) for k in town.homes]
            + [(k, "governance", "vote", [ps, "yes"]) for k in town.homes])
    c.empty_blocks_until(c.q("governance", "proposal", ps)["closes"] + 1)
    assert c.q("property", "spend", rejected)["status"] == "rejected"
    assert c.q("property", "spend", short)["status"] == "approved"  # passed, fund too small
    c.fails("bad_state", town.homes[0], "property", "release_spend", rejected)
    c.fails("insufficient_fund", town.homes[0], "property", "release_spend", short)
    c.send(town.homes[1], "property", "deposit_fund", 40_000)
    c.send(town.homes[1], "property", "release_spend", short)
    assert c.q("property", "spend", short)["status"] == "paid" and c.q("property", "fund") == 0


def test_service_contract_and_ratings(town: Community) -> None:
    c = town.c
    cid = c.send(town.company, "property", "register_contract", h("cleaning contract"),
                 "Sparkle Cleaning Ltd", 1767225600, 1798761600, 480_000)
    sc = c.q("property", "service_contract", cid)
    assert sc["doc_hash"] == h("cleaning contract") and sc["company"] == town.company.address
    c.fails("not_allowed", town.homes[0], "property", "register_contract", h("x"), "X", 1, 2, 3)
    for k, score in zip(town.homes, [5, 4, 2], strict=False):
        c.send(k, "property", "rate", "2027-01", score)
    c.send(town.homes[2], "property", "rate", "2027-01", 3)  # re-rating replaces
    assert c.q("property", "rating", "2027-01") == {"count": 3, "sum": 12, "average_x100": 400}
    c.fails("not_allowed", town.outsider, "property", "rate", "2027-01", 5)
    c.fails("bad_arg", town.homes[0], "property", "rate", "2027-01", 6)


def test_events_of_a_payment(town: Community) -> None:
    c = town.c
    bid = _bill(town)
    r = c.try_send(town.homes[0], "property", "pay_bill", bid)
    assert r.ok
    named = {(e.contract, e.name): e.fields for e in r.events}
    total = c.q("property", "bill", bid)["total"]
    assert named[("property", "BillPaid")] == {
        "id": bid, "household": town.homes[0].address, "payer": town.homes[0].address,
        "method": "points", "amount": total, "reference": None}
    assert named[("token", "Transfer")]["to"] == town.company.address
