"""A whole training step as one program: forward, backward and Adam's update, on floats.

:func:`~tinygrad_edu.program.trace` turns a function into its Wengert list. A training
step is more than a function: its inputs change with every example (a name of another
length, other letters), and after the backward pass the optimizer updates every
parameter. :func:`compile_step` compiles all of it::

    step = tg.compile_step(model.loss, optimizer, schedule)
    for name in names:
        loss = step(tokenizer.encode(name))   # as loss = model.loss(...); zero_grad();
                                              #    backward(); optimizer.step(); schedule.step()

and each call computes, bit for bit, what the eager step computes.

How it works.

*Integer inputs.* The ints among the arguments (token ids) are inputs of the program:
the loss is traced with each replaced by an :class:`~tinygrad_edu.integer_inputs.IntegerInput`,
so an embedding row is read as ``wte.weight[tokens_3][5]`` and the logit of the next
token is picked by ``tokens_4`` on every call. One program serves every name of a
length; a Python decision on a token's value becomes a guard the program checks, and
a call that breaks one gets a program of its own.

*Flat buffers.* The parameters' numbers and gradients live in one flat list of floats,
the tape ``t`` (parameter ``i`` at ``t[i]``, its gradient at ``t[n + i]``), and Adam's
moments in the optimizer's own lists, for as long as the step runs. Outside a ``with
step:`` block every call reads the parameters from their Values and writes them back;
inside one, they are written back when the block ends, even by an exception or Ctrl-C
(and by :meth:`CompiledStep.sync` on demand), which saves two passes over the
parameters per call.

*Positions as parts.* The loss of a sequence is a sum over positions, and the graph of
position ``t`` is the same for every sequence longer than ``t``. The program is cut
where each position's term is complete: a forward part and a backward part per
position, plus the final sum. A part's code is compiled once and shared by every length
that has it, so a model of 16 positions compiles about two programs' worth of code, not
sixteen.

*What it cannot see.* A float argument (a data point) is an input too, as a number; a
Python decision on it (``if x > 0``) is decided while tracing and frozen, as in
:func:`~tinygrad_edu.program.trace`: keep such decisions inside operations (``relu``,
the losses), which decide on every call. Decisions on an integer input are guarded, as
above: a label that indexes a list (``logits[label]``) costs a program per label, one
picked with :func:`~tinygrad_edu.fused.pick` (as ``cross_entropy`` does) costs none.

*The eager order.* Every number is computed with the operations of the eager graph in
its order: each adjoint is the sum, from 0.0, of its contributions in the order
``backward()`` adds them, and the update is the optimizer's formula on the same floats.
A number that is not finite hands the call to the eager step, which raises the eager
error (or gives the eager answer).

*In C.* With ``backend="c"`` the parts are written as C (see
:mod:`tinygrad_edu.program_c`): every value and adjoint a slot of the tape, a ``ctypes``
array, with Adam's moments in it too; an integer input read as ``(long)t[57]``; the
fused ops as calls of program_c's loops; Adam's update as a C loop with the formula of
:meth:`Adam._update`. Every number a part makes is checked to be finite, since C raises
nothing where Python raises. The new parts of a program are built into a few libraries
at once, one per core, and cached on disk by their source.
"""

from __future__ import annotations

import builtins
import ctypes
import hashlib
import inspect
import keyword
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tinygrad_edu import program, program_c
from tinygrad_edu.engine import Op, Value, enable_grad, topological_order
from tinygrad_edu.grad_mode import no_grad, tracing
from tinygrad_edu.integer_inputs import IntegerInput, Recording, recording
from tinygrad_edu.optim import Adam, LRScheduler

__all__ = ["CompiledStep", "compile_step"]

# How C writes what the fused ops' rules need beyond arithmetic (see program.Syntax).
_C = program.Syntax(
    choose=lambda c, yes, no: f"({c} ? {yes} : {no})",
    largest=lambda v: (
        f"max_of({len(v)}, (const double[]){{{', '.join(v)}}})" if len(v) > 1 else v[0]
    ),
    any_of=lambda conditions: f"({' || '.join(conditions)})",
    nonzero=lambda x: f"{x} != 0.0",
    item=lambda values, index: f"((const double[]){{{', '.join(values)}}})[{index}]",
)
_C_FUSED_RULES = program.fused_rules(_C)
_C_MAX = """
/* Python's max(): the first of the largest (a later one replaces it only if greater) */
static double max_of(int n, const double *x) {
    double m = x[0];
    for (int i = 1; i < n; i++) if (x[i] > m) m = x[i];
    return m;
}
"""

# What a library of parts starts with: the C rules' functions and Python's max().
_C_LIBRARY_HEAD = program_c._PREAMBLE + _C_MAX
_C_RUN = re.compile(r"^int (p\w+_run)\(", re.MULTILINE)  # a part's function


def _checked(run_c: Callable[[Any], int]) -> Callable[[Any], float]:
    """A C part as the Python parts are: 0.0 if every number it made is finite, else nan."""

    def run(tape: Any) -> float:
        return 0.0 if run_c(tape) else math.nan

    return run


#: Adam's numbers shared by all parameters, on the tape of a C step after m and v:
#: beta1, beta2, the step size, the correction of sqrt(v), 1 - beta1, 1 - beta2, eps and
#: the weight decay (see :meth:`Adam._factors`).
_ADAM_FACTORS = 8


def _adam_source(n: int) -> str:
    """Adam's update of ``n`` parameters in C: the formula of :meth:`Adam._update`, the
    same float operations in the same order, written to spare room first and copied in
    only if every new number is finite (else 0: the eager step gives the error)."""
    return f"""{program_c.comment(f"Adam's update of {n} parameters, as tinygrad_edu.optim.Adam")}
#include <math.h>
#include <string.h>
int tg_run(double *t) {{
    const long n = {n};
    double *p = t, *g = t + n, *m = t + 2 * n, *v = t + 3 * n, *f = t + 4 * n;
    double *new_m = f + {_ADAM_FACTORS}, *new_v = new_m + n, *new_p = new_v + n;
    const double beta1 = f[0], beta2 = f[1], step_size = f[2], v_correction = f[3];
    const double rest1 = f[4], rest2 = f[5], eps = f[6], weight_decay = f[7];
    double zero = 0.0;
    for (long i = 0; i < n; i++) {{
        double grad = g[i];
        if (weight_decay != 0.0) grad = grad + weight_decay * p[i];
        new_m[i] = beta1 * m[i] + rest1 * grad;
        new_v[i] = beta2 * v[i] + rest2 * grad * grad;
        new_p[i] = p[i] - step_size * (new_m[i] / (sqrt(new_v[i]) / v_correction + eps));
        zero += new_v[i] * 0.0 + new_p[i] * 0.0;
    }}
    if (zero != 0.0) return 0;
    memcpy(m, new_m, n * sizeof(double));
    memcpy(v, new_v, n * sizeof(double));
    memcpy(p, new_p, n * sizeof(double));
    return 1;
}}
"""


class _Part:
    """One function of the tape, and the code it is compiled from when it first runs (so
    an evaluation compiles no backward part)."""

    def __init__(
        self, name: str, source: str, n_lines: int, build: Callable[[str, str], Callable]
    ) -> None:
        self.name, self.source, self.n_lines, self._build = name, source, n_lines, build

    def run(self, tape: Any) -> float:
        self.run = self._build(self.name, self.source)  # type: ignore[method-assign]
        return self.run(tape)


class _Program:
    """The parts a step runs for one structure of its arguments (a length of name)."""

    def __init__(
        self,
        parts: list[_Part],
        guards: Callable[..., bool],
        guard_text: str,
        legend: str,
        integers: list[tuple[int, tuple[int, ...]]],
        floats: list[tuple[int, tuple[int, ...]]],
        others: list[tuple[int, Value]],
        out_slot: int,
        n_operations: int,
        n_forward: int,
    ) -> None:
        self.parts, self.guards, self.guard_text = parts, guards, guard_text
        self.legend = legend  # which slots of the tape hold which parameters
        self.integers, self.floats, self.others = integers, floats, others
        self.out_slot, self.n_operations = out_slot, n_operations
        self.n_forward = n_forward  # the forward parts and the sum: what loss() runs

    def __str__(self) -> str:
        """The program's code: each part as it runs, comments included."""
        guards = (
            f"# guards, checked on every call: {self.guard_text}\n\n" if self.guard_text else ""
        )
        return self.legend + guards + "\n\n".join(part.source for part in self.parts)

    def __repr__(self) -> str:
        lines = sum(part.n_lines for part in self.parts)
        return (
            f"<step program: {self.n_operations} operations, {len(self.parts)} parts, "
            f"{lines} lines>"
        )


def _flatten(x: Any, path: tuple[int, ...] = ()) -> list[tuple[tuple[int, ...], Any]]:
    """The numbers of a (nested) list of numbers, each with its path of indices."""
    if isinstance(x, (list, tuple)):
        return [item for k, y in enumerate(x) for item in _flatten(y, (*path, k))]
    return [(path, x)]


def _shape(x: Any) -> Any:
    """What a program is traced for: lengths of lists, and int or float for each number."""
    if isinstance(x, (list, tuple)):
        return tuple(_shape(y) for y in x)
    if isinstance(x, (bool, Value)):
        raise TypeError(f"compile_step: arguments must be numbers or lists of them, got {x!r}")
    if isinstance(x, int):
        return int
    if isinstance(x, float):
        return float
    raise TypeError(
        f"compile_step: arguments must be ints, floats or lists of them, got {type(x).__name__}"
    )


def _rebuild(x: Any, items: dict[tuple[int, ...], Any], path: tuple[int, ...] = ()) -> Any:
    if isinstance(x, (list, tuple)):
        return type(x)(_rebuild(y, items, (*path, k)) for k, y in enumerate(x))
    return items[path]


class CompiledStep:
    """A training step compiled into programs (see the module docstring).

    ``step(*args)`` does what ``loss = loss_fn(*args); optimizer.zero_grad();
    loss.backward(); optimizer.step(); schedule.step()`` does, bit for bit, and returns
    ``loss.data``. ``step.programs`` holds a program per structure of the arguments
    (``print`` one to read it); ``step.build_seconds`` the time spent tracing,
    writing and compiling them.
    """

    def __init__(
        self,
        loss_fn: Callable[..., Value],
        optimizer: Adam,
        schedule: LRScheduler | None = None,
        *,
        backend: str = "python",
    ) -> None:
        program._check_backend("compile_step", backend)
        if not callable(loss_fn):
            raise TypeError(
                f"compile_step: loss_fn must be a function, got {type(loss_fn).__name__}"
            )
        if type(optimizer) is not Adam:
            raise TypeError(
                f"compile_step: the compiled update is Adam's; got {type(optimizer).__name__} "
                "(run that optimizer's steps eagerly)"
            )
        if schedule is not None and schedule.optimizer is not optimizer:
            raise ValueError("compile_step: the schedule must drive this optimizer")
        self.loss_fn, self.optimizer, self.schedule = loss_fn, optimizer, schedule
        self.params: list[Value] = list(optimizer.params)
        self._index = {p: i for i, p in enumerate(self.params)}
        n = len(self.params)
        self.backend = backend
        # The tape: the parameters, their gradients, then (in C) Adam's moments m and v,
        # its factors and room for a new m, v and parameters; then the programs' names.
        self._size = 2 * n if backend == "python" else 7 * n + _ADAM_FACTORS
        self._tape: Any = [0.0] * self._size
        if backend == "c":
            self._tape = (ctypes.c_double * self._size)()
            self._adam = program_c.load(_adam_source(n))
        self._zeros = [0.0] * n
        self._slots: dict[str, int] = {}
        self._constants: dict[int, float] = {}  # slot: number, for C's loops
        self._parts: dict[str, Callable[[list], float]] = {}  # compiled parts, by source
        self._written: dict[tuple, tuple[str, str, int]] = {}  # parts' source, by graph
        self._namespace: dict[str, Any] = dict(program._CALLED)
        self._op_keys: dict[tuple[Op, int], str] = {}
        #: The programs built so far, by structure of the arguments.
        self.programs: dict[Any, list[_Program]] = {}
        self.build_seconds = 0.0
        self._arg_names = _argument_names(loss_fn)
        self._buffered = False  # inside ``with step:``: the numbers live in the tape

    # ----------------------------------------------------------------- the numbers

    def _load(self) -> None:
        """The parameters' numbers (and in C, Adam's moments) into the tape."""
        n = len(self.params)
        self._tape[:n] = [p._data for p in self.params]
        if self.backend == "c":
            self._tape[2 * n : 4 * n] = [*self.optimizer.m, *self.optimizer.v]

    def sync(self) -> None:
        """Write the parameters' numbers and gradients (and in C, Adam's moments) from the
        tape to their Values (and to the optimizer)."""
        n = len(self.params)
        tape = self._tape
        for p, x, g in zip(self.params, tape[:n], tape[n : 2 * n]):
            p._data = x
            p.grad = g + 0.0  # backward() never leaves a gradient at -0.0
        if self.backend == "c":
            self.optimizer.m, self.optimizer.v = tape[2 * n : 3 * n], tape[3 * n : 4 * n]

    def __enter__(self) -> CompiledStep:
        self._load()
        self._buffered = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._buffered = False
        self.sync()

    # ----------------------------------------------------------------- running

    def __call__(self, *args: Any) -> float:
        """One training step on ``args``; returns the loss (see the class docstring)."""
        built = self._inputs(args)
        self._prebuild(built.parts)
        tape = self._tape
        n = len(self.params)
        tape[n : 2 * n] = self._zeros  # zero_grad()
        try:
            total = 0.0
            for part in built.parts:
                total += part.run(tape)
        except (ArithmeticError, ValueError, program._EagerAnswer):
            return self._eager(args)
        loss = tape[built.out_slot]
        if not math.isfinite(total + sum(tape[n : 2 * n])) or not self._update():
            return self._eager(args)
        if not self._buffered:
            self.sync()
        return loss

    def _prebuild(self, parts: list[_Part]) -> None:
        """Build the C of ``parts`` not built yet: all in a few libraries, one per core,
        built at once (the compiler runs in processes of its own)."""
        if self.backend != "c":
            return
        new = list(dict.fromkeys(part.source for part in parts if part.source not in self._parts))
        if not new:
            return
        start = _clock()
        groups = [new[k :: os.cpu_count() or 1] for k in range(min(len(new), os.cpu_count() or 1))]
        libraries = [_C_LIBRARY_HEAD + "\n".join(group) for group in groups]
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            list(pool.map(program_c.library_path, libraries))
        for group, library in zip(groups, libraries):
            for source in group:
                run_c = program_c.load(library, _C_RUN.search(source).group(1))
                self._parts[source] = _checked(run_c)
        self.build_seconds += _clock() - start

    def loss(self, *args: Any) -> float:
        """The loss at ``args``, forward only: ``loss_fn(*args).data``, bit for bit, with no
        gradient and no update (an evaluation on held-out data, say). It runs the forward
        parts of the programs the steps built, and builds those of a new length."""
        built = self._inputs(args)
        self._prebuild(built.parts[: built.n_forward])
        tape = self._tape
        try:
            total = 0.0
            for part in built.parts[: built.n_forward]:
                total += part.run(tape)
        except (ArithmeticError, ValueError, program._EagerAnswer):
            total = math.nan
        if not math.isfinite(total):
            with no_grad():  # the eager answer, or the eager error
                return self.loss_fn(*args).data
        return tape[built.out_slot]

    def _inputs(self, args: tuple) -> _Program:
        """The program for ``args``, with the parameters (outside ``with``) and the
        arguments written to its tape."""
        flat = _flatten(list(args))
        built = self._program(_shape(args), args, [x for _, x in flat if type(x) is int])
        self._grow()
        tape = self._tape
        for slot, c in self._constants.items():
            tape[slot] = c
        if not self._buffered:
            self._load()
        for slot, path in built.integers:
            tape[slot] = _item(args, path)
        for slot, path in built.floats:
            tape[slot] = float(_item(args, path))
        for slot, leaf in built.others:
            tape[slot] = leaf._data
        return built

    def _update(self) -> bool:
        """Adam's step on the tape, with :meth:`Adam.step`'s own formula; False if a number
        would not be finite, or the parameters' step counts differ (then the eager step
        does it, or gives the error)."""
        opt, tape, n = self.optimizer, self._tape, len(self.params)
        if not opt._in_step():  # after updates that skipped some parameters
            return False
        t = opt.steps[0] + 1
        if self.backend == "c":  # the same formula in C, on the tape (see _adam_source)
            factors = opt._factors(t)
            tape[4 * n : 4 * n + _ADAM_FACTORS] = [
                opt.beta1,
                opt.beta2,
                *factors,
                opt.eps,
                opt.weight_decay,
            ]
            if not self._adam(tape):
                return False
            opt.t, opt.steps = opt.t + 1, [t] * n
        else:
            m, v, new_data = opt._update(tape[:n], tape[n : 2 * n], opt.m, opt.v, t)
            if not (all(map(math.isfinite, v)) and all(map(math.isfinite, new_data))):
                return False
            tape[:n] = new_data
            opt.t, opt.steps, opt.m, opt.v = opt.t + 1, [t] * n, m, v
        if self.schedule is not None:
            self.schedule.step()
        return True

    def _eager(self, args: tuple) -> float:
        """The step the slow way, from the Values: it raises the eager error, if any."""
        self.sync()
        try:
            loss = self.loss_fn(*args)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            if self.schedule is not None:
                self.schedule.step()
        finally:
            self._load()
        return loss.data

    # ----------------------------------------------------------------- building

    def _program(self, key: Any, args: tuple, integers: list[int]) -> _Program:
        """The program for ``args``: one built for their structure whose guards hold, or new."""
        for built in self.programs.get(key, ()):
            if built.guards(*integers):
                return built
        start = _clock()
        built = self._build(args)
        self.build_seconds += _clock() - start
        self.programs.setdefault(key, []).append(built)
        return built

    def _build(self, args: tuple) -> _Program:
        flat = _flatten(list(args))
        names = self._input_names(flat)
        with recording() as found:
            traced = []
            for (_, x), name in zip(flat, names):
                traced.append(IntegerInput(x, name, found) if type(x) is int else Value(x, name))
            traced_args = _rebuild(list(args), dict(zip((p for p, _ in flat), traced)))
            with tracing(), enable_grad():
                out = self.loss_fn(*traced_args)
        if not isinstance(out, Value):
            raise TypeError(f"compile_step: loss_fn must return a Value, got {type(out).__name__}")
        guards = list(dict.fromkeys(found.guards))  # before writing reads an input by mistake
        floats = {v: path for (path, _), v in zip(flat, traced) if isinstance(v, Value)}
        integer_names = [v.name for v in traced if isinstance(v, IntegerInput)]
        writer = _Writer(self, out, found, floats, integer_names)
        parts = [_Part(name, source, n, self._function) for name, source, n in writer.parts()]
        guard_text = " and ".join(guards) or "True"
        guard_source = f"def guards({', '.join(integer_names)}):\n    return {guard_text}"
        namespace: dict[str, Any] = {}
        exec(builtins.compile(guard_source, "<step guards>", "exec"), namespace)
        return _Program(
            parts,
            namespace["guards"],
            guard_text if guards else "",
            self._legend(),
            [
                (self._slot(v.name), p)
                for (p, _), v in zip(flat, traced)
                if isinstance(v, IntegerInput)
            ],
            [(self._slot(writer.name[v]), p) for v, p in floats.items() if v in writer.name],
            [(self._slot(writer.name[v]), v) for v in writer.others],
            self._slot(writer.name[out]),
            writer.n_operations,
            len(writer.ends) + 1,
        )

    def _legend(self) -> str:
        """Which parameters the tape holds where, by their state_dict names:
        ``# t[0:432]  wte.weight.0.0 .. wte.weight.26.15``, a line per run of one name."""
        n = len(self.params)
        runs: list[list[Any]] = []  # [first slot, last slot, name] for each run
        for i, p in enumerate(self.params):
            label = p.label or f"parameter {i}"
            stem = label.rstrip("0123456789.")
            if runs and runs[-1][2] == stem and runs[-1][1] == i - 1:
                runs[-1][1] = i
            else:
                runs.append([i, i, stem])
        lines = ["# the tape t: parameter i at t[i], its gradient at t[n + i], n = " + str(n)]
        for first, last, _ in runs:
            labels = self.params[first].label, self.params[last].label
            shown = labels[0] if first == last else f"{labels[0]} .. {labels[1]}"
            lines.append(f"#   t[{first}:{last + 1}]  {shown}")
        return "\n".join(lines) + "\n\n"

    def _input_names(self, flat: list[tuple[tuple[int, ...], Any]]) -> list[str]:
        """``tokens_3`` for item 3 of argument ``tokens`` (``a0_3`` if its name is unusable)."""
        out = []
        for path, _ in flat:
            base = self._arg_names[path[0]] if path[0] < len(self._arg_names) else f"a{path[0]}"
            out.append("_".join([base, *map(str, path[1:])]))
        return out

    def _slot(self, name: str) -> int:
        """The tape slot of a name (the same name, the same slot, in every program)."""
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = self._size
            self._size += 1
        return slot

    def _constant(self, c: float) -> int:
        """The slot of a constant that a fused op's C loop reads (a softmax's scale)."""
        name = f"{c!r} (constant)"
        if name not in self._slots:
            self._constants[self._slot(name)] = c
        return self._slots[name]

    def _grow(self) -> None:
        """Make the tape as long as the slots the programs use (a new array for C)."""
        if self.backend == "python":
            self._tape += [0.0] * (self._size - len(self._tape))
        elif len(self._tape) < self._size:
            bigger = (ctypes.c_double * (self._size + self._size // 2))()
            ctypes.memmove(bigger, self._tape, ctypes.sizeof(self._tape))
            self._tape = bigger

    def _op_functions(self, op: Op, n_parents: int) -> str:
        """The name a part calls an op without a rule by (``_op0``), its functions installed."""
        key = self._op_keys.get((op, n_parents))
        if key is None:
            key = self._op_keys[(op, n_parents)] = f"_op{len(self._op_keys)}"
            forward, derivative = program._op_functions(op, n_parents)
            self._namespace[f"{key}_forward"], self._namespace[f"{key}_derivative"] = (
                forward,
                derivative,
            )
        return key

    def _function(self, name: str, source: str) -> Callable[[Any], float]:
        """A part's function, compiled once for every program that has the same code."""
        run = self._parts.get(source)
        if run is None:
            start = _clock()
            if self.backend == "c":
                library = _C_LIBRARY_HEAD + source
                run = _checked(program_c.load(library, _C_RUN.search(source).group(1)))
            else:
                exec(builtins.compile(source, f"<step part {name}>", "exec"), self._namespace)
                run = self._namespace.pop("part")
            self._parts[source] = run
            self.build_seconds += _clock() - start
        return run

    def __repr__(self) -> str:
        n_programs = sum(map(len, self.programs.values()))
        return (
            f"CompiledStep({getattr(self.loss_fn, '__qualname__', 'loss_fn')}: "
            f"{len(self.params)} parameters, {n_programs} programs, "
            f"{len(self._parts)} compiled parts)"
        )


def _item(x: Any, path: tuple[int, ...]) -> Any:
    for k in path:
        x = x[k]
    return x


_clock = time.perf_counter


def _argument_names(f: Callable[..., Any]) -> list[str]:
    """f's positional parameter names, where each is a name the code may use, else ``a0``."""
    try:
        parameters = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return []
    return [p.name if _usable(p.name) else f"a{k}" for k, p in enumerate(parameters)]


def _usable(name: str) -> bool:
    """A plain ASCII name that no name of the code (``v12``, ``t``, ``exp``) can be."""
    return bool(
        program._SAFE_NAME.fullmatch(name)
        and not keyword.iskeyword(name)
        and not program._RESERVED.fullmatch(name)
        and not (name[0] in "vexcg" and name[1:].isdigit())
        and name not in ("part", "guards")
    )


_NOT_NAMES = {"t", "if", "else", "or", "and", "not", *program._CALLED}


class _Writer:
    """Writes a traced step's graph as parts: forward and backward of each position."""

    def __init__(
        self,
        step: CompiledStep,
        out: Value,
        found: Recording,
        floats: dict[Value, tuple],
        integers: list[str],
    ) -> None:
        if not out.parents:
            raise ValueError("compile_step: the loss is a leaf; there is nothing to differentiate")
        self.step, self.found, self.out, self.n = step, found, out, len(step.params)
        self.c = step.backend == "c"
        self.row_starts: dict[int, int] = {}  # each table's first slot, by id
        self.integers = set(integers)
        self.order = order = topological_order(out)
        self.name: dict[Value, str] = {}
        self.stand_in: dict[str, Value] = {}
        self.others: list[Value] = []
        for k, node in enumerate(order):
            if node.parents:
                self.name[node] = f"v{k}"
            elif node in step._index:  # read where it lives: one subscript, no load
                self.name[node] = f"t[{step._index[node]}]"
            elif node in found.rows:
                self.name[node] = f"e{k}"
                self.stand_in[f"e{k}"] = node
            elif node in floats:
                self.name[node] = f"x{k}"
            else:  # a leaf made inside the loss, or a Value the optimizer does not update
                self.name[node] = f"c{k}"
                self.others.append(node)
        self.n_operations = sum(1 for node in order if node.parents)
        self.tape_names = set(self.name.values())
        self.ends = _segment_ends(order, out, {node: k for k, node in enumerate(order)})
        self.segment: dict[Value, int] = {}
        start = 0
        for j, end in enumerate([*self.ends, len(order)]):
            for node in order[start:end]:
                self.segment[node] = j
            start = end
        # nodes whose adjoint gets a contribution from another segment: kept on the tape
        self.external = {
            parent
            for node in order
            for parent in node.parents
            if parent.parents and self.segment[parent] != self.segment[node]
        }

    # ----------------------------------------------------------------- one node

    def operands(self, node: Value) -> list[str]:
        """The operands as text: the parents' names, then constants (an integer input by
        its name)."""
        names = [self.name[p] for p in node.parents]
        for c in node.constants:
            names.append(c.name if isinstance(c, IntegerInput) else program._literal(c))
        return names

    def rule(self, node: Value) -> tuple[Callable, Callable] | None:
        op = node._op
        if self.c:  # the C rules: program_c's for the engine's ops, the fused ops' own
            found = program_c._RULES.get(op)
            if found is not None:
                forward, contribution = found
                return (lambda a, o: [forward(a)]), contribution
            found = _C_FUSED_RULES.get(op) or _C_FUSED_RULES.get(program_c.rule_key(op))
            if found is None:
                raise TypeError(
                    f"compile_step(backend='c'): node {self.name[node]} "
                    f"({program_c.comment(op.name)[3:-3]}) is an op of your own, written in "
                    "Python, with no C rule; use backend='python' to run it"
                )
            return found
        return program._rule(op)

    def forward_lines(self, node: Value) -> list[tuple[str, str, str]]:
        """(target, expression, comment) of the node's forward lines."""
        o, a = self.name[node], self.operands(node)
        comment = node._op.name + (f" ({program._shown(node.label)})" if node.label else "")
        rule = self.rule(node)
        if rule is None:
            key = self.step._op_functions(node._op, len(node.parents))
            return [
                (o, f"{key}_forward({', '.join(a)})", comment),
                (f"_d_{o}", f"{key}_derivative({', '.join([*a, o])})", comment),
            ]
        return [
            (*(line if isinstance(line, tuple) else (o, line)), comment) for line in rule[0](a, o)
        ]

    def contributions(self, node: Value, g: str) -> list[str]:
        """The contribution of each edge, ``local * g``, in the order of the parents."""
        o, a = self.name[node], self.operands(node)
        rule = self.rule(node)
        if rule is None:
            return [f"_d_{o}[{i}] * {g}" for i in range(len(node.parents))]
        return [rule[1](a, o, i, g) for i in range(len(node.parents))]

    # ----------------------------------------------------------------- reading the tape

    def load(self, name: str, loads: dict[str, str], defined: set[str]) -> None:
        """Read ``name`` from the tape at the part's start, unless the part makes it."""
        if name in defined or name in loads or name in _NOT_NAMES or name.startswith("_op"):
            return  # (an op's own functions are names of the code, like exp)
        stand_in = self.stand_in.get(name)
        if stand_in is not None:  # the row its integer input names
            index = self.found.rows[stand_in][1].name
            self.load(index, loads, defined)
            loads[name] = self.row_cell(stand_in, index)
        else:
            loads[name] = f"t[{self.step._slot(name)}]"

    def load_all(self, text: str, loads: dict[str, str], defined: set[str]) -> None:
        for name in program._IDENTIFIER.findall(text):
            self.load(name, loads, defined)

    def row_cell(self, stand_in: Value, index: str, gradient: bool = False) -> str:
        """The cell of the tape a stand-in reads (or, with ``gradient``, its gradient's):
        ``t[0 + tokens_3 * 16 + 5]``, with the integer input written as ``index``."""
        table, _, j = self.found.rows[stand_in]
        start = self.row_starts.get(id(table))
        if start is None:
            start = self.row_starts[id(table)] = self.row_start(table)
        return f"t[{start + (self.n if gradient else 0)} + {index} * {len(table[0])} + {j}]"

    def row_start(self, table: Sequence[Sequence[Value]]) -> int:
        """The slot of ``table[0][0]``; the rows must follow each other among the parameters."""
        width, index = len(table[0]), self.step._index
        start = index.get(table[0][0])
        if start is None or any(
            index.get(x) != start + r * width + j
            for r, row in enumerate(table)
            for j, x in enumerate(row)
        ):
            raise ValueError(
                "compile_step: a table read by an integer input must be among the optimizer's "
                "parameters, row after row (as model.parameters() lists an Embedding)"
            )
        return start

    def adjoint(self, parent: Value) -> str | None:
        """Where a contribution to ``parent`` goes: its adjoint's name (a node), its
        gradient on the tape (a parameter, a row's number), or nowhere (``None``: an
        input that is not a parameter, whose gradient the step does not need)."""
        if parent.parents:
            return f"g_{self.name[parent]}"
        if parent in self.step._index:
            return f"t[{self.n + self.step._index[parent]}]"
        if parent in self.found.rows:
            return self.row_cell(parent, self.found.rows[parent][1].name, gradient=True)
        return None

    # ----------------------------------------------------------------- parts

    def parts(self) -> list[tuple[str, str, int]]:
        """(name, source, number of lines) of each part, in the order they run."""
        segments: list[list[Value]] = [[] for _ in range(len(self.ends) + 1)]
        for node in self.order:
            if node.parents:
                segments[self.segment[node]].append(node)
        *positions, root = segments
        forward = [self.shared(f"forward_{j}", nodes, j, True) for j, nodes in enumerate(positions)]
        backward = [
            self.shared(f"backward_{j}", nodes, j, False)
            for j, nodes in reversed(list(enumerate(positions)))
        ]
        return [
            *forward,
            self.part(f"sum_of_{len(positions)}", root, len(positions), root),
            *backward,
        ]

    def shared(self, name: str, nodes: list[Value], j: int, forward: bool) -> tuple[str, str, int]:
        """The forward or backward part of position ``j``, written once for every program
        whose graph there is the same (the same nodes, names and adjoints kept on the tape)."""
        names, rows = self.name, self.found.rows
        key: list[Any] = [forward, j, self.ends[j - 1] if j else 0]
        stand_ins = []
        for node in nodes:
            constants = tuple(c.name if isinstance(c, IntegerInput) else c for c in node.constants)
            key.append((node._op, constants, tuple([names[p] for p in node.parents])))
            stand_ins += [p for p in node.parents if p in rows]
        for x in stand_ins:  # which row and column each stands in for
            table, index, column = rows[x]
            key.append((names[x], id(table), index.name, column))
        if not forward:
            key.append(tuple(names[x] for x in nodes if x in self.external))
        cache = self.step._written
        written = cache.get(tuple(key))
        if written is None:
            written = cache[tuple(key)] = self.part(
                name, nodes if forward else None, j, None if forward else nodes
            )
        return written

    def part(
        self, name: str, forward: list[Value] | None, j: int, backward: list[Value] | None
    ) -> tuple[str, str, int]:
        """A part: the forward lines of ``forward``, then the backward lines of
        ``backward`` (the root part has both); segment ``j``."""
        loads: dict[str, str] = {}
        defined: set[str] = set()
        lines: list[str] = []
        stores: list[str] = []
        checked: list[str] = []
        root = forward is not None and backward is not None
        if root:  # adjoints that parts of several segments add to start at 0.0, here
            zeroed = sorted((f"g_{self.name[x]}" for x in self.external), key=_natural)
            for k in range(0, len(zeroed), 16):
                lines.append(
                    " = ".join([*(f"t[{self.step._slot(g)}]" for g in zeroed[k : k + 16]), "0.0"])
                )
        self.arrays: list[str] = []  # C: the index arrays of the fused ops' loops
        for node in forward or ():
            for target, expression, comment in self.c_loop(node) or self.forward_lines(node):
                self.load_all(expression, loads, defined)
                defined.add(target)
                lines.append(f"{target} = {expression}  # {comment}")
                if self.c:  # C raises nothing: every number it makes is checked
                    checked.append(target)
            if program._may_overflow(node._op) and not self.c:
                checked.append(self.name[node])
        if not root:
            stores += sorted(defined, key=_natural)
        if root:
            out = self.name[self.out]
            lines.append(f"g_{out} = 1.0  # d {out}/d {out}")
            defined.add(f"g_{out}")
            stores.append(out)
        for node in reversed(backward or ()):
            g = f"g_{self.name[node]}"
            self.load(g, loads, defined)  # all its contributions came from other parts
            part = (loads, defined, lines, stores, root)
            if self.c_loop(node):  # C: one call adds every contribution, in order
                targets = [self.target(parent, part) for parent in node.parents]
                lines.append(self.c_backward_loop(node, targets, g))
                continue
            for parent, expression in zip(node.parents, self.contributions(node, g)):
                found = self.target(parent, part)
                if found is None:
                    continue
                self.load_all(expression, loads, defined)
                target, assign = found
                comment = f"d {self.name[node]}/d {self.name[parent]} ({node._op.name})"
                lines.append(f"{target} {assign} {expression}  # {comment}")
        return self.source(name, loads, lines, stores, checked)

    def target(self, parent: Value, part: tuple) -> tuple[str, str] | None:
        """Where the next contribution to ``parent`` goes in this part, and how: set
        (``=``, the first of a node's adjoint made here), or added (``+=``: a parameter's
        gradient, an adjoint this part or another has started); None for nowhere."""
        loads, defined, lines, stores, root = part
        target = self.adjoint(parent)
        if target is None:
            return None
        if not parent.parents:  # a parameter's gradient on the tape
            self.load_all(target, loads, defined)
            return target, "+="
        assign = "="
        if target in defined:
            assign = "+="
        elif parent in self.external:  # other parts add to it too: kept on the tape
            if root:
                lines.append(f"{target} = 0.0")
            else:
                self.load(target, loads, defined)
            assign = "+="
            stores.append(target)
        defined.add(target)
        return target, assign

    def c_loop(self, node: Value) -> list[tuple[str, str, str]] | None:
        """In C, a fused op's forward as one call of its loop (``fw_dot(t, A3, 16)``,
        see program_c), reading its operands' slots from an index array; None for an op
        written line by line (and for one that reads a row by an integer input)."""
        if not (self.c and node.parents):
            return None
        kind = program_c._rule(node._op)
        if not isinstance(kind, str) or any(p in self.found.rows for p in node.parents):
            return None
        slots = [self.slot_of(p) for p in node.parents]
        slots += [self.step._constant(c) for c in node.constants]
        n = program_c._fused_n(kind, len(slots))
        o = self.name[node]
        return [(o, f"fw_{kind}(t, {self.array(slots)}, {n})", node._op.name)]

    def c_backward_loop(self, node: Value, targets: list[tuple[str, str] | None], g: str) -> str:
        kind = program_c._rule(node._op)
        slots = [self.slot_of(p) for p in node.parents]
        slots += [self.step._constant(c) for c in node.constants]
        n = program_c._fused_n(kind, len(slots))
        into = [
            self.step._slot("_nowhere") if t is None else self.slot_of_text(t[0]) for t in targets
        ]
        first = [int(t is None or t[1] == "=") for t in targets]
        o = self.name[node]
        return (
            f"bw_{kind}(t, {self.array(slots)}, {self.array(into)}, "
            f"{self.array(first, 'unsigned char')}, {len(targets)}, {n}, {o}, {g})"
            f"  # d {o}/d each operand ({node._op.name})"
        )

    def slot_of(self, x: Value) -> int:
        """The tape slot of a node's number or a parameter's (not of a stand-in)."""
        return self.step._index[x] if x in self.step._index else self.step._slot(self.name[x])

    def slot_of_text(self, target: str) -> int:
        """The slot of a contribution's target: ``t[812]`` or an adjoint's name."""
        return int(target[2:-1]) if target.startswith("t[") else self.step._slot(target)

    def array(self, values: list[int], kind: str = "int") -> str:
        self.arrays.append(
            f"static const {kind} @A{len(self.arrays)}[] = {{{', '.join(map(str, values))}}};"
        )
        return f"@A{len(self.arrays) - 1}"  # @: the part's own prefix (see c_source)

    def source(
        self,
        name: str,
        loads: dict[str, str],
        lines: list[str],
        stores: list[str],
        checked: list[str],
    ) -> tuple[str, str, int]:
        if self.c:
            return self.c_source(name, lines, checked)
        body = [f"    {target} = {where}" for target, where in loads.items()]
        body += [f"    {line}" for line in lines]
        body += [f"    t[{self.step._slot(s)}] = {s}" for s in dict.fromkeys(stores)]
        body.append(f"    return sum(({', '.join(checked)}{',' if checked else ''}))")
        return name, f"def part(t):  # {name}\n" + "\n".join(body), len(body)

    def in_c(self, text: str) -> str:
        """A line's names as the tape's slots: ``v12`` is ``t[3012]``, an integer input
        ``(long)t[57]``, a stand-in the number of the row its input names."""

        def slot(match: re.Match) -> str:
            name = match.group()
            if name in self.integers:
                return f"(long)t[{self.step._slot(name)}]"
            stand_in = self.stand_in.get(name)
            if stand_in is not None:
                index = self.found.rows[stand_in][1].name
                return self.row_cell(stand_in, f"(long)t[{self.step._slot(index)}]")
            if name in self.tape_names or name.startswith(("g_", "_v")):
                return f"t[{self.step._slot(name)}]"
            return name  # a C function (exp, max_of), a type

        return program._IDENTIFIER.sub(slot, text)

    def c_source(self, name: str, lines: list[str], checked: list[str]) -> tuple[str, str, int]:
        """The part as C: each line with the Python line it is as its comment, in
        functions of program_c.STATEMENTS_PER_FUNCTION lines, then the check that every
        number the part made is finite."""
        body = []
        for line in lines:
            code, _, note = line.partition("  # ")
            shown = f"{code}  # {note}" if note else code
            body.append(f"{self.in_c(code)}; {program_c.comment(shown)}")
        size = program_c.STATEMENTS_PER_FUNCTION
        functions = [
            f"static void @f{k}(double *t) {{\n    " + "\n    ".join(body[i : i + size]) + "\n}"
            for k, i in enumerate(range(0, len(body), size))
        ]
        slots = [str(self.step._slot(x)) for x in dict.fromkeys(checked)]
        check = [
            f"    static const int CHECK[] = {{{', '.join(slots)}}};",
            f"    for (int i = 0; i < {len(slots)}; i++) zero += t[CHECK[i]] * 0.0;",
        ]
        run = [
            "int @run(double *t) {",
            *(f"    @f{k}(t);" for k in range(len(functions))),
            "    double zero = 0.0;  /* 0.0 * x is 0 for every finite x, nan otherwise */",
            *(check if slots else []),
            "    return zero == 0.0;",
            "}",
        ]
        header = program_c.comment(f"part {name} of a compiled training step (tinygrad_edu.step)")
        text = "\n".join([header, *self.arrays, "", *functions, "", *run, ""])
        # Its own names, from a hash of its code: parts built into one library stay apart.
        prefix = "p" + hashlib.sha256(text.encode()).hexdigest()[:12] + "_"
        source = text.replace("@", prefix)
        return name, source, len(body)


def _natural(name: str) -> tuple[str, int]:
    head = name.rstrip("0123456789")
    return head, int(name[len(head) :] or 0)


def _segment_ends(order: list[Value], out: Value, index: dict[Value, int]) -> list[int]:
    """Where each position's part of the graph ends in ``order``.

    Below the loss (through nodes of one parent: ``/ n``) is a node of several parents
    (the sum of the positions' terms). Depth-first order visits each term's graph in
    turn, so the nodes up to term ``j`` are those of positions ``0 .. j``. Without such a
    sum, the whole graph but its last node is one part.
    """
    node = out
    while len(node.parents) == 1 and node.parents[0].parents:
        node = node.parents[0]
    ends = [index[p] + 1 for p in node.parents]
    if len(ends) >= 2 and all(p.parents for p in node.parents) and ends == sorted(set(ends)):
        return ends
    return [len(order) - 1]


def compile_step(
    loss_fn: Callable[..., Value],
    optimizer: Adam,
    schedule: LRScheduler | None = None,
    *,
    backend: str = "python",
) -> CompiledStep:
    """A training step compiled to straight-line float code: see :class:`CompiledStep`.

    ``loss_fn`` takes ints (token ids), floats, or lists of them, and returns the loss
    as a Value; ``optimizer`` is an :class:`~tinygrad_edu.optim.Adam` over the
    parameters; ``schedule`` (optional) sets its learning rate after each step;
    ``backend`` is ``"python"`` (the default, works everywhere) or ``"c"`` (the system's C
    compiler builds the parts: the same numbers, bit for bit, many times faster a step;
    :class:`~tinygrad_edu.program_c.CompilerNotFoundError` without a compiler). ::

        step = tg.compile_step(model.loss, optimizer, schedule)
        with step:                                  # numbers live in flat lists
            for name in names:
                loss = step(tokenizer.encode(name))
    """
    return CompiledStep(loss_fn, optimizer, schedule, backend=backend)
