"""The contract compiler: source in a deterministic subset of Python → VM bytecode.

The source is parsed with the standard ``ast`` module; every construct outside the
language (floats, imports, closures, try, classes, dunders, unknown names…) is refused with
a CompileError naming the line and column. The output is a Program: one FunctionCode per
``def``, each a tuple of ``(opcode, arg)`` instructions with a parallel line table. The
compiler is deterministic, so the code hash of the source identifies the bytecode too.
See docs/CONTRACTS.md for the language.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Any

from core.hashing import sha256
from vm import gas
from vm import opcodes as op
from vm.api import CompileError

MAX_FUNCTIONS = 256
MAX_LOCALS = 256
MAX_INSTRUCTIONS = 65_536  # per function
MAX_PARAMS = 16
MAX_INDENT_LEVELS = 24
MAX_LINE_COMPLEXITY = 96  # brackets + operators in one logical line

_OPERATOR_WORDS = frozenset({"not", "and", "or", "if", "else", "in", "is", "lambda"})

# Values the contract reads about its call; compiled to CTX.
CONTEXT_NAMES = frozenset(
    {"caller", "origin", "this", "block_height", "block_time", "block_time_ms", "chain_id"}
)

# Builtin functions and their (min, max) positional argument counts.
BUILTINS: dict[str, tuple[int, int]] = {
    "len": (1, 1),
    "range": (1, 3),
    "str": (1, 1),
    "int": (1, 1),
    "bool": (1, 1),
    "abs": (1, 1),
    "min": (1, 2),
    "max": (1, 2),
    "sum": (1, 1),
    "sorted": (1, 1),
    "list": (0, 1),
    "dict": (0, 0),
    "tuple": (1, 1),
    "enumerate": (1, 1),
    "sha256": (1, 1),
    "to_hex": (1, 1),
    "from_hex": (1, 1),
    "is_address": (1, 1),
    "is_account": (1, 1),
    "type_name": (1, 1),
    # storage of the running contract
    "load": (1, 2),
    "store": (2, 2),
    "delete": (1, 1),
    "has": (1, 1),
    # other contracts, token, roles, chain
    "call": (2, 3),
    "pay": (2, 2),
    "collect": (1, 1),
    "balance_of": (1, 1),
    "has_role": (2, 2),
    "validators": (0, 0),
}

# Methods of values: name -> (min, max) arguments. The interpreter checks the value's type.
METHODS: dict[str, tuple[int, int]] = {
    "append": (1, 1),
    "pop": (0, 2),
    "insert": (2, 2),
    "index": (1, 1),
    "remove": (1, 1),
    "extend": (1, 1),
    "copy": (0, 0),
    "get": (1, 2),
    "keys": (0, 0),
    "values": (0, 0),
    "items": (0, 0),
    "startswith": (1, 1),
    "endswith": (1, 1),
    "split": (1, 1),
    "join": (1, 1),
    "strip": (0, 0),
    "lower": (0, 0),
    "upper": (0, 0),
    "find": (1, 1),
    "encode": (0, 0),
    "decode": (0, 0),
    "hex": (0, 0),
}

ERROR_NAME = "Error"
VIEW_DECORATOR = "view"
RESERVED = CONTEXT_NAMES | set(BUILTINS) | {ERROR_NAME, "emit", "True", "False", "None"}

_BINOPS: dict[type[ast.operator], int] = {
    ast.Add: op.ADD,
    ast.Sub: op.SUB,
    ast.Mult: op.MUL,
    ast.FloorDiv: op.FLOORDIV,
    ast.Mod: op.MOD,
    ast.Pow: op.POW,
    ast.LShift: op.LSHIFT,
    ast.RShift: op.RSHIFT,
    ast.BitAnd: op.BITAND,
    ast.BitOr: op.BITOR,
    ast.BitXor: op.BITXOR,
}
_CMPOPS: dict[type[ast.cmpop], int] = {
    ast.Eq: op.EQ,
    ast.NotEq: op.NE,
    ast.Lt: op.LT,
    ast.LtE: op.LE,
    ast.Gt: op.GT,
    ast.GtE: op.GE,
    ast.In: op.IN,
    ast.NotIn: op.NOT_IN,
}
_ERROR_CODE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")

Scalar = int | str | bytes | bool | None


@dataclass(frozen=True)
class FunctionCode:
    """One compiled function. ``code[i]`` is ``(opcode, arg)``; ``lines[i]`` its line."""

    name: str
    index: int
    params: tuple[str, ...]
    nlocals: int
    code: tuple[tuple[int, Any], ...]
    lines: tuple[int, ...]
    public: bool
    view: bool


@dataclass(frozen=True)
class Program:
    """A compiled contract: its functions by name and by index, and its code hash."""

    code_hash: bytes
    functions: dict[str, FunctionCode]
    by_index: tuple[FunctionCode, ...]
    # the codes the source declares in raise Error("...", "code"): with vm/faults.py
    # FAULTS, the closed set of codes this contract's receipts can carry
    error_codes: frozenset[str] = frozenset()

    def disassemble(self) -> str:
        out = []
        for f in self.by_index:
            flags = ("public" if f.public else "private") + (" view" if f.view else "")
            out.append(f"def {f.name}({', '.join(f.params)})  # {flags}, {f.nlocals} locals")
            for i, ((opcode, arg), line) in enumerate(zip(f.code, f.lines, strict=True)):
                out.append(f"  {i:4d}  L{line:<4d} {op.NAMES[opcode]:<22s} {arg!r}")
        return "\n".join(out)


def code_hash(source: str) -> bytes:
    """The identity of a contract's code: SHA-256 of its UTF-8 source."""
    return sha256(source.encode("utf-8"))


def _fail(node: ast.AST | None, message: str) -> CompileError:
    line = getattr(node, "lineno", None)
    if line is not None:
        return CompileError(f"line {line}, column {getattr(node, 'col_offset', 0) + 1}: {message}")
    return CompileError(message)


def compile_contract(source: str) -> Program:
    """Compile contract source; raise CompileError (with line and column) if it is not in
    the language."""
    if not isinstance(source, str):
        raise CompileError("source must be a str")
    if len(source.encode("utf-8")) > gas.MAX_SOURCE_BYTES:
        raise CompileError(f"source larger than {gas.MAX_SOURCE_BYTES} bytes")
    _check_nesting(source)
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as exc:
        raise CompileError(
            f"line {exc.lineno}, column {exc.offset}: syntax error: {exc.msg}"
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise CompileError(f"cannot parse source: {type(exc).__name__}") from None
    try:
        return _ModuleCompiler(source).compile(tree)
    except RecursionError:
        raise CompileError("source nested too deeply") from None


def _check_nesting(source: str) -> None:
    """Refuse deep nesting before parsing. Python's parser and this compiler recurse, and
    how deep they may go depends on the caller's stack: without this bound a source near
    the limit could compile on one node and not on another."""
    indent = 0
    complexity = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            kind = tok.type
            if kind == tokenize.INDENT:
                indent += 1
                if indent > MAX_INDENT_LEVELS:
                    raise CompileError(f"line {tok.start[0]}, column {tok.start[1] + 1}: "
                                       f"more than {MAX_INDENT_LEVELS} levels of indentation")
            elif kind == tokenize.DEDENT:
                indent -= 1
            elif kind == tokenize.NEWLINE:
                complexity = 0
            elif (kind == tokenize.OP and tok.string not in (",", ":", ")", "]", "}", "=")) or (
                kind == tokenize.NAME and tok.string in _OPERATOR_WORDS
            ):
                complexity += 1
                if complexity > MAX_LINE_COMPLEXITY:
                    raise CompileError(
                        f"line {tok.start[0]}, column {tok.start[1] + 1}: statement too complex "
                        f"(more than {MAX_LINE_COMPLEXITY} operators and brackets): split it")
    except CompileError:
        raise
    except Exception:
        # tokenize failed on a bad source after counting what it read; ast.parse below
        # names the syntax error with its line and column.
        return


class _ModuleCompiler:
    def __init__(self, source: str) -> None:
        self.source = source
        self.constants: dict[str, Scalar | tuple[Scalar, ...]] = {}
        self.error_codes: set[str] = set()
        self.signatures: dict[str, tuple[int, int]] = {}  # name -> (index, nparams)

    def compile(self, tree: ast.Module) -> Program:
        defs: list[ast.FunctionDef] = []
        for i, stmt in enumerate(tree.body):
            if i == 0 and _is_docstring(stmt):
                continue
            if isinstance(stmt, ast.FunctionDef):
                defs.append(stmt)
            elif isinstance(stmt, ast.Assign | ast.AnnAssign):
                self._constant(stmt)
            elif isinstance(stmt, ast.Import | ast.ImportFrom):
                raise _fail(stmt, "imports are not allowed")
            elif isinstance(stmt, ast.ClassDef):
                raise _fail(stmt, "classes are not allowed")
            elif isinstance(stmt, ast.AsyncFunctionDef):
                raise _fail(stmt, "async functions are not allowed")
            else:
                raise _fail(stmt, "only functions and constants are allowed at module level")
        if len(defs) > MAX_FUNCTIONS:
            raise _fail(defs[MAX_FUNCTIONS], f"more than {MAX_FUNCTIONS} functions")
        for d in defs:
            if d.name in self.signatures:
                raise _fail(d, f"function {d.name!r} is defined twice")
            if d.name in RESERVED or d.name in self.constants or d.name.startswith("__"):
                raise _fail(d, f"the name {d.name!r} is reserved")
            self.signatures[d.name] = (len(self.signatures), len(d.args.args))
        functions = tuple(_FunctionCompiler(self, d, i).compile() for i, d in enumerate(defs))
        return Program(code_hash(self.source), {f.name: f for f in functions}, functions,
                       frozenset(self.error_codes))

    def _constant(self, stmt: ast.Assign | ast.AnnAssign) -> None:
        value: ast.expr | None
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1:
                raise _fail(stmt, "assign one constant at a time")
            target, value = stmt.targets[0], stmt.value
        else:
            target, value = stmt.target, stmt.value
        if not isinstance(target, ast.Name) or value is None:
            raise _fail(stmt, "a module-level assignment must be NAME = constant")
        name = target.id
        if not name.isupper():
            raise _fail(stmt, "module-level names must be UPPER_CASE constants")
        if name in self.constants or name in RESERVED:
            raise _fail(stmt, f"constant {name!r} is defined twice or reserved")
        if isinstance(value, ast.Tuple):
            self.constants[name] = tuple(self._scalar(v) for v in value.elts)
        else:
            self.constants[name] = self._scalar(value)

    def _scalar(self, node: ast.expr) -> Scalar:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            v = self._scalar(node.operand)
            if type(v) is not int:
                raise _fail(node, "only an int can be negated in a constant")
            return -v
        if isinstance(node, ast.Constant):
            return _check_constant(node)
        raise _fail(node, "a constant must be a literal int, str, bytes, bool, None or tuple")


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _check_constant(node: ast.Constant) -> Scalar:
    v: Any = node.value
    t = type(v)
    if t is float or t is complex:
        raise _fail(node, "floats are not allowed (use integers, e.g. in cents or basis points)")
    if v is Ellipsis:
        raise _fail(node, "... is not allowed")
    if t is int and not gas.INT_MIN <= v <= gas.INT_MAX:
        raise _fail(node, "integer literal outside the 256-bit range")
    if (t is str or t is bytes) and len(v) > gas.MAX_STR_BYTES:
        raise _fail(node, "literal too long")
    if not (t in (int, str, bytes, bool) or v is None):
        raise _fail(node, f"literal of type {t.__name__} is not allowed")
    result: Scalar = v
    return result


class _Loop:
    def __init__(self, start: int) -> None:
        self.start = start
        self.breaks: list[int] = []


class _FunctionCompiler:
    def __init__(self, module: _ModuleCompiler, fn: ast.FunctionDef, index: int) -> None:
        self.m = module
        self.fn = fn
        self.index = index
        self.code: list[list[Any]] = []
        self.lines: list[int] = []
        self.locals: dict[str, int] = {}
        self.loops: list[_Loop] = []
        self.line = fn.lineno
        self.temps = 0

    # --- helpers ----------------------------------------------------------------------

    def emit(self, opcode: int, arg: Any = None) -> int:
        if len(self.code) >= MAX_INSTRUCTIONS:
            raise _fail(self.fn, f"function longer than {MAX_INSTRUCTIONS} instructions")
        self.code.append([opcode, arg])
        self.lines.append(self.line)
        return len(self.code) - 1

    def patch(self, at: int, target: int | None = None) -> None:
        self.code[at][1] = len(self.code) if target is None else target

    def local(self, name: str, node: ast.AST) -> int:
        if name not in self.locals:
            if name in RESERVED or name in self.m.constants or name in self.m.signatures:
                raise _fail(node, f"cannot assign to {name!r}: the name is reserved")
            if name.startswith("__"):
                raise _fail(node, "dunder names are not allowed")
            if len(self.locals) >= MAX_LOCALS:
                raise _fail(node, f"more than {MAX_LOCALS} local variables")
            self.locals[name] = len(self.locals)
        return self.locals[name]

    def temp(self, node: ast.AST) -> int:
        self.temps += 1
        return self.local(f"$t{self.temps}", node)

    # --- function ---------------------------------------------------------------------

    def compile(self) -> FunctionCode:
        fn = self.fn
        a = fn.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults or a.kw_defaults:
            raise _fail(fn, "only plain positional parameters are allowed (no defaults, *, **)")
        if len(a.args) > MAX_PARAMS:
            raise _fail(fn, f"more than {MAX_PARAMS} parameters")
        view = False
        for d in fn.decorator_list:
            if isinstance(d, ast.Name) and d.id == VIEW_DECORATOR:
                view = True
            else:
                raise _fail(d, "the only decorator is @view")
        if fn.returns is not None:
            _check_annotation(fn.returns)
        params = []
        for arg in a.args:
            if arg.annotation is not None:
                _check_annotation(arg.annotation)
            if arg.arg in self.locals:
                raise _fail(arg, f"parameter {arg.arg!r} appears twice")
            self.local(arg.arg, arg)
            params.append(arg.arg)
        body = fn.body
        if body and _is_docstring(body[0]):
            body = body[1:]
        self.block(body)
        self.line = getattr(fn, "end_lineno", None) or fn.lineno
        self.emit(op.CONST, None)
        self.emit(op.RETURN)
        return FunctionCode(
            name=fn.name,
            index=self.index,
            params=tuple(params),
            nlocals=len(self.locals),
            code=tuple((c[0], _freeze(c[1])) for c in self.code),
            lines=tuple(self.lines),
            public=not fn.name.startswith("_") and fn.name != "init",
            view=view,
        )

    # --- statements -------------------------------------------------------------------

    def block(self, stmts: list[ast.stmt]) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s: ast.stmt) -> None:
        self.line = s.lineno
        if isinstance(s, ast.Expr):
            if isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
                return  # a docstring-like string statement
            self.expr(s.value)
            self.emit(op.POP)
        elif isinstance(s, ast.Assign):
            if len(s.targets) != 1:
                raise _fail(s, "chained assignment (a = b = c) is not allowed")
            self.expr(s.value)
            self.assign(s.targets[0])
        elif isinstance(s, ast.AnnAssign):
            _check_annotation(s.annotation)
            if s.value is None:
                raise _fail(s, "a declaration needs a value")
            self.expr(s.value)
            self.assign(s.target)
        elif isinstance(s, ast.AugAssign):
            self.aug_assign(s)
        elif isinstance(s, ast.If):
            self.expr(s.test)
            jf = self.emit(op.JUMP_IF_FALSE, 0)
            self.block(s.body)
            if s.orelse:
                j = self.emit(op.JUMP, 0)
                self.patch(jf)
                self.block(s.orelse)
                self.patch(j)
            else:
                self.patch(jf)
        elif isinstance(s, ast.While):
            if s.orelse:
                raise _fail(s, "else on a loop is not allowed")
            start = len(self.code)
            self.expr(s.test)
            jf = self.emit(op.JUMP_IF_FALSE, 0)
            self.loop_body(s.body, start)
            self.emit(op.JUMP, start)
            self.patch(jf)
            self.end_loop()
        elif isinstance(s, ast.For):
            if s.orelse:
                raise _fail(s, "else on a loop is not allowed")
            self.expr(s.iter)
            self.emit(op.GET_ITER)
            start = self.emit(op.FOR_ITER, 0)
            self.assign(s.target)
            self.loop_body(s.body, start)
            self.emit(op.JUMP, start)
            self.patch(start)
            self.end_loop()
            self.emit(op.POP)  # the iterator
        elif isinstance(s, ast.Break):
            if not self.loops:
                raise _fail(s, "break outside a loop")
            self.loops[-1].breaks.append(self.emit(op.JUMP, 0))
        elif isinstance(s, ast.Continue):
            if not self.loops:
                raise _fail(s, "continue outside a loop")
            self.emit(op.JUMP, self.loops[-1].start)
        elif isinstance(s, ast.Return):
            if s.value is None:
                self.emit(op.CONST, None)
            else:
                self.expr(s.value)
            self.emit(op.RETURN)
        elif isinstance(s, ast.Pass):
            pass
        elif isinstance(s, ast.Assert):
            self.expr(s.test)
            if s.msg is None:
                self.emit(op.CONST, "assertion failed")
            else:
                self.expr(s.msg)
            self.emit(op.ASSERT)
        elif isinstance(s, ast.Raise):
            self.raise_(s)
        elif isinstance(s, ast.Delete):
            for t in s.targets:
                if not isinstance(t, ast.Subscript) or isinstance(t.slice, ast.Slice):
                    raise _fail(t, "only `del container[key]` is allowed")
                self.expr(t.value)
                self.expr(t.slice)
                self.emit(op.DELETE_INDEX)
        elif isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            raise _fail(s, "nested functions (closures) are not allowed")
        elif isinstance(s, ast.Try | ast.TryStar):
            raise _fail(s, "try/except is not allowed: a failing call reverts")
        elif isinstance(s, ast.Global | ast.Nonlocal):
            raise _fail(s, "global/nonlocal are not allowed: use storage")
        elif isinstance(s, ast.Import | ast.ImportFrom):
            raise _fail(s, "imports are not allowed")
        elif isinstance(s, ast.ClassDef):
            raise _fail(s, "classes are not allowed")
        else:
            raise _fail(s, f"{type(s).__name__} statements are not allowed")

    def loop_body(self, body: list[ast.stmt], start: int) -> None:
        self.loops.append(_Loop(start))
        self.block(body)

    def end_loop(self) -> None:
        loop = self.loops.pop()
        for b in loop.breaks:
            self.patch(b)

    def raise_(self, s: ast.Raise) -> None:
        exc = s.exc
        if s.cause is not None:
            raise _fail(s, "raise ... from is not allowed")
        if not (
            isinstance(exc, ast.Call)
            and isinstance(exc.func, ast.Name)
            and exc.func.id == ERROR_NAME
            and not exc.keywords
            and 1 <= len(exc.args) <= 2
        ):
            raise _fail(s, 'raise only Error("message") or Error("message", "error_code")')
        self.expr(exc.args[0])
        if len(exc.args) == 2:
            code = exc.args[1]
            if not (
                isinstance(code, ast.Constant)
                and isinstance(code.value, str)
                and _ERROR_CODE.match(code.value)
            ):
                raise _fail(code, "an error code must be a literal like 'not_allowed'")
            self.m.error_codes.add(code.value)
            self.emit(op.CONST, code.value)
        else:
            self.emit(op.CONST, "contract_error")
        self.emit(op.RAISE)

    def assign(self, target: ast.expr) -> None:
        """Store the value on top of the stack into ``target``."""
        if isinstance(target, ast.Name):
            self.emit(op.STORE, self.local(target.id, target))
        elif isinstance(target, ast.Tuple | ast.List):
            self.emit(op.UNPACK, len(target.elts))
            for t in target.elts:
                if isinstance(t, ast.Starred):
                    raise _fail(t, "starred assignment is not allowed")
                self.assign(t)
        elif isinstance(target, ast.Subscript):
            if isinstance(target.slice, ast.Slice):
                raise _fail(target, "assignment to a slice is not allowed")
            tv = self.temp(target)
            self.emit(op.STORE, tv)
            self.expr(target.value)
            self.expr(target.slice)
            self.emit(op.LOAD, tv)
            self.emit(op.STORE_INDEX)
        elif isinstance(target, ast.Attribute):
            raise _fail(target, "attribute assignment is not allowed")
        else:
            raise _fail(target, "cannot assign to this expression")

    def aug_assign(self, s: ast.AugAssign) -> None:
        opcode = _BINOPS.get(type(s.op))
        if opcode is None:
            raise _fail(s, f"operator {type(s.op).__name__} is not allowed")
        t = s.target
        if isinstance(t, ast.Name):
            if t.id not in self.locals:
                raise _fail(t, f"unknown local variable {t.id!r}")
            slot = self.locals[t.id]
            self.emit(op.LOAD, slot)
            self.expr(s.value)
            self.emit(opcode)
            self.emit(op.STORE, slot)
        elif isinstance(t, ast.Subscript) and not isinstance(t.slice, ast.Slice):
            tc, tk = self.temp(t), self.temp(t)
            self.expr(t.value)
            self.emit(op.STORE, tc)
            self.expr(t.slice)
            self.emit(op.STORE, tk)
            self.emit(op.LOAD, tc)
            self.emit(op.LOAD, tk)
            self.emit(op.LOAD, tc)
            self.emit(op.LOAD, tk)
            self.emit(op.INDEX)
            self.expr(s.value)
            self.emit(opcode)
            self.emit(op.STORE_INDEX)
        else:
            raise _fail(s, "augmented assignment only to a name or a subscript")

    # --- expressions ------------------------------------------------------------------

    def expr(self, e: ast.expr) -> None:
        if isinstance(e, ast.Constant):
            self.emit(op.CONST, _check_constant(e))
        elif isinstance(e, ast.Name):
            self.name(e)
        elif isinstance(e, ast.BinOp):
            opcode = _BINOPS.get(type(e.op))
            if opcode is None:
                what = "/ (true division gives floats; use //)" if isinstance(e.op, ast.Div) else type(e.op).__name__
                raise _fail(e, f"operator {what} is not allowed")
            self.expr(e.left)
            self.expr(e.right)
            self.emit(opcode)
        elif isinstance(e, ast.UnaryOp):
            self.expr(e.operand)
            if isinstance(e.op, ast.USub):
                self.emit(op.NEG)
            elif isinstance(e.op, ast.Not):
                self.emit(op.NOT)
            elif isinstance(e.op, ast.Invert):
                self.emit(op.INVERT)
            # unary plus is the identity
        elif isinstance(e, ast.BoolOp):
            jump = op.JUMP_IF_FALSE_OR_POP if isinstance(e.op, ast.And) else op.JUMP_IF_TRUE_OR_POP
            patches = []
            for v in e.values[:-1]:
                self.expr(v)
                patches.append(self.emit(jump, 0))
            self.expr(e.values[-1])
            for p in patches:
                self.patch(p)
        elif isinstance(e, ast.Compare):
            self.compare(e)
        elif isinstance(e, ast.IfExp):
            self.expr(e.test)
            jf = self.emit(op.JUMP_IF_FALSE, 0)
            self.expr(e.body)
            j = self.emit(op.JUMP, 0)
            self.patch(jf)
            self.expr(e.orelse)
            self.patch(j)
        elif isinstance(e, ast.Call):
            self.call(e)
        elif isinstance(e, ast.Subscript):
            self.expr(e.value)
            if isinstance(e.slice, ast.Slice):
                if e.slice.step is not None:
                    raise _fail(e, "slice steps are not allowed")
                for bound in (e.slice.lower, e.slice.upper):
                    if bound is None:
                        self.emit(op.CONST, None)
                    else:
                        self.expr(bound)
                self.emit(op.SLICE)
            else:
                self.expr(e.slice)
                self.emit(op.INDEX)
        elif isinstance(e, ast.List | ast.Tuple):
            for x in e.elts:
                if isinstance(x, ast.Starred):
                    raise _fail(x, "starred expressions are not allowed")
                self.expr(x)
            self.emit(op.BUILD_LIST if isinstance(e, ast.List) else op.BUILD_TUPLE, len(e.elts))
        elif isinstance(e, ast.Dict):
            for k, v in zip(e.keys, e.values, strict=True):
                if k is None:
                    raise _fail(v, "dict unpacking (**) is not allowed")
                self.expr(k)
                self.expr(v)
            self.emit(op.BUILD_DICT, len(e.keys))
        elif isinstance(e, ast.JoinedStr):
            for part in e.values:
                if isinstance(part, ast.FormattedValue):
                    if part.format_spec is not None or part.conversion != -1:
                        raise _fail(part, "format specs and conversions are not allowed")
                    self.expr(part.value)
                    self.emit(op.FORMAT)
                else:
                    self.expr(part)
            self.emit(op.BUILD_STR, len(e.values))
        elif isinstance(e, ast.Attribute):
            if e.attr.startswith("__"):
                raise _fail(e, "dunder attributes are not allowed")
            raise _fail(e, "attribute access is only allowed to call a method, e.g. xs.append(v)")
        elif isinstance(e, ast.Lambda):
            raise _fail(e, "lambda (closures) is not allowed")
        elif isinstance(e, ast.GeneratorExp | ast.ListComp | ast.SetComp | ast.DictComp):
            raise _fail(e, "comprehensions and generators are not allowed: use a for loop")
        elif isinstance(e, ast.Yield | ast.YieldFrom | ast.Await):
            raise _fail(e, "generators and coroutines are not allowed")
        elif isinstance(e, ast.Set):
            raise _fail(e, "sets are not allowed (their order is not deterministic)")
        elif isinstance(e, ast.NamedExpr):
            raise _fail(e, "the := operator is not allowed")
        else:
            raise _fail(e, f"{type(e).__name__} expressions are not allowed")

    def name(self, e: ast.Name) -> None:
        n = e.id
        if n in self.locals:
            self.emit(op.LOAD, self.locals[n])
        elif n in self.m.constants:
            c = self.m.constants[n]
            if isinstance(c, tuple):
                for x in c:
                    self.emit(op.CONST, x)
                self.emit(op.BUILD_TUPLE, len(c))
            else:
                self.emit(op.CONST, c)
        elif n in CONTEXT_NAMES:
            self.emit(op.CTX, n)
        elif n.startswith("__"):
            raise _fail(e, "dunder names are not allowed")
        elif n in self.m.signatures or n in BUILTINS:
            raise _fail(e, f"{n!r} is a function: functions are not values")
        elif _assigned_later(self.fn, n):
            # Assigned somewhere in this function but not yet: Python would raise at run
            # time; we refuse at compile time.
            raise _fail(e, f"local variable {n!r} is used before it is assigned")
        else:
            raise _fail(e, f"unknown name {n!r}")

    def compare(self, e: ast.Compare) -> None:
        if len(e.ops) != 1:
            raise _fail(e, "chained comparisons are not allowed: use `and`")
        cmp, right = e.ops[0], e.comparators[0]
        if isinstance(cmp, ast.Is | ast.IsNot):
            if not (isinstance(right, ast.Constant) and right.value is None):
                raise _fail(e, "`is` is only allowed with None; use ==")
            self.expr(e.left)
            self.emit(op.IS_NONE if isinstance(cmp, ast.Is) else op.IS_NOT_NONE)
            return
        opcode = _CMPOPS.get(type(cmp))
        if opcode is None:
            raise _fail(e, f"comparison {type(cmp).__name__} is not allowed")
        self.expr(e.left)
        self.expr(right)
        self.emit(opcode)

    def call(self, e: ast.Call) -> None:
        f = e.func
        if any(isinstance(a, ast.Starred) for a in e.args):
            raise _fail(e, "*args is not allowed")
        if isinstance(f, ast.Attribute):
            if f.attr.startswith("_"):
                raise _fail(f, "private and dunder attributes are not allowed")
            if f.attr not in METHODS:
                raise _fail(f, f"unknown method {f.attr!r}")
            if e.keywords:
                raise _fail(e, "keyword arguments are only allowed in emit()")
            lo, hi = METHODS[f.attr]
            if not lo <= len(e.args) <= hi:
                raise _fail(e, f".{f.attr}() takes {lo}..{hi} arguments")
            self.expr(f.value)
            for a in e.args:
                self.expr(a)
            self.emit(op.CALL_METHOD, (f.attr, len(e.args)))
            return
        if not isinstance(f, ast.Name):
            raise _fail(e, "only named functions can be called")
        n = f.id
        if n == "emit":
            if len(e.args) != 1 or any(k.arg is None for k in e.keywords):
                raise _fail(e, 'emit("EventName", field=value, ...) takes one name and keywords')
            self.expr(e.args[0])
            names = []
            for k in e.keywords:
                assert k.arg is not None
                names.append(k.arg)
                self.expr(k.value)
            self.emit(op.EMIT, tuple(names))
            return
        if e.keywords:
            raise _fail(e, "keyword arguments are only allowed in emit()")
        if n in self.m.signatures:
            index, nparams = self.m.signatures[n]
            if len(e.args) != nparams:
                raise _fail(e, f"{n}() takes {nparams} arguments, {len(e.args)} given")
            for a in e.args:
                self.expr(a)
            self.emit(op.CALL, (index, nparams))
            return
        if n in BUILTINS:
            lo, hi = BUILTINS[n]
            if not lo <= len(e.args) <= hi:
                raise _fail(e, f"{n}() takes {lo}..{hi} arguments, {len(e.args)} given")
            for a in e.args:
                self.expr(a)
            self.emit(op.CALL_BUILTIN, (n, len(e.args)))
            return
        if n == ERROR_NAME:
            raise _fail(e, "Error(...) can only be raised")
        if n in self.locals or n in CONTEXT_NAMES:
            raise _fail(e, f"{n!r} is not a function")
        if n in ("eval", "exec", "getattr", "setattr", "globals", "locals", "vars", "open",
                 "type", "isinstance", "id", "hash", "__import__", "compile", "dir"):
            raise _fail(e, f"{n}() is not allowed (reflection or non-determinism)")
        raise _fail(e, f"unknown function {n!r}")


def _assigned_later(fn: ast.FunctionDef, name: str) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
            return True
    return False


def _check_annotation(node: ast.expr) -> None:
    # Annotations are documentation only; they must still be plain names or subscripts of
    # names (list[int]) so nothing can hide in them.
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and sub.value is not None and not isinstance(sub.value, str):
            raise _fail(sub, "annotations must be type names")
        if isinstance(sub, ast.Call | ast.Lambda | ast.Attribute):
            raise _fail(sub, "annotations must be type names")


def _freeze(arg: Any) -> Any:
    if isinstance(arg, list):
        return tuple(_freeze(a) for a in arg)
    return arg
