"""Tx bodies kept in memory, bounded by count and by bytes of encodings, oldest first.

Gossip keeps the bodies it received lately (so a proposal by reference finds one the pool
turned away or is still checking), and a validator's inbox holds peers' txs until it may
propose them (node/inbox.py). Both forget the oldest first when a bound is passed, and both
say when each body arrived, so one class serves them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from core.types import SignedTx


class TxBodies:
    """Bodies by hash, in arrival order; at most ``max_txs`` and ``max_bytes``."""

    def __init__(self, max_txs: int, max_bytes: int) -> None:
        if max_txs < 1 or max_bytes < 1:
            raise ValueError("the bounds on tx bodies must be positive")
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self.size_bytes = 0
        self._items: OrderedDict[bytes, tuple[SignedTx, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._items

    def add(self, stx: SignedTx, arrived_s: float = 0.0) -> int:
        """Keep ``stx`` (a no-op if kept), making room by dropping the oldest; return how
        many were dropped."""
        h = stx.hash
        if h in self._items:
            return 0
        self._items[h] = (stx, arrived_s)
        self.size_bytes += len(stx.encoded)
        dropped = 0
        while len(self._items) > self.max_txs or self.size_bytes > self.max_bytes:
            _, (old, _) = self._items.popitem(last=False)
            self.size_bytes -= len(old.encoded)
            dropped += 1
        return dropped

    def get(self, tx_hash: bytes) -> SignedTx | None:
        item = self._items.get(tx_hash)
        return None if item is None else item[0]

    def hashes(self) -> list[bytes]:
        return list(self._items)

    def oldest_s(self) -> float | None:
        """When the oldest body kept arrived, if any."""
        for _, arrived_s in self._items.values():
            return arrived_s
        return None

    def discard(self, hashes: Iterable[bytes]) -> None:
        """Forget these bodies, those kept."""
        for h in hashes:
            item = self._items.pop(h, None)
            if item is not None:
                self.size_bytes -= len(item[0].encoded)

    def take(self, arrived_before_s: float | None = None) -> list[SignedTx]:
        """Remove and return, oldest first, every body kept, or those that arrived before
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
