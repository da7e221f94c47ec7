"""The clerk's CSV: Chinese or English headers, Excel's BOM, blank lines skipped, clear
refusals for unknown or missing columns and ragged rows; reports written with a BOM."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from cli.apps.bulk import read_table, write_table
from cli.apps.households import HOUSEHOLD_COLUMNS, REQUIRED_HOUSEHOLD_COLUMNS, _parse_rows


def test_chinese_headers_and_a_bom(tmp_path: Path) -> None:
    f = tmp_path / "住户.csv"
    f.write_bytes("\ufeff房号,面积,姓名,身份证号,手机号\n3-101,89.5,王芳,11010519491231002X,13800138000\n\n".encode())
    rows = read_table(f, HOUSEHOLD_COLUMNS, REQUIRED_HOUSEHOLD_COLUMNS)
    assert rows == [{"unit": "3-101", "area": "89.5", "name": "王芳", "id_number": "11010519491231002X",
                     "phone": "13800138000", "_line": "2"}]
    parsed, errors = _parse_rows(rows)
    assert errors == [] and parsed[0].area_dm2 == 8950 and parsed[0].identity.phone == "+8613800138000"


def test_every_bad_row_is_named(tmp_path: Path) -> None:
    f = tmp_path / "住户.csv"
    f.write_text("unit,area,name,id_number,phone\n"
                 "3-101,89.5,王芳,11010519491231002X,13800138000\n"
                 "3-101,80,李娜,11010519491231002X,13800138001\n"
                 "3-102,-1,李娜,11010519491231002X,13800138001\n"
                 "3-103,80,李娜,abc,13800138001\n"
                 "3-104,80,李娜,11010519491231002X,123\n", encoding="utf-8")
    _, errors = _parse_rows(read_table(f, HOUSEHOLD_COLUMNS, REQUIRED_HOUSEHOLD_COLUMNS))
    assert [e.split(":")[0] for e in errors] == ["line 3", "line 4", "line 5", "line 6"]
    assert "twice" in errors[0] and "ID number" in errors[2] and "phone" in errors[3].lower()


def test_refusals(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    for text, why in (("房号,面积,姓名,身份证号\n", "missing column"), ("房号,楼层\n", "unknown column"),
                      ("", "empty"), ("房号,面积,姓名,身份证号,手机号\n1,2\n", "line 2")):
        f.write_text(text, encoding="utf-8")
        with pytest.raises(click.BadParameter) as err:
            read_table(f, HOUSEHOLD_COLUMNS, REQUIRED_HOUSEHOLD_COLUMNS)
        assert why in err.value.message
    f.write_bytes("房号\n".encode("gbk"))
    with pytest.raises(click.BadParameter) as err:
        read_table(f, HOUSEHOLD_COLUMNS, REQUIRED_HOUSEHOLD_COLUMNS)
    assert "UTF-8" in err.value.message
    with pytest.raises(click.BadParameter):
        read_table(tmp_path / "none.csv", HOUSEHOLD_COLUMNS, REQUIRED_HOUSEHOLD_COLUMNS)


def test_a_report_opens_in_excel(tmp_path: Path) -> None:
    f = tmp_path / "报告.csv"
    write_table(f, ["房号", "状态"], [["3-101", "已登记"], ["3-102", None]])
    assert f.read_bytes().startswith("\ufeff".encode())
    assert f.read_text(encoding="utf-8-sig").splitlines() == ["房号,状态", "3-101,已登记", "3-102,"]
