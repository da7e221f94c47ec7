"""The sealed register's routes (node/register.py): signed requests from committee members
only, sealed cards stored and read back without the node ever holding plaintext, removal
of what the chain does not use, erasure on request that is never undone, and the access
log of every read and write. The chain's answers (roles.holds, households.verify) come
from a table standing in for the view calls, refusing any other call as the VM would."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from core.crypto import PrivateKey
from node.register import RegisterService, add_register_routes, sign_request
from privacy.register import HouseholdCard, HouseholdIdentity, PrivacyStore, SealedRecord
from vm.api import QueryError

CHAIN = "hk-test"
NOW_MS = 1_800_000_000_000
CLERK = PrivateKey.from_seed_text("clerk")
OTHER_MEMBER = PrivateKey.from_seed_text("second member")
RESIDENT = PrivateKey.from_seed_text("resident")
HOUSEHOLD = PrivateKey.from_seed_text("household").address


class ChainViews:
    """roles.holds and households.verify as the chain answers them; any other call is
    refused like an unknown method."""

    def __init__(self) -> None:
        self.committee = {CLERK.address, OTHER_MEMBER.address}
        self.commitments: dict[str, bytes] = {}

    async def query(self, contract: str, method: str, args: list[Any], client: str) -> tuple[Any, int]:
        if (contract, method) == ("roles", "holds") and args[1] == "committee":
            return args[0] in self.committee, 7
        if (contract, method) == ("households", "verify"):
            return self.commitments.get(args[0]) == args[1], 7
        raise QueryError(f"{contract}.{method}", code="unknown_method")


def sealed(store_dir: Path, *members: PrivateKey, name: str = "王秀英") -> tuple[SealedRecord, HouseholdCard]:
    """A card sealed elsewhere (a member's browser), as the node receives it."""
    card = HouseholdCard.issue(HOUSEHOLD, 8957, HouseholdIdentity.create(name, "31010919500315002X", "+8613800000000"))
    record = PrivacyStore(store_dir).add(card, [m.public_key for m in members])
    return record, card


class Client:
    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.clock_ms = NOW_MS

    async def call(self, method: str, path: str, body: bytes = b"", key: PrivateKey | None = CLERK,
                   headers: dict[str, str] | None = None, time_ms: int | None = None) -> tuple[int, Any]:
        h = dict(headers or {})
        if key is not None:
            h |= sign_request(key, CHAIN, method, path, body, NOW_MS if time_ms is None else time_ms, os.urandom(16))
        resp = await self.client.request(method, path, data=body, headers=h)
        return resp.status, await resp.json()


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Client, ChainViews, PrivacyStore]]:
    views = ChainViews()
    store = PrivacyStore(tmp_path / "node" / "privacy")
    service = RegisterService(store, CHAIN, views, clock_ms=lambda: NOW_MS)
    app = web.Application()
    add_register_routes(app.router, service)
    async with TestClient(TestServer(app)) as client:
        yield Client(client), views, store


async def test_only_signed_requests_of_committee_members_are_answered(setup: Any) -> None:
    c, views, _ = setup
    assert (await c.call("GET", "/v1/register/records", key=None))[1]["error"]["code"] == "auth_required"
    status, doc = await c.call("GET", "/v1/register/records", key=RESIDENT)
    assert (status, doc["error"]["code"]) == (403, "not_committee")
    status, doc = await c.call("GET", "/v1/register/records", time_ms=NOW_MS - 6 * 60_000)
    assert (status, doc["error"]["code"]) == (401, "auth_expired")
    # A signature over another path, or replayed as it was: refused.
    h = sign_request(CLERK, CHAIN, "GET", "/v1/register/log", b"", NOW_MS, b"\x01" * 16)
    resp = await c.client.get("/v1/register/records", headers=h)
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "auth_bad_signature"
    assert (await c.client.get("/v1/register/log", headers=h)).status == 200
    resp = await c.client.get("/v1/register/log", headers=h)
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "auth_replayed"
    # Another chain's request does not verify here.
    h = sign_request(CLERK, "hk-other", "GET", "/v1/register/log", b"", NOW_MS, b"\x02" * 16)
    assert (await c.client.get("/v1/register/log", headers=h)).status == 401
    # A member whose role was revoked on chain is refused from then on.
    views.committee.discard(OTHER_MEMBER.address)
    assert (await c.call("GET", "/v1/register/members", key=OTHER_MEMBER))[0] == 403
    assert (await c.call("GET", "/v1/register/members"))[0] == 200


async def test_a_sealed_card_is_stored_read_back_and_logged_and_never_plaintext(setup: Any, tmp_path: Path) -> None:
    c, _, store = setup
    record, card = sealed(tmp_path / "browser", CLERK)
    path = f"/v1/register/records/{record.commitment.hex()}"
    body = json.dumps(record.to_json()).encode()
    status, doc = await c.call("PUT", path, body)
    assert (status, doc["created"]) == (201, True)
    assert (await c.call("PUT", path, body))[0] == 200  # again: idempotent
    on_disk = b"".join(p.read_bytes() for p in store.root.iterdir())
    assert "王秀英".encode() not in on_disk and b"13800000000" not in on_disk and card.salt.hex().encode() not in on_disk
    status, doc = await c.call("GET", path + "?purpose=%E6%A0%B8%E5%AF%B9%E7%94%B5%E8%AF%9D")
    assert status == 200 and SealedRecord.from_json(doc) == record
    assert store.open(SealedRecord.from_json(doc), CLERK, log=False) == card
    assert (await c.call("GET", path))[1]["error"]["code"] == "malformed"  # no purpose: no read
    status, doc = await c.call("GET", path + "?purpose=x", key=OTHER_MEMBER)
    assert (status, doc["error"]["code"]) == (403, "wrong_key")
    status, doc = await c.call("GET", f"/v1/register/records?household={HOUSEHOLD}")
    assert doc["records"] == [{"commitment": record.commitment.hex(), "household": HOUSEHOLD,
                               "recipients": [CLERK.address], "erased_at": 0}]
    status, doc = await c.call("GET", "/v1/register/log?limit=10")
    assert [e["purpose"] for e in doc["entries"]] == ["read: 核对电话", "stored again (re-sealed)", "stored"]
    assert doc["entries"][0]["by"] == CLERK.address and doc["entries"][0]["household"] == HOUSEHOLD
    status, doc = await c.call("POST", "/v1/register/log",
                               json.dumps({"purpose": "card printed for the resident",
                                           "commitment": record.commitment.hex()}).encode())
    assert status == 201
    assert (await c.call("GET", "/v1/register/log?limit=1"))[1]["entries"][0]["purpose"] == "card printed for the resident"


async def test_what_is_not_a_sealed_record_of_the_register_is_refused_and_changes_nothing(
        setup: Any, tmp_path: Path) -> None:
    c, _, store = setup
    record, _ = sealed(tmp_path / "browser", CLERK)
    path = f"/v1/register/records/{record.commitment.hex()}"
    good = record.to_json()
    cases = [
        (b"not json", 400, "malformed"),
        (json.dumps({**good, "v": 1}).encode(), 400, "bad_record"),
        (json.dumps({**good, "keys": {CLERK.address: "00" * 32}}).encode(), 400, "bad_record"),
        (json.dumps({**good, "box": "00" * 8}).encode(), 400, "bad_record"),
        (json.dumps({**good, "commitment": "11" * 32}).encode(), 400, "malformed"),
    ]
    for body, status, code in cases:
        got = await c.call("PUT", path, body)
        assert (got[0], got[1]["error"]["code"]) == (status, code), body[:40]
    other, _ = sealed(tmp_path / "browser2", OTHER_MEMBER)
    got = await c.call("PUT", f"/v1/register/records/{other.commitment.hex()}", json.dumps(other.to_json()).encode())
    assert (got[0], got[1]["error"]["code"]) == (403, "wrong_key")  # not sealed to the writer
    assert (await c.call("PUT", path, b"x" * (65 * 1024)))[0] == 413
    assert store.records() == []
    # Once the register has members, a record must open for every one of them.
    store.root.mkdir(parents=True)
    (store.root / "members.json").write_text(json.dumps({"members": [OTHER_MEMBER.public_key.hex()]}))
    got = await c.call("PUT", path, json.dumps(good).encode())
    assert (got[0], got[1]["error"]["code"]) == (409, "members_missing")
    both, _ = sealed(tmp_path / "browser3", CLERK, OTHER_MEMBER)
    assert (await c.call("PUT", f"/v1/register/records/{both.commitment.hex()}",
                         json.dumps(both.to_json()).encode()))[0] == 201


async def test_removal_only_of_what_the_chain_does_not_use_and_erasure_is_final(setup: Any, tmp_path: Path) -> None:
    c, views, store = setup
    record, _ = sealed(tmp_path / "browser", CLERK)
    path = f"/v1/register/records/{record.commitment.hex()}"
    body = json.dumps(record.to_json()).encode()
    assert (await c.call("PUT", path, body))[0] == 201
    views.commitments[HOUSEHOLD] = record.commitment
    got = await c.call("DELETE", path)
    assert (got[0], got[1]["error"]["code"]) == (409, "in_use")
    status, doc = await c.call("POST", path + "/erase")
    assert status == 200 and doc["erased_at"] == NOW_MS // 1000 and "box" not in doc
    assert "box" not in json.loads(store.path_of(record.commitment).read_text())
    for method, p, b in (("GET", path + "?purpose=x", b""), ("PUT", path, body), ("POST", path + "/erase", b"")):
        got = await c.call(method, p, b)
        assert (got[0], got[1]["error"]["code"]) == (410, "erased"), method
    # A record superseded on chain by an update is removed outright.
    newer, _ = sealed(tmp_path / "browser2", CLERK, name="王秀兰")
    npath = f"/v1/register/records/{newer.commitment.hex()}"
    assert (await c.call("PUT", npath, json.dumps(newer.to_json()).encode()))[0] == 201
    views.commitments[HOUSEHOLD] = b"\x09" * 32
    assert (await c.call("DELETE", npath))[0] == 200
    assert not store.path_of(newer.commitment).exists()
    assert (await c.call("DELETE", npath))[1]["error"]["code"] == "not_found"
    purposes = [e["purpose"] for e in store.access_log()]
    assert purposes == ["stored", "erased on request", "stored", "removed (not used on chain)"]
