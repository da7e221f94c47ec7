"""Simulator runs that once found a bug, pinned with their full fault rates so they keep
replaying a hostile schedule even when the way rates are drawn from a seed changes.
Add a line whenever `hkchain simulate` reports a violation; never remove one."""

from __future__ import annotations

from tools.simulator import FaultRates

# (seed, validators, heights, fault rates, what it found)
REGRESSION_SEEDS: list[tuple[int, int, int, FaultRates, str]] = [
    (
        3,
        4,
        30,
        FaultRates(300, 100, 1, 20, 50, 200, 50),
        "one replica ran ahead through views alone, so no view ever had a quorum; the view "
        "timer now starts only when a quorum asked for the view (PBFT 4.5.2)",
    ),
    (
        164,
        4,
        30,
        FaultRates(50, 20, 1, 150, 50, 200, 50, reconfigure=True),
        "liveness: the only validators ahead could not hand over the decision after a restart; "
        "the host now passes the last commit in",
    ),
    (
        167,
        4,
        30,
        FaultRates(0, 20, 1, 150, 50, 200, 500, reconfigure=True),
        "a validator two heights behind got no help: DECISIONs are now sent for any older height",
    ),
    (
        188,
        4,
        30,
        FaultRates(50, 0, 1, 20, 0, 200, 50, reconfigure=True),
        "a DECISION certified by the next validator set was refused; f + 1 known signers now "
        "suffice to ask for a sync",
    ),
    (
        324,
        4,
        30,
        FaultRates(150, 0, 1, 150, 50, 0, 0, reconfigure=True),
        "same as 188, with partitions",
    ),
]
