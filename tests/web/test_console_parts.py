"""The console's helpers in Chromium: Shanghai times typed by a clerk and the heights they
become, check-in codes from the CSPRNG, and the QR code drawn for a check-in read back by
the vendored jsQR."""

from __future__ import annotations

import calendar
from typing import Any

from tests.web.browser import Watched


def _run(page: Watched, script: str, *args: Any) -> Any:
    page.page.goto("/")
    page.page.wait_for_selector("main h2")
    return page.page.evaluate(script, list(args))


def test_shanghai_times_and_the_chain_clock(page: Watched) -> None:
    got = _run(page, """async () => {
        const m = await import('/static/js/console/shared.js');
        const clock = new m.ChainClock(1000, Date.UTC(2026, 11, 20, 10, 0), 1200);
        return {
          evening: m.shanghaiMs('2026-12-20T18:00'),
          bad: ['2026-13-01T10:00', '2026-12-20 18:00', '', null, '2026-12-20T24:00'].map(m.shanghaiMs),
          back: m.shanghaiInput(m.shanghaiMs('2027-01-05T07:30')),
          roundsUp: m.shanghaiInput(Date.UTC(2026, 11, 20, 10, 0, 1)),
          ahead: clock.heightAt(Date.UTC(2026, 11, 20, 10, 1)),
          past: clock.heightAt(Date.UTC(2026, 11, 20, 9, 0)),
          timeOf: clock.timeOf(1050),
          text: clock.heightText(1050),
        };
    }""")
    assert got["evening"] == calendar.timegm((2026, 12, 20, 10, 0, 0)) * 1000  # 18:00 UTC+8
    assert got["bad"] == [None] * 5
    assert got["back"] == "2027-01-05T07:30"
    assert got["roundsUp"] == "2026-12-20T18:01"
    assert got["ahead"] == 1000 + 50  # 60 s at 1.2 s a block
    assert got["past"] == 1000
    assert got["timeOf"] == calendar.timegm((2026, 12, 20, 10, 1, 0)) * 1000
    assert got["text"] == "区块 1,050（约 2026/12/20 18:01）"
    assert page.console_errors == []


def test_check_in_codes_and_their_qr_code(page: Watched) -> None:
    got = _run(page, """async () => {
        const m = await import('/static/js/console/activities.js');
        await new Promise((resolve, reject) => {
          const s = document.createElement('script');
          s.src = '/vendor/jsqr/jsQR.js'; s.onload = resolve; s.onerror = reject;
          document.head.appendChild(s);
        });
        const codes = Array.from({ length: 2000 }, () => m.newCode());
        const digits = new Array(10).fill(0);
        for (const c of codes) for (const d of c) digits[Number(d)]++;
        const text = 'hkchain-checkin:12:' + codes[0];
        const canvas = m.qrCanvas(text, 'label');
        const img = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        const read = jsQR(img.data, canvas.width, canvas.height);
        return { shapes: codes.every((c) => /^[0-9]{8}$/.test(c)), distinct: new Set(codes).size, digits,
                 read: read && read.data, text, label: canvas.getAttribute('aria-label') };
    }""")
    assert got["shapes"] is True
    assert got["distinct"] >= 1990  # 10^8 codes: a repeat among 2,000 is rare
    assert min(got["digits"]) > 1400 and max(got["digits"]) < 1800  # 16,000 digits, ~1,600 each
    assert got["read"] == got["text"]
    assert got["label"] == "label"
    assert page.csp_violations() == []
