"""What the node's log says about the blocks it commits: one line per block while blocks are
few, one summary line per ``EVERY_S`` once they come faster.

A busy node commits several blocks a second; a line for each would be hundreds of
thousands a day, which no operator reads, and formatting and writing each cost the event
loop more than some of the block's own steps. The first block with txs after a quiet
spell is logged at once, so a clerk watching a tx go through still sees it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

# Blocks committed within this many seconds of the last line share the next line.
EVERY_S = 5.0


@dataclass
class _Pending:
    first: int
    last: int
    blocks: int = 0
    txs: int = 0
    synced: int = 0
    write_ms_total: float = 0.0
    write_ms_max: float = 0.0


class CommitProgress:
    """Logs committed blocks with txs to ``log`` at INFO, summarised (module docstring)."""

    def __init__(self, log: logging.Logger, every_s: float = EVERY_S) -> None:
        self._log = log
        self._every_s = every_s
        self._last_line_s = float("-inf")
        self._pending: _Pending | None = None

    def committed(self, height: int, txs: int, write_ms: float, synced: bool, now_s: float) -> None:
        """A block committed at ``now_s`` (a monotonic clock); empty blocks only let a
        summary that is due go out."""
        if txs:
            p = self._pending
            if p is None:
                p = self._pending = _Pending(height, height)
            p.last = height
            p.blocks += 1
            p.txs += txs
            p.synced += synced
            p.write_ms_total += write_ms
            p.write_ms_max = max(p.write_ms_max, write_ms)
        if self._pending is not None and now_s - self._last_line_s >= self._every_s:
            self.flush(now_s)

    def flush(self, now_s: float) -> None:
        """Log what is pending now (on shutdown, so the last blocks are not left out)."""
        p, self._pending = self._pending, None
        if p is None:
            return
        self._last_line_s = now_s
        if p.blocks == 1:
            self._log.info("committed block %d: %d txs, written in %.1f ms%s", p.first, p.txs,
                           p.write_ms_total, " (sync)" if p.synced else "")
            return
        self._log.info("committed %d blocks with txs, %d to %d: %d txs, written in %.1f ms on "
                       "average, %.1f at most%s", p.blocks, p.first, p.last, p.txs,
                       p.write_ms_total / p.blocks, p.write_ms_max,
                       f" ({p.synced} by sync)" if p.synced else "")
