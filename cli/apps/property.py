"""`hkchain property …`: fee schedule, bills and payments, arrears, the maintenance fund
(spends decided by the owners under Article 278 item 5), service contracts, ratings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.apps.base import (
    TxOptions,
    account_arg,
    address_arg,
    fetch_list,
    list_out,
    page_options,
    period_arg,
    pid_of,
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
    who,
)
from cli.apps.content import DOC_MAX_BYTES, FILE_MAX_BYTES, file_body, publish, read_body
from cli.common import print_json, print_pairs
from core.fields import is_decimal


@click.group("property")
def property_group() -> None:
    """Property fees: schedule, bills, payments, arrears, maintenance fund, ratings."""


# --- schedule and bills ----------------------------------------------------------------


def _schedule_item(text: str) -> list[Any]:
    parts = text.split(":")
    if len(parts) != 4 or parts[2] not in ("area", "fixed") or not is_decimal(parts[3]):
        raise click.BadParameter("CODE:LABEL:area|fixed:PRICE, e.g. mgmt:Management fee:area:250",
                                 param_hint="--item")
    return [parts[0], parts[1], parts[2], int(parts[3])]


@property_group.command("set-schedule")
@click.option("--item", "items", multiple=True, required=True, metavar="CODE:LABEL:BASIS:PRICE",
              help="A schedule line; BASIS `area` (PRICE per m² per period) or `fixed`. Repeatable.")
@tx_command
def set_schedule(items: tuple[str, ...], *, opts: TxOptions) -> None:
    """Publish the fee schedule (property company only)."""
    out = send(opts, "property", "set_schedule", [[_schedule_item(i) for i in items]])
    report(opts, out, "Fee schedule published", [("version", out.result), ("lines", len(items))])


@property_group.command("schedule")
@view_command
def schedule(rpc_url: str, as_json: bool) -> None:
    """The published fee schedule."""
    doc = query(rpc_url, "property", "schedule", [])
    items = (doc or {}).get("items") or []
    table(as_json, f"Fee schedule (version {(doc or {}).get('version', '-')})",
          ["code", "label", "basis", "price"], [list(i) for i in items], raw=doc)


def _extra(text: str) -> list[Any]:
    label, sep, amount = text.rpartition("=")
    if not sep or not label or not is_decimal(amount):
        raise click.BadParameter("LABEL=AMOUNT, e.g. 'Parking=150'", param_hint="--extra")
    return [label, int(amount)]


@property_group.command("issue-bill")
@click.option("--household", required=True, metavar="ADDRESS")
@click.option("--period", required=True, help='Billing period, e.g. "2027-01".')
@click.option("--extra", "extras", multiple=True, metavar="LABEL=AMOUNT",
              help="An extra line in points. Repeatable (at most 8).")
@tx_command
def issue_bill(household: str, period: str, extras: tuple[str, ...], *, opts: TxOptions) -> None:
    """Issue a household's bill for PERIOD from the schedule and its area (property company)."""
    address_arg(household, "--household")
    out = send(opts, "property", "issue_bill", [household, period_arg(period), [_extra(e) for e in extras]])
    report(opts, out, f"Bill #{out.result} issued", [("household", household), ("period", period)])


@property_group.command("pay-bill")
@click.argument("bill_id", type=click.IntRange(1))
@tx_command
def pay_bill(bill_id: int, *, opts: TxOptions) -> None:
    """Pay bill BILL_ID in points (from your key's balance)."""
    out = send(opts, "property", "pay_bill", [bill_id])
    report(opts, out, f"Bill #{bill_id} paid")


@property_group.command("confirm-payment")
@click.argument("bill_id", type=click.IntRange(1))
@click.option("--reference", required=True, help="The off-chain payment's reference (unique).")
@tx_command
def confirm_payment(bill_id: int, reference: str, *, opts: TxOptions) -> None:
    """Mark a bill paid off chain (payment confirmers only)."""
    out = send(opts, "property", "confirm_payment", [bill_id, reference])
    report(opts, out, f"Bill #{bill_id} confirmed paid", [("reference", reference)])


@property_group.command("set-confirmer")
@click.argument("address")
@click.option("--disable", is_flag=True, help="Withdraw the permission instead.")
@tx_command
def set_confirmer(address: str, disable: bool, *, opts: TxOptions) -> None:
    """Allow ADDRESS to confirm off-chain payments (committee only)."""
    address_arg(address, "ADDRESS")
    out = send(opts, "property", "set_confirmer", [address, not disable])
    report(opts, out, f"Payment confirmer {'removed' if disable else 'set'}", [("address", address)])


@property_group.command("bill")
@click.argument("bill_id", type=click.IntRange(1))
@view_command
def bill(bill_id: int, rpc_url: str, as_json: bool) -> None:
    """One bill with its lines."""
    doc = query(rpc_url, "property", "bill", [bill_id])
    if as_json or doc is None:
        show(as_json, f"Bill #{bill_id}", doc)
        return
    show(False, f"Bill #{bill_id} — {doc.get('status', '?').upper()}",
         {k: v for k, v in doc.items() if k != "lines"},
         ["id", "household", "period", "total", "status", "method", "paid_by", "paid_at", "company"])
    table(False, "Lines", ["item", "amount"], [list(line) for line in doc.get("lines", [])])


@property_group.command("bills")
@click.argument("household", required=False, default="")
@click.option("--status", type=click.Choice(["unpaid", "paid", "all"]), default="all", show_default=True,
              help="Unpaid bills (arrears), paid ones, or both.")
@click.option("--period", default="", help='Only this billing period, e.g. "2027-01".')
@page_options
@view_command
def bills(household: str, status: str, period: str, limit: int, cursor: int, all_pages: bool,
          rpc_url: str, as_json: bool) -> None:
    """Bills of HOUSEHOLD (or of every household), newest first, with how each was paid."""
    if household:
        address_arg(household, "HOUSEHOLD")
    if period:
        period_arg(period)
    page = fetch_list(rpc_url, "property", "bills", [household, "" if status == "all" else status, period],
                      cursor=cursor, limit=limit, all_pages=all_pages)
    rows = [[d["id"], d["household"], d["period"], points(d["total"]), d["status"], d.get("method") or "-",
             time_text(d["paid_at"]) if d.get("paid_at") else "-"]
            for d in page.items if isinstance(d, dict)]
    title = f"Bills of {who(household)}" if household else "Bills"
    list_out(as_json, title, ["bill", "household", "period", "total", "status", "paid by", "paid at"], rows, page)


@property_group.command("contracts")
@page_options
@view_command
def contracts(limit: int, cursor: int, all_pages: bool, rpc_url: str, as_json: bool) -> None:
    """The property company's service contracts, newest first."""
    page = fetch_list(rpc_url, "property", "contracts", [], cursor=cursor, limit=limit, all_pages=all_pages)
    rows = [[d["id"], d["counterparty"], points(d["amount"]), time_text(d["start_time"]),
             time_text(d["end_time"]), d["doc_hash"]] for d in page.items if isinstance(d, dict)]
    list_out(as_json, "Service contracts", ["id", "counterparty", "amount", "from", "to", "document"],
             rows, page)


@property_group.command("arrears")
@click.argument("household", required=False)
@view_command
def arrears(household: str | None, rpc_url: str, as_json: bool) -> None:
    """Unpaid bills of HOUSEHOLD, or the totals over all households."""
    if household is None:
        doc = query(rpc_url, "property", "arrears_all", [])
        show(as_json, "Arrears, all households", doc)
        return
    address_arg(household, "HOUSEHOLD")
    show(as_json, f"Arrears of {who(household)}", query(rpc_url, "property", "arrears", [household]))


# --- the maintenance fund --------------------------------------------------------------


@property_group.command("fund")
@view_command
def fund(rpc_url: str, as_json: bool) -> None:
    """The maintenance fund's balance."""
    balance = query(rpc_url, "property", "fund", [])
    if as_json:
        print_json({"result": balance})
    else:
        print_pairs("Maintenance fund", [("balance", points(balance))])


@property_group.command("deposit")
@click.argument("amount", type=click.IntRange(1))
@tx_command
def deposit(amount: int, *, opts: TxOptions) -> None:
    """Pay AMOUNT points into the maintenance fund."""
    out = send(opts, "property", "deposit_fund", [amount])
    report(opts, out, "Deposited into the maintenance fund", [("fund balance", points(out.result))])


@property_group.command("propose-spend")
@click.option("--to", "to", required=True, metavar="ACCOUNT", help="Who is paid (address or contract).")
@click.option("--amount", required=True, type=click.IntRange(1))
@click.option("--title", required=True, help="A short title (1–200 characters).")
@click.option("--doc", default=None, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="A UTF-8 text file with the quote or plan (up to 256 KiB), for the owners to read.")
@click.option("--text", default=None, help="The quote or plan, typed here (instead of --doc).")
@tx_command
def propose_spend(to: str, amount: int, title: str, doc: Path | None, text: str | None, *,
                  opts: TxOptions) -> None:
    """Ask the owners to spend from the fund (an Article 278 item 5 vote)."""
    to = account_arg(to, "--to")
    title = title_arg(title, 200)
    body = read_body(doc, text, file_opt="--doc", text_opt="--text", max_bytes=DOC_MAX_BYTES)
    assert body is not None
    out = send(opts, "property", "propose_spend", [to, amount, title, publish(opts.rpc_url, body)])
    pid = pid_of(out)
    report(opts, out, f"Spend #{out.result} put to the owners' vote",
           [("proposal", pid), ("vote with", f"hkchain gov vote {pid} yes|no|abstain")])


@property_group.command("spend")
@click.argument("spend_id", type=click.IntRange(1))
@view_command
def spend(spend_id: int, rpc_url: str, as_json: bool) -> None:
    """A fund spend: amount, recipient, its proposal and status."""
    show(as_json, f"Spend #{spend_id}", query(rpc_url, "property", "spend", [spend_id]),
         ["to", "amount", "pid", "status"])


@property_group.command("release-spend")
@click.argument("spend_id", type=click.IntRange(1))
@tx_command
def release_spend(spend_id: int, *, opts: TxOptions) -> None:
    """Pay an approved spend (only if the owners passed it)."""
    out = send(opts, "property", "release_spend", [spend_id])
    report(opts, out, f"Spend #{spend_id} paid")


# --- contracts and ratings -------------------------------------------------------------


@property_group.command("register-contract")
@click.option("--doc", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="The signed contract: a file (text or scan, up to 10 MiB) stored on every node.")
@click.option("--counterparty", required=True, help="Who the contract is with (1–64 characters).")
@click.option("--start", required=True, metavar="TIME", help='When it starts: "2027-01-01" or "2027-01-01 09:00" (Shanghai time), or +30d.')
@click.option("--end", required=True, metavar="TIME", help="When it ends, in the same forms.")
@click.option("--amount", required=True, type=click.IntRange(0))
@tx_command
def register_contract(doc: Path, counterparty: str, start: str, end: str, amount: int, *,
                      opts: TxOptions) -> None:
    """Register a service contract by its hash (property company)."""
    counterparty = title_arg(counterparty, 64, "--counterparty")
    start_s, end_s = time_arg(start, "--start"), time_arg(end, "--end")
    if end_s <= start_s:
        raise click.BadParameter("the contract must end after it starts", param_hint="--end")
    body = file_body(doc, "--doc", FILE_MAX_BYTES, text=False)
    out = send(opts, "property", "register_contract",
               [publish(opts.rpc_url, body), counterparty, start_s, end_s, amount])
    report(opts, out, f"Service contract #{out.result} registered", [("counterparty", counterparty)])


@property_group.command("rate")
@click.option("--period", required=True)
@click.option("--score", required=True, type=click.IntRange(1, 5))
@tx_command
def rate(period: str, score: int, *, opts: TxOptions) -> None:
    """Rate the property company's service for PERIOD (households, 1–5)."""
    out = send(opts, "property", "rate", [period_arg(period), score])
    report(opts, out, "Rating recorded", [("period", period), ("score", score)])


@property_group.command("rating")
@click.option("--period", required=True)
@view_command
def rating(period: str, rpc_url: str, as_json: bool) -> None:
    """Residents' satisfaction with the property company for PERIOD."""
    doc = query(rpc_url, "property", "rating", [period])
    if not as_json and isinstance(doc, dict) and type(doc.get("average_x100")) is int:
        avg = doc["average_x100"]
        doc = {**doc, "average": f"{avg // 100}.{avg % 100:02d} / 5"}
    show(as_json, f"Satisfaction, {period}", doc, ["count", "average"])
