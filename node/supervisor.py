"""The node's background tasks, and what happens when one of them fails.

Every long-running loop of the node (block sync, blob fetching and scanning) runs under
one ``Supervisor``. A loop that raises is logged with its name and the exception, then
restarted after a backoff that doubles up to a cap (and starts again from the floor once
a run has lasted longer than the cap). A *local fault* (the node's own store failing, a
disk that is full or read-only, a certified block that executes to other roots here) is
never retried and never blamed on a peer: the supervisor hands it to ``on_fatal``, which
stops the node with a clear message, so an operator sees it at once instead of a node
that is up but no longer moves.

Errors raised by callbacks rather than tasks (a frame handler, a timer) go through
``report``, with the same rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import Awaitable, Callable

from core.errors import ChainError
from storage.errors import StorageError

log = logging.getLogger("hkchain.node.supervisor")

MIN_BACKOFF_S = 0.1
MAX_BACKOFF_S = 30.0

# errno values that say the local disk, not the network or the input, is at fault.
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EROFS, errno.EDQUOT})


class LocalFault(ChainError):
    """The node itself is broken (not a peer, not a client): it must stop."""

    code = "local_fault"


def is_local_fault(exc: BaseException) -> bool:
    """True for faults of this machine: its store, its disk, its own state."""
    if isinstance(exc, LocalFault | StorageError):
        return True
    return isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS


def describe(exc: BaseException) -> str:
    """One line for the operator: the error's code (typed errors) and its message."""
    if isinstance(exc, ChainError):
        return f"{exc.message} ({exc.code})"
    return f"{type(exc).__name__}: {exc}"


class Supervisor:
    """Runs named background loops; restarts a failed one with backoff, or calls
    ``on_fatal(what, exc)`` on a local fault."""

    def __init__(
        self,
        on_fatal: Callable[[str, BaseException], None],
        *,
        min_backoff_s: float = MIN_BACKOFF_S,
        max_backoff_s: float = MAX_BACKOFF_S,
        on_restart: Callable[[str], None] | None = None,
    ) -> None:
        if not 0 < min_backoff_s <= max_backoff_s:
            raise ValueError("backoff must be positive and the cap at least the floor")
        self.on_fatal = on_fatal
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.on_restart = on_restart
        self.restarts: dict[str, int] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def spawn(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run ``run()`` as the loop ``name`` until it returns or the supervisor stops."""
        if name in self._tasks:
            raise ValueError(f"a task named {name!r} is already supervised")
        self.restarts[name] = 0
        self._tasks[name] = asyncio.get_running_loop().create_task(
            self._keep(name, run), name=f"hkchain:{name}"
        )

    def running(self, name: str) -> bool:
        task = self._tasks.get(name)
        return task is not None and not task.done()

    def report(self, what: str, exc: BaseException) -> None:
        """An error outside any task (a callback): fatal if local, else logged with context."""
        if is_local_fault(exc):
            self.on_fatal(what, exc)
        else:
            log.error("%s failed: %s", what, describe(exc), exc_info=exc)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()

    async def _keep(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        loop = asyncio.get_running_loop()
        backoff_s = self.min_backoff_s
        while True:
            started = loop.time()
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_local_fault(exc):
                    self.on_fatal(name, exc)
                    return
                if loop.time() - started > self.max_backoff_s:
                    backoff_s = self.min_backoff_s  # it ran well for a while: start over
                self.restarts[name] += 1
                log.error("%s failed (restart %d in %.1f s): %s", name, self.restarts[name],
                          backoff_s, describe(exc), exc_info=exc)
                if self.on_restart is not None:
                    self.on_restart(name)
            await asyncio.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, self.max_backoff_s)
