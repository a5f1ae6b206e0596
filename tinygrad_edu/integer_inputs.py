"""Integer inputs of a compiled step: a token id that a program reads on every call.

A GPT's loss on a name reads row ``tokens[t]`` of the embedding table and the logit of
the next token ``tokens[t + 1]``. To compile it once for every name of a length (not once
per name), :func:`~tinygrad_edu.step.compile_step` calls the loss with each int replaced
by an :class:`IntegerInput`: an ``int`` with the same value that also knows which input
it is (``tokens[3]``). Two uses of it are written into the program as reads of the
input, so they follow the token on every call:

* ``Embedding(index)`` returns, for each number of the row, a stand-in leaf that the
  program reads as ``wte[tokens[3]][5]`` (see :func:`row`);
* :func:`~tinygrad_edu.fused.pick` makes a node whose output is ``values[tokens[4]]``.

Any other use of the value (``if token == bos``, ``table[token]``, ``token + 1``) is a
Python decision like those :func:`~tinygrad_edu.program.trace` freezes: here it is
recorded as a *guard*, a condition on the inputs (``tokens[3] == 26``) that the program
checks on every call. A call whose inputs break a guard gets a program of its own,
traced at those inputs, so a program is never reused where its decisions would differ.
"""

from __future__ import annotations

import operator
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


_active: list[Recording] = []


@contextmanager
def recording() -> Iterator[Recording]:
    """Record guards and row reads of integer inputs for a ``with`` block."""
    found = Recording()
    _active.append(found)
    try:
        yield found
    finally:
        _active.pop()


_plain = int.__int__  # an IntegerInput's value, recording nothing


class IntegerInput(int):
    """An ``int`` that is an input of a compiled call, named as the program reads it.

    It behaves as its value everywhere; a comparison, an index, a hash or arithmetic
    also records the condition that held as a guard (see the module docstring).
    """

    name: str
    _recording: Recording

    def __new__(cls, value: int, name: str, found: Recording) -> IntegerInput:
        self = super().__new__(cls, value)
        self.name, self._recording = name, found
        return self

    def _guard(self, condition: str) -> None:
        self._recording.guards.append(condition)

    def _same_value(self) -> int:
        """Any use that needs the value itself: the program must see this very value."""
        value = _plain(self)
        self._guard(f"{self.name} == {value}")
        return value

    def __index__(self) -> int:
        return self._same_value()

    def __hash__(self) -> int:
        return hash(self._same_value())

    def __bool__(self) -> bool:
        result = _plain(self) != 0
        self._guard(f"{self.name} {'!=' if result else '=='} 0")
        return result

    def __repr__(self) -> str:
        return f"{_plain(self)} (input {self.name})"


def _comparison(symbol: str, compare: Callable[[int, Any], Any]) -> Callable[..., Any]:
    def method(self: IntegerInput, other: Any) -> Any:
        if isinstance(other, IntegerInput):
            other = other._same_value()
        if type(other) is not int:  # a float, a string: ask for the value itself
            return compare(self._same_value(), other)
        result = compare(_plain(self), other)
        self._guard(
            f"{self.name} {symbol} {other}" if result else f"not {self.name} {symbol} {other}"
        )
        return result

    return method


for _symbol, _name in (
    ("==", "eq"),
    ("!=", "ne"),
    ("<", "lt"),
    ("<=", "le"),
    (">", "gt"),
    (">=", "ge"),
):
    setattr(IntegerInput, f"__{_name}__", _comparison(_symbol, getattr(operator, _name)))


def _arithmetic(name: str) -> Callable[..., Any]:
    def method(self: IntegerInput, *others: Any) -> Any:
        return getattr(self._same_value(), name)(*others)

    return method


for _name in (
    "add", "radd", "sub", "rsub", "mul", "rmul", "floordiv", "rfloordiv", "truediv",
    "rtruediv", "mod", "rmod", "pow", "rpow", "neg", "pos", "abs", "int", "float",
    "and", "rand", "or", "ror", "xor", "rxor", "lshift", "rshift", "invert", "divmod",
    "format", "str", "round", "trunc", "floor", "ceil",
):  # fmt: skip
    setattr(IntegerInput, f"__{_name}__", _arithmetic(f"__{_name}__"))


def row(table: Sequence[Sequence[Value]], index: int) -> Sequence[Value]:
    """``table[index]``; while a compiled step traces, by an integer input, stand-ins.

    Each stand-in is a new leaf with the number of ``table[index][j]``, recorded as
    "column ``j`` of the row the input names", so the program reads (and updates the
    gradient of) whichever row the input names on each call. Its label names the table
    as its parameters' labels do (``wte.weight[tokens_3][5]`` for ``wte.weight.3.5``).
    """
    if not (isinstance(index, IntegerInput) and _active and is_tracing()):
        return table[index]
    found, value = _active[-1], _plain(index)
    stand_ins = []
    for j, parameter in enumerate(table[value]):
        label = parameter.label.rsplit(".", 2)[0] if parameter.label.count(".") >= 2 else "row"
        stand_in = Value(parameter.data, f"{label}[{index.name}][{j}]")
        found.rows[stand_in] = (table, index, j)
        stand_ins.append(stand_in)
    return stand_ins
