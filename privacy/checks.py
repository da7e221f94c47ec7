"""Checks of personal data as a committee clerk types it, before anything is sealed or
signed: a mainland resident ID number (GB 11643-1999: 17 digits, a valid birth date, and
the ISO 7064 MOD 11-2 check character), a mainland mobile number, or, for people without
a mainland ID, another document number or an international phone number.

Each check returns the normal form (ID upper-case, phone digits with its country code)
or raises ``IdentityCheckError`` naming what is wrong, in words a clerk can act on.
"""

from __future__ import annotations

import datetime
import re

from privacy.register import PrivacyError

# GB 11643-1999 weights of the 17 digits, and the check character by (sum mod 11).
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
ID_RE = re.compile(r"\d{17}[\dX]")
OTHER_ID_RE = re.compile(r"[A-Z0-9]{5,20}")
# Mainland mobile numbers: 11 digits, 1 then 3..9 (numbering plan of the MIIT).
MOBILE_RE = re.compile(r"1[3-9]\d{9}")
INTL_RE = re.compile(r"\+[1-9]\d{7,14}")
ID_TYPES = ("resident", "other")


class IdentityCheckError(PrivacyError):
    code = "bad_identity"


def id_check_char(first17: str) -> str:
    """The check character of 17 ID digits (ISO 7064 MOD 11-2, as GB 11643 uses it)."""
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def check_resident_id(text: str) -> str:
    """A mainland resident identity card number (居民身份证号码), normalised."""
    t = text.strip().upper().replace(" ", "")
    if not ID_RE.fullmatch(t):
        raise IdentityCheckError("a resident ID number is 18 characters: 17 digits and a digit or X")
    try:
        born = datetime.date(int(t[6:10]), int(t[10:12]), int(t[12:14]))
    except ValueError:
        raise IdentityCheckError(f"the birth date in the ID number, {t[6:14]}, is not a date") from None
    if born.year < 1900:
        raise IdentityCheckError(f"the birth date in the ID number, {t[6:14]}, is before 1900")
    if id_check_char(t[:17]) != t[17]:
        raise IdentityCheckError("the ID number's check character is wrong: a digit is mistyped")
    return t


def check_other_id(text: str) -> str:
    """Another document's number (passport, Hong Kong/Macao/Taiwan permit): 5..20 letters
    and digits, spaces, brackets and dashes dropped."""
    t = re.sub(r"[\s()\-（）]", "", text).upper()
    if not OTHER_ID_RE.fullmatch(t):
        raise IdentityCheckError("a document number is 5..20 letters and digits")
    return t


def check_id(text: str, id_type: str = "resident") -> str:
    if id_type == "resident":
        return check_resident_id(text)
    if id_type == "other":
        return check_other_id(text)
    raise IdentityCheckError(f"ID type: one of {', '.join(ID_TYPES)}")


def check_phone(text: str) -> str:
    """A mainland mobile number (with or without +86 / 0086), or an international number
    in E.164 form (+ and 8..15 digits, not +86). Returns +86… or the +… form."""
    t = re.sub(r"[\s\-()]", "", text)
    if t.startswith("0086"):
        t = "+86" + t[4:]
    mainland = t.removeprefix("+86")
    if MOBILE_RE.fullmatch(mainland):
        return "+86" + mainland
    if t.startswith("+86"):
        raise IdentityCheckError("a mainland mobile number is 11 digits starting 13–19")
    if INTL_RE.fullmatch(t):
        return t
    raise IdentityCheckError("a phone is a mainland mobile number (11 digits starting 13–19) "
                             "or an international number starting with + and its country code")
