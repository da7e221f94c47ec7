"""`hkchain merchants …`: local merchants' listings, payments in points (a platform fee
goes to the treasury) and paid promotion."""

from __future__ import annotations

import click

from cli.apps.base import (
    TxOptions,
    address_arg,
    display,
    points,
    query,
    report,
    send,
    show,
    table,
    tx_command,
    view_command,
    who,
)


@click.group("merchants")
def merchants() -> None:
    """Merchant listings, payments in points, featured listings."""


@merchants.command("register")
@click.option("--name", required=True, help="The shop's name as residents see it (1–64 characters).")
@click.option("--category", required=True, help="e.g. grocery, bakery, repair.")
@tx_command
def register(name: str, category: str, *, opts: TxOptions) -> None:
    """List your shop (merchants; again to update)."""
    out = send(opts, "merchants", "register", [name, category])
    report(opts, out, "Merchant listed", [("name", name), ("category", category)])


@merchants.command("pay")
@click.argument("merchant")
@click.option("--amount", required=True, type=click.IntRange(1),
              help="Points to pay (a 1 % platform fee, rounded up, goes to the treasury).")
@click.option("--order-ref", required=True, help="The merchant's order number (unique per merchant).")
@tx_command
def pay(merchant: str, amount: int, order_ref: str, *, opts: TxOptions) -> None:
    """Pay MERCHANT in points; the platform fee goes to the community treasury."""
    address_arg(merchant, "MERCHANT")
    out = send(opts, "merchants", "purchase", [merchant, amount, order_ref])
    report(opts, out, f"Paid {points(amount)}", [("merchant", merchant), ("platform fee", points(out.result))])


@merchants.command("promote")
@click.option("--days", required=True, type=click.IntRange(1, 90),
              help="How many days to be featured (the fee is per day, to the treasury).")
@tx_command
def promote(days: int, *, opts: TxOptions) -> None:
    """Feature your listing for DAYS (paid to the treasury)."""
    out = send(opts, "merchants", "promote", [days])
    report(opts, out, "Listing featured", [("until", display("featured_until", out.result))])


@merchants.command("show")
@click.argument("address")
@view_command
def show_merchant(address: str, rpc_url: str, as_json: bool) -> None:
    """A merchant's listing."""
    address_arg(address, "ADDRESS")
    doc = query(rpc_url, "merchants", "listing", [address])
    if isinstance(doc, dict) and not as_json:
        doc = {k: display(k, v) for k, v in doc.items()}
    show(as_json, f"Merchant {who(address)}", {**doc, "address": address} if isinstance(doc, dict) else doc, ["name", "category", "featured_until", "sales"])


@merchants.command("list")
@click.option("--featured", is_flag=True, help="Only listings featured now.")
@view_command
def list_merchants(featured: bool, rpc_url: str, as_json: bool) -> None:
    """Every merchant (or the featured ones)."""
    addresses = query(rpc_url, "merchants", "featured" if featured else "merchants_all", []) or []
    docs = [query(rpc_url, "merchants", "listing", [a]) for a in addresses]
    rows = [[a, d.get("name"), d.get("category"), d.get("sales"), display("featured_until", d.get("featured_until"))]
            for a, d in zip(addresses, docs, strict=True) if isinstance(d, dict)]
    table(as_json, "Featured merchants" if featured else "Merchants",
          ["merchant", "name", "category", "sales", "featured until"], rows, raw=docs)


@merchants.command("payment")
@click.argument("merchant")
@click.argument("order_ref")
@view_command
def payment(merchant: str, order_ref: str, rpc_url: str, as_json: bool) -> None:
    """A payment by its order reference."""
    address_arg(merchant, "MERCHANT")
    doc = query(rpc_url, "merchants", "payment", [merchant, order_ref])
    if isinstance(doc, dict) and not as_json:
        doc = {k: display(k, v) for k, v in doc.items()}
    show(as_json, f"Payment {order_ref} to {who(merchant)}", doc, ["payer", "amount", "fee", "at"])
