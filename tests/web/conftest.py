"""Fixtures of the browser tests: one real localnet for the module, one Chromium per
module, and a fresh watched page per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from node.localnet import Supervisor
from tests.e2e.harness import make_network, running
from tests.web.browser import Watched, launch, open_page, require_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser


# Module scope, not session: Playwright's sync API keeps an event loop running on this
# thread while a browser is open, which would break asyncio.run() in later test modules.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as b:
        yield b


@pytest.fixture(scope="module")
def localnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    require_chromium()  # no network to start when the tests will skip
    net = make_network(Path(tmp_path_factory.mktemp("web")) / "localnet", 1)
    with running(net) as sup:
        sup.wait_ready(timeout_ms=60_000)
        yield sup


@pytest.fixture()
def base_url(localnet: Supervisor) -> str:
    return localnet.nodes[0].rpc_url


@pytest.fixture()
def page(browser: Browser, base_url: str) -> Iterator[Watched]:
    w = open_page(browser, base_url)
    try:
        yield w
    finally:
        # A test's route handlers may still be running on a response the closing page
        # disposes; their errors belong to no test, and would surface in the next one's set-up.
        w.page.unroute_all(behavior="ignoreErrors")
        w.context.close()
