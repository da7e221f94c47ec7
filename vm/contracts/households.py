# mypy: ignore-errors
# ruff: noqa
"""households: the owner-household register that Article 278 votes count.

One household = one address = one unit (a flat label such as "T3-12B") = one vote, with
its exclusive floor area in 0.01 m² and a 32-byte identity commitment
sha256(salt || canonical identity data) computed off chain. Names, ID numbers and phone
numbers never reach the chain: a resident proves a household by revealing salt and data to
a verifier off chain, who recomputes the commitment and compares it with record().
governance reads the register (genesis params.governance.register) for Article 278.

The electorate of an owners' vote is the register as it stood when the vote opened: a
household registered later does not vote, one removed later still does, and each votes
with its area of that moment. So that opening a vote copies nothing, the register is
versioned: every change bumps "version" and appends [version, area_dm2] (0 = removed) to
the household's own history; governance keeps the version and the totals of the moment it
opens a vote (electorate()) and asks household_at(address, version) for each voter, a
binary search over that one household's history.

Storage: "h:<address>" -> {"unit", "area_dm2", "commitment", "registered_at"},
"u:<unit>" -> address, "total_area" and "total_owners" (ints), "version" (int),
"hn:<address>" -> number of history entries, "hv:<address>:<i>" -> [version, area_dm2].
"""

MAX_UNIT_CHARS = 32
MAX_AREA_DM2 = 100000000  # 10,000 m²: no single household is larger


def init(config: dict) -> None:
    store("total_area", 0)
    store("total_owners", 0)
    store("version", 0)


def _changed(address: str, old_dm2: int, area_dm2: int) -> None:
    # One history entry per change of a household (area_dm2 0: removed); see the docstring.
    version = load("version", 0) + 1
    store("version", version)
    n = load("hn:" + address, 0)
    if n == 0 and old_dm2 != 0:
        # registered before the register kept history (an upgraded register): that area
        # stood since the start
        store("hv:" + address + ":0", [0, old_dm2])
        n = 1
    store("hv:" + address + ":" + str(n), [version, area_dm2])
    store("hn:" + address, n + 1)


def _committee() -> None:
    if not has_role(caller, "committee"):
        raise Error("the committee role is required", "not_allowed")


def _check(area_dm2: int, commitment: bytes) -> None:
    if type_name(area_dm2) != "int" or area_dm2 <= 0 or area_dm2 > MAX_AREA_DM2:
        raise Error("area_dm2: a positive int of 0.01 m² units", "bad_arg")
    if type_name(commitment) != "bytes" or len(commitment) != 32:
        raise Error("commitment: 32 bytes, sha256(salt || identity data)", "bad_arg")


def register(address: str, unit: str, area_dm2: int, commitment: bytes) -> None:
    """Committee: add an owner household. It must hold the resident role already."""
    _committee()
    if not is_address(address):
        raise Error("address: an hk1... address", "bad_arg")
    if type_name(unit) != "str" or len(unit) == 0 or len(unit) > MAX_UNIT_CHARS:
        raise Error("unit: a str of 1..32 characters", "bad_arg")
    _check(area_dm2, commitment)
    if not has_role(address, "resident"):
        raise Error("grant the resident role to the address first", "not_resident")
    if has("h:" + address):
        raise Error("the address is already a registered household", "exists")
    if has("u:" + unit):
        raise Error("unit " + unit + " already has a household", "exists")
    store("h:" + address, {"unit": unit, "area_dm2": area_dm2, "commitment": commitment,
                           "registered_at": block_time})
    store("u:" + unit, address)
    store("total_area", load("total_area", 0) + area_dm2)
    store("total_owners", load("total_owners", 0) + 1)
    _changed(address, 0, area_dm2)
    emit("HouseholdRegistered", address=address, unit=unit, area_dm2=area_dm2,
         commitment=commitment)


def _get(address: str) -> dict:
    rec = load("h:" + address) if type_name(address) == "str" else None
    if rec is None:
        raise Error("no such household", "not_found")
    return rec


def update(address: str, area_dm2: int, commitment: bytes) -> None:
    """Committee: correct a household's area or renew its commitment."""
    _committee()
    _check(area_dm2, commitment)
    rec = _get(address)
    old_area = rec["area_dm2"]
    store("total_area", load("total_area", 0) - old_area + area_dm2)
    rec["area_dm2"] = area_dm2
    rec["commitment"] = commitment
    store("h:" + address, rec)
    if area_dm2 != old_area:
        _changed(address, old_area, area_dm2)
    emit("HouseholdUpdated", address=address, area_dm2=area_dm2, commitment=commitment)


def remove(address: str) -> None:
    """Committee: remove a household (e.g. the unit was sold)."""
    _committee()
    rec = _get(address)
    delete("h:" + address)
    delete("u:" + rec["unit"])
    store("total_area", load("total_area", 0) - rec["area_dm2"])
    store("total_owners", load("total_owners", 0) - 1)
    _changed(address, rec["area_dm2"], 0)
    emit("HouseholdRemoved", address=address, unit=rec["unit"])


@view
def household(address: str) -> int:
    """The household's exclusive area in 0.01 m², or 0 if it is not registered."""
    if type_name(address) != "str":
        return 0
    rec = load("h:" + address)
    if rec is None:
        return 0
    return rec["area_dm2"]


@view
def totals() -> list:
    """[total area in 0.01 m², number of households]."""
    return [load("total_area", 0), load("total_owners", 0)]


@view
def electorate() -> list:
    """[version, total area in 0.01 m², number of households]: what a vote opening now
    fixes as its electorate."""
    return [load("version", 0), load("total_area", 0), load("total_owners", 0)]


@view
def household_at(address: str, version: int) -> int:
    """The household's area in 0.01 m² when the register was at ``version`` (0 if it was
    not a registered household then)."""
    if type_name(address) != "str" or type_name(version) != "int":
        return 0
    n = load("hn:" + address, 0)
    if n == 0:  # never changed since the register kept history
        rec = load("h:" + address)
        return 0 if rec is None else rec["area_dm2"]
    last = load("hv:" + address + ":" + str(n - 1))
    if last[0] <= version:
        return last[1]
    lo = 0
    hi = n - 1
    while lo < hi:  # the number of entries at or before ``version``
        mid = (lo + hi) // 2
        if load("hv:" + address + ":" + str(mid))[0] <= version:
            lo = mid + 1
        else:
            hi = mid
    if lo == 0:
        return 0
    return load("hv:" + address + ":" + str(lo - 1))[1]


@view
def record(address: str) -> dict:
    if type_name(address) != "str":
        return None
    return load("h:" + address)


@view
def unit_holder(unit: str) -> str:
    if type_name(unit) != "str":
        return None
    return load("u:" + unit)


@view
def verify(address: str, commitment: bytes) -> bool:
    """Whether ``commitment`` is the one registered for ``address``."""
    rec = record(address)
    return rec is not None and rec["commitment"] == commitment
