# mypy: ignore-errors
# ruff: noqa
"""assembly: residents' proposals on their way to an Article 278 owners' vote.

A household drafts a proposal (category 1..9, title, hash of the full text kept off
chain); residents discuss it by comments registered by hash. Sponsor rule: it goes to the
vote when min_cosigners households (the drafter included) have co-signed it, or at once
when a committee member sponsors it. This contract then raises it in governance (as an
app proposer) and records the result when governance reports the close. A draft may carry
the action ["fund_spend", to, amount] (category 5): it is raised through property, which
pays the spend from the maintenance fund automatically if the vote passes.

Households vote with governance.vote; the live tally is governance.tally(pid).
"""

FUND_CATEGORY = 5
MAX_TITLE_CHARS = 200
MAX_COMMENTS = 256
MAX_COSIGNERS = 64


def init(config: dict) -> None:
    store("next_id", 1)
    _set_param("min_cosigners", config.get("min_cosigners", 3))


def _set_param(name: str, value) -> None:
    if name != "min_cosigners":
        raise Error("unknown parameter " + str(name), "bad_param")
    if type_name(value) != "int" or value < 1 or value > MAX_COSIGNERS:
        raise Error("min_cosigners: an int 1..64", "bad_param")
    store("p:" + name, value)
    emit("ParamSet", name=name, value=value)


def set_param(name: str, value) -> None:
    """Governance only."""
    if caller != "governance":
        raise Error("only governance sets assembly parameters", "not_allowed")
    _set_param(name, value)


def _household() -> None:
    if call("households", "household", [caller]) == 0:
        raise Error("only registered households draft and co-sign proposals", "not_allowed")


def _get(draft_id: int) -> dict:
    d = load("d:" + str(draft_id)) if type_name(draft_id) == "int" else None
    if d is None:
        raise Error("no such draft", "not_found")
    return d


def draft(category: int, title: str, doc_hash: bytes, action: list) -> int:
    """Household: draft a proposal; the drafter is its first co-signer."""
    _household()
    if type_name(category) != "int" or category < 1 or category > 9:
        raise Error("category: an Article 278 item 1..9", "bad_arg")
    if type_name(title) != "str" or len(title) == 0 or len(title) > MAX_TITLE_CHARS:
        raise Error("title: a str of 1..200 characters", "bad_arg")
    if type_name(doc_hash) != "bytes" or len(doc_hash) != 32:
        raise Error("doc_hash: 32 bytes (a sha256)", "bad_arg")
    if type_name(action) != "list":
        raise Error("action: [] or [\"fund_spend\", to, amount]", "bad_arg")
    if len(action) > 0:
        ok = len(action) == 3 and action[0] == "fund_spend" and is_account(action[1])
        ok = ok and type_name(action[2]) == "int" and action[2] > 0
        if not ok:
            raise Error("action: [] or [\"fund_spend\", to, amount]", "bad_arg")
        if category != FUND_CATEGORY:
            raise Error("a fund_spend action needs category 5 (using the maintenance fund)",
                        "bad_arg")
    did = load("next_id", 1)
    store("next_id", did + 1)
    d = {"id": did, "category": category, "title": title, "doc_hash": doc_hash,
         "action": action, "drafter": caller, "cosigners": [caller], "pid": 0,
         "status": "drafting", "created": block_time}
    emit("Drafted", id=did, category=category, drafter=caller, doc_hash=doc_hash)
    if load("p:min_cosigners") <= 1:
        _submit(d)
    store("d:" + str(did), d)
    return did


def _submit(d: dict) -> None:
    if len(d["action"]) > 0:
        sid = call("property", "propose_spend", [d["action"][1], d["action"][2], d["title"],
                                                 d["doc_hash"]])
        pid = call("property", "spend", [sid])["pid"]
    else:
        pid = call("governance", "propose_owners", [d["category"], d["title"], d["doc_hash"]])
    d["pid"] = pid
    d["status"] = "voting"
    store("pid:" + str(pid), d["id"])
    emit("Submitted", id=d["id"], pid=pid)


def cosign(draft_id: int) -> int:
    """Household: co-sign a draft; returns the governance proposal id once submitted."""
    _household()
    d = _get(draft_id)
    if d["status"] != "drafting":
        raise Error("the draft is already " + d["status"], "bad_state")
    if caller in d["cosigners"]:
        raise Error("this household already co-signed", "exists")
    d["cosigners"].append(caller)
    emit("Cosigned", id=draft_id, household=caller, count=len(d["cosigners"]))
    if len(d["cosigners"]) >= load("p:min_cosigners"):
        _submit(d)
    store("d:" + str(draft_id), d)
    return d["pid"]


def sponsor(draft_id: int) -> int:
    """Committee: send a draft to the vote without waiting for co-signers."""
    if not has_role(caller, "committee"):
        raise Error("the committee role is required", "not_allowed")
    d = _get(draft_id)
    if d["status"] != "drafting":
        raise Error("the draft is already " + d["status"], "bad_state")
    d["sponsor"] = caller
    _submit(d)
    store("d:" + str(draft_id), d)
    return d["pid"]


def comment(draft_id: int, comment_hash: bytes) -> int:
    """Resident: register a comment (its text is kept off chain) by its hash."""
    if not has_role(caller, "resident"):
        raise Error("the resident role is required", "not_allowed")
    _get(draft_id)
    if type_name(comment_hash) != "bytes" or len(comment_hash) != 32:
        raise Error("comment_hash: 32 bytes (a sha256)", "bad_arg")
    cs = load("cm:" + str(draft_id), [])
    if len(cs) >= MAX_COMMENTS:
        raise Error("this draft has the maximum number of comments", "full")
    cs.append({"by": caller, "hash": comment_hash, "at": block_time})
    store("cm:" + str(draft_id), cs)
    emit("Commented", id=draft_id, by=caller, hash=comment_hash)
    return len(cs) - 1


def on_closed(pid: int, category: int, status: str) -> None:
    """Governance: a proposal this contract raised closed."""
    if caller != "governance":
        raise Error("only governance reports results", "not_allowed")
    did = load("pid:" + str(pid))
    if did is None:
        return
    d = load("d:" + str(did))
    d["status"] = status
    store("d:" + str(did), d)
    emit("Decided", id=did, pid=pid, status=status)


def _k(v) -> str:
    # Views take ids and addresses from anyone: refuse other types with a clear error.
    if type_name(v) != "int" and type_name(v) != "str":
        raise Error("an int or str argument is expected", "bad_arg")
    return str(v)


@view
def draft_of(draft_id: int) -> dict:
    return load("d:" + _k(draft_id))


@view
def comments(draft_id: int) -> list:
    return load("cm:" + _k(draft_id), [])


@view
def overview(draft_id: int) -> dict:
    """The draft, and while it is voted on (or after), governance's proposal and tally."""
    d = _get(draft_id)
    if d["pid"] == 0:
        return {"draft": d, "proposal": None, "tally": None}
    return {"draft": d, "proposal": call("governance", "proposal", [d["pid"]]),
            "tally": call("governance", "tally", [d["pid"]])}


@view
def by_pid(pid: int) -> int:
    return load("pid:" + _k(pid))


@view
def params() -> dict:
    return {"min_cosigners": load("p:min_cosigners")}


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


DRAFT_STATUSES = ("drafting", "voting", "passed", "rejected")


@view
def drafts(status: str, cursor: int, limit: int) -> dict:
    """Drafts newest first, filtered by status; each with its number of comments."""
    _filter_arg(status, "status", DRAFT_STATUSES)
    i = _page_start(cursor, limit, load("next_id", 1) - 1)
    items = []
    scanned = 0
    while i >= 1 and len(items) < limit and scanned < MAX_SCAN:
        d = load("d:" + str(i))
        scanned += 1
        if d is not None and (status == "" or d["status"] == status):
            d["comments"] = len(load("cm:" + str(i), []))
            items.append(d)
        i -= 1
    return {"items": items, "next": i + 1 if i >= 1 else 0}
