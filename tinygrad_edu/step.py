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

How it works, in four ideas.

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

*The eager order.* Every number is computed with the operations of the eager graph in
its order: each adjoint is the sum, from 0.0, of its contributions in the order
``backward()`` adds them, and the update is the optimizer's formula on the same floats.
A number that is not finite hands the call to the eager step, which raises the eager
error (or gives the eager answer).
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from tinygrad_edu import fused, program
from tinygrad_edu.engine import Op, Value, enable_grad, topological_order
from tinygrad_edu.grad_mode import no_grad, tracing
from tinygrad_edu.integer_inputs import IntegerInput, Recording, recording
from tinygrad_edu.optim import Adam, LRScheduler

__all__ = ["CompiledStep", "compile_step"]

# How the program writes a pick: the item of the tuple at the input's index; d/dx_i is
# 1.0 for the one picked and 0.0 for the others, as the op's derivative says.
_PICK_RULE = (
    lambda a, o: [f"({', '.join(a[:-1])},)[{a[-1]}]"],
    lambda a, o, i, g: f"(1.0 if {a[-1]} == {i} else 0.0) * {g}",
)


class _Line:
    """A line of a part: ``target = expression`` (or ``+=``), what it reads, a comment."""

    __slots__ = ("assign", "comment", "expression", "reads", "target")

    def __init__(
        self, target: str, expression: str, reads: Sequence[str], comment: str, assign: str = "="
    ) -> None:
        self.target, self.expression, self.reads = target, expression, reads
        self.comment, self.assign = comment, assign

    def __str__(self) -> str:
        return f"{self.target} {self.assign} {self.expression}"


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
        integers: list[tuple[int, tuple[int, ...]]],
        floats: list[tuple[int, tuple[int, ...]]],
        others: list[tuple[int, Value]],
        out_slot: int,
        n_operations: int,
        n_forward: int,
    ) -> None:
        self.parts, self.guards, self.guard_text = parts, guards, guard_text
        self.integers, self.floats, self.others = integers, floats, others
        self.out_slot, self.n_operations = out_slot, n_operations
        self.n_forward = n_forward  # the forward parts and the sum: what loss() runs

    def __str__(self) -> str:
        """The program's code: each part as it runs, comments included."""
        guards = (
            f"# guards, checked on every call: {self.guard_text}\n\n" if self.guard_text else ""
        )
        return guards + "\n\n".join(part.source for part in self.parts)

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
    ) -> None:
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
        self._tape: list[Any] = [0.0] * (2 * n)
        self._zeros = [0.0] * n
        self._slots: dict[str, int] = {}
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
        """The parameters' numbers into the tape."""
        self._tape[: len(self.params)] = [p._data for p in self.params]

    def sync(self) -> None:
        """Write the parameters' numbers and gradients from the tape to their Values."""
        n = len(self.params)
        tape = self._tape
        for p, x, g in zip(self.params, tape[:n], tape[n : 2 * n]):
            p._data = x
            p.grad = g + 0.0  # backward() never leaves a gradient at -0.0

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

    def loss(self, *args: Any) -> float:
        """The loss at ``args``, forward only: ``loss_fn(*args).data``, bit for bit, with no
        gradient and no update (an evaluation on held-out data, say). It runs the forward
        parts of the programs the steps built, and builds those of a new length."""
        built = self._inputs(args)
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
        tape = self._tape
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
        if len(set(opt.steps)) != 1:  # after updates that skipped some parameters
            return False
        t = opt.steps[0] + 1
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
        writer = _Writer(self, out, found, floats)
        parts = [_Part(name, source, n, self._function) for name, source, n in writer.parts()]
        integer_names = [v.name for v in traced if isinstance(v, IntegerInput)]
        guard_text = " and ".join(guards) or "True"
        guard_source = f"def guards({', '.join(integer_names)}):\n    return {guard_text}"
        namespace: dict[str, Any] = {}
        exec(builtins.compile(guard_source, "<step guards>", "exec"), namespace)
        return _Program(
            parts,
            namespace["guards"],
            guard_text if guards else "",
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
            slot = self._slots[name] = len(self._tape)
            self._tape.append(0.0)
        return slot

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
            exec(builtins.compile(source, f"<step part {name}>", "exec"), self._namespace)
            run = self._parts[source] = self._namespace.pop("part")
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
        and not (name[0] in "vpexcg" and name[1:].isdigit())
        and name not in ("part", "guards")
    )


_NOT_NAMES = {"t", "if", "else", "or", "and", "not", *program._CALLED}


class _Writer:
    """Writes a traced step's graph as parts: forward and backward of each position."""

    def __init__(
        self, step: CompiledStep, out: Value, found: Recording, floats: dict[Value, tuple]
    ) -> None:
        if not out.parents:
            raise ValueError("compile_step: the loss is a leaf; there is nothing to differentiate")
        self.step, self.found, self.out, self.n = step, found, out, len(step.params)
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
        return _PICK_RULE if node._op is fused.PICK else program._rule(node._op)

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
            table, index, j = self.found.rows[stand_in]
            self.load(index.name, loads, defined)
            loads[name] = f"t[{self.row_start(table)} + {index.name} * {len(table[0])} + {j}]"
        else:
            loads[name] = f"t[{self.step._slot(name)}]"

    def load_all(self, text: str, loads: dict[str, str], defined: set[str]) -> None:
        for name in program._IDENTIFIER.findall(text):
            self.load(name, loads, defined)

    def row_start(self, table: Sequence[Sequence[Value]], gradient: bool = False) -> int:
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
        return start + (self.n if gradient else 0)

    def adjoint(self, parent: Value) -> str | None:
        """Where a contribution to ``parent`` goes: its adjoint's name (a node), its
        gradient on the tape (a parameter, a row's number), or nowhere (``None``: an
        input that is not a parameter, whose gradient the step does not need)."""
        if parent.parents:
            return f"g_{self.name[parent]}"
        if parent in self.step._index:
            return f"t[{self.n + self.step._index[parent]}]"
        if parent in self.found.rows:
            table, index, j = self.found.rows[parent]
            start = self.row_start(table, gradient=True)
            return f"t[{start} + {index.name} * {len(table[0])} + {j}]"
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
        for node in forward or ():
            for target, expression, comment in self.forward_lines(node):
                self.load_all(expression, loads, defined)
                defined.add(target)
                lines.append(f"{target} = {expression}  # {comment}")
            if self.may_overflow(node):
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
            for parent, expression in zip(node.parents, self.contributions(node, g)):
                target = self.adjoint(parent)
                if target is None:
                    continue
                self.load_all(expression, loads, defined)
                if not parent.parents:  # a parameter's gradient on the tape
                    self.load_all(target, loads, defined)
                    assign = "+="
                elif target in defined:
                    assign = "+="
                elif parent in self.external:
                    if root:
                        lines.append(f"{target} = 0.0")
                    else:
                        self.load(target, loads, defined)
                    assign = "+="
                    stores.append(target)
                else:
                    assign = "="
                if parent.parents:
                    defined.add(target)
                comment = f"d {self.name[node]}/d {self.name[parent]} ({node._op.name})"
                lines.append(f"{target} {assign} {expression}  # {comment}")
        return self.source(name, loads, lines, stores, checked)

    def may_overflow(self, node: Value) -> bool:
        op = node._op
        return op in program._MAY_OVERFLOW or (op not in program._RULES and op is not fused.PICK)

    def source(
        self,
        name: str,
        loads: dict[str, str],
        lines: list[str],
        stores: list[str],
        checked: list[str],
    ) -> tuple[str, str, int]:
        body = [f"    {target} = {where}" for target, where in loads.items()]
        body += [f"    {line}" for line in lines]
        body += [f"    t[{self.step._slot(s)}] = {s}" for s in dict.fromkeys(stores)]
        body.append(f"    return sum(({', '.join(checked)}{',' if checked else ''}))")
        return name, f"def part(t):  # {name}\n" + "\n".join(body), len(body)


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
    loss_fn: Callable[..., Value], optimizer: Adam, schedule: LRScheduler | None = None
) -> CompiledStep:
    """A training step compiled to straight-line float code: see :class:`CompiledStep`.

    ``loss_fn`` takes ints (token ids), floats, or lists of them, and returns the loss
    as a Value; ``optimizer`` is an :class:`~tinygrad_edu.optim.Adam` over the
    parameters; ``schedule`` (optional) sets its learning rate after each step. ::

        step = tg.compile_step(model.loss, optimizer, schedule)
        with step:                                  # numbers live in flat lists
            for name in names:
                loss = step(tokenizer.encode(name))
    """
    return CompiledStep(loss_fn, optimizer, schedule)
