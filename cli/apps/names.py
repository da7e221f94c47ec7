"""`hkchain names …`: public display names residents, providers and merchants choose for
themselves (the `names` contract), shown in lists beside their short addresses."""

from __future__ import annotations

import click

from cli.apps.base import (
    TxOptions,
    address_arg,
    query,
    report,
    send,
    show,
    title_arg,
    tx_command,
    view_command,
)

MAX_NAME_CHARS = 32


@click.group("names")
def names() -> None:
    """Public display names (chosen by their holders; not personal data)."""


@names.command("set")
@click.argument("name")
@tx_command
def set_name(name: str, *, opts: TxOptions) -> None:
    """Publish NAME as your display name, e.g. 王阿姨 or 老张修理铺 (1–32 characters)."""
    name = title_arg(name, MAX_NAME_CHARS, "NAME")
    if any(c in name for c in "\n\r\t"):
        raise click.BadParameter("one line, no tabs", param_hint="NAME")
    report(opts, send(opts, "names", "set_name", [name]), "Display name set", [("name", name)])


@names.command("clear")
@click.argument("address")
@tx_command
def clear_name(address: str, *, opts: TxOptions) -> None:
    """Remove the display name of ADDRESS (your own, or a misleading one as committee)."""
    address_arg(address, "ADDRESS")
    report(opts, send(opts, "names", "clear_name", [address]), "Display name cleared", [("address", address)])


@names.command("show")
@click.argument("address")
@view_command
def show_name(address: str, rpc_url: str, as_json: bool) -> None:
    """The display name of ADDRESS."""
    address_arg(address, "ADDRESS")
    show(as_json, "Display name", {"address": address, "name": query(rpc_url, "names", "name_of", [address])},
         ["name", "address"])
