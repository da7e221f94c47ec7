"""The gas schedule and the VM's limits: one table of data, read by the interpreter and the
executor. Changing a number here changes the chain's rules, so every node must agree.

Costs are in gas units; the fee of a tx is ceil(gas_used × gas_price_milli / MILLI) points
(gas_price_milli, the price of 1,000 gas in points, is a parameter of the ``fees``
contract; see vm/executor.py fee_points). Limits bound what one tx may do, so no contract can hang or
exhaust a node.
"""

from __future__ import annotations

from typing import Final

# --- per-instruction base costs (looked up by the opcode's group, see vm/opcodes.py) ------

GAS_STACK: Final = 1  # constants, locals, pop, jumps
GAS_ARITH: Final = 3  # arithmetic, comparisons, boolean ops
GAS_BUILD: Final = 3  # building a list/tuple/dict/str (plus GAS_ALLOC_UNIT per item)
GAS_INDEX: Final = 3  # subscripts, slices, iteration steps
GAS_CALL_LOCAL: Final = 20  # calling a function of the same contract
GAS_BUILTIN: Final = 5  # calling a pure builtin or a method of a value

# --- dynamic costs --------------------------------------------------------------------

GAS_ALLOC_UNIT: Final = 1  # per byte of a new str/bytes or per item of a new container
GAS_STORAGE_READ: Final = 60  # one storage read
GAS_STORAGE_READ_BYTE: Final = 1  # per byte of key + value read
GAS_STORAGE_WRITE: Final = 300  # one storage write or delete
GAS_STORAGE_WRITE_BYTE: Final = 6  # per byte of key + value written
GAS_EVENT: Final = 100  # one event
GAS_EVENT_BYTE: Final = 3  # per byte of the event's encoded fields
GAS_CONTRACT_CALL: Final = 400  # entering another contract (plus its own gas)
GAS_HASH_BYTE: Final = 1  # sha256 per input byte (plus GAS_BUILTIN)
GAS_ADDRESS_CHECK: Final = 100  # is_address/is_account: a bech32 checksum (~20 µs)
MILLI: Final = 1_000  # gas_price_milli is the price in points of this many gas units
GAS_TX_BASE: Final = 1_000  # every tx that is executed (signature, nonce, receipt)
GAS_TX_ARG_BYTE: Final = 2  # per byte of a tx's encoded args
GAS_DEPLOY_BYTE: Final = 20  # per byte of contract source deployed or upgraded

# --- limits ---------------------------------------------------------------------------

INT_BITS: Final = 256  # ints are signed 256-bit; overflow is an error
INT_MAX: Final = (1 << (INT_BITS - 1)) - 1
INT_MIN: Final = -(1 << (INT_BITS - 1))
MAX_STR_BYTES: Final = 64 * 1024  # longest str (characters) or bytes value
MAX_CONTAINER_ITEMS: Final = 4_096  # longest list/tuple, largest dict
MAX_VALUE_DEPTH: Final = 32  # containers nested in containers (stored, compared, copied)
MAX_ALLOC_UNITS: Final = 4_000_000  # bytes/items allocated by one tx (all calls)
MAX_FRAMES: Final = 64  # function frames on the VM stack (local calls + contract calls)
MAX_CALL_DEPTH: Final = 8  # nested contract calls
MAX_STORAGE_KEY_BYTES: Final = 256
MAX_STORAGE_VALUE_BYTES: Final = 64 * 1024
MAX_EVENTS_PER_TX: Final = 256
MAX_EVENT_BYTES: Final = 4 * 1024
MAX_COPY_UNITS: Final = 1 << 20  # largest value crossing a contract boundary (items+bytes/8)
# Gas limit of one tx (whatever its max_fee). The slowest code measured runs ~125 ns per
# gas on one core (scripts/bench_vm.py: loops of cache-missing address checks), so one tx
# costs a node at most ~0.25 s.
MAX_TX_GAS: Final = 2_000_000
# Gas all txs of one block may use together: bounds a block's execution on every node to
# ~3 s worst case (and ~6,800 transfers), whatever a proposer puts in it.
MAX_BLOCK_GAS: Final = 24_000_000
MAX_QUERY_GAS: Final = 5_000_000  # gas limit of one read-only query
MAX_SYSTEM_GAS: Final = 10_000_000  # gas limit of each end-of-block governance step
MAX_SOURCE_BYTES: Final = 64 * 1024  # largest contract source
