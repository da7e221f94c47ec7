"""Build hook: the wheel carries the default genesis as package data.

The repository's top-level genesis.json is the one source of the default local network.
A source checkout (and an editable install) reads it where it is; a wheel has no
repository around it, so building one copies the file into the ``node`` package as
``node/genesis.json``, where ``node.home.default_genesis_template`` finds it. Everything
else about the package is declared in setup.cfg.
"""

from __future__ import annotations

import os

from setuptools import setup
from setuptools.command.build_py import build_py

GENESIS_SOURCE = "genesis.json"
GENESIS_PACKAGE = "node"


class BuildPyWithGenesis(build_py):
    """build_py, plus a copy of genesis.json into the built ``node`` package."""

    def _genesis_target(self) -> str:
        return os.path.join(self.build_lib, GENESIS_PACKAGE, GENESIS_SOURCE)

    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):  # editable: read from the checkout
            self.copy_file(GENESIS_SOURCE, self._genesis_target())

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs: list[str] = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return [*outputs, self._genesis_target()]


setup(cmdclass={"build_py": BuildPyWithGenesis})
