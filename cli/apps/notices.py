"""`hkchain notices …`: announcements of the committee and the property company. The text
is a blob kept by every node (by its hash); the chain records the hash and who read it."""

from __future__ import annotations

from pathlib import Path

import click

from cli.apps.base import (
    TxOptions,
    display,
    fetch_list,
    list_out,
    page_options,
    query,
    report,
    send,
    show,
    tx_command,
    view_command,
)
from cli.apps.culture import MAX_UPLOAD_BYTES, upload_blob
from cli.wallet import run


@click.group("notices")
def notices() -> None:
    """Announcements by hash, read acknowledgements."""


@notices.command("post")
@click.option("--title", required=True)
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The announcement's full text or scan (uploaded to the node).")
@click.option("--text", default=None, help="The announcement's text (instead of --file).")
@tx_command
def post(title: str, file: Path | None, text: str | None, *, opts: TxOptions) -> None:
    """Post an announcement (committee or property company)."""
    if (file is None) == (text is None):
        raise click.UsageError("give exactly one of --file and --text")
    data = file.read_bytes() if file is not None else (text or "").encode()
    if not 0 < len(data) <= MAX_UPLOAD_BYTES:
        raise click.BadParameter(f"1 to {MAX_UPLOAD_BYTES} bytes", param_hint="--file/--text")
    h = run(upload_blob(opts.rpc_url, data))
    out = send(opts, "notices", "post", [title, bytes.fromhex(h)])
    report(opts, out, f"Notice #{out.result} posted", [("title", title), ("content hash", h)])


@notices.command("ack")
@click.argument("notice_id", type=click.IntRange(1))
@tx_command
def ack(notice_id: int, *, opts: TxOptions) -> None:
    """Acknowledge that you read a notice (residents, once)."""
    out = send(opts, "notices", "acknowledge", [notice_id])
    report(opts, out, f"Notice #{notice_id} acknowledged", [("read by", out.result)])


@notices.command("show")
@click.argument("notice_id", type=click.IntRange(1))
@view_command
def show_notice(notice_id: int, rpc_url: str, as_json: bool) -> None:
    """One notice (fetch its text with `hkchain culture get HASH --out FILE`)."""
    doc = query(rpc_url, "notices", "notice", [notice_id])
    if isinstance(doc, dict) and not as_json:
        doc = {k: display(k, v) for k, v in doc.items()}
    show(as_json, f"Notice #{notice_id}", doc, ["id", "title", "by", "at", "acks", "content_hash"])


@notices.command("list")
@click.option("--kind", type=click.Choice(["notice", "news", "all"]), default="all", show_default=True,
              help="Announcements, community news, or both.")
@page_options
@view_command
def list_notices(kind: str, limit: int, cursor: int, all_pages: bool, rpc_url: str, as_json: bool) -> None:
    """Notices and news, newest first."""
    page = fetch_list(rpc_url, "notices", "notices", ["" if kind == "all" else kind],
                      cursor=cursor, limit=limit, all_pages=all_pages)
    rows = [[d["id"], d.get("kind", "notice"), d["title"], d["by"], display("at", d["at"]), d["acks"]]
            for d in page.items if isinstance(d, dict)]
    list_out(as_json, "Notices", ["id", "kind", "title", "by", "posted", "read by"], rows, page)
