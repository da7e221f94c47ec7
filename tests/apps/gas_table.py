"""Print the gas of every application method, measured by running the application test
scenarios on fresh chains (gas_price 1, so gas = fee in points unless sponsored).

    python -m tests.apps.gas_table
"""

from __future__ import annotations

import inspect
import sys

from tests.apps import (
    test_assembly,
    test_households,
    test_notices_merchants,
    test_property,
    test_rewards,
    test_services,
)
from tests.apps.harness import GAS_LOG, Community

APPS = ("households", "property", "assembly", "services", "culture", "activities", "notices",
        "merchants", "governance")


def main() -> int:
    for module in (test_households, test_property, test_assembly, test_services, test_rewards,
                   test_notices_merchants):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("test_") and fn.__module__ == module.__name__:
                fn(Community())
    print("| method | calls | gas min | gas max |")
    print("|---|---:|---:|---:|")
    for method in sorted(GAS_LOG):
        if method.split(".")[0] in APPS:
            g = GAS_LOG[method]
            print(f"| `{method}` | {len(g)} | {min(g):,} | {max(g):,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
