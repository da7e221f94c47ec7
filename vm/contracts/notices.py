# mypy: ignore-errors
# ruff: noqa
"""notices: announcements of the committee and the property company, by the hash of
their text with a title, and residents' acknowledgements of having read them. A notice
is of a kind: "notice" (an announcement: post) or "news" (community news: publish).

Who has read a notice is kept in order of acknowledgement ("rd:<id>:<i>" -> address,
i = 0..acks-1), so the committee sees its read receipts with readers(id, cursor, limit)
without scanning blocks for the events."""

MAX_TITLE_CHARS = 100
KINDS = ("notice", "news")


def init(config: dict) -> None:
    store("count", 0)


def _get(notice_id: int) -> dict:
    n = load("n:" + str(notice_id)) if type_name(notice_id) == "int" else None
    if n is None:
        raise Error("no such notice", "not_found")
    return n


def post(title: str, content_hash: bytes) -> int:
    """Committee member or property company: post a notice."""
    return _post("notice", title, content_hash)


def publish(kind: str, title: str, content_hash: bytes) -> int:
    """Committee member or property company: post a notice or community news."""
    if kind not in KINDS:
        raise Error("kind: notice or news", "bad_arg")
    return _post(kind, title, content_hash)


def _post(kind: str, title: str, content_hash: bytes) -> int:
    if not has_role(caller, "committee") and not has_role(caller, "property_company"):
        raise Error("the committee or property_company role is required", "not_allowed")
    if type_name(title) != "str" or len(title) == 0 or len(title) > MAX_TITLE_CHARS:
        raise Error("title: a str of 1..100 characters", "bad_arg")
    if type_name(content_hash) != "bytes" or len(content_hash) != 32:
        raise Error("content_hash: 32 bytes (a sha256)", "bad_arg")
    nid = load("count", 0) + 1
    store("count", nid)
    store("n:" + str(nid), {"id": nid, "kind": kind, "title": title, "content_hash": content_hash,
                            "by": caller, "at": block_time, "acks": 0})
    emit("NoticePosted", id=nid, by=caller, title=title, content_hash=content_hash, kind=kind)
    return nid


def acknowledge(notice_id: int) -> int:
    """Resident: acknowledge having read a notice, once. Returns the count of readers."""
    if not has_role(caller, "resident"):
        raise Error("the resident role is required", "not_allowed")
    n = _get(notice_id)
    key = "ack:" + str(notice_id) + ":" + caller
    if has(key):
        raise Error("already acknowledged", "exists")
    store(key, block_time)
    store("rd:" + str(notice_id) + ":" + str(n["acks"]), caller)
    n["acks"] += 1
    store("n:" + str(notice_id), n)
    emit("NoticeAcknowledged", id=notice_id, resident=caller)
    return n["acks"]


def _k(v) -> str:
    # Views take ids and addresses from anyone: refuse other types with a clear error.
    if type_name(v) != "int" and type_name(v) != "str":
        raise Error("an int or str argument is expected", "bad_arg")
    return str(v)


@view
def notice(notice_id: int) -> dict:
    return load("n:" + _k(notice_id))


@view
def acknowledged(notice_id: int, address: str) -> bool:
    return has("ack:" + _k(notice_id) + ":" + _k(address))


@view
def count() -> int:
    return load("count", 0)


@view
def readers(notice_id: int, cursor: int, limit: int) -> dict:
    """Who acknowledged a notice, latest first: {"items": [{"address", "at"}], "next"}.
    ``cursor`` 0 starts at the latest reader, else continues below reader number
    ``cursor`` (1-based, as "next" gives it); 0 in "next" means nothing more."""
    n = _get(notice_id)
    i = _page_start(cursor, limit, n["acks"])
    items = []
    while i >= 1 and len(items) < limit:
        who = load("rd:" + str(notice_id) + ":" + str(i - 1))
        if who is not None:
            items.append({"address": who, "at": load("ack:" + str(notice_id) + ":" + who, 0)})
        i -= 1
    return {"items": items, "next": i + 1 if i >= 1 else 0}


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


NOTICE_KINDS = ("notice", "news")


@view
def notices(kind: str, cursor: int, limit: int) -> dict:
    """Notices newest first, filtered by kind."""
    _filter_arg(kind, "kind", NOTICE_KINDS)
    i = _page_start(cursor, limit, load("count", 0))
    items = []
    scanned = 0
    while i >= 1 and len(items) < limit and scanned < MAX_SCAN:
        n = load("n:" + str(i))
        scanned += 1
        if n is not None and (kind == "" or n.get("kind", "notice") == kind):
            items.append(n)
        i -= 1
    return {"items": items, "next": i + 1 if i >= 1 else 0}
