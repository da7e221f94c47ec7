"""Fixtures of the application tests: a fresh community chain per test."""

from __future__ import annotations

import pytest

from tests.apps.harness import Community


@pytest.fixture
def town() -> Community:
    return Community()
