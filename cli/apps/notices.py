"""`hkchain notices …`: announcements and community news of the committee and the property
company. The text is a blob kept by every node (by its hash); the chain records the hash
and who read it."""

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
    title_arg,
    tx_command,
    view_command,
)
from cli.apps.content import DOC_MAX_BYTES, fetch_text, publish, read_body
from cli.common import print_json

MAX_NOTICE_TITLE = 100


@click.group("notices")
def notices() -> None:
    """Announcements and community news, with their text; read acknowledgements."""


@notices.command("post")
@click.option("--title", required=True, help="A short title (1–100 characters).")
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A UTF-8 text file with the full text (up to 256 KiB), stored on every node.")
@click.option("--text", default=None, help="The full text, typed here (instead of --file).")
@click.option("--kind", type=click.Choice(["notice", "news"]), default="notice", show_default=True,
              help="An announcement, or community news.")
@tx_command
def post(title: str, file: Path | None, text: str | None, kind: str, *, opts: TxOptions) -> None:
    """Post an announcement or community news (committee or property company)."""
    title = title_arg(title, MAX_NOTICE_TITLE)
    body = read_body(file, text, file_opt="--file", text_opt="--text", max_bytes=DOC_MAX_BYTES)
    assert body is not None
    h = publish(opts.rpc_url, body)
    out = send(opts, "notices", "publish", [kind, title, h])
    report(opts, out, f"{'News' if kind == 'news' else 'Notice'} #{out.result} posted",
           [("title", title), ("content hash", h.hex())])


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
    """One notice with its text (checked against the hash on chain)."""
    doc = query(rpc_url, "notices", "notice", [notice_id])
    body = fetch_text(rpc_url, doc.get("content_hash")) if isinstance(doc, dict) else None
    if as_json:
        print_json({"result": doc, "text": body.text if body else None})
        return
    if isinstance(doc, dict) and body is not None:
        doc = {**{k: display(k, v) for k, v in doc.items()}, "text": body.shown(),
               "kind": doc.get("kind", "notice")}
    show(False, f"Notice #{notice_id}", doc, ["id", "kind", "title", "text", "by", "at", "acks", "content_hash"])


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
    list_out(as_json, "Notices", ["id", "kind", "title", "by", "posted", "read by"], rows, page, rpc_url=rpc_url)
