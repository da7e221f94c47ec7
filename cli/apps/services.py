"""`hkchain services …`: residents' service requests matched to providers, with escrow,
completion, disputes and ratings."""

from __future__ import annotations

from pathlib import Path

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
    time_text,
    title_arg,
    tx_command,
    view_command,
    who,
)
from cli.apps.content import SHORT_MAX_BYTES, fetch_text, publish, read_body, text_body
from cli.common import print_json

MAX_CATEGORY_CHARS = 32


@click.group("services")
def services() -> None:
    """Service requests, offers, matching, escrow and ratings."""


@services.command("register-provider")
@click.argument("categories", nargs=-1, required=True)
@tx_command
def register_provider(categories: tuple[str, ...], *, opts: TxOptions) -> None:
    """Offer services in CATEGORIES (service providers), e.g. plumbing repair."""
    out = send(opts, "services", "register_provider", [list(categories)])
    report(opts, out, "Provider registered", [("categories", ", ".join(categories))])


@services.command("request")
@click.option("--category", required=True, help="e.g. 水电维修, 保洁, 助老 (1–32 characters).")
@click.option("--description", default=None,
              help="What is needed, for the providers to read (up to 4 KiB of text).")
@click.option("--description-file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="A UTF-8 text file with the description (instead of --description).")
@click.option("--budget", required=True, type=click.IntRange(1), help="Most you will pay, in points.")
@tx_command
def request(category: str, description: str | None, description_file: Path | None, budget: int, *,
            opts: TxOptions) -> None:
    """Ask for a service (residents). Providers read the description on any node."""
    category = title_arg(category, MAX_CATEGORY_CHARS, "--category")
    body = read_body(description_file, description, file_opt="--description-file",
                     text_opt="--description", max_bytes=SHORT_MAX_BYTES)
    assert body is not None
    out = send(opts, "services", "request", [category, publish(opts.rpc_url, body), budget])
    report(opts, out, f"Request #{out.result} open", [("category", category), ("budget", points(budget))])


@services.command("offer")
@click.argument("request_id", type=click.IntRange(1))
@click.option("--price", required=True, type=click.IntRange(1),
              help="Your price in points (at most the request's budget).")
@tx_command
def offer(request_id: int, price: int, *, opts: TxOptions) -> None:
    """Offer to do request REQUEST_ID for PRICE points (providers of its category)."""
    out = send(opts, "services", "offer", [request_id, price])
    report(opts, out, f"Offer on request #{request_id}", [("price", points(price))])


@services.command("offers")
@click.argument("request_id", type=click.IntRange(1))
@view_command
def offers(request_id: int, rpc_url: str, as_json: bool) -> None:
    """The offers on a request, best match first (rating, then price, then time)."""
    ranking = query(rpc_url, "services", "ranking", [request_id]) or []
    rows = []
    for rank, o in enumerate(ranking, 1):
        r = o.get("rating_x100", 0)
        rows.append([rank, o.get("provider"), points(o.get("price")), f"{r // 100}.{r % 100:02d}"])
    table(as_json, f"Offers on request #{request_id} (best first)",
          ["rank", "provider", "price", "rating"], rows, raw=ranking)


@services.command("accept")
@click.argument("request_id", type=click.IntRange(1))
@click.option("--provider", default="", metavar="ADDRESS", help="Pick this offer (default: the best-ranked).")
@tx_command
def accept(request_id: int, provider: str, *, opts: TxOptions) -> None:
    """Accept an offer; its price moves from you into escrow (the requester)."""
    if provider:
        address_arg(provider, "--provider")
    out = send(opts, "services", "accept", [request_id, provider])
    report(opts, out, f"Request #{request_id} matched", [("provider", out.result)])


@services.command("complete")
@click.argument("request_id", type=click.IntRange(1))
@tx_command
def complete(request_id: int, *, opts: TxOptions) -> None:
    """Confirm the work is done: escrow goes to the provider (the requester)."""
    out = send(opts, "services", "complete", [request_id])
    report(opts, out, f"Request #{request_id} completed")


@services.command("cancel")
@click.argument("request_id", type=click.IntRange(1))
@tx_command
def cancel(request_id: int, *, opts: TxOptions) -> None:
    """Cancel (the requester while open; the provider while accepted, refunding escrow)."""
    out = send(opts, "services", "cancel", [request_id])
    report(opts, out, f"Request #{request_id} cancelled")


@services.command("refund")
@click.argument("request_id", type=click.IntRange(1))
@tx_command
def refund(request_id: int, *, opts: TxOptions) -> None:
    """Take the escrow back after the provider's time ran out (the requester)."""
    out = send(opts, "services", "refund", [request_id])
    report(opts, out, f"Request #{request_id} refunded")


@services.command("dispute")
@click.argument("request_id", type=click.IntRange(1))
@click.option("--reason", required=True, help="Why, for the committee to read (up to 4 KiB of text).")
@tx_command
def dispute(request_id: int, reason: str, *, opts: TxOptions) -> None:
    """Ask the committee to decide (requester or provider)."""
    body = text_body(reason, "--reason", SHORT_MAX_BYTES)
    out = send(opts, "services", "dispute", [request_id, publish(opts.rpc_url, body)])
    report(opts, out, f"Request #{request_id} disputed")


@services.command("decide")
@click.argument("request_id", type=click.IntRange(1))
@click.option("--provider-amount", required=True, type=click.IntRange(0),
              help="Points of the escrow for the provider; the rest goes back.")
@tx_command
def decide(request_id: int, provider_amount: int, *, opts: TxOptions) -> None:
    """Settle a dispute (committee)."""
    out = send(opts, "services", "decide", [request_id, provider_amount])
    report(opts, out, f"Dispute on request #{request_id} decided")


@services.command("rate")
@click.argument("request_id", type=click.IntRange(1))
@click.option("--score", required=True, type=click.IntRange(1, 5),
              help="1 (poor) to 5 (excellent); it ranks the provider's future offers.")
@tx_command
def rate(request_id: int, score: int, *, opts: TxOptions) -> None:
    """Rate the provider of a completed request (the requester, once)."""
    out = send(opts, "services", "rate", [request_id, score])
    report(opts, out, f"Request #{request_id} rated", [("score", score)])


STATUSES = ("open", "accepted", "completed", "cancelled", "refunded", "disputed", "decided")


@services.command("list")
@click.option("--status", type=click.Choice([*STATUSES, "all"]), default="open", show_default=True,
              help="Requests in this state (open: waiting for offers).")
@click.option("--category", default="", help="Only this category, e.g. 水电维修.")
@click.option("--party", default="", metavar="ADDRESS", help="Only requests of this requester or provider.")
@page_options
@view_command
def list_requests(status: str, category: str, party: str, limit: int, cursor: int, all_pages: bool,
                  rpc_url: str, as_json: bool) -> None:
    """Service requests, newest first: by default the open ones providers can offer on."""
    if party:
        address_arg(party, "--party")
    page = fetch_list(rpc_url, "services", "requests", ["" if status == "all" else status, category, party],
                      cursor=cursor, limit=limit, all_pages=all_pages)
    rows = [[d["id"], d["category"], d["status"], points(d["budget"]), d.get("offers", 0), d["requester"],
             d.get("provider") or "-", time_text(d["created"]) if d.get("created") else "-"]
            for d in page.items if isinstance(d, dict)]
    list_out(as_json, "Service requests", ["id", "category", "status", "budget", "offers", "requester",
                                           "provider", "posted"], rows, page, rpc_url=rpc_url)


@services.command("show")
@click.argument("request_id", type=click.IntRange(1))
@view_command
def show_request(request_id: int, rpc_url: str, as_json: bool) -> None:
    """A request: what is needed (its text), status, provider, price, escrow, dispute."""
    doc = query(rpc_url, "services", "request_of", [request_id])
    if not isinstance(doc, dict):
        show(as_json, f"Service request #{request_id}", doc)
        return
    body = fetch_text(rpc_url, doc.get("description_hash"))
    dispute_doc = doc.get("dispute")
    reason = fetch_text(rpc_url, dispute_doc.get("reason_hash")) if isinstance(dispute_doc, dict) else None
    if as_json:
        print_json({"result": doc, "description": body.text,
                    "dispute_reason": reason.text if reason else None})
        return
    shown = {k: display(k, v) for k, v in doc.items() if k not in ("dispute", "decision")}
    shown["description"] = body.shown()
    if isinstance(dispute_doc, dict) and reason is not None:
        shown["dispute"] = f"by {dispute_doc.get('by')} at {display('at', dispute_doc.get('at'))}: {reason.shown()}"
    if isinstance(doc.get("decision"), dict):
        shown["decision"] = doc["decision"]
    show(False, f"Service request #{request_id}", shown,
         ["id", "category", "description", "status", "requester", "budget", "provider", "price", "escrow",
          "dispute", "decision", "rated"])


@services.command("provider")
@click.argument("address")
@view_command
def provider(address: str, rpc_url: str, as_json: bool) -> None:
    """A provider's categories and rating."""
    address_arg(address, "ADDRESS")
    doc = query(rpc_url, "services", "provider_of", [address])
    if isinstance(doc, dict) and not as_json and type(doc.get("rating_x100")) is int:
        r = doc["rating_x100"]
        doc = {**doc, "rating": f"{r // 100}.{r % 100:02d} / 5"}
    show(as_json, f"Provider {who(address)}", doc, ["categories", "rating", "rating_count"])
