"""A demo community for a fresh local network (`hkchain localnet --demo`).

Seeds, through a node's RPC and in a few batched rounds: six owner households in three
buildings (their personal data sealed in the committee's register on node0, only
commitments on chain; resident keys and cards saved under ``HOME/demo/``), a property
company with a fee schedule and bills (some paid), two merchants, two service providers
and a matched service request, a maintenance-fund spend under the owners' vote, a notice,
an activity with sign-ups, and three culture works with likes. Then prints a summary.

The RPC client is injected (``DemoChain``), so this module needs nothing of cli/; the
CLI passes its wallet-based client. Every name, ID number and phone number below is
fictitious.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.codec import Value
from core.crypto import PrivateKey
from core.errors import ChainError
from node.home import LocalNetwork
from privacy.register import HouseholdCard, HouseholdIdentity, PrivacyStore

DEMO_DIR = "demo"
MANIFEST_FILE = "community.json"
RESIDENT_FUNDS = 2_000_000
ACTOR_FUNDS = 5_000_000
FUND_DEPOSIT = 50_000


class DemoError(ChainError):
    code = "demo_failed"


class DemoChain(Protocol):
    """What seeding needs from a node: signed calls, views and the blob store."""

    async def submit(self, key: PrivateKey, contract: str, method: str, args: Sequence[Value]) -> str:
        """Sign with ``key`` (tracking its nonce) and submit; the tx hash (hex)."""

    async def wait(self, tx_hashes: Sequence[str]) -> list[dict[str, Any]]:
        """The committed receipts (JSON form) of ``tx_hashes``, in order."""

    async def query(self, contract: str, method: str, args: Sequence[Value]) -> Any: ...

    async def upload_blob(self, data: bytes) -> str:
        """Store ``data`` in the node's blob store; its SHA-256 (hex)."""


@dataclass(frozen=True)
class DemoResident:
    label: str
    unit: str
    area_dm2: int
    name: str
    id_number: str
    phone: str


# Fictitious people: test-range phone numbers, ID numbers that are not valid ones.
RESIDENTS = (
    DemoResident("resident-1", "Garden-T1-0302", 8957, "陈美玲", "DEMO110101198001010011", "13800000001"),
    DemoResident("resident-2", "Garden-T1-0805", 10240, "李建国", "DEMO110101197502020022", "13800000002"),
    DemoResident("resident-3", "Garden-T2-1201", 7630, "王芳", "DEMO110101199003030033", "13800000003"),
    DemoResident("resident-4", "Garden-T2-1506", 12010, "张伟", "DEMO110101196804040044", "13800000004"),
    DemoResident("resident-5", "Riverside-B3-0401", 6545, "刘洋", "DEMO110101198805050055", "13800000005"),
    DemoResident("resident-6", "Riverside-B3-0902", 9320, "黄丽华", "DEMO110101197206060066", "13800000006"),
)
ACTORS = (
    ("property-co", "property_company"),
    ("merchant-bakery", "merchant"),
    ("merchant-grocer", "merchant"),
    ("provider-plumber", "service_provider"),
    ("provider-handyman", "service_provider"),
)
SCHEDULE: list[Value] = [
    ["mgmt", "Property management", "area", 250],
    ["clean", "Cleaning of common parts", "area", 60],
    ["lift", "Lift maintenance", "fixed", 1500],
]
WORKS = (
    ("resident-1", "calligraphy", "和 — harmony (brush, 68 x 136 cm)", "和睦邻里"),
    ("resident-3", "photography", "Morning on the Riverside path", "riverside-morning"),
    ("resident-5", "writing", "Memories of the old well", "old-well"),
)


def demo_plaintexts() -> list[str]:
    """Every piece of personal data the demo uses (for privacy scans)."""
    return [s for r in RESIDENTS for s in (r.name, r.id_number, r.phone)]


def _work_bytes(kind: str, title: str, seed: str) -> bytes:
    # A small SVG stands in for a scan or photo: real bytes with a stable hash.
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="240">'
        f'<rect width="400" height="240" fill="#f4efe1"/><text x="20" y="120" font-size="28">{seed}</text>'
        f'<text x="20" y="200" font-size="14">{kind}: {title}</text></svg>\n'
    ).encode()


class _Round:
    """Calls submitted together (same block where possible), then awaited together."""

    def __init__(self, chain: DemoChain, what: str) -> None:
        self.chain = chain
        self.what = what
        self.hashes: list[str] = []
        self.labels: list[str] = []

    async def call(self, key: PrivateKey, contract: str, method: str, args: Sequence[Value]) -> None:
        self.hashes.append(await self.chain.submit(key, contract, method, args))
        self.labels.append(f"{contract}.{method}")

    async def results(self) -> list[Any]:
        receipts = await self.chain.wait(self.hashes)
        for label, rec in zip(self.labels, receipts, strict=True):
            if rec.get("status") != 0:
                raise DemoError(f"{self.what}: {label} failed: {rec.get('error_code')} "
                                f"{rec.get('error_message')}")
        return [r.get("result") for r in receipts]


def _key(keys_dir: Path, label: str) -> PrivateKey:
    path = keys_dir / f"{label}.key"
    if path.exists():
        return PrivateKey.load(path)
    key = PrivateKey.generate()
    key.save(path)
    return key


async def seed_demo(chain: DemoChain, network: LocalNetwork) -> dict[str, Any]:
    """Seed the community (once per home); the manifest of what exists, also written to
    ``HOME/demo/community.json``."""
    demo_dir = network.home / DEMO_DIR
    manifest_path = demo_dir / MANIFEST_FILE
    if manifest_path.exists():
        doc: dict[str, Any] = json.loads(manifest_path.read_text())
        return doc
    keys_dir, cards_dir = demo_dir / "keys", demo_dir / "cards"
    if keys_dir.exists():
        raise DemoError(f"an earlier seeding of {network.home} was interrupted (no {manifest_path}); "
                        "start the demo in a fresh home: hkchain localnet --demo --home NEW_DIR")
    operator = PrivateKey.load(network.operator_key_file)
    residents = {r.label: _key(keys_dir, r.label) for r in RESIDENTS}
    actors = {label: _key(keys_dir, label) for label, _ in ACTORS}
    addr = {label: k.address for label, k in {**residents, **actors}.items()}
    store = PrivacyStore.of_node_home(network.nodes[0].home)

    # 1. The committee funds everyone, grants roles and registers the households. Only
    #    the commitment reaches the chain; the data is sealed to the committee member.
    r1 = _Round(chain, "registering the community")
    for label in addr:
        await r1.call(operator, "token", "transfer",
                      [addr[label], RESIDENT_FUNDS if label in residents else ACTOR_FUNDS])
    for label, role in ACTORS:
        await r1.call(operator, "roles", "grant", [addr[label], role])
    cards = {}
    for r in RESIDENTS:
        card = HouseholdCard.issue(addr[r.label], r.area_dm2,
                                   HouseholdIdentity.create(r.name, r.id_number, r.phone))
        card.save(cards_dir / f"{r.label}.card.json")
        store.add(card, operator.public_key)
        cards[r.label] = card
        await r1.call(operator, "roles", "grant", [addr[r.label], "resident"])
        await r1.call(operator, "households", "register",
                      [addr[r.label], r.unit, r.area_dm2, card.commitment])
    await r1.results()

    # 2. Everyone sets up shop; works are uploaded and registered by hash.
    now_s = int(time.time())
    r2 = _Round(chain, "setting up")
    pco = actors["property-co"]
    await r2.call(pco, "property", "set_schedule", [SCHEDULE])
    for r in RESIDENTS:
        await r2.call(pco, "property", "issue_bill", [addr[r.label], "2027-01", [["Parking", 150]]
                                                      if r.label in ("resident-2", "resident-4") else []])
    await r2.call(pco, "property", "register_contract",
                  [bytes(32), "Evergreen Lift Services Ltd", now_s, now_s + 365 * 86400, 180_000])
    await r2.call(actors["merchant-bakery"], "merchants", "register", ["Golden Crust Bakery", "bakery"])
    await r2.call(actors["merchant-grocer"], "merchants", "register", ["Ah Fat Grocery", "grocery"])
    await r2.call(actors["provider-plumber"], "services", "register_provider", [["plumbing", "repair"]])
    await r2.call(actors["provider-handyman"], "services", "register_provider",
                  [["plumbing", "electrical", "repair"]])
    notice_text = (b"Water supply to Garden T1 will be interrupted on Saturday 09:00-12:00 "
                   b"for pipe maintenance.")
    notice_hash = await chain.upload_blob(notice_text)
    await r2.call(operator, "notices", "post", ["Water interruption, Garden T1, Saturday",
                                                 bytes.fromhex(notice_hash)])
    await r2.call(operator, "activities", "propose",
                  ["volunteer", "Riverside clean-up morning", now_s + 3 * 86400, 30])
    work_hashes = []
    for label, kind, title, seed in WORKS:
        data = _work_bytes(kind, title, seed)
        h = await chain.upload_blob(data)
        work_hashes.append(h)
        await r2.call(residents[label], "culture", "register_work", [bytes.fromhex(h), title, kind, len(data)])
    request_hash = await chain.upload_blob("厨房水龙头漏水，请尽快上门维修。The kitchen tap leaks.".encode())
    await r2.call(residents["resident-2"], "services", "request",
                  ["plumbing", bytes.fromhex(request_hash), 800])
    for label in ("resident-1", "resident-2", "resident-4"):
        await r2.call(residents[label], "property", "deposit_fund", [FUND_DEPOSIT])
    bill_ids = dict(zip((r.label for r in RESIDENTS), (await r2.results())[1:1 + len(RESIDENTS)],
                        strict=True))

    # 3. Daily life: payments, offers, likes, purchases, sign-ups, a fund spend to vote on.
    r3 = _Round(chain, "daily life")
    for label in ("resident-1", "resident-3", "resident-5"):
        await r3.call(residents[label], "property", "pay_bill", [bill_ids[label]])
    await r3.call(actors["provider-plumber"], "services", "offer", [1, 650])
    await r3.call(actors["provider-handyman"], "services", "offer", [1, 720])
    for liker, work_id in (("resident-2", 1), ("resident-4", 1), ("resident-6", 1), ("resident-1", 2),
                           ("resident-2", 2), ("resident-6", 3)):
        await r3.call(residents[liker], "culture", "like", [work_id])
    await r3.call(residents["resident-3"], "merchants", "purchase",
                  [addr["merchant-bakery"], 120, "GC-0001"])
    await r3.call(residents["resident-6"], "merchants", "purchase",
                  [addr["merchant-grocer"], 340, "AF-0001"])
    await r3.call(actors["merchant-bakery"], "merchants", "promote", [7])
    for label in ("resident-1", "resident-4", "resident-5"):
        await r3.call(residents[label], "activities", "sign_up", [1])
    for label in ("resident-1", "resident-2", "resident-6"):
        await r3.call(residents[label], "notices", "acknowledge", [1])
    plan_hash = await chain.upload_blob(
        "更换花园T1锈蚀水管：报价60,000积分，工期两周，由持证水电工施工。\n"
        "Replace the rusted water pipes of Garden T1: quote 60,000 points, two weeks, licensed plumber.\n"
        .encode())
    await r3.call(pco, "property", "propose_spend",
                  [addr["provider-plumber"], 60_000, "Replace the rusted water pipes of Garden T1",
                   bytes.fromhex(plan_hash)])
    await r3.results()

    # 4. The request is matched (best-ranked offer) and votes start coming in.
    r4 = _Round(chain, "matching and voting")
    await r4.call(residents["resident-2"], "services", "accept", [1, ""])
    spend = await chain.query("property", "spend", [1])
    pid = spend["pid"] if isinstance(spend, dict) else 0
    for label, choice in (("resident-1", "yes"), ("resident-2", "yes"), ("resident-4", "no")):
        await r4.call(residents[label], "governance", "vote", [pid, choice])
    await r4.results()

    manifest = {
        "chain_id": network.chain_id,
        "rpc_url": network.nodes[0].rpc_url,
        "committee_key": str(network.operator_key_file),
        "privacy_store": str(store.root),
        "households": [{"label": r.label, "unit": r.unit, "area_dm2": r.area_dm2,
                        "address": addr[r.label], "key": str(keys_dir / f"{r.label}.key"),
                        "card": str(cards_dir / f"{r.label}.card.json")} for r in RESIDENTS],
        "actors": [{"label": label, "role": role, "address": addr[label],
                    "key": str(keys_dir / f"{label}.key")} for label, role in ACTORS],
        "works": work_hashes,
        "notice_hash": notice_hash,
        "spend_proposal": pid,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


async def summary(chain: DemoChain, manifest: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """Tables (title, columns, rows) describing the community as the chain has it now."""
    out: list[tuple[str, list[str], list[list[str]]]] = []
    rows = []
    for h in manifest["households"]:
        bills = await chain.query("property", "bills_of", [h["address"]]) or []
        states = [await chain.query("property", "bill", [b]) for b in bills]
        paid = sum(1 for s in states if isinstance(s, dict) and s.get("status") == "paid")
        area = h["area_dm2"]
        rows.append([h["unit"], f"{area // 100}.{area % 100:02d} m²", h["address"],
                     f"{paid}/{len(bills)} paid", h["key"]])
    out.append(("Households (personal data sealed in the committee's register; on chain: commitments)",
                ["unit", "area", "address", "bills", "key file"], rows))
    out.append(("Businesses", ["who", "role", "address", "key file"],
                [[a["label"], a["role"], a["address"], a["key"]] for a in manifest["actors"]]))
    pid = manifest["spend_proposal"]
    tally = await chain.query("governance", "tally", [pid])
    prop = await chain.query("governance", "proposal", [pid])
    works = []
    for i in range(1, len(manifest["works"]) + 1):
        w = await chain.query("culture", "work", [i])
        if isinstance(w, dict):
            works.append([str(i), w["title"], w["kind"], str(w["likes"]), str(w["content_hash"])[:18] + "…"])
    out.append(("Culture works (files on every node, by hash)", ["id", "title", "kind", "likes", "hash"], works))
    req = await chain.query("services", "request_of", [1])
    fund = await chain.query("property", "fund", [])
    activity = await chain.query("activities", "activity", [1])
    notice = await chain.query("notices", "notice", [1])
    out.append(("Community", ["what", "state"], [
        ["maintenance fund", f"{fund} pts"],
        [f"proposal #{pid}", f"{prop.get('title') if isinstance(prop, dict) else '?'} — "
                             f"{prop.get('status') if isinstance(prop, dict) else '?'}, "
                             f"{tally.get('voted_owners') if isinstance(tally, dict) else '?'} households voted "
                             f"(closes at block {prop.get('closes') if isinstance(prop, dict) else '?'})"],
        ["service request #1", f"{req.get('category')} — {req.get('status')}, provider "
                               f"{req.get('provider')} at {req.get('price')} pts" if isinstance(req, dict) else "?"],
        ["activity #1", f"{activity.get('title')} — {activity.get('signed_up')} signed up"
                        if isinstance(activity, dict) else "?"],
        ["notice #1", f"{notice.get('title')} — read by {notice.get('acks')}" if isinstance(notice, dict) else "?"],
    ]))
    return out
