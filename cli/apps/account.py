"""`hkchain account …`: a resident's own account: balance and the statement of points in
and out, fees and bills paid (``GET /v1/accounts/{address}/statement``), in local time."""

from __future__ import annotations

from typing import Any

import click

from cli.apps.base import address_arg, points, time_text, view_command, who
from cli.common import load_key, print_json, print_pairs, print_table
from cli.wallet import RpcClient, run
from core.errors import ChainError

MAX_STATEMENT_ITEMS = 10_000


@click.group("account")
def account() -> None:
    """Your account: balance and statement (points in and out, fees, bills paid)."""


def _address(address: str | None, key_file: str | None) -> str:
    if address:
        return address_arg(address, "ADDRESS")
    if not key_file:
        raise click.UsageError("give ADDRESS, or --key (or $HKCHAIN_KEY) for your own account")
    return load_key(key_file).address


@account.command("statement")
@click.argument("address", required=False)
@click.option("--key", "key_file", envvar="HKCHAIN_KEY", default=None, metavar="FILE",
              help="Your key, when ADDRESS is not given.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="How many entries to show.")
@click.option("--cursor", default="", metavar="HEIGHT.INDEX",
              help="Continue after the 'more:' line of the previous page.")
@click.option("--all", "all_pages", is_flag=True, help="Every entry (at most 10,000).")
@view_command
def statement(address: str | None, key_file: str | None, limit: int, cursor: str, all_pages: bool,
              rpc_url: str, as_json: bool) -> None:
    """The statement of ADDRESS, newest first: points in and out, fees and bills paid."""
    addr = _address(address, key_file)

    async def go() -> tuple[list[dict[str, Any]], str, dict[str, Any], Any]:
        items: list[dict[str, Any]] = []
        at = cursor
        async with RpcClient(rpc_url) as rpc:
            acct = await rpc.account(addr)
            history_from = None
            while True:
                want = 100 if all_pages else min(100, limit - len(items))
                doc = await rpc.statement(addr, at, want)
                items.extend(e for e in doc.get("items", []) if isinstance(e, dict))
                history_from = doc.get("history_from")
                at = str(doc.get("next") or "")
                if not at or len(items) >= MAX_STATEMENT_ITEMS or (not all_pages and len(items) >= limit):
                    return items, at, acct, history_from

    try:
        items, nxt, acct, history_from = run(go())
    except ChainError as exc:
        raise click.ClickException(f"statement of {addr}: {exc.message} [{exc.code}]") from exc
    if as_json:
        print_json({"address": addr, "balance": acct.get("balance"), "items": items, "next": nxt,
                    "history_from": history_from})
        return
    rows = []
    for e in items:
        what = f"{e.get('contract')}.{e.get('method')}"
        bill = e.get("bill")
        if isinstance(bill, dict):
            what += f" (bill #{bill.get('id')})"
        if e.get("status") != 0:
            what += " — failed"
        rows.append([time_text(int(e.get("time_ms", 0)) // 1000), e.get("height"), what,
                     _signed(int(e.get("points_in", 0)) - int(e.get("points_out", 0))),
                     e.get("fee") or "-", str(e.get("tx_hash", ""))[:12] + "…"])
    print_table(f"Statement of {who(addr)}", ["time", "block", "what", "points", "fee", "tx"], rows)
    total_in = sum(int(e.get("points_in", 0)) for e in items)
    total_out = sum(int(e.get("points_out", 0)) for e in items)
    fees = sum(int(e.get("fee", 0)) for e in items)
    bills = sum(1 for e in items if isinstance(e.get("bill"), dict))
    print_pairs("Totals of these entries", [
        ("points in", points(total_in)), ("points out", points(total_out)), ("fees paid", points(fees)),
        ("bills paid", bills), ("balance now", points(acct.get("balance"))),
    ])
    if nxt:
        click.echo(f"more: --cursor {nxt}")
    if isinstance(history_from, int) and history_from > 0:
        click.echo(f"(this node's history starts at block {history_from})")


def _signed(n: int) -> str:
    return f"+{n}" if n > 0 else str(n) if n < 0 else "0"
