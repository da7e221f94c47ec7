"""The community applications end to end: one 4-validator localnet (real processes on
127.0.0.1) seeded with the demo community, then each flow driven through the `hkchain`
commands a resident or operator types, and checked on every node.

Flows: a bill issued, paid and shown paid everywhere; a role refused with a clear error;
a residents' draft put to the vote by co-signers; a maintenance-fund spend refused
without a passed owners' vote and paid with one; a service request matched, escrowed,
completed and rated; likes rewarded up to the daily cap; attendance rewarded once; a work
uploaded to one node and served byte for byte by all, including one that was down during
the upload; the views through POST /v1/query; a household registered, proved, updated.
Last, with the nodes stopped, every key and value of every node's store, every log and
the committee's register are scanned for the personal data used: none is found.

The genesis is the repository's with a short owners' voting period (so a vote closes
during the test) and likes worth 5 points with a daily cap of 12.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner, Result

from cli.apps.demo import seed
from cli.main import main
from cli.wallet import RpcClient, WalletError, run
from core.codec import Value
from core.crypto import PrivateKey
from node.config import NodeConfig
from node.home import LocalNetwork, default_genesis_template, init_network
from node.localnet import Supervisor
from privacy.register import PrivacyStore
from storage.leveldb import LevelDBStore
from tests.e2e.harness import (
    E2E_MAX_VIEW_TIMEOUT_MS,
    E2E_VIEW_TIMEOUT_MS,
    describe_logs,
    free_base_port,
    running,
)
from tools.demo import demo_plaintexts

pytestmark = pytest.mark.slow

N_NODES = 4
VOTING_BLOCKS = 20
LIKE_REWARD = 5
DAILY_CAP = 12
ATTENDANCE_REWARD = 10
WAIT_S = 60.0
# A household registered through the CLI during the test: its data must stay off chain.
CLI_IDENTITY = ("Leung Ka Ho 梁家豪", "TEST0099887766", "+85290001234")
CLI_NEW_PHONE = "+85290005678"


@dataclass
class Community:
    net: LocalNetwork
    sup: Supervisor
    manifest: dict[str, Any]
    home: Path
    keys: dict[str, Path] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    households: list[str] = field(default_factory=list)

    def rpc(self, node: int = 0) -> str:
        return self.net.nodes[node].rpc_url

    def cli(self, *args: str, key: str | None = None, node: int = 0) -> Result:
        env = {"HKCHAIN_RPC": self.rpc(node),
               "HKCHAIN_KEY": str(self.keys[key] if key else self.net.operator_key_file),
               "HKCHAIN_PRIVACY_STORE": str(PrivacyStore.of_node_home(self.net.nodes[0].home).root),
               "COLUMNS": "200"}
        return CliRunner().invoke(main, list(args), env=env)

    def ok(self, *args: str, key: str | None = None, node: int = 0) -> dict[str, Any]:
        """Run a signing command with --json; its parsed output (the call committed)."""
        result = self.cli(*args, "--json", key=key, node=node)
        assert result.exit_code == 0, f"hkchain {' '.join(args)} failed:\n{result.output}"
        doc: dict[str, Any] = json.loads(result.stdout)
        return doc

    def query(self, contract: str, method: str, args: Sequence[Value] = (), node: int = 0) -> Any:
        async def go() -> Any:
            async with RpcClient(self.rpc(node)) as rpc:
                return await rpc.query(contract, method, list(args))

        return run(go())

    def balance(self, who: str, node: int = 0) -> int:
        value = self.query("token", "balance", [self.addresses.get(who, who)], node)
        assert type(value) is int
        return value

    def wait_for(self, what: str, check: Any, timeout_s: float = WAIT_S) -> Any:
        return poll(what, check, timeout_s, lambda: describe_logs(self.sup))


# What a node that is behind or restarting answers while a test waits for it: an RPC error
# or no answer (WalletError), or a record not there yet (None where a dict is read). A
# failed assertion in a check is a failure of the test, never a reason to wait longer.
NOT_YET = (WalletError, LookupError, TypeError)


def poll(what: str, check: Callable[[], Any], timeout_s: float,
         describe: Callable[[], str] = str, interval_s: float = 0.25) -> Any:
    """Call ``check`` until it returns something true; retry only on NOT_YET errors."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        try:
            last = check()
            if last:
                return last
        except NOT_YET as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {last!r})\n{describe()}")
        time.sleep(interval_s)


def _genesis_template(path: Path) -> Path:
    doc = json.loads(default_genesis_template().read_text())
    doc["params"]["governance"]["owners_voting_blocks"] = VOTING_BLOCKS
    # (the per-liker cap is tested on its own in tests/apps/test_rewards.py)
    doc["params"]["culture"].update(like_reward=LIKE_REWARD, daily_cap=DAILY_CAP, liker_daily_cap=1000)
    doc["params"]["activities"]["attendance_reward"] = ATTENDANCE_REWARD
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def community(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Community]:
    root = tmp_path_factory.mktemp("apps")
    net = init_network(root / "net", N_NODES, base_port=free_base_port(N_NODES),
                       genesis_template=_genesis_template(root / "genesis.json"))
    for node in net.nodes:  # the e2e harness's faster view changes (a node goes down below)
        config = NodeConfig.load(node.home)
        consensus = dataclasses.replace(config.consensus, view_timeout_ms=E2E_VIEW_TIMEOUT_MS,
                                        max_view_timeout_ms=E2E_MAX_VIEW_TIMEOUT_MS)
        config.with_changes(consensus=consensus).save(node.home)
    with running(net) as sup:
        sup.wait_ready(timeout_ms=60_000)
        manifest, _ = run(seed(net))
        c = Community(net, sup, manifest, root)
        for entry in manifest["households"] + manifest["actors"]:
            c.keys[entry["label"]] = Path(entry["key"])
            c.addresses[entry["label"]] = entry["address"]
        c.households = [h["label"] for h in manifest["households"]]
        yield c


def _new_key(c: Community, label: str, funds: int = 0) -> str:
    key = PrivateKey.generate()
    path = c.home / f"{label}.key"
    key.save(path)
    c.keys[label], c.addresses[label] = path, key.address
    if funds:
        c.ok("transfer", "--to", key.address, "--amount", str(funds))
    return key.address


# --- property ------------------------------------------------------------------------------


def test_a_bill_is_issued_paid_and_shown_paid_on_every_node(community: Community) -> None:
    c = community
    household = c.addresses["resident-6"]
    issued = c.ok("property", "issue-bill", "--household", household, "--period", "2027-02",
                  "--extra", "Bicycle shed=80", key="property-co")
    bill_id = issued["result"]
    bill = c.query("property", "bill", [bill_id])
    assert bill["status"] == "unpaid" and bill["household"] == household
    assert ["Bicycle shed", 80] in bill["lines"] and bill["total"] == sum(a for _, a in bill["lines"])
    assert bill_id in c.query("property", "arrears", [household])["bills"]

    company_before = c.balance("property-co")
    c.ok("property", "pay-bill", str(bill_id), key="resident-6")
    assert c.balance("property-co") == company_before + bill["total"]
    for node in range(N_NODES):
        c.wait_for(f"bill {bill_id} paid on node{node}",
                   lambda node=node: c.query("property", "bill", [bill_id], node)["status"] == "paid")
        assert bill_id not in c.query("property", "arrears", [household], node)["bills"]
    shown = c.cli("property", "bills", household, node=3)
    assert shown.exit_code == 0 and "2027-02" in shown.output and "paid" in shown.output


def test_a_resident_without_the_role_is_refused_with_a_clear_error(community: Community) -> None:
    c = community
    refused = c.cli("property", "issue-bill", "--household", c.addresses["resident-2"],
                    "--period", "2027-02", key="resident-1")
    assert refused.exit_code == 1
    assert "not_allowed" in refused.output and "property_company" in refused.output
    assert "Traceback" not in refused.output
    outsider = _new_key(c, "outsider", funds=200_000)
    like = c.cli("culture", "like", "1", key="outsider")
    assert like.exit_code == 1 and "not_allowed" in like.output and "resident" in like.output
    assert not c.query("culture", "liked", [1, outsider])
    c.ok("gov", "grant-role", outsider, "resident")  # the committee admits them
    c.ok("culture", "like", "1", key="outsider")
    assert c.query("culture", "liked", [1, outsider])


def test_a_residents_draft_goes_to_the_vote_once_enough_households_cosign(community: Community) -> None:
    c = community
    draft_id = c.ok("gov", "draft", "--category", "9", "--title", "Quiet hours 22:00-07:00",
                    "--text", "draft rules v1", key="resident-1")["result"]
    first = c.ok("gov", "cosign", str(draft_id), key="resident-2")
    assert first["result"] == 0  # two of three
    assert c.query("assembly", "draft_of", [draft_id])["status"] == "drafting"
    pid = c.ok("gov", "cosign", str(draft_id), key="resident-3")["result"]
    assert pid > 0
    draft = c.query("assembly", "draft_of", [draft_id])
    assert draft["status"] == "voting" and draft["pid"] == pid
    assert c.query("governance", "proposal", [pid])["category"] == 9


# --- the maintenance fund under Article 278 -------------------------------------------------


def test_a_fund_spend_is_refused_without_a_passed_vote_and_paid_with_one(community: Community) -> None:
    c = community
    # The demo's spend: too few households voted, so its proposal is rejected, never paid.
    demo_pid = c.manifest["spend_proposal"]
    c.wait_for("the demo's proposal to close",
               lambda: c.query("governance", "proposal", [demo_pid])["status"] != "open")
    assert c.query("governance", "proposal", [demo_pid])["status"] == "rejected"
    assert c.query("property", "spend", [1])["status"] == "rejected"
    refused = c.cli("property", "release-spend", "1", key="resident-1")
    assert refused.exit_code == 1 and "bad_state" in refused.output

    contractor = _new_key(c, "contractor")
    fund_before = c.query("property", "fund")
    amount = fund_before // 3
    proposed = c.ok("property", "propose-spend", "--to", contractor, "--amount", str(amount),
                    "--title", "Repaint the stairwells", "--text", "quote no. 2027-031", key="property-co")
    spend_id = proposed["result"]
    pid = c.query("property", "spend", [spend_id])["pid"]
    early = c.cli("property", "release-spend", str(spend_id), key="resident-1")
    assert early.exit_code == 1 and "bad_state" in early.output
    assert c.balance(contractor) == 0

    for label in c.households:
        c.ok("gov", "vote", str(pid), "yes", "--wait-ms", "0", key=label)
    c.wait_for(f"proposal {pid} to close", lambda: c.query("governance", "proposal", [pid])["status"] != "open")
    assert c.query("governance", "proposal", [pid])["status"] == "passed"
    assert c.query("property", "spend", [spend_id])["status"] == "paid"
    assert c.balance(contractor) == amount
    assert c.query("property", "fund") == fund_before - amount
    shown = c.cli("gov", "proposal", str(pid))
    assert shown.exit_code == 0 and "passed" in shown.output


# --- services -------------------------------------------------------------------------------


def test_a_service_request_is_matched_escrowed_completed_and_rated(community: Community) -> None:
    c = community
    requester, plumber, handyman = "resident-3", "provider-plumber", "provider-handyman"
    rid = c.ok("services", "request", "--category", "repair", "--description", "door lock stuck",
               "--budget", "500", key=requester)["result"]
    c.ok("services", "offer", str(rid), "--price", "450", key=plumber)
    c.ok("services", "offer", str(rid), "--price", "400", key=handyman)
    ranking = c.query("services", "ranking", [rid])
    assert [o["provider"] for o in ranking] == [c.addresses[handyman], c.addresses[plumber]]

    before = c.balance(requester)
    accepted = c.ok("services", "accept", str(rid), key=requester)
    assert accepted["result"] == c.addresses[handyman]
    req = c.query("services", "request_of", [rid])
    assert req["status"] == "accepted" and req["escrow"] == 400
    assert c.balance(requester) <= before - 400  # the price (and the fee) left the requester

    provider_before = c.balance(handyman)
    c.ok("services", "complete", str(rid), key=requester)
    assert c.balance(handyman) == provider_before + 400
    assert c.query("services", "request_of", [rid])["status"] == "completed"
    c.ok("services", "rate", str(rid), "--score", "5", key=requester)
    assert c.query("services", "provider_of", [c.addresses[handyman]])["rating_count"] == 1
    again = c.cli("services", "rate", str(rid), "--score", "1", key=requester)
    assert again.exit_code == 1


def test_calls_that_would_fail_are_refused_before_any_fee(community: Community) -> None:
    c = community
    who = "resident-4"

    def account() -> tuple[int, int]:
        async def go() -> dict[str, Any]:
            async with RpcClient(c.rpc()) as rpc:
                return await rpc.account(c.addresses[who])

        doc = run(go())
        return int(doc["balance"]), int(doc["pending_nonce"])

    rid = c.ok("services", "request", "--category", "repair", "--description", "window",
               "--budget", "300", key=who)["result"]
    before = account()
    refused = c.cli("services", "accept", str(rid), key=who)  # nobody has offered yet
    assert refused.exit_code == 1, refused.output
    assert "no fee paid" in refused.output and "Traceback" not in refused.output
    balance, _ = before
    over = c.cli("transfer", "--to", c.addresses["resident-5"], "--amount", str(balance + 1), key=who)
    assert over.exit_code == 1, over.output
    assert "no fee paid" in over.output
    assert account() == before  # neither a fee nor a nonce was spent
    sent = c.cli("transfer", "--to", c.addresses["resident-5"], "--amount", "1", key=who)
    assert sent.exit_code == 0, sent.output
    assert "dry run ok: fee" in sent.output
    balance_after, nonce_after = account()
    assert nonce_after == before[1] + 1
    if "sponsored" in sent.output:  # one of a resident's first actions: the treasury pays
        assert balance_after == balance - 1
    else:
        assert balance_after < balance - 1  # 1 point and the fee


def test_a_resident_proves_a_balance_a_vote_and_a_paid_bill(community: Community) -> None:
    c = community
    genesis = str(c.net.nodes[0].home / "genesis.json")

    def prove(*args: str, key: str | None = None, node: int = 1) -> str:
        result = c.cli("prove", *args, "--validators", genesis, key=key, node=node)
        assert result.exit_code == 0, result.output
        assert "verified" in result.output
        return result.output

    pid = c.manifest["spend_proposal"]
    out = prove("vote", str(pid), key="resident-1")
    assert f"vote of {c.addresses['resident-1']} on proposal {pid}: yes" in out
    out = prove("vote", str(pid), c.addresses["resident-3"])
    assert "no vote recorded" in out
    who = "resident-5"
    out = prove("balance", key=who)
    assert f"balance of {c.addresses[who]}: {c.balance(who)} points" in out
    household = c.addresses[who]
    bill_id = c.ok("property", "issue-bill", "--household", household, "--period", "2027-03",
                   key="property-co")["result"]
    assert f"bill {bill_id}: unpaid" in prove("bill", str(bill_id))
    c.ok("property", "pay-bill", str(bill_id), key=who)
    c.wait_for("the bill paid on node1",
               lambda: c.query("property", "bill", [bill_id], 1)["status"] == "paid")
    out = prove("bill", str(bill_id))
    assert f"bill {bill_id}: paid" in out and f"paid by {household}" in out
    doc = json.loads(c.cli("prove", "bill", str(bill_id), "--json", node=2).stdout)
    assert doc["verified"] is True and doc["value"]["status"] == "paid"


# --- culture: likes and the daily cap, and files on every node ----------------------------------


def test_likes_earn_points_up_to_the_daily_cap_and_not_beyond(community: Community, tmp_path: Path) -> None:
    c = community
    creator = "resident-4"
    work = tmp_path / "lantern.svg"
    work.write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'><text>mid-autumn lantern</text></svg>")
    # The cap is per UTC day: do not straddle midnight.
    c.wait_for("90 s clear of UTC midnight", lambda: 86400 - int(time.time()) % 86400 > 90,
               timeout_s=120.0)
    work_id = c.ok("culture", "upload", str(work), "--title", "Mid-autumn lantern", "--kind", "photography",
                   key=creator)["result"]
    day = _head_time_s(c) // 86400
    assert c.query("culture", "earned", [c.addresses[creator], day]) == 0
    rewards = []
    for liker in ("resident-1", "resident-2", "resident-3", "resident-5"):
        before = c.balance(creator)
        rewards.append(c.ok("culture", "like", str(work_id), key=liker)["result"])
        assert c.balance(creator) == before + rewards[-1]
    assert rewards == [LIKE_REWARD, LIKE_REWARD, DAILY_CAP - 2 * LIKE_REWARD, 0]
    assert c.query("culture", "earned", [c.addresses[creator], day]) == DAILY_CAP
    assert c.query("culture", "work", [work_id])["likes"] == 4
    twice = c.cli("culture", "like", str(work_id), key="resident-1")
    assert twice.exit_code == 1 and "exists" in twice.output


def test_attendance_is_rewarded_once(community: Community) -> None:
    c = community
    start = int(time.time()) + 6
    aid = c.ok("activities", "propose", "--kind", "volunteer", "--title", "Stairwell painting",
               "--start", str(start), "--capacity", "10")["result"]
    for label in ("resident-2", "resident-5"):
        c.ok("activities", "sign-up", str(aid), key=label)
    c.wait_for("the activity to start", lambda: c.query("activities", "activity", [aid]) and
               _head_time_s(c) >= start)
    before = {label: c.balance(label) for label in ("resident-2", "resident-5")}
    minted = c.ok("activities", "confirm", str(aid), c.addresses["resident-2"], c.addresses["resident-5"])
    assert minted["result"] == 2 * ATTENDANCE_REWARD
    for label in before:
        assert c.balance(label) == before[label] + ATTENDANCE_REWARD
        assert c.query("activities", "attended", [aid, c.addresses[label]])
    again = c.ok("activities", "confirm", str(aid), c.addresses["resident-2"])
    assert again["result"] == 0
    assert c.balance("resident-2") == before["resident-2"] + ATTENDANCE_REWARD


def _head_time_s(c: Community) -> int:
    async def go() -> int:
        async with RpcClient(c.rpc()) as rpc:
            return int((await rpc.status())["latest_time_ms"]) // 1000

    return run(go())


def test_a_work_is_served_byte_for_byte_by_every_node_even_one_down_during_the_upload(
    community: Community, tmp_path: Path
) -> None:
    c = community
    down = N_NODES - 1
    data = os.urandom(3 * 1024 * 1024)
    original = tmp_path / "scroll.png"
    original.write_bytes(data)
    c.sup.stop(down)
    try:
        uploaded = c.ok("culture", "upload", str(original), "--title", "Scroll of the estate",
                        "--kind", "calligraphy", key="resident-5", node=1)
        work_id = uploaded["result"]
        for node in range(N_NODES - 1):
            out = tmp_path / f"from-node{node}.png"
            c.wait_for(f"work {work_id} on node{node}",
                       lambda node=node, out=out: c.cli("culture", "get", str(work_id), "--out", str(out),
                                                         "--rpc", c.rpc(node)).exit_code == 0)
            assert out.read_bytes() == data
    finally:
        c.sup.start(down)
    c.sup.wait_ready([down], timeout_ms=60_000)
    out = tmp_path / "from-restarted.png"
    c.wait_for(f"work {work_id} on the restarted node{down}",
               lambda: c.cli("culture", "get", str(work_id), "--out", str(out),
                             "--rpc", c.rpc(down)).exit_code == 0, timeout_s=90.0)
    assert out.read_bytes() == data


# --- the RPC as wallets and web pages use it ------------------------------------------------


def test_the_query_endpoint_serves_the_views_and_the_blob_routes_refuse_bad_input(
    community: Community,
) -> None:
    c = community
    household = c.addresses["resident-1"]
    pid = c.manifest["spend_proposal"]

    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with aiohttp.ClientSession() as s:
            for name, body in (
                ("bills", {"contract": "property", "method": "bills_of", "args": [household]}),
                ("tally", {"contract": "governance", "method": "tally", "args": [pid]}),
                ("offers", {"contract": "services", "method": "offers", "args": [1]}),
                ("work", {"contract": "culture", "method": "work", "args": [1]}),
            ):
                async with s.post(c.rpc(2) + "/v1/query", json=body) as resp:
                    assert resp.status == 200, await resp.text()
                    out[name] = (await resp.json())["result"]
            for method, path, data, status, code in (
                ("POST", "/v1/blobs", b"", 400, "empty"),
                ("POST", "/v1/blobs", b"x" * (10 * 1024 * 1024 + 1), 413, "too_large"),
                ("GET", "/v1/blobs/" + "ab" * 32, None, 404, "not_found"),
                ("GET", "/v1/blobs/not-a-hash", None, 400, "malformed"),
            ):
                async with s.request(method, c.rpc(2) + path, data=data) as resp:
                    assert resp.status == status, (path, resp.status)
                    assert (await resp.json())["error"]["code"] == code
        return out

    views = run(go())
    assert views["bills"] and all(type(b) is int for b in views["bills"])
    assert views["tally"]["voted_owners"] == 3  # the demo's three votes
    assert {o["provider"] for o in views["offers"]} == {c.addresses["provider-plumber"],
                                                         c.addresses["provider-handyman"]}
    assert views["work"]["likes"] >= 3 and views["work"]["creator"] == household  # the demo's likes, and more
    assert views["work"]["content_hash"] == "0x" + c.manifest["works"][0]


# --- households and privacy ---------------------------------------------------------------------


def test_a_household_is_registered_off_chain_data_and_proves_its_commitment(
    community: Community, tmp_path: Path
) -> None:
    c = community
    address = _new_key(c, "resident-7", funds=300_000)
    name, id_number, phone = CLI_IDENTITY
    card = tmp_path / "card.json"
    c.ok("households", "register", "--household", address, "--unit", "Riverside-B3-1101", "--area", "71.25",
         "--name", name, "--id-number", id_number, "--id-type", "other", "--phone", phone,
         "--card-out", str(card))
    c.households.append("resident-7")
    record = c.query("households", "record", [address])
    assert record["unit"] == "Riverside-B3-1101" and record["area_dm2"] == 7125
    proof = tmp_path / "proof.json"
    made = c.cli("households", "prove", "--card", str(card), "--key", str(c.keys["resident-7"]),
                 "--challenge", "desk-7", "--out", str(proof))
    assert made.exit_code == 0, made.output
    checked = c.cli("households", "verify", str(proof), "--challenge", "desk-7", "--json", node=2)
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["valid"] is True
    stale = c.cli("households", "verify", str(proof), "--challenge", "another-desk")
    assert stale.exit_code == 1

    # A new phone number: a new salt and commitment; the old proof no longer matches.
    old_commitment = bytes.fromhex(record["commitment"].removeprefix("0x"))
    store = PrivacyStore.of_node_home(c.net.nodes[0].home)
    c.ok("households", "update", "--household", address, "--area", "71.25", "--name", name,
         "--id-number", id_number, "--id-type", "other", "--phone", CLI_NEW_PHONE,
         "--card-out", str(card))
    new_commitment = bytes.fromhex(c.query("households", "record", [address])["commitment"].removeprefix("0x"))
    assert new_commitment != old_commitment
    assert not store.path_of(old_commitment).exists() and store.path_of(new_commitment).exists()
    replayed = c.cli("households", "verify", str(proof), "--challenge", "desk-7", "--json")
    assert replayed.exit_code == 1 and json.loads(replayed.stdout)["matches_chain"] is False


def test_no_personal_data_in_any_block_receipt_state_value_or_log(community: Community) -> None:
    """Runs last: stops the nodes and reads their stores directly."""
    c = community
    secrets = [s.encode() for s in [*demo_plaintexts(), *CLI_IDENTITY, CLI_NEW_PHONE]]
    on_chain_control = c.manifest["households"][0]["unit"].encode()  # public: must be found
    c.sup.stop_all(grace_ms=5000)
    scanned_values = 0
    control_seen = False
    for node in c.net.nodes:
        config = NodeConfig.load(node.home)
        db = LevelDBStore(config.data_path(node.home) / "chain")
        try:
            for key, value in db.iterate(b""):
                scanned_values += 1
                control_seen = control_seen or on_chain_control in value
                for s in secrets:
                    assert s not in key and s not in value, f"{s!r} found in {node.name}'s store"
        finally:
            db.close()
        for path in node.home.rglob("*"):
            if path.is_file() and "chain" not in path.relative_to(node.home).parts:
                raw = path.read_bytes()
                for s in secrets:
                    assert s not in raw, f"{s!r} found in {path}"
    assert control_seen, "the scan never saw the households' on-chain data: it scanned nothing useful"
    assert scanned_values > 1000
    # The committee's register does hold everyone, readable with the committee's key only.
    store = PrivacyStore.of_node_home(c.net.nodes[0].home)
    committee = PrivateKey.load(c.net.operator_key_file)
    names = {store.open(r, committee).identity.name for r in store.records()}
    assert {CLI_IDENTITY[0], *demo_plaintexts()[::3]} <= names
