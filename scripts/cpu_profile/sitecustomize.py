"""CPU-clock profiles of chosen nodes of a running localnet (yappi), for
``scripts/profile_localnet.py --pstats``.

py-spy samples wall time: on a machine with more busy nodes than cores, a node that the
kernel preempts keeps its sample on the line it stopped at, and a write to a loopback
socket, which wakes the receiving node, is where that happens most. yappi's CPU clock
counts only the time a thread ran. Put this folder first on ``PYTHONPATH`` and name the
nodes in ``HKCHAIN_CPU_PROFILE`` (comma-separated data folder names); every Python
process started then imports this file, and a ``node start`` for one of those folders
loads yappi and waits for signals: SIGUSR1 starts a profile afresh, SIGUSR2 stops it and
writes ``/tmp/hkchain-cpu-NAME.pstat``. C functions are not profiled apart: their time
counts to the Python function that called them.

    PYTHONPATH=scripts/cpu_profile HKCHAIN_CPU_PROFILE=node3,node17 scripts/bench_scale.sh 31 20 30
    kill -USR1 PID...; sleep 15; kill -USR2 PID...      # during the load
    python scripts/profile_localnet.py --pstats /tmp/hkchain-cpu-node*.pstat
"""

import os
import signal
import sys


def _install(home: str) -> None:
    import yappi  # in the test extra

    yappi.set_clock_type("cpu")

    def begin(*_: object) -> None:
        yappi.stop()
        yappi.clear_stats()
        yappi.start(builtins=False, profile_threads=True)

    def save(*_: object) -> None:
        yappi.stop()
        name = home.rsplit("/", 1)[-1]
        yappi.get_func_stats().save(f"/tmp/hkchain-cpu-{name}.pstat", type="pstat")

    signal.signal(signal.SIGUSR1, begin)
    signal.signal(signal.SIGUSR2, save)


_names = [n for n in os.environ.get("HKCHAIN_CPU_PROFILE", "").split(",") if n]
_home = next((a.rstrip("/") for a in sys.argv if any(a.rstrip("/").endswith("/" + n) for n in _names)),
             None)
if _home is not None and "start" in sys.argv:
    _install(_home)
