# mypy: ignore-errors
# ruff: noqa
"""culture: residents' works (calligraphy, photography, writing), likes and comments.

A work is registered by the sha256 of its blob (the blob itself is kept by the node's
blob store) with title, kind, size and its creator. Each resident likes a work once; a
like earns the creator like_reward points, minted through the token's minting rule (this
contract is an authorised minter with a daily cap), at most daily_cap points per creator
per day AND at most liker_daily_cap points from the likes of one liker per day (day =
block_time // 86400), so neither many likers on one creator nor a ring of accounts
liking each other can farm points. A like on one's own work is recorded and earns
nothing. Comments are registered by the hash of their text.
Parameters are set by governance.
"""

DAY_S = 86400
KINDS = ("calligraphy", "photography", "writing")
MAX_TITLE_CHARS = 100
MAX_SIZE_BYTES = 16777216
MAX_COMMENTS = 256
PARAMS = ("like_reward", "daily_cap", "liker_daily_cap")
MAX_PARAM = 1000000


def init(config: dict) -> None:
    store("count", 0)
    _set_param("like_reward", config.get("like_reward", 1))
    _set_param("daily_cap", config.get("daily_cap", 20))
    _set_param("liker_daily_cap", config.get("liker_daily_cap", 5))


def _set_param(name: str, value) -> None:
    if name not in PARAMS:
        raise Error("unknown parameter " + str(name), "bad_param")
    if type_name(value) != "int" or value < 0 or value > MAX_PARAM:
        raise Error(name + ": an int 0..1000000", "bad_param")
    store("p:" + name, value)
    emit("ParamSet", name=name, value=value)


def set_param(name: str, value) -> None:
    """Governance only."""
    if caller != "governance":
        raise Error("only governance sets culture parameters", "not_allowed")
    _set_param(name, value)


def _resident() -> None:
    if not has_role(caller, "resident"):
        raise Error("the resident role is required", "not_allowed")


def _get(work_id: int) -> dict:
    w = load("w:" + str(work_id)) if type_name(work_id) == "int" else None
    if w is None:
        raise Error("no such work", "not_found")
    return w


def register_work(content_hash: bytes, title: str, kind: str, size_bytes: int) -> int:
    """Resident: register a work by the sha256 of its content."""
    _resident()
    if type_name(content_hash) != "bytes" or len(content_hash) != 32:
        raise Error("content_hash: 32 bytes, the sha256 of the blob", "bad_arg")
    if type_name(title) != "str" or len(title) == 0 or len(title) > MAX_TITLE_CHARS:
        raise Error("title: a str of 1..100 characters", "bad_arg")
    if kind not in KINDS:
        raise Error("kind: calligraphy, photography or writing", "bad_arg")
    if type_name(size_bytes) != "int" or size_bytes <= 0 or size_bytes > MAX_SIZE_BYTES:
        raise Error("size_bytes: an int 1..16777216", "bad_arg")
    hkey = "wh:" + to_hex(content_hash)
    if has(hkey):
        raise Error("a work with this content is already registered", "exists")
    wid = load("count", 0) + 1
    store("count", wid)
    store("w:" + str(wid), {"id": wid, "content_hash": content_hash, "title": title,
                            "kind": kind, "size_bytes": size_bytes, "creator": caller,
                            "likes": 0, "comments": 0, "registered_at": block_time})
    store(hkey, wid)
    emit("WorkRegistered", id=wid, creator=caller, content_hash=content_hash, kind=kind)
    return wid


def _mint_room() -> int:
    # What is left of this contract's daily minting allowance in the token contract, so
    # that an exhausted allowance makes likes earn nothing instead of failing.
    rule = call("token", "mint_rule", [this])
    if rule is None:
        return 0
    if rule["day"] != block_time // DAY_S:
        return rule["cap_per_day"]
    return rule["cap_per_day"] - rule["minted"]


def like(work_id: int) -> int:
    """Resident: like a work once; returns the points it earned the creator."""
    _resident()
    w = _get(work_id)
    lkey = "lk:" + str(work_id) + ":" + caller
    if has(lkey):
        raise Error("already liked", "exists")
    store(lkey, True)
    w["likes"] += 1
    store("w:" + str(work_id), w)
    reward = 0
    creator = w["creator"]
    if creator != caller:
        day = str(block_time // DAY_S)
        ekey = "e:" + creator + ":" + day
        gkey = "g:" + caller + ":" + day
        earned_today = load(ekey, 0)
        given_today = load(gkey, 0)
        reward = min(load("p:like_reward", 0), load("p:daily_cap", 0) - earned_today)
        liker_cap = load("p:liker_daily_cap")
        if liker_cap is not None:  # None: a contract upgraded from before the liker cap
            reward = min(reward, liker_cap - given_today)
        if reward > 0:
            reward = min(reward, _mint_room())
        if reward > 0:
            call("token", "mint", [creator, reward])
            store(ekey, earned_today + reward)
            store(gkey, given_today + reward)
        else:
            reward = 0
    emit("Liked", id=work_id, by=caller, reward=reward)
    return reward


def comment(work_id: int, comment_hash: bytes) -> int:
    """Resident: register a comment by the hash of its text; returns the comment count."""
    _resident()
    w = _get(work_id)
    if type_name(comment_hash) != "bytes" or len(comment_hash) != 32:
        raise Error("comment_hash: 32 bytes (a sha256)", "bad_arg")
    cs = load("cm:" + str(work_id), [])
    if len(cs) >= MAX_COMMENTS:
        raise Error("this work has the maximum number of comments", "full")
    cs.append({"by": caller, "hash": comment_hash, "at": block_time})
    store("cm:" + str(work_id), cs)
    w["comments"] = len(cs)
    store("w:" + str(work_id), w)
    emit("Commented", id=work_id, by=caller, hash=comment_hash)
    return len(cs)


def _k(v) -> str:
    # Views take ids and addresses from anyone: refuse other types with a clear error.
    if type_name(v) != "int" and type_name(v) != "str":
        raise Error("an int or str argument is expected", "bad_arg")
    return str(v)


@view
def work(work_id: int) -> dict:
    return load("w:" + _k(work_id))


@view
def work_by_hash(content_hash: bytes) -> int:
    if type_name(content_hash) != "bytes":
        return None
    return load("wh:" + to_hex(content_hash))


@view
def comments(work_id: int) -> list:
    return load("cm:" + _k(work_id), [])


@view
def earned(address: str, day: int) -> int:
    return load("e:" + _k(address) + ":" + _k(day), 0)


@view
def liked(work_id: int, address: str) -> bool:
    return has("lk:" + _k(work_id) + ":" + _k(address))


@view
def count() -> int:
    return load("count", 0)


@view
def params() -> dict:
    return {"like_reward": load("p:like_reward"), "daily_cap": load("p:daily_cap"),
            "liker_daily_cap": load("p:liker_daily_cap")}


@view
def given(address: str, day: int) -> int:
    """Points the likes of ``address`` earned creators on chain day ``day``."""
    return load("g:" + _k(address) + ":" + _k(day), 0)


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


@view
def works(creator: str, cursor: int, limit: int) -> dict:
    """Works newest first, of one creator or ("" ) of everyone."""
    _filter_arg(creator, "creator", None)
    i = _page_start(cursor, limit, load("count", 0))
    items = []
    scanned = 0
    while i >= 1 and len(items) < limit and scanned < MAX_SCAN:
        w = load("w:" + str(i))
        scanned += 1
        if w is not None and (creator == "" or w["creator"] == creator):
            items.append(w)
        i -= 1
    return {"items": items, "next": i + 1 if i >= 1 else 0}
