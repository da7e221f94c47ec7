"""`python -m cli …` runs the `hkchain` command line (how localnet starts its nodes)."""

from cli.main import main

main(prog_name="hkchain")
