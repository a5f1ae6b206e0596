"""Programs in C: the same Wengert list, compiled by the system's C compiler, bit for bit.

A traced :class:`~tinygrad_edu.program.Program` is a straight-line list of float
operations. Written as C, each line is one machine instruction or one call into the C
math library, about a nanosecond, against tens of nanoseconds for the same line in
Python. ``trace(f, ..., backend="c")`` (or ``compile(f, backend="c")``) writes that C
(``program.c_source``), compiles it once, and runs it on every call.

How it stays bit-identical to the Python program and to eager:

* IEEE double arithmetic as written: ``-fno-fast-math``, ``-ffp-contract=off`` (no
  fused multiply-add: ``a * b + c`` rounds twice, as in Python), and no excess precision
  (64-bit x86 and ARM compute in double registers; ``-fexcess-precision=standard`` is
  passed to gcc for the x87 case).
* The same C math library functions Python's :mod:`math` calls (CPython's ``math.exp``,
  ``math.log``, ``math.tanh``, ``math.sin``, ``math.cos``, ``math.sqrt`` call ``exp``,
  ``log``, ... of the libm Python itself is linked with; ``x ** y`` is CPython's
  ``float_pow``, whose special cases :c:func:`py_pow` below repeats before calling
  ``pow``). ``-fno-builtin`` stops the compiler from folding or rewriting those calls
  (gcc turns ``pow(x, 2.0)`` into ``x * x``, correctly rounded, which libm's ``pow``
  need not be).
* The same formulas in the same order: each op's C rule below is its Python kernel
  (``operators.sigmoid``, the powers, the fused nodes' loops) written again, and the
  adjoints are summed in the order of the Python program.
* Errors and non-finite numbers: where Python raises (``log(0)``, ``exp(1000)``, a
  division by zero), C gives ``inf`` or ``nan``. After the run, one loop checks that
  every number on the tape is finite; if not, the program hands the call to the eager
  run, which raises the eager error or gives the eager answer, as the Python program does.

An op without a C rule (an ``Op`` of your own, written in Python) is refused, with an
error naming the node and saying that ``backend="python"`` runs it. Calling back into
Python for such a node would cost a Python call per node per run, which is what the C
program exists to avoid, and an exception cannot travel back through C cleanly.

Loading: :mod:`ctypes`, from the standard library. A program is *one* call per run
(the tape of doubles goes in as one array), so the per-call overhead of ``ctypes``
(about a microsecond) is amortised over the whole program, and nothing needs
installing (``cffi`` would add a dependency for no gain at one call per run).

Building: the compiler is ``$CC``, else ``cc``, ``gcc`` or ``clang`` on the PATH. The
command line holds only the flags below and file paths generated in the cache
directory: no label or name reaches it. Labels reach the C text only inside
``/* ... */`` comments, cleaned so that they cannot end the comment early (see
:func:`comment`). Built libraries are cached on disk by a hash of their source, the
flags and the compiler's version, under ``$TINYGRAD_EDU_CACHE_DIR``, else
``$XDG_CACHE_HOME/tinygrad_edu``, else ``~/.cache/tinygrad_edu``. Each build writes a
file of its own and moves it into place with :func:`os.replace`, so two processes
building the same program at once both end with a complete library.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from tinygrad_edu import engine, functional, fused
from tinygrad_edu.engine import Op

__all__ = ["FLAGS", "STATEMENTS_PER_FUNCTION", "CompilerNotFoundError", "cache_dir", "comment"]

#: The compiler's flags (see the module docstring). ``-O1``: on the 10,000-step chain
#: it runs 2.4 times faster than ``-O0`` (a library a third the size), for a longer build.
FLAGS = (
    "-O1", "-fno-fast-math", "-ffp-contract=off", "-fno-builtin",
    "-fPIC", "-shared", "-w",
)  # fmt: skip

#: How many statements go into one C function: gcc -O1 builds the 10,000-step chain in
#: 10 s of CPU time with 200 a function, 26 s with 2,000 (it runs as fast either way).
STATEMENTS_PER_FUNCTION = 200

_INSTALL = (
    "install a C compiler (gcc or clang, e.g. `apt-get install gcc`, `xcode-select "
    "--install` on macOS) or set CC; backend='python' needs none and works everywhere"
)


class CompilerNotFoundError(RuntimeError):
    """No C compiler was found, or it failed to build a program."""


# --------------------------------------------------------------------------- the compiler


@cache
def _compiler() -> tuple[tuple[str, ...], str]:
    """The compiler's command (``$CC``, else cc, gcc, clang) and its ``--version`` line."""
    names = [os.environ["CC"]] if os.environ.get("CC") else ["cc", "gcc", "clang"]
    for name in names:
        command = shlex.split(name)
        path = shutil.which(command[0]) if command else None
        if path is None:
            continue
        try:
            version = subprocess.run(
                [path, *command[1:], "--version"], capture_output=True, text=True, check=True
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            continue
        return (path, *command[1:]), version
    raise CompilerNotFoundError(
        f"backend='c': no C compiler found ({', '.join(names)}); {_INSTALL}"
    )


def _flags(version: str) -> tuple[str, ...]:
    gcc = "Free Software Foundation" in version or version.startswith("gcc")
    x87 = platform.machine().lower() in {"i386", "i486", "i586", "i686", "x86"}
    return (
        *FLAGS,
        *(["-fexcess-precision=standard"] if gcc else []),
        *(["-msse2", "-mfpmath=sse"] if x87 else []),
    )


def cache_dir() -> Path:
    """Where built libraries are kept (see the module docstring)."""
    if os.environ.get("TINYGRAD_EDU_CACHE_DIR"):
        return Path(os.environ["TINYGRAD_EDU_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tinygrad_edu"


def library_path(source: str) -> Path:
    """The cached library of ``source``: building it first if it is not in the cache."""
    command, version = _compiler()
    flags = _flags(version)
    key = hashlib.sha256("\0".join([source, *flags, version]).encode()).hexdigest()[:32]
    directory = cache_dir() / "c"
    library = directory / f"{key}.so"
    if library.exists():
        return library
    directory.mkdir(parents=True, exist_ok=True)
    # A file of this build's own (two processes may build the same program at once),
    # moved into place when complete: a reader never sees half a library.
    with tempfile.TemporaryDirectory(dir=directory, prefix=f"{key}.") as work:
        c_file, built = Path(work, "program.c"), Path(work, "program.so")
        c_file.write_text(source, encoding="ascii")
        result = subprocess.run(
            [*command, *flags, "-o", str(built), str(c_file), "-lm"],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise CompilerNotFoundError(
                f"backend='c': {command[0]} failed to build the program:\n"
                f"{result.stderr[-2000:]}\n{_INSTALL}"
            )
        os.replace(built, library)
    return library


def load(source: str, symbol: str = "tg_run") -> Callable[[Any], int]:
    """The compiled program: ``run(tape)`` fills the tape and returns 1 if all is finite
    (``symbol`` names the function, in a library of several)."""
    run = getattr(ctypes.CDLL(str(library_path(source))), symbol)
    run.restype = ctypes.c_int
    run.argtypes = [ctypes.POINTER(ctypes.c_double)]
    return run


# --------------------------------------------------------------------------- comments


_UNSAFE = re.compile(r"[^\x20-\x7e]")


def comment(text: str) -> str:
    """``text`` as a C comment that cannot end early or reach the code around it.

    Characters outside printable ASCII (line breaks, ``θ``) are written as escapes,
    ``*/`` and ``/*`` lose their meaning (``* /``, ``/ *``), and ``??`` becomes ``? ?``
    (``??/`` is a trigraph for a backslash in strict C modes). So the comment is one
    line that ends only at its own ``*/``.
    """
    text = _UNSAFE.sub(lambda m: ascii(m.group())[1:-1], text)
    while "*/" in text or "/*" in text or "??" in text:
        text = text.replace("*/", "* /").replace("/*", "/ *").replace("??", "? ?")
    return f"/* {text} */"


# --------------------------------------------------------------------------- the C rules
# For each op: its forward as a C expression of the operands ``a`` (tape reads
# ``t[12]`` and constants), and the local derivative ``d out / d operand i`` given the
# output ``o``; a contribution is ``(d) * g``, as ``_d_v[i] * g`` in the Python program.
# The ops the Python program writes out (``+``, ``tanh``, ...) give their contribution
# itself, the same expression as there.

_Rule = tuple[Callable[[list[str]], str], Callable[[list[str], str, int, str], str]]


def _times(d: Callable[[list[str], str, int], str]) -> Callable[[list[str], str, int, str], str]:
    return lambda a, o, i, g: f"({d(a, o, i)}) * {g}"


_RULES: dict[Op, _Rule] = {
    engine.ADD: (lambda a: f"{a[0]} + {a[1]}", lambda a, o, i, g: g),
    engine.SUB: (lambda a: f"{a[0]} - {a[1]}", lambda a, o, i, g: f"-{g}" if i else g),
    engine.RSUB: (lambda a: f"{a[1]} - {a[0]}", lambda a, o, i, g: f"-{g}"),
    engine.MUL: (lambda a: f"{a[0]} * {a[1]}", lambda a, o, i, g: f"{a[1 - i]} * {g}"),
    engine.DIV: (
        lambda a: f"{a[0]} / {a[1]}",
        lambda a, o, i, g: f"(-{o} / {a[1]}) * {g}" if i else f"(1.0 / {a[1]}) * {g}",
    ),
    engine.RDIV: (lambda a: f"{a[1]} / {a[0]}", lambda a, o, i, g: f"(-{o} / {a[0]}) * {g}"),
    engine.NEG: (lambda a: f"-{a[0]}", lambda a, o, i, g: f"-{g}"),
    engine.EXP: (lambda a: f"exp({a[0]})", lambda a, o, i, g: f"{o} * {g}"),
    engine.LOG: (lambda a: f"log({a[0]})", lambda a, o, i, g: f"(1.0 / {a[0]}) * {g}"),
    engine.TANH: (lambda a: f"tanh({a[0]})", lambda a, o, i, g: f"(1.0 - {o} * {o}) * {g}"),
    engine.SIGMOID: (
        lambda a: f"sigmoid({a[0]})",
        lambda a, o, i, g: f"({o} * (1.0 - {o})) * {g}",
    ),
    engine.RELU: (
        lambda a: f"{a[0]} > 0.0 ? {a[0]} : 0.0",
        lambda a, o, i, g: f"({a[0]} > 0.0 ? 1.0 : 0.0) * {g}",
    ),
    engine.SIN: (lambda a: f"sin({a[0]})", lambda a, o, i, g: f"cos({a[0]}) * {g}"),
    engine.COS: (lambda a: f"cos({a[0]})", lambda a, o, i, g: f"(-sin({a[0]})) * {g}"),
    # ops whose Python program calls their own forward and derivative functions
    engine.POW: (
        lambda a: f"power_of_base({a[0]}, {a[1]})",
        _times(lambda a, o, i: f"pow_slope_{'y' if i else 'x'}({a[0]}, {a[1]}, {o})"),
    ),
    engine.POW_CONST: (
        lambda a: f"power({a[0]}, {a[1]})",
        _times(lambda a, o, i: f"pow_const_slope({a[0]}, {a[1]})"),
    ),
    engine.RPOW: (
        lambda a: f"power_of_base({a[1]}, {a[0]})",
        _times(lambda a, o, i: f"{a[1]} > 0.0 ? {o} * log({a[1]}) : 0.0"),
    ),
    engine.ABS: (
        lambda a: f"fabs({a[0]})",
        _times(lambda a, o, i: f"{a[0]} == 0.0 ? 0.0 : copysign(1.0, {a[0]})"),
    ),
    engine.SQRT: (
        lambda a: f"{a[0]} < 0.0 ? NAN : sqrt({a[0]})",
        _times(lambda a, o, i: f"{o} != 0.0 ? 0.5 / {o} : INFINITY"),
    ),
    engine.LEAKY_RELU: (
        lambda a: f"{a[0]} > 0.0 ? {a[0]} : {a[1]} * {a[0]}",
        _times(lambda a, o, i: f"{a[0]} > 0.0 ? 1.0 : {a[1]}"),
    ),
    functional.INPUT: (lambda a: a[0], _times(lambda a, o, i: "1.0")),
}

# Ops of many operands: a loop over an array of tape indices, in a C function of the
# preamble (``fw_dot``, ``bw_dot``, ...), instead of one line per operand.
_FUSED: dict[Op, str] = {
    fused.WEIGHTED_SUM: "weighted_sum",
    fused.DOT: "dot",
    fused.SUM: "sum",
    fused.LOGSUMEXP: "logsumexp",
    fused.SOFTMAX_DOT: "softmax_dot",
}

# The ops of the layers above this module (the losses', the layers'), known by the
# module and names of their rules, as this module may not import them.
_ABOVE: dict[tuple[str, str, str], _Rule | str] = {
    ("tinygrad_edu.losses", "_softplus_forward", "_softplus_derivative"): (
        lambda a: f"softplus({a[0]})",
        _times(lambda a, o, i: f"softplus_slope({a[0]})"),
    ),
    ("tinygrad_edu.losses", "_largest_forward", "_largest_derivative"): "shift",
    ("tinygrad_edu.nn.layers", "_relu_dot_forward", "_relu_dot_derivative"): "relu_dot",
    ("tinygrad_edu.nn.layers", "_relu_weighted_sum_forward", "_relu_weighted_sum_derivative"): (
        "relu_weighted_sum"
    ),
}


def rule_key(op: Op) -> tuple[str | None, ...]:
    """An op of a layer above by its rules' module and names (``None`` if they differ):
    ``("tinygrad_edu.nn.layers", "_relu_dot_forward", "_relu_dot_derivative")``."""
    forward, derivative = op.forward, op.derivative
    module = getattr(forward, "__module__", None)
    if getattr(derivative, "__module__", None) != module:
        return (None,)
    return (
        module,
        getattr(forward, "__qualname__", None),
        getattr(derivative, "__qualname__", None),
    )


def _rule(op: Op) -> _Rule | str | None:
    """The C rule of ``op`` (a fused op's: the name of its C functions), or None."""
    return _RULES.get(op) or _FUSED.get(op) or _ABOVE.get(rule_key(op))  # type: ignore[arg-type]


_PREAMBLE = r"""
#include <math.h>

/* x ** y as CPython's float_pow computes it (Objects/floatobject.c) for finite x, y:
   its special cases first, then the C library's pow of |x|, negated for an odd power. */
static double py_pow(double x, double y) {
    int negate = 0;
    if (y == 0.0) return 1.0;
    if (x == 0.0) {
        int odd = fmod(fabs(y), 2.0) == 1.0;
        if (y < 0.0) return NAN;                    /* ZeroDivisionError in Python */
        return odd ? x : 0.0;
    }
    if (x < 0.0) {
        if (y != floor(y)) return NAN;              /* a complex number in Python */
        x = -x;
        negate = fmod(fabs(y), 2.0) == 1.0;
    }
    if (x == 1.0) return negate ? -1.0 : 1.0;
    x = pow(x, y);                                  /* inf on overflow: OverflowError */
    return negate ? -x : x;
}

/* operators.power, operators.power_of_base: no answer (nan) where Python raises */
static double power(double x, double y) {
    if ((x == 0.0 && y < 0.0) || (x < 0.0 && y != floor(y))) return NAN;
    return py_pow(x, y);
}
static double power_of_base(double x, double y) { return x < 0.0 ? NAN : power(x, y); }

/* operators.power_derivative: d(x**y)/dx and d(x**y)/dy */
static double pow_slope_x(double x, double y, double out) {
    (void)out;
    if (x == 0.0) return y == 0.0 ? 0.0 : y < 1.0 ? INFINITY : y * py_pow(x, y - 1.0);
    return y * py_pow(x, y - 1.0);
}
static double pow_slope_y(double x, double y, double out) {
    (void)y;
    return x == 0.0 ? 0.0 : out * log(x);
}
/* operators.power_const_derivative: d(x**c)/dx */
static double pow_const_slope(double x, double c) {
    if (c == 0.0) return 0.0;
    if (c < 1.0 && x == 0.0) return INFINITY;
    return c * py_pow(x, c - 1.0);
}

/* operators.sigmoid: exp only ever sees -|x| */
static double sigmoid(double x) {
    double z;
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    z = exp(x);
    return z / (1.0 + z);
}

/* losses.SOFTPLUS: log(1 + e^z) and its slope, exp again of -|z| only */
static double softplus(double z) {
    if (z >= 0.0) return z + log(1.0 + exp(-z));
    return log(1.0 + exp(z));
}
static double softplus_slope(double z) {
    double e;
    if (z >= 0.0) return 1.0 / (1.0 + exp(-z));
    e = exp(z);
    return e / (1.0 + e);
}

/* Python's max(): the first of the largest */
static double largest(const double *t, const int *a, int n) {
    double m = t[a[0]];
    for (int i = 1; i < n; i++) if (t[a[i]] > m) m = t[a[i]];
    return m;
}

/* The fused ops. a: the tape indices of the operands; n: as in their Python rules.
   Backward: parent i's adjoint t[adj[i]] receives d_i * g (set if first[i], else added). */
#define GIVE(i, d) do { double c_ = (d) * g; \
    if (first[i]) t[adj[i]] = c_; else t[adj[i]] += c_; } while (0)

static double fw_weighted_sum(const double *t, const int *a, int n) {   /* w[n], b, x[n] */
    double out = t[a[n]];
    for (int i = 0; i < n; i++) out += t[a[i]] * t[a[n + 1 + i]];
    return out;
}
static void bw_weighted_sum(double *t, const int *a, const int *adj, const unsigned char *first,
                            int parents, int n, double o, double g) {
    (void)o;
    for (int i = 0; i < parents; i++) {
        if (i == n) { if (first[i]) t[adj[i]] = g; else t[adj[i]] += g; }
        else GIVE(i, i < n ? t[a[n + 1 + i]] : t[a[i - n - 1]]);
    }
}

static double fw_dot(const double *t, const int *a, int n) {            /* a[n], b[n] */
    double out = t[a[0]] * t[a[n]];
    for (int i = 1; i < n; i++) out += t[a[i]] * t[a[n + i]];
    return out;
}
static void bw_dot(double *t, const int *a, const int *adj, const unsigned char *first,
                   int parents, int n, double o, double g) {
    (void)o;
    for (int i = 0; i < parents; i++) GIVE(i, i < n ? t[a[n + i]] : t[a[i - n]]);
}

static double fw_sum(const double *t, const int *a, int n) {            /* x[n] */
    double out = t[a[0]];
    for (int i = 1; i < n; i++) out = out + t[a[i]];
    return out;
}
static void bw_sum(double *t, const int *a, const int *adj, const unsigned char *first,
                   int parents, int n, double o, double g) {
    (void)a; (void)n; (void)o;
    for (int i = 0; i < parents; i++) GIVE(i, 1.0);
}

static double fw_logsumexp(const double *t, const int *a, int n) {      /* x[n] */
    double top = largest(t, a, n), total = exp(t[a[0]] - top);
    for (int i = 1; i < n; i++) total = total + exp(t[a[i]] - top);
    return log(total) + top;
}
static void bw_logsumexp(double *t, const int *a, const int *adj, const unsigned char *first,
                         int parents, int n, double o, double g) {
    (void)n;
    for (int i = 0; i < parents; i++) GIVE(i, exp(t[a[i]] - o));
}

/* fused._softmax: softmax(scale * s), the largest score subtracted first */
static void softmax(const double *t, const int *a, int n, double scale, double *w) {
    double top = largest(t, a, n), total;
    for (int i = 0; i < n; i++) w[i] = exp((t[a[i]] - top) * scale);
    total = w[0];
    for (int i = 1; i < n; i++) total = total + w[i];
    for (int i = 0; i < n; i++) w[i] = w[i] / total;
}
static double fw_softmax_dot(const double *t, const int *a, int n) {    /* s[n], v[n], scale */
    double w[n], out;
    softmax(t, a, n, t[a[2 * n]], w);
    out = w[0] * t[a[n]];
    for (int i = 1; i < n; i++) out += w[i] * t[a[n + i]];
    return out;
}
static void bw_softmax_dot(double *t, const int *a, const int *adj, const unsigned char *first,
                           int parents, int n, double o, double g) {
    double w[n], scale = t[a[2 * n]];
    softmax(t, a, n, scale, w);
    for (int i = 0; i < parents; i++)
        GIVE(i, i < n ? scale * w[i] * (t[a[n + i]] - o) : w[i - n]);
}

/* layers._products_on: start + w_j h_j over the units that are on (h_j > 0) */
static double fw_relu_dot(const double *t, const int *a, int n) {       /* w[n], h[n] */
    double out = 0.0;
    int any = 0;
    for (int i = 0; i < n; i++) {
        double h = t[a[n + i]];
        if (h > 0.0) { out = any ? out + t[a[i]] * h : t[a[i]] * h; any = 1; }
    }
    return out;
}
static void bw_relu_dot(double *t, const int *a, const int *adj, const unsigned char *first,
                        int parents, int n, double o, double g) {
    (void)o;
    for (int i = 0; i < parents; i++) {
        int j = i < n ? i : i - n;
        double h = t[a[n + j]];
        GIVE(i, h > 0.0 ? (i < n ? h : t[a[j]]) : 0.0);
    }
}

static double fw_relu_weighted_sum(const double *t, const int *a, int n) { /* w[n], b, h[n] */
    double out = t[a[n]];
    for (int i = 0; i < n; i++) {
        double h = t[a[n + 1 + i]];
        if (h > 0.0) out = out + t[a[i]] * h;
    }
    return out;
}
static void bw_relu_weighted_sum(double *t, const int *a, const int *adj,
                                 const unsigned char *first, int parents, int n, double o,
                                 double g) {
    (void)o;
    for (int i = 0; i < parents; i++) {
        if (i == n) { GIVE(i, 1.0); continue; }
        int j = i < n ? i : i - n - 1;
        double h = t[a[n + 1 + j]];
        GIVE(i, h > 0.0 ? (i < n ? h : t[a[j]]) : 0.0);
    }
}

static double fw_shift(const double *t, const int *a, int n) { return largest(t, a, n); }
static void bw_shift(double *t, const int *a, const int *adj, const unsigned char *first,
                     int parents, int n, double o, double g) {
    (void)a; (void)n; (void)o;
    for (int i = 0; i < parents; i++) GIVE(i, 0.0);
}
"""


def _fused_n(kind: str, n_operands: int) -> int:
    """The ``n`` of a fused op's C functions (the number of weights, scores, ...)."""
    if kind in ("weighted_sum", "softmax_dot", "relu_weighted_sum"):
        return (n_operands - 1) // 2
    if kind in ("dot", "relu_dot"):
        return n_operands // 2
    return n_operands


def _number(c: float) -> str:
    """A constant as C text that reads back as the same double (repr round-trips)."""
    text = repr(c)
    if "." not in text and "e" not in text:
        text += ".0"
    return f"({text})" if text.startswith("-") else text


def write(
    name: str,
    statements: Sequence[Any],
    inputs: Sequence[str],
    outputs: Sequence[str],
) -> tuple[str, int]:
    """The C source of a program's statements, and the size of its tape.

    ``statements`` are the Python program's (``program._Statement``), in order, each
    carrying the node it comes from. Every value and adjoint has its own slot on the
    tape ``t``: the inputs first (``inputs``), then the constants the fused ops read,
    then the rest. ``tg_run(t)`` computes, copies the ``outputs`` after the tape's
    last slot (so Python reads them as one slice) and returns 1 if every number on the
    tape is finite, else 0.
    """
    slots = {n: i for i, n in enumerate(inputs)}
    constants: list[float] = []
    arrays: list[str] = []
    body: list[str] = []

    def slot(n: str) -> int:
        return slots.setdefault(n, len(slots))

    def read(n: str) -> str:
        return f"t[{slot(n)}]"

    names_of_k: list[str] = []  # placeholder names for the constants of fused ops

    def index_array(values: Sequence[int], kind: str = "int") -> str:
        arrays.append(f"static const {kind} A{len(arrays)}[] = {{{', '.join(map(str, values))}}};")
        return f"A{len(arrays) - 1}"

    k = 0
    while k < len(statements):
        s = statements[k]
        line = comment(f"{s}  # {s.comment}")
        node = s.node
        if node is None:
            if not s.forward:  # an adjoint's start: 1.0 for the value, 0.0 for an unused input
                body.append(f"t[{slot(s.target)}] = {s.expression}; {line}")
            k += 1  # a weighted sum's first terms, an op's local derivatives: in the rule
            continue
        op, out, parents, consts = node
        rule = _rule(op)
        if rule is None:
            raise TypeError(
                f"backend='c': node {out} ({comment(op.name)[3:-3]}) is an op of your own, "
                "written in Python, with no C rule; trace with backend='python' to run it"
            )
        if isinstance(rule, str):
            operand_slots = [slot(p) for p in parents]
            for c in consts:
                names_of_k.append(f"\0k{len(names_of_k)}")
                constants.append(c)
                operand_slots.append(slot(names_of_k[-1]))
            a = index_array(operand_slots)
            kind = rule
            n = _fused_n(kind, len(operand_slots))
            if s.edge < 0:
                body.append(f"{read(out)} = fw_{kind}(t, {a}, {n}); {line}")
                k += 1
                continue
            group = []  # the node's contributions, one per parent, in order
            while k < len(statements) and statements[k].node is node and statements[k].edge >= 0:
                group.append(statements[k])
                k += 1
            adj = index_array([slot(g.target) for g in group])
            first = index_array([int(g.assign == "=") for g in group], "unsigned char")
            body.append(
                f"bw_{kind}(t, {a}, {adj}, {first}, {len(group)}, {n}, {read(out)}, "
                f"{read(s.grad)}); {comment(f'd {out}/d each operand ({op.name}), into adjoints')}"
            )
            continue
        operands = [read(p) for p in parents] + [_number(c) for c in consts]
        forward, contribution = rule
        if s.edge < 0:
            body.append(f"{read(out)} = {forward(operands)}; {line}")
        else:
            expression = contribution(operands, read(out), s.edge, read(s.grad))
            body.append(f"{read(s.target)} {s.assign} {expression}; {line}")
        k += 1

    functions = []
    for p, start in enumerate(range(0, len(body), STATEMENTS_PER_FUNCTION)):
        lines = "\n    ".join(body[start : start + STATEMENTS_PER_FUNCTION])
        functions.append(f"static void part_{p}(double *t) {{\n    {lines}\n}}")
    n_parts = len(functions)
    out_slots = [slot(o) for o in outputs]
    size = len(slots)
    run = [
        "int tg_run(double *t) {",
        *(
            [
                f"    static const double K[] = {{{', '.join(_number(c) for c in constants)}}};",
                f"    static const int KS[] = {{{', '.join(str(slots[c]) for c in names_of_k)}}};",
                f"    for (int i = 0; i < {len(constants)}; i++) t[KS[i]] = K[i];",
            ]
            if constants
            else []
        ),
        *(f"    part_{p}(t);" for p in range(n_parts)),
        f"    static const int OUT[] = {{{', '.join(map(str, out_slots))}}};",
        f"    for (int i = 0; i < {len(out_slots)}; i++) t[{size} + i] = t[OUT[i]];",
        "    double zero = 0.0;  /* 0.0 * x is 0 for every finite x, nan for inf and nan */",
        f"    for (int i = 0; i < {size}; i++) zero += t[i] * 0.0;",
        "    return zero == 0.0;",
        "}",
    ]
    header = comment(
        f"program {name}: the Wengert list of tinygrad_edu.trace as C; t is the tape, "
        f"one slot per value and adjoint ({len(inputs)} inputs first)"
    )
    source = "\n".join([header, _PREAMBLE, *arrays, "", *functions, "", *run, ""])
    return source, size
