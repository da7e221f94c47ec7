"""Personal data checked before it is sealed or signed: GB 11643 ID numbers (length,
birth date, check character), other document numbers, mainland mobile and international
phone numbers."""

from __future__ import annotations

import pytest

from privacy.checks import (
    IdentityCheckError,
    check_id,
    check_other_id,
    check_phone,
    check_resident_id,
    id_check_char,
)


def test_resident_id_numbers() -> None:
    assert check_resident_id("11010519491231002X") == "11010519491231002X"  # the standard's example
    assert check_resident_id(" 11010519491231002x ") == "11010519491231002X"
    valid = "310101199003070" + "01"
    full = valid + id_check_char(valid)
    assert check_id(full) == full
    wrong = full[:17] + ("0" if full[17] != "0" else "1")
    for bad, why in (("abc", "18 characters"), ("1101051949123100", "18 characters"),
                     (wrong, "check character"), ("11010519491331002X", "not a date"),
                     ("11010518991231002X", "before 1900")):
        with pytest.raises(IdentityCheckError) as err:
            check_resident_id(bad)
        assert why in err.value.message and err.value.code == "bad_identity"


def test_other_document_numbers() -> None:
    assert check_other_id("A123456(7)") == "A1234567"
    assert check_id("e 1234 5678", "other") == "E12345678"
    for bad in ("abc", "", "护照12345", "X" * 21):
        with pytest.raises(IdentityCheckError):
            check_other_id(bad)
    with pytest.raises(IdentityCheckError):
        check_id("A1234567", "passport")


def test_phones() -> None:
    assert check_phone("13800138000") == "+8613800138000"
    assert check_phone("138-0013-8000") == "+8613800138000"
    assert check_phone("+86 138 0013 8000") == "+8613800138000"
    assert check_phone("0086 13800138000") == "+8613800138000"
    assert check_phone("+852 9000 1234") == "+85290001234"
    for bad in ("123", "12800138000", "1380013800", "+86 021 5555 1234", "+1234", "phone"):
        with pytest.raises(IdentityCheckError):
            check_phone(bad)
