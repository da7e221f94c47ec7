# mypy: ignore-errors
# ruff: noqa
"""token: the community points (积分). Closed loop: points are earned, spent and burnt in
the community; nothing here exchanges them for money.

Accounts are addresses or contract names (a contract holds points like anyone else; the
treasury is the governance contract's balance). Points are minted only by minters that
governance authorised, each within its daily cap. Every movement emits an event; the
executor's fee charge appears as a "Fee" event of this contract.

Storage: "b:<account>" -> balance (the executor reads and writes it to charge fees),
"supply" -> total points, "m:<minter>" -> {"cap_per_day", "day", "minted"}.
"""

DAY_S = 86400


def init(config: dict) -> None:
    for a in config.get("balances", []):
        _mint(a["address"], a["balance"], "genesis")
    for r in config.get("mint_rules", []):
        _set_rule(r["minter"], r["cap_per_day"])


def _check_amount(amount: int) -> None:
    if type_name(amount) != "int" or amount <= 0:
        raise Error("amount must be a positive int", "bad_amount")


def _mint(to: str, amount: int, minter: str) -> None:
    _check_amount(amount)
    if not is_account(to):
        raise Error("not an account: " + str(to), "bad_account")
    store("b:" + to, load("b:" + to, 0) + amount)
    store("supply", load("supply", 0) + amount)
    emit("Mint", to=to, amount=amount, minter=minter)


def transfer(to: str, amount: int) -> bool:
    """Move ``amount`` points from the caller to ``to``."""
    if type_name(amount) != "int" or amount <= 0:  # _check_amount, inlined: the hot path
        raise Error("amount must be a positive int", "bad_amount")
    sender = caller
    held = load("b:" + sender, 0)
    if held < amount:
        raise Error("insufficient balance", "insufficient_balance")
    if not is_account(to):
        raise Error("not an account: " + str(to), "bad_account")
    store("b:" + sender, held - amount)
    store("b:" + to, load("b:" + to, 0) + amount)
    emit("Transfer", sender=sender, to=to, amount=amount)
    return True


def burn(amount: int) -> None:
    """Destroy ``amount`` of the caller's points (e.g. a redeemed reward)."""
    _check_amount(amount)
    held = load("b:" + caller, 0)
    if held < amount:
        raise Error("insufficient balance", "insufficient_balance")
    store("b:" + caller, held - amount)
    store("supply", load("supply", 0) - amount)
    emit("Burn", account=caller, amount=amount)


def mint(to: str, amount: int) -> None:
    """Create points as a reward: only an authorised minter, within its daily cap."""
    _check_amount(amount)
    rule = load("m:" + caller)
    if rule is None:
        raise Error("caller is not an authorised minter", "not_allowed")
    day = block_time // DAY_S
    if rule["day"] != day:
        rule["day"] = day
        rule["minted"] = 0
    if rule["minted"] + amount > rule["cap_per_day"]:
        raise Error("daily mint cap reached", "mint_cap")
    rule["minted"] += amount
    store("m:" + caller, rule)
    _mint(to, amount, caller)


def _set_rule(minter: str, cap_per_day: int) -> None:
    if not is_account(minter) and not is_address(minter):
        raise Error("not an account: " + str(minter), "bad_account")
    if type_name(cap_per_day) != "int" or cap_per_day < 0:
        raise Error("cap_per_day must be a non-negative int", "bad_amount")
    if cap_per_day == 0:
        delete("m:" + minter)
    else:
        store("m:" + minter, {"cap_per_day": cap_per_day, "day": -1, "minted": 0})
    emit("MintRuleSet", minter=minter, cap_per_day=cap_per_day)


def set_mint_rule(minter: str, cap_per_day: int) -> None:
    """Governance only: authorise ``minter`` to mint up to ``cap_per_day`` (0 revokes)."""
    if caller != "governance":
        raise Error("only governance authorises minting", "not_allowed")
    _set_rule(minter, cap_per_day)


@view
def balance(account: str) -> int:
    return load("b:" + account, 0)


@view
def supply() -> int:
    return load("supply", 0)


@view
def mint_rule(minter: str) -> dict:
    return load("m:" + minter)
