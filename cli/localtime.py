"""Time as the community reads it: Shanghai wall-clock time, never a raw epoch.

The chain counts in block heights and in block-header seconds (UTC). People read and type
local time (Asia/Shanghai, UTC+8, no daylight saving). This module turns one into the
other: ``local_text`` for output, ``parse_local`` for input (a time without a zone is
Shanghai time), and ``ChainClock`` to show a deadline given as a height as the estimated
local time it will be reached, from the head block's time and the recent block rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click

from core.fields import is_decimal

TZ = ZoneInfo("Asia/Shanghai")
TZ_LABEL = "UTC+8"
DAY_S = 86400
# How many recent blocks give the block rate of an estimate.
RATE_WINDOW_BLOCKS = 100
TIME_FORMS = '"2026-12-20 18:00" (Shanghai time), "2026-12-20", +30m/+2h/+3d, or unix seconds'


def local_text(seconds: int, *, with_zone: bool = True) -> str:
    """Unix seconds as Shanghai time: "2026-12-20 18:00 UTC+8"."""
    text = datetime.fromtimestamp(seconds, TZ).strftime("%Y-%m-%d %H:%M")
    return f"{text} {TZ_LABEL}" if with_zone else text


def day_text(day: int) -> str:
    """A chain day (``block_time // 86400``, UTC days) as its Shanghai span: a chain day
    runs from 08:00 to 08:00 the next day, local time."""
    start = datetime.fromtimestamp(day * DAY_S, TZ)
    return f"{start:%Y-%m-%d} 08:00 – {start + timedelta(days=1):%m-%d} 08:00 {TZ_LABEL}"


def parse_local(text: str, *, now_s: int | None = None, what: str = "time") -> int:
    """A time typed by a person, as unix seconds. Without a zone it is Shanghai time."""
    t = text.strip()
    now = int(time.time()) if now_s is None else now_s
    if is_decimal(t):
        return int(t)
    if t.startswith("+") and len(t) > 2 and is_decimal(t[1:-1]) and t[-1] in "smhd":
        mult = {"s": 1, "m": 60, "h": 3600, "d": DAY_S}[t[-1]]
        return now + int(t[1:-1]) * mult
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        raise click.BadParameter(f"{t!r} is not a time: give {TIME_FORMS}", param_hint=what) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=TZ)
    return int(dt.timestamp())


def today_day(now_s: int | None = None) -> int:
    return (int(time.time()) if now_s is None else now_s) // DAY_S


def date_of_day(day: int) -> date:
    return datetime.fromtimestamp(day * DAY_S, TZ).date()


@dataclass(frozen=True)
class ChainClock:
    """The head block's height and time and the recent milliseconds per block: enough
    to put a local time beside a height."""

    head_height: int
    head_time_ms: int
    ms_per_block: int

    def time_of(self, height: int) -> int:
        """The (estimated, for a future height) unix seconds of block ``height``."""
        return (self.head_time_ms + (height - self.head_height) * self.ms_per_block) // 1000

    def height_text(self, height: int) -> str:
        """ "block 100820 (≈ 2026-12-20 18:00 UTC+8)"; past heights say "was"."""
        if height <= self.head_height:
            return f"block {height} (reached, ≈ {local_text(self.time_of(height))})"
        return f"block {height} (≈ {local_text(self.time_of(height))})"

    def height_at(self, seconds: int) -> int:
        """The first height expected at or after ``seconds``."""
        ahead_ms = seconds * 1000 - self.head_time_ms
        if ahead_ms <= 0:
            return self.head_height
        return self.head_height + -(-ahead_ms // max(1, self.ms_per_block))

    @classmethod
    def from_blocks(cls, head: dict[str, Any], older: dict[str, Any] | None) -> ChainClock:
        """From two blocks as ``GET /v1/blocks`` returns them (head, and one some blocks
        back). With no older block, one second per block."""
        h, t = _height_time(head)
        if older is None:
            return cls(h, t, 1000)
        oh, ot = _height_time(older)
        if h <= oh or t <= ot:
            return cls(h, t, 1000)
        return cls(h, t, max(1, (t - ot) // (h - oh)))


def _height_time(block: dict[str, Any]) -> tuple[int, int]:
    header = block.get("header") or {}
    return int(block.get("height", header.get("height", 0))), int(header.get("timestamp_ms", 0))
