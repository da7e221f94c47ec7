"""The client commands: `status`, `block`, `receipt`, `tx`, `transfer`, `query`, `deploy`,
`watch`. Each talks to one node's RPC (--rpc URL) through cli/wallet.py, prints a table
for people or JSON for scripts (--json), and reports failures as one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.common import (
    console,
    format_value,
    friendly_errors,
    json_option,
    key_option,
    load_key,
    print_json,
    print_pairs,
    print_table,
    rpc_option,
)
from cli.wallet import (
    DEFAULT_EXPIRY_MARGIN,
    DEFAULT_GAS_LIMIT,
    RpcClient,
    Wallet,
    parse_json_args,
    run,
)
from core.codec import Value
from core.crypto import is_address, key_file_address, parse_address
from core.fields import is_decimal
from core.verify import validator_set_from_json, verify_block

T = TypeVar("T")
R = TypeVar("R")

MAX_WAIT_MS = 600_000
MAX_SOURCE_BYTES = 256 * 1024


def _with_rpc(rpc_url: str, fn: Callable[[RpcClient], Awaitable[T]]) -> T:
    async def go() -> T:
        async with RpcClient(rpc_url) as rpc:
            return await fn(rpc)

    return run(go())


@dataclass(frozen=True)
class TxOptions:
    """How a signing command builds and follows its tx."""

    rpc_url: str
    key_file: str | None
    max_fee: int | None
    gas_limit: int
    expiry_margin: int
    wait_ms: int
    as_json: bool
    assume_yes: bool = False


def tx_options(f: Callable[..., R]) -> Callable[..., R]:
    """The options of every signing command, handed to it as one ``opts: TxOptions``."""

    @functools.wraps(f)
    def wrapper(*args: Any, rpc_url: str, key_file: str | None, max_fee: int | None,
                gas_limit: int, expiry_margin: int, wait_ms: int, as_json: bool, assume_yes: bool,
                **kwargs: Any) -> R:
        opts = TxOptions(rpc_url, key_file, max_fee, gas_limit, expiry_margin, wait_ms, as_json, assume_yes)
        return f(*args, opts=opts, **kwargs)

    w: Callable[..., R] = wrapper
    w = click.option("--yes", "-y", "assume_yes", is_flag=True,
                     help="Send without asking to confirm the fee (asked only at a terminal).")(w)
    w = json_option(w)
    w = wait_options(w)
    w = click.option("--gas-limit", default=DEFAULT_GAS_LIMIT, show_default=True, type=click.IntRange(1),
                     help="Gas the tx may use.")(w)
    w = key_option(w)
    return rpc_option(w)


def wait_options(f: Callable[..., R]) -> Callable[..., R]:
    """--max-fee, --expiry and --wait-ms (the application commands of cli/apps use these too)."""
    f = click.option("--wait-ms", default=30_000, show_default=True, type=click.IntRange(0, MAX_WAIT_MS),
                     help="How long to wait for the tx to commit; 0 returns once it is accepted.")(f)
    f = click.option("--expiry", "expiry_margin", default=DEFAULT_EXPIRY_MARGIN, show_default=True,
                     type=click.IntRange(1, 1_000_000),
                     help="Blocks from now after which the tx may no longer be included.")(f)
    return click.option("--max-fee", default=None, type=click.IntRange(0),
                        help="Most the sender pays in fees (the payer must hold it). "
                             "Default: gas limit x gas price.")(f)


@click.command("status")
@rpc_option
@json_option
@friendly_errors
def status(rpc_url: str, as_json: bool) -> None:
    """Show a node's chain id, height, state root, peers and sync state."""
    doc = _with_rpc(rpc_url, lambda rpc: rpc.status())
    if as_json:
        print_json(doc)
        return
    scalars = [(k, v) for k, v in doc.items() if not isinstance(v, list | dict)]
    mempool = doc.get("mempool")
    if isinstance(mempool, dict):
        scalars.append(("mempool", f"{mempool.get('txs', '?')} txs, {mempool.get('bytes', '?')} bytes"))
    print_pairs(f"Node {doc.get('node', '')} at {rpc_url}", scalars)
    validators = doc.get("validators")
    if isinstance(validators, list) and validators:
        print_table("Validators", ["name", "address"],
                    [(v.get("name"), v.get("address")) for v in validators if isinstance(v, dict)])
    peers = doc.get("peers")
    if isinstance(peers, list):
        print_table(f"{len(peers)} peers", ["name", "direction", "height", "public key"],
                    [(p.get("name"), p.get("direction"), p.get("height"), p.get("public_key"))
                     for p in peers if isinstance(p, dict)])


@click.command("block")
@click.argument("height", default="latest")
@rpc_option
@json_option
@click.option("--verify", is_flag=True,
              help="Check the header, txs and commit certificate here, trusting only the "
                   "validator set (the node's, or --validators FILE).")
@click.option("--validators", "validators_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A genesis.json whose validators to trust for --verify.")
@friendly_errors
def block(height: str, rpc_url: str, as_json: bool, verify: bool, validators_file: Path | None) -> None:
    """Show the block at HEIGHT (a number, or `latest`) with its txs."""
    if height != "latest" and not is_decimal(height):
        raise click.BadParameter("must be a block height or `latest`", param_hint="HEIGHT")

    async def fetch(rpc: RpcClient) -> tuple[dict[str, Any], dict[str, Any] | None]:
        doc = await rpc.block(None if height == "latest" else int(height))
        return doc, (await rpc.status() if verify and validators_file is None else None)

    doc, status = _with_rpc(rpc_url, fetch)
    if verify:
        trusted = status["validators"] if status is not None else _genesis_validators(validators_file)
        checked = verify_block(doc, validator_set_from_json(trusted))
        if as_json:
            print_json({"verified": True, "height": checked.height, "hash": checked.block_hash,
                        "signers": checked.signers, "quorum": checked.quorum,
                        "state_root": checked.state_root})
            return
        click.echo(f"verified: block {checked.height} {checked.block_hash} is final "
                   f"({checked.signers} commit signatures, quorum {checked.quorum}); "
                   f"state root {checked.state_root}")
        return
    if as_json:
        print_json(doc)
        return
    header = doc.get("header", doc)
    pairs = [(k, v) for k, v in sorted(header.items()) if not isinstance(v, list | dict)]
    if "hash" in doc and "hash" not in header:
        pairs.insert(0, ("hash", doc["hash"]))
    cert = doc.get("certificate")
    if isinstance(cert, dict):
        pairs.append(("commit signatures", len(cert.get("signatures", []))))
    print_pairs(f"Block {header.get('height', height)}", pairs)
    txs = doc.get("txs", [])
    if isinstance(txs, list) and txs:
        rows = [_tx_row(t) for t in txs]
        print_table(f"{len(txs)} txs", ["hash", "sender", "nonce", "call"], rows)


def _genesis_validators(path: Path | None) -> Any:
    assert path is not None
    try:
        return json.loads(path.read_text())["validators"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"cannot read validators from {path}: {exc}") from exc


def _tx_row(t: Any) -> list[Any]:
    if not isinstance(t, dict):
        return [t, "", "", ""]
    return [t.get("hash"), t.get("sender_address"), t.get("nonce"), f"{t.get('contract')}.{t.get('method')}"]


@click.command("receipt")
@click.argument("tx_hash")
@rpc_option
@json_option
@friendly_errors
def receipt(tx_hash: str, rpc_url: str, as_json: bool) -> None:
    """Show a tx by hash: pending, or committed with its receipt and events."""
    tx_hash = tx_hash.removeprefix("0x")
    doc = _with_rpc(rpc_url, lambda rpc: rpc.tx(tx_hash))
    _print_tx(doc, as_json)


def _print_tx(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(doc)
        return
    pairs: list[tuple[str, Any]] = [(k, v) for k, v in sorted(doc.items()) if k != "receipt"]
    rec = doc.get("receipt")
    if isinstance(rec, dict):
        pairs += [(f"receipt.{k}", v) for k, v in sorted(rec.items()) if k != "events"]
    print_pairs("Transaction", pairs)
    events = rec.get("events") if isinstance(rec, dict) else None
    if isinstance(events, list) and events:
        print_table("Events", ["contract", "name", "fields"],
                    [(e.get("contract"), e.get("name"), e.get("fields")) for e in events if isinstance(e, dict)])


def fee_text(receipt: dict[str, Any]) -> str:
    """The fee of a dry-run receipt in words: how much, for what, and who pays it."""
    fee, gas = receipt.get("fee"), receipt.get("gas_used")
    payer = sender = None
    for e in receipt.get("events") or []:
        if isinstance(e, dict) and e.get("contract") == "token" and e.get("name") == "Fee":
            fields = e.get("fields") or {}
            payer, sender = fields.get("payer"), fields.get("sender")
    gas_text = f"{gas:,}" if isinstance(gas, int) else str(gas)
    text = f"fee {fee} points for {gas_text} gas of work"
    if payer is not None and payer != sender:
        text += f", paid by {payer} (sponsored: it costs you nothing)"
    elif fee:
        text += ", paid by you"
    return text


def show_dry_run(as_json: bool, assume_yes: bool = True) -> Callable[[dict[str, Any]], None]:
    """What a signing command does when the dry run passed: print the fee and who pays it
    (on stderr, so --json output stays one document), then, at a terminal and without
    --yes, ask before sending. Declining sends nothing and costs nothing."""

    def show(receipt: dict[str, Any]) -> None:
        if not as_json:
            click.echo(f"dry run ok: {fee_text(receipt)}", err=True)
        if not assume_yes and sys.stdin.isatty() and not click.confirm("Send it?", default=True, err=True):
            raise click.ClickException("not sent; no fee paid")

    return show


def _send(opts: TxOptions, contract: str, method: str, args: tuple[Value, ...]) -> None:
    key = load_key(opts.key_file)

    async def go(rpc: RpcClient) -> tuple[str, dict[str, Any] | None]:
        wallet = Wallet(key, rpc, max_fee=opts.max_fee, gas_limit=opts.gas_limit,
                        expiry_margin=opts.expiry_margin)
        show = show_dry_run(opts.as_json, opts.assume_yes)
        tx_hash, _ = await wallet.call(contract, method, args, wait_ms=None, on_dry_run=show)
        if opts.wait_ms == 0:
            return tx_hash, None
        spinner = (contextlib.nullcontext() if opts.as_json
                   else console().status("Waiting for the tx to commit…"))
        with spinner:
            return tx_hash, await rpc.wait_tx(tx_hash, timeout_ms=opts.wait_ms)

    tx_hash, committed = _with_rpc(opts.rpc_url, go)
    if committed is None:
        if opts.as_json:
            print_json({"hash": tx_hash, "status": "accepted"})
        else:
            click.echo(f"accepted  {tx_hash}\n(check it with `hkchain receipt {tx_hash}`)")
        return
    _print_tx(committed, opts.as_json)
    rec = committed.get("receipt")
    if isinstance(rec, dict) and rec.get("status") not in (0, "ok", None):
        raise click.ClickException(
            f"tx {tx_hash} committed but failed: {rec.get('error_code', '')} {rec.get('error_message', '')}".strip()
        )


@click.command("tx")
@click.argument("contract")
@click.argument("method")
@click.argument("args_json", default="[]", metavar="[ARGS_JSON]")
@tx_options
@friendly_errors
def tx(contract: str, method: str, args_json: str, opts: TxOptions) -> None:
    """Sign and send a call of CONTRACT.METHOD with ARGS_JSON (a JSON array).

    Strings starting with 0x are passed as bytes; numbers must be integers.
    Example: hkchain tx token transfer '["hk1…", 100]'
    """
    _send(opts, contract, method, parse_json_args(args_json))


@click.command("transfer")
@click.option("--to", "to_address", required=True, metavar="ADDRESS|KEYFILE",
              help="Recipient: an address (hk1…), or a key file whose address receives.")
@click.option("--amount", required=True, type=click.IntRange(1), help="Points to send (an integer).")
@tx_options
@friendly_errors
def transfer(to_address: str, amount: int, opts: TxOptions) -> None:
    """Send community points to ADDRESS (or to the owner of KEYFILE) and wait until the
    transfer commits."""
    if not is_address(to_address) and Path(to_address).is_file():
        to_address = key_file_address(to_address)  # only its public key is read
    parse_address(to_address)  # a mistyped address fails here, with the checksum error
    _send(opts, "token", "transfer", (to_address, amount))


@click.command("query")
@click.argument("contract")
@click.argument("method")
@click.argument("args_json", default="[]", metavar="[ARGS_JSON]")
@rpc_option
@json_option
@friendly_errors
def query(contract: str, method: str, args_json: str, rpc_url: str, as_json: bool) -> None:
    """Call a read-only METHOD of CONTRACT with ARGS_JSON and print the result.

    Example: hkchain query token balance '["hk1…"]'
    """
    args = parse_json_args(args_json)
    result = _with_rpc(rpc_url, lambda rpc: rpc.query(contract, method, args))
    if as_json:
        print_json({"result": result})
    elif isinstance(result, dict):
        print_pairs(f"{contract}.{method}", sorted(result.items()))
    else:
        click.echo(format_value(result))


@click.command("deploy")
@click.argument("name")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("init_args_json", default="[]", metavar="[INIT_ARGS_JSON]")
@tx_options
@friendly_errors
def deploy(name: str, source: Path, init_args_json: str, opts: TxOptions) -> None:
    """Deploy the contract in SOURCE (the contract language, docs/CONTRACTS.md) as NAME.

    NAME is 2-32 characters of a-z 0-9 _ starting with a letter; init(*INIT_ARGS_JSON)
    runs once if the contract defines it. Only committee members may deploy; the fee
    grows with the source (20 gas a byte), so the gas limit is raised to match.
    """
    if source.stat().st_size > MAX_SOURCE_BYTES:
        raise click.ClickException(f"{source} is larger than {MAX_SOURCE_BYTES} bytes")
    code = source.read_text()
    init_args = list(parse_json_args(init_args_json))
    gas = max(opts.gas_limit, DEPLOY_BASE_GAS + DEPLOY_GAS_PER_BYTE * len(code.encode()))
    _send(dataclasses.replace(opts, gas_limit=gas), SYSTEM_CONTRACT, "deploy", (name, code, init_args))


# docs/CONTRACTS.md: deployment is a call of the `system` pseudo-contract; it costs 20 gas
# a byte of source on top of running init (headroom for that in the base).
SYSTEM_CONTRACT = "system"
DEPLOY_GAS_PER_BYTE = 20
DEPLOY_BASE_GAS = 200_000


@click.command("watch")
@rpc_option
@json_option
@click.option("--count", default=0, type=click.IntRange(0), help="Stop after this many messages (0: never).")
@click.option("--events/--no-events", default=True, show_default=True, help="Also show contract events.")
@friendly_errors
def watch(rpc_url: str, as_json: bool, count: int, events: bool) -> None:
    """Follow new blocks (and their events) as they commit, until Ctrl-C.

    With --json, prints one JSON object per line (JSON Lines).
    """
    topics = ["blocks", "events"] if events else ["blocks"]

    async def go(rpc: RpcClient) -> None:
        seen = 0
        async for msg in rpc.subscribe(topics):
            if as_json:  # JSON Lines: one message per line, as it arrives
                click.echo(json.dumps(msg, sort_keys=True))
            else:
                click.echo(_watch_line(msg))
            seen += 1
            if count and seen >= count:
                return

    with contextlib.suppress(KeyboardInterrupt):
        _with_rpc(rpc_url, go)


def _watch_line(msg: dict[str, Any]) -> str:
    kind = msg.get("type", "?")
    if kind == "block":
        return (f"block {msg.get('height')}  txs {msg.get('tx_count', len(msg.get('txs', []) or []))}"
                f"  hash {msg.get('hash', '')}  state_root {msg.get('state_root', '')}")
    if kind == "event":
        return (f"event {msg.get('contract')}.{msg.get('name')}  {msg.get('fields')}"
                f"  (tx {msg.get('tx_hash', '')}, block {msg.get('height', '')})")
    return str(msg)
