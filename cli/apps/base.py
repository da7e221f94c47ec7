"""What the application commands share: options, sending a call and reading a view,
parsing the domain's argument forms, and printing results as tables.

A signing command sends one contract call through cli/wallet.py, waits for its commit and
prints the outcome; a refused call (a contract error, e.g. ``not_allowed``) is one line
on stderr naming the code and the contract's message, exit status 1. A view command makes
one read-only ``POST /v1/query`` call. ``--json`` prints what the node answered.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.client import TxOptions as TxOptions  # re-exported for the app modules
from cli.client import show_dry_run, tx_options
from cli.common import (
    console,
    format_value,
    json_option,
    load_key,
    print_json,
    print_pairs,
    print_table,
    rpc_option,
)
from cli.localtime import RATE_WINDOW_BLOCKS, ChainClock, local_text, parse_local
from cli.wallet import RpcClient, Wallet, run
from core.codec import Value
from core.crypto import parse_address
from core.errors import AddressError, ChainError

F = TypeVar("F", bound=Callable[..., Any])

MAX_DOC_FILE_BYTES = 64 * 1024 * 1024


def _errors_as_one_line(f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except ChainError as exc:
            raise click.ClickException(f"{exc.message} [{exc.code}]") from exc

    return wrapper


def tx_command(f: F) -> F:
    """The options of a command that signs one call (cli/client.py's: --rpc --key
    --gas-limit --max-fee --expiry --wait-ms --json), handed over as ``opts: TxOptions``."""
    out: Any = tx_options(_errors_as_one_line(f))
    return out  # type: ignore[no-any-return]


def view_command(f: F) -> F:
    """The options of a read-only command: --rpc and --json."""
    out: Any = json_option(rpc_option(_errors_as_one_line(f)))
    return out  # type: ignore[no-any-return]


# --- talking to the node -----------------------------------------------------------------


@dataclass(frozen=True)
class CallOutcome:
    tx_hash: str
    height: int
    result: Any
    events: list[dict[str, Any]]
    fee: int


def send(opts: TxOptions, contract: str, method: str, args: Sequence[Value]) -> CallOutcome:
    """Sign ``contract.method(*args)``, submit it and wait for the commit; ClickException
    (with the contract's error code) if the call failed."""
    key = load_key(opts.key_file)

    async def go() -> tuple[str, dict[str, Any] | None]:
        async with RpcClient(opts.rpc_url) as rpc:
            wallet = Wallet(key, rpc, max_fee=opts.max_fee, gas_limit=opts.gas_limit,
                            expiry_margin=opts.expiry_margin)
            await wallet.sync()
            show = show_dry_run(opts.as_json, opts.assume_yes)
            # The fee is shown (and, at a terminal, confirmed) before the spinner starts.
            tx_hash, _ = await wallet.call(contract, method, list(args), wait_ms=None, on_dry_run=show)
            if opts.wait_ms == 0:
                return tx_hash, None
            status = (console().status(f"{contract}.{method}: waiting for the commit…")
                      if not opts.as_json else contextlib.nullcontext())
            with status:
                return tx_hash, await rpc.wait_tx(tx_hash, timeout_ms=opts.wait_ms)

    try:
        tx_hash, committed = run(go())
    except ChainError as exc:
        raise click.ClickException(f"{contract}.{method}: {exc.message} [{exc.code}]") from exc
    if committed is None:  # --wait-ms 0: accepted by the node, not yet committed
        return CallOutcome(tx_hash, 0, None, [], 0)
    rec = committed.get("receipt") or {}
    if rec.get("status") != 0:
        code = rec.get("error_code") or rec.get("status_name") or "failed"
        message = rec.get("error_message") or "the call failed"
        raise click.ClickException(f"{contract}.{method} refused: {message} [{code}] (tx {tx_hash})")
    return CallOutcome(tx_hash, int(committed.get("height", 0)), rec.get("result"),
                       list(rec.get("events") or []), int(rec.get("fee", 0)))


def query(rpc_url: str, contract: str, method: str, args: Sequence[Value] = ()) -> Any:
    """A read-only call; its JSON result (bytes as 0x-hex). ClickException on failure."""

    async def go() -> Any:
        async with RpcClient(rpc_url) as rpc:
            return await rpc.query(contract, method, list(args))

    try:
        return run(go())
    except ChainError as exc:
        raise click.ClickException(f"{contract}.{method}: {exc.message} [{exc.code}]") from exc


def report(opts: TxOptions, outcome: CallOutcome, title: str,
           pairs: Sequence[tuple[str, Any]] = ()) -> None:
    """Print a committed call: the caller's summary, then the events it emitted."""
    if opts.as_json:
        print_json({"tx_hash": outcome.tx_hash, "height": outcome.height,
                    "result": outcome.result, "events": outcome.events, "fee": outcome.fee})
        return
    if outcome.height == 0:
        click.echo(f"accepted  {outcome.tx_hash}\n(check it with `hkchain receipt {outcome.tx_hash}`)")
        return
    rows = [*pairs, ("tx", outcome.tx_hash), ("block", outcome.height), ("fee", outcome.fee)]
    print_pairs(title, rows)
    if outcome.events:
        print_table("Events", ["contract", "event", "fields"],
                    [(e.get("contract"), e.get("name"), _fields_text(e.get("fields")))
                     for e in outcome.events])


def _fields_text(fields: Any) -> str:
    if not isinstance(fields, dict):
        return format_value(fields)
    return ", ".join(f"{k}={short(v)}" for k, v in fields.items())


def show(as_json: bool, title: str, doc: Any, order: Sequence[str] = ()) -> None:
    """A record (a dict from a view) as a two-column table, ``order`` keys first."""
    if as_json:
        print_json({"result": doc})
        return
    if doc is None:
        raise click.ClickException(f"{title}: not found")
    if not isinstance(doc, dict):
        click.echo(format_value(doc))
        return
    keys = [k for k in order if k in doc] + sorted(k for k in doc if k not in order)
    print_pairs(title, [(k, display(k, doc[k])) for k in keys])


def table(as_json: bool, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
          raw: Any = None) -> None:
    if as_json:
        print_json({"result": raw if raw is not None else [dict(zip(columns, r, strict=False)) for r in rows]})
        return
    print_table(title, columns, [[short(v) if isinstance(v, str) else v for v in r] for r in rows])


# --- lists -------------------------------------------------------------------------------

PAGE_LIMIT_MAX = 50  # the contracts' MAX_PAGE
MAX_LIST_ITEMS = 10_000  # --all stops here


def page_options(f: F) -> F:
    """--limit, --cursor and --all of a list command (docs/APPLICATIONS.md "Lists")."""
    f = click.option("--all", "all_pages", is_flag=True,
                     help="Every page, not only the first (at most 10,000 items).")(f)
    f = click.option("--cursor", default=0, type=click.IntRange(0), show_default=True,
                     help="Continue below this id (the 'more:' line of the previous page).")(f)
    f = click.option("--limit", default=20, type=click.IntRange(1, 1000), show_default=True,
                     help="How many items to show.")(f)
    return f


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next: int  # the cursor of what follows; 0 when nothing does


def fetch_list(rpc_url: str, contract: str, method: str, filters: Sequence[Value], *,
               cursor: int = 0, limit: int = 20, all_pages: bool = False) -> Page:
    """Items of a paginated view, newest first: up to ``limit`` (every one with
    ``all_pages``), asking page after page since a filtered page may be short."""

    async def go() -> Page:
        items: list[Any] = []
        at = cursor
        async with RpcClient(rpc_url) as rpc:
            while True:
                want = min(PAGE_LIMIT_MAX, limit - len(items)) if not all_pages else PAGE_LIMIT_MAX
                doc = await rpc.query(contract, method, [*filters, at, want])
                if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
                    raise click.ClickException(f"{contract}.{method}: not a list page")
                items.extend(doc["items"])
                at = int(doc.get("next") or 0)
                if at == 0 or len(items) >= MAX_LIST_ITEMS or (not all_pages and len(items) >= limit):
                    return Page(items, at)

    try:
        return run(go())
    except ChainError as exc:
        raise click.ClickException(f"{contract}.{method}: {exc.message} [{exc.code}]") from exc


def display_names(rpc_url: str, addresses: Sequence[str]) -> dict[str, str]:
    """The public display names (names contract) of ``addresses`` that have one; {} if
    the chain has no names contract."""
    wanted = sorted({a for a in addresses if isinstance(a, str) and a.startswith("hk1")})
    out: dict[str, str] = {}

    async def go() -> None:
        async with RpcClient(rpc_url) as rpc:
            for start in range(0, len(wanted), 50):
                got = await rpc.query("names", "names_of", list(wanted[start:start + 50]))
                if isinstance(got, dict):
                    out.update({str(k): str(v) for k, v in got.items()})

    with contextlib.suppress(ChainError):
        run(go())
    return out


def with_names(rpc_url: str | None, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows whose hk1… cells show "display name (hk1…short)" where a name is set."""
    if rpc_url is None:
        return [list(r) for r in rows]
    names = display_names(rpc_url, [v for r in rows for v in r if isinstance(v, str)])
    return [[f"{names[v]} ({who(v)})" if isinstance(v, str) and v in names else v for v in r] for r in rows]


def list_out(as_json: bool, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
             page: Page, rpc_url: str | None = None) -> None:
    """A page as a table with a "more:" line naming the --cursor of the next one; with
    ``rpc_url``, addresses show their holders' display names."""
    if as_json:
        print_json({"items": page.items, "next": page.next})
        return
    rows = with_names(rpc_url, rows)
    print_table(title, columns, [[short(v) if isinstance(v, str) else v for v in r] for r in rows])
    if page.next:
        click.echo(f"more: --cursor {page.next}")


def chain_clock(rpc_url: str) -> ChainClock:
    """The head's height and time and the recent block rate, to put local times beside
    heights."""

    async def go() -> ChainClock:
        async with RpcClient(rpc_url) as rpc:
            head = await rpc.block()
            h = int(head.get("height", 0))
            older = await rpc.block(max(1, h - RATE_WINDOW_BLOCKS)) if h > 1 else None
            return ChainClock.from_blocks(head, older)

    try:
        return run(go())
    except ChainError as exc:
        raise click.ClickException(f"reading the chain's clock: {exc.message} [{exc.code}]") from exc


# --- display -----------------------------------------------------------------------------


def short(v: Any, keep: int = 12) -> str:
    """Long hex strings shortened for tables; everything else as is."""
    if isinstance(v, str) and v.startswith("0x") and len(v) > 2 + 2 * keep:
        return v[: 2 + keep] + "…"
    return format_value(v)


TIME_KEYS = frozenset({"at", "featured_until", "registered_at", "issued_at", "paid_at",
                       "accepted_at", "start_time", "end_time", "time"})


def display(key: str, v: Any) -> Any:
    """Domain-aware rendering: areas in m², times (unix seconds) in Shanghai time."""
    if key.endswith("area_dm2") and type(v) is int:
        return f"{area_text(v)} m²"
    if (key.endswith("_at") or key.endswith("_time") or key in TIME_KEYS) and type(v) is int and v > 0:
        return time_text(v)
    return v


def who(address: str) -> str:
    """An address short enough for a table title (the full one is in the rows)."""
    return address if len(address) <= 20 else f"{address[:10]}…{address[-6:]}"


def area_text(area_dm2: int) -> str:
    return f"{area_dm2 // 100}.{area_dm2 % 100:02d}"


def time_text(seconds: int) -> str:
    """Unix seconds as Shanghai time (cli/localtime.py)."""
    return local_text(seconds)


def points(n: Any) -> str:
    return f"{n} pts" if type(n) is int else format_value(n)


# --- argument forms ----------------------------------------------------------------------


def address_arg(text: str, what: str = "address") -> str:
    try:
        parse_address(text)
    except AddressError as exc:
        raise click.BadParameter(exc.message, param_hint=what) from exc
    return text


def account_arg(text: str, what: str = "account") -> str:
    """An address, or a contract's name (contracts hold points too)."""
    if text.startswith("hk1"):
        return address_arg(text, what)
    if not (2 <= len(text) <= 32 and text.replace("_", "").isalnum() and text.islower()):
        raise click.BadParameter("an hk1… address or a contract name", param_hint=what)
    return text


def area_dm2_arg(text: str) -> int:
    """A floor area in m² with up to two decimals ("89.57") as 0.01 m² units."""
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        raise click.BadParameter("a floor area in m², e.g. 89.57", param_hint="--area") from None
    units = d * 100
    if units != units.to_integral_value() or units <= 0:
        raise click.BadParameter("a positive area with at most two decimals", param_hint="--area")
    return int(units)


def hash_arg(text: str, what: str = "--doc") -> bytes:
    """32 bytes naming a document kept off chain: 64 hex characters as given, else the
    SHA-256 of the file at that path, else the SHA-256 of the text itself."""
    t = text.strip()
    hex_part = t.removeprefix("0x")
    if len(hex_part) == 64:
        with contextlib.suppress(ValueError):
            return bytes.fromhex(hex_part)
    path = Path(t)
    if len(t) < 4096 and path.is_file():
        if path.stat().st_size > MAX_DOC_FILE_BYTES:
            raise click.BadParameter(f"{path} is larger than {MAX_DOC_FILE_BYTES} bytes", param_hint=what)
        return hashlib.sha256(path.read_bytes()).digest()
    if not t:
        raise click.BadParameter("give a hash, a file or some text", param_hint=what)
    return hashlib.sha256(t.encode()).digest()


def time_arg(text: str, what: str = "time") -> int:
    """A time as typed: "2026-12-20 18:00" (Shanghai time unless a zone is given),
    "2026-12-20", "+30m"/"+2h"/"+3d" from now, or unix seconds."""
    return parse_local(text, what=what)


def title_arg(text: str, max_chars: int, what: str = "--title") -> str:
    """A title: 1..max_chars characters once trimmed (the contract's limit, checked
    before anything is signed)."""
    t = text.strip()
    if not t:
        raise click.BadParameter("the title is empty", param_hint=what)
    if len(t) > max_chars:
        raise click.BadParameter(f"{len(t)} characters; at most {max_chars}", param_hint=what)
    return t


PERIOD_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")  # ASCII digits: \d is Unicode


def period_arg(text: str, what: str = "--period") -> str:
    """A billing period: a month written YYYY-MM ("2027-01")."""
    t = text.strip()
    if not PERIOD_RE.fullmatch(t):
        raise click.BadParameter(f"{text!r} is not a month: write YYYY-MM, e.g. 2027-01", param_hint=what)
    return t


def pid_of(outcome: CallOutcome, event: str = "ProposalCreated") -> int | None:
    for e in outcome.events:
        fields = e.get("fields")
        if e.get("contract") == "governance" and e.get("name") == event and isinstance(fields, dict):
            pid = fields.get("id")
            return pid if type(pid) is int else None
    return None
