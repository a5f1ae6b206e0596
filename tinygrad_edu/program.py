"""Backprop as a program: trace a function once, read its gradient code, run it on floats.

Reverse mode was first written down as a *Wengert list*: one assignment per
intermediate result (the forward pass), then one assignment per adjoint, in reverse
(the backward pass). :func:`trace` turns a function of Values into exactly that::

    >>> import tinygrad_edu as tg
    >>> def neuron(x, w, b):
    ...     return (w * x + b).tanh()
    >>> program = tg.trace(neuron, 2.0, -3.0, 1.0)
    >>> print(program)
    def neuron(x, w, b):
        # forward
        v1 = w * x                        # *
        v2 = v1 + b                       # +
        v3 = tanh(v2)                     # tanh
        # backward: adjoints, in reverse
        g_v3 = 1.0                        # d v3/d v3
        g_v2 = (1.0 - v3 * v3) * g_v3     # d v3/d v2 (tanh)
        g_v1 = g_v2                       # d v2/d v1 (+)
        g_b = g_v2                        # d v2/d b (+)
        g_w = x * g_v1                    # d v1/d w (*)
        g_x = w * g_v1                    # d v1/d x (*)
        return v3, (g_x, g_w, g_b)
    >>> value, (dx, dw, db) = program(0.5, 1.5, -0.25)    # plain floats in and out

Running the program computes the same numbers as ``f`` followed by ``backward()``, bit
for bit, without building a single Value: each line is one float operation, so it runs
many times faster than the graph. What it records is also what it cannot see: a Python
``if`` or ``for`` that depends on a number is decided once, while tracing, and frozen
into the program (as in ``jax.jit`` and ``torch.jit.trace``). ``check=True`` re-runs
``f`` on every call and raises :class:`TraceMismatchError` where the operations differ.

How a program stays exact. Each adjoint is summed in the order ``backward()`` sums it
(its reverse topological order, parents in order), with the same expressions as the
op table's derivative rules; an operation the program does not know by name calls the
op's own ``forward`` and ``derivative``, so user-defined operations work too, with the
checks ``Op.__call__`` makes (an ``int`` becomes a float, a ``bool`` is refused).
``backward()`` lets an edge whose local derivative is 0.0, and a node whose gradient
is 0.0, pass nothing on; the program adds their ``0.0 * g`` and ``local * 0.0``
instead, which changes nothing while every adjoint is finite (a sum that starts at
+0.0 ends at +0.0 when zeros are added to it), and a non-finite adjoint shows up in
some leaf's gradient, so that case (and any error or overflow) is handed to
an eager run of ``f``, which gives the eager answer or raises the eager error.

How a big program stays quick to build. Python compiles a few thousand straight-line
statements per function well; one function of a hundred thousand costs more time and
memory per line. So the statements are cut into *parts* of at most
:data:`STATEMENTS_PER_PART`, each a function of its own with fast local variables, and a
value one part leaves to another goes through a flat list, the *tape* ``t``.

How names stay apart. Python reads identifiers in their NFKC form, so ``𝐱`` and ``ｘ``
are both ``x`` to it, and a value named ``sum`` or ``exp`` would hide the function the
code calls. So the code uses a label as a name only when it is a plain ASCII name that
nothing else uses (``w``, ``h1``); any other label, and an argument named ``θ``, gets a
generated name (``v1``, ``x1``) and is shown in the listing's comments.
"""

from __future__ import annotations

import builtins
import copy
import ctypes
import inspect
import keyword
import math
import numbers
import re
from collections.abc import Callable, Iterator, Sequence
from functools import update_wrapper
from typing import Any, NamedTuple, SupportsIndex

from tinygrad_edu import engine, fused, interop, operators, program_c
from tinygrad_edu.engine import Op, Value, enable_grad, topological_order
from tinygrad_edu.grad_mode import tracing

__all__ = ["STATEMENTS_PER_PART", "Program", "TraceMismatchError", "compile", "trace"]

#: How many statements go into one compiled part (see the module docstring).
STATEMENTS_PER_PART = 8000

_isfinite = math.isfinite
_CALLED = {  # functions the generated code calls by these names
    "exp": math.exp,  # raises OverflowError on overflow, like operators.exp
    "log": math.log,  # raises ValueError for x <= 0, like operators.log
    "tanh": math.tanh,
    "sigmoid": operators.sigmoid,
    "sin": math.sin,
    "cos": math.cos,
    "max": max,  # the largest score of a softmax or a log-sum-exp, as those ops take it
}


_DECIDED = (
    "A Python decision that depends on a number (an if, a loop count, a max, a .data) went "
    "another way; trace at these inputs, or make the decision an operation"
)


class TraceMismatchError(RuntimeError):
    """``f`` performed other operations than the ones traced (found with ``check=True``)."""


# --------------------------------------------------------------------------- the op rules
# For each op the program knows by name: its forward lines, and the contribution
# ``local_grad * g`` that the edge to parent ``i`` adds to that parent's adjoint, written
# exactly as the op table computes it (the same float operations in the same order).
# ``a`` are the operand expressions (parents, then constants), ``o`` the output's name.
# A forward line is an expression assigned to ``o`` (a long sum takes several, in
# turn), or a pair ``(name, expression)`` for a value of the op's own that its later
# lines and contributions read: a softmax's weights, say, named ``_o_w1, _o_w2, ...``.

ForwardLine = str | tuple[str, str]
Forward = Callable[[list[str], str], list[ForwardLine]]
Contribution = Callable[[list[str], str, int, str], str]

# How many terms of a sum go on one line. A longer sum continues on the next line as
# ``o = o + w * x + ...``: Python adds left to right, so that is the same sum in the
# same order, bit for bit, and it keeps Python's compiler, which recurses once per
# ``+`` of an expression, from running out of stack on a neuron with thousands of inputs.
_TERMS_PER_LINE = 16


def _chained(terms: list[str], o: str) -> list[str]:
    """``terms[0] + terms[1] + ...`` added left to right, :data:`_TERMS_PER_LINE` a line."""
    lines = [" + ".join(terms[:_TERMS_PER_LINE])]
    for i in range(_TERMS_PER_LINE, len(terms), _TERMS_PER_LINE):
        lines.append(" + ".join([o, *terms[i : i + _TERMS_PER_LINE]]))
    return lines


def _own(o: str, what: str) -> str:
    """The name of a value of node ``o``'s own: ``_v7_top``, ``_v7_w2`` (no label starts
    with ``_``, so no value of the graph has such a name)."""
    return f"_{o}_{what}"


class Syntax(NamedTuple):
    """How a language writes what a few rules need beyond arithmetic and calls: Python's
    (``PYTHON``) here, C's in :mod:`tinygrad_edu.step` (for its C programs)."""

    choose: Callable[[str, str, str], str]  # (condition, if true, if false)
    largest: Callable[[list[str]], str]  # the first largest, as Python's max() picks it
    any_of: Callable[[list[str]], str]  # conditions, one true
    nonzero: Callable[[str], str]  # a number's truth
    item: Callable[[list[str], str], str]  # (values, index): the value at the index


PYTHON = Syntax(
    choose=lambda c, yes, no: f"({yes} if {c} else {no})",
    largest=lambda values: f"max({', '.join(values)})" if len(values) > 1 else values[0],
    any_of=" or ".join,
    nonzero=lambda x: x,
    item=lambda values, index: f"({', '.join(values)},)[{index}]",
)


def _weighted_sum_forward(a: list[str], o: str) -> list[ForwardLine]:
    n = (len(a) - 1) // 2
    return _chained([a[n], *(f"{w} * {x}" for w, x in zip(a[:n], a[n + 1 :]))], o)


def _weighted_sum_contribution(a: list[str], o: str, i: int, g: str) -> str:
    n = (len(a) - 1) // 2
    if i == n:
        return g  # d/db = 1.0, and 1.0 * g is g exactly
    return f"{a[i + n + 1] if i < n else a[i - n - 1]} * {g}"  # d/dw_i = x_i, d/dx_i = w_i


def _dot_forward(a: list[str], o: str) -> list[ForwardLine]:
    n = len(a) // 2
    return _chained([f"{x} * {y}" for x, y in zip(a[:n], a[n:])], o)


def _dot_contribution(a: list[str], o: str, i: int, g: str) -> str:
    n = len(a) // 2
    return f"{a[i + n] if i < n else a[i - n]} * {g}"  # d/da_i = b_i, d/db_i = a_i


def _logsumexp_forward(a: list[str], o: str, syntax: Syntax = PYTHON) -> list[ForwardLine]:
    """``top = max(a)``, then ``log(e^(a_1 - top) + ...) + top``, as the op computes it."""
    top, total = _own(o, "top"), _own(o, "sum")
    terms = [f"exp({x} - {top})" for x in a]
    sums = [(total, line) for line in _chained(terms, total)]
    return [(top, syntax.largest(a)), *sums, f"log({total}) + {top}"]


def _softmax_dot_forward(a: list[str], o: str, syntax: Syntax = PYTHON) -> list[ForwardLine]:
    """The weights ``w_i = softmax(scale * s)_i`` (the largest score subtracted first),
    then ``w_1 v_1 + w_2 v_2 + ...``: the op's own steps, each a line."""
    n = (len(a) - 1) // 2
    scores, values, scale = a[:n], a[n : 2 * n], a[2 * n]
    top, total = _own(o, "top"), _own(o, "sum")
    exps = [_own(o, f"e{i + 1}") for i in range(n)]
    lines: list[ForwardLine] = [(top, syntax.largest(scores))]
    lines += [(e, f"exp(({s} - {top}) * {scale})") for e, s in zip(exps, scores)]
    lines += [(total, line) for line in _chained(exps, total)]
    lines += [(_own(o, f"w{i + 1}"), f"{e} / {total}") for i, e in enumerate(exps)]
    return [*lines, *_chained([f"{_own(o, f'w{i + 1}')} * {v}" for i, v in enumerate(values)], o)]


def _softmax_dot_contribution(a: list[str], o: str, i: int, g: str) -> str:
    """d/ds_i = scale * w_i * (v_i - out), d/dv_i = w_i."""
    n = (len(a) - 1) // 2
    if i < n:
        return f"(({a[2 * n]} * {_own(o, f'w{i + 1}')}) * ({a[n + i]} - {o})) * {g}"
    return f"{_own(o, f'w{i - n + 1}')} * {g}"


def _on_products(weights: list[str], inputs: list[str], syntax: Syntax) -> list[str]:
    """``w * h`` for a unit that is on (``h > 0``), else ``-0.0``: adding ``-0.0`` leaves
    every float as it is (``x + -0.0`` is ``x``, ``0.0`` included), so a sum of these
    is the sum of the products of the units that are on, in order."""
    return [syntax.choose(f"{h} > 0.0", f"{w} * {h}", "-0.0") for w, h in zip(weights, inputs)]


def _relu_dot_forward(a: list[str], o: str, syntax: Syntax = PYTHON) -> list[ForwardLine]:
    """Products of the units that are on, added in order; 0.0 if none is on (the sum of
    ``-0.0`` terms alone would be ``-0.0``)."""
    n = len(a) // 2
    kept = syntax.any_of([syntax.nonzero(o), *(f"{h} > 0.0" for h in a[n:])])
    return [*_chained(_on_products(a[:n], a[n:], syntax), o), syntax.choose(kept, o, "0.0")]


def _relu_weighted_sum_forward(a: list[str], o: str, syntax: Syntax = PYTHON) -> list[ForwardLine]:
    n = (len(a) - 1) // 2
    return _chained([a[n], *_on_products(a[:n], a[n + 1 :], syntax)], o)


def _relu_slope(a: list[str], i: int, bias: int, g: str, syntax: Syntax = PYTHON) -> str:
    """d/dw_j = h_j and d/dh_j = w_j for a unit that is on, 0.0 for one that is off;
    d/db = 1 (``bias`` is 1 with a bias, operands w, b, h; 0 without, operands w, h)."""
    n = (len(a) - bias) // 2
    if bias and i == n:
        return g
    if i < n:
        h = a[i + n + bias]
        return f"{syntax.choose(f'{h} > 0.0', h, '0.0')} * {g}"
    h, w = a[i], a[i - n - bias]
    return f"{syntax.choose(f'{h} > 0.0', w, '0.0')} * {g}"


def fused_rules(syntax: Syntax) -> dict[Op | tuple[str | None, ...], tuple[Forward, Contribution]]:
    """The rules of the fused ops (:mod:`tinygrad_edu.fused`) and of the layers' ops (by
    :func:`~tinygrad_edu.program_c.rule_key`), written with ``syntax``."""
    layers = "tinygrad_edu.nn.layers"
    return {
        fused.WEIGHTED_SUM: (_weighted_sum_forward, _weighted_sum_contribution),
        fused.DOT: (_dot_forward, _dot_contribution),
        fused.SUM: (lambda a, o: _chained(a, o), lambda a, o, i, g: g),
        fused.LOGSUMEXP: (
            lambda a, o: _logsumexp_forward(a, o, syntax),
            lambda a, o, i, g: f"exp({a[i]} - {o}) * {g}",
        ),
        fused.SOFTMAX_DOT: (
            lambda a, o: _softmax_dot_forward(a, o, syntax),
            _softmax_dot_contribution,
        ),
        fused.PICK: (  # operands x_1..x_n, then the index (an integer input's name)
            lambda a, o: [syntax.item(a[:-1], a[-1])],
            lambda a, o, i, g: f"{syntax.choose(f'{a[-1]} == {i}', '1.0', '0.0')} * {g}",
        ),
        (layers, "_relu_dot_forward", "_relu_dot_derivative"): (
            lambda a, o: _relu_dot_forward(a, o, syntax),
            lambda a, o, i, g: _relu_slope(a, i, 0, g, syntax),
        ),
        (layers, "_relu_weighted_sum_forward", "_relu_weighted_sum_derivative"): (
            lambda a, o: _relu_weighted_sum_forward(a, o, syntax),
            lambda a, o, i, g: _relu_slope(a, i, 1, g, syntax),
        ),
    }


_RULES: dict[Op, tuple[Forward, Contribution]] = {
    engine.ADD: (lambda a, o: [f"{a[0]} + {a[1]}"], lambda a, o, i, g: g),
    engine.SUB: (lambda a, o: [f"{a[0]} - {a[1]}"], lambda a, o, i, g: f"-{g}" if i else g),
    engine.RSUB: (lambda a, o: [f"{a[1]} - {a[0]}"], lambda a, o, i, g: f"-{g}"),
    engine.MUL: (lambda a, o: [f"{a[0]} * {a[1]}"], lambda a, o, i, g: f"{a[1 - i]} * {g}"),
    engine.DIV: (
        lambda a, o: [f"{a[0]} / {a[1]}"],
        lambda a, o, i, g: f"(-{o} / {a[1]}) * {g}" if i else f"(1.0 / {a[1]}) * {g}",
    ),
    engine.RDIV: (
        lambda a, o: [f"{a[1]} / {a[0]}"],
        lambda a, o, i, g: f"(-{o} / {a[0]}) * {g}",
    ),
    engine.NEG: (lambda a, o: [f"-{a[0]}"], lambda a, o, i, g: f"-{g}"),
    engine.EXP: (lambda a, o: [f"exp({a[0]})"], lambda a, o, i, g: f"{o} * {g}"),
    engine.LOG: (lambda a, o: [f"log({a[0]})"], lambda a, o, i, g: f"(1.0 / {a[0]}) * {g}"),
    engine.TANH: (
        lambda a, o: [f"tanh({a[0]})"],
        lambda a, o, i, g: f"(1.0 - {o} * {o}) * {g}",
    ),
    engine.SIGMOID: (
        lambda a, o: [f"sigmoid({a[0]})"],
        lambda a, o, i, g: f"({o} * (1.0 - {o})) * {g}",
    ),
    engine.RELU: (
        lambda a, o: [f"{a[0]} if {a[0]} > 0.0 else 0.0"],
        lambda a, o, i, g: f"(1.0 if {a[0]} > 0.0 else 0.0) * {g}",
    ),
    engine.SIN: (lambda a, o: [f"sin({a[0]})"], lambda a, o, i, g: f"cos({a[0]}) * {g}"),
    engine.COS: (lambda a, o: [f"cos({a[0]})"], lambda a, o, i, g: f"(-sin({a[0]})) * {g}"),
}
# The fused ops, and the ops of the layers above this module, known by the module and
# names of their rules (see program_c.rule_key), as this module may not import them.
_FUSED_RULES = fused_rules(PYTHON)


def _rule(op: Op) -> tuple[Forward, Contribution] | None:
    """How the program writes ``op`` out, or None: then it calls the op's own functions."""
    return _RULES.get(op) or _FUSED_RULES.get(op) or _FUSED_RULES.get(program_c.rule_key(op))


# Ops whose result can leave the float64 range without raising (x * y, x / tiny, ...),
# and the ops of the layers above (sums of products, too); every other known op either
# raises (exp, log, ...) or stays finite (tanh, relu, ...).
# The program adds up these results and the inputs: a sum that is not finite means an
# operation went out of range, and the eager run then raises the eager error.
_MAY_OVERFLOW = {
    engine.ADD, engine.SUB, engine.RSUB, engine.MUL, engine.DIV, engine.RDIV,
    fused.WEIGHTED_SUM, fused.DOT, fused.SUM, fused.LOGSUMEXP, fused.SOFTMAX_DOT,
}  # fmt: skip


def _may_overflow(op: Op) -> bool:
    """Whether ``op``'s result is added to the program's check that all is finite."""
    return op in _MAY_OVERFLOW or op not in _RULES


# --------------------------------------------------------------------------- the Wengert list


# A name the generated code may use for a value: plain ASCII, so that no two different
# labels can be the same name to Python (which reads ``𝐱`` and ``ｘ`` as ``x``: it
# normalises identifiers to NFKC), and not starting with ``_`` (kept for the op functions
# ``_op0_forward`` and the local derivatives ``_d_v1``).
_SAFE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*", re.ASCII)
# Names the generated code itself reads: the tape ``t``, the builtin ``sum``, the functions
# it calls, and the parts ``part_0, part_1, ...``. A value of that name would hide them.
_RESERVED = re.compile(rf"t|sum|part_[0-9]+|{'|'.join(_CALLED)}")


class _Names:
    """Unique, safe Python names: a Value's label when it is one, else ``v1, v2, ...``.

    A label is used as the name only if it is an ASCII identifier (see ``_SAFE_NAME``),
    not a keyword and not a name the generated code reads; any other label, ``θ`` or
    ``sum`` or ``two words``, gets a generated name and is shown in the listing's comment.
    """

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.counts: dict[str, int] = {}  # per prefix: x1, x2 for arguments, v1, v2 for values

    def _usable(self, name: str) -> bool:
        return (
            _SAFE_NAME.fullmatch(name) is not None
            and _RESERVED.fullmatch(name) is None
            and not keyword.iskeyword(name)
            and name not in self.taken
        )

    def new(self, label: object, prefix: str = "v") -> str:
        name = label if isinstance(label, str) else ""
        while not self._usable(name):
            self.counts[prefix] = self.counts.get(prefix, 0) + 1
            name = f"{prefix}{self.counts[prefix]}"
        self.taken.add(name)
        return name

    def adjoint(self, name: str) -> str:
        """The adjoint's name: ``g_`` and the value's name (``g_w`` holds d out / d w)."""
        candidate, n = f"g_{name}", 1
        while not self._usable(candidate):
            n += 1
            candidate = f"g{n}_{name}"
        self.taken.add(candidate)
        return candidate


def _shown(label: object) -> str:
    """A label as the listing's comments show it: as it is, or its repr if it has a line
    break or other unprintable characters (a comment must stay one line)."""
    return label if isinstance(label, str) and label.isprintable() else repr(label)


class _Node(NamedTuple):
    """A graph node as the statements see it: its op, its name and its operands' names."""

    op: Op
    name: str
    parents: list[str]
    constants: tuple[float, ...]


class _Statement(NamedTuple):
    """One line of the program: ``target = expression`` (or ``+=``), and a comment."""

    target: str
    expression: str
    comment: str
    forward: bool = False
    may_overflow: bool = False  # see _MAY_OVERFLOW
    assign: str = "="  # "+=" adds a contribution to an adjoint
    # Where it comes from, for the C backend (which writes each op its own way): the
    # node ``(op, output name, parent names, constants)``, shared by all its lines, and
    # for a contribution the parent's position and the output's adjoint. ``None`` for a
    # line that is not an op's: an adjoint's start, a long sum's first terms, the local
    # derivatives of an op without a rule.
    node: _Node | None = None
    edge: int = -1
    grad: str = ""

    def __str__(self) -> str:
        return f"{self.target} {self.assign} {self.expression}"


def _literal(c: float) -> str:
    """A constant as source text that reads back as the same float (repr round-trips)."""
    text = repr(c)
    return f"({text})" if text.startswith("-") else text


# The library's own ops: their forward gives a float, their derivative floats.
_BUILT_IN_OPS = frozenset(interop.builtin_ops())
_OpUse = tuple[Op, int]  # an op without a rule, and its number of parents (0: built-in)


def _wengert_list(
    order: list[Value], names: _Names, name_of: dict[Value, str], keys: dict[_OpUse, str]
) -> tuple[list[_Statement], dict[Value, str]]:
    """The forward assignments, then the adjoint assignments; returns them and the adjoints.

    ``name_of`` holds the inputs' names and receives the other nodes'; ``keys``
    receives each op without a rule in ``_RULES`` (with its number of parents, which
    the checks of an op of your own depend on) and the name its functions are called
    by (``_op0`` for ``_op0_forward`` and ``_op0_derivative``).
    """
    statements = []
    local_grads: dict[Value, str] = {}  # nodes of such ops: their derivative tuple
    nodes: dict[Value, _Node] = {}
    for node in order:  # forward: inputs first, each node after its parents
        if not node.parents:
            continue
        name = name_of[node] = names.new(node.label)
        operands = [name_of[p] for p in node.parents] + [_literal(c) for c in node.constants]
        op = node._op
        info = nodes[node] = _Node(op, name, operands[: len(node.parents)], node.constants)
        labelled = node.label and node.label != name
        comment = op.name + (f" ({_shown(node.label)})" if labelled else "")
        rule = _rule(op)
        if rule is not None:
            *first, last = rule[0](operands, name)
            for line in first:  # a long sum's first terms, the op's own values
                target, e = line if isinstance(line, tuple) else (name, line)
                statements.append(_Statement(target, e, f"{comment}, on the way", True))
            statements.append(_Statement(name, last, comment, True, _may_overflow(op), node=info))
            continue
        use = (op, 0 if op in _BUILT_IN_OPS else len(node.parents))
        key = keys.setdefault(use, f"_op{len(keys)}")  # the op's own rules, called by name
        statements.append(
            _Statement(
                name, f"{key}_forward({', '.join(operands)})", comment, True, True, node=info
            )
        )
        local_grads[node] = f"_d_{name}"
        statements.append(
            _Statement(
                local_grads[node],
                f"{key}_derivative({', '.join([*operands, name])})",
                f"local derivatives of {name}",
                True,
            )
        )

    root = order[-1]
    adjoint = {root: names.adjoint(name_of[root])}
    statements.append(_Statement(adjoint[root], "1.0", f"d {name_of[root]}/d {name_of[root]}"))
    for node in reversed(order):  # backward: the order in which backward() visits nodes
        if not node.parents:
            continue
        g, out = adjoint[node], name_of[node]
        operands = [name_of[p] for p in node.parents] + [_literal(c) for c in node.constants]
        rule = _rule(node._op)
        for i, parent in enumerate(node.parents):
            if rule is not None:
                contribution = rule[1](operands, out, i, g)
            else:
                contribution = f"{local_grads[node]}[{i}] * {g}"
            assign = "+=" if parent in adjoint else "="  # for floats, a += b is a = a + b
            if parent not in adjoint:
                adjoint[parent] = names.adjoint(name_of[parent])
            comment = f"d {out}/d {name_of[parent]} ({node._op.name})"
            statements.append(
                _Statement(
                    adjoint[parent], contribution, comment, assign=assign,
                    node=nodes[node], edge=i, grad=g,
                )
            )  # fmt: skip
    return statements, adjoint


class _EagerAnswer(Exception):  # noqa: N818  (a signal, not an error the user sees)
    """Raised inside a program: only the eager run gives the right answer or error here."""


def _op_functions(op: Op, n_parents: int) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The forward and derivative a program calls for an op without a rule in ``_RULES``.

    The built-in ops give floats by construction and are called as they are. An op of
    your own is checked as ``Op.__call__`` checks it: a forward that gives an ``int`` is
    made a float with ``float()`` (an ``int`` would compute exactly, and differently),
    and anything ``Op.__call__`` refuses (a ``bool``, a Value, a derivative that is a
    Value) makes the program hand the call to the eager run, which raises the eager
    error, naming the op.
    """
    if op in _BUILT_IN_OPS:
        return op.forward, op.derivative
    forward, checked_derivative = op.forward, op.checked_derivative

    def checked_forward(*operands: float) -> float:
        out = forward(*operands)
        if type(out) is float:
            return out
        if isinstance(out, (bool, Value)) or not isinstance(out, numbers.Real):
            raise _EagerAnswer
        return float(out)  # as Op.__call__ does (an int past float64 is an OverflowError)

    def derivative(*operands_and_out: float) -> tuple:
        *operands, out = operands_and_out
        local_grads = checked_derivative(operands, out, n_parents)
        if any(isinstance(d, Value) for d in local_grads):
            raise _EagerAnswer
        return local_grads

    return checked_forward, derivative


# --------------------------------------------------------------------------- the program

_IDENTIFIER = re.compile(r"(?<![\w.])[A-Za-z_]\w*")


class Program:
    """A traced function as straight-line float code, returning its value and gradients.

    Made by :func:`trace` (or :func:`compile`). ``program(*args)`` returns
    ``(value, grads)``: the float ``f(*args)`` and a tuple of floats, d f / d each
    argument. Leaves that ``f`` reads without receiving them as arguments (a model's
    parameters, listed in ``program.parameters``) are inputs too: their ``.data`` is read
    on every call and their ``.grad`` accumulates exactly as ``backward()`` would do it.
    (So are leaves made inside ``f``, such as ``Value(2.0)``: their number is read the
    same way, and it does not change.)

    ``print(program)`` shows the Wengert list, ``program.source`` the Python code that
    runs, ``len(program)`` the number of operations.

    A program pickles (see :meth:`__reduce_ex__`): the loaded one is the same program,
    compiled again from its source.
    """

    def __init__(
        self,
        f: Callable[..., Any],
        args: list[Value],
        out: Value,
        aux: Any = None,
        *,
        check: bool = False,
        has_aux: bool = False,
        backend: str = "python",
    ) -> None:
        _check_backend("trace", backend)
        self.backend = backend
        self.function = f
        self.check = check
        self.has_aux = has_aux
        self.name = getattr(f, "__name__", "f")
        if not self.name.isidentifier():
            self.name = "f"
        order = topological_order(out)
        is_arg = set(args)
        self.parameters: list[Value] = [v for v in order if not v.parents and v not in is_arg]
        self.n_operations = len(order) - len(is_arg.intersection(order)) - len(self.parameters)

        names = _Names()
        name_of = {x: names.new(x.label, "x") for x in args}
        name_of.update((p, names.new(p.label, "p")) for p in self.parameters)
        self.arg_names = [name_of[x] for x in args]
        keys: dict[_OpUse, str] = {}
        statements, adjoint = _wengert_list(order, names, name_of, keys)
        self._ops = {key: use for use, key in keys.items()}
        inputs = [*args, *self.parameters]
        for leaf in inputs:  # an input f does not depend on: its gradient is 0.0
            if leaf not in adjoint:
                adjoint[leaf] = names.adjoint(name_of[leaf])
                statements.append(
                    _Statement(adjoint[leaf], "0.0", f"{name_of[out]} does not use {name_of[leaf]}")
                )
        self._value_name = name_of[out]
        self._grad_names = [adjoint[leaf] for leaf in inputs]
        aux_values = list(_values_in(aux))
        missing = [v for v in aux_values if v not in name_of]
        if missing:
            raise ValueError(
                f"trace: an aux Value ({missing[0]!r}) is not part of the computation of "
                "the value, so the program does not compute it"
            )
        self._aux_names = [name_of[v] for v in aux_values]
        self._aux = _rebuild(aux, iter(self._aux_names))  # its shape, without the graph
        self._graph = _graph(out, aux, args, self.parameters) if check else ([], None)
        # Only text is kept: the listing, the source, and the compiled parts.
        self._listing = self._list(statements, inputs, name_of)
        if backend == "c":
            outputs = [self._value_name, *self._grad_names, *self._aux_names]
            self._c_source, self._tape_size = program_c.write(
                self.name, statements, [name_of[leaf] for leaf in inputs], outputs
            )
            self._sources: list[str] = []
            self._outputs = list(range(len(outputs)))  # copied after the tape, in this order
            self._link()
        else:
            self._compile(statements, [name_of[leaf] for leaf in inputs])

    def _list(
        self, statements: list[_Statement], inputs: list[Value], name_of: dict[Value, str]
    ) -> str:
        """The Wengert list as text: the signature, the statements with comments, the return."""
        renamed = [
            f"{name_of[leaf]} is {leaf.label!r}"
            for leaf in inputs[: len(self.arg_names)]
            if leaf.label and leaf.label != name_of[leaf]
        ]
        lines = [f"def {self.name}({', '.join(self.arg_names)}):"]
        if renamed:  # a label that is not a safe name: say which name stands for it
            lines.append(f"    # {', '.join(renamed)}")
        if self.parameters:  # one a line, with its label: a model's state_dict name
            lines.append("    # parameters, read from their Values:")
            lines += [
                f"    #   {name_of[p]:<6} {_shown(p.label)}"
                if p.label != name_of[p] and p.label
                else f"    #   {name_of[p]}"
                for p in self.parameters
            ]
        forward = None
        for s in statements:
            if s.forward != forward:
                forward = s.forward
                lines.append("    # forward" if forward else "    # backward: adjoints, in reverse")
            line = f"    {s}"
            lines.append(f"{line:<36}  # {s.comment}")
        n_args = len(self.arg_names)
        grads = ", ".join(self._grad_names[:n_args]) + ("," if n_args == 1 else "")
        lines.append(f"    return {self._value_name}, ({grads})")
        if self.parameters:
            lines.append("    # and for each parameter p: p.grad += g_p")
        return "\n".join(lines)

    def _compile(self, statements: list[_Statement], inputs: list[str]) -> None:
        """Cut the statements into parts, write each as a function of the tape, compile them."""
        outputs = [self._value_name, *self._grad_names, *self._aux_names]
        parts = [
            statements[i : i + STATEMENTS_PER_PART]
            for i in range(0, len(statements), STATEMENTS_PER_PART)
        ]
        # What each part reads from the tape and leaves on it: walking the parts
        # backwards, keep the names that a later part (or the caller) still needs.
        live = set(outputs)
        plans = []
        for part in reversed(parts):
            written: set[str] = set()
            loads: dict[str, None] = {}  # names read before they are written in this part
            for statement in part:
                reads = _IDENTIFIER.findall(statement.expression)
                if statement.assign == "+=":
                    reads.append(statement.target)
                for name in reads:
                    if (
                        name not in written
                        and name not in _CALLED
                        and not name.startswith("_op")  # an op's forward or derivative
                        and not keyword.iskeyword(name)
                    ):
                        loads[name] = None
                written.add(statement.target)
            stores = [name for name in dict.fromkeys(s.target for s in part) if name in live]
            plans.append((list(loads), stores))
            live = (live - written) | set(loads)
        plans.reverse()
        slots = {name: i for i, name in enumerate(inputs)}
        for loads, stores in plans:
            for name in (*loads, *stores):
                slots.setdefault(name, len(slots))
        for name in outputs:  # f returned an input: no statement computes it
            slots.setdefault(name, len(slots))
        self._tape_size = len(slots)
        self._outputs = [slots[name] for name in outputs]
        self._sources = [
            _part_source(k, part, loads, stores, slots)
            for k, (part, (loads, stores)) in enumerate(zip(parts, plans))
        ]
        self._link()

    def _link(self) -> None:
        """Compile the parts' source, with the functions it calls, into ``self._parts``
        (for the C backend: build, or find in the cache, the library, into ``self._run_c``)."""
        self._parts = []
        if self.backend == "c":
            self._run_c = program_c.load(self._c_source)
            return
        functions: dict[str, Any] = dict(_CALLED)
        for key, (op, n_parents) in self._ops.items():
            functions[f"{key}_forward"], functions[f"{key}_derivative"] = _op_functions(
                op, n_parents
            )
        for k, source in enumerate(self._sources):
            namespace = dict(functions)
            exec(builtins.compile(source, f"<program {self.name}, part {k}>", "exec"), namespace)
            self._parts.append(namespace[f"part_{k}"])

    @property
    def source(self) -> str:
        """The code that runs: Python, one function per part, or the C source."""
        return self._c_source if self.backend == "c" else "\n\n\n".join(self._sources)

    @property
    def c_source(self) -> str:
        """The C source of a program traced with ``backend="c"`` (see :mod:`program_c`).

        Each line is a statement of the listing on the tape ``t``, with that statement
        as its comment. A Python program has none: trace with ``backend="c"`` to see it.
        """
        if self.backend != "c":
            raise AttributeError(
                f"program {self.name} runs as Python (backend='python'): it has no C "
                "source; trace or compile with backend='c' to get one"
            )
        return self._c_source

    # ----------------------------------------------------------------- pickling

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        """Pickle the program itself: its source, parameters and ``f``, compiled again on load.

        A loaded program is the same program: the same frozen decisions, the same
        listing, bit for bit the same numbers. Its parameters are Values, so a model
        pickled together with its program (``pickle.dumps((model, program))``) comes
        back with the program reading and updating that model's parameters. ``f`` goes
        with it, as the eager run needs it (and ``check=True`` too); pickle stores a
        function by its module and name, so ``f`` must be defined at module level (or be
        a method of a picklable object), and so must the rules of an op of your own.
        A lambda or a function defined inside another is refused with a TypeError
        saying what to do.
        """
        _check_picklable(self.function, f"the program of {self.name}")
        for op, _ in self._ops.values():
            if op not in _BUILT_IN_OPS:
                for rule in (op.forward, op.derivative):
                    _check_picklable(rule, f"the program of {self.name} (op {op.name!r})")
        return super().__reduce_ex__(protocol)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_parts"]  # functions compiled from text: compiled again on load
        state.pop("_run_c", None)  # a loaded library: loaded again (from the cache) on load
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._link()

    # copy.copy and copy.deepcopy need no pickling by name: a lambda's program copies too.
    def __copy__(self) -> Program:
        copied = object.__new__(Program)
        copied.__dict__.update(self.__dict__)
        return copied

    def __deepcopy__(self, memo: dict[int, Any]) -> Program:
        copied = object.__new__(Program)
        memo[id(self)] = copied
        copied.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        return copied

    # ----------------------------------------------------------------- running

    def __call__(self, *args: float) -> tuple[Any, tuple[float, ...]]:
        """``(value, grads)`` at new argument values (see the class docstring)."""
        n_args = len(self.arg_names)
        if len(args) != n_args:
            raise TypeError(f"program: expected {n_args} arguments, got {len(args)}")
        tape = [_as_number("program", a, i) for i, a in enumerate(args)]
        if self.check:
            self._check_trace(tape)
        tape += [p.data for p in self.parameters]
        n_grads = len(self._grad_names)
        if self.backend == "c":
            # one call: the tape goes in as one array, the outputs come back after it
            buffer = (ctypes.c_double * (self._tape_size + len(self._outputs)))()
            buffer[: len(tape)] = tape
            if not self._run_c(buffer):  # a number that is not finite, as below
                return self._eager(args)
            tape = buffer[self._tape_size :]  # the outputs
            grads = [tape[i] + 0.0 for i in self._outputs[1 : 1 + n_grads]]
        else:
            total = sum(tape)  # the inputs must be finite too
            tape += [0.0] * (self._tape_size - len(tape))
            try:
                for part in self._parts:
                    total += part(tape)
            except (ArithmeticError, ValueError, _EagerAnswer):
                return self._eager(args)
            # +0.0: backward() starts each gradient at 0.0, so it is never -0.0
            grads = [tape[i] + 0.0 for i in self._outputs[1 : 1 + n_grads]]
            if not _isfinite(total + sum(grads)):
                return self._eager(args)
        for p, g in zip(self.parameters, grads[n_args:]):
            p.grad = p.grad + g if p.grad else g  # as backward(): add to an earlier gradient
        value = tape[self._outputs[0]]
        if self.has_aux:
            aux = iter([tape[i] for i in self._outputs[1 + n_grads :]])
            value = (value, _rebuild(self._aux, aux))
        return value, tuple(grads[:n_args])

    def _eager(self, args: Sequence[float]) -> tuple[Any, tuple[float, ...]]:
        """The same call the slow way: ``f`` on Values, then ``backward()``.

        Used when the fast path meets an error or a number that is not finite: this
        raises the eager error, or returns the eager result (and makes its ``.grad``
        updates).
        """
        inputs = [Value(a, name) for a, name in zip(args, self.arg_names)]
        out, aux = _run(self.function, inputs, self.has_aux)
        out.backward()
        value: Any = out.data
        if self.has_aux:
            value = (value, _rebuild(aux, iter([v.data for v in _values_in(aux)])))
        return value, tuple(x.grad for x in inputs)

    def _check_trace(self, args: list[float]) -> None:
        """Run ``f`` eagerly (without backward) and compare its graph and aux with the trace."""
        inputs = [Value(a, name) for a, name in zip(args, self.arg_names)]
        traced, traced_aux = self._graph
        with tracing():  # the graph the trace saw, to compare with it
            now, now_aux = _graph(
                *_run(self.function, inputs, self.has_aux), inputs, self.parameters
            )
        for k, (was, seen) in enumerate(zip(traced, now)):
            if was != seen:
                raise TraceMismatchError(
                    f"trace check: node {k + 1} of the graph differs: the trace has "
                    f"{_describe(was)}, this call computes {_describe(seen)}. {_DECIDED}"
                )
        if len(now) != len(traced):
            raise TraceMismatchError(
                f"trace check: the trace has {len(traced)} nodes, this call "
                f"computes {len(now)} (the first {min(len(now), len(traced))} agree)"
            )
        if now_aux != traced_aux:
            raise TraceMismatchError(
                f"trace check: the aux output differs: the trace returns {traced_aux!r}, "
                f"this call returns {now_aux!r}. {_DECIDED}"
            )

    # ----------------------------------------------------------------- reading

    def __len__(self) -> int:
        """The number of operations: one forward assignment per graph node that is not a leaf."""
        return self.n_operations

    def __repr__(self) -> str:
        return (
            f"Program({self.name}({', '.join(self.arg_names)}): {self.n_operations} operations, "
            f"{len(self.parameters)} parameters, "
            + ("compiled to C)" if self.backend == "c" else f"{len(self._parts)} compiled parts)")
        )

    def __str__(self) -> str:
        """The Wengert list: forward assignments, then adjoints in reverse, with comments."""
        return self._listing


def _part_source(
    k: int, part: list[_Statement], loads: list[str], stores: list[str], slots: dict[str, int]
) -> str:
    """One compiled part: load from the tape, compute, store, return the overflow check."""
    body = [f"    {name} = t[{slots[name]}]" for name in loads]
    body += [f"    {s}" for s in part]
    body += [f"    t[{slots[name]}] = {name}" for name in stores]
    checked = [s.target for s in part if s.may_overflow]
    body.append(f"    return sum(({', '.join(checked)}{',' if checked else ''}))")
    return f"def part_{k}(t):\n" + "\n".join(body)


# --------------------------------------------------------------------------- tracing


def _as_number(owner: str, x: object, i: int) -> float:
    if isinstance(x, (bool, Value)) or not isinstance(x, numbers.Real):
        raise TypeError(f"{owner}: argument {i} must be a real number, got {type(x).__name__}")
    return float(x)


def _run(f: Callable[..., Any], inputs: list[Value], has_aux: bool) -> tuple[Value, Any]:
    """``f(*inputs)`` with recording on, split into the root Value and the aux output."""
    with enable_grad():
        result = f(*inputs)
    aux = None
    if has_aux:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError("trace: with has_aux=True, f must return a pair (value, aux)")
        result, aux = result
        for v in _values_in(aux):
            if not isinstance(v, Value):
                raise TypeError(f"trace: aux must hold Values, got {type(v).__name__}")
    if not isinstance(result, Value):
        raise TypeError(f"trace: f must return a Value, got {type(result).__name__}")
    return result, aux


def _values_in(structure: Any) -> Iterator[Any]:
    """The items of a nested list/tuple structure, in order."""
    if isinstance(structure, (list, tuple)):
        for item in structure:
            yield from _values_in(item)
    elif structure is not None:
        yield structure


def _rebuild(structure: Any, items: Iterator[Any]) -> Any:
    """``structure`` with each of its items replaced by the next of ``items``."""
    if isinstance(structure, (list, tuple)):
        return type(structure)(_rebuild(item, items) for item in structure)
    return None if structure is None else next(items)


def _graph(
    out: Value, aux: Any, args: list[Value], parameters: list[Value]
) -> tuple[list[tuple], Any]:
    """The graph as a list to compare: for each node its op, constants and the nodes it reads;
    and aux with each of its Values replaced by the text saying which it is.

    A leaf is argument ``i``, parameter ``j`` (the same object as in the trace), or a
    leaf made inside ``f``, known by its number (which must not change).
    """
    order = topological_order(out)
    index = {node: k for k, node in enumerate(order)}
    known = {x: ("argument", i) for i, x in enumerate(args)}
    known.update((p, ("parameter", j)) for j, p in enumerate(parameters))
    nodes = [
        (node._op, node.constants, tuple(index[p] for p in node.parents))
        if node.parents
        else known.get(node, ("leaf", node.data))
        for node in order
    ]

    def which(v: Value) -> str:
        if v in known:
            return "{} {}".format(*known[v])
        return f"node {index[v] + 1}" if v in index else "a Value the value does not use"

    return nodes, _rebuild(aux, map(which, _values_in(aux)))


def _describe(node: tuple) -> str:
    if isinstance(node[0], str):
        return f"{node[0]} {node[1]!r}"
    op, constants, reads = node
    operands = [f"node {k + 1}" for k in reads] + [repr(c) for c in constants]
    return f"{op.name!r} of ({', '.join(operands)})"


def _check_picklable(f: object, what: str) -> None:
    """Refuse, saying what to do, a function that pickle cannot store by its name."""
    qualname = getattr(f, "__qualname__", "")
    if isinstance(qualname, str) and ("<lambda>" in qualname or "<locals>" in qualname):
        raise TypeError(
            f"cannot pickle {what}: it needs {qualname}, and pickle stores a function by "
            "its module and name, which a lambda or a function defined inside another "
            "does not have. Define it at module level (or as a method of your model), or "
            "pickle the model and call trace or compile again after loading"
        )


BACKENDS = ("python", "c")


def _check_backend(owner: str, backend: object) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"{owner}: backend must be 'python' or 'c', got {backend!r}")


def _argument_names(f: Callable[..., Any], n: int) -> list[str]:
    """f's positional parameter names if it has ``n`` of them, else ``x0, x1, ...``."""
    try:
        parameters = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):  # some builtins have no signature
        parameters = []
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return names if len(names) == n else [f"x{i}" for i in range(n)]


def trace(
    f: Callable[..., Any],
    *example_args: float,
    check: bool = False,
    has_aux: bool = False,
    backend: str = "python",
) -> Program:
    """Run ``f`` once on Values made from ``example_args``; return it as a :class:`Program`.

    ``f`` takes Values and returns a scalar Value. The program computes that value and
    d f / d each argument with plain floats, bit for bit as ``f`` and ``backward()``
    would, on any new arguments: ``value, grads = program(*args)``.

    Python control flow that depends on numbers (``if x.data > 0``, a loop count) is
    decided while tracing and frozen into the program. ``check=True`` makes every call
    re-run ``f`` as well and raise :class:`TraceMismatchError` where its operations part
    from the trace (slow: a tool for finding such a problem).

    With ``has_aux=True``, ``f`` returns ``(value, aux)``, where ``aux`` is a Value of
    the graph or a (nested) list of them, and the program returns
    ``((value, aux_numbers), grads)``, as ``jax.value_and_grad(..., has_aux=True)`` does.
    Which Values ``aux`` holds is a Python decision like any other: it is frozen at the
    trace, and the program returns the current numbers of *those* Values (``max(x, y)``
    stays whichever of ``x`` and ``y`` was larger at the trace). ``check=True`` compares
    ``aux`` too, which node or argument each item is and its list/tuple structure, and
    raises :class:`TraceMismatchError` where it differs.

    ``backend="c"`` writes the program as C (``program.c_source``) and runs it compiled
    by the system's C compiler: the same numbers, bit for bit, many times faster (see
    :mod:`tinygrad_edu.program_c`). It needs a C compiler (gcc or clang); the default,
    ``backend="python"``, works everywhere.

    >>> program = trace(lambda x, y: x * y + x.exp(), 1.0, 2.0)
    >>> program(0.0, 3.0)           # value e^0 = 1; d/dx = y + e^x = 4, d/dy = x = 0
    (1.0, (4.0, 0.0))
    """
    if not callable(f):
        raise TypeError(f"trace: f must be a function, got {type(f).__name__}")
    _check_backend("trace", backend)
    names = _argument_names(f, len(example_args))
    args = [
        Value(_as_number("trace", a, i), n) for i, (a, n) in enumerate(zip(example_args, names))
    ]
    with tracing():  # shortcuts that decide from numbers record the decision as an op
        out, aux = _run(f, args, has_aux)
    return Program(f, args, out, aux, check=check, has_aux=has_aux, backend=backend)


class _Compiled:
    """``f`` traced into a :class:`Program` once per number of arguments, then run as one."""

    def __init__(self, f: Callable[..., Any], check: bool, has_aux: bool, backend: str) -> None:
        if not callable(f):
            raise TypeError(f"compile: f must be a function, got {type(f).__name__}")
        _check_backend("compile", backend)
        self.function, self.check, self.has_aux, self.backend = f, check, has_aux, backend
        #: The programs traced so far, by number of arguments.
        self.programs: dict[int, Program] = {}
        update_wrapper(self, f)

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        """Pickle ``f`` and the programs traced so far (see :meth:`Program.__reduce_ex__`)."""
        _check_picklable(self.function, f"the compiled {self.function.__name__}")
        return super().__reduce_ex__(protocol)

    def __repr__(self) -> str:
        """What it holds: ``<compiled loss (python): 1 program (2 arguments: 7 operations)>``."""
        held = "; ".join(
            f"{n} arguments: {p.n_operations} operations" for n, p in sorted(self.programs.items())
        )
        count = f"{len(self.programs)} program" + "s" * (len(self.programs) != 1)
        name = getattr(self.function, "__name__", "f")
        return f"<compiled {name} ({self.backend}): {count}" + (f" ({held})>" if held else ">")

    def __call__(self, *args: float) -> tuple[Any, tuple[float, ...]]:
        program = self.programs.get(len(args))
        if program is None:
            program = trace(
                self.function, *args, check=self.check, has_aux=self.has_aux, backend=self.backend
            )
            self.programs[len(args)] = program
            return program(*args)
        return program(*args)


def compile(
    f: Callable[..., Any], *, check: bool = False, has_aux: bool = False, backend: str = "python"
) -> Callable[..., tuple[Any, tuple[float, ...]]]:
    """``f`` as a function returning ``(value, grads)``, traced on the first call.

    Like ``jax.jit``: the first call traces ``f`` into a :class:`Program` at those
    arguments and runs it; later calls with the same number of arguments run the
    program; a call with another number of arguments traces again. ``check``,
    ``has_aux`` and ``backend`` (``"python"`` or ``"c"``) are passed on to :func:`trace`.
    The programs are in ``.programs``. It pickles with them, under the same condition
    as a :class:`Program`: ``f`` must be defined at module level (or be a method of a
    picklable object), not a lambda.

    >>> loss = compile(lambda w, b: ((w * 2.0 + b - 1.0) ** 2))
    >>> loss(1.0, 0.0)               # (2w + b - 1)^2 = 1; d/dw = 4(2w + b - 1), d/db = 2(...)
    (1.0, (4.0, 2.0))
    """
    return _Compiled(f, check, has_aux, backend)
