"""The inbox: txs pushed or relayed by peers that this node holds, not yet admitted.

A validator proposes one height in n. Admitting a peer's tx to the mempool means
checking its signature and then its nonce, expiry and fee against the head, and every
validator paid that for every tx, although only the next proposers need the tx in their
pool: the others meet it again only in a proposal, when block validation checks the
signature and executes it anyway. So a validator that is not about to propose checks a
peer's tx's signature only (so a block that carries it need not, on the path to this
validator's vote), keeps it here, and admits it to the mempool only once it may propose soon
(``Node._may_propose_soon``: the proposer of the current view or of the next height), or
once it has waited ``HOLD_S`` without being committed. A tx committed meanwhile is
dropped from here: at scale most txs never reach most validators' mempools.

Gossip treats held txs as held (no body is asked for twice, and peers may fetch them),
proposals by reference find their bodies here, and a tx's status is "pending". But a held
tx does not end an idle proposer's empty-block wait at this validator (its view timer
runs only once the tx is admitted): anyone could push valid but unpayable txs. So after a silent proposer
at an idle chain, a tx sent to another node may wait up to ``HOLD_S`` longer for the
view change. The inbox is memory only, as every tx learnt from a peer is (the node that
accepted it from a client journaled it), and bounded in count and bytes: the oldest go
first, and one still needed is fetched again by the proposal that names it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from core.types import SignedTx

# How long a peer's tx waits here before it is admitted anyway: as long as a
# relay waits (p2p/gossip.py, RELAY_DELAY_S), so a tx a busy chain keeps pending is
# admitted, and then relayed, like any other.
HOLD_S = 2.0


class Inbox:
    """Peers' txs not admitted yet, oldest first, at most ``max_txs`` and ``max_bytes``."""

    def __init__(self, max_txs: int, max_bytes: int) -> None:
        if max_txs < 1 or max_bytes < 1:
            raise ValueError("the inbox's bounds must be positive")
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self.size_bytes = 0
        self.dropped = 0  # pushed out by the bounds before being admitted or committed
        self._items: OrderedDict[bytes, tuple[SignedTx, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._items

    def add(self, stx: SignedTx, arrived_s: float) -> None:
        """Hold ``stx`` (a no-op if held), making room by dropping the oldest."""
        h = stx.hash
        if h in self._items:
            return
        self._items[h] = (stx, arrived_s)
        self.size_bytes += len(stx.encoded)
        while len(self._items) > self.max_txs or self.size_bytes > self.max_bytes:
            _, (old, _) = self._items.popitem(last=False)
            self.size_bytes -= len(old.encoded)
            self.dropped += 1

    def get(self, tx_hash: bytes) -> SignedTx | None:
        item = self._items.get(tx_hash)
        return None if item is None else item[0]

    def hashes(self) -> list[bytes]:
        return list(self._items)

    def oldest_s(self) -> float | None:
        """When the oldest tx held arrived, if any."""
        for _, arrived_s in self._items.values():
            return arrived_s
        return None

    def discard(self, hashes: Iterable[bytes]) -> None:
        """Forget these txs (committed), those held."""
        for h in hashes:
            item = self._items.pop(h, None)
            if item is not None:
                self.size_bytes -= len(item[0].encoded)

    def take(self, arrived_before_s: float | None = None) -> list[SignedTx]:
        """Remove and return, oldest first, every tx held, or those that arrived before
        ``arrived_before_s``."""
        taken: list[SignedTx] = []
        while self._items:
            h, (stx, arrived_s) = next(iter(self._items.items()))
            if arrived_before_s is not None and arrived_s >= arrived_before_s:
                break
            del self._items[h]
            self.size_bytes -= len(stx.encoded)
            taken.append(stx)
        return taken
