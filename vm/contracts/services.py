# mypy: ignore-errors
# ruff: noqa
"""services: residents' service requests, provider offers, matching, escrow and ratings.

A resident posts a request (category, hash of the description, budget in points);
providers registered for the category offer a price. The matching rule ranks offers by
(1) the provider's average rating, higher first (no ratings yet counts as 3.00), (2) the
price, lower first, (3) the order of the offers, earlier first. The requester accepts an
offer (or the best-ranked one): the price is collected into escrow here. Completion
releases it to the provider; the requester is refunded on the provider's cancellation or
after timeout_s without completion; either party may dispute, and the committee then
splits the escrow. The requester rates the provider once, which feeds the ranking.
"""

MAX_CATEGORIES = 8
MAX_CATEGORY_CHARS = 32
MAX_OFFERS = 16
MAX_BUDGET = 1000000000000
NO_RATING_X100 = 300
KEY_SHIFT = 32  # offer index packed under the ranking key (MAX_OFFERS <= 32)


def init(config: dict) -> None:
    store("next_id", 1)
    store("seq", 0)
    _set_param("timeout_s", config.get("timeout_s", 604800))


def _set_param(name: str, value) -> None:
    if name != "timeout_s":
        raise Error("unknown parameter " + str(name), "bad_param")
    if type_name(value) != "int" or value < 60 or value > 31536000:
        raise Error("timeout_s: an int of seconds 60..31536000", "bad_param")
    store("p:" + name, value)
    emit("ParamSet", name=name, value=value)


def set_param(name: str, value) -> None:
    """Governance only."""
    if caller != "governance":
        raise Error("only governance sets services parameters", "not_allowed")
    _set_param(name, value)


def _role(role: str) -> None:
    if not has_role(caller, role):
        raise Error("the " + role + " role is required", "not_allowed")


def _hash(v, name: str) -> None:
    if type_name(v) != "bytes" or len(v) != 32:
        raise Error(name + ": 32 bytes (a sha256)", "bad_arg")


def _get(request_id: int) -> dict:
    r = load("rq:" + str(request_id)) if type_name(request_id) == "int" else None
    if r is None:
        raise Error("no such request", "not_found")
    return r


def _put(r: dict) -> None:
    store("rq:" + str(r["id"]), r)


def _rating_x100(p: dict) -> int:
    if p is None or p["rating_count"] == 0:
        return NO_RATING_X100
    return p["rating_sum"] * 100 // p["rating_count"]


def register_provider(categories: list) -> None:
    """Service provider: the categories it serves (registering again replaces them)."""
    _role("service_provider")
    if type_name(categories) != "list" or len(categories) == 0 or len(categories) > MAX_CATEGORIES:
        raise Error("categories: a list of 1..8 str", "bad_arg")
    for c in categories:
        if type_name(c) != "str" or len(c) == 0 or len(c) > MAX_CATEGORY_CHARS:
            raise Error("a category is a str of 1..32 characters", "bad_arg")
    p = load("pv:" + caller, {"categories": [], "rating_sum": 0, "rating_count": 0})
    p["categories"] = categories
    store("pv:" + caller, p)
    emit("ProviderRegistered", provider=caller, categories=categories)


def request(category: str, description_hash: bytes, budget: int) -> int:
    """Resident: post a request; the budget is the most the resident will pay."""
    _role("resident")
    if type_name(category) != "str" or len(category) == 0 or len(category) > MAX_CATEGORY_CHARS:
        raise Error("category: a str of 1..32 characters", "bad_arg")
    _hash(description_hash, "description_hash")
    if type_name(budget) != "int" or budget <= 0 or budget > MAX_BUDGET:
        raise Error("budget: a positive int of points", "bad_arg")
    rid = load("next_id", 1)
    store("next_id", rid + 1)
    _put({"id": rid, "requester": caller, "category": category,
          "description_hash": description_hash, "budget": budget, "status": "open",
          "provider": None, "price": 0, "escrow": 0, "accepted_at": 0, "rated": False,
          "created": block_time})
    emit("Requested", id=rid, requester=caller, category=category, budget=budget,
         description_hash=description_hash)
    return rid


def offer(request_id: int, price: int) -> None:
    """Service provider registered for the category: offer a price (again: replaces)."""
    _role("service_provider")
    r = _get(request_id)
    if r["status"] != "open":
        raise Error("the request is " + r["status"], "bad_state")
    p = load("pv:" + caller)
    if p is None or r["category"] not in p["categories"]:
        raise Error("the provider is not registered for " + r["category"], "not_allowed")
    if caller == r["requester"]:
        raise Error("a requester cannot serve its own request", "not_allowed")
    if type_name(price) != "int" or price <= 0 or price > r["budget"]:
        raise Error("price: a positive int within the budget", "bad_arg")
    offs = load("of:" + str(request_id), [])
    seq = load("seq", 0) + 1
    store("seq", seq)
    found = False
    for o in offs:
        if o["provider"] == caller:
            o["price"] = price
            o["seq"] = seq
            found = True
    if not found:
        if len(offs) >= MAX_OFFERS:
            raise Error("the request has the maximum number of offers", "full")
        offs.append({"provider": caller, "price": price, "seq": seq})
    store("of:" + str(request_id), offs)
    emit("Offered", id=request_id, provider=caller, price=price)


def _ranked(request_id: int) -> list:
    offs = load("of:" + _k(request_id), [])
    keys = []
    ratings = []
    for i, o in enumerate(offs):
        r = _rating_x100(load("pv:" + o["provider"]))
        ratings.append(r)
        k = (10000 - r) * 10 ** 40 + o["price"] * 10 ** 20 + o["seq"]
        keys.append(k * KEY_SHIFT + i)
    out = []
    for k in sorted(keys):
        i = k % KEY_SHIFT
        out.append({"provider": offs[i]["provider"], "price": offs[i]["price"],
                    "rating_x100": ratings[i]})
    return out


def accept(request_id: int, provider: str) -> str:
    """Requester: accept an offer ("" = the best-ranked); its price goes into escrow."""
    r = _get(request_id)
    if caller != r["requester"]:
        raise Error("only the requester accepts an offer", "not_allowed")
    if r["status"] != "open":
        raise Error("the request is " + r["status"], "bad_state")
    ranked = _ranked(request_id)
    if len(ranked) == 0:
        raise Error("no offers yet", "not_found")
    chosen = None
    if provider == "":
        chosen = ranked[0]
    else:
        for o in ranked:
            if o["provider"] == provider:
                chosen = o
    if chosen is None:
        raise Error("no offer from " + str(provider), "not_found")
    if not has_role(chosen["provider"], "service_provider"):
        raise Error("the provider no longer holds the service_provider role", "bad_state")
    collect(chosen["price"])
    r["status"] = "accepted"
    r["provider"] = chosen["provider"]
    r["price"] = chosen["price"]
    r["escrow"] = chosen["price"]
    r["accepted_at"] = block_time
    _put(r)
    emit("Accepted", id=request_id, provider=chosen["provider"], price=chosen["price"])
    return chosen["provider"]


def complete(request_id: int) -> None:
    """Requester: the work is done; the escrow goes to the provider."""
    r = _get(request_id)
    if caller != r["requester"]:
        raise Error("only the requester confirms completion", "not_allowed")
    if r["status"] != "accepted":
        raise Error("the request is " + r["status"], "bad_state")
    amount = r["escrow"]
    r["escrow"] = 0
    r["status"] = "completed"
    _put(r)
    pay(r["provider"], amount)
    emit("Completed", id=request_id, provider=r["provider"], amount=amount)


def cancel(request_id: int) -> None:
    """The requester while open (nothing is held); the provider once accepted (refund)."""
    r = _get(request_id)
    refund_amount = 0
    if r["status"] == "open" and caller == r["requester"]:
        r["status"] = "cancelled"
    elif r["status"] == "accepted" and caller == r["provider"]:
        refund_amount = r["escrow"]
        r["escrow"] = 0
        r["status"] = "cancelled"
    elif r["status"] == "open" or r["status"] == "accepted":
        raise Error("only the requester (open) or the provider (accepted) cancels", "not_allowed")
    else:
        raise Error("the request is " + r["status"], "bad_state")
    _put(r)
    if refund_amount > 0:
        pay(r["requester"], refund_amount)
    emit("Cancelled", id=request_id, by=caller, refund=refund_amount)


def refund(request_id: int) -> None:
    """Requester: take the escrow back after timeout_s without completion."""
    r = _get(request_id)
    if caller != r["requester"]:
        raise Error("only the requester is refunded", "not_allowed")
    if r["status"] != "accepted":
        raise Error("the request is " + r["status"], "bad_state")
    if block_time < r["accepted_at"] + load("p:timeout_s"):
        raise Error("the provider still has time to complete", "too_early")
    amount = r["escrow"]
    r["escrow"] = 0
    r["status"] = "refunded"
    _put(r)
    pay(r["requester"], amount)
    emit("Refunded", id=request_id, amount=amount)


def dispute(request_id: int, reason_hash: bytes) -> None:
    """Requester or provider: put an accepted request before the committee."""
    r = _get(request_id)
    if caller != r["requester"] and caller != r["provider"]:
        raise Error("only the requester or the provider disputes", "not_allowed")
    if r["status"] != "accepted":
        raise Error("the request is " + r["status"], "bad_state")
    _hash(reason_hash, "reason_hash")
    r["status"] = "disputed"
    r["dispute"] = {"by": caller, "reason_hash": reason_hash, "at": block_time}
    _put(r)
    emit("Disputed", id=request_id, by=caller, reason_hash=reason_hash)


def decide(request_id: int, provider_amount: int) -> None:
    """Committee: settle a dispute; provider_amount to the provider, the rest refunded."""
    _role("committee")
    r = _get(request_id)
    if r["status"] != "disputed":
        raise Error("the request is not disputed", "bad_state")
    if type_name(provider_amount) != "int" or provider_amount < 0 or provider_amount > r["escrow"]:
        raise Error("provider_amount: an int 0..escrow", "bad_arg")
    back = r["escrow"] - provider_amount
    r["escrow"] = 0
    r["status"] = "decided"
    r["decision"] = {"by": caller, "provider_amount": provider_amount, "refund": back}
    _put(r)
    if provider_amount > 0:
        pay(r["provider"], provider_amount)
    if back > 0:
        pay(r["requester"], back)
    emit("Decided", id=request_id, provider_amount=provider_amount, refund=back)


def rate(request_id: int, score: int) -> None:
    """Requester: rate the provider once, after completion or a decision (1..5)."""
    r = _get(request_id)
    if caller != r["requester"]:
        raise Error("only the requester rates", "not_allowed")
    if r["status"] != "completed" and r["status"] != "decided":
        raise Error("only completed or decided requests are rated", "bad_state")
    if r["rated"]:
        raise Error("already rated", "exists")
    if type_name(score) != "int" or score < 1 or score > 5:
        raise Error("score: an int 1..5", "bad_arg")
    r["rated"] = True
    _put(r)
    p = load("pv:" + r["provider"], {"categories": [], "rating_sum": 0, "rating_count": 0})
    p["rating_sum"] += score
    p["rating_count"] += 1
    store("pv:" + r["provider"], p)
    emit("ProviderRated", id=request_id, provider=r["provider"], score=score)


def _k(v) -> str:
    # Views take ids and addresses from anyone: refuse other types with a clear error.
    if type_name(v) != "int" and type_name(v) != "str":
        raise Error("an int or str argument is expected", "bad_arg")
    return str(v)


@view
def request_of(request_id: int) -> dict:
    return load("rq:" + _k(request_id))


@view
def offers(request_id: int) -> list:
    return load("of:" + _k(request_id), [])


@view
def ranking(request_id: int) -> list:
    """The offers in the order of the matching rule, best first."""
    return _ranked(request_id)


@view
def provider_of(address: str) -> dict:
    p = load("pv:" + _k(address))
    if p is None:
        return None
    p["rating_x100"] = _rating_x100(p)
    return p


@view
def params() -> dict:
    return {"timeout_s": load("p:timeout_s")}


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


STATUSES = ("open", "accepted", "completed", "cancelled", "refunded", "disputed", "decided")


@view
def requests(status: str, category: str, party: str, cursor: int, limit: int) -> dict:
    """Requests newest first, filtered by status, category and party (requester or
    provider); each with its number of offers."""
    _filter_arg(status, "status", STATUSES)
    _filter_arg(category, "category", None)
    _filter_arg(party, "party", None)
    i = _page_start(cursor, limit, load("next_id", 1) - 1)
    items = []
    scanned = 0
    while i >= 1 and len(items) < limit and scanned < MAX_SCAN:
        r = load("rq:" + str(i))
        scanned += 1
        if r is not None and (status == "" or r["status"] == status) \
                and (category == "" or r["category"] == category) \
                and (party == "" or r["requester"] == party or r["provider"] == party):
            r["offers"] = len(load("of:" + str(i), []))
            items.append(r)
        i -= 1
    return {"items": items, "next": i + 1 if i >= 1 else 0}
