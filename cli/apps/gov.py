"""`hkchain gov …`: owners' matters (Civil Code Article 278) and residents' proposals.

Residents draft a proposal (`assembly`), neighbours co-sign it or a committee member
sponsors it, and it goes to the owners' vote in `governance`; households vote with
`gov vote`. `gov proposal` shows the live tally against the Article 278 thresholds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.apps.base import (
    TxOptions,
    account_arg,
    address_arg,
    area_text,
    chain_clock,
    display,
    fetch_list,
    list_out,
    page_options,
    pid_of,
    query,
    report,
    send,
    show,
    time_arg,
    title_arg,
    tx_command,
    view_command,
    who,
)
from cli.apps.content import DOC_MAX_BYTES, SHORT_MAX_BYTES, fetch_text, publish, read_body
from cli.common import print_json, print_pairs, print_table
from cli.localtime import local_text
from core.fields import is_decimal

CATEGORIES = {
    1: "rules of procedure of the owners' assembly",
    2: "management statute",
    3: "electing or replacing the owners' committee",
    4: "hiring or dismissing the property-service company",
    5: "using the building maintenance fund",
    6: "raising the maintenance fund",
    7: "rebuilding or renovating the building and facilities",
    8: "changing the use of common parts, or using them for business",
    9: "other major matters of common ownership",
}
MAX_PROPOSAL_TITLE = 200
CATEGORY_HELP = "Article 278 item: " + "; ".join(f"{k} {v}" for k, v in CATEGORIES.items())


@click.group("gov")
def gov() -> None:
    """Owners' votes (Article 278) and residents' proposals."""


@gov.command("proposal")
@click.argument("pid", type=click.IntRange(1))
@view_command
def proposal(pid: int, rpc_url: str, as_json: bool) -> None:
    """A proposal: its text, the tally (yes, no, abstain) and the result — final once the
    vote has closed, else what it would be if the vote closed now."""
    doc = query(rpc_url, "governance", "proposal", [pid])
    tally = query(rpc_url, "governance", "tally", [pid])
    outcome = query(rpc_url, "governance", "outcome", [pid])
    body = fetch_text(rpc_url, doc.get("doc_hash")) if isinstance(doc, dict) and doc.get("doc_hash") else None
    if as_json:
        print_json({"result": {"proposal": doc, "tally": tally, "outcome": outcome,
                               "text": body.text if body else None,
                               "text_error": body.error if body else None}})
        return
    if doc is None:
        raise click.ClickException(f"no proposal {pid}")
    cat = doc.get("category")
    clock = chain_clock(rpc_url)
    is_open = doc.get("status") == "open"
    pairs: list[tuple[str, Any]] = [
        ("title", doc.get("title")), ("kind", doc.get("kind")),
        ("category", f"{cat} — {CATEGORIES.get(cat, '?')}" if cat else "-"),
        ("status", doc.get("status")), ("proposer", doc.get("proposer")),
        ("opened", clock.height_text(int(doc.get("created", 0)))),
        ("vote closes" if is_open else "vote closed", clock.height_text(int(doc.get("closes", 0)))),
    ]
    if doc.get("kind") == "owners":
        # Only the households registered when the vote opened vote; the totals are theirs.
        pairs.append(("electorate", f"{doc.get('total_owners', 0)} households, "
                      f"{area_text(doc.get('total_area', 0))} m², as registered when the vote opened"))
    print_pairs(f"Proposal #{pid}", pairs)
    if body is not None:
        print_pairs("Text", [("", body.shown())])
    if isinstance(tally, dict) and "voted_owners" in tally:
        total_area, total_owners = doc.get("total_area", 0), doc.get("total_owners", 0)
        no_owners, no_area = int(tally.get("no_owners", 0)), int(tally.get("no_area_dm2", 0))
        abstain_owners = tally["voted_owners"] - tally["yes_owners"] - no_owners
        abstain_area = tally["voted_area_dm2"] - tally["yes_area_dm2"] - no_area
        rows = [
            ("took part", f"{tally['voted_owners']} / {total_owners}",
             f"{area_text(tally['voted_area_dm2'])} / {area_text(total_area)} m²"),
            ("yes", str(tally["yes_owners"]), f"{area_text(tally['yes_area_dm2'])} m²"),
            ("no", str(no_owners), f"{area_text(no_area)} m²"),
            ("abstain", str(abstain_owners), f"{area_text(abstain_area)} m²"),
        ]
        print_table("Tally (owners, area)", ["", "owners", "area"], rows)
        rule = "≥ 3/4 of participants" if cat in (6, 7, 8) else "> 1/2 of participants"
        click.echo(f"Quorum: 2/3 of owners and of area take part; passes with {rule} "
                   f"(by head and by area). Abstentions count as taking part.")
    elif isinstance(tally, dict):
        print_pairs("Tally (validators)", sorted(tally.items()))
    if isinstance(outcome, dict):
        quorum = "met" if outcome.get("quorum") else "NOT met"
        if is_open:
            click.echo(f"If the vote closed now: quorum {quorum}, "
                       f"{'PASSED' if outcome.get('passed') else 'not passed'}.")
        else:
            click.echo(f"Final result: {str(doc.get('status')).upper()} (quorum {quorum}).")


@gov.command("list")
@click.option("--status", type=click.Choice(["open", "passed", "rejected", "failed", "all"]), default="open",
              show_default=True, help="Proposals in this state (open: the vote runs).")
@page_options
@view_command
def list_proposals(status: str, limit: int, cursor: int, all_pages: bool, rpc_url: str, as_json: bool) -> None:
    """Proposals, newest first, with when their vote closes (local time)."""
    page = fetch_list(rpc_url, "governance", "proposals", ["" if status == "all" else status],
                      cursor=cursor, limit=limit, all_pages=all_pages)
    clock = chain_clock(rpc_url) if page.items and not as_json else None
    rows = [[d["id"], d.get("kind"), d.get("category") or "-", d.get("title"), d.get("status"),
             clock.height_text(d["closes"]) if clock else d.get("closes")]
            for d in page.items if isinstance(d, dict)]
    list_out(as_json, "Proposals", ["id", "kind", "category", "title", "status", "vote closes"], rows, page, rpc_url=rpc_url)


@gov.command("drafts")
@click.option("--status", type=click.Choice(["drafting", "voting", "passed", "rejected", "all"]),
              default="drafting", show_default=True,
              help="Drafts in this state (drafting: gathering co-signers).")
@page_options
@view_command
def list_drafts(status: str, limit: int, cursor: int, all_pages: bool, rpc_url: str, as_json: bool) -> None:
    """Residents' draft proposals, newest first, with co-signers and comments."""
    page = fetch_list(rpc_url, "assembly", "drafts", ["" if status == "all" else status],
                      cursor=cursor, limit=limit, all_pages=all_pages)
    rows = [[d["id"], d.get("category"), d.get("title"), d.get("status"), len(d.get("cosigners") or []),
             d.get("comments", 0), d.get("pid") or "-", d.get("drafter")]
            for d in page.items if isinstance(d, dict)]
    list_out(as_json, "Drafts", ["id", "category", "title", "status", "co-signers", "comments", "proposal",
                                 "drafter"], rows, page, rpc_url=rpc_url)


@gov.command("vote")
@click.argument("pid", type=click.IntRange(1))
@click.argument("choice", type=click.Choice(["yes", "no", "abstain"]))
@tx_command
def vote(pid: int, choice: str, *, opts: TxOptions) -> None:
    """Vote on proposal PID (owner households on owners' matters; free for residents)."""
    out = send(opts, "governance", "vote", [pid, choice])
    report(opts, out, f"Voted {choice} on proposal #{pid}")


def _doc_options(f: Any) -> Any:
    f = click.option("--text", default=None, help="The full text of the proposal, typed here (instead of --doc).")(f)
    f = click.option("--doc", default=None, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                     help="A UTF-8 text file with the full text (up to 256 KiB); stored on every "
                          "node, its SHA-256 on chain.")(f)
    return f


def _publish_doc(rpc_url: str, doc: Path | None, text: str | None) -> bytes:
    body = read_body(doc, text, file_opt="--doc", text_opt="--text", max_bytes=DOC_MAX_BYTES)
    assert body is not None
    return publish(rpc_url, body)


@gov.command("propose")
@click.option("--category", required=True, type=click.IntRange(1, 9), help=CATEGORY_HELP)
@click.option("--title", required=True, help="A short title (1–200 characters).")
@_doc_options
@click.option("--closes", default=None, metavar="TIME",
              help='When the vote closes, in Shanghai time, e.g. "2026-12-20 18:00" (converted to a '
                   "block height now, from the chain's recent pace); default: the chain's voting period.")
@tx_command
def propose(category: int, title: str, doc: Path | None, text: str | None, closes: str | None, *,
            opts: TxOptions) -> None:
    """Put an owners' matter to the vote directly (committee members and owners)."""
    title = title_arg(title, MAX_PROPOSAL_TITLE)
    closes_height = None
    if closes is not None:
        at = time_arg(closes, "--closes")
        clock = chain_clock(opts.rpc_url)
        if at * 1000 <= clock.head_time_ms:
            raise click.BadParameter(f"{local_text(at)} has passed", param_hint="--closes")
        closes_height = clock.height_at(at)
    doc_hash = _publish_doc(opts.rpc_url, doc, text)
    if closes_height is None:
        out = send(opts, "governance", "propose_owners", [category, title, doc_hash])
    else:
        out = send(opts, "governance", "propose_owners_closing", [category, title, doc_hash, closes_height])
    pairs: list[tuple[str, Any]] = [("category", f"{category} — {CATEGORIES[category]}")]
    for e in out.events:
        fields = e.get("fields") or {}
        if e.get("name") == "ProposalCreated" and type(fields.get("closes")) is int:
            pairs.append(("vote closes", chain_clock(opts.rpc_url).height_text(fields["closes"])))
    report(opts, out, f"Proposal #{out.result} open for votes", pairs)


# --- residents' proposals (assembly) ----------------------------------------------------


@gov.command("draft")
@click.option("--category", required=True, type=click.IntRange(1, 9), help=CATEGORY_HELP)
@click.option("--title", required=True, help="A short title (1–200 characters).")
@_doc_options
@click.option("--fund-spend", nargs=2, default=None, metavar="TO AMOUNT",
              help="Category 5 only: pay AMOUNT from the maintenance fund to TO if passed.")
@tx_command
def draft(category: int, title: str, doc: Path | None, text: str | None, fund_spend: tuple[str, str] | None, *,
          opts: TxOptions) -> None:
    """Draft a residents' proposal (households); it needs co-signers or a sponsor."""
    title = title_arg(title, MAX_PROPOSAL_TITLE)
    action: list[Any] = []
    if fund_spend:
        to, amount = fund_spend
        if not is_decimal(amount) or int(amount) <= 0:
            raise click.BadParameter("AMOUNT must be a positive integer", param_hint="--fund-spend")
        action = ["fund_spend", account_arg(to, "--fund-spend"), int(amount)]
    doc_hash = _publish_doc(opts.rpc_url, doc, text)
    out = send(opts, "assembly", "draft", [category, title, doc_hash, action])
    report(opts, out, f"Draft #{out.result} created",
           [("next", f"neighbours co-sign with `hkchain gov cosign {out.result}`")])


@gov.command("cosign")
@click.argument("draft_id", type=click.IntRange(1))
@tx_command
def cosign(draft_id: int, *, opts: TxOptions) -> None:
    """Co-sign a draft (households); enough co-signers put it to the vote."""
    out = send(opts, "assembly", "cosign", [draft_id])
    pid = out.result or pid_of(out)
    report(opts, out, f"Draft #{draft_id} co-signed",
           [("proposal", pid if pid else "not yet submitted (needs more co-signers)")])


@gov.command("sponsor")
@click.argument("draft_id", type=click.IntRange(1))
@tx_command
def sponsor(draft_id: int, *, opts: TxOptions) -> None:
    """Put a draft to the vote at once (committee members)."""
    out = send(opts, "assembly", "sponsor", [draft_id])
    report(opts, out, f"Draft #{draft_id} submitted", [("proposal", out.result)])


@gov.command("comment")
@click.argument("draft_id", type=click.IntRange(1))
@click.option("--text", default=None, help="The comment (up to 4 KiB of text).")
@click.option("--file", "file", default=None, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="A UTF-8 text file with the comment (instead of --text).")
@tx_command
def comment(draft_id: int, text: str | None, file: Path | None, *, opts: TxOptions) -> None:
    """Comment on a draft (residents); every node keeps the text, the chain its hash."""
    body = read_body(file, text, file_opt="--file", text_opt="--text", max_bytes=SHORT_MAX_BYTES)
    assert body is not None
    out = send(opts, "assembly", "comment", [draft_id, publish(opts.rpc_url, body)])
    report(opts, out, f"Comment #{out.result} on draft #{draft_id}")


@gov.command("draft-show")
@click.argument("draft_id", type=click.IntRange(1))
@view_command
def draft_show(draft_id: int, rpc_url: str, as_json: bool) -> None:
    """A residents' proposal: its text, co-signers, comments, its vote and result."""
    doc = query(rpc_url, "assembly", "draft_of", [draft_id])
    body = fetch_text(rpc_url, doc.get("doc_hash")) if isinstance(doc, dict) else None
    comments = query(rpc_url, "assembly", "comments", [draft_id]) if isinstance(doc, dict) else []
    said = [(c, fetch_text(rpc_url, c.get("hash"))) for c in comments or [] if isinstance(c, dict)]
    if as_json:
        print_json({"result": doc, "text": body.text if body else None,
                    "comments": [{**c, "text": f.text} for c, f in said]})
        return
    if isinstance(doc, dict):
        cat = doc.get("category")
        doc = {**doc, "cosigners": len(doc.get("cosigners") or []),
               "category": f"{cat} — {CATEGORIES.get(cat, '?') if type(cat) is int else '?'}"}
        doc = {k: display(k, v) for k, v in doc.items()}
    show(False, f"Draft #{draft_id}", doc,
         ["title", "category", "status", "drafter", "cosigners", "pid", "action"])
    if body is not None:
        print_pairs("Text", [("", body.shown())])
    if said:
        print_table("Comments", ["by", "at", "comment"],
                    [[c.get("by"), display("at", c.get("at")), f.shown(2000)] for c, f in said])


# --- roles (the committee's administration) -----------------------------------------------

ROLES = ("committee", "resident", "property_company", "merchant", "service_provider", "observer",
         "validator")


@gov.command("grant-role")
@click.argument("address")
@click.argument("role", type=click.Choice(ROLES))
@tx_command
def grant_role(address: str, role: str, *, opts: TxOptions) -> None:
    """Give ADDRESS a role (committee members grant most roles; see `roles.grant_rule`)."""
    address_arg(address, "ADDRESS")
    out = send(opts, "roles", "grant", [address, role])
    report(opts, out, f"{role} granted", [("address", address)])


@gov.command("revoke-role")
@click.argument("address")
@click.argument("role", type=click.Choice(ROLES))
@tx_command
def revoke_role(address: str, role: str, *, opts: TxOptions) -> None:
    """Take a role back from ADDRESS."""
    address_arg(address, "ADDRESS")
    out = send(opts, "roles", "revoke", [address, role])
    report(opts, out, f"{role} revoked", [("address", address)])


@gov.command("roles")
@click.argument("address")
@view_command
def roles(address: str, rpc_url: str, as_json: bool) -> None:
    """The roles ADDRESS holds."""
    address_arg(address, "ADDRESS")
    held = query(rpc_url, "roles", "roles_of", [address]) or []
    if as_json:
        print_json({"result": held})
    else:
        print_pairs(f"Roles of {who(address)}", [("address", address), ("roles", ", ".join(held) if held else "none")])
