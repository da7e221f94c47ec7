"""Where vm/ keeps everything in state: the one schema of state keys.

Contract names never contain ``/`` (see ``valid_contract_name``), so every prefix below is
unambiguous. Values are core.codec encodings unless said otherwise.

    c/<name>/code          32-byte code hash of the contract's source (raw bytes)
    c/<name>/info          {"deployer", "height", "version"} of the deployment
    c/<name>/s/<key>       the contract's storage (key: the contract's str key, UTF-8)
    code/<hash>            contract source (raw UTF-8 bytes), by code hash
    n/<address>            account nonce (int): the next nonce the account must use
    sp/<address>           [day, count] of the account's sponsored txs (fee sponsorship)
    sys/chain              {"chain_id", "genesis_time_ms"}
    sys/validators         validator schedule: [[effective_height, [[public_key, name]…]]…]

The token contract's balance of an account is its storage key ``b:<account>``; the roles
contract's grant of a role is ``r:<role>:<address>``; the fees contract's parameters are
``p:<name>``. The executor reads those directly (fees, sponsorship) for speed, so the
system contracts must keep these keys (tests check both paths agree).
"""

from __future__ import annotations

import re

SYSTEM = "system"  # the pseudo-contract of deploy/upgrade/validator changes
TOKEN = "token"
FEES = "fees"
ROLES = "roles"
GOVERNANCE = "governance"
SYSTEM_CONTRACTS = (ROLES, TOKEN, FEES, GOVERNANCE)  # deployed first, in this order

CHAIN_KEY = b"sys/chain"
VALIDATORS_KEY = b"sys/validators"

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


def valid_contract_name(name: object) -> bool:
    """2–32 chars of [a-z0-9_], starting with a letter, not an address, not reserved."""
    return (
        isinstance(name, str)
        and _NAME.match(name) is not None
        and not name.startswith("hk1")
        and name != SYSTEM
    )


def code_key(name: str) -> bytes:
    return b"c/" + name.encode() + b"/code"


def info_key(name: str) -> bytes:
    return b"c/" + name.encode() + b"/info"


def storage_prefix(name: str) -> bytes:
    return b"c/" + name.encode() + b"/s/"


def storage_key(name: str, key: str) -> bytes:
    return b"c/" + name.encode() + b"/s/" + key.encode()


def source_key(code_hash: bytes) -> bytes:
    return b"code/" + code_hash


def nonce_key(address: str) -> bytes:
    return b"n/" + address.encode()


def sponsored_key(address: str) -> bytes:
    return b"sp/" + address.encode()


def balance_key(account: str) -> bytes:
    """The token contract's storage key of ``account``'s balance."""
    return b"c/token/s/b:" + account.encode()


def role_key(role: str, address: str) -> bytes:
    """The roles contract's storage key recording that ``address`` holds ``role``."""
    return b"c/roles/s/r:" + role.encode() + b":" + address.encode()


def fee_param_key(name: str) -> bytes:
    return b"c/fees/s/p:" + name.encode()
