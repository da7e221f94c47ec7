"""The RPC serving TLS itself (rpc.tls_cert_file, rpc.tls_key_file): https and wss with a
certificate made here, plain HTTP and untrusting clients refused, and a certificate that
cannot serve stops the start with a message naming the file."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cli.wallet import NodeUnreachable, RpcClient
from node.config import ConfigError, NodeConfig
from node.rpc import tls_context
from node.service import Node
from tests.node.harness import make_homes, open_node, stop_nodes, wait_for

CERT = "tls/cert.pem"
KEY = "tls/key.pem"


def write_self_signed(directory: Path, *, passphrase: bytes | None = None,
                      common_name: str = "hkchain node") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption())
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8, encryption))
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture
async def tls_node(tmp_path: Path) -> AsyncIterator[tuple[Node, Path]]:
    homes = make_homes(tmp_path, 1, empty_block_interval_ms=100,
                       rpc_overrides={"tls_cert_file": CERT, "tls_key_file": KEY})
    cert, _ = write_self_signed(homes[0].home / "tls")
    node = open_node(homes[0])
    await node.start()
    yield node, cert
    await stop_nodes([node])


async def test_serves_https_and_wss_to_a_client_that_trusts_the_certificate(
        tls_node: tuple[Node, Path]) -> None:
    node, cert = tls_node
    assert node.config.rpc_url.startswith("https://")
    trusting = ssl.create_default_context(cafile=str(cert))
    base = f"https://127.0.0.1:{node.rpc.port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/v1/status", ssl=trusting) as resp:
            assert resp.status == 200
            assert (await resp.json())["chain_id"] == node.chain_id
        async with session.ws_connect(f"wss://127.0.0.1:{node.rpc.port}/v1/ws", ssl=trusting) as ws:
            await ws.send_str(json.dumps({"subscribe": ["blocks"]}))
            seen: list[str] = []
            async with asyncio.timeout(10):
                while "block" not in seen:
                    msg = await ws.receive()
                    assert msg.type == aiohttp.WSMsgType.TEXT, msg
                    seen.append(json.loads(msg.data)["type"])
            assert seen[0] == "subscribed"


async def test_plain_http_and_an_untrusting_client_are_refused_and_the_node_serves_on(
        tls_node: tuple[Node, Path]) -> None:
    node, cert = tls_node
    port = node.rpc.port
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(f"http://127.0.0.1:{port}/v1/status") as resp:
                await resp.read()
        # The system's CAs do not vouch for a self-signed certificate.
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with session.get(f"https://127.0.0.1:{port}/v1/status") as resp:
                await resp.read()
        # The wallet's client says which it is, in words.
        async with RpcClient(f"https://127.0.0.1:{port}") as rpc:
            with pytest.raises(NodeUnreachable) as info:
                await rpc.status()
            assert "certificate this machine does not trust" in info.value.message
            assert "SSL_CERT_FILE" in info.value.message
        async with RpcClient(f"http://127.0.0.1:{port}") as rpc:
            with pytest.raises(NodeUnreachable) as info:
                await rpc.status()
            assert "use https://" in info.value.message
        trusting = ssl.create_default_context(cafile=str(cert))
        height = node.store.height
        await wait_for(lambda: node.store.height > height, what="the chain goes on")
        async with session.get(f"https://127.0.0.1:{port}/v1/status", ssl=trusting) as resp:
            assert resp.status == 200


def test_a_certificate_without_its_key_is_a_config_error(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, 1)
    doc = json.loads((homes[0].home / "config.json").read_text())
    doc["rpc"]["tls_cert_file"] = CERT
    (homes[0].home / "config.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as info:
        NodeConfig.load(homes[0].home)
    assert "rpc.tls_key_file" in info.value.message and "both or neither" in info.value.message


def test_unusable_certificates_are_refused_with_the_reason(tmp_path: Path) -> None:
    cert, key = write_self_signed(tmp_path / "a")
    other_cert, _ = write_self_signed(tmp_path / "b")
    enc_cert, enc_key = write_self_signed(tmp_path / "c", passphrase=b"secret")
    assert isinstance(tls_context(cert, key), ssl.SSLContext)
    cases = [
        (tmp_path / "missing.pem", key, "is not a readable file"),
        (other_cert, key, "cannot use"),  # the key does not match the certificate
        (key, key, "cannot use"),  # not a certificate
        (enc_cert, enc_key, "is encrypted"),  # never a terminal prompt
    ]
    for cert_file, key_file, what in cases:
        with pytest.raises(ConfigError) as info:
            tls_context(cert_file, key_file)
        assert what in info.value.message, (cert_file, key_file, info.value.message)
        assert "rpc.tls_" in info.value.message
