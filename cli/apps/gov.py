"""`hkchain gov …`: owners' matters (Civil Code Article 278) and residents' proposals.

Residents draft a proposal (`assembly`), neighbours co-sign it or a committee member
sponsors it, and it goes to the owners' vote in `governance`; households vote with
`gov vote`. `gov proposal` shows the live tally against the Article 278 thresholds.
"""

from __future__ import annotations

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
    hash_arg,
    list_out,
    page_options,
    pid_of,
    query,
    report,
    send,
    show,
    tx_command,
    view_command,
    who,
)
from cli.common import print_json, print_pairs, print_table
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
CATEGORY_HELP = "Article 278 item: " + "; ".join(f"{k} {v}" for k, v in CATEGORIES.items())


@click.group("gov")
def gov() -> None:
    """Owners' votes (Article 278) and residents' proposals."""


@gov.command("proposal")
@click.argument("pid", type=click.IntRange(1))
@view_command
def proposal(pid: int, rpc_url: str, as_json: bool) -> None:
    """A proposal with its live tally and what the result would be now."""
    doc = query(rpc_url, "governance", "proposal", [pid])
    tally = query(rpc_url, "governance", "tally", [pid])
    outcome = query(rpc_url, "governance", "outcome", [pid])
    if as_json:
        print_json({"result": {"proposal": doc, "tally": tally, "outcome": outcome}})
        return
    if doc is None:
        raise click.ClickException(f"no proposal {pid}")
    cat = doc.get("category")
    pairs: list[tuple[str, Any]] = [
        ("title", doc.get("title")), ("kind", doc.get("kind")),
        ("category", f"{cat} — {CATEGORIES.get(cat, '?')}" if cat else "-"),
        ("status", doc.get("status")), ("proposer", doc.get("proposer")),
        ("voting closes at block", doc.get("closes")),
    ]
    if doc.get("kind") == "owners":
        # Only the households registered when the vote opened vote; the totals are theirs.
        pairs.append(("electorate", f"{doc.get('total_owners', 0)} households, "
                      f"{area_text(doc.get('total_area', 0))} m², as registered at block "
                      f"{doc.get('created')}"))
    print_pairs(f"Proposal #{pid}", pairs)
    if isinstance(tally, dict) and "voted_owners" in tally:
        total_area, total_owners = doc.get("total_area", 0), doc.get("total_owners", 0)
        rows = [
            ("took part", f"{tally['voted_owners']} / {total_owners}",
             f"{area_text(tally['voted_area_dm2'])} / {area_text(total_area)} m²"),
            ("yes", str(tally["yes_owners"]), f"{area_text(tally['yes_area_dm2'])} m²"),
            ("no", str(tally.get("no_owners", "-")),
             f"{area_text(tally['no_area_dm2'])} m²" if "no_area_dm2" in tally else "-"),
        ]
        print_table("Tally (owners, area)", ["", "owners", "area"], rows)
        rule = "≥ 3/4 of participants" if cat in (6, 7, 8) else "> 1/2 of participants"
        click.echo(f"Quorum: 2/3 of owners and of area take part; passes with {rule} "
                   f"(by head and by area).")
    elif isinstance(tally, dict):
        print_pairs("Tally (validators)", sorted(tally.items()))
    if isinstance(outcome, dict):
        click.echo(f"If the vote closed now: quorum {'met' if outcome.get('quorum') else 'NOT met'}, "
                   f"{'PASSED' if outcome.get('passed') else 'not passed'}.")


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
    list_out(as_json, "Proposals", ["id", "kind", "category", "title", "status", "vote closes"], rows, page)


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
                                 "drafter"], rows, page)


@gov.command("vote")
@click.argument("pid", type=click.IntRange(1))
@click.argument("choice", type=click.Choice(["yes", "no", "abstain"]))
@tx_command
def vote(pid: int, choice: str, *, opts: TxOptions) -> None:
    """Vote on proposal PID (owner households on owners' matters; free for residents)."""
    out = send(opts, "governance", "vote", [pid, choice])
    report(opts, out, f"Voted {choice} on proposal #{pid}")


@gov.command("propose")
@click.option("--category", required=True, type=click.IntRange(1, 9), help=CATEGORY_HELP)
@click.option("--title", required=True)
@click.option("--doc", required=True, metavar="HASH|FILE|TEXT", help="The full text (hashed).")
@tx_command
def propose(category: int, title: str, doc: str, *, opts: TxOptions) -> None:
    """Put an owners' matter to the vote directly (committee members and owners)."""
    out = send(opts, "governance", "propose_owners", [category, title, hash_arg(doc)])
    report(opts, out, f"Proposal #{out.result} open for votes",
           [("category", f"{category} — {CATEGORIES[category]}")])


# --- residents' proposals (assembly) ----------------------------------------------------


@gov.command("draft")
@click.option("--category", required=True, type=click.IntRange(1, 9), help=CATEGORY_HELP)
@click.option("--title", required=True)
@click.option("--doc", required=True, metavar="HASH|FILE|TEXT", help="The full text (hashed).")
@click.option("--fund-spend", nargs=2, default=None, metavar="TO AMOUNT",
              help="Category 5 only: pay AMOUNT from the maintenance fund to TO if passed.")
@tx_command
def draft(category: int, title: str, doc: str, fund_spend: tuple[str, str] | None, *,
          opts: TxOptions) -> None:
    """Draft a residents' proposal (households); it needs co-signers or a sponsor."""
    action: list[Any] = []
    if fund_spend:
        to, amount = fund_spend
        if not is_decimal(amount) or int(amount) <= 0:
            raise click.BadParameter("AMOUNT must be a positive integer", param_hint="--fund-spend")
        action = ["fund_spend", account_arg(to, "--fund-spend"), int(amount)]
    out = send(opts, "assembly", "draft", [category, title, hash_arg(doc), action])
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
@click.option("--text", required=True, metavar="HASH|FILE|TEXT", help="The comment (hashed on chain).")
@tx_command
def comment(draft_id: int, text: str, *, opts: TxOptions) -> None:
    """Comment on a draft (residents); the chain keeps the comment's hash."""
    out = send(opts, "assembly", "comment", [draft_id, hash_arg(text, "--text")])
    report(opts, out, f"Comment #{out.result} on draft #{draft_id}")


@gov.command("draft-show")
@click.argument("draft_id", type=click.IntRange(1))
@view_command
def draft_show(draft_id: int, rpc_url: str, as_json: bool) -> None:
    """A residents' proposal: co-signers, its vote and result."""
    doc = query(rpc_url, "assembly", "draft_of", [draft_id])
    if isinstance(doc, dict) and not as_json:
        cat = doc.get("category")
        doc = {**doc, "cosigners": len(doc.get("cosigners") or []),
               "category": f"{cat} — {CATEGORIES.get(cat, '?') if type(cat) is int else '?'}"}
        doc = {k: display(k, v) for k, v in doc.items()}
    show(as_json, f"Draft #{draft_id}", doc,
         ["title", "category", "status", "drafter", "cosigners", "pid", "action"])


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
