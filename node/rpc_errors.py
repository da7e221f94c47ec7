"""Every error code the node's RPC answers with: one registry, from which the HTTP status
of a refusal is taken and the table of docs/RPC.md is generated (scripts/gen_docs.py; a
test fails when the two differ, and another when the code can answer with a code that is
not registered).

An error body is ``{"error": {"code", "message"}}`` (a websocket error is ``{"type":
"error", "code", "message"}``). The code is stable and machine-readable; the message is
for people and may change. Besides these codes, ``POST /v1/query`` passes on the code a
contract's own ``Error(message, code)`` raised (listed with each contract in
docs/APPLICATIONS.md), and a dry run reports a failed call in its receipt, not as an error.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    status: int  # HTTP status; 0 for a websocket message
    where: str  # the routes that answer with it
    meaning: str


_TX = "POST /v1/txs, POST /v1/txs/simulate"
_SUBMIT = "POST /v1/txs"
_QUERY = "POST /v1/query"
_ANY = "any route"
_BLOBS = "blob routes"
_WS = "GET /v1/ws"
_REGISTER = "/v1/register/…"

RPC_ERRORS: dict[str, ErrorCode] = {
    # the request itself
    "malformed": ErrorCode(400, _ANY, "the request does not parse: bad JSON, hex, msgpack "
                           "or shape, a value out of range, a number that is not ASCII digits"),
    "bad_address": ErrorCode(400, "GET /v1/accounts/…", "not a valid hk1… address"),
    "not_found": ErrorCode(404, _ANY, "no such route, block, tx, blob or record"),
    "state_pruned": ErrorCode(404, "GET /v1/proofs/…", "the state of that height is no "
                              "longer kept (the last 256 heights below the head are)"),
    "method_not_allowed": ErrorCode(405, _ANY, "the route exists for another HTTP method (the `Allow` header lists its methods)"),
    "too_large": ErrorCode(413, f"{_TX}, {_BLOBS}", "the body, a tx (64 KiB encoded) or a "
                           "blob is over its limit"),
    "batch_too_large": ErrorCode(413, _SUBMIT, "more txs in one batch than rpc.max_batch"),
    "rate_limited": ErrorCode(429, _ANY, "the client sends too fast (rpc.rate_limit_per_s, "
                              "or the blob upload budget): slow down"),
    "http_error": ErrorCode(400, _ANY, "another refusal of the HTTP layer (its status is "
                            "the HTTP status)"),
    "internal": ErrorCode(500, _ANY, "a bug of the node (logged there); never for bad input"),
    # a tx refused before it enters the mempool (the same codes in a dry run's receipt)
    "wrong_chain": ErrorCode(422, _TX, "the tx is for another chain id"),
    "invalid": ErrorCode(422, _TX, "the tx fails a stateless check (empty chain id, "
                         "contract or method, expiry_height 0)"),
    "bad_signature": ErrorCode(422, _TX, "the signature does not verify"),
    "bad_nonce": ErrorCode(422, _SUBMIT, "the nonce is below the account's, or a pending tx "
                           "has it"),
    "nonce_gap": ErrorCode(422, _SUBMIT, "the nonce is more than 64 ahead of the account's "
                           "next (counting pending txs) as this node sees it: a node catching "
                           "up, or one that lacks earlier txs accepted elsewhere, answers it "
                           "until they reach it; send again later"),
    "expired": ErrorCode(422, _SUBMIT, "expiry_height is below the next height"),
    "expiry_too_far": ErrorCode(422, _SUBMIT, "expiry_height is more than "
                                "mempool.max_expiry_blocks (100,000) after the next height"),
    "insufficient_fee": ErrorCode(422, _SUBMIT, "max_fee is below the fee of 1,000 gas, or "
                                  "the payer cannot pay max_fee"),
    "unknown_contract": ErrorCode(422, f"{_SUBMIT}, {_QUERY}", "no contract of that name"),
    "unknown_method": ErrorCode(422, f"{_SUBMIT}, {_QUERY}", "the contract has no such "
                                "public method"),
    "mempool_full": ErrorCode(503, _SUBMIT, "a mempool bound is hit (all txs, bytes, or "
                              "1,000 pending per sender): retry later"),
    "busy": ErrorCode(503, f"{_QUERY}, POST /v1/txs/simulate", "every query worker is taken "
                      "and rpc.max_queued_queries wait, or more dry runs wait than the node "
                      "queues (32): retry shortly"),
    "too_many_queries": ErrorCode(429, f"{_QUERY}, POST /v1/txs/simulate", "this client has rpc.max_queries_per_client "
                                  "(16) calls running or waiting: wait for their answers"),
    "query_budget_exhausted": ErrorCode(429, f"{_QUERY}, POST /v1/txs/simulate", "this client spent its gas budget "
                                        "(rpc.query_gas_per_s, 1,000,000 gas/s; bursts of "
                                        "rpc.query_gas_burst): retry after Retry-After seconds"),
    "block_gas_exceeded": ErrorCode(422, "POST /v1/txs/simulate", "the tx alone needs more "
                                    "gas than a block holds"),
    # a read-only call that failed in the VM (and the faults of any contract call)
    "not_view": ErrorCode(422, _QUERY, "the method is not a @view method"),
    "bad_args": ErrorCode(422, _QUERY, "wrong arguments for the method"),
    "runtime_error": ErrorCode(422, _QUERY, "the contract hit an error (a type error, a "
                               "missing key, …)"),
    "contract_error": ErrorCode(422, _QUERY, "the contract raised an error without a code"),
    "assertion_failed": ErrorCode(422, _QUERY, "an assert of the contract failed"),
    "out_of_gas": ErrorCode(422, _QUERY, "the call needs more gas than a query may use"),
    "division_by_zero": ErrorCode(422, _QUERY, "the contract divided by zero"),
    "int_overflow": ErrorCode(422, _QUERY, "an integer beyond the VM's bounds"),
    "bad_value": ErrorCode(422, _QUERY, "a value the VM cannot hold or encode"),
    "value_too_large": ErrorCode(422, _QUERY, "a value over the VM's size limits"),
    "value_too_deep": ErrorCode(422, _QUERY, "a value nested too deeply"),
    "memory_limit": ErrorCode(422, _QUERY, "the call allocated more than it may"),
    "call_depth": ErrorCode(422, _QUERY, "contract calls nested too deeply"),
    "read_only": ErrorCode(422, _QUERY, "a view tried to write state or emit an event"),
    "reentrancy": ErrorCode(422, _QUERY, "a contract called back into itself"),
    "too_many_events": ErrorCode(422, _QUERY, "more events than a call may emit"),
    "not_allowed": ErrorCode(422, _QUERY, "the caller may not do this"),
    "corrupt_state": ErrorCode(422, _QUERY, "a stored value the VM cannot read"),
    "compile_error": ErrorCode(422, _QUERY, "contract source that does not compile"),
    "bad_name": ErrorCode(422, _QUERY, "not a valid contract name"),
    "name_taken": ErrorCode(422, _QUERY, "a contract of that name exists"),
    # blobs
    "empty": ErrorCode(400, _BLOBS, "an empty blob"),
    "hash_mismatch": ErrorCode(400, _BLOBS, "the blob's bytes do not hash to the hash given"),
    "store_full": ErrorCode(507, _BLOBS, "the node's blob store is full"),
    # the committee's sealed register (node/register.py)
    "auth_required": ErrorCode(401, _REGISTER, "the request is not signed: X-Hkchain-Key, -Time, -Nonce "
                               "and -Signature headers (docs/PROTOCOL.md)"),
    "auth_expired": ErrorCode(401, _REGISTER, "the request's time is more than 5 minutes from the node's clock"),
    "auth_bad_signature": ErrorCode(401, _REGISTER, "the request's signature does not verify"),
    "auth_replayed": ErrorCode(401, _REGISTER, "the request's nonce was already received"),
    "not_committee": ErrorCode(403, _REGISTER, "the signing key's address does not hold the committee role on chain"),
    "wrong_key": ErrorCode(403, _REGISTER, "the record is not sealed to the signer"),
    "bad_record": ErrorCode(400, _REGISTER, "not a sealed household record (version 2), or not of a sealed "
                            "record's shape"),
    "members_missing": ErrorCode(409, _REGISTER, "the record is not sealed to every member of the register"),
    "commitment_taken": ErrorCode(409, _REGISTER, "the commitment is another household's record"),
    "in_use": ErrorCode(409, _REGISTER, "the chain uses this record (its household's commitment): erase it "
                        "on request instead of removing it"),
    "erased": ErrorCode(410, _REGISTER, "the record was erased on request; it is never read or written again"),
    # websocket messages
    "too_many_subscribers": ErrorCode(0, _WS, "the node has rpc.max_ws_subscribers "
                                      "subscribers; the socket is closed"),
    "overflow": ErrorCode(0, _WS, "the subscriber fell 1,024 messages behind and is closed"),
}

# The status of an HTTP error of the web layer, and the code it is answered with.
HTTP_STATUS_CODES = {400: "malformed", 404: "not_found", 405: "method_not_allowed",
                     413: "too_large"}


def status_of(code: str, default: int = 422) -> int:
    """The HTTP status of a refusal with ``code`` (``default`` for a contract's own code)."""
    entry = RPC_ERRORS.get(code)
    return default if entry is None or entry.status == 0 else entry.status


def render_markdown() -> str:
    """The table of docs/RPC.md's "Error codes" section."""
    lines = ["| code | HTTP | where | meaning |", "|---|---|---|---|"]
    for code, e in RPC_ERRORS.items():
        status = "ws" if e.status == 0 else str(e.status)
        lines.append(f"| `{code}` | {status} | {e.where} | {e.meaning} |")
    return "\n".join(lines) + "\n"
