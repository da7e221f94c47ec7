"""A clerk's month in a few commands: many calls from one CSV, signed and sent in batches.

``send_many`` signs a list of calls with one key, dry-runs the first to show the fee
(and asks at a terminal unless --yes), submits them in batches the mempool accepts
(``BATCH_TXS``, below the nonce window), waits for each batch to commit with a progress
bar on stderr, and returns one outcome per call. The commands built on it (``households
import``, ``property issue-bills``) check every row before signing anything, skip what
is already done on chain (so a re-run after an interruption does only the rest), and
write a CSV report of what was done. ``read_table`` reads the clerk's CSV with Chinese
or English headers (UTF-8, with or without BOM, as Excel saves it).
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from cli.client import TxOptions, fee_text
from cli.common import console, load_key
from cli.wallet import DryRunRefused, RpcClient, TxTimeout, Wallet, run
from core.codec import Value
from core.errors import ChainError

BATCH_TXS = 50  # below the mempool's window of 64 nonces ahead of the account
MAX_ROWS = 20_000
MAX_CSV_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Call:
    contract: str
    method: str
    args: Sequence[Value]


@dataclass
class Outcome:
    tx_hash: str = ""
    ok: bool = False
    result: Any = None
    error: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)


def send_many(opts: TxOptions, calls: Sequence[Call], what: str) -> list[Outcome]:
    """Send ``calls`` signed by the --key; one Outcome per call, in order."""
    if not calls:
        return []
    key = load_key(opts.key_file)

    async def go() -> list[Outcome]:
        out = [Outcome() for _ in calls]
        async with RpcClient(opts.rpc_url) as rpc:
            wallet = Wallet(key, rpc, max_fee=opts.max_fee, gas_limit=opts.gas_limit,
                            expiry_margin=opts.expiry_margin)
            await wallet.sync()
            first = calls[0]
            try:
                receipt = (await rpc.simulate(wallet.build(first.contract, first.method, first.args)))["receipt"]
            finally:
                await wallet.sync()  # the dry run's nonce was not used
            if receipt.get("status") != 0:
                raise DryRunRefused(f"not sent, no fee paid: the first call would fail: "
                                    f"{receipt.get('error_message')}", code=str(receipt.get("error_code")),
                                    fee=int(receipt.get("fee", 0)))
            fee = int(receipt.get("fee", 0))
            click.echo(f"{len(calls)} txs to send ({what}); each about {fee_text(receipt)}; "
                       f"about {fee * len(calls)} points in all", err=True)
            if not opts.assume_yes and sys.stdin.isatty() and not click.confirm("Send them?", default=True,
                                                                                  err=True):
                raise click.ClickException("nothing sent; no fee paid")
            progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                console=console_err(), transient=False, disable=opts.as_json)
            with progress:
                task = progress.add_task(what, total=len(calls))
                for start in range(0, len(calls), BATCH_TXS):
                    chunk = list(range(start, min(len(calls), start + BATCH_TXS)))
                    await wallet.sync()
                    signed = [wallet.build(calls[i].contract, calls[i].method, calls[i].args) for i in chunk]
                    results = await rpc.submit_batch(signed)
                    for i, stx, res in zip(chunk, signed, results, strict=True):
                        out[i].tx_hash = stx.hash.hex()
                        if not res.accepted:
                            out[i].error = f"refused by the node: {res.error_message} [{res.error_code}]"
                    for i in chunk:
                        if out[i].error:
                            progress.advance(task)
                            continue
                        try:
                            doc = await rpc.wait_tx(out[i].tx_hash, timeout_ms=max(opts.wait_ms, 30_000))
                        except TxTimeout as exc:
                            out[i].error = f"not committed in time: {exc.message}"
                        else:
                            rec = doc.get("receipt") or {}
                            if rec.get("status") == 0:
                                out[i].ok, out[i].result = True, rec.get("result")
                                out[i].events = list(rec.get("events") or [])
                            else:
                                out[i].error = f"{rec.get('error_message')} [{rec.get('error_code')}]"
                        progress.advance(task)
        return out

    try:
        return run(go())
    except ChainError as exc:
        raise click.ClickException(f"{what}: {exc.message} [{exc.code}]") from exc


def console_err() -> Any:
    c = console()
    c.stderr = True
    return c


# --- CSV in and out ---------------------------------------------------------------------


def read_table(path: Path, columns: dict[str, tuple[str, ...]], required: Sequence[str], *,
               other_columns: bool = False) -> list[dict[str, str]]:
    """Rows of a CSV as {column: text}, the header matched against ``columns`` (name ->
    accepted header spellings, Chinese and English). A missing required column, an
    unknown header (unless ``other_columns``: then ignored) or a file too large is a
    usage error naming it."""
    if not path.is_file():
        raise click.BadParameter(f"no such file: {path}", param_hint="FILE")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise click.BadParameter(f"{path} is larger than {MAX_CSV_BYTES} bytes", param_hint="FILE")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise click.BadParameter(f"{path} is not UTF-8 (save it as 'CSV UTF-8')", param_hint="FILE") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise click.BadParameter(f"{path} is empty", param_hint="FILE")
    spelling = {s.strip().lower(): name for name, spellings in columns.items() for s in (name, *spellings)}
    names = []
    for h in header:
        key = spelling.get(h.strip().lower())
        if key is None and other_columns:
            key = "_other"
        if key is None:
            raise click.BadParameter(f"unknown column {h!r}; the columns are: "
                                     + ", ".join(f"{n} ({'/'.join(s)})" for n, s in columns.items()),
                                     param_hint="FILE")
        names.append(key)
    missing = [c for c in required if c not in names]
    if missing:
        raise click.BadParameter(f"missing column(s): {', '.join(missing)}", param_hint="FILE")
    rows = []
    for line_no, raw in enumerate(reader, start=2):
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) != len(names):
            raise click.BadParameter(f"line {line_no}: {len(raw)} cells, the header has {len(names)}",
                                     param_hint="FILE")
        rows.append({n: cell.strip() for n, cell in zip(names, raw, strict=True) if n != "_other"}
                    | {"_line": str(line_no)})
        if len(rows) > MAX_ROWS:
            raise click.BadParameter(f"more than {MAX_ROWS} rows", param_hint="FILE")
    return rows


def write_table(path: Path | None, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A CSV report (UTF-8 with BOM, so Excel shows Chinese); ``None`` or "-": stdout."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    if path is None or str(path) == "-":
        click.echo(buf.getvalue(), nl=False)
        return
    path.write_text("\ufeff" + buf.getvalue(), encoding="utf-8")
