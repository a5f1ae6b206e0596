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
op's own ``forward`` and ``derivative``, so user-defined operations work too.
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
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import math
import numbers
import re
from collections.abc import Callable, Iterator, Sequence
from functools import update_wrapper
from typing import Any, NamedTuple

from tinygrad_edu import engine, operators
from tinygrad_edu.engine import Op, Value, enable_grad, topological_order

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
}


class TraceMismatchError(RuntimeError):
    """``f`` performed other operations than the ones traced (found with ``check=True``)."""


# --------------------------------------------------------------------------- the op rules
# For each op the program knows by name: its forward expression, and the contribution
# ``local_grad * g`` that the edge to parent ``i`` adds to that parent's adjoint, written
# exactly as the op table computes it (the same float operations in the same order).
# ``a`` are the operand expressions (parents, then constants), ``o`` the output's name.

Forward = Callable[[list[str]], str]
Contribution = Callable[[list[str], str, int, str], str]


def _weighted_sum_forward(a: list[str]) -> str:
    n = (len(a) - 1) // 2
    return " + ".join([a[n], *(f"{w} * {x}" for w, x in zip(a[:n], a[n + 1 :]))])


def _weighted_sum_contribution(a: list[str], o: str, i: int, g: str) -> str:
    n = (len(a) - 1) // 2
    if i == n:
        return g  # d/db = 1.0, and 1.0 * g is g exactly
    return f"{a[i + n + 1] if i < n else a[i - n - 1]} * {g}"  # d/dw_i = x_i, d/dx_i = w_i


_RULES: dict[Op, tuple[Forward, Contribution]] = {
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
        lambda a: f"{a[0]} if {a[0]} > 0.0 else 0.0",
        lambda a, o, i, g: f"(1.0 if {a[0]} > 0.0 else 0.0) * {g}",
    ),
    engine.SIN: (lambda a: f"sin({a[0]})", lambda a, o, i, g: f"cos({a[0]}) * {g}"),
    engine.COS: (lambda a: f"cos({a[0]})", lambda a, o, i, g: f"(-sin({a[0]})) * {g}"),
    engine.WEIGHTED_SUM: (_weighted_sum_forward, _weighted_sum_contribution),
}

# Ops whose result can leave the float64 range without raising (x * y, x / tiny, ...);
# every other known op either raises (exp, log, ...) or stays finite (tanh, relu, ...).
# The program adds up these results and the inputs: a sum that is not finite means an
# operation went out of range, and the eager run then raises the eager error.
_MAY_OVERFLOW = {
    engine.ADD, engine.SUB, engine.RSUB, engine.MUL, engine.DIV, engine.RDIV,
    engine.WEIGHTED_SUM,
}  # fmt: skip


# --------------------------------------------------------------------------- the Wengert list


class _Names:
    """Unique, valid Python names: a Value's label when it can be one, else ``v1, v2, ...``."""

    def __init__(self, reserved: set[str]) -> None:
        self.taken = set(reserved)
        self.count = 0

    def _usable(self, name: str) -> bool:
        return (
            name.isidentifier()
            and not keyword.iskeyword(name)
            and not name.startswith("_")  # kept for the functions the program calls
            and name not in self.taken
        )

    def new(self, label: str, prefix: str = "v") -> str:
        name = label
        while not self._usable(name):
            self.count += 1
            name = f"{prefix}{self.count}"
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


class _Statement(NamedTuple):
    """One line of the program: ``target = expression`` (or ``+=``), and a comment."""

    target: str
    expression: str
    comment: str
    forward: bool = False
    may_overflow: bool = False  # see _MAY_OVERFLOW
    assign: str = "="  # "+=" adds a contribution to an adjoint

    def __str__(self) -> str:
        return f"{self.target} {self.assign} {self.expression}"


def _literal(c: float) -> str:
    """A constant as source text that reads back as the same float (repr round-trips)."""
    text = repr(c)
    return f"({text})" if text.startswith("-") else text


def _wengert_list(
    order: list[Value], names: _Names, name_of: dict[Value, str], functions: dict[str, Any]
) -> tuple[list[_Statement], dict[Value, str]]:
    """The forward assignments, then the adjoint assignments; returns them and the adjoints.

    ``name_of`` holds the inputs' names and receives the other nodes'; ``functions``
    receives the forward and derivative of any op without a rule in ``_RULES``.
    """
    statements = []
    keys: dict[Op, str] = {}  # ops without a rule: the names their functions are called by
    local_grads: dict[Value, str] = {}  # nodes of such ops: their derivative tuple
    for node in order:  # forward: inputs first, each node after its parents
        if not node.parents:
            continue
        name = name_of[node] = names.new(node.label)
        operands = [name_of[p] for p in node.parents] + [_literal(c) for c in node.constants]
        op = node._op
        comment = op.name + (f" ({node.label})" if node.label and node.label != name else "")
        rule = _RULES.get(op)
        if rule is not None:
            statements.append(
                _Statement(name, rule[0](operands), comment, True, op in _MAY_OVERFLOW)
            )
            continue
        key = keys.setdefault(op, f"_op{len(keys)}")  # the op's own rules, called by name
        functions[f"{key}_forward"], functions[f"{key}_derivative"] = op.forward, op.derivative
        statements.append(
            _Statement(name, f"{key}_forward({', '.join(operands)})", comment, True, True)
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
        rule = _RULES.get(node._op)
        for i, parent in enumerate(node.parents):
            if rule is not None:
                contribution = rule[1](operands, out, i, g)
            else:
                contribution = f"{local_grads[node]}[{i}] * {g}"
            assign = "+=" if parent in adjoint else "="  # for floats, a += b is a = a + b
            if parent not in adjoint:
                adjoint[parent] = names.adjoint(name_of[parent])
            comment = f"d {out}/d {name_of[parent]} ({node._op.name})"
            statements.append(_Statement(adjoint[parent], contribution, comment, assign=assign))
    return statements, adjoint


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
    ) -> None:
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

        functions = dict(_CALLED)
        names = _Names({"t", *functions})
        name_of = {x: names.new(x.label, "x") for x in args}
        name_of.update((p, names.new(p.label, "p")) for p in self.parameters)
        self.arg_names = [name_of[x] for x in args]
        statements, adjoint = _wengert_list(order, names, name_of, functions)
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
        self._operations = _operations(out, args, self.parameters) if check else []
        parameter_names = [name_of[p] for p in self.parameters]
        # Only text is kept: the listing, the source, and the compiled parts.
        self._listing = self._list(statements, parameter_names)
        self._compile(statements, [*self.arg_names, *parameter_names], functions)

    def _list(self, statements: list[_Statement], parameter_names: list[str]) -> str:
        """The Wengert list as text: the signature, the statements with comments, the return."""
        lines = [f"def {self.name}({', '.join(self.arg_names)}):"]
        if parameter_names:
            lines.append(f"    # parameters (read from their Values): {', '.join(parameter_names)}")
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
        if parameter_names:
            lines.append("    # and for each parameter p: p.grad += g_p")
        return "\n".join(lines)

    def _compile(
        self, statements: list[_Statement], inputs: list[str], functions: dict[str, Any]
    ) -> None:
        """Cut the statements into parts and compile each into a function of the tape."""
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
                        and name not in functions
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
        sources = [
            _part_source(k, part, loads, stores, slots)
            for k, (part, (loads, stores)) in enumerate(zip(parts, plans))
        ]
        self.source = "\n\n\n".join(sources)
        self._parts = []
        for k, source in enumerate(sources):
            namespace = dict(functions)
            exec(builtins.compile(source, f"<program {self.name}, part {k}>", "exec"), namespace)
            self._parts.append(namespace[f"part_{k}"])

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
        total = sum(tape)  # the inputs must be finite too
        tape += [0.0] * (self._tape_size - len(tape))
        try:
            for part in self._parts:
                total += part(tape)
        except (ArithmeticError, ValueError):
            return self._eager(args)
        n_grads = len(self._grad_names)
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
        """Run ``f`` eagerly (without backward) and compare its operations with the trace."""
        inputs = [Value(a, name) for a, name in zip(args, self.arg_names)]
        now = _operations(_run(self.function, inputs, self.has_aux)[0], inputs, self.parameters)
        for k, (traced, seen) in enumerate(zip(self._operations, now)):
            if traced != seen:
                raise TraceMismatchError(
                    f"trace check: node {k + 1} of the graph differs: the trace has "
                    f"{_describe(traced)}, this call computes {_describe(seen)}. A Python "
                    "decision that depends on a number (an if, a loop count, a .data) went "
                    "another way; trace at these inputs, or make the decision an operation"
                )
        if len(now) != len(self._operations):
            raise TraceMismatchError(
                f"trace check: the trace has {len(self._operations)} nodes, this call "
                f"computes {len(now)} (the first {min(len(now), len(self._operations))} agree)"
            )

    # ----------------------------------------------------------------- reading

    def __len__(self) -> int:
        """The number of operations: one forward assignment per graph node that is not a leaf."""
        return self.n_operations

    def __repr__(self) -> str:
        return (
            f"Program({self.name}({', '.join(self.arg_names)}): {self.n_operations} operations, "
            f"{len(self.parameters)} parameters, {len(self._parts)} compiled parts)"
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


def _operations(out: Value, args: list[Value], parameters: list[Value]) -> list[tuple]:
    """The graph as a list to compare: for each node its op, constants and the nodes it reads.

    A leaf is argument ``i``, parameter ``j`` (the same object as in the trace), or a
    leaf made inside ``f``, known by its number (which must not change).
    """
    order = topological_order(out)
    index = {node: k for k, node in enumerate(order)}
    known = {x: ("argument", i) for i, x in enumerate(args)}
    known.update((p, ("parameter", j)) for j, p in enumerate(parameters))
    return [
        (node._op, node.constants, tuple(index[p] for p in node.parents))
        if node.parents
        else known.get(node, ("leaf", node.data))
        for node in order
    ]


def _describe(node: tuple) -> str:
    if isinstance(node[0], str):
        return f"{node[0]} {node[1]!r}"
    op, constants, reads = node
    operands = [f"node {k + 1}" for k in reads] + [repr(c) for c in constants]
    return f"{op.name!r} of ({', '.join(operands)})"


def _argument_names(f: Callable[..., Any], n: int) -> list[str]:
    """f's positional parameter names if it has ``n`` of them, else ``x0, x1, ...``."""
    try:
        parameters = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):  # some builtins have no signature
        parameters = []
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return names if len(names) == n else [f"x{i}" for i in range(n)]


def trace(
    f: Callable[..., Any], *example_args: float, check: bool = False, has_aux: bool = False
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

    >>> program = trace(lambda x, y: x * y + x.exp(), 1.0, 2.0)
    >>> program(0.0, 3.0)           # value e^0 = 1; d/dx = y + e^x = 4, d/dy = x = 0
    (1.0, (4.0, 0.0))
    """
    if not callable(f):
        raise TypeError(f"trace: f must be a function, got {type(f).__name__}")
    names = _argument_names(f, len(example_args))
    args = [
        Value(_as_number("trace", a, i), n) for i, (a, n) in enumerate(zip(example_args, names))
    ]
    out, aux = _run(f, args, has_aux)
    return Program(f, args, out, aux, check=check, has_aux=has_aux)


class _Compiled:
    """``f`` traced into a :class:`Program` once per number of arguments, then run as one."""

    def __init__(self, f: Callable[..., Any], check: bool, has_aux: bool) -> None:
        if not callable(f):
            raise TypeError(f"compile: f must be a function, got {type(f).__name__}")
        self.function, self.check, self.has_aux = f, check, has_aux
        #: The programs traced so far, by number of arguments.
        self.programs: dict[int, Program] = {}
        update_wrapper(self, f)

    def __call__(self, *args: float) -> tuple[Any, tuple[float, ...]]:
        program = self.programs.get(len(args))
        if program is None:
            program = trace(self.function, *args, check=self.check, has_aux=self.has_aux)
            self.programs[len(args)] = program
            return program(*args)
        return program(*args)


def compile(
    f: Callable[..., Any], *, check: bool = False, has_aux: bool = False
) -> Callable[..., tuple[Any, tuple[float, ...]]]:
    """``f`` as a function returning ``(value, grads)``, traced on the first call.

    Like ``jax.jit``: the first call traces ``f`` into a :class:`Program` at those
    arguments and runs it; later calls with the same number of arguments run the
    program; a call with another number of arguments traces again. ``check`` and
    ``has_aux`` are passed on to :func:`trace`. The programs are in ``.programs``.

    >>> loss = compile(lambda w, b: ((w * 2.0 + b - 1.0) ** 2))
    >>> loss(1.0, 0.0)               # (2w + b - 1)^2 = 1; d/dw = 4(2w + b - 1), d/db = 2(...)
    (1.0, (4.0, 2.0))
    """
    return _Compiled(f, check, has_aux)
