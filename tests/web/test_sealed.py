"""The console's sealing of personal data in Chromium agrees with privacy/ in Python: the
same checks and normal forms of IDs and phones, the same commitment, a card the browser
seals opens with the committee member's key in Python, and a card Python seals opens in
the browser with the member's non-extractable X25519 key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nacl.signing

from core.crypto import PrivateKey
from privacy.checks import check_id, check_phone
from privacy.register import (
    HouseholdCard,
    HouseholdIdentity,
    PrivacyError,
    PrivacyStore,
    SealedRecord,
    commitment_of,
)
from tests.web.browser import Watched

MEMBERS = [PrivateKey.from_seed_text(f"committee member {i}") for i in range(3)]
HOUSEHOLD = PrivateKey.from_seed_text("household 7").address

IDS = ["31010919500315002X", "31010919500315002x", " 310109 19500315002X ", "310109195003150021",
       "31010919501315002X", "31010918990315002X", "3101091950031500", "１1010919500315002X", "ABCDEFGHIJKLMNOPQR"]
OTHER_IDS = ["E12345678", "h123 4567(8)", "AB（12）34", "1234", "E-1234567890123456789", "护照12345"]
PHONES = ["13800000000", "+86 138-0000-0000", "0086 13800000000", "+8612800000000", "+44 20 7946 0958",
          "12345", "+8613800000000", "(138)00000000", "+1", "+0123456789"]


def _py(fn: Any, *args: Any) -> str:
    try:
        return str(fn(*args))
    except PrivacyError:
        return "error"


def test_checks_and_normal_forms_agree_with_python(page: Watched) -> None:
    p = page.page
    p.goto("/")
    p.wait_for_selector("main h2")
    got: dict[str, list[str]] = p.evaluate("""async ([ids, others, phones]) => {
        const s = await import('/static/js/console/sealed.js');
        const run = (fn, x) => { try { return fn(x); } catch (e) { return 'error'; } };
        return {ids: ids.map((x) => run(s.checkResidentId, x)), others: others.map((x) => run(s.checkOtherId, x)),
                phones: phones.map((x) => run(s.checkPhone, x))};
    }""", [IDS, OTHER_IDS, PHONES])
    assert got["ids"] == [_py(check_id, x, "resident") for x in IDS]
    assert got["others"] == [_py(check_id, x, "other") for x in OTHER_IDS]
    assert got["phones"] == [_py(check_phone, x) for x in PHONES]
    assert got["ids"][0] == "31010919500315002X" and got["phones"][1] == "+8613800000000"  # not all errors


def test_commitment_and_x25519_keys_agree_with_python(page: Watched) -> None:
    p = page.page
    p.goto("/")
    p.wait_for_selector("main h2")
    salt = bytes(range(32))
    names = ["王秀英", " 李 建国 ", "Zoë Smith", "e\u0301lodie"]
    got: dict[str, Any] = p.evaluate("""async ([salt, names, keys]) => {
        const s = await import('/static/js/console/sealed.js');
        const b = await import('/static/js/bytes.js');
        const out = [];
        for (const n of names) {
          const ident = s.identity(n, '31010919500315002X', '138 0000 0000');
          out.push([ident, b.toHex(await s.commitmentOf(b.fromHex(salt), ident))]);
        }
        return {commitments: out, x: keys.map((k) => b.toHex(s.x25519OfEd25519(b.fromHex(k))))};
    }""", [salt.hex(), names, [k.public_key.hex() for k in MEMBERS]])
    for name, (ident, commitment) in zip(names, got["commitments"], strict=True):
        py = HouseholdIdentity.create(name, "31010919500315002X", "+8613800000000")
        assert ident == py.to_value()
        assert commitment == commitment_of(salt, py).hex()
    assert got["x"] == [bytes(nacl.signing.VerifyKey(k.public_key).to_curve25519_public_key()).hex()
                        for k in MEMBERS]


def test_a_card_sealed_in_the_browser_opens_in_python_and_the_reverse(page: Watched, tmp_path: Path) -> None:
    p = page.page
    p.goto("/")
    p.wait_for_selector("main h2")
    doc: dict[str, Any] = p.evaluate("""async ([household, keys]) => {
        const s = await import('/static/js/console/sealed.js');
        const b = await import('/static/js/bytes.js');
        const card = s.newCard(household, 8957, s.identity('王秀英', '31010919500315002X', '13800000000'));
        return s.sealCard(card, keys.map(b.fromHex));
    }""", [HOUSEHOLD, [k.public_key.hex() for k in MEMBERS[:2]]])
    record = SealedRecord.from_json(doc)
    store = PrivacyStore(tmp_path)
    for member in MEMBERS[:2]:
        card = store.open(record, member, log=False)
        assert card.household == HOUSEHOLD and card.area_dm2 == 8957
        assert card.identity.name == "王秀英" and card.identity.phone == "+8613800000000"
        assert card.commitment == record.commitment
    try:
        store.open(record, MEMBERS[2], log=False)
        raise AssertionError("a member it is not sealed to opened it")
    except PrivacyError as exc:
        assert exc.code == "wrong_key"

    card = HouseholdCard.issue(HOUSEHOLD, 12000, HouseholdIdentity.create("李建国", "E12345678", "+442079460958"))
    sealed = store.add(card, [MEMBERS[1].public_key, MEMBERS[2].public_key])
    opened: list[Any] = p.evaluate("""async ([record, seeds]) => {
        const s = await import('/static/js/console/sealed.js');
        const k = await import('/static/js/keys.js');
        const b = await import('/static/js/bytes.js');
        const out = [];
        for (const seed of seeds) {
          const key = await k.keyFromSeed(b.fromHex(seed));
          key.boxKey = await k.boxKeyFromSeed(b.fromHex(seed));
          try {
            const card = await s.openCard(record, key);
            out.push([card.identity.name, card.identity.id_number, card.area_dm2, b.toHex(card.salt)]);
          } catch (e) { out.push(e.code); }
        }
        return out;
    }""", [sealed.to_json(), [m.seed.hex() for m in MEMBERS]])
    assert opened[0] == "wrong_key"
    assert opened[1] == opened[2] == ["李建国", "E12345678", 12000, card.salt.hex()]
    # A record whose box was swapped for another's does not open as this household's.
    forged = {**sealed.to_json(), "box": json.loads(json.dumps(doc))["box"]}
    assert p.evaluate("""async ([record, seed]) => {
        const s = await import('/static/js/console/sealed.js');
        const k = await import('/static/js/keys.js');
        const b = await import('/static/js/bytes.js');
        const key = await k.keyFromSeed(b.fromHex(seed));
        key.boxKey = await k.boxKeyFromSeed(b.fromHex(seed));
        try { await s.openCard(record, key); return 'opened'; } catch (e) { return e.code; }
    }""", [forged, MEMBERS[1].seed.hex()]) == "bad_record"
