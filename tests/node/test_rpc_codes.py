"""The RPC's error codes: every code the node's code can answer with is in the one
registry (node/rpc_errors.py), the registry's statuses are the ones the handlers use, and
docs/RPC.md lists exactly the registry (its table is generated from it)."""

from __future__ import annotations

import re
from pathlib import Path

from node.blobs import BLOB_ERROR_STATUS
from node.register import PRIVACY_STATUS
from node.rpc_errors import HTTP_STATUS_CODES, RPC_ERRORS, render_markdown, status_of

ROOT = Path(__file__).resolve().parents[2]
# Where the codes an RPC answer can carry are raised: the handlers, the mempool's and the
# executor's refusals of a tx, the VM's faults (a query passes them on), the core errors.
SOURCES = ["node/rpc.py", "node/blobs.py", "node/register.py", "node/mempool.py", "node/service.py", "node/queries.py",
           "vm/executor.py", "vm/interpreter.py", "vm/api.py", "core/errors.py"]
# Codes in those files that never reach a client: failures at start-up, faults that stop
# the node (node/supervisor.py), and the default codes of error classes that are always
# raised with a code of their own.
NOT_ANSWERED = {"no_genesis", "port_unavailable", "observer_is_validator", "bad_genesis", "bad_key_file", "error",
                "blob_error", "storage_fault", "local_fault", "state_diverged",
                "vm_error", "rejected", "node_error", "query_failed", "wallet_error"}
PATTERNS = [
    re.compile(r'code="([a-z_]+)"'),  # SomeError(..., code="x")
    re.compile(r'\bcode = "([a-z_]+)"'),  # class attribute
    re.compile(r'fault\("([a-z_]+)"'),  # a VM fault
    re.compile(r'RpcError\(\d+, "([a-z_]+)"'),
    re.compile(r'RegisterError\(\d+, "([a-z_]+)"'),
    re.compile(r'error_response\(\d+, "([a-z_]+)"'),
    re.compile(r'"code": "([a-z_]+)"'),  # a websocket error message
]


def codes_in_sources() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for name in SOURCES:
        text = (ROOT / name).read_text()
        for pattern in PATTERNS:
            for code in pattern.findall(text):
                found.setdefault(code, set()).add(name)
    return found


def test_every_code_the_node_raises_is_registered() -> None:
    found = codes_in_sources()
    assert len(found) > 30  # the scan finds the codes at all
    missing = {c: sorted(f) for c, f in found.items() if c not in RPC_ERRORS and c not in NOT_ANSWERED}
    assert not missing, f"codes answered by the RPC but not in node/rpc_errors.py: {missing}"


def test_every_registered_code_is_raised_somewhere() -> None:
    # The register answers the sealed store's own refusals (privacy/register.py) by code.
    found = set(codes_in_sources()) | set(HTTP_STATUS_CODES.values()) | {"http_error"} | set(PRIVACY_STATUS)
    stale = set(RPC_ERRORS) - found
    assert not stale, f"registered codes nothing answers with: {sorted(stale)}"


def test_statuses_agree_with_the_handlers() -> None:
    for code, status in BLOB_ERROR_STATUS.items():
        assert RPC_ERRORS[code].status == status, code
    for code, status in PRIVACY_STATUS.items():
        assert RPC_ERRORS[code].status == status, code
    for status, code in HTTP_STATUS_CODES.items():
        assert RPC_ERRORS[code].status == status, code
    assert (status_of("malformed"), status_of("too_large"), status_of("mempool_full")) == (400, 413, 503)
    assert status_of("bad_nonce") == 422 and status_of("a_contracts_own_code") == 422


def test_rpc_md_lists_exactly_the_registered_codes() -> None:
    text = (ROOT / "docs" / "RPC.md").read_text()
    section = text.split("<!-- rpc-errors:begin -->\n")[1].split("<!-- rpc-errors:end -->")[0]
    assert section == render_markdown()
    listed = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M)
    assert listed == list(RPC_ERRORS)
    assert "query_failed" not in text
