"""Exports of the figures: one CSV file per figure, or one XLSX workbook (openpyxl) with a
sheet per figure; Chinese column headers; small cells left empty, as the views give them.

CSV is written in UTF-8 with a byte-order mark, so spreadsheet programs on a committee's
office PC read the Chinese headers right.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from analytics import figures as fg
from analytics.errors import AnalyticsError, BadRequest

FORMATS = ("csv", "xlsx")
WORKBOOK = "hkchain-stats.xlsx"


def collect(engine: Engine, committee: str, names: list[str] | None = None) -> list[tuple[fg.Figure, list[dict[str, Any]]]]:
    chosen = [fg.figure(n) for n in names] if names else list(fg.FIGURES)
    with engine.connect() as conn:
        return [(f, fg.read(conn, f, committee)) for f in chosen]


def export(engine: Engine, out_dir: Path, fmt: str, committee: str = fg.DISTRICT,
           names: list[str] | None = None) -> list[Path]:
    """Write the figures to ``out_dir``; the files written."""
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
    data = collect(engine, committee, names)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return _csv(out_dir, data) if fmt == "csv" else [_xlsx(out_dir / WORKBOOK, data, committee)]
    except OSError as exc:
        raise AnalyticsError(f"cannot write to {out_dir}: {exc.strerror or exc}", code="export_failed") from None


def _csv(out_dir: Path, data: list[tuple[fg.Figure, list[dict[str, Any]]]]) -> list[Path]:
    written = []
    for f, records in data:
        path = out_dir / f"{f.name}.csv"
        path.write_bytes(csv_bytes(f, records))
        written.append(path)
    return written


def csv_bytes(f: fg.Figure, records: list[dict[str, Any]]) -> bytes:
    """One figure as a CSV file: UTF-8 with a byte-order mark, Chinese headers, small cells
    left empty."""
    out = io.StringIO(newline="")
    w = csv.writer(out)
    w.writerow([zh for _, zh in f.columns])
    w.writerows([["" if v is None else v for v in row] for row in fg.rows_of(f, records)])
    return out.getvalue().encode("utf-8-sig")


def _xlsx(path: Path, data: list[tuple[fg.Figure, list[dict[str, Any]]]], committee: str) -> Path:
    path.write_bytes(xlsx_bytes(data, committee))
    return path


def xlsx_bytes(data: list[tuple[fg.Figure, list[dict[str, Any]]]], committee: str) -> bytes:
    """A workbook with a sheet per figure (Chinese headers, small cells empty) and a sheet
    saying the scope and the suppression rule."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for f, records in data:
        ws = wb.create_sheet(title=f.title_zh[:31])
        ws.append([zh for _, zh in f.columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in fg.rows_of(f, records):
            ws.append(row)
        ws.freeze_panes = "A2"
    info = wb.create_sheet(title="说明")
    info.append(["范围", "全区" if committee == fg.DISTRICT else committee])
    info.append(["小单元格隐藏", f"少于 {fg.MIN_HOUSEHOLDS} 户的数字不显示"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
