# mypy: ignore-errors
# ruff: noqa
"""names: public display names that residents, providers and merchants choose for
themselves, so lists show "王阿姨" rather than only hk1…. A display name is what its
holder publishes, not personal data kept by the committee: it may be a nickname, and
nothing ties it to the identity behind the household's commitment.

Anyone holding a role may set or clear their own name; a committee member may clear a
name that misleads (e.g. one posing as the committee). Names are not unique: clients show
the name beside a short address.
"""

MAX_NAME_CHARS = 32
MAX_LOOKUP = 50
ROLES = ("resident", "committee", "property_company", "merchant", "service_provider", "observer")


def init(config: dict) -> None:
    pass


def _has_a_role(address: str) -> bool:
    for r in ROLES:
        if has_role(address, r):
            return True
    return False


def set_name(name: str) -> None:
    """Publish your display name (1..32 characters, no line breaks)."""
    if not _has_a_role(caller):
        raise Error("only members of the community (holders of a role) set a display name", "not_allowed")
    if type_name(name) != "str" or len(name.strip()) == 0 or len(name) > MAX_NAME_CHARS:
        raise Error("name: 1..32 characters", "bad_arg")
    if "\n" in name or "\r" in name or "\t" in name:
        raise Error("name: one line, no tabs", "bad_arg")
    store("n:" + caller, name)
    emit("NameSet", address=caller, name=name)


def clear_name(address: str) -> None:
    """Remove a display name: your own, or (committee) a misleading one."""
    if type_name(address) != "str":
        raise Error("address: a str", "bad_arg")
    if caller != address and not has_role(caller, "committee"):
        raise Error("only the holder or a committee member clears a name", "not_allowed")
    if not has("n:" + address):
        raise Error("no display name is set", "not_found")
    delete("n:" + address)
    emit("NameCleared", address=address, by=caller)


@view
def name_of(address: str) -> str:
    if type_name(address) != "str":
        raise Error("address: a str", "bad_arg")
    return load("n:" + address)


@view
def names_of(addresses: list) -> dict:
    """{address: name} for the addresses that have one (at most 50 asked at once)."""
    if type_name(addresses) != "list" or len(addresses) > MAX_LOOKUP:
        raise Error("addresses: a list of at most 50", "bad_arg")
    out = {}
    for a in addresses:
        if type_name(a) != "str":
            raise Error("addresses: a list of str", "bad_arg")
        n = load("n:" + a)
        if n is not None:
            out[a] = n
    return out
