"""What the client commands share: the --rpc/--key/--json options, turning errors into
one clear line, and printing for people (rich tables) or for scripts (--json).

Defaults follow the local network in the network home: `hkchain --home DIR`, else
$HKCHAIN_HOME, else ./localnet. --rpc is $HKCHAIN_RPC, else the first running node of
HOME/nodes.json, else (for ./localnet only) the first localnet port; --key is
$HKCHAIN_KEY, else HOME/operator.key when it exists. A home named explicitly (flag or
environment) that holds no nodes.json is an error, not a silent fallback.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console
from rich.table import Table

from core.crypto import PrivateKey, is_key_file_encrypted
from core.errors import ChainError
from core.render import value_to_json
from node.config import LOCALNET_RPC_BASE_PORT
from node.home import NODES_FILE, OPERATOR_KEY_FILE

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_LOCALNET_HOME = Path("localnet")
HOME_ENV = "HKCHAIN_HOME"
FALLBACK_RPC_URL = f"http://127.0.0.1:{LOCALNET_RPC_BASE_PORT}"

# Plain-words hints for the node's error codes (docs/RPC.md); the node's own message follows.
ERROR_HINTS: Mapping[str, str] = {
    "bad_nonce": "nonce already used (another tx from this key committed first; retry)",
    "nonce_gap": "nonce too far ahead of the account's next nonce",
    "insufficient_fee": "the account cannot pay the fee (balance or max fee too low)",
    "expired": "the tx expired before it could be included",
    "wrong_chain": "the tx was signed for another chain",
    "unknown_contract": "no contract of that name is deployed",
    "bad_signature": "the signature does not verify",
    "malformed": "the node could not decode the request",
    "too_large": "the request is larger than the node accepts",
    "mempool_full": "the node's mempool is full; retry later",
    "rate_limited": "too many requests; slow down",
    "batch_too_large": "too many txs in one request; send smaller batches",
    "state_pruned": "the node no longer keeps the state of that height",
    "not_allowed": "the sender lacks the role this call needs",
}


PIPE_WIDTH = 160  # columns when printing to a file or pipe (rich would assume 80)


def console() -> Console:
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(highlight=False, soft_wrap=False, width=width)


def chosen_home() -> Path | None:
    """The network home named by `hkchain --home DIR` or $HKCHAIN_HOME; None if neither."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        home = ctx.find_root().params.get("home")
        if isinstance(home, Path):
            return home
    env = os.environ.get(HOME_ENV)
    return Path(env) if env else None


def network_home() -> Path:
    """The local network's folder: --home, else $HKCHAIN_HOME, else ./localnet."""
    return chosen_home() or DEFAULT_LOCALNET_HOME


def default_rpc_url() -> str:
    env = os.environ.get("HKCHAIN_RPC")
    if env:
        return env
    chosen = chosen_home()
    nodes_file = (chosen or DEFAULT_LOCALNET_HOME) / NODES_FILE
    try:
        nodes = json.loads(nodes_file.read_text())["nodes"]
        running = [n for n in nodes if n.get("pid")]  # a stopped node has no pid
        return str((running or nodes)[0]["rpc_url"])
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        if chosen is None:
            return FALLBACK_RPC_URL
        reason = "does not exist" if isinstance(exc, FileNotFoundError) else "cannot be read"
        raise click.ClickException(
            f"{nodes_file} {reason}: no local network in {chosen} (start one with "
            f"`hkchain --home {shlex.quote(str(chosen))} localnet`, or pass --rpc URL)"
        ) from exc


def default_key_file() -> str | None:
    env = os.environ.get("HKCHAIN_KEY")
    if env:
        return env
    candidate = network_home() / OPERATOR_KEY_FILE
    return str(candidate) if candidate.exists() else None


def rpc_option(f: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--rpc", "rpc_url", default=default_rpc_url, show_default="$HKCHAIN_RPC, else node0 of the network home",
        metavar="URL", help="RPC URL of the node to talk to.",
    )(f)


def json_option(f: Callable[P, R]) -> Callable[P, R]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(f)


def key_option(f: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--key", "key_file", default=default_key_file, metavar="FILE",
        show_default="$HKCHAIN_KEY, else the network home's operator.key",
        help="Key file that signs the tx.",
    )(f)


def load_key(key_file: str | None) -> PrivateKey:
    if not key_file:
        raise click.ClickException(
            f"no key: {network_home() / OPERATOR_KEY_FILE} does not exist; pass --key FILE (or set "
            "HKCHAIN_KEY), or --home DIR of a local network; `hkchain keys new --out FILE` makes a key"
        )
    path = Path(key_file)
    if not path.exists():
        raise click.ClickException(f"key file {path} does not exist")
    passphrase = None
    if is_key_file_encrypted(path):
        passphrase = click.prompt(f"Passphrase for {path}", hide_input=True)
    return PrivateKey.load(path, passphrase)


def explain(exc: ChainError) -> str:
    """One line for a person: what went wrong, in the node's words and ours."""
    hint = ERROR_HINTS.get(exc.code)
    if hint:
        return f"{exc.message} [{exc.code}: {hint}]"
    return exc.message


def friendly_errors(f: Callable[P, R]) -> Callable[P, R]:
    """Turn the project's typed errors into a one-line click error (no traceback)."""

    @functools.wraps(f)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return f(*args, **kwargs)
        except ChainError as exc:
            raise click.ClickException(explain(exc)) from exc

    return wrapper


# --- output ------------------------------------------------------------------------------


def print_json(doc: Any) -> None:
    click.echo(json.dumps(value_to_json(doc), indent=2, sort_keys=True, ensure_ascii=False))


def print_pairs(title: str, pairs: Sequence[tuple[str, Any]]) -> None:
    """A two-column table of name/value pairs."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in pairs:
        table.add_row(name, format_value(value))
    console().print(table)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c, overflow="fold")
    for row in rows:
        table.add_row(*(format_value(v) for v in row))
    console().print(table)


def format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict | list):
        return json.dumps(value_to_json(value), sort_keys=True, ensure_ascii=False)
    return str(value)
