# mypy: ignore-errors
# ruff: noqa
"""fees: the price of gas, where fees go, and who pays the fees of sponsored calls.

Parameters (storage "p:<name>", read by the executor at the start of every block):
  gas_price_milli  points per 1,000 gas units (int >= 0); a tx's fee is
                   ceil(gas_used * gas_price_milli / 1000) points
  fee_split        [[recipient account, basis points], ...] summing to 10000; the
                   rounding remainder goes to the first recipient (the treasury)
  sponsor          the account that pays sponsored fees (e.g. "governance", the treasury)
  sponsored        ["contract.method", ...] calls whose fee the sponsor pays ...
  sponsored_role   ... when the sender holds this role (e.g. "resident"),
  sponsored_per_day ... for at most this many txs per sender and day (default 100)
  sponsored_first_txs a holder of sponsored_role has ANY call sponsored while its nonce
                   is below this (its first actions; default 0), within the same daily count
Only governance changes them (set_param), through a chain-matter proposal.
"""

NAMES = ("gas_price_milli", "fee_split", "sponsor", "sponsored", "sponsored_role", "sponsored_per_day",
         "sponsored_first_txs")
MAX_FIRST_TXS = 1000
MAX_GAS_PRICE_MILLI = 1000000  # 1,000 points per gas
MAX_SPLIT = 8
MAX_SPONSORED = 32


def init(config: dict) -> None:
    for name in NAMES:
        if name in config:
            _set(name, config[name])


def _set(name: str, value) -> None:
    if name == "gas_price_milli":
        if type_name(value) != "int" or value < 0 or value > MAX_GAS_PRICE_MILLI:
            raise Error("gas_price_milli must be an int in 0..1000000", "bad_param")
    elif name == "fee_split":
        if type_name(value) != "list" or len(value) == 0 or len(value) > MAX_SPLIT:
            raise Error("fee_split must be a list of 1..8 [recipient, bps]", "bad_param")
        total = 0
        for item in value:
            if type_name(item) != "list" or len(item) != 2:
                raise Error("fee_split item must be [recipient, bps]", "bad_param")
            if not is_account(item[0]) or type_name(item[1]) != "int" or item[1] < 0:
                raise Error("bad fee_split item " + str(item[0]), "bad_param")
            total += item[1]
        if total != 10000:
            raise Error("fee_split must sum to 10000 basis points", "bad_param")
    elif name == "sponsor":
        if not is_account(value):
            raise Error("sponsor must be an account", "bad_param")
    elif name == "sponsored":
        if type_name(value) != "list" or len(value) > MAX_SPONSORED:
            raise Error("sponsored must be a list of 'contract.method'", "bad_param")
        for item in value:
            if type_name(item) != "str" or len(item.split(".")) != 2:
                raise Error("sponsored items look like 'governance.vote'", "bad_param")
    elif name == "sponsored_per_day":
        if type_name(value) != "int" or value < 0 or value > 1000000:
            raise Error("sponsored_per_day must be an int in 0..1000000", "bad_param")
    elif name == "sponsored_first_txs":
        if type_name(value) != "int" or value < 0 or value > MAX_FIRST_TXS:
            raise Error("sponsored_first_txs must be an int in 0..1000", "bad_param")
    elif name == "sponsored_role":
        if type_name(value) != "str":
            raise Error("sponsored_role must be a role name", "bad_param")
    else:
        raise Error("unknown fee parameter " + str(name), "bad_param")
    store("p:" + name, value)
    emit("ParamSet", name=name, value=value)


def set_param(name: str, value) -> None:
    """Governance only."""
    if caller != "governance":
        raise Error("only governance sets fee parameters", "not_allowed")
    _set(name, value)


@view
def params() -> dict:
    out = {}
    for name in NAMES:
        out[name] = load("p:" + name)
    return out


@view
def gas_price_milli() -> int:
    """Points per 1,000 gas units."""
    return load("p:gas_price_milli", 0)
