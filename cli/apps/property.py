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
    chain_clock,
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
from cli.apps.bulk import Call, read_table, send_many, write_table
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
@click.option("--household", required=True, metavar="ADDRESS",
              help="The household billed (its hk1… address).")
@click.option("--period", required=True, help='Billing period, e.g. "2027-01".')
@click.option("--extra", "extras", multiple=True, metavar="LABEL=AMOUNT",
              help="An extra line in points. Repeatable (at most 8).")
@tx_command
def issue_bill(household: str, period: str, extras: tuple[str, ...], *, opts: TxOptions) -> None:
    """Issue a household's bill for PERIOD from the schedule and its area (property company)."""
    address_arg(household, "--household")
    out = send(opts, "property", "issue_bill", [household, period_arg(period), [_extra(e) for e in extras]])
    report(opts, out, f"Bill #{out.result} issued", [("household", household), ("period", period)])


BILL_HOUSEHOLD_COLUMNS = {"address": ("地址", "账户地址", "household"), "unit": ("房号", "户号")}


@property_group.command("issue-bills")
@click.option("--period", required=True, help='The month billed, YYYY-MM, e.g. "2027-01".')
@click.option("--households", "households_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A CSV with an address (地址) column, e.g. the report of `households import`; "
                   "default: every household of the committee's register that is on chain.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              default=None, help="Write what was done, household by household, as CSV (- for stdout).")
@click.option("--store", "store_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The committee's register (default: $HKCHAIN_PRIVACY_STORE or localnet/node0/data/privacy).")
@tx_command
def issue_bills(period: str, households_file: Path | None, report_file: Path | None, store_dir: Path | None, *,
                opts: TxOptions) -> None:
    """Bill every household for PERIOD from the schedule (property company). Households
    already billed for the period are skipped, so a re-run issues only what is missing."""
    period = period_arg(period)
    if households_file is not None:
        listed = read_table(households_file, BILL_HOUSEHOLD_COLUMNS, ["address"], other_columns=True)
        addresses = [address_arg(r["address"], "address") for r in listed]
    else:
        from cli.apps.households import default_store
        from privacy.register import PrivacyStore

        addresses = sorted({r.household for r in PrivacyStore(store_dir or default_store()).records()})
    if query(opts.rpc_url, "property", "schedule", []) is None:
        raise click.ClickException("no fee schedule is published: `hkchain property set-schedule` first")
    status: dict[str, list[Any]] = {}
    todo = []
    for a in dict.fromkeys(addresses):
        rec = query(opts.rpc_url, "households", "record", [a])
        if not isinstance(rec, dict):
            status[a] = ["", a, "skipped: not a registered household", "", "", ""]
            continue
        have = query(opts.rpc_url, "property", "bills", [a, "", period, 0, 1])
        items = have.get("items") if isinstance(have, dict) else None
        if items:
            b = items[0]
            status[a] = [rec.get("unit"), a, "already billed", b.get("id"), b.get("total"), ""]
            continue
        status[a] = [rec.get("unit"), a, "", "", "", ""]
        todo.append(a)
    done = send_many(opts, [Call("property", "issue_bill", [a, period, []]) for a in todo],
                     f"bills for {period}")
    for a, o in zip(todo, done, strict=True):
        row = status[a]
        if o.ok:
            total = next((e.get("fields", {}).get("total") for e in o.events if e.get("name") == "BillIssued"), "")
            row[2:] = ["issued", o.result, total, o.tx_hash]
        else:
            row[2:] = [f"error: {o.error}", "", "", o.tx_hash]
    rows = [status[a] for a in dict.fromkeys(addresses)]
    header = ["unit", "household", "status", "bill", "total", "tx"]
    if report_file is not None:
        write_table(report_file, header, rows)
    issued = sum(1 for r in rows if r[2] == "issued")
    already = sum(1 for r in rows if r[2] == "already billed")
    failed = sum(1 for r in rows if str(r[2]).startswith("error"))
    if opts.as_json:
        print_json({"period": period, "issued": issued, "already": already, "errors": failed,
                    "rows": [dict(zip(header, r, strict=True)) for r in rows]})
    else:
        table(False, f"Bills for {period}", header[:5], [r[:5] for r in rows])
        click.echo(f"issued {issued}, already billed {already}, errors {failed}, "
                   f"skipped {len(rows) - issued - already - failed}")
    if failed:
        raise click.ClickException(f"{failed} bill(s) not issued; see the status column")


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
    list_out(as_json, title, ["bill", "household", "period", "total", "status", "paid by", "paid at"], rows, page, rpc_url=rpc_url)


@property_group.command("contracts")
@page_options
@view_command
def contracts(limit: int, cursor: int, all_pages: bool, rpc_url: str, as_json: bool) -> None:
    """The property company's service contracts, newest first."""
    page = fetch_list(rpc_url, "property", "contracts", [], cursor=cursor, limit=limit, all_pages=all_pages)
    rows = [[d["id"], d["counterparty"], points(d["amount"]), time_text(d["start_time"]),
             time_text(d["end_time"]), d["doc_hash"]] for d in page.items if isinstance(d, dict)]
    list_out(as_json, "Service contracts", ["id", "counterparty", "amount", "from", "to", "document"],
             rows, page, rpc_url=rpc_url)


ARREARS_HEADER = ["房号", "地址", "未缴账单数", "欠费合计(积分)", "最早账期", "0-30天", "31-60天", "61-90天",
                  "90天以上", "账单号"]
AGE_LIMITS_DAYS = (30, 60, 90)


def arrears_rows(rpc_url: str) -> list[list[Any]]:
    """One row per household with unpaid bills: unit, address, count, total, the oldest
    period, the amounts by age (days since the bill was issued, at the head block's time)
    and the bill ids. Sorted by unit."""
    page = fetch_list(rpc_url, "property", "bills", ["", "unpaid", ""], all_pages=True)
    now_s = chain_clock(rpc_url).head_time_ms // 1000
    by_household: dict[str, list[dict[str, Any]]] = {}
    for b in page.items:
        if isinstance(b, dict):
            by_household.setdefault(str(b["household"]), []).append(b)
    rows = []
    for household, bills in by_household.items():
        rec = query(rpc_url, "households", "record", [household])
        unit = rec.get("unit") if isinstance(rec, dict) else ""
        ages = [0, 0, 0, 0]
        for b in bills:
            days = max(0, now_s - int(b.get("issued_at") or now_s)) // 86400
            bucket = next((i for i, limit in enumerate(AGE_LIMITS_DAYS) if days <= limit), 3)
            ages[bucket] += int(b["total"])
        bills.sort(key=lambda b: (str(b["period"]), int(b["id"])))
        rows.append([unit, household, len(bills), sum(int(b["total"]) for b in bills), bills[0]["period"],
                     *ages, " ".join(str(b["id"]) for b in bills)])
    rows.sort(key=lambda r: (str(r[0]), str(r[1])))
    return rows


@property_group.command("arrears")
@click.argument("household", required=False)
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=None,
              help="Export the arrears of every household as CSV (- for stdout): unit, address, "
                   "unpaid bills, total, oldest period, amounts by age (0-30, 31-60, 61-90, 90+ days).")
@view_command
def arrears(household: str | None, csv_file: Path | None, rpc_url: str, as_json: bool) -> None:
    """Unpaid bills of HOUSEHOLD, or per household with their age (--csv to export)."""
    if household is None:
        rows = arrears_rows(rpc_url)
        if csv_file is not None:
            write_table(csv_file, ARREARS_HEADER, rows)
            if str(csv_file) != "-":
                click.echo(f"{len(rows)} households in arrears, {sum(r[3] for r in rows)} points in all, "
                           f"written to {csv_file}", err=True)
            return
        if as_json:
            print_json({"result": [dict(zip(["unit", "household", "bills", "total", "oldest_period",
                                             "age_0_30", "age_31_60", "age_61_90", "age_over_90", "bill_ids"],
                                            r, strict=True)) for r in rows]})
            return
        table(False, "Arrears by household (points; age since the bill was issued)",
              ["unit", "household", "bills", "total", "oldest", "0-30 d", "31-60 d", "61-90 d", "90+ d"],
              [r[:9] for r in rows])
        click.echo(f"{len(rows)} households, {sum(r[2] for r in rows)} bills, {sum(r[3] for r in rows)} points")
        return
    if csv_file is not None:
        raise click.UsageError("--csv exports every household: leave out HOUSEHOLD")
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
@click.option("--amount", required=True, type=click.IntRange(1),
              help="Points to pay from the maintenance fund if the owners agree.")
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
@click.option("--amount", required=True, type=click.IntRange(0),
              help="The contract's value in points (0 if not paid in points).")
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
@click.option("--period", required=True, help='The month rated, YYYY-MM, e.g. "2027-01".')
@click.option("--score", required=True, type=click.IntRange(1, 5),
              help="1 (poor) to 5 (excellent); rating again replaces your score.")
@tx_command
def rate(period: str, score: int, *, opts: TxOptions) -> None:
    """Rate the property company's service for PERIOD (households, 1–5)."""
    out = send(opts, "property", "rate", [period_arg(period), score])
    report(opts, out, "Rating recorded", [("period", period), ("score", score)])


@property_group.command("rating")
@click.option("--period", required=True, help='The month, YYYY-MM, e.g. "2027-01".')
@view_command
def rating(period: str, rpc_url: str, as_json: bool) -> None:
    """Residents' satisfaction with the property company for PERIOD."""
    doc = query(rpc_url, "property", "rating", [period])
    if not as_json and isinstance(doc, dict) and type(doc.get("average_x100")) is int:
        avg = doc["average_x100"]
        doc = {**doc, "average": f"{avg // 100}.{avg % 100:02d} / 5"}
    show(as_json, f"Satisfaction, {period}", doc, ["count", "average"])
