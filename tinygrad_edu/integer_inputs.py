"""Integer inputs of a compiled step: a token id that a program reads on every call.

A GPT's loss on a name reads row ``tokens[t]`` of the embedding table and the logit of
the next token ``tokens[t + 1]``. To compile it once for every name of a length (not once
per name), :func:`~tinygrad_edu.step.compile_step` calls the loss with each int replaced
by an :class:`IntegerInput`: an integer with the same value that also knows which
input it is (``tokens_3``). Two uses of it are written into the program as reads of the
input, so they follow the token on every call:

* ``Embedding(index)`` returns, for each number of the row, a stand-in leaf that the
  program reads from the row ``tokens_3`` names (see :func:`row`);
* :func:`~tinygrad_edu.fused.pick` makes a node whose output is ``values[tokens_4]``.

Any other use of the value (``if token == bos``, ``table[token]``, ``token + 1``) is a
Python decision like those :func:`~tinygrad_edu.program.trace` freezes: here it is
recorded as a *guard*, a condition on the inputs (``tokens_3 == 26``) that the program
checks on every call. A call whose inputs break a guard gets a program of its own,
traced at those inputs, so a program is never reused where its decisions would differ.
"""

from __future__ import annotations

import numbers
import operator
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tinygrad_edu.engine import Value
from tinygrad_edu.grad_mode import is_tracing

__all__ = ["IntegerInput", "Recording", "recording", "row"]


class Recording:
    """What a trace learns about its integer inputs: the guards, and the rows read."""

    def __init__(self) -> None:
        #: Conditions that held at the trace, as source text over the inputs' names.
        self.guards: list[str] = []
        #: For each stand-in leaf of a row: (the table's rows, the index, the column).
        self.rows: dict[Value, tuple[Sequence[Sequence[Value]], IntegerInput, int]] = {}


class _Active(threading.local):
    """The recordings open in this thread, innermost last (a thread traces on its own)."""

    def __init__(self) -> None:
        self.recordings: list[Recording] = []


_active = _Active()


@contextmanager
def recording() -> Iterator[Recording]:
    """Record guards and row reads of integer inputs for a ``with`` block."""
    found = Recording()
    _active.recordings.append(found)
    try:
        yield found
    finally:
        _active.recordings.pop()


class IntegerInput:
    """An integer that is an input of a compiled call, named as the program reads it.

    It stands for its value everywhere, as an ``int`` would (``numbers.Integral``
    counts it as one), but it is not an ``int``: Python reaches its value only through
    its methods (``__index__`` to index a list, ``__eq__``, ``__hash__``, ...), and each
    records the condition that held as a guard (see the module docstring). An ``int``
    subclass could not do that: a list indexed by one reads its value directly.
    """

    __slots__ = ("_recording", "name", "value")

    def __init__(self, value: int, name: str, found: Recording) -> None:
        self.value, self.name, self._recording = value, name, found

    def _guard(self, condition: str) -> None:
        self._recording.guards.append(condition)

    def _same_value(self) -> int:
        """Any use that needs the value itself: the program must see this very value."""
        self._guard(f"{self.name} == {self.value}")
        return self.value

    def __index__(self) -> int:
        return self._same_value()

    def __hash__(self) -> int:
        return hash(self._same_value())

    def __bool__(self) -> bool:
        result = self.value != 0
        self._guard(f"{self.name} {'!=' if result else '=='} 0")
        return result

    def __repr__(self) -> str:
        return repr(self._same_value())


numbers.Integral.register(IntegerInput)


def _comparison(symbol: str, compare: Callable[[int, Any], Any]) -> Callable[..., Any]:
    def method(self: IntegerInput, other: Any) -> Any:
        if isinstance(other, IntegerInput):
            other = other._same_value()
        if type(other) is not int:  # a float, a string: ask for the value itself
            return compare(self._same_value(), other)
        result = compare(self.value, other)
        condition = f"{self.name} {symbol} {other}"
        self._guard(condition if result else f"not {condition}")
        return result

    return method


for _symbol, _name in (
    ("==", "eq"), ("!=", "ne"), ("<", "lt"), ("<=", "le"), (">", "gt"), (">=", "ge"),
):  # fmt: skip
    setattr(IntegerInput, f"__{_name}__", _comparison(_symbol, getattr(operator, _name)))


def _arithmetic(name: str) -> Callable[..., Any]:
    def method(self: IntegerInput, *others: Any) -> Any:
        others = tuple(x._same_value() if isinstance(x, IntegerInput) else x for x in others)
        return getattr(self._same_value(), name)(*others)

    return method


for _name in (
    "add", "radd", "sub", "rsub", "mul", "rmul", "floordiv", "rfloordiv", "truediv",
    "rtruediv", "mod", "rmod", "pow", "rpow", "neg", "pos", "abs", "int", "float",
    "complex", "and", "rand", "or", "ror", "xor", "rxor", "lshift", "rlshift", "rshift",
    "rrshift", "invert", "divmod", "rdivmod", "format", "str", "round", "trunc", "floor",
    "ceil",
):  # fmt: skip
    setattr(IntegerInput, f"__{_name}__", _arithmetic(f"__{_name}__"))


def row(table: Sequence[Sequence[Value]], index: int) -> Sequence[Value]:
    """``table[index]``; while a compiled step traces, by an integer input, stand-ins.

    Each stand-in is a new leaf with the number of ``table[index][j]``, recorded as
    "column ``j`` of the row the input names", so the program reads (and updates the
    gradient of) whichever row the input names on each call. Its label names the table
    as its parameters' labels do (``wte.weight[tokens_3][5]`` for ``wte.weight.3.5``).
    """
    if not (isinstance(index, IntegerInput) and _active.recordings and is_tracing()):
        return table[index]
    found, value = _active.recordings[-1], index.value
    stand_ins = []
    for j, parameter in enumerate(table[value]):
        label = parameter.label.rsplit(".", 2)[0] if parameter.label.count(".") >= 2 else "row"
        stand_in = Value(parameter.data, f"{label}[{index.name}][{j}]")
        found.rows[stand_in] = (table, index, j)
        stand_ins.append(stand_in)
    return stand_ins
