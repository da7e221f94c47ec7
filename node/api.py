"""What the RPC server and the blob service need of a running node, as one Protocol.

``node/service.py`` builds the RPC server and the blob service and hands itself to them;
they depend on these narrow interfaces instead of on ``Node``, so the import graph of node/
has no circle (service → rpc → blobs, and none of them back to service).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from core.errors import ChainError
from core.types import Receipt, SignedTx
from storage.api import ChainStore

if TYPE_CHECKING:
    from node.events import EventHub
    from node.metrics import Metrics


T = TypeVar("T")
# A view call inside a job: (contract, method, args) -> result.
ViewCall = Callable[[str, str, list[Any]], Any]


class QueryRunner(Protocol):
    """Read-only contract calls against a committed height, off the event loop
    (node/queries.py)."""

    async def query(self, contract: str, method: str, args: list[Any], client: str) -> tuple[Any, int]:
        """Run ``contract.method(*args)`` as a view for ``client`` (its address: limits and
        gas budget are per client); the result and the height it read. Raises
        node.queries.QueryRefused over a limit, vm.api.QueryError if the call fails."""
        ...

    async def read_views(self, job: Callable[[ViewCall], T]) -> T:
        """Run the node's own ``job`` in a query worker; every view it calls reads the
        same committed height."""
        ...


class NodeApi(QueryRunner, Protocol):
    """The running node as the RPC server sees it."""

    @property
    def store(self) -> ChainStore: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def events(self) -> EventHub: ...

    def status(self) -> dict[str, Any]:
        """Height, head hash, state root, validators, peers: the `GET /v1/status` body."""
        ...

    def tx_status(self, tx_hash: bytes) -> dict[str, Any]:
        """Where a tx stands: pending in the mempool, committed with its receipt, or unknown."""
        ...

    def receipt_doc(self, receipt: Receipt) -> dict[str, Any]:
        """The JSON form of a receipt, with an ``error_message`` made off chain from its
        code, contract and source line (never part of the hashed receipt)."""
        ...

    def account(self, address: str) -> dict[str, Any]:
        """Balance and next nonce of ``address`` at the latest committed height."""
        ...

    def statement(self, address: str, cursor: str | None, limit: str | None) -> dict[str, Any]:
        """A page of ``address``'s statement (node/statement.py); AddressError or
        StatementError for bad input."""
        ...

    def evidence(self, limit: int) -> dict[str, Any]:
        """{count, evidence}: the newest ``limit`` equivocation records, newest first
        (node/evidence.py): the `GET /v1/evidence` body."""
        ...

    def refresh_metrics(self) -> None:
        """Bring gauges (height, peers, mempool size) up to date before a scrape."""
        ...

    async def simulate(self, stx: SignedTx, client: str = "") -> dict[str, Any]:
        """A dry run: the receipt ``stx`` would get in the next block, committing nothing."""
        ...

    async def submit(self, items: Sequence[SignedTx | ChainError]) -> list[bytes | ChainError]:
        """Admit decoded txs to the mempool; per item its hash or the refusal."""
        ...
