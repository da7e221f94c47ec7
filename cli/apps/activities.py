"""`hkchain activities …`: community activities, sign-ups and attendance rewards (each
confirmed attendee is rewarded once per activity)."""

from __future__ import annotations

import hashlib
import secrets

import click

from cli.apps.base import (
    TxOptions,
    address_arg,
    display,
    fetch_list,
    list_out,
    page_options,
    points,
    query,
    report,
    send,
    show,
    table,
    time_arg,
    time_text,
    title_arg,
    tx_command,
    view_command,
)
from cli.apps.content import SHORT_MAX_BYTES, fetch_text, publish, text_body
from cli.common import print_json

KINDS = ("volunteer", "culture", "other")


@click.group("activities")
def activities() -> None:
    """Activities: propose, approve, sign up, confirm attendance (rewarded once)."""


@activities.command("propose")
@click.option("--kind", required=True, type=click.Choice(KINDS), help="What sort of activity it is.")
@click.option("--title", required=True, help="A short title (1–100 characters).")
@click.option("--start", required=True, metavar="TIME", help='When it starts: "2027-01-05 19:00" (Shanghai time), or +2h/+3d.')
@click.option("--end", default=None, metavar="TIME", help="When it ends, in the same forms as --start.")
@click.option("--place", default=None, help="Where, e.g. 社区活动室 (1–100 characters).")
@click.option("--description", default=None, help="What residents should know (up to 4 KiB of text).")
@click.option("--capacity", required=True, type=click.IntRange(1, 512), help="How many residents can sign up.")
@tx_command
def propose(kind: str, title: str, start: str, end: str | None, place: str | None, description: str | None,
            capacity: int, *, opts: TxOptions) -> None:
    """Propose an activity (committee: approved at once; residents: needs approval).
    With --end, --place and --description, residents see where, until when and what."""
    title = title_arg(title, 100)
    start_s = time_arg(start, "--start")
    details = (end, place, description)
    if all(d is None for d in details):
        out = send(opts, "activities", "propose", [kind, title, start_s, capacity])
    else:
        if any(d is None for d in details):
            raise click.UsageError("give --end, --place and --description together")
        assert end is not None and place is not None and description is not None
        end_s = time_arg(end, "--end")
        if end_s <= start_s:
            raise click.BadParameter("the activity must end after it starts", param_hint="--end")
        place = title_arg(place, 100, "--place")
        body = text_body(description, "--description", SHORT_MAX_BYTES)
        out = send(opts, "activities", "propose_details",
                   [kind, title, start_s, end_s, place, publish(opts.rpc_url, body), capacity])
    report(opts, out, f"Activity #{out.result} proposed", [("title", title), ("starts", time_text(start_s))])


@activities.command("approve")
@click.argument("activity_id", type=click.IntRange(1))
@tx_command
def approve(activity_id: int, *, opts: TxOptions) -> None:
    """Approve a resident's activity so sign-ups open (committee)."""
    report(opts, send(opts, "activities", "approve", [activity_id]), f"Activity #{activity_id} approved")


@activities.command("sign-up")
@click.argument("activity_id", type=click.IntRange(1))
@tx_command
def sign_up(activity_id: int, *, opts: TxOptions) -> None:
    """Sign up for an activity (residents, before it starts)."""
    report(opts, send(opts, "activities", "sign_up", [activity_id]), f"Signed up for activity #{activity_id}")


@activities.command("withdraw")
@click.argument("activity_id", type=click.IntRange(1))
@tx_command
def withdraw(activity_id: int, *, opts: TxOptions) -> None:
    """Give up your place (before the start)."""
    report(opts, send(opts, "activities", "withdraw", [activity_id]), f"Withdrew from activity #{activity_id}")


@activities.command("confirm")
@click.argument("activity_id", type=click.IntRange(1))
@click.argument("attendees", nargs=-1, required=True)
@tx_command
def confirm(activity_id: int, attendees: tuple[str, ...], *, opts: TxOptions) -> None:
    """Confirm who attended (the organiser, after the start); each is rewarded once."""
    for a in attendees:
        address_arg(a, "ATTENDEES")
    out = send(opts, "activities", "confirm_attendance", [activity_id, list(attendees)])
    report(opts, out, f"Attendance at activity #{activity_id} confirmed",
           [("attendees", len(attendees)), ("points minted", points(out.result))])


@activities.command("open-check-in")
@click.argument("activity_id", type=click.IntRange(1))
@click.option("--until", "until", default="+2h", show_default=True, metavar="TIME",
              help='When the check-in closes: "+2h", "2027-01-05 21:00" (Shanghai time); at most 4 hours ahead.')
@click.option("--code", default=None, help="The code to show in the room (default: 6 random digits).")
@tx_command
def open_check_in(activity_id: int, until: str, code: str | None, *, opts: TxOptions) -> None:
    """Open the check-in at the door (the organiser): show the printed code, or its QR
    code in the web app; signed-up residents who send it are confirmed and rewarded."""
    code = code.strip() if code else f"{secrets.randbelow(10**6):06d}"
    if not 4 <= len(code) <= 64:
        raise click.BadParameter("a code of 4..64 characters", param_hint="--code")
    until_s = time_arg(until, "--until")
    out = send(opts, "activities", "open_check_in",
               [activity_id, hashlib.sha256(code.encode()).digest(), until_s])
    report(opts, out, f"Check-in open for activity #{activity_id}",
           [("code to show", code), ("QR text", f"hkchain-checkin:{activity_id}:{code}"),
            ("closes", display("start_time", until_s))])


@activities.command("show")
@click.argument("activity_id", type=click.IntRange(1))
@view_command
def show_activity(activity_id: int, rpc_url: str, as_json: bool) -> None:
    """An activity: when and where, its description, places, sign-ups, attendance."""
    doc = query(rpc_url, "activities", "activity", [activity_id])
    body = fetch_text(rpc_url, doc["description_hash"]) if isinstance(doc, dict) and doc.get("description_hash") else None
    if as_json:
        print_json({"result": doc, "description": body.text if body else None})
        return
    if isinstance(doc, dict):
        doc = {k: display(k, v) for k, v in doc.items()}
        if body is not None:
            doc["description"] = body.shown()
    show(False, f"Activity #{activity_id}", doc,
         ["id", "title", "kind", "start_time", "end_time", "place", "description", "capacity", "signed_up",
          "attended", "approved", "organiser"])


@activities.command("list")
@click.option("--status", type=click.Choice(["upcoming", "past", "all"]), default="all", show_default=True,
              help="Not started yet, already started, or both.")
@click.option("--organiser", default="", metavar="ADDRESS", help="Only this organiser's activities.")
@page_options
@view_command
def list_activities(status: str, organiser: str, limit: int, cursor: int, all_pages: bool,
                    rpc_url: str, as_json: bool) -> None:
    """Activities, newest first."""
    if organiser:
        address_arg(organiser, "--organiser")
    page = fetch_list(rpc_url, "activities", "activities", ["" if status == "all" else status, organiser],
                      cursor=cursor, limit=limit, all_pages=all_pages)
    rows = [[d["id"], d["title"], d["kind"], display("start_time", d["start_time"]), d.get("place") or "-",
             f"{d['signed_up']}/{d['capacity']}", d["attended"], "yes" if d["approved"] else "no"]
            for d in page.items if isinstance(d, dict)]
    list_out(as_json, "Activities", ["id", "title", "kind", "starts", "place", "signed up", "attended", "approved"],
             rows, page, rpc_url=rpc_url)


@activities.command("participants")
@click.argument("activity_id", type=click.IntRange(1))
@view_command
def participants(activity_id: int, rpc_url: str, as_json: bool) -> None:
    """Who signed up, and whether each attended."""
    people = query(rpc_url, "activities", "participants", [activity_id]) or []
    rows = [[p, "yes" if query(rpc_url, "activities", "attended", [activity_id, p]) else "no"] for p in people]
    table(as_json, f"Participants of activity #{activity_id}", ["resident", "attended"], rows)
