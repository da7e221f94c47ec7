"""The deterministic contract VM: compiler, gas-metered interpreter, block executor and
the system contracts' sources."""
