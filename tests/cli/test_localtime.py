"""Local time (Asia/Shanghai) in and out, deadlines as heights with their estimated local
time, and billing periods as YYYY-MM."""

from __future__ import annotations

import click
import pytest

from cli.apps.base import display, period_arg
from cli.localtime import ChainClock, day_text, local_text, parse_local

# 2026-12-20 10:00 UTC = 18:00 in Shanghai.
T = 1_797_760_800


def test_output_is_shanghai_time() -> None:
    assert local_text(T) == "2026-12-20 18:00 UTC+8"
    assert display("paid_at", T) == "2026-12-20 18:00 UTC+8"
    assert display("start_time", T) == "2026-12-20 18:00 UTC+8"
    assert display("area_dm2", 8957) == "89.57 m²"
    assert display("closes", 100820) == 100820  # a height is not a time
    assert day_text(T // 86400) == "2026-12-20 08:00 – 12-21 08:00 UTC+8"


def test_input_without_a_zone_is_shanghai_time() -> None:
    assert parse_local("2026-12-20 18:00") == T
    assert parse_local("2026-12-20T18:00") == T
    assert parse_local("2026-12-20 10:00+00:00") == T
    assert parse_local("2026-12-20") == T - 18 * 3600
    assert parse_local("+2h", now_s=T) == T + 7200
    assert parse_local(str(T)) == T
    for bad in ("tomorrow", "2026-13-01 10:00", "+2y", ""):
        with pytest.raises(click.BadParameter):
            parse_local(bad)


def test_a_deadline_height_gets_an_estimated_local_time() -> None:
    head = {"height": 1000, "header": {"timestamp_ms": T * 1000}}
    older = {"height": 900, "header": {"timestamp_ms": (T - 200) * 1000}}  # 2 s a block
    clock = ChainClock.from_blocks(head, older)
    assert clock.ms_per_block == 2000
    assert clock.time_of(2800) == T + 3600
    assert clock.height_text(2800) == "block 2800 (≈ 2026-12-20 19:00 UTC+8)"
    assert clock.height_text(900).startswith("block 900 (reached")
    assert clock.height_at(T + 3600) == 2800
    assert clock.height_at(T - 50) == 1000
    assert ChainClock.from_blocks(head, None).ms_per_block == 1000


def test_periods_are_months() -> None:
    assert period_arg("2027-01") == "2027-01"
    assert period_arg(" 2027-12 ") == "2027-12"
    for bad in ("一月", "2027-1", "2027-13", "2027-00", "27-01", "2027/01", "2027-01-01"):
        with pytest.raises(click.BadParameter):
            period_arg(bad)
