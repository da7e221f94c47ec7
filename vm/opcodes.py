"""The VM's instruction set: opcode numbers, names, and base gas (data, not code).

An instruction is ``(opcode, arg)``. The compiler emits them; the interpreter binds each
opcode to its handler once per loaded program. Dynamic costs (allocation, storage,
events, calls) are charged by the handlers from vm/gas.py on top of the base cost here.
"""

from __future__ import annotations

from typing import Final

from vm import gas as g

CONST: Final = 1  # push arg (an immutable scalar)
LOAD: Final = 2  # push local[arg]
STORE: Final = 3  # local[arg] = pop
POP: Final = 4
DUP: Final = 5
CTX: Final = 6  # push a context value by name (caller, block_height...)
JUMP: Final = 10
JUMP_IF_FALSE: Final = 11  # pop; jump if falsy
JUMP_IF_FALSE_OR_POP: Final = 12  # `and`: keep the value and jump if falsy, else pop
JUMP_IF_TRUE_OR_POP: Final = 13  # `or`
ADD: Final = 20
SUB: Final = 21
MUL: Final = 22
FLOORDIV: Final = 23
MOD: Final = 24
POW: Final = 25
LSHIFT: Final = 26
RSHIFT: Final = 27
BITAND: Final = 28
BITOR: Final = 29
BITXOR: Final = 30
NEG: Final = 31
NOT: Final = 32
INVERT: Final = 33
EQ: Final = 40
NE: Final = 41
LT: Final = 42
LE: Final = 43
GT: Final = 44
GE: Final = 45
IN: Final = 46
NOT_IN: Final = 47
IS_NONE: Final = 48
IS_NOT_NONE: Final = 49
BUILD_LIST: Final = 60  # arg = item count
BUILD_TUPLE: Final = 61
BUILD_DICT: Final = 62  # arg = pair count; stack: k1 v1 k2 v2 ...
BUILD_STR: Final = 63  # arg = part count (f-strings)
FORMAT: Final = 64  # str() of a scalar, for f-strings
INDEX: Final = 70
STORE_INDEX: Final = 71  # stack: container key value
DELETE_INDEX: Final = 72  # stack: container key
SLICE: Final = 73  # stack: value lower upper (None for open ends)
UNPACK: Final = 74  # arg = count; pushes items so that the first is on top
GET_ITER: Final = 80
FOR_ITER: Final = 81  # arg = jump target when exhausted
CALL: Final = 90  # arg = [function index, argc]
CALL_BUILTIN: Final = 91  # arg = [name, argc]
CALL_METHOD: Final = 92  # arg = [name, argc]; stack: obj args...
EMIT: Final = 93  # arg = [field names]; stack: name values...
RETURN: Final = 94
ASSERT: Final = 95  # stack: cond message
RAISE: Final = 96  # stack: message code

NAMES: Final[dict[int, str]] = {
    v: k for k, v in dict(globals()).items() if k.isupper() and isinstance(v, int) and k != "Final"
}

_GROUP_GAS: Final = (
    (g.GAS_STACK, (CONST, LOAD, STORE, POP, DUP, CTX, JUMP, JUMP_IF_FALSE, JUMP_IF_FALSE_OR_POP,
                  JUMP_IF_TRUE_OR_POP, RETURN)),
    (g.GAS_ARITH, (ADD, SUB, MUL, FLOORDIV, MOD, POW, LSHIFT, RSHIFT, BITAND, BITOR, BITXOR, NEG,
                  NOT, INVERT, EQ, NE, LT, LE, GT, GE, IN, NOT_IN, IS_NONE, IS_NOT_NONE, ASSERT,
                  RAISE)),
    (g.GAS_BUILD, (BUILD_LIST, BUILD_TUPLE, BUILD_DICT, BUILD_STR, FORMAT, EMIT)),
    (g.GAS_INDEX, (INDEX, STORE_INDEX, DELETE_INDEX, SLICE, UNPACK, GET_ITER, FOR_ITER)),
    (g.GAS_CALL_LOCAL, (CALL,)),
    (g.GAS_BUILTIN, (CALL_BUILTIN, CALL_METHOD)),
)

BASE_GAS: Final[dict[int, int]] = {op: cost for cost, ops in _GROUP_GAS for op in ops}
