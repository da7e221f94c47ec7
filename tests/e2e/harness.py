"""A real local network for end-to-end tests: processes on 127.0.0.1, free ports, bounded
waits on conditions, and cleanup that never leaves a node behind."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from cli.wallet import WalletError
from node.config import NodeConfig
from node.home import (
    LocalNetwork,
    default_genesis_template,
    init_network,
    max_base_port,
    node_ports,
)
from node.localnet import Supervisor

T = TypeVar("T")

# Faster view changes than the defaults keep the crash scenarios inside the time budget.
E2E_VIEW_TIMEOUT_MS = 1500
E2E_MAX_VIEW_TIMEOUT_MS = 6000
PORT_TRIES = 50


def _ports_free(ports: list[int]) -> bool:
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_base_port(nodes: int) -> int:
    """A base port whose whole localnet range is free now (seeded by the pid, retried)."""
    rng = random.Random(os.getpid())
    for _ in range(PORT_TRIES):
        # Below the kernel's ephemeral ports, as init_network requires.
        base = rng.randrange(20_000, max(max_base_port(nodes), 20_000) + 1, 10)
        ports = [p for i in range(nodes) for p in node_ports(i, base)]
        if _ports_free(ports):
            return base
    raise RuntimeError("no free port range found on 127.0.0.1")


def make_network(home: Path, nodes: int) -> LocalNetwork:
    net = init_network(home, nodes, base_port=free_base_port(nodes),
                       genesis_template=default_genesis_template())
    for node in net.nodes:
        config = NodeConfig.load(node.home)
        consensus = dataclasses.replace(config.consensus, view_timeout_ms=E2E_VIEW_TIMEOUT_MS,
                                        max_view_timeout_ms=E2E_MAX_VIEW_TIMEOUT_MS)
        config.with_changes(consensus=consensus).save(node.home)
    return net


@contextlib.contextmanager
def running(net: LocalNetwork) -> Iterator[Supervisor]:
    """All nodes of ``net`` started; on exit every process is gone, whatever happened."""
    sup = Supervisor(net)
    try:
        sup.start_all()
        yield sup
    finally:
        sup.stop_all(grace_ms=3000)
        for proc in sup.procs.values():  # a node that spawned children: end its group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


# What a node that is down, restarting or catching up answers with while a test waits.
NOT_YET = (WalletError, aiohttp.ClientError, OSError, TimeoutError, LookupError)


async def wait_until(
    what: str, check: Callable[[], Awaitable[T | None]], *, timeout_s: float, interval_s: float = 0.2
) -> T:
    """Poll ``check`` until it returns a value other than None/False; fail after the deadline.

    Only the errors of a node that is down or catching up (NOT_YET) are retried; anything
    else, a failed assertion above all, fails at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last_error: BaseException | None = None
    while True:
        try:
            result = await check()
            if result is not None and result is not False:
                return result
        except NOT_YET as exc:  # a node that is down answers with errors while we wait
            last_error = exc
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last error: {last_error!r})")
        await asyncio.sleep(interval_s)


def describe_logs(sup: Supervisor) -> str:
    return "\n".join(f"--- {n.name} ---\n{sup.log_tail(i)}" for i, n in enumerate(sup.nodes))


def field(doc: dict[str, Any], *names: str) -> Any:
    """The first of ``names`` present in ``doc`` (header fields may be nested)."""
    header = doc.get("header", {})
    for name in names:
        if name in doc:
            return doc[name]
        if isinstance(header, dict) and name in header:
            return header[name]
    raise KeyError(f"none of {names} in {sorted(doc)}")
