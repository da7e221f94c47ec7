# mypy: ignore-errors
# ruff: noqa
"""property: the property-management company's side of the community.

Owns the fee schedule, per-household bills with their line items, payment (in points, or
an off-chain payment confirmed by a payment confirmer with its reference), arrears, the
maintenance fund (deposits; spends only after an Article 278 category-5 owners' vote
passed, paid automatically when governance reports the result), the company's service
contracts (by document hash) and satisfaction ratings per household and period.

Payment confirmers are kept here (set by the committee) because the roles contract has no
such role. Households are those of the households contract.
"""

FUND_CATEGORY = 5  # Article 278 item 5: using the maintenance fund
BASES = ("area", "fixed")
MAX_ITEMS = 32
MAX_EXTRAS = 8
MAX_PRICE = 1000000000000
MAX_LIST = 4096
MAX_PERIOD_CHARS = 16
MAX_LABEL_CHARS = 64
MAX_REF_CHARS = 64
MAX_TITLE_CHARS = 200


def init(config: dict) -> None:
    store("next_bill", 1)
    store("next_spend", 1)
    store("next_contract", 1)
    store("fund", 0)
    store("unpaid", [0, 0])


def _role(role: str) -> None:
    if not has_role(caller, role):
        raise Error("the " + role + " role is required", "not_allowed")


def _str(v, name: str, max_chars: int) -> None:
    if type_name(v) != "str" or len(v) == 0 or len(v) > max_chars:
        raise Error(name + ": a str of 1.." + str(max_chars) + " characters", "bad_arg")


def _hash(v, name: str) -> None:
    if type_name(v) != "bytes" or len(v) != 32:
        raise Error(name + ": 32 bytes (a sha256)", "bad_arg")


def _amount(v, name: str) -> None:
    if type_name(v) != "int" or v <= 0 or v > MAX_PRICE:
        raise Error(name + ": a positive int of points", "bad_arg")


# --- fee schedule and bills -----------------------------------------------------------

def set_schedule(items: list) -> int:
    """Property company: publish the fee schedule [[code, label, basis, price], ...]."""
    _role("property_company")
    if type_name(items) != "list" or len(items) == 0 or len(items) > MAX_ITEMS:
        raise Error("items: a list of 1..32 [code, label, basis, price]", "bad_arg")
    for it in items:
        if type_name(it) != "list" or len(it) != 4:
            raise Error("an item is [code, label, basis, price]", "bad_arg")
        _str(it[0], "code", 16)
        _str(it[1], "label", MAX_LABEL_CHARS)
        if it[2] not in BASES:
            raise Error("basis: area or fixed", "bad_arg")
        if type_name(it[3]) != "int" or it[3] < 0 or it[3] > MAX_PRICE:
            raise Error("price: an int of points >= 0", "bad_arg")
    version = load("schedule_version", 0) + 1
    store("schedule_version", version)
    store("schedule", {"version": version, "items": items, "by": caller, "at": block_time})
    emit("ScheduleSet", version=version)
    return version


def issue_bill(household: str, period: str, extras: list) -> int:
    """Property company: bill a household for a period from the schedule plus extra lines."""
    _role("property_company")
    _str(period, "period", MAX_PERIOD_CHARS)
    area = call("households", "household", [household])
    if area == 0:
        raise Error("not a registered household", "not_found")
    sched = load("schedule")
    if sched is None:
        raise Error("no fee schedule is published", "bad_state")
    if type_name(extras) != "list" or len(extras) > MAX_EXTRAS:
        raise Error("extras: a list of up to 8 [label, amount]", "bad_arg")
    pkey = "bp:" + period + ":" + household
    if has(pkey):
        raise Error("this household already has a bill for " + period, "exists")
    lines = []
    total = 0
    for it in sched["items"]:
        amount = it[3] * area // 100 if it[2] == "area" else it[3]
        lines.append([it[1], amount])
        total += amount
    for ex in extras:
        if type_name(ex) != "list" or len(ex) != 2:
            raise Error("an extra line is [label, amount]", "bad_arg")
        _str(ex[0], "label", MAX_LABEL_CHARS)
        _amount(ex[1], "amount")
        lines.append([ex[0], ex[1]])
        total += ex[1]
    if total <= 0:
        raise Error("the bill totals 0 points", "bad_arg")
    ids = load("bh:" + household, [])
    if len(ids) >= MAX_LIST:
        raise Error("too many bills for this household", "full")
    bid = load("next_bill", 1)
    store("next_bill", bid + 1)
    store("bill:" + str(bid), {"id": bid, "household": household, "period": period,
                               "lines": lines, "total": total, "company": caller,
                               "schedule_version": sched["version"], "issued_at": block_time,
                               "status": "unpaid", "paid_by": None, "method": None,
                               "reference": None, "paid_at": None})
    store(pkey, bid)
    ids.append(bid)
    store("bh:" + household, ids)
    unpaid = load("unpaid")
    store("unpaid", [unpaid[0] + 1, unpaid[1] + total])
    emit("BillIssued", id=bid, household=household, period=period, total=total)
    return bid


def _unpaid_bill(bill_id: int) -> dict:
    b = load("bill:" + str(bill_id)) if type_name(bill_id) == "int" else None
    if b is None:
        raise Error("no such bill", "not_found")
    if b["status"] != "unpaid":
        raise Error("the bill is already paid", "bad_state")
    return b


def _settle(b: dict, method: str, reference: str) -> None:
    b["status"] = "paid"
    b["paid_by"] = caller
    b["method"] = method
    b["reference"] = reference
    b["paid_at"] = block_time
    store("bill:" + str(b["id"]), b)
    unpaid = load("unpaid")
    store("unpaid", [unpaid[0] - 1, unpaid[1] - b["total"]])
    emit("BillPaid", id=b["id"], household=b["household"], payer=caller, method=method,
         amount=b["total"], reference=reference)


def pay_bill(bill_id: int) -> None:
    """Pay a bill in points: the signer's points go to the company that issued it."""
    b = _unpaid_bill(bill_id)
    collect(b["total"])
    pay(b["company"], b["total"])
    _settle(b, "points", None)


def set_confirmer(address: str, enabled: bool) -> None:
    """Committee: appoint or dismiss a payment confirmer (bank/cashier reconciliation)."""
    _role("committee")
    if not is_address(address) or type_name(enabled) != "bool":
        raise Error("set_confirmer(address, enabled: bool)", "bad_arg")
    if enabled:
        store("c:" + address, True)
    else:
        delete("c:" + address)
    emit("ConfirmerSet", address=address, enabled=enabled)


def confirm_payment(bill_id: int, reference: str) -> None:
    """Payment confirmer: record an off-chain payment with its unique reference."""
    if not has("c:" + caller):
        raise Error("the payment confirmer appointment is required", "not_allowed")
    _str(reference, "reference", MAX_REF_CHARS)
    if has("ref:" + reference):
        raise Error("payment reference already used", "exists")
    b = _unpaid_bill(bill_id)
    store("ref:" + reference, bill_id)
    _settle(b, "offchain", reference)


# --- maintenance fund -----------------------------------------------------------------

def deposit_fund(amount: int) -> int:
    """Deposit the signer's points into the maintenance fund; returns the fund balance."""
    _amount(amount, "amount")
    collect(amount)
    held = load("fund", 0) + amount
    store("fund", held)
    emit("FundDeposited", by=caller, amount=amount, balance=held)
    return held


def propose_spend(to: str, amount: int, title: str, doc_hash: bytes) -> int:
    """Raise an Article 278 category-5 owners' vote on paying ``amount`` to ``to``."""
    if caller != "assembly" and not has_role(caller, "committee") and not has_role(caller, "property_company"):
        raise Error("the committee or property_company role is required", "not_allowed")
    if not is_account(to):
        raise Error("to: an address or contract name", "bad_arg")
    _amount(amount, "amount")
    _str(title, "title", MAX_TITLE_CHARS)
    _hash(doc_hash, "doc_hash")
    pid = call("governance", "propose_owners", [FUND_CATEGORY, title, doc_hash])
    sid = load("next_spend", 1)
    store("next_spend", sid + 1)
    store("sp:" + str(sid), {"id": sid, "to": to, "amount": amount, "pid": pid,
                             "status": "voting", "by": caller, "doc_hash": doc_hash})
    store("spid:" + str(pid), sid)
    emit("SpendProposed", id=sid, pid=pid, to=to, amount=amount)
    return sid


def _pay_spend(s: dict) -> None:
    held = load("fund", 0)
    if held < s["amount"]:
        s["status"] = "approved"
        store("sp:" + str(s["id"]), s)
        return
    store("fund", held - s["amount"])
    pay(s["to"], s["amount"])
    s["status"] = "paid"
    s["paid_at"] = block_time
    store("sp:" + str(s["id"]), s)
    emit("SpendPaid", id=s["id"], pid=s["pid"], to=s["to"], amount=s["amount"])


def on_closed(pid: int, category: int, status: str) -> None:
    """Governance: a proposal this contract raised closed. Never fails on data, so the
    governance result is always recorded."""
    if caller != "governance":
        raise Error("only governance reports results", "not_allowed")
    sid = load("spid:" + str(pid))
    if sid is None:
        return
    s = load("sp:" + str(sid))
    if s["status"] != "voting":
        return
    if status == "passed" and category == FUND_CATEGORY:
        _pay_spend(s)
    else:
        s["status"] = "rejected"
        store("sp:" + str(sid), s)
    emit("SpendClosed", id=sid, pid=pid, status=s["status"])


def release_spend(spend_id: int) -> None:
    """Pay an approved spend that the fund could not cover when its vote closed."""
    s = load("sp:" + str(spend_id)) if type_name(spend_id) == "int" else None
    if s is None:
        raise Error("no such spend", "not_found")
    if s["status"] != "approved":
        raise Error("the spend is " + s["status"] + ": only a spend approved by a passed "
                    + "category-5 owners' vote is paid", "bad_state")
    if load("fund", 0) < s["amount"]:
        raise Error("the maintenance fund holds too little", "insufficient_fund")
    _pay_spend(s)


# --- service contracts and satisfaction ------------------------------------------------

def register_contract(doc_hash: bytes, counterparty: str, start_time: int, end_time: int,
                      amount: int) -> int:
    """Property company: register a service contract by the hash of its document."""
    _role("property_company")
    _hash(doc_hash, "doc_hash")
    _str(counterparty, "counterparty", 64)
    if type_name(start_time) != "int" or type_name(end_time) != "int" or start_time < 0 or end_time <= start_time:
        raise Error("start_time < end_time, ints of seconds", "bad_arg")
    if type_name(amount) != "int" or amount < 0 or amount > MAX_PRICE:
        raise Error("amount: an int >= 0", "bad_arg")
    cid = load("next_contract", 1)
    store("next_contract", cid + 1)
    store("sc:" + str(cid), {"id": cid, "doc_hash": doc_hash, "company": caller,
                             "counterparty": counterparty, "start_time": start_time,
                             "end_time": end_time, "amount": amount, "at": block_time})
    emit("ServiceContractRegistered", id=cid, doc_hash=doc_hash, counterparty=counterparty,
         amount=amount)
    return cid


def rate(period: str, score: int) -> None:
    """Household: rate the property service for a period (1..5); rating again replaces."""
    _str(period, "period", MAX_PERIOD_CHARS)
    if type_name(score) != "int" or score < 1 or score > 5:
        raise Error("score: an int 1..5", "bad_arg")
    if call("households", "household", [caller]) == 0:
        raise Error("only registered households rate the property service", "not_allowed")
    key = "rt:" + period + ":" + caller
    old = load(key, 0)
    agg = load("ra:" + period, [0, 0])
    if old == 0:
        agg[0] += 1
    agg[1] += score - old
    store(key, score)
    store("ra:" + period, agg)
    emit("Rated", period=period, household=caller, score=score)


# --- views ----------------------------------------------------------------------------


def _k(v) -> str:
    # Views take ids and addresses from anyone: refuse other types with a clear error.
    if type_name(v) != "int" and type_name(v) != "str":
        raise Error("an int or str argument is expected", "bad_arg")
    return str(v)


@view
def schedule() -> dict:
    return load("schedule")


@view
def bill(bill_id: int) -> dict:
    return load("bill:" + _k(bill_id))


@view
def bills_of(household: str) -> list:
    return load("bh:" + _k(household), [])


@view
def arrears(household: str) -> dict:
    out = []
    total = 0
    for bid in load("bh:" + _k(household), []):
        b = load("bill:" + _k(bid))
        if b["status"] == "unpaid":
            out.append(bid)
            total += b["total"]
    return {"bills": out, "total": total}


@view
def arrears_all() -> dict:
    u = load("unpaid", [0, 0])
    return {"bills": u[0], "total": u[1]}


@view
def fund() -> int:
    return load("fund", 0)


@view
def spend(spend_id: int) -> dict:
    return load("sp:" + _k(spend_id))


@view
def service_contract(contract_id: int) -> dict:
    return load("sc:" + _k(contract_id))


@view
def rating(period: str) -> dict:
    agg = load("ra:" + _k(period), [0, 0])
    avg = 0 if agg[0] == 0 else agg[1] * 100 // agg[0]
    return {"count": agg[0], "sum": agg[1], "average_x100": avg}


@view
def my_rating(period: str, household: str) -> int:
    return load("rt:" + _k(period) + ":" + _k(household), 0)


@view
def is_confirmer(address: str) -> bool:
    return has("c:" + _k(address))


# --- lists (docs/APPLICATIONS.md "Lists"): newest first, paged by id ------------------

MAX_PAGE = 50
MAX_SCAN = 256


def _page_start(cursor: int, limit: int, top: int) -> int:
    # The first id a page looks at: the newest for cursor 0, else the one below cursor.
    if type_name(cursor) != "int" or cursor < 0:
        raise Error("cursor: an int >= 0 (0 = from the newest)", "bad_arg")
    if type_name(limit) != "int" or limit < 1 or limit > MAX_PAGE:
        raise Error("limit: an int 1..50", "bad_arg")
    if cursor == 0 or cursor > top:
        return top
    return cursor - 1


def _filter_arg(v, name: str, allowed) -> None:
    if type_name(v) != "str" or len(v) > 64:
        raise Error(name + ": a str (\"\" = any)", "bad_arg")
    if allowed is not None and v != "" and v not in allowed:
        raise Error(name + ": one of " + ", ".join(list(allowed)), "bad_arg")


BILL_STATUSES = ("unpaid", "paid")


@view
def bills(household: str, status: str, period: str, cursor: int, limit: int) -> dict:
    """Bills newest first: of one household ("" = every household), filtered by status
    and period."""
    _filter_arg(household, "household", None)
    _filter_arg(status, "status", BILL_STATUSES)
    _filter_arg(period, "period", None)
    top = load("next_bill", 1) - 1
    start = _page_start(cursor, limit, top)
    items = []
    scanned = 0
    if household == "":
        i = start
        while i >= 1 and len(items) < limit and scanned < MAX_SCAN:
            b = load("bill:" + str(i))
            scanned += 1
            if b is not None and (status == "" or b["status"] == status) \
                    and (period == "" or b["period"] == period):
                items.append(b)
            i -= 1
        return {"items": items, "next": i + 1 if i >= 1 else 0}
    # One household: walk its own index (ascending ids) from the end.
    ids = load("bh:" + household, [])
    j = len(ids) - 1
    while j >= 0 and ids[j] > start:
        j -= 1
    while j >= 0 and len(items) < limit and scanned < MAX_SCAN:
        b = load("bill:" + str(ids[j]))
        scanned += 1
        if (status == "" or b["status"] == status) and (period == "" or b["period"] == period):
            items.append(b)
        j -= 1
    return {"items": items, "next": ids[j + 1] if j >= 0 else 0}


@view
def contracts(cursor: int, limit: int) -> dict:
    """Service contracts, newest first."""
    i = _page_start(cursor, limit, load("next_contract", 1) - 1)
    items = []
    while i >= 1 and len(items) < limit:
        c = load("sc:" + str(i))
        if c is not None:
            items.append(c)
        i -= 1
    return {"items": items, "next": i + 1 if i >= 1 else 0}
