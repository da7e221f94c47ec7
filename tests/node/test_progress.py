"""The log's lines on committed blocks: one per block while they are few, a summary per
interval once they come faster, nothing for empty blocks, the rest at stop."""

from __future__ import annotations

import logging

import pytest

from node.progress import CommitProgress


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    out = [r.getMessage() for r in caplog.records if r.name == "test.progress"]
    caplog.clear()
    return out


def test_blocks_are_logged_one_by_one_when_few_and_summarised_when_many(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="test.progress")
    p = CommitProgress(logging.getLogger("test.progress"), every_s=5.0)
    p.committed(10, 3, 1.5, False, now_s=100.0)  # the first after a quiet spell: at once
    assert lines(caplog) == ["committed block 10: 3 txs, written in 1.5 ms"]
    p.committed(11, 0, 0.5, False, now_s=100.2)  # empty: nothing to say
    p.committed(12, 2, 1.0, False, now_s=100.4)
    p.committed(13, 4, 3.0, True, now_s=104.9)
    assert lines(caplog) == []  # within the interval: held for the summary
    p.committed(14, 0, 0.5, False, now_s=105.0)  # an empty block lets the due summary out
    assert lines(caplog) == [
        "committed 2 blocks with txs, 12 to 13: 6 txs, written in 2.0 ms on average, "
        "3.0 at most (1 by sync)"
    ]
    p.committed(15, 1, 2.0, False, now_s=106.0)
    assert lines(caplog) == []
    p.flush(now_s=107.0)  # the node stops: the last blocks are not left out
    assert lines(caplog) == ["committed block 15: 1 txs, written in 2.0 ms"]
    p.flush(now_s=107.5)
    p.committed(16, 0, 0.5, False, now_s=200.0)
    assert lines(caplog) == []  # nothing pending, nothing logged
    p.committed(17, 1, 0.5, True, now_s=201.0)
    assert lines(caplog) == ["committed block 17: 1 txs, written in 0.5 ms (sync)"]
