# mypy: ignore-errors
# ruff: noqa
"""activities: community activities (volunteering, cultural events), sign-ups and
attendance rewards.

A committee member's activity is approved at once; a resident's needs a committee
approval before sign-ups open (so that rewards cannot be minted by self-organised
activities). Residents sign up before the start while places remain; after the start the
organiser confirms who attended, and each attendee earns attendance_reward points
(governance parameter), minted through the token's minting rule, once per activity.

Check-in at the door: the organiser opens a check-in with the SHA-256 of a code it shows
in the room (as a QR code and typed digits) and an end time at most 4 hours ahead; a
signed-up resident who sends the code while it is open, from an hour before the start,
is confirmed as an attendee and rewarded as by confirm_attendance (once per activity,
whichever comes first). A code is public once used in a tx, so the window is kept short
and the organiser may re-open with a new code at any time; confirm_attendance remains
for anyone who cannot check in.
"""

KINDS = ("volunteer", "culture", "other")
MAX_TITLE_CHARS = 100
MAX_CAPACITY = 512
MAX_CONFIRM = 64
MAX_PLACE_CHARS = 100
MAX_DURATION_S = 2592000  # 30 days
CHECKIN_EARLY_S = 3600  # check-in opens this long before the start
MAX_CHECKIN_WINDOW_S = 14400  # 4 hours
MIN_CODE_CHARS = 4
MAX_CODE_CHARS = 64


def init(config: dict) -> None:
    store("count", 0)
    _set_param("attendance_reward", config.get("attendance_reward", 10))


def _set_param(name: str, value) -> None:
    if name != "attendance_reward":
        raise Error("unknown parameter " + str(name), "bad_param")
    if type_name(value) != "int" or value < 0 or value > 1000000:
        raise Error("attendance_reward: an int 0..1000000", "bad_param")
    store("p:" + name, value)
    emit("ParamSet", name=name, value=value)


def set_param(name: str, value) -> None:
    """Governance only."""
    if caller != "governance":
        raise Error("only governance sets activities parameters", "not_allowed")
    _set_param(name, value)


def _get(activity_id: int) -> dict:
    a = load("a:" + str(activity_id)) if type_name(activity_id) == "int" else None
    if a is None:
        raise Error("no such activity", "not_found")
    return a


def propose(kind: str, title: str, start_time: int, capacity: int) -> int:
    """Committee member or resident: propose an activity starting at start_time (s)."""
    return _propose(kind, title, start_time, capacity, None)


def propose_details(kind: str, title: str, start_time: int, end_time: int, place: str,
                    description_hash: bytes, capacity: int) -> int:
    """propose, with where and until when it runs and the hash of its description (the
    text itself in the nodes' blob stores)."""
    if type_name(start_time) != "int" or type_name(end_time) != "int" or end_time <= start_time \
            or end_time > start_time + MAX_DURATION_S:
        raise Error("end_time: after start_time, within 30 days", "bad_arg")
    if type_name(place) != "str" or len(place.strip()) == 0 or len(place) > MAX_PLACE_CHARS:
        raise Error("place: a str of 1..100 characters", "bad_arg")
    if type_name(description_hash) != "bytes" or len(description_hash) != 32:
        raise Error("description_hash: 32 bytes (a sha256)", "bad_arg")
    return _propose(kind, title, start_time, capacity,
                    {"end_time": end_time, "place": place, "description_hash": description_hash})


def _propose(kind: str, title: str, start_time: int, capacity: int, details: dict) -> int:
    committee = has_role(caller, "committee")
    if not committee and not has_role(caller, "resident"):
        raise Error("the committee or resident role is required", "not_allowed")
    if kind not in KINDS:
        raise Error("kind: volunteer, culture or other", "bad_arg")
    if type_name(title) != "str" or len(title) == 0 or len(title) > MAX_TITLE_CHARS:
        raise Error("title: a str of 1..100 characters", "bad_arg")
    if type_name(start_time) != "int" or start_time <= block_time:
        raise Error("start_time: an int of seconds in the future", "bad_arg")
    if type_name(capacity) != "int" or capacity < 1 or capacity > MAX_CAPACITY:
        raise Error("capacity: an int 1..512", "bad_arg")
    aid = load("count", 0) + 1
    store("count", aid)
    a = {"id": aid, "kind": kind, "title": title, "start_time": start_time,
         "capacity": capacity, "organiser": caller, "approved": committee,
         "signed_up": 0, "attended": 0}
    if details is None:
        store("a:" + str(aid), a)
        emit("ActivityProposed", id=aid, organiser=caller, kind=kind, start_time=start_time)
    else:
        for k in details:
            a[k] = details[k]
        store("a:" + str(aid), a)
        emit("ActivityProposed", id=aid, organiser=caller, kind=kind, start_time=start_time,
             end_time=details["end_time"], place=details["place"],
             description_hash=details["description_hash"])
    store("pl:" + str(aid), [])
    if committee:
        emit("ActivityApproved", id=aid)
    return aid


def approve(activity_id: int) -> None:
    """Committee: approve a resident's activity."""
    if not has_role(caller, "committee"):
        raise Error("the committee role is required", "not_allowed")
    a = _get(activity_id)
    if a["approved"]:
        raise Error("already approved", "bad_state")
    a["approved"] = True
    store("a:" + str(activity_id), a)
    emit("ActivityApproved", id=activity_id)


def sign_up(activity_id: int) -> None:
    """Resident: take a place in an approved activity before it starts."""
    if not has_role(caller, "resident"):
        raise Error("the resident role is required", "not_allowed")
    a = _get(activity_id)
    if not a["approved"]:
        raise Error("the activity is not approved yet", "bad_state")
    if block_time >= a["start_time"]:
        raise Error("the activity has started", "too_late")
    people = load("pl:" + str(activity_id))
    if caller in people:
        raise Error("already signed up", "exists")
    if len(people) >= a["capacity"]:
        raise Error("the activity is full", "full")
    people.append(caller)
    store("pl:" + str(activity_id), people)
    a["signed_up"] = len(people)
    store("a:" + str(activity_id), a)
    emit("SignedUp", id=activity_id, resident=caller)


def withdraw(activity_id: int) -> None:
    """Resident: give the place back before the start."""
    a = _get(activity_id)
    if block_time >= a["start_time"]:
        raise Error("the activity has started", "too_late")
    people = load("pl:" + str(activity_id))
    if caller not in people:
        raise Error("not signed up", "not_found")
    people.remove(caller)
    store("pl:" + str(activity_id), people)
    a["signed_up"] = len(people)
    store("a:" + str(activity_id), a)
    emit("Withdrew", id=activity_id, resident=caller)


def _attend(activity_id: int, a: dict, who: str, reward: int) -> bool:
    """Record ``who`` as an attendee and mint the reward; False if already recorded."""
    akey = "at:" + str(activity_id) + ":" + who
    if has(akey):
        return False
    store(akey, True)
    a["attended"] += 1
    if reward > 0:
        call("token", "mint", [who, reward])
    emit("AttendanceConfirmed", id=activity_id, resident=who, reward=reward)
    return True


def open_check_in(activity_id: int, code_hash: bytes, until: int) -> None:
    """Organiser: accept check-ins with the code whose SHA-256 is code_hash until the
    block time ``until`` (seconds, at most 4 hours ahead). Re-opening replaces the code."""
    a = _get(activity_id)
    if caller != a["organiser"]:
        raise Error("only the organiser opens the check-in", "not_allowed")
    if not a["approved"]:
        raise Error("the activity is not approved", "bad_state")
    if type_name(code_hash) != "bytes" or len(code_hash) != 32:
        raise Error("code_hash: the 32-byte SHA-256 of the code", "bad_arg")
    if type_name(until) != "int" or until <= block_time or until > block_time + MAX_CHECKIN_WINDOW_S:
        raise Error("until: a time in the next 4 hours (seconds)", "bad_arg")
    if until <= a["start_time"] - CHECKIN_EARLY_S:
        raise Error("until: the check-in must reach past an hour before the start", "bad_arg")
    store("ci:" + str(activity_id), {"code_hash": code_hash, "until": until})
    emit("CheckInOpened", id=activity_id, until=until)


def check_in(activity_id: int, code: str) -> bool:
    """Signed-up resident, at the activity: send the code the organiser shows. Returns
    True when this check-in recorded the attendance (False if it was already)."""
    a = _get(activity_id)
    window = load("ci:" + str(activity_id))
    if window is None:
        raise Error("the check-in is not open", "bad_state")
    if block_time < a["start_time"] - CHECKIN_EARLY_S:
        raise Error("the check-in opens an hour before the start", "too_early")
    if block_time > window["until"]:
        raise Error("the check-in has closed", "too_late")
    if type_name(code) != "str" or len(code) < MIN_CODE_CHARS or len(code) > MAX_CODE_CHARS:
        raise Error("code: a str of 4..64 characters", "bad_arg")
    if sha256(code) != window["code_hash"]:
        raise Error("the check-in code is not right", "wrong_code")
    if caller not in load("pl:" + str(activity_id)):
        raise Error("not signed up for this activity", "not_found")
    done = _attend(activity_id, a, caller, load("p:attendance_reward", 0))
    store("a:" + str(activity_id), a)
    return done


def _check_allowance(activity_id: int, attendees: list, reward: int) -> None:
    # Refuse the whole confirmation, clearly and before anything is minted, when today's
    # minting allowance of this contract cannot reward every new attendee: the organiser
    # confirms as many as it allows now and the rest once it resets (08:00 UTC+8).
    if reward <= 0:
        return
    new = 0
    for who in attendees:
        if type_name(who) == "str" and not has("at:" + str(activity_id) + ":" + who):
            new += 1
    if new * reward > _room():
        raise Error("today's reward allowance cannot reward every new attendee: confirm as many as allowance() says now, the rest after it resets at 08:00 (UTC+8)", "mint_cap")


def _room() -> int:
    rule = call("token", "mint_rule", [this])
    if rule is None:
        return 0
    if rule["day"] != block_time // 86400:
        return rule["cap_per_day"]
    return rule["cap_per_day"] - rule["minted"]


def confirm_attendance(activity_id: int, attendees: list) -> int:
    """Organiser, after the start: confirm attendees; each is rewarded once. Returns the
    points minted."""
    a = _get(activity_id)
    if caller != a["organiser"]:
        raise Error("only the organiser confirms attendance", "not_allowed")
    if not a["approved"]:
        raise Error("the activity is not approved", "bad_state")
    if block_time < a["start_time"]:
        raise Error("the activity has not started", "too_early")
    if type_name(attendees) != "list" or len(attendees) == 0 or len(attendees) > MAX_CONFIRM:
        raise Error("attendees: a list of 1..64 addresses", "bad_arg")
    people = load("pl:" + str(activity_id))
    reward = load("p:attendance_reward", 0)
    _check_allowance(activity_id, attendees, reward)
    minted = 0
    for who in attendees:
        if who not in people:
            raise Error("not signed up: " + str(who), "not_found")
        if _attend(activity_id, a, who, reward):
            minted += reward
    store("a:" + str(activity_id), a)
    return minted


def _k(v) -> str:
    # Views take ids and addresses from anyone: refuse other types with a clear error.
    if type_name(v) != "int" and type_name(v) != "str":
        raise Error("an int or str argument is expected", "bad_arg")
    return str(v)


@view
def allowance() -> dict:
    """What today's minting allowance still rewards: points left, the reward per
    attendee, and how many new attendees can be confirmed now."""
    reward = load("p:attendance_reward", 0)
    left = _room()
    return {"points_left": left, "reward": reward, "attendees": left // reward if reward > 0 else 4096}


@view
def activity(activity_id: int) -> dict:
    return load("a:" + _k(activity_id))


@view
def participants(activity_id: int) -> list:
    return load("pl:" + _k(activity_id), [])


@view
def attended(activity_id: int, address: str) -> bool:
    return has("at:" + _k(activity_id) + ":" + _k(address))


@view
def check_in_until(activity_id: int) -> int:
    """The end of the open check-in (block time, s), or 0 if none was opened."""
    w = load("ci:" + _k(activity_id))
    return 0 if w is None else w["until"]


@view
def count() -> int:
    return load("count", 0)


@view
def params() -> dict:
    return {"attendance_reward": load("p:attendance_reward")}


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


ACTIVITY_STATUSES = ("upcoming", "past")


@view
def activities(status: str, organiser: str, cursor: int, limit: int) -> dict:
    """Activities newest first: "upcoming" (not started at the head block's time) or
    "past", of one organiser or of all."""
    _filter_arg(status, "status", ACTIVITY_STATUSES)
    _filter_arg(organiser, "organiser", None)
    i = _page_start(cursor, limit, load("count", 0))
    items = []
    scanned = 0
    while i >= 1 and len(items) < limit and scanned < MAX_SCAN:
        a = load("a:" + str(i))
        scanned += 1
        if a is not None and (organiser == "" or a["organiser"] == organiser):
            started = a["start_time"] <= block_time
            if status == "" or (status == "past") == started:
                items.append(a)
        i -= 1
    return {"items": items, "next": i + 1 if i >= 1 else 0}
