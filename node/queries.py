"""Read-only contract calls off the event loop: ``POST /v1/query`` and the node's own scans.

A view call may run up to ``vm.gas.MAX_QUERY_GAS`` (5M gas, about 1.5 s of CPU for a loop).
On the event loop that would stall consensus, gossip and every other client, so each call
runs in a worker thread of the service's own pool, against a ``StateSnapshot`` taken on the
loop when the call starts: the state tree of one committed height, whose nodes no later
commit changes. A block committed while the call runs is seen entirely or not at all (the
call reads height h throughout), and the answer names that height.

Bounds, each with its own answer:

- ``rpc.query_workers`` calls run at once; up to ``rpc.max_queued_queries`` more wait for a
  worker; beyond that the node is busy: 503 ``busy``.
- One client (by address) has at most ``rpc.max_queries_per_client`` calls running or
  waiting: beyond, 429 ``too_many_queries``.
- One client spends at most ``rpc.query_gas_per_s`` gas a second, in bursts up to
  ``rpc.query_gas_burst``: a call is charged the gas it used when it ends, and a client
  whose budget is spent (in debt after an expensive call) gets 429
  ``query_budget_exhausted`` with the seconds until it may call again. So a client that
  loops every call gets about ``query_gas_per_s / MAX_QUERY_GAS`` of them a second, and
  the worker time all clients together can take is bounded by the workers.

The GIL: a call in a worker thread is Python bytecode like the loop's, so it adds no core;
what the thread buys is that the interpreter makes a spinning worker hand the GIL to the
waiting loop thread after the switch interval instead of after the whole call. The loop
gives the GIL up at every wait for I/O and must then wait for it again, so with the
default interval (5 ms) a loop busy with many small steps crawls behind two spinning
workers (the convoy effect: status answers took up to 0.6 s). The service sets the
process's switch interval to ``SWITCH_INTERVAL_S`` (1 ms), which bounds each wait to about a
millisecond for a few per cent of switching overhead. ``python -m tools.query_load``
measures block intervals, status latency and view changes of a localnet with and without
looping calls (figures in docs/PERFORMANCE.md).
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from core.codec import Value
from core.errors import ChainError
from node.config import RpcConfig
from storage.chain import ChainStore
from storage.errors import StorageError
from vm.api import Executor, QueryError

T = TypeVar("T")
MAX_BUDGET_CLIENTS = 10_000
SWITCH_INTERVAL_S = 0.001

# A view call as a job sees it: (contract, method, args) -> result, on the job's snapshot.
ViewCall = Callable[[str, str, list[Any]], Value]


class QueryRefused(ChainError):
    """A call not run: the node's or the client's limit. ``status`` is its HTTP status;
    ``retry_after_s`` (if set) when the client may call again."""

    def __init__(self, message: str, *, code: str, status: int, retry_after_s: int | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class QueryResult:
    value: Value
    height: int
    gas_used: int


class GasBudget:
    """A client's gas: refills at ``rate`` per second up to ``burst``; a call is admitted
    while the level is positive and charged what it used afterwards (so the level may go
    below zero, and the client then waits until it refills)."""

    def __init__(self, rate: int, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.level = float(burst)
        self.last = now
        self.in_flight = 0

    def refill(self, now: float) -> None:
        self.level = min(float(self.burst), self.level + (now - self.last) * self.rate)
        self.last = now

    def seconds_until_positive(self) -> int:
        return max(1, math.ceil((1 - self.level) / self.rate))


class QueryService:
    def __init__(self, store: ChainStore, executor: Executor, config: RpcConfig,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.executor = executor
        self.config = config
        self._clock = clock
        # Query workers share the GIL with the event loop: see the module docstring.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self._pool = ThreadPoolExecutor(max_workers=config.query_workers,
                                        thread_name_prefix="hkchain-query")
        self._workers = asyncio.Semaphore(config.query_workers)
        self._waiting = 0
        self._budgets: OrderedDict[str, GasBudget] = OrderedDict()
        self.calls = 0  # calls run (figures for metrics and tests)
        self.refused: dict[str, int] = {}

    # --- the client's budget ------------------------------------------------------------

    def _budget(self, client: str) -> GasBudget:
        now = self._clock()
        budget = self._budgets.pop(client, None)
        if budget is None:
            budget = GasBudget(self.config.query_gas_per_s, self.config.query_gas_burst, now)
        self._budgets[client] = budget  # most recently used last
        while len(self._budgets) > MAX_BUDGET_CLIENTS:
            oldest, b = next(iter(self._budgets.items()))
            if b.in_flight:
                break  # never forget a client with calls running
            del self._budgets[oldest]
        budget.refill(now)
        return budget

    def _refuse(self, message: str, *, code: str, status: int,
                retry_after_s: int | None = None) -> QueryRefused:
        self.refused[code] = self.refused.get(code, 0) + 1
        return QueryRefused(message, code=code, status=status, retry_after_s=retry_after_s)

    def _check_budget(self, budget: GasBudget) -> None:
        budget.refill(self._clock())
        if budget.level <= 0:
            wait_s = budget.seconds_until_positive()
            raise self._refuse(
                f"this client's query gas budget is spent ({self.config.query_gas_per_s} gas/s); "
                f"retry in {wait_s} s", code="query_budget_exhausted", status=429, retry_after_s=wait_s)

    # --- running ----------------------------------------------------------------------

    def _admit_client(self, client: str) -> GasBudget:
        """Count one more call in flight for ``client``, or refuse it (429) when it has too
        many in progress or its gas budget is spent."""
        budget = self._budget(client)
        if budget.in_flight >= self.config.max_queries_per_client:
            raise self._refuse(
                f"this client has {budget.in_flight} queries in progress, the limit; wait for "
                "their answers", code="too_many_queries", status=429)
        self._check_budget(budget)
        budget.in_flight += 1
        return budget

    def _settle(self, budget: GasBudget, gas: int) -> None:
        """On the loop, once a call is over: one fewer in flight, and its gas charged."""
        budget.in_flight -= 1
        budget.refill(self._clock())
        budget.level -= gas

    async def call(self, contract: str, method: str, args: list[Value], client: str) -> QueryResult:
        """Run one view call for ``client``; raises QueryRefused (limits) or QueryError."""
        budget = self._admit_client(client)
        loop = asyncio.get_running_loop()
        submitted = False
        used = 0

        def settle(gas: int) -> None:  # on the loop, once the call is over
            self._settle(budget, gas)

        def on_gas(gas: int) -> None:  # in the worker, when the VM call ends (even if the
            nonlocal used  # client went away meanwhile: the call is charged all the same)
            used = gas
            loop.call_soon_threadsafe(settle, gas)

        def on_submit() -> None:
            nonlocal submitted
            submitted = True

        try:
            # The budget is checked again when a worker is free: calls that waited behind
            # this client's expensive ones may find it spent.
            value, height = await self._run(
                lambda: self._check_budget(budget),
                lambda view, height: (view(contract, method, args), height),
                on_gas, on_submit)
        except BaseException:
            if not submitted:
                settle(0)
            raise
        return QueryResult(value, height, used)

    async def run_charged(self, client: str, work: Callable[[], tuple[T, int]]) -> T:
        """Run ``work`` (a dry run of a tx) in a worker under the bounds of a view call:
        the node's queue, the client's calls in flight and its gas budget. ``work``
        returns its result and the gas it used, which the client is charged when it ends,
        even if the client went away meanwhile (as a view call is)."""
        budget = self._admit_client(client)
        loop = asyncio.get_running_loop()
        submitted = False

        def settle(gas: int) -> None:  # on the loop, once the work is over
            self._settle(budget, gas)

        def body(_view: ViewCall, _height: int) -> T:  # in the worker
            gas = 0
            try:
                result, gas = work()
                return result
            finally:
                loop.call_soon_threadsafe(settle, gas)

        def on_submit() -> None:
            nonlocal submitted
            submitted = True

        try:
            return await self._run(lambda: self._check_budget(budget), body, None, on_submit)
        except BaseException:
            if not submitted:
                settle(0)
            raise

    async def run_job(self, job: Callable[[ViewCall], T]) -> T:
        """Run the node's own ``job`` in a worker thread; every view it calls reads one
        snapshot. Charged to no client, bounded by the workers like any call."""
        return await self._run(None, lambda view, _height: job(view), None, None)

    async def _run(self, admit: Callable[[], None] | None,
                   body: Callable[[ViewCall, int], T],
                   on_gas: Callable[[int], None] | None,
                   on_submit: Callable[[], None] | None) -> T:
        if self._waiting >= self.config.max_queued_queries:
            raise self._refuse("the node has too many queries waiting; retry shortly", code="busy",
                               status=503)
        self._waiting += 1
        try:
            await self._workers.acquire()
        finally:
            self._waiting -= 1
        release_now = True
        try:
            if admit is not None:
                admit()
            # Taken on the loop: the committed height and its header's time belong together.
            snapshot = self.store.state().snapshot()
            height = snapshot.height
            head = self.store.head
            if head is not None and head.height == height:
                time_ms = head.header.timestamp_ms
            else:  # a commit between the two reads: the block of the snapshot's height
                block = self.store.block(height)
                time_ms = block.header.timestamp_ms if block is not None else 0
            executor = self.executor

            def view(c: str, m: str, a: list[Any]) -> Value:
                try:
                    return executor.query(snapshot, c, m, a, height, time_ms, on_gas=on_gas)
                except QueryError:
                    raise
                except StorageError as exc:
                    # Only a call still running keep_heights blocks later meets this.
                    raise QueryRefused(f"the state of height {height} was pruned while the "
                                       "query ran; retry", code="busy", status=503) from exc
                except ChainError as exc:
                    raise QueryError(exc.message, code=exc.code) from exc

            self.calls += 1
            fut = asyncio.get_running_loop().run_in_executor(self._pool, body, view, height)
            if on_submit is not None:
                on_submit()
            try:
                return await asyncio.shield(fut)
            except asyncio.CancelledError:
                # The client went away; the thread runs on (to its gas cap at most) and
                # keeps its worker until it ends.
                release_now = False
                fut.add_done_callback(self._release_after)
                raise
        finally:
            if release_now:
                self._workers.release()

    def _release_after(self, fut: asyncio.Future[Any]) -> None:
        self._workers.release()
        if not fut.cancelled():
            fut.exception()  # nobody awaits it any more: its error is not news

    async def close(self) -> None:
        """Stop the workers once the calls running finish (their gas cap bounds them): the
        store must not close under a call reading it."""
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: self._pool.shutdown(wait=True, cancel_futures=True))
