"""The committees' dashboard in Chromium against a real localnet whose node runs the
analytics indexer in process (the demo community plus a mixed load, tests/analytics/
chain.py): every figure's table and the numbers its chart draws equal a recount taken
straight from the chain's events (tests/analytics/recount.py), for the district and for
the clerk's committee; small cells are hidden in the table, the chart and the exports; the
CSV and XLSX exports download and parse to the same rows; a resident never sees the page."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.request import urlopen

import pytest
from openpyxl import load_workbook

from analytics import figures as fg
from cli.wallet import run
from node.localnet import Supervisor
from tests.analytics.chain import Chain, fetch_blocks, start_chain
from tests.analytics.recount import Recount
from tests.web.browser import DESKTOP, MOBILE, Watched, open_page, require_chromium
from tests.web.community import off_loop

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

pytestmark = pytest.mark.slow

WAIT_MS = 60_000
INDEX_WAIT_S = 120.0
HIDDEN = {"zh-CN": "已隐藏", "en": "hidden"}
PASSPHRASE = "居委会办公室钥匙"
RESIDENT_PASSPHRASE = "我家住在三楼东边"


def _get(url: str) -> Any:
    with urlopen(url, timeout=10) as resp:
        return json.loads(resp.read().decode())


def wait_indexed(chain: Chain) -> int:
    """Wait until the node's own indexer has read every block committed now; that height."""
    head = int(_get(f"{chain.rpc_url}/v1/status")["height"])
    deadline = time.monotonic() + INDEX_WAIT_S
    while True:
        height = _get(f"{chain.rpc_url}/v1/stats")["indexer"]["height"]
        if height is not None and height >= head:
            return int(height)
        assert time.monotonic() < deadline, f"the node's indexer stayed at {height}, head {head}"
        time.sleep(0.2)  # polling a condition with a deadline, not standing in for one


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    require_chromium()
    yield from start_chain(tmp_path_factory.mktemp("web-dashboard"), analytics=True)


def sign_in(browser: Browser, base_url: str, key_file: Path, passphrase: str, *,
            viewport: ViewportSize = DESKTOP, lang: str = "zh-CN") -> Watched:
    """Open the app and import a CLI key file on the "me" page, as a clerk does."""
    w = open_page(browser, base_url, viewport=viewport)
    p = w.page
    p.goto("/")
    p.evaluate("(lang) => localStorage.setItem('hkchain.settings', JSON.stringify({lang}))", lang)
    p.goto("/#/me")
    p.reload()
    p.get_by_test_id("import-file").set_input_files(str(key_file))
    p.get_by_test_id("import-passphrase").fill(passphrase)
    p.get_by_test_id("import-key").click()
    p.get_by_test_id("my-address").wait_for(timeout=WAIT_MS)
    return w


class Recounts:
    """Recounts of the chain up to a height, one per height asked (empty blocks keep coming,
    and each figure the page shows says the height it was read at)."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.genesis = json.loads(chain.genesis.read_text())
        self.by_height: dict[int, Recount] = {}

    def at(self, height: int) -> Recount:
        if height not in self.by_height:
            pages = off_loop(lambda: run(fetch_blocks(self.chain.rpc_url, height)))[:height + 1]
            assert pages[-1]["height"] == height
            self.by_height[height] = Recount(pages, self.genesis)
        return self.by_height[height]


def figure_height(p: Page, figure: str) -> int:
    return int(p.get_by_test_id(f"figure-{figure}").get_attribute("data-height") or "-1")


def open_dashboard(p: Page, scope: str) -> int:
    """Show the dashboard of ``scope`` (``district`` or an address); the indexed height it
    says its figures are at."""
    p.goto(f"/#/dashboard/{scope}")
    status = p.get_by_test_id("dashboard-status")
    p.wait_for_function("() => { const s = document.querySelector('[data-testid=dashboard-status]');"
                        " return s && s.dataset.height; }", timeout=WAIT_MS)
    p.get_by_test_id("figure-notices").wait_for(timeout=WAIT_MS)
    return int(status.get_attribute("data-height") or "-1")


def table_rows(p: Page, figure: str) -> list[dict[str, Any]] | None:
    """The rows of a figure's table as raw values (data-raw), with their hidden flag."""
    rows: list[dict[str, Any]] | None = p.evaluate("""(figure) => {
        const table = document.querySelector(`[data-testid=table-${figure}]`);
        if (!table) return null;
        return [...table.querySelectorAll('tbody tr')].map((tr) => {
            const row = {suppressed: Number(tr.dataset.suppressed)};
            for (const td of tr.querySelectorAll('td')) row[td.dataset.col] = JSON.parse(td.dataset.raw);
            row._text = [...tr.querySelectorAll('td')].map((td) => td.textContent);
            return row;
        });
    }""", figure)
    return rows


def chart_data(p: Page, figure: str) -> dict[str, Any] | None:
    data: dict[str, Any] | None = p.evaluate("""(figure) => {
        const canvas = document.querySelector(`[data-testid=chart-${figure}]`);
        const chart = canvas && window.Chart.getChart(canvas);
        return chart ? {labels: chart.data.labels,
                         datasets: chart.data.datasets.map((d) => ({label: d.label, data: d.data}))} : null;
    }""", figure)
    return data


def _canon(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, ensure_ascii=False, sort_keys=True) for r in rows)


def check_tables(p: Page, recounts: Recounts, scope: str, lang: str) -> int:
    """Every figure's table equals the recount at the height it was read at; hidden rows
    show no number. The number of hidden rows seen."""
    hidden = 0
    for f in fg.FIGURES:
        recount = recounts.at(figure_height(p, f.name))
        want = [{k: v for k, v in r.items() if k != "committee"} for r in recount.figure(f.name, scope)]
        got = table_rows(p, f.name)
        if not want:
            assert got is None, f"{f.name}: rows shown where the recount has none"
            continue
        assert got is not None, f"{f.name}: no table"
        texts = [r.pop("_text") for r in got]
        assert _canon(got) == _canon(want), (f.name, scope)
        for r, text in zip(got, texts, strict=True):
            if r["suppressed"] == 1:
                hidden += 1
                # Every figure of a hidden row is hidden (keys such as the month stay).
                values = [c for c, _ in f.values] + ["households"]
                cols = [c for c, _ in f.columns if c not in ("committee", "suppressed")]
                assert all(text[cols.index(c)] == HIDDEN[lang] for c in values), (f.name, text)
    return hidden


def test_the_dashboard_shows_the_chains_figures_hides_small_cells_and_exports_them(
        browser: Browser, chain: Chain) -> None:
    height = wait_indexed(chain)
    recounts = Recounts(chain)
    w = sign_in(browser, chain.rpc_url, chain.net.operator_key_file, PASSPHRASE)
    try:
        p = w.page
        assert open_dashboard(p, "district") >= height

        # The district: every table equals the recount.
        hidden = check_tables(p, recounts, "*", "zh-CN")

        # The charts draw the same numbers: turnout per mille as %, with the quorum line.
        turnout = recounts.at(figure_height(p, "turnout")).figure("turnout", "*")
        assert any(r["suppressed"] == 0 for r in turnout), "the mixed load has an owners' vote"
        data = chart_data(p, "turnout")
        assert data is not None
        assert [label.split(" ")[0] for label in data["labels"]] == [f"#{r['proposal_id']}" for r in turnout]
        assert data["datasets"][0]["data"] == [r["heads_permille"] / 10 if r["suppressed"] == 0 else None
                                               for r in turnout]
        assert data["datasets"][1]["data"] == [r["area_permille"] / 10 if r["suppressed"] == 0 else None
                                               for r in turnout]
        assert data["datasets"][2]["data"] == [200 / 3] * len(turnout)
        # Fee collection per estate and month: the line of all estates.
        fees = {r["month"]: r for r in recounts.at(figure_height(p, "fee_collection")).figure("fee_collection", "*")
                if r["estate"] == "*"}
        data = chart_data(p, "fee_collection")
        assert data is not None
        line = next(d for d in data["datasets"] if d["label"] == "全部小区")
        assert dict(zip(data["labels"], line["data"], strict=True)) == {
            m: (r["collection_permille"] / 10 if r["suppressed"] == 0 else None) for m, r in fees.items()}
        # As text too: a rate is a percentage with one decimal.
        rate = next(r for r in fees.values() if r["suppressed"] == 0)["collection_permille"]
        assert f"{rate // 10}.{rate % 10}%" in (p.get_by_test_id("table-fee_collection").text_content() or "")

        # The clerk's own committee: fewer households, so more cells are hidden.
        me = chain.net.operator_address
        open_dashboard(p, me)
        assert p.get_by_test_id("dashboard-scope").input_value() == me
        hidden += check_tables(p, recounts, me, "zh-CN")
        assert hidden > 0, "the recount hides no cell: the test would not see suppression"

        # A small cell: arrears of an estate with fewer than 5 households in arrears.
        small = [r for r in recounts.at(figure_height(p, "arrears")).figure("arrears", me) if r["suppressed"] == 1]
        assert small, "the mixed load leaves an estate with fewer than 5 households in arrears"
        note = p.get_by_test_id("figure-arrears").get_by_test_id("suppressed-note")
        assert note.inner_text() == f"{len(small)} 行少于 5 户，已隐藏。"
        data = chart_data(p, "arrears")
        if data is not None:  # drawn only when some arrears row is shown
            for r in small:
                label = "全部小区" if r["estate"] == "*" else r["estate"]
                ds = next(d for d in data["datasets"] if d["label"] == label)
                assert ds["data"][data["labels"].index(f"{r['bucket']} 天")] is None

        # Exports of the committee's figures: the node's files, downloaded by the page.
        for figure in ("arrears", "fee_collection", "turnout"):
            f = fg.figure(figure)
            card = p.get_by_test_id(f"figure-{figure}")
            with p.expect_download() as dl:
                card.get_by_test_id("export-csv").click()
            assert dl.value.suggested_filename == f"hkchain-{figure}-{me}.csv"
            want = [[r[c] for c, _ in f.columns] for r in recounts.at(wait_indexed(chain)).figure(figure, me)]
            header, *body = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text(encoding="utf-8-sig"))))
            assert header == [zh for _, zh in f.columns]
            assert sorted(body) == sorted([["" if v is None else str(v) for v in r] for r in want]), figure
            with p.expect_download() as dl:
                card.get_by_test_id("export-xlsx").click()
            assert dl.value.suggested_filename == f"hkchain-{figure}-{me}.xlsx"
            sheet = load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))[f.title_zh[:31]]
            header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
            assert header == [zh for _, zh in f.columns]
            assert sorted(map(repr, rows)) == sorted(map(repr, want)), figure
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()


def test_the_dashboard_speaks_english_and_fits_a_phone(browser: Browser, chain: Chain) -> None:
    height = wait_indexed(chain)
    w = sign_in(browser, chain.rpc_url, chain.net.operator_key_file, PASSPHRASE, viewport=MOBILE, lang="en")
    try:
        p = w.page
        assert open_dashboard(p, "district") >= height
        assert "Figures up to block" in p.get_by_test_id("dashboard-status").inner_text()
        check_tables(p, Recounts(chain), "*", "en")
        assert p.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
        assert w.console_errors == [] and w.csp_violations() == []
    finally:
        w.context.close()


def test_a_resident_never_sees_the_dashboard(browser: Browser, chain: Chain) -> None:
    entry = chain.manifest["households"][0]
    w = sign_in(browser, chain.rpc_url, Path(entry["key"]), RESIDENT_PASSPHRASE, viewport=DESKTOP)
    try:
        p = w.page
        assert p.locator("nav.nav a[href='#/dashboard']").count() == 0
        p.goto("/#/dashboard/district")  # typed by hand: the router shows home instead
        p.get_by_test_id("tile-balance").wait_for(timeout=WAIT_MS)
        assert p.get_by_test_id("dashboard-status").count() == 0
        assert not any("/v1/stats" in r.url for r in w.requests)
    finally:
        w.context.close()


def test_a_node_without_the_indexer_says_so(browser: Browser, localnet: Supervisor) -> None:
    w = sign_in(browser, localnet.nodes[0].rpc_url, localnet.network.operator_key_file, PASSPHRASE)
    try:
        p = w.page
        p.goto("/#/dashboard")
        p.get_by_text("本节点没有开启统计").wait_for(timeout=WAIT_MS)
        assert p.locator("[data-testid^=figure-]").count() == 0
        assert [m for m in w.console_errors if "/v1/stats" not in m and "404" not in m] == []
    finally:
        w.context.close()
