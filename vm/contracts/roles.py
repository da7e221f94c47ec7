# mypy: ignore-errors
# ruff: noqa
"""roles: the identities of the community and who may grant them.

Roles: committee, resident, property_company, merchant, service_provider, observer,
validator. Who may grant (and revoke) a role is itself a rule stored here ("g:<role>":
a list of roles whose holders may grant it; "governance" means the governance contract).
Households are the owners of Civil Code Article 278: an address with an exclusive floor
area in 0.01 m² (area_dm2). Registering a household grants it the resident role.

The household register is versioned as in households.py (governance fixes an owners'
vote's electorate at the version of the moment the vote opens): electorate() and
household_at(address, version).

Storage: "r:<role>:<address>" -> True (the executor reads it for fee sponsorship),
"h:<address>" -> area_dm2, "total_area" and "total_owners" (ints), "g:<role>" -> [grantor],
"version" (int), "hn:<address>" -> count, "hv:<address>:<i>" -> [version, area_dm2].
The holders of each role are listed for the committee (holders(role, cursor, limit)):
"hl:<role>" -> count, "hl:<role>:<i>" -> address (i = 0..count-1), "hi:<role>:<address>"
-> i; a revoke moves the last holder into the freed place, so the list stays dense.
"""

ROLES = ("committee", "resident", "property_company", "merchant", "service_provider",
         "observer", "validator")
HOUSEHOLD_RULE = "household"  # the grant rule that governs the household register
MAX_AREA_DM2 = 100000000  # 10,000 m²: no single household is larger


def init(config: dict) -> None:
    rules = config.get("grant_rules", {})
    for role in ROLES:
        store("g:" + role, rules.get(role, ["governance"]))
    store("g:" + HOUSEHOLD_RULE, rules.get(HOUSEHOLD_RULE, ["committee"]))
    for g in config.get("grants", []):
        _grant(g["address"], g["role"])
    for h in config.get("households", []):
        _register(h["address"], h["area_dm2"])


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise Error("unknown role " + str(role), "unknown_role")


def _may_grant(who: str, rule: str) -> bool:
    for grantor in load("g:" + rule, []):
        if grantor == "governance":
            if who == "governance":
                return True
        elif has_role(who, grantor):
            return True
    return False


def _grant(address: str, role: str) -> None:
    _check_role(role)
    if not is_address(address):
        raise Error("not an address: " + str(address), "bad_address")
    key = "r:" + role + ":" + address
    if not has(key):
        store(key, True)
        n = load("hl:" + role, 0)
        store("hl:" + role + ":" + str(n), address)
        store("hi:" + role + ":" + address, n)
        store("hl:" + role, n + 1)
        emit("RoleGranted", address=address, role=role, by=caller)


def _unlist(address: str, role: str) -> None:
    # Move the last holder into the place of the one leaving (see the docstring).
    i = load("hi:" + role + ":" + address)
    if i is None:
        return  # granted before the list was kept
    last = load("hl:" + role, 0) - 1
    if i != last:
        moved = load("hl:" + role + ":" + str(last))
        store("hl:" + role + ":" + str(i), moved)
        store("hi:" + role + ":" + moved, i)
    delete("hl:" + role + ":" + str(last))
    delete("hi:" + role + ":" + address)
    store("hl:" + role, last)


def grant(address: str, role: str) -> None:
    """Grant ``role`` to ``address``; the caller must hold a role allowed to grant it."""
    _check_role(role)
    if not _may_grant(caller, role):
        raise Error("caller may not grant " + role, "not_allowed")
    _grant(address, role)


def revoke(address: str, role: str) -> None:
    _check_role(role)
    if not _may_grant(caller, role):
        raise Error("caller may not revoke " + role, "not_allowed")
    key = "r:" + role + ":" + address
    if has(key):
        delete(key)
        _unlist(address, role)
        emit("RoleRevoked", address=address, role=role, by=caller)


def set_grant_rule(rule: str, grantors: list) -> None:
    """Governance only: who may grant ``rule`` (a role, or "household")."""
    if caller != "governance":
        raise Error("only governance sets grant rules", "not_allowed")
    if rule != HOUSEHOLD_RULE:
        _check_role(rule)
    assert type_name(grantors) == "list" and len(grantors) <= 8, "grantors: a short list"
    for g in grantors:
        if g != "governance":
            _check_role(g)
    store("g:" + rule, grantors)
    emit("GrantRuleSet", rule=rule, grantors=grantors)


def _changed(address: str, old_dm2: int, area_dm2: int) -> None:
    # One history entry per change of a household (area_dm2 0: removed).
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


def _register(address: str, area_dm2: int) -> None:
    if type_name(area_dm2) != "int" or area_dm2 <= 0 or area_dm2 > MAX_AREA_DM2:
        raise Error("area_dm2 must be a positive int (0.01 m² units)", "bad_area")
    old = load("h:" + address, 0)
    if old == 0:
        store("total_owners", load("total_owners", 0) + 1)
    store("total_area", load("total_area", 0) - old + area_dm2)
    store("h:" + address, area_dm2)
    if area_dm2 != old:
        _changed(address, old, area_dm2)
    _grant(address, "resident")
    emit("HouseholdRegistered", address=address, area_dm2=area_dm2)


def register_household(address: str, area_dm2: int) -> None:
    """Add a household (owner) with its exclusive floor area, or correct its area."""
    if not _may_grant(caller, HOUSEHOLD_RULE):
        raise Error("caller may not register households", "not_allowed")
    _register(address, area_dm2)


def remove_household(address: str) -> None:
    if not _may_grant(caller, HOUSEHOLD_RULE):
        raise Error("caller may not remove households", "not_allowed")
    old = load("h:" + address, 0)
    if old == 0:
        raise Error("no such household", "not_found")
    delete("h:" + address)
    store("total_owners", load("total_owners", 0) - 1)
    store("total_area", load("total_area", 0) - old)
    _changed(address, old, 0)
    emit("HouseholdRemoved", address=address)


@view
def holds(address: str, role: str) -> bool:
    return has_role(address, role)


@view
def roles_of(address: str) -> list:
    out = []
    for role in ROLES:
        if has_role(address, role):
            out.append(role)
    return out


MAX_PAGE = 50


@view
def holders(role: str, cursor: int, limit: int) -> dict:
    """The holders of ``role``, latest listed first: {"items": [address], "next",
    "count"}. ``cursor`` 0 starts at the latest, else continues below holder number
    ``cursor`` (1-based, as "next" gives it); 0 in "next" means nothing more. A revoke
    moves the last holder into the freed place, so a list read while roles change may
    show one holder twice or miss one: read it again."""
    _check_role(role)
    if type_name(cursor) != "int" or cursor < 0:
        raise Error("cursor: an int >= 0 (0 = from the latest)", "bad_arg")
    if type_name(limit) != "int" or limit < 1 or limit > MAX_PAGE:
        raise Error("limit: an int 1..50", "bad_arg")
    n = load("hl:" + role, 0)
    i = n if cursor == 0 or cursor > n else cursor - 1
    items = []
    while i >= 1 and len(items) < limit:
        items.append(load("hl:" + role + ":" + str(i - 1)))
        i -= 1
    return {"items": items, "next": i + 1 if i >= 1 else 0, "count": n}


@view
def household(address: str) -> int:
    """The household's exclusive area in 0.01 m², or 0 if it is not a registered owner."""
    return load("h:" + address, 0)


@view
def totals() -> list:
    """[total area in 0.01 m², number of owner households]."""
    return [load("total_area", 0), load("total_owners", 0)]


@view
def electorate() -> list:
    """[version, total area in 0.01 m², number of owner households]."""
    return [load("version", 0), load("total_area", 0), load("total_owners", 0)]


@view
def household_at(address: str, version: int) -> int:
    """The household's area in 0.01 m² when the register was at ``version`` (0 if none)."""
    if type_name(address) != "str" or type_name(version) != "int":
        return 0
    n = load("hn:" + address, 0)
    if n == 0:  # never changed since the register kept history
        return load("h:" + address, 0)
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
def grant_rule(rule: str) -> list:
    return load("g:" + rule, [])
