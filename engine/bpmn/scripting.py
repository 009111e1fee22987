"""RestrictedPython sandbox for BPMN scripts, gateway conditions and expressions.

Beyond RestrictedPython's compile-time policy (no names or attributes starting with "_") the sandbox
refuses imports and class definitions, and guards:
- time: a per-thread trace function stops sandboxed frames after ``time_limit`` seconds of the
  thread's CPU time less the garbage collector's (engine.bpmn.script_clock: what the script computes,
  not how busy the machine is or how long a service it calls waits on the database); every
  ``while`` body and ``except``/``finally`` block re-checks the deadline, so it is not swallowed;
- size: ``+ * ** << %`` (and their in-place forms), ``range``, ``sum``, ``round``, f-string format
  widths, str/bytes ljust/rjust/center/zfill/expandtabs/replace/join and int.to_bytes refuse results
  above MAX_ITEMS items or MAX_INT_BITS bits before CPython builds them in one uninterruptible C call;
  ``Decimal`` exponents are bounded; str.format/format_map/translate are refused;
- memory: every millisecond of script CPU time the resident memory (/proc/self/statm) is read; grown
  by ``memory_limit`` bytes the script stops, not at the time limit (by then ~1.5 GB). Other
  threads' allocations count too, hence a generous ceiling; not enforced where there is no /proc;
- value size: each variable a script sets or changes, and an expression's result, must fit in
  ``value_limit`` bytes of task data (engine.sizes.data_size), checked before the task data changes.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import decimal
import functools
import math
import operator
import re
import sys
import threading
import types
import warnings
from datetime import date, datetime, timedelta, timezone
from typing import Any

from RestrictedPython import Guards, compile_restricted, safe_builtins, utility_builtins
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer, copy_locations
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.bpmn.script_clock import script_cpu, watch_collections
from engine.bpmn.script_task import TaskScriptEngine
from engine.sizes import data_size, resident_bytes

MAX_ITEMS = 1_000_000
MAX_INT_BITS = 100_000
MAX_DECIMAL_EXPONENT = 4_000
MAX_VALUE_BYTES = 256_000  # what one variable may hold as task data
MAX_MEMORY_BYTES = 256_000_000  # how much the process may grow while one script runs
_MEMORY_CHECK_EVERY = 0.001  # seconds of the script's CPU time between two looks at the memory
_ATOMS = (str, bytes, int, float, type(None))  # values a script cannot change in place
_LIMIT_STATE = ("deadline", "limit", "memory_limit", "memory_base", "memory_check_at", "stopped")
_FILENAME = "<string>"  # SpiffWorkflow finds the failing script line by this frame file name
_STATE = threading.local()
_COMPILE_LOCK = threading.Lock()
_SYNTAX_ERROR = re.compile(r"^Line \d+: (SyntaxError|IndentationError|TabError):")
_PERCENT_SPEC = re.compile(rb"%%|%(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?")


class SandboxViolation(Exception):
    """A script tried something the sandbox refuses."""


def _check_deadline() -> None:
    """Raise once the running script has used up its time or grown the process past its ceiling."""
    deadline = getattr(_STATE, "deadline", None)
    if deadline is None:
        return
    if _STATE.stopped:  # every later check fails too, so an `except` in a loop cannot carry on
        raise SandboxViolation(_STATE.stopped)
    now = script_cpu()
    if now > deadline:
        raise SandboxViolation(f"time limit of {_STATE.limit} s exceeded")
    if _STATE.memory_limit and now >= _STATE.memory_check_at:
        _STATE.memory_check_at = now + _MEMORY_CHECK_EVERY
        resident = resident_bytes()
        if resident is None:
            _STATE.memory_limit = None
        elif _STATE.memory_base is None:  # taken at the first look: short scripts never pay for it
            _STATE.memory_base = resident
        elif resident - _STATE.memory_base > _STATE.memory_limit:
            _STATE.stopped = f"memory limit of {_STATE.memory_limit:,} bytes exceeded"
            raise SandboxViolation(_STATE.stopped)


def _trace(frame: types.FrameType, event: str, arg: Any) -> Any:
    """Trace only sandboxed frames, so host code (services) is never interrupted half-way."""
    if frame.f_code.co_filename != _FILENAME:
        return None
    _check_deadline()
    return _trace


def _limit(size: int, limit: int = MAX_ITEMS, unit: str = "items") -> None:
    """Refuse a result before CPython builds it in one uninterruptible C call."""
    if size > limit:
        shown = f"{size:,}" if size < 10**30 else "over 10**30"  # huge ints cannot even be printed
        raise SandboxViolation(f"refused to build a result of {shown} {unit} (limit {limit:,})")


def _check_width(spec: str | bytes) -> None:
    """Refuse a format spec whose width or precision would pad past MAX_ITEMS."""
    for number in re.findall(rb"\d+", spec.encode("latin-1", "replace") if isinstance(spec, str) else spec):
        _limit(MAX_ITEMS + 1 if len(number) > 7 else int(number))


_SEQUENCES = (str, bytes, list, tuple)
_OPS = {"+": operator.add, "*": operator.mul, "**": operator.pow, "<<": operator.lshift, "%": operator.mod}
_IN_PLACE = {sym + "=": getattr(operator, "i" + name) for sym, name in (
    ("+", "add"), ("-", "sub"), ("*", "mul"), ("/", "truediv"), ("//", "floordiv"), ("%", "mod"),
    ("**", "pow"), ("<<", "lshift"), (">>", "rshift"), ("&", "and"), ("|", "or"), ("^", "xor"),
    ("@", "matmul"))}


def _binop(symbol: str, a: Any, b: Any) -> Any:
    """Guarded ``a symbol b``; a symbol ending in "=" is RestrictedPython's in-place form."""
    op = symbol[:-1] if symbol in _IN_PLACE else symbol
    if op == "+" and isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        _limit(len(a) + len(b))
    elif op == "*" and isinstance(a, int) and isinstance(b, int):
        _limit(a.bit_length() + b.bit_length(), MAX_INT_BITS, "bits")
    elif op == "*" and isinstance(a, _SEQUENCES) and isinstance(b, int):
        _limit(len(a) * b)
    elif op == "*" and isinstance(a, int) and isinstance(b, _SEQUENCES):
        _limit(a * len(b))
    elif op == "**" and isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        _limit(a.bit_length() * b, MAX_INT_BITS, "bits")
    elif op == "<<" and isinstance(a, int) and isinstance(b, int) and a:
        _limit(a.bit_length() + b, MAX_INT_BITS, "bits")
    elif op == "%" and isinstance(a, (str, bytes)):
        for match in _PERCENT_SPEC.finditer(a.encode("latin-1", "replace") if isinstance(a, str) else a):
            if b"*" in match.groups(b""):
                raise SandboxViolation("'*' widths in % formatting are not allowed in scripts")
            _check_width(b".".join(match.groups(b"")))
    return (_IN_PLACE if op != symbol else _OPS)[symbol](a, b)


def _format(value: Any, conversion: int, spec: str) -> str:
    """Guarded f-string field that has a format spec."""
    _check_width(spec)
    converter = {ord("s"): str, ord("r"): repr, ord("a"): ascii}.get(conversion)
    return format(converter(value) if converter else value, spec)


_SIZED_METHODS = {
    **dict.fromkeys(("ljust", "rjust", "center", "zfill"), lambda s, width, *_: width),
    "expandtabs": lambda s, tabsize=8: len(s) * max(1, tabsize),
    "replace": lambda s, old, new, *_: len(s) + max(0, len(new) - len(old)) * s.count(old),
    "join": lambda s, items: sum(map(len, items)) + len(s) * len(items),
    "to_bytes": lambda n, length=1, *_, **__: length,  # int method
}
# format/format_map reach attributes through the format mini-language; translate has no cheap bound.
_REFUSED_METHODS = frozenset({"format", "format_map", "translate", "maketrans", *_SIZED_METHODS})
_MISSING = object()


def _sized_call(obj: str | bytes | int, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call a str/bytes/int method after estimating the length of its result."""
    if name == "join" and args:
        args = (list(args[0]),) + args[1:]  # a generator can be consumed only once
    with contextlib.suppress(TypeError, ValueError):  # bad arguments: the real method reports them
        _limit(_SIZED_METHODS[name](obj, *args, **kwargs))
    return getattr(obj, name)(*args, **kwargs)


def _getattr(obj: Any, name: str, default: Any = _MISSING) -> Any:
    """Attribute access for scripts: no private/dunder names, size-guarded str methods."""
    if not isinstance(name, str) or name.startswith("_") or name in INSPECT_ATTRIBUTES:
        raise SandboxViolation(f"access to attribute {name!r} is not allowed in scripts")
    if isinstance(obj, (str, bytes, int)) and name in _SIZED_METHODS:
        return functools.partial(_sized_call, obj, name)
    # Unbound methods on the type (str.ljust) would bypass the size check above.
    if (obj in (str, bytes, int) or isinstance(obj, (str, bytes))) and name in _REFUSED_METHODS:
        raise SandboxViolation(f"{name}() is not allowed here in scripts")
    return Guards.safer_getattr(obj, name, Guards.raise_ if default is _MISSING else default)


def _range(*args: int) -> range:
    """range() of at most MAX_ITEMS items, since list()/sum() consume it in C."""
    result = range(*args)
    _limit(-((result.start - result.stop) // result.step))  # len() overflows for huge ranges
    return result


def _round(number: Any, ndigits: int | None = None) -> Any:
    """round() refusing huge ndigits: round(5, -10**9) computes 10**(10**9) first."""
    if isinstance(ndigits, int) and abs(ndigits) > 10_000:
        raise SandboxViolation("round() ndigits is limited to 10000 in scripts")
    return round(number) if ndigits is None else round(number, ndigits)


def _sum(iterable: Any, start: Any = 0) -> Any:
    """sum() of numbers only: summing lists concatenates quadratically in C."""
    if not isinstance(start, (int, float, complex, decimal.Decimal)):
        raise SandboxViolation("sum() only adds numbers in scripts")
    return sum(iterable, start)


class _DecimalType(type):
    """Lets scripts build real Decimals (and use isinstance) while refusing huge exponents."""

    def __call__(cls, value: Any = "0") -> decimal.Decimal:
        number = decimal.Decimal(value)
        # int() or f"{d:f}" of Decimal("1e1000000") runs for a long time inside C.
        if number.is_finite() and abs(number.adjusted()) > MAX_DECIMAL_EXPONENT:
            raise SandboxViolation(f"Decimal exponents are limited to {MAX_DECIMAL_EXPONENT} in scripts")
        return number

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, decimal.Decimal)


class _ScriptDecimal(metaclass=_DecimalType):
    """decimal.Decimal as seen by scripts."""


_BUILTINS: dict[str, Any] = {k: v for k, v in safe_builtins.items() if k not in {"__build_class__", "pow"}}
_BUILTINS.update({name: utility_builtins[name] for name in ("set", "frozenset")})
_BUILTINS.update(
    dict=dict, list=list, tuple=tuple, range=_range, round=_round, sum=_sum, min=min, max=max,
    sorted=sorted, any=any, all=all, enumerate=enumerate, zip=zip, getattr=_getattr,
    Decimal=_ScriptDecimal, datetime=datetime, date=date, timedelta=timedelta, timezone=timezone,
    math=types.SimpleNamespace(**{name: getattr(math, name) for name in (
        "ceil", "floor", "trunc", "sqrt", "exp", "log", "log10", "log2", "fabs", "fsum", "isclose",
        "isfinite", "isinf", "isnan", "pi", "e", "inf")}),
    _getattr_=_getattr, _getitem_=operator.getitem, _getiter_=iter, _write_=Guards.full_write_guard,
    _iter_unpack_sequence_=Guards.guarded_iter_unpack_sequence,
    _unpack_sequence_=Guards.guarded_unpack_sequence, _inplacevar_=_binop, _print_=PrintCollector,
    _apply_=lambda f, *a, **kw: f(*a, **kw), _binop_=_binop, _format_=_format, _deadline_=_check_deadline,
)
_GUARDED_BINOPS = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%"}


def _call(name: str, node: ast.AST, *args: ast.expr) -> ast.Call:
    """Build a call to one of the sandbox helpers, located at ``node``."""
    call = ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])
    copy_locations(call, node)
    return call


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus operator size guards and deadline checks."""

    def _check_deadline_first(self, node: Any, field: str = "body") -> Any:
        # CPython 3.11 emits no line event for a one-line `while True: pass`, and an
        # `except Exception: pass` in a loop would swallow the time-limit error forever.
        if getattr(node, field):
            getattr(node, field).insert(0, ast.copy_location(ast.Expr(_call("_deadline_", node)), node))
        return node

    def visit_While(self, node: ast.While) -> ast.AST:
        return self._check_deadline_first(super().visit_While(node))

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        return self._check_deadline_first(super().visit_ExceptHandler(node))

    def visit_Try(self, node: ast.Try) -> ast.AST:
        return self._check_deadline_first(super().visit_Try(node), "finalbody")

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        symbol = _GUARDED_BINOPS.get(type(node.op))
        return _call("_binop_", node, ast.Constant(symbol), node.left, node.right) if symbol else node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        node = self.node_contents_visit(node)
        if node.format_spec is None:
            return node
        value = _call("_format_", node, node.value, ast.Constant(node.conversion), node.format_spec)
        return ast.copy_location(ast.FormattedValue(value=value, conversion=-1, format_spec=None), node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "class definitions are not allowed in scripts")
        return node

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> ast.AST:
        self.error(node, "import is not allowed in scripts")
        return node

    visit_ImportFrom = visit_Import


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> tuple[types.CodeType | None, str | None, bool]:
    """Compile once per (source, mode) into (code, error message, error is a syntax error)."""
    # catch_warnings mutates process-wide state, hence the lock; the warnings are about user code.
    with _COMPILE_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.filterwarnings("ignore", "invalid .*escape", DeprecationWarning)
        try:
            return compile_restricted(source, _FILENAME, mode, policy=_Policy), None, False
        except SyntaxError as exc:  # RestrictedPython puts its list of messages in args[0]
            errors = exc.args[0] if isinstance(exc.args[0], (list, tuple)) else [
                f"Line {exc.lineno}: SyntaxError: {exc.msg}"]
        except ValueError as exc:
            errors = [f"Line 1: SyntaxError: {exc}"]
        except RecursionError:
            errors = ["Line 1: script is too deeply nested"]
    message = "; ".join(" ".join(str(e).split()) for e in errors)
    return None, message, any(_SYNTAX_ERROR.match(str(e)) for e in errors)


def check_source(source: str, mode: str = "exec") -> str | None:
    """Compile under the sandbox without running; None if fine, else a one-line message."""
    return _compile(source, mode)[1]


def _compiled(source: str, mode: str) -> types.CodeType:
    """Cached code object, or the cached compile error raised afresh."""
    code, message, is_syntax = _compile(source, mode)
    if code is not None:
        return code
    found, lines = re.match(r"Line (\d+):", message or ""), source.splitlines()
    lineno = min(int(found.group(1)), len(lines)) if found else 0  # SpiffWorkflow indexes lines by it
    if is_syntax:
        raise SyntaxError(message, (_FILENAME, lineno, 0, lines[lineno - 1] if lineno else ""))
    raise SandboxViolation(message)


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Runs task scripts and expressions under RestrictedPython with time and size limits."""

    def __init__(self, time_limit: float = 1.0, services: dict[str, Any] | None = None,
                 value_limit: int = MAX_VALUE_BYTES, memory_limit: int = MAX_MEMORY_BYTES):
        super().__init__(dict(services or {}))
        self.time_limit, self.value_limit, self.memory_limit = time_limit, value_limit, memory_limit

    def _check_size(self, value: Any, what: str) -> None:
        """Refuse a value too big to keep in task data, naming it."""
        if data_size(value, self.value_limit) > self.value_limit:
            raise SandboxViolation(f"{what} would take more than {self.value_limit:,} bytes of task data "
                                   "(the limit for one value)")

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        """Evaluate an expression against task data (task data wins over external names)."""
        code = _compiled(expression, "eval")
        result = self._run(code, {"__builtins__": _BUILTINS, **self.globals, **(external_context or {}),
                                  **context})
        self._check_size(result, "the expression's result")
        return result

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        """Run a script; on success its new, changed and deleted variables are applied to ``context``."""
        external = external_context or {}
        clash = (set(self.globals) | set(external)) & set(context)
        if clash:
            raise ValueError(f"Task data overwrites predefined function(s); rename: {sorted(clash)}")
        # Containers copied: a script that grows a list of the task data in place, then fails, leaves it as it was.
        namespace = {"__builtins__": _BUILTINS, **self.globals, **external,
                     **{k: v if isinstance(v, _ATOMS) else copy.deepcopy(v) for k, v in context.items()}}
        self._run(_compiled(script, "exec"), namespace)
        for key, value in namespace.items():
            kept = key in context and context[key] is value and isinstance(value, _ATOMS)
            if not (kept or key.startswith("_") or key in self.globals or key in external or callable(value)
                    or isinstance(value, types.ModuleType)):
                self._check_size(value, f"variable {key!r}")
        # Applied only after success, so a failed script leaves the task data as it was.
        for key in [key for key in context if key not in namespace]:
            del context[key]
        for key, value in namespace.items():
            if key.startswith("_") or key in self.globals or key in external:
                continue
            if callable(value) or isinstance(value, types.ModuleType):
                context.pop(key, None)
            else:
                context[key] = value
        return True

    def _run(self, code: types.CodeType, namespace: dict) -> Any:
        """Evaluate code with this thread's deadline, memory ceiling, trace function and Decimal limits."""
        outer = {name: getattr(_STATE, name, None) for name in _LIMIT_STATE}
        outer_trace = sys.gettrace()
        now = script_cpu()
        deadline = now + self.time_limit
        # A nested run (a service evaluating again) keeps the outer deadline if earlier, and its memory base.
        if outer["deadline"] is None or deadline < outer["deadline"]:
            _STATE.deadline, _STATE.limit = deadline, self.time_limit
        if outer["deadline"] is None:
            _STATE.memory_limit, _STATE.memory_base = self.memory_limit, None
            _STATE.memory_check_at = now + _MEMORY_CHECK_EVERY
            _STATE.stopped = None
        sys.settrace(_trace)
        try:
            with decimal.localcontext(Emax=MAX_DECIMAL_EXPONENT, Emin=-MAX_DECIMAL_EXPONENT):
                return eval(code, namespace)  # eval also runs exec-mode code objects
        finally:
            sys.settrace(outer_trace)
            for name in _LIMIT_STATE if outer["deadline"] is None else ("deadline", "limit"):
                setattr(_STATE, name, outer[name])


def create_script_engine(
    time_limit: float = 1.0, services: dict[str, Any] | None = None, value_limit: int = MAX_VALUE_BYTES,
    memory_limit: int = MAX_MEMORY_BYTES,
) -> TaskScriptEngine:
    """SpiffWorkflow script engine running everything in the sandbox; ``services`` are callable by name."""
    watch_collections()
    return TaskScriptEngine(environment=SandboxEnvironment(
        time_limit=time_limit, services=services, value_limit=value_limit, memory_limit=memory_limit))
