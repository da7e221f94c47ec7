"""Print the gas of every application method, measured by running the application test
scenarios on fresh chains, with its fee in points at the dev genesis price
(ceil(gas × gas_price_milli / 1000)) and whether a resident's call of it is sponsored.

    python -m tests.apps.gas_table
"""

from __future__ import annotations

import inspect
import json
import sys

from tests.apps import (
    test_assembly,
    test_households,
    test_names_and_details,
    test_notices_merchants,
    test_property,
    test_rewards,
    test_services,
)
from tests.apps.harness import GAS_LOG, GENESIS_PATH, Community

APPS = ("households", "property", "assembly", "services", "culture", "activities", "notices",
        "merchants", "governance", "names")


def main() -> int:
    for module in (test_households, test_property, test_assembly, test_services, test_rewards,
                   test_notices_merchants, test_names_and_details):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            # (a test building its own community, with another genesis, is left out)
            if name.startswith("test_") and fn.__module__ == module.__name__ \
                    and list(inspect.signature(fn).parameters) == ["town"]:
                fn(Community())
    fees = json.loads(GENESIS_PATH.read_text())["params"]["fees"]
    price = int(fees["gas_price_milli"])
    sponsored = set(fees["sponsored"])

    def points(gas: int) -> str:
        return f"{(gas * price + 999) // 1000:,}"

    print("| method | calls | gas min | gas max | fee (points) | sender pays |")
    print("|---|---:|---:|---:|---:|---:|")
    for method in sorted(GAS_LOG):
        if method.split(".")[0] in APPS:
            g = GAS_LOG[method]
            lo, hi = points(min(g)), points(max(g))
            fee = lo if lo == hi else f"{lo}–{hi}"
            pays = "0 if a resident" if method in sponsored else fee
            print(f"| `{method}` | {len(g)} | {min(g):,} | {max(g):,} | {fee} | {pays} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
