"""`hkchain culture …`: works (calligraphy, photos, writing) kept by content hash on every
node, with likes that reward the creator (capped per day) and comments.

``upload`` sends the file to a node's blob store (``POST /v1/blobs``), then registers its
SHA-256 on chain; every validator fetches the file from its peers. ``get`` downloads a
work from any node and checks its hash before writing it.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.apps.base import (
    TxOptions,
    address_arg,
    display,
    fetch_list,
    hash_arg,
    list_out,
    page_options,
    points,
    query,
    report,
    send,
    show,
    tx_command,
    view_command,
    who,
)
from cli.apps.content import (
    MAX_UPLOAD_BYTES,
    SHORT_MAX_BYTES,
    download_blob,
    publish,
    text_body,
    upload_blob,
)
from cli.common import print_json, print_pairs
from cli.wallet import NodeUnreachable, RpcError, run
from core.fields import is_decimal

KINDS = ("calligraphy", "photography", "writing")
@click.group("culture")
def culture() -> None:
    """Culture works by content hash, likes (rewarded, capped per day), comments."""


@culture.command("upload")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", required=True, help="The work's title (1–100 characters).")
@click.option("--kind", required=True, type=click.Choice(KINDS), help="Calligraphy, photography or writing.")
@tx_command
def upload(file: Path, title: str, kind: str, *, opts: TxOptions) -> None:
    """Upload FILE to the node and register it as your work (residents)."""
    size = file.stat().st_size
    if not 0 < size <= MAX_UPLOAD_BYTES:
        raise click.BadParameter(f"a work is 1 byte to {MAX_UPLOAD_BYTES} bytes", param_hint="FILE")
    data = file.read_bytes()
    h = run(upload_blob(opts.rpc_url, data))
    out = send(opts, "culture", "register_work", [bytes.fromhex(h), title, kind, size])
    report(opts, out, f"Work #{out.result} registered",
           [("title", title), ("kind", kind), ("size", f"{size} bytes"), ("content hash", h),
            ("fetch from any node", f"hkchain culture get {out.result} --out FILE")])


@culture.command("get")
@click.argument("work")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Where to write it; - writes to standard output.")
@click.option("--rpc", "rpc_url", default=None, metavar="URL", help="The node to download from.")
def get(work: str, out_file: Path, rpc_url: str | None) -> None:
    """Download WORK (its id or content hash) from a node, checked against its hash."""
    from cli.common import default_rpc_url

    url = rpc_url or default_rpc_url()
    try:
        if is_decimal(work):
            doc = query(url, "culture", "work", [int(work)])
            if not isinstance(doc, dict):
                raise click.ClickException(f"no work #{work}")
            content_hash = str(doc["content_hash"]).removeprefix("0x")
        else:
            content_hash = hash_arg(work, "WORK").hex()
        data = run(download_blob(url, content_hash))
    except (NodeUnreachable, RpcError) as exc:
        raise click.ClickException(f"{exc.message} [{exc.code}]") from exc
    if str(out_file) == "-":
        click.echo(data, nl=False)  # bytes go to the binary stdout as they are
        click.echo(f"{len(data)} bytes, sha256 {content_hash} verified", err=True)
        return
    out_file.write_bytes(data)
    click.echo(f"{len(data)} bytes, sha256 {content_hash} verified, written to {out_file}")


@culture.command("work")
@click.argument("work_id", type=click.IntRange(1))
@view_command
def work(work_id: int, rpc_url: str, as_json: bool) -> None:
    """One work: title, creator, content hash, likes."""
    doc = query(rpc_url, "culture", "work", [work_id])
    if isinstance(doc, dict) and not as_json:
        doc = {k: display(k, v) for k, v in doc.items()}
    show(as_json, f"Work #{work_id}", doc,
         ["id", "title", "kind", "creator", "likes", "comments", "content_hash", "size_bytes"])


@culture.command("works")
@click.option("--creator", default="", metavar="ADDRESS", help="Only this resident's works.")
@page_options
@view_command
def works(creator: str, limit: int, cursor: int, all_pages: bool, rpc_url: str, as_json: bool) -> None:
    """Works, newest first."""
    if creator:
        address_arg(creator, "--creator")
    page = fetch_list(rpc_url, "culture", "works", [creator], cursor=cursor, limit=limit, all_pages=all_pages)
    rows = [[d["id"], d["title"], d["kind"], d["creator"], d["likes"], d["content_hash"]]
            for d in page.items if isinstance(d, dict)]
    list_out(as_json, "Works", ["id", "title", "kind", "creator", "likes", "hash"], rows, page, rpc_url=rpc_url)


@culture.command("like")
@click.argument("work_id", type=click.IntRange(1))
@tx_command
def like(work_id: int, *, opts: TxOptions) -> None:
    """Like a work (residents, once per work); its creator earns points up to a daily cap."""
    out = send(opts, "culture", "like", [work_id])
    report(opts, out, f"Liked work #{work_id}", [("creator earned", points(out.result))])


@culture.command("comment")
@click.argument("work_id", type=click.IntRange(1))
@click.option("--text", required=True, help="The comment (up to 4 KiB of text).")
@tx_command
def comment(work_id: int, text: str, *, opts: TxOptions) -> None:
    """Comment on a work (residents); every node keeps the text, the chain its hash."""

    out = send(opts, "culture", "comment", [work_id, publish(opts.rpc_url, text_body(text, "--text", SHORT_MAX_BYTES))])
    report(opts, out, f"Comment on work #{work_id}", [("comments", out.result)])


@culture.command("earned")
@click.argument("address")
@click.option("--day", default=None, metavar="DATE",
              help='A date, e.g. "2026-12-20" (the chain day that starts at 08:00 Shanghai time that '
                   "day); default: now.")
@view_command
def earned(address: str, day: str | None, rpc_url: str, as_json: bool) -> None:
    """Points ADDRESS earned from likes on a day, against the daily caps."""
    from cli.localtime import day_text, parse_local

    address_arg(address, "ADDRESS")
    when = parse_local(day + " 12:00" if day and len(day.strip()) == 10 else (day or "+0s"), what="--day")
    d = when // 86400
    got = query(rpc_url, "culture", "earned", [address, d])
    given = query(rpc_url, "culture", "given", [address, d])
    params = query(rpc_url, "culture", "params", []) or {}
    if as_json:
        print_json({"result": {"earned": got, "given": given, "day": d, "daily_cap": params.get("daily_cap"),
                               "liker_daily_cap": params.get("liker_daily_cap")}})
        return
    print_pairs(f"Like rewards of {who(address)}", [
        ("address", address), ("chain day", day_text(d)), ("earned from likes", points(got)),
        ("creator's daily cap", points(params.get("daily_cap"))),
        ("earned for others by its likes", points(given)),
        ("liker's daily cap", points(params.get("liker_daily_cap")))])
