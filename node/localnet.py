"""`hkchain localnet`: run every validator of a local network as its own process.

``Supervisor`` starts, stops and kills the node processes of a ``LocalNetwork`` (each is
``python -m cli node start --home DIR/nodeK``, logging to ``DIR/nodeK/node.log``; the
observers in ``DIR/observerK`` after them), waits
until their RPCs answer, and writes ``DIR/nodes.json`` so scripts and tests can find
each node's URLs and pid. ``run_localnet`` is the command: initialise the home if it is
empty (reuse it otherwise, so a restart keeps the chain), start all nodes, print where
everything is, and on Ctrl-C or SIGTERM stop them all (SIGTERM, then SIGKILL after a
grace period).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import IO, Any

from core.errors import ChainError
from node.home import (
    DEFAULT_BASE_PORT,
    NODES_FILE,
    LocalNetwork,
    LocalNode,
    init_network,
    is_initialised,
    load_network,
)

DEFAULT_HOME = Path("localnet")
LOG_FILE = "node.log"
READY_TIMEOUT_MS = 60_000
STOP_GRACE_MS = 10_000
POLL_INTERVAL_S = 0.2
STATUS_TIMEOUT_S = 2.0
LOG_TAIL_BYTES = 4000
PIPE_WIDTH = 160  # columns of the summary when printed to a file or pipe


class LocalnetError(ChainError):
    code = "localnet_failed"


def node_command(node_home: Path) -> list[str]:
    """The command line that runs one node (the same CLI, in this Python)."""
    return [sys.executable, "-m", "cli", "node", "start", "--home", str(node_home)]


def rpc_status(rpc_url: str, timeout_s: float = STATUS_TIMEOUT_S) -> dict[str, Any] | None:
    """The node's /v1/status, or None if it does not answer (yet)."""
    try:
        with urllib.request.urlopen(rpc_url + "/v1/status", timeout=timeout_s) as resp:
            doc = json.loads(resp.read(1 << 20))
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return doc if isinstance(doc, dict) else None


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when the supervisor dies, so
    a killed supervisor (or test run) never leaves nodes behind. Elsewhere, a no-op."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Supervisor:
    """The processes of one local network's nodes."""

    def __init__(self, network: LocalNetwork, *, extra_env: dict[str, str] | None = None,
                 node_env: dict[int, dict[str, str]] | None = None) -> None:
        """``extra_env`` goes to every node; ``node_env[i]`` to node ``i`` alone (the fault
        scenarios start one node with a clock that is off: tools/faults.py)."""
        self.network = network
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self._logs: dict[int, IO[bytes]] = {}
        self._env = {**os.environ, **(extra_env or {})}
        self._node_env = dict(node_env or {})

    @property
    def nodes(self) -> tuple[LocalNode, ...]:
        """The validators, then the observers: the indices every method takes."""
        return self.network.nodes + self.network.observers

    def command(self, index: int) -> list[str]:
        """The command line of node ``index`` (a test may run a variant of the node)."""
        return node_command(self.nodes[index].home)

    def log_path(self, index: int) -> Path:
        return self.nodes[index].home / LOG_FILE

    def start(self, index: int) -> subprocess.Popen[bytes]:
        """Start node ``index`` (it must not be running)."""
        if self.is_running(index):
            raise LocalnetError(f"{self.nodes[index].name} is already running")
        self._close_log(index)
        log = open(self.log_path(index), "ab")
        self._logs[index] = log
        # A session of its own: a Ctrl-C in the terminal reaches the supervisor only, which
        # then stops the nodes in order.
        proc = subprocess.Popen(
            self.command(index),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**self._env, **self._node_env.get(index, {})},
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.procs[index] = proc
        return proc

    def start_all(self) -> None:
        for i in range(len(self.nodes)):
            self.start(i)

    def is_running(self, index: int) -> bool:
        proc = self.procs.get(index)
        return proc is not None and proc.poll() is None

    def pid(self, index: int) -> int | None:
        proc = self.procs.get(index)
        return proc.pid if proc is not None and proc.poll() is None else None

    def kill(self, index: int) -> None:
        """SIGKILL node ``index``: a crash, with no chance to clean up."""
        proc = self.procs.get(index)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._close_log(index)

    def stop(self, index: int, grace_ms: int = STOP_GRACE_MS) -> None:
        """SIGTERM node ``index``; SIGKILL if it has not exited after ``grace_ms``."""
        self.stop_many([index], grace_ms)

    def stop_many(self, indices: list[int], grace_ms: int = STOP_GRACE_MS) -> None:
        running = [i for i in indices if self.is_running(i)]
        for i in running:
            with contextlib.suppress(ProcessLookupError):
                self.procs[i].terminate()
        deadline = time.monotonic() + grace_ms / 1000
        for i in running:
            try:
                self.procs[i].wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.procs[i].kill()
                self.procs[i].wait()
        for i in indices:
            self._close_log(i)

    def stop_all(self, grace_ms: int = STOP_GRACE_MS) -> None:
        self.stop_many(list(range(len(self.nodes))), grace_ms)

    def wait_ready(
        self,
        indices: list[int] | None = None,
        timeout_ms: int = READY_TIMEOUT_MS,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Return once every node in ``indices`` answers /v1/status; LocalnetError if one
        exits or the deadline passes (the message carries the tail of its log).
        ``on_progress(ready, total)`` hears of each node that starts answering."""
        pending = list(range(len(self.nodes)) if indices is None else indices)
        total = len(pending)
        deadline = time.monotonic() + timeout_ms / 1000
        while pending:
            for i in list(pending):
                proc = self.procs.get(i)
                if proc is None or proc.poll() is not None:
                    raise LocalnetError(
                        f"{self.nodes[i].name} exited before its RPC answered; "
                        f"end of {self.log_path(i)}:\n{self.log_tail(i)}"
                    )
                if rpc_status(self.nodes[i].rpc_url) is not None:
                    pending.remove(i)
                    if on_progress is not None:
                        on_progress(total - len(pending), total)
            if not pending:
                break
            if time.monotonic() > deadline:
                names = ", ".join(self.nodes[i].name for i in pending)
                raise LocalnetError(f"{names} did not answer within {timeout_ms} ms; see node.log")
            time.sleep(POLL_INTERVAL_S)

    def log_tail(self, index: int) -> str:
        try:
            with open(self.log_path(index), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - LOG_TAIL_BYTES))
                return f.read().decode(errors="replace")
        except OSError:
            return "(no log)"

    def nodes_file_doc(self) -> dict[str, Any]:
        net = self.network
        return {
            "chain_id": net.chain_id,
            "home": str(net.home),
            "operator_key": str(net.operator_key_file),
            "operator_address": net.operator_address,
            "nodes": [{**n.to_json(), "pid": self.pid(i)} for i, n in enumerate(net.nodes)],
            "observers": [{**n.to_json(), "pid": self.pid(len(net.nodes) + i)}
                          for i, n in enumerate(net.observers)],
        }

    def write_nodes_file(self) -> Path:
        path = self.network.home / NODES_FILE
        tmp = path.with_name(NODES_FILE + ".tmp")
        tmp.write_text(json.dumps(self.nodes_file_doc(), indent=2) + "\n")
        os.replace(tmp, path)
        return path

    def _close_log(self, index: int) -> None:
        log = self._logs.pop(index, None)
        if log is not None:
            log.close()


@contextlib.contextmanager
def _stop_signals_raise() -> Iterator[None]:
    """Turn SIGTERM (and SIGHUP) into KeyboardInterrupt, as Ctrl-C already is."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run_localnet(
    home: Path = DEFAULT_HOME,
    nodes: int = 4,
    *,
    base_port: int = DEFAULT_BASE_PORT,
    genesis_template: Path | None = None,
    ready_timeout_ms: int = READY_TIMEOUT_MS,
    stop_grace_ms: int = STOP_GRACE_MS,
    after_start: Callable[[LocalNetwork], None] | None = None,
) -> None:
    """Run a local network in the foreground until Ctrl-C or SIGTERM. ``after_start``
    runs once every node answers (e.g. seeding the demo community)."""
    from rich.console import Console
    from rich.markup import escape

    # Printed to a file or pipe, rich would assume 80 columns; give the table room instead.
    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    console = Console(highlight=False, width=PIPE_WIDTH if piped else None)
    home = Path(home)
    # The hints name --home unless the network is where the commands look without it.
    hint_home = None if home == DEFAULT_HOME else home.resolve()
    if is_initialised(home):
        network = load_network(home)
        if len(network.nodes) != nodes:
            console.print(
                f"[yellow]{escape(str(home))} holds {len(network.nodes)} nodes; reusing them "
                f"(--nodes {nodes} applies to a new home)[/yellow]"
            )
        console.print(f"Reusing the network in [bold]{escape(str(home))}[/bold] (its chain continues).")
    else:
        network = init_network(home, nodes, base_port=base_port, genesis_template=genesis_template)
        console.print(f"Initialised a {nodes}-validator network in [bold]{escape(str(home))}[/bold].")

    supervisor = Supervisor(network)
    with _stop_signals_raise():
        try:
            supervisor.start_all()
            with console.status(f"Starting {len(network.nodes)} nodes…") as status:
                supervisor.wait_ready(
                    timeout_ms=ready_timeout_ms,
                    on_progress=lambda ready, total: status.update(
                        f"Starting nodes… {ready}/{total} answering"),
                )
            supervisor.write_nodes_file()
            print_summary(console, supervisor, hint_home)
            if after_start is not None:
                after_start(network)
            _watch(console, supervisor)
        except KeyboardInterrupt:
            console.print("\nStopping the nodes…")
        finally:
            supervisor.stop_all(stop_grace_ms)
            supervisor.write_nodes_file()
    console.print("All nodes stopped.")


def _watch(console: Any, supervisor: Supervisor) -> None:
    """Wait for Ctrl-C; say so once when a node exits by itself, give up when all have."""
    reported: set[int] = set()
    while True:
        for i, node in enumerate(supervisor.nodes):
            if i not in reported and not supervisor.is_running(i):
                reported.add(i)
                code = supervisor.procs[i].returncode if i in supervisor.procs else None
                console.print(f"[red]{node.name} exited (code {code}); see {supervisor.log_path(i)}[/red]")
        if len(reported) == len(supervisor.nodes):
            raise LocalnetError("every node has exited; see their node.log files")
        time.sleep(0.5)


def app_url(rpc_url: str) -> str:
    """The web app's address on a node, pinned to the chain's genesis block: the app
    trusts only headers certified by the validator set that genesis names (and its
    governed changes), so a node of another chain is caught even on first use."""
    status = rpc_status(rpc_url)
    genesis = status.get("genesis_hash") if status else None
    if isinstance(genesis, str) and len(genesis) == 64:
        return f"{rpc_url}/#genesis={genesis}"
    return f"{rpc_url}/"


def look_around_hints(network: LocalNetwork, hint_home: Path | None) -> list[str]:
    """Commands to try in another terminal, each one pasteable as it stands: with
    ``--home`` (absolute, shell-quoted) when the network is not in ./localnet, where the
    commands look without flags."""
    cli = "hkchain" if hint_home is None else f"hkchain --home {shlex.quote(str(hint_home))}"
    balance_args = shlex.quote(json.dumps([network.operator_address]))
    return [
        f"{cli} status",
        "hkchain keys new --out alice.key",
        f"{cli} transfer --to alice.key --amount 100",
        f"{cli} query token balance {balance_args}",
        f"{cli} watch",
    ]


def print_summary(console: Any, supervisor: Supervisor, hint_home: Path | None = None) -> None:
    """Where everything is, then commands to try. Every cell folds rather than being cut,
    so the table stays whole in a narrow terminal and in a log file (names, pids, URLs)."""
    from rich.markup import escape
    from rich.table import Table

    net = supervisor.network
    table = Table(title=f"hkchain localnet — chain {escape(net.chain_id)}", title_justify="left")
    for col in ("node", "pid", "rpc", "p2p", "address"):
        table.add_column(col, overflow="fold")
    for i, n in enumerate(supervisor.nodes):
        name = n.name if i < len(net.nodes) else f"{n.name} (observer)"
        table.add_row(name, str(supervisor.pid(i) or "-"), n.rpc_url, n.p2p_url, n.address)
    console.print(table)
    rpc = net.nodes[0].rpc_url
    console.print(f"\n[bold]Open the residents' app:  {escape(app_url(rpc))}[/bold]\n", soft_wrap=True)
    console.print(escape(f"logs           {net.home / 'nodeK' / LOG_FILE}"), soft_wrap=True)
    console.print(escape(f"operator key   {net.operator_key_file}  (address {net.operator_address})"),
                  soft_wrap=True)
    console.print(escape(f"nodes file     {net.home / NODES_FILE}"), soft_wrap=True)
    where = "in this folder" if hint_home is None else "from any folder"
    console.print(f"\nTry, in another terminal ({where}):")
    for hint in look_around_hints(net, hint_home):
        console.print(escape(f"  {hint}"), soft_wrap=True)
    console.print("\nPress Ctrl-C to stop all nodes.")
