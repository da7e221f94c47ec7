# mypy: ignore-errors
# ruff: noqa
"""governance: proposals, votes, and the automatic execution of passed proposals.

Two kinds of proposal:

* owners' matters (Civil Code Article 278, items 1-9). The electorate is fixed when the
  proposal is made: the households of the register at that moment, with their areas
  (the register's version is kept in the proposal as "electorate"). Only they vote: a
  household registered later does not, one removed later still does, each with the
  area it had then. Each votes once ("yes", "no" or "abstain"; it may change its vote
  until the vote closes) with two weights: its exclusive floor area (in 0.01 m²) and one
  head. Quorum: the participants hold at least 2/3 of the electorate's area AND are at
  least 2/3 of its households. Items 6, 7, 8 pass with at least 3/4 of the
  participating area AND 3/4 of the participating owners voting yes; the others with
  MORE than half of each. Exact integer arithmetic (cross-multiplication) only.
* chain matters, voted by the validators of the set in force when the proposal is made:
  passed with yes votes from at least 2/3 of them, and executed automatically.

A proposal closes at its ``closes`` height: votes are accepted while block_height <
closes; at the start of block ``closes`` the executor calls finalize(), so the result is
final at the closing height and a validator change decided there applies at closes + 2.
The governance contract's token balance is the community treasury.

The owner register is the contract named by config "register" (default "roles"; the
dev genesis names "households"): it answers household(address) -> area (now),
electorate() -> [version, total_area, total_owners] and household_at(address, version)
-> area at that version (see households.py: a versioned register, so opening a vote
copies nothing).
Contracts listed in config "app_proposers" may raise owners' matters themselves and are
told the result: right after finalize, the executor calls notify(), which calls their
on_closed(pid, category, status).
"""

OWNERS = "owners"
CHAIN = "chain"
SPECIAL_ITEMS = (6, 7, 8)  # raise the fund, rebuild, change the use of common parts
CHOICES = ("yes", "no", "abstain")
ACTIONS = ("call", "add_validator", "remove_validator", "upgrade", "spend", "set_config")
CONFIG = ("owners_voting_blocks", "chain_voting_blocks")
MAX_TITLE_CHARS = 200
MAX_VOTING_BLOCKS = 10000000
MAX_DUE_PER_HEIGHT = 64


def init(config: dict) -> None:
    store("cfg:owners_voting_blocks", config.get("owners_voting_blocks", 100800))
    store("cfg:chain_voting_blocks", config.get("chain_voting_blocks", 14400))
    store("next_id", 1)
    store("cfg:register", config.get("register", "roles"))
    store("cfg:app_proposers", config.get("app_proposers", []))


def _register() -> str:
    return load("cfg:register", "roles")


def _set_config(name: str, value: int) -> None:
    if name not in CONFIG:
        raise Error("unknown governance setting " + str(name), "bad_param")
    if type_name(value) != "int" or value < 1 or value > MAX_VOTING_BLOCKS:
        raise Error("a voting period is an int of blocks in 1..10000000", "bad_param")
    store("cfg:" + name, value)
    emit("ConfigSet", name=name, value=value)


def _new(kind: str, title: str, period: int, extra: dict) -> int:
    if type_name(title) != "str" or len(title) == 0 or len(title) > MAX_TITLE_CHARS:
        raise Error("title: a str of 1..200 characters", "bad_proposal")
    pid = load("next_id", 1)
    store("next_id", pid + 1)
    closes = block_height + period
    due_list = load("due:" + str(closes), [])
    if len(due_list) >= MAX_DUE_PER_HEIGHT:
        raise Error("too many proposals close at that height; retry next block", "busy")
    due_list.append(pid)
    store("due:" + str(closes), due_list)
    p = {"id": pid, "kind": kind, "title": title, "proposer": caller,
         "created": block_height, "closes": closes, "status": "open"}
    for k in extra:
        p[k] = extra[k]
    store("p:" + str(pid), p)
    emit("ProposalCreated", id=pid, kind=kind, proposer=caller, closes=closes, title=title)
    return pid


def propose_owners(category: int, title: str, doc_hash: bytes) -> int:
    """An owners' matter of Article 278 item ``category`` (1-9). ``doc_hash`` is the hash
    of the full text kept off chain. Committee members and owner households may propose."""
    return _propose_owners(category, title, doc_hash, load("cfg:owners_voting_blocks"))


def propose_owners_closing(category: int, title: str, doc_hash: bytes, closes: int) -> int:
    """propose_owners with the vote closing at height ``closes`` (a deadline the
    proposer chose): at least owners_voting_blocks ahead, so a vote is never shorter
    than the configured period, and at most 10,000,000 blocks ahead."""
    least = load("cfg:owners_voting_blocks")
    if type_name(closes) != "int" or closes < block_height + least or closes > block_height + MAX_VOTING_BLOCKS:
        raise Error("closes: a height at least " + str(least) + " blocks ahead", "bad_proposal")
    return _propose_owners(category, title, doc_hash, closes - block_height)


def _propose_owners(category: int, title: str, doc_hash: bytes, period: int) -> int:
    if type_name(category) != "int" or category < 1 or category > 9:
        raise Error("category must be an Article 278 item 1..9", "bad_proposal")
    if type_name(doc_hash) != "bytes" or len(doc_hash) != 32:
        raise Error("doc_hash must be 32 bytes", "bad_proposal")
    register = _register()
    if (not has_role(caller, "committee") and caller not in load("cfg:app_proposers", [])
            and call(register, "household", [caller]) == 0):
        raise Error("only committee members and owners propose owners' matters", "not_allowed")
    snapshot = call(register, "electorate", [])
    if snapshot[2] == 0:
        raise Error("no owner households are registered", "no_owners")
    extra = {"category": category, "doc_hash": doc_hash, "electorate": snapshot[0],
             "total_area": snapshot[1], "total_owners": snapshot[2]}
    pid = _new(OWNERS, title, period, extra)
    store("t:" + str(pid), [0, 0, 0, 0, 0, 0])
    return pid


def _check_action(action: list) -> None:
    if type_name(action) != "list" or len(action) == 0 or action[0] not in ACTIONS:
        raise Error("action must be a list starting with one of " + ", ".join(ACTIONS),
                    "bad_action")
    kind = action[0]
    if kind == "call":
        ok = len(action) == 4 and type_name(action[1]) == "str" and type_name(action[2]) == "str"
        ok = ok and type_name(action[3]) == "list" and action[1] != "governance"
    elif kind == "add_validator":
        ok = len(action) == 3 and type_name(action[1]) == "bytes" and len(action[1]) == 32
        ok = ok and type_name(action[2]) == "str"
    elif kind == "remove_validator":
        ok = len(action) == 2 and type_name(action[1]) == "bytes" and len(action[1]) == 32
    elif kind == "upgrade":
        ok = len(action) == 3 and type_name(action[1]) == "str" and type_name(action[2]) == "str"
    elif kind == "spend":
        ok = len(action) == 3 and is_account(action[1]) and type_name(action[2]) == "int"
        ok = ok and action[2] > 0
    else:
        ok = len(action) == 3 and action[1] in CONFIG and type_name(action[2]) == "int"
    if not ok:
        raise Error("malformed " + kind + " action", "bad_action")


def propose_chain(action: list, title: str) -> int:
    """A chain matter (parameters, validators, upgrades, treasury spends), proposed and
    voted by the validators. See docs/CONTRACTS.md for the action forms."""
    members = validators()
    if caller not in members:
        raise Error("only validators propose chain matters", "not_allowed")
    _check_action(action)
    extra = {"action": action, "validators": members}
    pid = _new(CHAIN, title, load("cfg:chain_voting_blocks"), extra)
    store("t:" + str(pid), [0, 0])
    return pid


def _open(pid: int) -> dict:
    p = load("p:" + str(pid))
    if p is None:
        raise Error("no such proposal", "not_found")
    if p["status"] != "open" or block_height >= p["closes"]:
        raise Error("the vote is closed", "vote_closed")
    return p


def vote(pid: int, choice: str) -> None:
    """Vote or change one's vote: "yes", "no" or "abstain" (owners' matters)."""
    if choice not in CHOICES:
        raise Error("choice must be yes, no or abstain", "bad_choice")
    p = _open(pid)
    key = "v:" + str(pid) + ":" + caller
    old = load(key)
    t = load("t:" + str(pid))
    if p["kind"] == OWNERS:
        area = call(_register(), "household_at", [caller, p["electorate"]])
        if area == 0:
            if call(_register(), "household", [caller]) != 0:
                raise Error("the household was registered after this vote opened",
                            "not_in_electorate")
            raise Error("only owner households vote on owners' matters", "not_allowed")
        if old is not None:
            t[0] -= old["area"]
            t[1] -= 1
            if old["choice"] == "yes":
                t[2] -= old["area"]
                t[3] -= 1
            elif old["choice"] == "no":
                t[4] -= old["area"]
                t[5] -= 1
        t[0] += area
        t[1] += 1
        if choice == "yes":
            t[2] += area
            t[3] += 1
        elif choice == "no":
            t[4] += area
            t[5] += 1
        store(key, {"choice": choice, "area": area})
        emit("Voted", id=pid, voter=caller, choice=choice, area_dm2=area)
    else:
        if caller not in p["validators"]:
            raise Error("only the proposal's validators vote on chain matters", "not_allowed")
        if choice == "abstain":
            raise Error("chain matters take yes or no", "bad_choice")
        if old is not None:
            t[0 if old["choice"] == "yes" else 1] -= 1
        t[0 if choice == "yes" else 1] += 1
        store(key, {"choice": choice})
        emit("Voted", id=pid, voter=caller, choice=choice)
    store("t:" + str(pid), t)


@view
def article_278(category: int, total_area: int, total_owners: int, voted_area: int,
                voted_owners: int, yes_area: int, yes_owners: int) -> dict:
    """The Article 278 rule on exact integers: {"quorum": bool, "passed": bool}."""
    quorum = voted_area * 3 >= total_area * 2 and voted_owners * 3 >= total_owners * 2
    if category in SPECIAL_ITEMS:
        agreed = yes_area * 4 >= voted_area * 3 and yes_owners * 4 >= voted_owners * 3
    else:
        agreed = yes_area * 2 > voted_area and yes_owners * 2 > voted_owners
    return {"quorum": quorum, "passed": quorum and agreed}


def _outcome(p: dict, t: list) -> dict:
    if p["kind"] == OWNERS:
        return article_278(p["category"], p["total_area"], p["total_owners"], t[0], t[1],
                           t[2], t[3])
    n = len(p["validators"])
    return {"quorum": True, "passed": t[0] * 3 >= n * 2}


@view
def outcome(pid: int) -> dict:
    """What the result would be if the vote closed now (final once status is not open)."""
    p = load("p:" + str(pid))
    if p is None:
        raise Error("no such proposal", "not_found")
    return _outcome(p, load("t:" + str(pid)))


def _execute(action: list) -> None:
    kind = action[0]
    if kind == "call":
        call(action[1], action[2], action[3])
    elif kind == "add_validator":
        call("system", "add_validator", [action[1], action[2]])
    elif kind == "remove_validator":
        call("system", "remove_validator", [action[1]])
    elif kind == "upgrade":
        call("system", "upgrade", [action[1], action[2]])
    elif kind == "spend":
        pay(action[1], action[2])
        emit("TreasurySpent", to=action[1], amount=action[2])
    else:
        _set_config(action[1], action[2])


def finalize(pid: int) -> str:
    """Close a proposal at its closing height (called by the executor, as "system")."""
    if caller != "system":
        raise Error("proposals are closed by the chain itself", "not_allowed")
    p = load("p:" + str(pid))
    if p is None or p["status"] != "open" or block_height < p["closes"]:
        raise Error("proposal is not due", "not_due")
    t = load("t:" + str(pid))
    result = _outcome(p, t)
    p["status"] = "passed" if result["passed"] else "rejected"
    p["quorum"] = result["quorum"]
    p["tally"] = t
    p["closed_at"] = block_height
    store("p:" + str(pid), p)
    if p["status"] == "passed" and p["kind"] == CHAIN:
        _execute(p["action"])
    emit("ProposalClosed", id=pid, status=p["status"], quorum=result["quorum"])
    return p["status"]


def notify(pid: int) -> None:
    """Tell the app contract that proposed an owners' matter its result (called by the
    executor right after finalize, in a separate step: if the app's on_closed fails, only
    the notification is reverted; the Article 278 result stands)."""
    if caller != "system":
        raise Error("only the chain sends results", "not_allowed")
    p = load("p:" + str(pid))
    if p is None or p["status"] == "open":
        raise Error("proposal is not closed", "not_due")
    if p["kind"] == OWNERS and p["proposer"] in load("cfg:app_proposers", []):
        call(p["proposer"], "on_closed", [pid, p["category"], p["status"]])


def mark_failed(pid: int, code: str, contract: str, line: int) -> None:
    """Record that a passed chain matter's action failed (called by the executor): the
    error's code and where it arose, as a receipt tells it (never host text)."""
    if caller != "system":
        raise Error("only the chain records failures", "not_allowed")
    p = load("p:" + str(pid))
    if p is None or p["status"] != "open":
        raise Error("proposal is not open", "not_due")
    p["status"] = "failed"
    p["tally"] = load("t:" + str(pid))
    p["closed_at"] = block_height
    p["error"] = code
    p["error_at"] = [contract, line]
    store("p:" + str(pid), p)
    emit("ProposalClosed", id=pid, status="failed", quorum=True)


@view
def settings() -> dict:
    """The voting periods in blocks: {"owners_voting_blocks", "chain_voting_blocks"}."""
    return {"owners_voting_blocks": load("cfg:owners_voting_blocks"),
            "chain_voting_blocks": load("cfg:chain_voting_blocks")}


@view
def due(height: int) -> list:
    return load("due:" + str(height), [])


@view
def proposal(pid: int) -> dict:
    p = load("p:" + str(pid))
    if p is None:
        raise Error("no such proposal", "not_found")
    return p


@view
def tally(pid: int) -> dict:
    """The running tally, public while the vote runs."""
    p = proposal(pid)
    t = load("t:" + str(pid))
    if p["kind"] == OWNERS:
        return {"voted_area_dm2": t[0], "voted_owners": t[1], "yes_area_dm2": t[2],
                "yes_owners": t[3], "no_area_dm2": t[4], "no_owners": t[5],
                "total_area_dm2": p["total_area"], "total_owners": p["total_owners"]}
    return {"yes": t[0], "no": t[1], "validators": len(p["validators"])}


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


PROPOSAL_STATUSES = ("open", "passed", "rejected", "failed")


@view
def proposals(status: str, cursor: int, limit: int) -> dict:
    """Proposals newest first, filtered by status."""
    _filter_arg(status, "status", PROPOSAL_STATUSES)
    i = _page_start(cursor, limit, load("next_id", 1) - 1)
    items = []
    scanned = 0
    while i >= 1 and len(items) < limit and scanned < MAX_SCAN:
        p = load("p:" + str(i))
        scanned += 1
        if p is not None and (status == "" or p["status"] == status):
            items.append(p)
        i -= 1
    return {"items": items, "next": i + 1 if i >= 1 else 0}
