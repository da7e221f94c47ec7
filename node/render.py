"""The JSON forms of chain records live in core/render.py (clients that verify blocks, in
core/verify.py and analytics/, use them too); this name keeps the node's older imports
working."""

from core.render import (
    MAX_JSON_VALUE_DEPTH,
    STATUS_NAMES,
    block_json,
    certificate_json,
    header_json,
    receipt_json,
    tx_json,
    validators_json,
    value_from_json,
    value_to_json,
)

__all__ = [
    "MAX_JSON_VALUE_DEPTH", "STATUS_NAMES", "block_json", "certificate_json", "header_json",
    "receipt_json", "tx_json", "validators_json", "value_from_json", "value_to_json",
]
