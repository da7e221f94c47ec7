# mypy: ignore-errors
# ruff: noqa
"""merchants: registered merchants accepting community points, and featured listings.

A payment takes amount points from the signer: platform_fee_bps of it goes to the
treasury (the governance contract's balance), the rest to the merchant; the order
reference is unique per merchant. A featured listing costs promotion_fee_per_day per day,
paid to the treasury. Both parameters are set by governance.
"""

TREASURY = "governance"
BPS = 10000
MAX_NAME_CHARS = 64
MAX_CATEGORY_CHARS = 32
MAX_REF_CHARS = 64
MAX_DAYS = 90
MAX_MERCHANTS = 1024
MAX_AMOUNT = 1000000000000
DAY_S = 86400
PARAMS = ("platform_fee_bps", "promotion_fee_per_day")


def init(config: dict) -> None:
    store("list", [])
    _set_param("platform_fee_bps", config.get("platform_fee_bps", 100))
    _set_param("promotion_fee_per_day", config.get("promotion_fee_per_day", 100))


def _set_param(name: str, value) -> None:
    if name not in PARAMS:
        raise Error("unknown parameter " + str(name), "bad_param")
    limit = BPS if name == "platform_fee_bps" else 1000000
    if type_name(value) != "int" or value < 0 or value > limit:
        raise Error(name + ": an int 0.." + str(limit), "bad_param")
    store("p:" + name, value)
    emit("ParamSet", name=name, value=value)


def set_param(name: str, value) -> None:
    """Governance only."""
    if caller != "governance":
        raise Error("only governance sets merchants parameters", "not_allowed")
    _set_param(name, value)


def register(name: str, category: str) -> None:
    """Merchant: list (or update) the shop."""
    if not has_role(caller, "merchant"):
        raise Error("the merchant role is required", "not_allowed")
    if type_name(name) != "str" or len(name) == 0 or len(name) > MAX_NAME_CHARS:
        raise Error("name: a str of 1..64 characters", "bad_arg")
    if type_name(category) != "str" or len(category) == 0 or len(category) > MAX_CATEGORY_CHARS:
        raise Error("category: a str of 1..32 characters", "bad_arg")
    m = load("m:" + caller)
    if m is None:
        shops = load("list", [])
        if len(shops) >= MAX_MERCHANTS:
            raise Error("the merchant list is full", "full")
        shops.append(caller)
        store("list", shops)
        m = {"featured_until": 0, "sales": 0}
    m["name"] = name
    m["category"] = category
    store("m:" + caller, m)
    emit("MerchantRegistered", merchant=caller, name=name, category=category)


def purchase(merchant: str, amount: int, order_ref: str) -> int:
    """Pay a registered merchant for an order; returns the platform fee."""
    m = load("m:" + merchant) if is_address(merchant) else None
    if m is None or not has_role(merchant, "merchant"):
        raise Error("not a registered merchant", "not_found")
    if type_name(amount) != "int" or amount <= 0 or amount > MAX_AMOUNT:
        raise Error("amount: a positive int of points", "bad_arg")
    if type_name(order_ref) != "str" or len(order_ref) == 0 or len(order_ref) > MAX_REF_CHARS:
        raise Error("order_ref: a str of 1..64 characters", "bad_arg")
    okey = "o:" + merchant + ":" + order_ref
    if has(okey):
        raise Error("this order is already paid", "exists")
    # Rounded UP to a whole point, so any purchase pays a fee while the rate is not 0:
    # 1 % of 5 points is 1 point, of 120 points 2 points, of 2,500 points 25 points;
    # but never the whole amount (the merchant gets at least 1 point).
    fee = min((amount * load("p:platform_fee_bps", 0) + BPS - 1) // BPS, amount - 1)
    collect(amount)
    if amount - fee > 0:
        pay(merchant, amount - fee)
    if fee > 0:
        pay(TREASURY, fee)
    store(okey, {"payer": caller, "amount": amount, "fee": fee, "at": block_time})
    m["sales"] += amount
    store("m:" + merchant, m)
    emit("MerchantPaid", merchant=merchant, payer=caller, amount=amount, fee=fee,
         order_ref=order_ref)
    return fee


def promote(days: int) -> int:
    """Merchant: buy days of featured listing; the fee goes to the treasury. Returns the
    time (s) the listing is featured until."""
    m = load("m:" + caller)
    if m is None or not has_role(caller, "merchant"):
        raise Error("only a registered merchant promotes its listing", "not_allowed")
    if type_name(days) != "int" or days < 1 or days > MAX_DAYS:
        raise Error("days: an int 1..90", "bad_arg")
    fee = days * load("p:promotion_fee_per_day", 0)
    if fee > 0:
        collect(fee)
        pay(TREASURY, fee)
    until = max(m["featured_until"], block_time) + days * DAY_S
    m["featured_until"] = until
    store("m:" + caller, m)
    emit("Promoted", merchant=caller, days=days, fee=fee, featured_until=until)
    return until


def _k(v) -> str:
    # Views take ids and addresses from anyone: refuse other types with a clear error.
    if type_name(v) != "int" and type_name(v) != "str":
        raise Error("an int or str argument is expected", "bad_arg")
    return str(v)


@view
def listing(address: str) -> dict:
    return load("m:" + _k(address))


@view
def featured() -> list:
    """The merchants featured now, in order of registration."""
    out = []
    for a in load("list", []):
        if load("m:" + a)["featured_until"] > block_time:
            out.append(a)
    return out


@view
def merchants_all() -> list:
    return load("list", [])


@view
def payment(merchant: str, order_ref: str) -> dict:
    return load("o:" + _k(merchant) + ":" + _k(order_ref))


@view
def params() -> dict:
    return {"platform_fee_bps": load("p:platform_fee_bps"),
            "promotion_fee_per_day": load("p:promotion_fee_per_day")}
