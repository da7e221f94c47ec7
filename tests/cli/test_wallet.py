"""The wallet client against a stand-in node that answers as docs/RPC (node/rpc.py's
OpenAPI document) says: tx building and signing, nonce tracking, batches, waiting for a
commit, error codes, an unreachable node, subscriptions; and the CLI's one-line errors."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.main import main
from cli.wallet import (
    DryRunRefused,
    NodeUnreachable,
    RpcClient,
    RpcError,
    TxTimeout,
    Wallet,
    parse_json_args,
)
from core import codec
from core.crypto import PrivateKey
from core.errors import ValidationError
from core.types import SignedTx

CHAIN_ID = "hk-test"
ALICE = PrivateKey.from_seed_text("wallet-test-alice")
BOB = PrivateKey.from_seed_text("wallet-test-bob")
GAS_PRICE_MILLI = 7  # points per 1,000 gas: the default max fee must round up


@dataclass
class FakeNode:
    """Answers like a node: accepts txs whose nonce is next, commits them on request."""

    height: int = 7
    nonces: dict[str, int] = field(default_factory=dict)
    pending: dict[str, SignedTx] = field(default_factory=dict)
    committed: dict[str, SignedTx] = field(default_factory=dict)
    polls: int = 0
    commit_after_polls: int = 2
    expire_all: bool = False
    simulated: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/status", self.status)
        app.router.add_get("/v1/accounts/{address}", self.account)
        app.router.add_post("/v1/txs", self.post_txs)
        app.router.add_post("/v1/txs/simulate", self.simulate)
        app.router.add_get("/v1/txs/{hash}", self.get_tx)
        app.router.add_post("/v1/query", self.query)
        app.router.add_get("/v1/ws", self.ws)
        return app

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response({"chain_id": CHAIN_ID, "height": self.height, "state_root": "00" * 32})

    async def account(self, request: web.Request) -> web.Response:
        address = request.match_info["address"]
        if not address.startswith("hk1"):
            return web.json_response({"error": {"code": "bad_address", "message": "not an address"}}, status=400)
        nonce = self.nonces.get(address, 0)
        pending = nonce + sum(1 for t in self.pending.values() if t.tx.sender_address == address)
        return web.json_response({"address": address, "balance": 1000, "nonce": nonce, "pending_nonce": pending})

    async def post_txs(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/msgpack"
        results: list[dict[str, Any]] = []
        for value in codec.decode(await request.read()):
            stx = SignedTx.from_value(value)
            stx.validate_basic()
            sender = stx.tx.sender_address
            expected = self.nonces.get(sender, 0) + sum(
                1 for t in self.pending.values() if t.tx.sender_address == sender)
            if stx.tx.nonce != expected:
                results.append({"error": {"code": "bad_nonce", "message": f"nonce {stx.tx.nonce} is not {expected}"}})
                continue
            self.pending[stx.hash.hex()] = stx
            results.append({"hash": stx.hash.hex()})
        return web.json_response({"results": results, "accepted": sum("hash" in r for r in results)})

    async def simulate(self, request: web.Request) -> web.Response:
        """As the node: one tx, its signature checked, run after the sender's pending
        txs; a transfer beyond the balance of 1000 fails and would pay the fee."""
        assert request.content_type == "application/msgpack"
        stx = SignedTx.decode(await request.read())
        try:
            stx.validate_basic()
        except ValidationError as exc:
            return web.json_response({"error": {"code": exc.code, "message": exc.message}}, status=422)
        self.simulated.append(stx.hash.hex())
        sender = stx.tx.sender_address
        expected = self.nonces.get(sender, 0) + sum(
            1 for t in self.pending.values() if t.tx.sender_address == sender)
        if stx.tx.nonce != expected:
            receipt = {"status": 2, "status_name": "invalid", "fee": 0, "gas_used": 0,
                       "error_code": "bad_nonce", "error_message": "nonce is not next", "events": []}
        elif stx.tx.method == "transfer" and int(stx.tx.args[1]) > 1000:  # type: ignore[arg-type]
            receipt = {"status": 1, "status_name": "failed", "fee": 5, "gas_used": 700,
                       "error_code": "insufficient_balance", "error_message": "balance 1000",
                       "events": []}
        else:
            receipt = {"status": 0, "status_name": "ok", "fee": 5, "gas_used": 700,
                       "error_code": "", "error_message": "", "events": []}
        return web.json_response({"height": self.height, "next_height": self.height + 1,
                                  "pending_before": 0, "receipt": receipt})

    async def get_tx(self, request: web.Request) -> web.Response:
        h = request.match_info["hash"]
        self.polls += 1
        if self.expire_all and h in self.pending:
            return web.json_response({"hash": h, "status": "expired",
                                      "error": {"code": "expired", "message": "expiry height passed"}})
        if h in self.pending and self.polls >= self.commit_after_polls:
            stx = self.pending.pop(h)
            self.committed[h] = stx
            self.nonces[stx.tx.sender_address] = stx.tx.nonce + 1
        if h in self.committed:
            return web.json_response({"hash": h, "status": "committed", "height": self.height, "index": 0,
                                      "receipt": {"status": 0, "fee": 5, "events": []}})
        if h in self.pending:
            return web.json_response({"hash": h, "status": "pending"})
        return web.json_response({"error": {"code": "not_found", "message": "no such tx"}, "status": "unknown"},
                                 status=404)

    async def query(self, request: web.Request) -> web.Response:
        doc = await request.json()
        if (doc["contract"], doc["method"]) == ("fees", "gas_price_milli"):
            return web.json_response({"result": GAS_PRICE_MILLI, "height": self.height})
        if doc["contract"] != "token":
            return web.json_response({"error": {"code": "query_failed", "message": "no contract"}}, status=422)
        return web.json_response({"result": {"args": doc["args"]}, "height": self.height})

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        msg = await ws.receive_json()
        await ws.send_json({"type": "subscribed", "topics": msg["subscribe"]})
        for h in (8, 9):
            await ws.send_json({"type": "block", "height": h, "hash": "ab" * 32, "tx_count": 0})
        await ws.send_json({"type": "error", "code": "overflow", "message": "fell behind"})
        await ws.close()
        return ws


@pytest.fixture
async def node() -> AsyncIterator[tuple[FakeNode, str]]:
    fake = FakeNode()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_wallet_signs_batches_with_consecutive_nonces(node: tuple[FakeNode, str]) -> None:
    fake, url = node
    fake.nonces[ALICE.address] = 3
    async with RpcClient(url) as rpc:
        wallet = Wallet(ALICE, rpc, max_fee=99, expiry_margin=10)
        await wallet.sync()
        txs = [wallet.build("token", "transfer", [BOB.address, i]) for i in range(5)]
        assert [t.tx.nonce for t in txs] == [3, 4, 5, 6, 7]
        for t in txs:
            t.validate_basic()  # signature verifies
            assert (t.tx.chain_id, t.tx.max_fee, t.tx.expiry_height) == (CHAIN_ID, 99, fake.height + 10)
        results = await rpc.submit_batch(txs)
        assert [r.accepted for r in results] == [True] * 5
        assert [r.tx_hash for r in results] == [t.hash.hex() for t in txs]

        # A second wallet on the same key continues after the pending txs, and by default
        # offers the fee of its gas limit at the chain's price as its max fee: 1,234 gas at
        # 7 points per 1,000 gas is 8.638 points, rounded up as the chain rounds fees.
        other = Wallet(ALICE, rpc, gas_limit=1234)
        await other.sync()
        assert other.next_nonce == 8
        assert other.build("token", "transfer", [BOB.address, 1]).tx.max_fee == (1234 * GAS_PRICE_MILLI + 999) // 1000 == 9


async def test_refusals_come_back_per_tx_with_the_node_code(node: tuple[FakeNode, str]) -> None:
    _, url = node
    async with RpcClient(url) as rpc:
        wallet = Wallet(ALICE, rpc)
        await wallet.sync()
        good = wallet.build("token", "transfer", [BOB.address, 1])
        wallet.next_nonce += 5
        gap = wallet.build("token", "transfer", [BOB.address, 1])
        results = await rpc.submit_batch([good, gap])
        assert results[0].accepted and not results[1].accepted
        assert results[1].error_code == "bad_nonce"
        with pytest.raises(RpcError) as err:
            await rpc.submit(gap)
        assert err.value.code == "bad_nonce"


async def test_call_waits_until_committed(node: tuple[FakeNode, str]) -> None:
    fake, url = node
    fake.commit_after_polls = 3
    async with RpcClient(url) as rpc:
        tx_hash, record = await Wallet(ALICE, rpc).transfer(BOB.address, 5, wait_ms=10_000)
        assert record is not None and record["status"] == "committed"
        assert record["hash"] == tx_hash and tx_hash in fake.committed
        assert fake.polls >= 3


async def test_a_call_is_dry_run_first_and_shows_its_fee(node: tuple[FakeNode, str]) -> None:
    fake, url = node
    seen: list[dict[str, Any]] = []
    async with RpcClient(url) as rpc:
        tx_hash, _ = await Wallet(ALICE, rpc).call("token", "transfer", [BOB.address, 5],
                                                   wait_ms=None, on_dry_run=seen.append)
    assert fake.simulated == [tx_hash] and tx_hash in fake.pending
    assert [r["fee"] for r in seen] == [5]


async def test_a_call_that_would_fail_is_not_sent(node: tuple[FakeNode, str]) -> None:
    fake, url = node
    async with RpcClient(url) as rpc:
        wallet = Wallet(ALICE, rpc)
        with pytest.raises(DryRunRefused) as err:
            await wallet.transfer(BOB.address, 1001, wait_ms=None)
        assert err.value.code == "insufficient_balance" and err.value.fee == 5
        assert "no fee paid" in err.value.message and "balance 1000" in err.value.message
        assert not fake.pending and len(fake.simulated) == 1
        # The nonce was not used: the next call takes it.
        tx_hash, _ = await wallet.transfer(BOB.address, 10, wait_ms=None)
    assert fake.pending[tx_hash].tx.nonce == 0


async def test_waiting_is_bounded(node: tuple[FakeNode, str]) -> None:
    fake, url = node
    fake.commit_after_polls = 10**9
    async with RpcClient(url) as rpc:
        with pytest.raises(TxTimeout):
            await Wallet(ALICE, rpc).transfer(BOB.address, 5, wait_ms=500)


async def test_an_expired_tx_ends_the_wait_with_its_code(node: tuple[FakeNode, str]) -> None:
    fake, url = node
    fake.expire_all = True
    async with RpcClient(url) as rpc:
        with pytest.raises(RpcError) as err:
            await Wallet(ALICE, rpc).transfer(BOB.address, 5, wait_ms=10_000)
    assert err.value.code == "expired" and "expiry height passed" in err.value.message


async def test_query_and_its_errors(node: tuple[FakeNode, str]) -> None:
    _, url = node
    async with RpcClient(url) as rpc:
        assert await rpc.query("token", "balance", [ALICE.address, b"\x01"]) == {"args": [ALICE.address, "0x01"]}
        with pytest.raises(RpcError) as err:
            await rpc.query("nope", "x")
        assert (err.value.code, err.value.http_status) == ("query_failed", 422)


async def test_subscription_yields_messages_then_the_node_error(node: tuple[FakeNode, str]) -> None:
    _, url = node
    seen = []
    async with RpcClient(url) as rpc:
        with pytest.raises(RpcError) as err:
            async for msg in rpc.subscribe(["blocks"]):
                seen.append(msg["height"])
    assert seen == [8, 9]
    assert err.value.code == "overflow"


async def test_unreachable_node_is_one_clear_error() -> None:
    url = f"http://127.0.0.1:{_unused_port()}"
    async with RpcClient(url, timeout_ms=2000) as rpc:
        with pytest.raises(NodeUnreachable, match=f"cannot reach node at {url}"):
            await rpc.status()


def test_json_args() -> None:
    assert parse_json_args('["hk1x", 5, "0x00ff", [true, null], {"k": "0x"}]') == (
        "hk1x", 5, b"\x00\xff", [True, None], {"k": b""})
    assert parse_json_args("7") == (7,)
    for bad in ("[1.5]", "[", '["0xzz"]', json.dumps(list(range(40)))):
        with pytest.raises(ValidationError):
            parse_json_args(bad)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.integers(), st.text(max_size=8).filter(lambda s: not s.startswith("0x")),
                          st.binary(max_size=8), st.booleans(), st.none()), max_size=8))
def test_json_args_round_trip(values: list[Any]) -> None:
    from core.render import value_to_json

    assert parse_json_args(json.dumps(value_to_json(values))) == tuple(values)


# --- the CLI's one-line errors ------------------------------------------------------------


def test_cli_node_down_is_one_line() -> None:
    url = f"http://127.0.0.1:{_unused_port()}"
    for args in (["status"], ["block", "3"], ["query", "token", "supply"]):
        result = CliRunner().invoke(main, [*args, "--rpc", url])
        assert result.exit_code == 1, result.output
        assert result.output.strip() == f"Error: cannot reach node at {url} (connection refused)"


def test_cli_bad_address_fails_before_any_network(tmp_path: Any) -> None:
    key = tmp_path / "k.key"
    ALICE.save(key)
    bad = BOB.address[:-1] + ("q" if BOB.address[-1] != "q" else "p")
    result = CliRunner().invoke(main, ["transfer", "--to", bad, "--amount", "1", "--key", str(key),
                                       "--rpc", "http://127.0.0.1:1"])
    assert result.exit_code == 1
    assert "bad checksum" in result.output and "Traceback" not in result.output


def test_cli_usage_mistakes() -> None:
    runner = CliRunner(env={"HKCHAIN_KEY": "", "HKCHAIN_RPC": "http://127.0.0.1:1"})
    no_key = runner.invoke(main, ["tx", "token", "transfer", "[]", "--key", ""])
    assert no_key.exit_code == 1 and "no key" in no_key.output
    bad_args = runner.invoke(main, ["query", "token", "balance", "[1.5]"])
    assert bad_args.exit_code == 1 and "float" in bad_args.output
    bad_height = runner.invoke(main, ["block", "tall"])
    assert bad_height.exit_code == 2 and "block height" in bad_height.output
    zero = runner.invoke(main, ["transfer", "--to", BOB.address, "--amount", "0"])
    assert zero.exit_code == 2


def test_every_command_has_help() -> None:
    runner = CliRunner()
    commands = [["keys", "new"], ["keys", "show"], ["init"], ["node", "start"], ["localnet"], ["status"],
                ["block"], ["receipt"], ["tx"], ["transfer"], ["query"], ["deploy"], ["watch"]]
    for cmd in commands:
        result = runner.invoke(main, [*cmd, "--help"])
        assert result.exit_code == 0, (cmd, result.output)
        assert "Usage:" in result.output and len(result.output.splitlines()) > 4


def test_defaults_follow_the_local_network(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.common import FALLBACK_RPC_URL, default_key_file, default_rpc_url

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HKCHAIN_RPC", raising=False)
    monkeypatch.delenv("HKCHAIN_KEY", raising=False)
    assert default_rpc_url() == FALLBACK_RPC_URL
    assert default_key_file() is None

    (tmp_path / "localnet").mkdir()
    ALICE.save(tmp_path / "localnet" / "operator.key")
    nodes = [{"name": "node0", "rpc_url": "http://127.0.0.1:1", "pid": None},
             {"name": "node1", "rpc_url": "http://127.0.0.1:2", "pid": 4242}]
    (tmp_path / "localnet" / "nodes.json").write_text(json.dumps({"nodes": nodes}))
    assert default_rpc_url() == "http://127.0.0.1:2", "a stopped node is not the default"
    assert default_key_file() == str(Path("localnet") / "operator.key")

    monkeypatch.setenv("HKCHAIN_RPC", "http://127.0.0.1:3")
    assert default_rpc_url() == "http://127.0.0.1:3"
