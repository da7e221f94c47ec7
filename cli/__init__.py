"""The `hkchain` command line: click commands that parse arguments and call node/."""
