"""The engine: a scalar ``Value``, the graph it records, and reverse-mode backward.

Every arithmetic operation on a :class:`Value` returns a new Value that remembers

* ``parents``: the Values it was computed from, in order, and
* ``local_grads``: the local derivative ``d out / d parent`` for each parent,
  computed in the forward pass while the numbers are at hand.

``backward()`` then visits the nodes from the output back to the inputs and applies
the chain rule: each node passes ``local_grad * node.grad`` on to each parent.

Operations are declared once in a table (see ``OPS`` below): a name, the forward
computation on floats, and the local derivatives. The derivative functions use plain
arithmetic, so they work on floats (an ordinary backward pass) and on Values (when
:func:`tinygrad_edu.grad` is nested, the derivatives themselves are recorded as a
graph and can be differentiated again). One derivative rule serves every order.
"""

from __future__ import annotations

import inspect
import math
import numbers
import operator
import threading
from collections.abc import Callable, Generator, Sequence
from functools import reduce, wraps
from typing import TYPE_CHECKING, NoReturn, TypeVar, Union

from tinygrad_edu import operators

if TYPE_CHECKING:
    from typing import ParamSpec

    P = ParamSpec("P")

R = TypeVar("R")

__all__ = [
    "Op",
    "Operand",
    "Value",
    "dot",
    "enable_grad",
    "is_grad_enabled",
    "logsumexp",
    "matvec",
    "matvecs",
    "no_grad",
    "softmax_average",
    "softmax_dot",
    "sum_values",
    "topological_order",
    "weighted_sum",
]


# --------------------------------------------------------------------------- grad mode


class _GradMode(threading.local):
    """Whether operations record the graph, for the current thread. ``no_grad`` switches it off.

    Each thread has its own switch, as in PyTorch, so a ``no_grad`` block in one thread
    (evaluating a model, say) never stops another thread's training from recording.
    A new thread starts with recording on (the class attribute).
    """

    enabled = True


_grad_mode = _GradMode()
# How many threads have recording off right now. While it is 0 (nearly always), an
# operation knows it records without looking up its thread's switch, which is slower.
_threads_not_recording = 0
_switch_lock = threading.Lock()


def _set_grad_mode(enabled: bool) -> None:
    """Switch recording for the current thread, keeping the count of threads with it off."""
    global _threads_not_recording
    with _switch_lock:
        if _grad_mode.enabled != enabled:
            _threads_not_recording += -1 if enabled else 1
        _grad_mode.enabled = enabled


def is_grad_enabled() -> bool:
    """True unless the current thread is inside a :func:`no_grad` block."""
    return _grad_mode.enabled


class _GradModeSwitch:
    """Sets graph recording on or off for a ``with`` block or a decorated function."""

    recording: bool

    def __new__(cls, function: Callable[P, R] | None = None) -> _GradModeSwitch | Callable[P, R]:
        """``no_grad()`` makes a switch; ``@no_grad`` and ``@no_grad()`` both decorate."""
        switch = super().__new__(cls)
        if function is None:
            return switch
        if not callable(function):
            raise TypeError(
                f"{cls.__name__}: expected a function to decorate, got {type(function).__name__}"
            )
        return switch(function)

    def __enter__(self) -> None:
        self._previous = _grad_mode.enabled
        _set_grad_mode(self.recording)

    def __exit__(self, *exc_info: object) -> None:
        _set_grad_mode(self._previous)

    def __call__(self, function: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(function):
            return self._wrap_generator(function)

        @wraps(function)
        def switched(*args: P.args, **kwargs: P.kwargs) -> R:
            with type(self)():
                return function(*args, **kwargs)

        return switched

    def _wrap_generator(self, function: Callable[P, Generator]) -> Callable[P, Generator]:
        """A generator function runs a little at every ``next()``: switch for each piece.

        Between two values the caller's own mode is back in force, so a ``no_grad``
        generator never leaves recording off in the code that iterates over it.
        """

        @wraps(function)
        def switched(*args: P.args, **kwargs: P.kwargs) -> Generator:
            generator = function(*args, **kwargs)
            try:
                with type(self)():
                    response = generator.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with type(self)():
                            generator.close()
                        raise
                    except BaseException as error:  # thrown in by the caller: pass it on
                        with type(self)():
                            response = generator.throw(error)
                    else:
                        with type(self)():
                            response = generator.send(request)
            except StopIteration as stop:  # the generator returned: so do we
                return stop.value

        return switched


class no_grad(_GradModeSwitch):  # noqa: N801 - named like the PyTorch context manager
    """Context manager and decorator: operations inside record no graph.

    Results computed inside are leaves (no parents), which saves memory and time
    when only the numbers matter, e.g. evaluating a model or updating weights::

        with no_grad():
            y = w * x      # y.parents == ()

        @no_grad              # or @no_grad()
        def predict(x): ...
    """

    recording = False


class enable_grad(_GradModeSwitch):  # noqa: N801
    """The opposite of :class:`no_grad`: record the graph, even inside a ``no_grad`` block."""

    recording = True


# --------------------------------------------------------------------------- operations


class Op:
    """One operation: its name, its forward rule and its local derivatives.

    ``forward(*operands)`` computes the output from float operands.
    ``derivative(*operands, out)`` returns ``d out / d operand`` for each operand that
    may need a gradient. The operands are floats in an ordinary backward pass and
    Values when nested :func:`grad` needs the derivative as a graph, so derivative
    rules stick to arithmetic and Value methods (``x.exp()``, not ``math.exp(x)``).

    Every built-in operation is an ``Op`` (the table below), and so can yours: an Op
    is callable and makes graph nodes like the built-in ones, which backward(), grad,
    forward mode, gradcheck and the pictures (its name on the node) all understand.

    >>> softplus = Op(
    ...     "softplus",
    ...     lambda x: math.log1p(math.exp(x)),          # log(1 + e**x), on floats
    ...     lambda x, out: (1.0 - math.e ** -out,),     # its slope, sigmoid(x), from out
    ... )
    >>> y = softplus(Value(0.0))
    >>> y.op, round(y.data, 6), round(y.local_grads[0], 12)
    ('softplus', 0.693147, 0.5)

    The derivative above is written with arithmetic only, so it also runs on Values and
    nested :func:`grad` can differentiate it again.
    """

    __slots__ = ("name", "forward", "derivative", "reflected")

    def __init__(
        self,
        name: str,
        forward: Callable[..., float],
        derivative: Callable[..., tuple],
        reflected: bool = False,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Op: name must be a non-empty str, got {name!r}")
        for argument, rule in (("forward", forward), ("derivative", derivative)):
            if not callable(rule):
                raise TypeError(
                    f"Op {name!r}: {argument} must be a function, got {type(rule).__name__}"
                )
        self.name = name
        self.forward = forward
        self.derivative = derivative
        self.reflected = reflected  # the plain number is the left operand: c - x, c / x, c ** x

    def __call__(self, *operands: Operand) -> Value:
        """Apply the operation to Values and plain numbers and return the output Value.

        Plain numbers after the last Value stay constants of the node (as the 3 in
        ``x * 3``); a plain number before a Value becomes a leaf. With only plain
        numbers the result is a leaf. A Value subclass that evaluates operations its
        own way (forward mode's dual numbers) provides ``apply_op(op, operands)``.
        """
        if not operands:
            raise TypeError(f"Op {self.name!r}: give at least one operand")
        last_value = -1
        for i, x in enumerate(operands):
            if isinstance(x, Value):
                apply_op = getattr(x, "apply_op", None)
                if apply_op is not None:
                    return apply_op(self, operands)
                last_value = i
            elif _as_float(x) is None or isinstance(x, bool):
                raise TypeError(
                    f"Op {self.name!r}: operands must be numbers or Values, got {type(x).__name__}"
                )
        parents = tuple(x if isinstance(x, Value) else Value(x) for x in operands[: last_value + 1])
        constants = tuple(_as_float(x, repr(self.name)) for x in operands[last_value + 1 :])
        for c in constants:
            if not _isfinite(c):
                raise ValueError(f"Op {self.name!r}: the plain-number operand {c!r} is not finite")
        numbers_in = [p._data for p in parents] + list(constants)
        out = self.forward(*numbers_in)
        if isinstance(out, bool) or not isinstance(out, numbers.Real) or isinstance(out, Value):
            raise TypeError(
                f"Op {self.name!r}: forward must return a number, got {type(out).__name__}"
            )
        out = float(out)
        # with plain numbers only, the first operand stands for the variable
        local_grads = self.checked_derivative(numbers_in, out, max(len(parents), 1))
        for d in local_grads:
            if isinstance(d, Value):  # numbers in, so a Value out is a slip in the rule
                raise TypeError(
                    f"Op {self.name!r}: derivative returned a Value for plain-number operands; "
                    "it must return numbers here (it gets Values only when nested grad "
                    "differentiates it, and then Value arithmetic follows by itself)"
                )
        if not parents:
            if not _isfinite(out):
                _refuse_non_finite(self, (), tuple(numbers_in), out)
            return Value(out)
        return _node(out, self, parents, local_grads, constants)

    def checked_derivative(self, operands: Sequence[object], out: object, n_parents: int) -> tuple:
        """``derivative(*operands, out)``, checked: one number (or Value) per operand.

        A rule may leave out trailing operands that are plain numbers (the constants),
        so it must give at least ``n_parents`` local derivatives and at most one per
        operand. Returns the first ``n_parents`` of them. Any other answer is an error
        naming the op, so a slip in a rule of your own fails where it is.
        """
        result = self.derivative(*operands, out)
        if not isinstance(result, (tuple, list)):
            raise TypeError(
                f"Op {self.name!r}: derivative must return a tuple of local derivatives, "
                f"one per operand, got {type(result).__name__}"
            )
        if not n_parents <= len(result) <= len(operands):
            raise ValueError(
                f"Op {self.name!r}: derivative returned {len(result)} local derivatives "
                f"for {len(operands)} operand(s); it must return one per operand"
            )
        for d in result[:n_parents]:
            if isinstance(d, bool) or not isinstance(d, (numbers.Real, Value)):
                raise TypeError(
                    f"Op {self.name!r}: a local derivative must be a number or a Value, "
                    f"got {type(d).__name__}"
                )
        return tuple(result[:n_parents])

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __reduce_ex__(self, protocol: object) -> object:
        """Built-in ops pickle by their name in this module, so a pickled graph stays small
        and its ops stay the very same objects. Other ops pickle the usual way (their rules
        must then be module-level functions, as for any pickled function)."""
        key = _builtin_op_keys().get(self)
        if key is None:
            return object.__reduce_ex__(self, protocol)
        return (_builtin_op, (key,))


def _builtin_op_keys() -> dict[Op, str]:
    """Every Op defined in this module, keyed by its variable name (``MUL``, ``TANH``...)."""
    return {op: key for key, op in globals().items() if isinstance(op, Op)}


def _builtin_op(key: str) -> Op:
    """The built-in Op named ``key``: how a pickled op is found again."""
    op = globals().get(key)
    if not isinstance(op, Op):
        raise ValueError(f"unpickling: no built-in operation named {key!r}")
    return op


def _number(x: float | Value) -> float:
    """The number inside ``x``, whether it is a float or a Value (derivative rules get both)."""
    return x._data if isinstance(x, Value) else x


def _cos(x: float | Value) -> float | Value:
    return x.cos() if isinstance(x, Value) else math.cos(x)


def _sin(x: float | Value) -> float | Value:
    return x.sin() if isinstance(x, Value) else math.sin(x)


def _log(x: float | Value) -> float | Value:
    return x.log() if isinstance(x, Value) else math.log(x)


def _sign(x: float | Value) -> float:
    x = _number(x)
    return 0.0 if x == 0.0 else math.copysign(1.0, x)


def _slope_power(x: float | Value, e: float | Value) -> float | Value:
    """``x ** e`` inside a derivative: a slope too steep for a float is ±inf, not an error.

    ``Value(1e-200) ** -1`` is the finite 1e200, but its slope ``-x**-2`` is beyond
    float64; like ``1 / x`` (whose slope ``-1/x**2`` Python's division makes ``-inf``)
    that is an infinite slope, and the result itself is still a result.
    """
    try:
        return x**e
    except OverflowError:
        if isinstance(x, Value) or isinstance(e, Value):
            raise  # a Value cannot hold inf: a nested derivative this steep is refused
        odd_power_of_negative = x < 0.0 and e % 2.0 == 1.0
        return -math.inf if odd_power_of_negative else math.inf


def _power_derivative(x: float | Value, y: float | Value, out: float | Value) -> tuple:
    """d(x**y)/dx = y * x**(y-1);  d(x**y)/dy = x**y * log(x)  (0 where x == 0).

    At ``x == 0`` (where ``y >= 0``) the slope in ``x`` is 0 for ``y == 0`` (a constant 1),
    ``+inf`` for ``0 < y < 1``, and otherwise ``y * x**(y-1)`` written as arithmetic, so
    that nested :func:`grad` can differentiate it again (``x**2`` at 0 has second
    derivative 2). The slope in ``y`` there is 0, the limit of ``x**y log(x)``.
    """
    if _number(x) == 0.0:
        exponent = _number(y)
        if exponent == 0.0:
            return (0.0, 0.0)
        if exponent < 1.0:
            return (math.inf, 0.0)
        return (y * x ** (y - 1.0), 0.0)
    return (y * _slope_power(x, y - 1.0), out * _log(x))


def _power_const_derivative(x: float | Value, c: float, out: float | Value) -> tuple:
    """d(x**c)/dx = c * x**(c-1): 0 when c == 0, +inf at x == 0 when 0 < c < 1."""
    if c == 0.0:
        return (0.0,)
    if c < 1.0 and _number(x) == 0.0:
        return (math.inf,)
    return (c * _slope_power(x, c - 1.0),)


def _sqrt_derivative(x: float | Value, out: float | Value) -> tuple:
    """d sqrt(x)/dx = 1 / (2 sqrt(x)), +inf at x == 0 as in PyTorch."""
    return (0.5 / out if _number(out) != 0.0 else math.inf,)


def _exponential_derivative(x: float | Value, base: float, out: float | Value) -> tuple:
    """d(c**x)/dx = c**x * log(c); 0 for c == 0, where c**x is flat (0 or 1)."""
    return (out * math.log(base) if base > 0.0 else 0.0,)


def _checked_base_power(x: float, y: float) -> float:
    """x ** y when the exponent is a Value: its derivative needs log(x), so x >= 0."""
    if x < 0.0:
        raise ValueError(
            f"power: a negative base ({x!r}) to a Value exponent has no real derivative "
            "with respect to the exponent; use a plain-number exponent"
        )
    return operators.power(x, y)


#   name          forward on floats                   local derivatives, given the operands and out
ADD = Op("+", operator.add, lambda x, y, out: (1.0, 1.0))
SUB = Op("-", operator.sub, lambda x, y, out: (1.0, -1.0))
RSUB = Op("-", lambda x, c: c - x, lambda x, c, out: (-1.0,), reflected=True)
MUL = Op("*", operator.mul, lambda x, y, out: (y, x))
DIV = Op("/", operators.divide, lambda x, y, out: (1.0 / y, -out / y))
RDIV = Op("/", lambda x, c: operators.divide(c, x), lambda x, c, out: (-out / x,), reflected=True)
POW = Op("**", _checked_base_power, _power_derivative)
POW_CONST = Op("**", operators.power, _power_const_derivative)
RPOW = Op("**", lambda x, c: _checked_base_power(c, x), _exponential_derivative, reflected=True)
NEG = Op("neg", operator.neg, lambda x, out: (-1.0,))
ABS = Op("abs", abs, lambda x, out: (_sign(x),))
EXP = Op("exp", operators.exp, lambda x, out: (out,))
LOG = Op("log", operators.log, lambda x, out: (1.0 / x,))
SQRT = Op("sqrt", operators.sqrt, _sqrt_derivative)
TANH = Op("tanh", math.tanh, lambda x, out: (1.0 - out * out,))
SIGMOID = Op("sigmoid", operators.sigmoid, lambda x, out: (out * (1.0 - out),))
RELU = Op("relu", operators.relu, lambda x, out: (1.0 if x > 0.0 else 0.0,))
LEAKY_RELU = Op(
    "leaky_relu", operators.leaky_relu, lambda x, slope, out: (1.0 if x > 0.0 else slope,)
)
SIN = Op("sin", math.sin, lambda x, out: (_cos(x),))
COS = Op("cos", math.cos, lambda x, out: (-_sin(x),))

OPS: tuple[Op, ...] = (
    ADD, SUB, RSUB, MUL, DIV, RDIV, POW, POW_CONST, RPOW,
    NEG, ABS, EXP, LOG, SQRT, TANH, SIGMOID, RELU, LEAKY_RELU, SIN, COS,
)  # fmt: skip


def _as_float(x: object, owner: str = "Value") -> float | None:
    """A plain real number as a float, or None for anything else.

    A number beyond float64 (``10**400``, a huge ``Fraction``) is an OverflowError
    naming ``owner``, the operation that was given it.
    """
    if type(x) is float:
        return x  # type: ignore[return-value]
    if isinstance(x, numbers.Real) and not isinstance(x, Value):
        try:
            return float(x)
        except OverflowError:
            raise OverflowError(
                f"{owner}: the number {_short(x)} is too large for a float64"
            ) from None
    return None


def _short(x: object) -> str:
    """``repr(x)``, cut short for numbers with hundreds of digits."""
    text = repr(x)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]} ({len(text)} characters)"


# --------------------------------------------------------------------------- building nodes

Operand = Union["Value", float, int]


def _node(
    data: float,
    op: Op,
    parents: tuple[Value, ...],
    local_grads: tuple,
    constants: tuple[float, ...] = (),
) -> Value:
    """The output node of ``op``: it remembers its parents and local derivatives.

    Inside ``no_grad`` it is a plain leaf instead. Built with ``object.__new__`` and
    direct slot assignment, skipping ``Value.__init__``'s checks: the data is a float
    computed by a kernel, so it only needs to be finite. A Value always holds a finite
    number, so an ``inf`` or ``nan`` is stopped at the operation that made it.
    """
    if not _isfinite(data):
        _refuse_non_finite(op, parents, constants, data)
    node = _new_value(Value)
    node._data = data
    node.grad = 0.0
    node.label = ""
    node._visit = None
    if not _threads_not_recording or _grad_mode.enabled:
        node.op = op.name
        node.parents = parents
        node.local_grads = local_grads
        node.constants = constants
        node._op = op
    else:
        node.op = ""
        node.parents = node.local_grads = node.constants = ()
        node._op = None
    return node


_new_value = object.__new__
_isfinite = math.isfinite


def _refuse_non_finite(
    op: Op, parents: tuple[Value, ...], constants: tuple[float, ...], out: float
) -> NoReturn:
    """Raise the error that says why ``op`` gave ``out`` (inf or nan) instead of a number."""
    operands = [p._data for p in parents] + list(constants)
    shown = ", ".join(repr(x) for x in operands[:6]) + (", ..." if len(operands) > 6 else "")
    if all(_isfinite(x) for x in operands):
        if out != out:  # nan: not too large, but no number at all (inf - inf in a rule, say)
            raise ValueError(f"{op.name!r} of ({shown}) gives nan, which is not a number")
        raise OverflowError(f"{op.name!r} of ({shown}) overflows float64 (gives {out!r})")
    raise ValueError(
        f"{op.name!r} of ({shown}): an operand is not a finite number, and a Value must hold one"
    )


def _unary_method(op: Op, doc: str) -> Callable[[Value], Value]:
    """A method computing ``op(self)``, with its local derivative, as a new node."""
    forward, derivative = op.forward, op.derivative

    def method(self: Value) -> Value:
        if type(self) is not Value and hasattr(self, "apply_op"):  # a dual number, say
            return self.apply_op(op, (self,))
        x = self._data
        out = forward(x)
        return _node(out, op, (self,), derivative(x, out))

    method.__doc__ = doc
    return method


def _binary_method(op: Op, doc: str) -> Callable[[Value, Operand], Value]:
    """A method computing ``op(self, other)`` for a Value or a plain-number ``other``.

    A plain number stays a constant of the node (in ``constants``), not a graph node.
    Anything else returns ``NotImplemented``, so Python raises its usual TypeError.
    """
    forward, derivative = op.forward, op.derivative

    def method(self: Value, other: Operand) -> Value:
        if type(self) is not Value and hasattr(self, "apply_op"):  # a dual number, say
            return self.apply_op(op, (self, other))
        x = self._data
        if isinstance(other, Value):
            y = other._data
            out = forward(x, y)
            return _node(out, op, (self, other), derivative(x, y, out))
        c = other if type(other) is float else _as_float(other, repr(op.name))
        if c is None:
            return NotImplemented
        if not _isfinite(c):  # checked here: a result such as 2 / inf would look fine
            raise ValueError(f"{op.name!r}: the plain-number operand {c!r} is not finite")
        out = forward(x, c)
        # the rule also returns the slope in c; a constant needs none, so keep one per parent
        return _node(out, op, (self,), derivative(x, c, out)[:1], (c,))

    method.__doc__ = doc
    return method


# --------------------------------------------------------------------------- the Value


class Value:
    """A scalar in a computation graph.

    >>> x = Value(3.0, label="x")
    >>> y = x * x + 2 * x        # y = x^2 + 2x
    >>> y.backward()
    >>> x.grad                   # dy/dx = 2x + 2
    8.0

    Attributes:
        data: the number, always a finite float. You may assign to it, as optimizers do;
            anything but a finite real number is refused and the old number kept.
        grad: d root / d self after ``root.backward()``.
        label: a name used when printing and drawing.
        op: the operation that produced this Value, ``""`` for a leaf.
        parents: the Values this one was computed from, in order.
        local_grads: ``d self / d parent`` for each parent, in the same order.
        constants: the plain-number operands of ``op`` (e.g. the 3 in ``x * 3``),
            which are not graph nodes.
    """

    # ``_data`` holds the number; ``data`` (below) is the checked way in for users.
    __slots__ = (
        "_data",
        "grad",
        "label",
        "op",
        "parents",
        "local_grads",
        "constants",
        "_op",
        "_visit",
    )

    def __init__(self, data: float, label: str = "") -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value: label must be a str, got {type(label).__name__}")
        self._data = _checked_number(data, "Value")
        if type(self) is not Value and hasattr(self, "apply_op"):
            _note_values_with_own_rules()
        self.grad = 0.0
        self.label = label
        self.op = ""
        self.parents: tuple[Value, ...] = ()
        self.local_grads: tuple = ()
        self.constants: tuple[float, ...] = ()
        self._op: Op | None = None
        self._visit: object = None  # the mark of the last graph walk that reached it

    # ----------------------------------------------------------------- arithmetic
    # Each operator is made from its row of the table above by _binary_method or
    # _unary_method, which build the output node the same way for every op.

    __add__ = __radd__ = _binary_method(ADD, "x + y.  d/dx = 1, d/dy = 1.")
    __sub__ = _binary_method(SUB, "x - y.  d/dx = 1, d/dy = -1.")
    __rsub__ = _binary_method(RSUB, "c - x.  d/dx = -1.")
    __mul__ = __rmul__ = _binary_method(MUL, "x * y.  d/dx = y, d/dy = x.")
    __truediv__ = _binary_method(
        DIV, "x / y.  d/dx = 1/y, d/dy = -x/y**2.  Raises ZeroDivisionError if y == 0."
    )
    __rtruediv__ = _binary_method(
        RDIV, "c / x.  d/dx = -c/x**2.  Raises ZeroDivisionError if x == 0."
    )
    _power_of_value = _binary_method(POW, "x ** y for a Value y.")
    _power_of_number = _binary_method(POW_CONST, "x ** c for a plain number c.")
    __rpow__ = _binary_method(RPOW, "c ** x.  d/dx = c**x * log(c).  The base must be >= 0.")
    __neg__ = _unary_method(NEG, "-x.  d/dx = -1.")
    __abs__ = _unary_method(ABS, "|x|.  d/dx = sign(x), taken as 0 at x == 0 (as PyTorch does).")

    def __pow__(self, exponent: Operand) -> Value:
        """x ** y.  d/dx = y * x**(y-1); if y is a Value, d/dy = x**y * log(x).

        Raises ZeroDivisionError for ``0 ** negative`` and ValueError for a negative
        base to a non-integer power (or to any Value exponent, whose derivative
        would need the log of a negative number).
        """
        if isinstance(exponent, Value):
            return self._power_of_value(exponent)
        return self._power_of_number(exponent)

    # ----------------------------------------------------------------- functions

    exp = _unary_method(EXP, "e**x.  d/dx = e**x.  Raises OverflowError above about 709.78.")
    log = _unary_method(LOG, "Natural log.  d/dx = 1/x.  Raises ValueError for x <= 0.")
    sqrt = _unary_method(SQRT, "Square root.  d/dx = 1 / (2 sqrt(x)).  ValueError for x < 0.")
    tanh = _unary_method(TANH, "Hyperbolic tangent.  d/dx = 1 - tanh(x)**2.")
    sigmoid = _unary_method(
        SIGMOID, "Logistic sigmoid 1/(1+e**-x), stable for any x.  d/dx = s(x)(1 - s(x))."
    )
    relu = _unary_method(RELU, "max(0, x).  d/dx = 1 for x > 0, else 0.")
    sin = _unary_method(SIN, "Sine.  d/dx = cos(x).")
    cos = _unary_method(COS, "Cosine.  d/dx = -sin(x).")
    _leaky_relu = _binary_method(LEAKY_RELU, "leaky_relu with a checked slope.")

    def leaky_relu(self, slope: float = 0.01) -> Value:
        """x for x > 0, else slope * x.  d/dx = 1 for x > 0, else slope."""
        c = _as_float(slope)
        if c is None:
            raise TypeError(f"leaky_relu: slope must be a real number, got {type(slope).__name__}")
        return self._leaky_relu(c)

    # ----------------------------------------------------------------- backward

    def backward(self) -> None:
        """Fill in ``.grad`` = d self / d node for every node of the graph below self.

        Nodes are visited in reverse topological order (a node only after every node
        that uses it, as in :func:`topological_order`), so each node's gradient is
        complete before it is passed on::

            parent.grad += local_grad * node.grad     # the chain rule

        A zero passes nothing on: neither an edge whose local derivative is exactly 0
        nor a node whose gradient is exactly 0 (a ``relu`` that was off, and everything
        only it used). So an infinite slope next to a flat op gives 0, not
        ``0 * inf = nan``: ``relu(-1).sqrt()`` and ``0 * sqrt(0)`` both give 0, as a
        function that is flat there should. Skipping those nodes is also faster.

        Leaves (Values with no parents, such as weights) *accumulate*: this call's
        gradient is added to what ``.grad`` held, so calling ``backward()`` twice
        doubles it exactly, as in PyTorch, which is why training loops call
        ``zero_grad()``. Every other node's ``.grad`` is reset on each call, so after
        it a drawn graph shows the true d self / d node.
        """
        earlier = [(self, self.grad)] if not self.parents and self.grad else []
        order = _depth_first(self, earlier)  # inner nodes only, parents before users
        self.grad = 1.0
        for node in reversed(order):  # every user of a node comes before it
            grad = node.grad
            if grad == 0.0:  # nothing reached it: it has nothing to pass on
                continue
            if grad - grad == 0.0:  # finite: a zero slope adds exactly 0, no need to check
                parents, local_grads = node.parents, node.local_grads
                for i in range(len(parents)):  # (indexing two tuples beats zip in CPython)
                    parents[i].grad += local_grads[i] * grad
                continue
            for parent, local_grad in zip(node.parents, node.local_grads):
                if local_grad != 0.0:  # a zero slope passes nothing on, even to 0 * inf
                    parent.grad += local_grad * grad
        for leaf, grad in earlier:  # leaves accumulate: add this call's total to the old one
            leaf.grad = grad + leaf.grad

    @property
    def operation(self) -> Op | None:
        """The :class:`Op` that made this node (its name, forward and derivative rules).

        ``None`` for a leaf. ``operation.reflected`` says the plain number was the left
        operand, as in ``2 - x``.
        """
        return self._op

    def detach(self) -> Value:
        """A new leaf with the same data (and label), cut off from the graph."""
        return Value(self._data, self.label)

    def topological_order(self) -> list[Value]:
        """This Value's graph, inputs first and self last; see :func:`topological_order`."""
        return topological_order(self)

    # ----------------------------------------------------------------- the number

    def _set_data(self, number: float) -> None:
        if type(number) is float and _isfinite(number):  # the optimizers' everyday case
            self._data = number
        else:
            self._data = _checked_number(number, f"Value {self.label!r}" if self.label else "Value")

    data = property(
        operator.attrgetter("_data"),
        _set_data,
        doc="The number: a finite float. Assigning anything else raises and keeps the old one.",
    )

    def item(self) -> float:
        """The number as a plain float, the way ``tensor.item()`` gives it in PyTorch.

        The float is not part of the graph: gradients do not flow through it.
        """
        return self._data

    # ----------------------------------------------------------------- comparisons
    # ``<``, ``<=``, ``>``, ``>=`` compare the numbers and give a plain bool, so
    # ``if loss < 0.01:``, ``max(a, b)`` and ``sorted(values)`` work as with floats, and
    # ``max(a, b)`` returns one of the two Values, through which the gradient flows.
    # ``==`` and ``hash`` stay by identity: every backward pass keeps Values as
    # dictionary keys, and two different nodes that happen to hold the same number
    # must stay two keys. So ``Value(2.0) == 2.0`` is False; compare ``v.data``.

    def __lt__(self, other: Operand) -> bool:
        return self._data < _comparable(other)

    def __le__(self, other: Operand) -> bool:
        return self._data <= _comparable(other)

    def __gt__(self, other: Operand) -> bool:
        return self._data > _comparable(other)

    def __ge__(self, other: Operand) -> bool:
        return self._data >= _comparable(other)

    def __bool__(self) -> bool:
        """True when the number is not 0, as for a float."""
        return self._data != 0.0

    # ----------------------------------------------------------------- conversions

    def __float__(self) -> NoReturn:
        """Refused: ``float(v)`` (and ``math.exp(v)``, which calls it) would leave the graph."""
        raise TypeError(_leaves_the_graph("float()"))

    def __complex__(self) -> NoReturn:
        raise TypeError(_leaves_the_graph("complex()"))

    def __array_ufunc__(
        self, ufunc: Callable, method: str, *inputs: object, **kwargs: object
    ) -> Value | bool:
        """NumPy scalars meet Values: arithmetic and comparisons use our own operators,
        so ``np.float64(2) * Value(3)`` is a Value; any other NumPy function (``np.exp``)
        would drop the gradient, so it is refused."""
        methods = _NUMPY_OPERATORS.get(getattr(ufunc, "__name__", ""))
        if methods is None or method != "__call__" or kwargs or len(inputs) != 2:
            raise TypeError(_leaves_the_graph(f"numpy.{getattr(ufunc, '__name__', ufunc)}()"))
        left, right = (x if isinstance(x, Value) else x.item() for x in inputs)  # NumPy scalars
        if isinstance(left, Value):
            return getattr(left, methods[0])(right)
        return getattr(right, methods[1])(left)

    def __format__(self, spec: str) -> str:
        """``f"{loss:.3f}"`` formats the number; ``f"{v}"`` is ``str(v)``."""
        return format(self._data, spec) if spec else str(self)

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self._data!r}, grad={self.grad!r}{label})"

    # ----------------------------------------------------------------- pickling

    def __reduce_ex__(self, protocol: object) -> object:
        """A Value with a graph pickles as a flat list of its nodes, not as nested objects.

        The default would recurse once per level of the graph and fail on deep ones.
        Leaves (weights, inputs) are pickled as themselves, so a model's parameters and a
        loss computed from them are still connected after ``pickle.loads``; the nodes
        between them are rebuilt from the list. ``copy.deepcopy`` uses the same path.
        """
        if not self.parents:
            return (_leaf, (self._data, self.grad, self.label))
        order = topological_order(self)
        index = {node: i for i, node in enumerate(order)}
        records = [
            node
            if not node.parents
            else (
                node._data,
                node.grad,
                node.label,
                node._op,
                tuple(index[p] for p in node.parents),
                node.local_grads,
                node.constants,
            )
            for node in order
        ]
        return (_rebuild_graph, (records,))


def _checked_number(number: object, owner: str) -> float:
    """``number`` as a float if it is a finite real number, else the error that says why."""
    if isinstance(number, (bool, Value)) or not isinstance(number, numbers.Real):
        hint = " (use v.data to copy a Value's number)" if isinstance(number, Value) else ""
        raise TypeError(
            f"{owner}: data must be a real number (int, float or NumPy scalar), "
            f"got {type(number).__name__} {_short(number)}{hint}"
        )
    data = _as_float(number, owner)
    if not _isfinite(data):
        raise ValueError(f"{owner}: data is {data!r}; a Value must hold a finite real number")
    return data


def _comparable(other: object) -> float:
    """The number to compare a Value with; anything else is a TypeError, as for floats."""
    if isinstance(other, Value):
        return other._data
    number = _as_float(other, "comparison")
    if number is None:
        raise TypeError(f"cannot compare a Value with {type(other).__name__}")
    return number


def _leaves_the_graph(what: str) -> str:
    return (
        f"{what} of a Value would take its number out of the graph, so no gradient would "
        "flow back through it. Use the Value's own method to stay in the graph (v.exp(), "
        "v.log(), v.sqrt(), v.tanh(), v.sin(), ...), or v.data / v.item() for the number."
    )


# ufunc name -> (the method when the Value is the left operand, when it is the right one)
_NUMPY_OPERATORS = {
    "add": ("__add__", "__radd__"),
    "subtract": ("__sub__", "__rsub__"),
    "multiply": ("__mul__", "__rmul__"),
    "true_divide": ("__truediv__", "__rtruediv__"),
    "divide": ("__truediv__", "__rtruediv__"),
    "power": ("__pow__", "__rpow__"),
    "less": ("__lt__", "__gt__"),
    "less_equal": ("__le__", "__ge__"),
    "greater": ("__gt__", "__lt__"),
    "greater_equal": ("__ge__", "__le__"),
}


def _leaf(data: float, grad: float, label: str) -> Value:
    """Unpickle a leaf."""
    leaf = Value(data, label)
    leaf.grad = grad
    return leaf


def _rebuild_graph(records: list) -> Value:
    """Unpickle a graph from :meth:`Value.__reduce_ex__`'s flat list; returns its root."""
    nodes: list[Value] = []
    for record in records:
        if isinstance(record, Value):
            nodes.append(record)
            continue
        data, grad, label, op, parent_indices, local_grads, constants = record
        node = _new_value(Value)
        node._data, node.grad, node.label = data, grad, label
        node.op, node._op = op.name, op
        node.parents = tuple(nodes[i] for i in parent_indices)
        node.local_grads, node.constants = local_grads, constants
        node._visit = None
        nodes.append(node)
    return nodes[-1]


def _name_the_methods(cls: type) -> None:
    """Give the factory-made methods the names help(), tracebacks and pickle expect.

    Pickle finds a function by its qualified name, so ``Value.relu`` (kept by a Neuron as
    its activation) must be called that, not ``_unary_method.<locals>.method``.
    """
    for name, method in vars(cls).items():
        if callable(method) and "<locals>" in getattr(method, "__qualname__", ""):
            method.__name__ = name
            method.__qualname__ = f"{cls.__name__}.{name}"


_name_the_methods(Value)


def topological_order(root: Value) -> list[Value]:
    """Every node of ``root``'s graph, ordered so that each node comes after its parents.

    Leaves come first and ``root`` last; ``reversed()`` of it is the order backward
    visits nodes. A depth-first walk without recursion, so a chain of a million nodes
    is fine: a node is placed once all of its parents are. Parents are visited in
    order, so the result is the same in every run.
    """
    if not isinstance(root, Value):
        raise TypeError(f"topological_order: root must be a Value, got {type(root).__name__}")
    return _depth_first(root)


_one_walk_at_a_time = threading.Lock()


def _depth_first(
    root: Value, earlier_leaf_grads: list[tuple[Value, float]] | None = None
) -> list[Value]:
    """``root``'s graph in depth-first post-order: each node after all of its parents.

    The stack holds the path from ``root`` down to the node being explored, each with
    an iterator over its parents, so a node's remaining parents are picked up where
    they were left. A visited node carries this walk's own mark in ``_visit``: each
    edge costs one attribute read, cheaper than looking the node up in a set, which is
    what makes ``backward()`` linear and cheap. (Walks take turns, so two threads'
    marks on shared nodes never mix.)

    Given the list ``earlier_leaf_grads`` it prepares a backward pass instead: leaves
    are left out of the order, every node's gradient is set to 0, and each leaf's
    nonzero gradient is first saved in the list as ``(leaf, grad)``, so the pass can
    sum its own contributions and add the total at the end.
    """
    backward = earlier_leaf_grads is not None
    order = []
    walk = object()  # this walk's mark: a node carrying it has been visited
    path = [root]  # from root down to the node being explored,
    unexplored = [iter(root.parents)]  # and for each of them, the parents still to visit
    with _one_walk_at_a_time:
        root._visit = walk
        while unexplored:
            for parent in unexplored[-1]:
                if parent._visit is walk:
                    continue
                parent._visit = walk
                if parent.parents:  # explore it before coming back to the other parents
                    path.append(parent)
                    unexplored.append(iter(parent.parents))
                    break
                if not backward:  # a leaf has no parents: it is placed at once
                    order.append(parent)
                else:
                    if parent.grad:
                        earlier_leaf_grads.append((parent, parent.grad))
                    parent.grad = 0.0
            else:  # all of this node's parents are placed
                unexplored.pop()
                node = path.pop()
                if backward:
                    if not node.parents:
                        continue  # root itself is a leaf
                    node.grad = 0.0
                order.append(node)
    return order


# --------------------------------------------------------------------------- fused weighted sum


def _weighted_sum_forward(*operands: float) -> float:
    """Operands are w_1..w_n, b, x_1..x_n: returns b + w_1 x_1 + ... + w_n x_n, in that order."""
    n = (len(operands) - 1) // 2
    out = operands[n]
    for w, x in zip(operands[:n], operands[n + 1 :]):
        out += w * x
    return out


def _weighted_sum_derivative(*operands_and_out: float | Value) -> tuple:
    """Operands are w_1..w_n, b, x_1..x_n (then out): d/dw_i = x_i, d/db = 1, d/dx_i = w_i."""
    n = (len(operands_and_out) - 2) // 2
    weights, inputs = operands_and_out[:n], operands_and_out[n + 1 : 2 * n + 1]
    return (*inputs, 1.0, *weights)


WEIGHTED_SUM = Op("w·x+b", _weighted_sum_forward, _weighted_sum_derivative)


def weighted_sum(weights: Sequence[Value], inputs: Sequence[Operand], bias: Value) -> Value:
    """``b + w_1 x_1 + ... + w_n x_n`` as one graph node: a neuron's pre-activation.

    The result is bit-for-bit the same as ``sum((w * x for w, x in zip(weights,
    inputs)), bias)`` (the additions happen in the same order) and so are the
    gradients, but it is one node instead of ``2n``, so a network's graph is two to
    three times smaller and faster to differentiate. Its parents are the weights and
    the bias, then the inputs if they are Values (``2n + 1`` in all).

    Plain-number inputs (a data point) stay constants, not graph nodes; if the
    inputs mix numbers and Values, the numbers become leaves.
    """
    if len(weights) != len(inputs):
        raise ValueError(
            f"weighted_sum: {len(weights)} weights but {len(inputs)} inputs; they must match"
        )
    parents = (*weights, bias)
    subclass = False  # a Value subclass (forward mode's dual number) applies the op its own way
    for p in parents:
        if type(p) is not Value:
            if not isinstance(p, Value):
                raise TypeError(
                    f"weighted_sum: weights and bias must be Values, got {type(p).__name__}"
                )
            subclass = True
    input_types = set(map(type, inputs))  # one pass in C: what kinds of inputs are these?
    if input_types == {Value}:  # outputs of a previous layer (the usual case): parents too
        constants = ()
        parents += tuple(inputs)
    elif not any(issubclass(kind, Value) for kind in input_types):  # a data point
        constants = tuple(_as_float(x, "weighted_sum") for x in inputs)  # stay constants
        if None in constants:
            bad = next(x for x, c in zip(inputs, constants) if c is None)
            raise TypeError(
                f"weighted_sum: inputs must be numbers or Values, got {type(bad).__name__}"
            )
    else:  # Values mixed with plain numbers (lifted to leaves), or a Value subclass
        constants = ()
        subclass = subclass or any(issubclass(kind, Value) for kind in input_types - {Value})
        parents += tuple(x if isinstance(x, Value) else Value(x) for x in inputs)
    operands = [p._data for p in parents]
    operands += constants
    if subclass:
        return WEIGHTED_SUM(*parents, *constants)
    out = _weighted_sum_forward(*operands)
    local_grads = _weighted_sum_derivative(*operands, out)[: len(parents)]  # none for constants
    return _node(out, WEIGHTED_SUM, parents, local_grads, constants)


# --------------------------------------------------------------------------- fused dot and sum


def _sum_of_products(a: Sequence, b: Sequence) -> float | Value:
    """``a[0] * b[0] + a[1] * b[1] + ... + a[n-1] * b[n-1]``, added left to right.

    Floats in the forward pass, Values when a derivative rule is itself differentiated.
    An indexed loop: in CPython it is the quickest exact way to add up products (``map``
    with ``operator.mul`` costs a function call per product, and ``sum()`` of floats
    is not plain left-to-right addition from Python 3.12 on).
    """
    out = a[0] * b[0]
    for i in range(1, len(a)):
        out += a[i] * b[i]
    return out


def _dot_forward(*operands: float) -> float:
    """Operands are a_1..a_n, b_1..b_n: returns a_1 b_1 + a_2 b_2 + ... + a_n b_n, in that order."""
    n = len(operands) // 2
    return _sum_of_products(operands[:n], operands[n:])


def _dot_derivative(*operands_and_out: float | Value) -> tuple:
    """Operands are a_1..a_n, b_1..b_n (then out): d/da_i = b_i, d/db_i = a_i."""
    n = (len(operands_and_out) - 1) // 2
    return (*operands_and_out[n : 2 * n], *operands_and_out[:n])


def _sum_forward(*operands: float) -> float:
    """x_1 + x_2 + ... + x_n, added left to right."""
    return reduce(operator.add, operands)


def _sum_derivative(*operands_and_out: float | Value) -> tuple:
    """d/dx_i = 1 for every operand."""
    return (1.0,) * (len(operands_and_out) - 1)


DOT = Op("a·b", _dot_forward, _dot_derivative)
SUM = Op("sum", _sum_forward, _sum_derivative)


def _exp(x: float | Value) -> float | Value:
    return x.exp() if isinstance(x, Value) else math.exp(x)


def _logsumexp_forward(*operands: float) -> float:
    """``log(e^x_1 + ... + e^x_n)``, as ``m + log(sum_i e^(x_i - m))`` with ``m`` the largest.

    Subtracting ``m`` first means no ``e^x`` can overflow and the largest term is 1, so
    the sum is at least 1 and its log never meets 0 (the stable way).
    """
    top = max(operands)
    return math.log(reduce(operator.add, [math.exp(x - top) for x in operands])) + top


def _logsumexp_derivative(*operands_and_out: float | Value) -> tuple:
    """d/dx_i = e^(x_i - out): the softmax of the operands."""
    out = operands_and_out[-1]
    return tuple(_exp(x - out) for x in operands_and_out[:-1])


def _softmax(scores: Sequence[float | Value], scale: float, exp: Callable = _exp) -> list:
    """``softmax(scale * scores)``, the largest score subtracted first (floats or Values)."""
    top = max(map(_number, scores))
    exps = [exp((s - top) * scale) for s in scores]
    total = reduce(operator.add, exps)
    return [e / total for e in exps]


def _average_slopes(weights: Sequence, values: Sequence, scale: float, out: object) -> tuple:
    """d out / d s_i = scale * w_i * (v_i - out), then d out / d v_i = w_i."""
    return (*(scale * w * (v - out) for w, v in zip(weights, values)), *weights)


def _softmax_dot_forward(*operands: float) -> float:
    """Operands are s_1..s_n, v_1..v_n, scale: returns sum_i softmax(scale * s)_i v_i."""
    n = (len(operands) - 1) // 2
    return _sum_of_products(_softmax(operands[:n], operands[-1]), operands[n : 2 * n])


def _softmax_dot_derivative(*operands_and_out: float | Value) -> tuple:
    """With w = softmax(scale * s): d/ds_i = scale * w_i * (v_i - out) and d/dv_i = w_i."""
    n = (len(operands_and_out) - 2) // 2
    scores, values = operands_and_out[:n], operands_and_out[n : 2 * n]
    scale, out = operands_and_out[2 * n], operands_and_out[-1]
    return _average_slopes(_softmax(scores, _number(scale)), values, scale, out)


LOGSUMEXP = Op("logsumexp", _logsumexp_forward, _logsumexp_derivative)
SOFTMAX_DOT = Op("softmax·v", _softmax_dot_forward, _softmax_dot_derivative)


_values_with_own_rules = False


def _note_values_with_own_rules() -> None:
    """Called when a Value that applies operations its own way (``apply_op``) is made.

    Forward mode's dual numbers are such Values (``jvp`` calls this), and so is an
    instance of any subclass with ``apply_op``. Until then every operand of the fused
    helpers (:func:`dot`, :func:`matvec`, :func:`sum_values`) is a plain Value, and
    reading the numbers is the only check they need; from then on they hand their
    operands to the Op (``DOT(*a, *b)``), which lets such a Value apply it.
    """
    global _values_with_own_rules
    _values_with_own_rules = True


def _data_of_values(owner: str, values: Sequence[Value]) -> tuple[float, ...]:
    """The numbers of ``values``; TypeError naming ``owner`` if one is not a Value.

    Only a Value has ``_data``, so reading it is also the check (a separate
    ``isinstance`` pass would cost twice as much as the reading).
    """
    try:
        return tuple([v._data for v in values])
    except AttributeError:
        bad = next(v for v in values if not isinstance(v, Value))
        raise TypeError(f"{owner}: expected Values, got {type(bad).__name__}") from None


def dot(a: Sequence[Value], b: Sequence[Value]) -> Value:
    """The dot product ``a_1 b_1 + ... + a_n b_n`` of two lists of Values, as one graph node.

    Local derivatives: ``d/da_i = b_i`` and ``d/db_i = a_i``. The number and the
    gradients are bit for bit those of ``a[0] * b[0] + a[1] * b[1] + ...`` written with
    ``*`` and ``+`` (the products are added in the same order), but the graph holds one
    node with ``2n`` parents (``a`` then ``b``) instead of ``2n - 1`` nodes. Attention's
    query·key scores, a weighted sum of value vectors and a layer without bias are all
    dot products.

    >>> a, b = [Value(1.0), Value(2.0)], [Value(3.0), Value(4.0)]
    >>> y = dot(a, b)            # 1*3 + 2*4
    >>> y.backward()
    >>> y.data, a[0].grad, b[1].grad
    (11.0, 3.0, 2.0)
    """
    if len(a) != len(b) or not a:
        raise ValueError(
            f"dot: the lists must have the same, nonzero length; got {len(a)} and {len(b)}"
        )
    a, b = tuple(a), tuple(b)
    return _dot_node(a, b, _data_of_values("dot", a), _data_of_values("dot", b))


def matvec(rows: Sequence[Sequence[Value]], x: Sequence[Value]) -> list[Value]:
    """A matrix times a vector: ``[dot(row, x) for row in rows]``, one fused node per output.

    The same nodes as calling :func:`dot` for each row, but ``x`` is checked and read
    once rather than once per row, which is what a layer without bias needs.

    >>> w = [[Value(1.0), Value(2.0)], [Value(0.0), Value(-1.0)]]
    >>> [y.data for y in matvec(w, [Value(3.0), Value(4.0)])]
    [11.0, -4.0]
    """
    return _matvecs("matvec", rows, [x])[0]


def matvecs(rows: Sequence[Sequence[Value]], xs: Sequence[Sequence[Value]]) -> list[list[Value]]:
    """The matrix times each vector of ``xs``: ``[matvec(rows, x) for x in xs]``.

    The same nodes, but the matrix is checked and its numbers read once for all the
    vectors rather than once per vector: a layer applied at every position of a
    sequence reads each weight once.

    >>> w = [[Value(1.0), Value(2.0)]]
    >>> xs = [[Value(3.0), Value(4.0)], [Value(1.0), Value(0.0)]]
    >>> [[y.data for y in out] for out in matvecs(w, xs)]
    [[11.0], [1.0]]
    """
    return _matvecs("matvecs", rows, xs)


def _matvecs(
    owner: str, rows: Sequence[Sequence[Value]], xs: Sequence[Sequence[Value]]
) -> list[list[Value]]:
    """:func:`matvecs`, with ``owner`` (the function called) named in its errors."""
    rows = [tuple(row) for row in rows]
    row_data = [_data_of_values(owner, row) for row in rows]
    widths = [len(row) for row in rows]
    out = []
    for x in xs:
        if not x:
            raise ValueError(f"{owner}: the vector is empty")
        x = tuple(x)
        if widths.count(len(x)) != len(widths):
            i = next(i for i, width in enumerate(widths) if width != len(x))
            raise ValueError(
                f"{owner}: row {i} has {widths[i]} entries but the vector has {len(x)}"
            )
        x_data = _data_of_values(owner, x)
        out.append([_dot_node(row, x, data, x_data) for row, data in zip(rows, row_data)])
    return out


def _dot_node(
    a: tuple[Value, ...],
    b: tuple[Value, ...],
    a_data: tuple[float, ...],
    b_data: tuple[float, ...],
) -> Value:
    """The node ``a · b``: parents ``a`` then ``b``, local derivatives ``b`` then ``a``."""
    if _values_with_own_rules:  # a dual number among them applies DOT its own way
        return DOT(*a, *b)
    return _node(_sum_of_products(a_data, b_data), DOT, a + b, b_data + a_data)


def sum_values(values: Sequence[Value]) -> Value:
    """``x_1 + x_2 + ... + x_n`` as one graph node with ``n`` parents.

    Every local derivative is 1, so each parent receives the output's gradient. The
    number is bit for bit that of ``x_1 + x_2 + ...`` added left to right (and not
    Python's ``sum()``, which from Python 3.12 on adds floats with extra precision); the
    graph holds one node instead of ``n - 1``.

    >>> xs = [Value(1.0), Value(2.0), Value(3.5)]
    >>> total = sum_values(xs)
    >>> total.backward()
    >>> total.data, xs[2].grad
    (6.5, 1.0)
    """
    return _reduction("sum_values", SUM, values)


def logsumexp(values: Sequence[Value]) -> Value:
    """``log(e^x_1 + ... + e^x_n)`` as one graph node, computed the stable way.

    It is ``m + log(sum_i e^(x_i - m))`` with ``m`` the largest ``x_i``, so nothing
    overflows and a log-probability ``x_k - logsumexp(x)`` never takes the log of a
    probability that rounded to 0. Its local derivatives are the softmax of the
    operands, ``d/dx_i = e^(x_i - out)``, which is why the gradient of a cross-entropy
    is ``softmax - one_hot``. One node with ``n`` parents instead of ``2n + 2``.

    >>> z = [Value(1.0), Value(2.0), Value(3.0)]
    >>> lse = logsumexp(z)
    >>> lse.backward()
    >>> round(lse.data, 4), [round(x.grad, 4) for x in z]
    (3.4076, [0.09, 0.2447, 0.6652])
    """
    return _reduction("logsumexp", LOGSUMEXP, values)


def _reduction(owner: str, op: Op, values: Sequence[Value]) -> Value:
    """``op`` of all the ``values`` (one or more) as one node with ``n`` parents."""
    if not values:
        raise ValueError(f"{owner}: the list is empty; there is nothing to reduce")
    parents = tuple(values)
    data = _data_of_values(owner, parents)
    if _values_with_own_rules:  # a dual number among them applies the op its own way
        return op(*parents)
    out = op.forward(*data)
    return _node(out, op, parents, op.derivative(*data, out))


def softmax_dot(scores: Sequence[Value], values: Sequence[Value], scale: float = 1.0) -> Value:
    """``sum_i softmax(scale * s)_i v_i``: the values averaged with softmax weights, one node.

    This is one output of attention: the weights ``w = softmax(scale * scores)`` are
    positive and add up to 1, and the result is ``w · v``. The local derivatives are
    ``d/dv_i = w_i`` and ``d/ds_i = scale * w_i * (v_i - out)`` (a score that raises
    its weight pulls the average towards its own value). One node with ``2n`` parents
    (the scores, then the values) instead of the ``3n + 1`` of a softmax written out
    plus the ``2n - 1`` of the dot product; the weights themselves are not nodes
    (:func:`tinygrad_edu.nn.layers.attention_weights` makes them, to look at).

    >>> s, v = [Value(0.0), Value(0.0)], [Value(1.0), Value(3.0)]
    >>> softmax_dot(s, v).data          # equal scores: the plain mean
    2.0
    """
    return _softmax_average("softmax_dot", "values", scores, [[v] for v in values], scale)[0]


def softmax_average(
    scores: Sequence[Value], vectors: Sequence[Sequence[Value]], scale: float = 1.0
) -> list[Value]:
    """The vectors averaged with weights ``softmax(scale * scores)``: attention's output.

    Component ``d`` of the result is ``softmax_dot(scores, [v[d] for v in vectors],
    scale)``, one node each, but the weights are computed once for all of them.

    >>> s = [Value(0.0), Value(0.0)]
    >>> [y.data for y in softmax_average(s, [[Value(1.0), Value(0.0)], [Value(3.0), Value(2.0)]])]
    [2.0, 1.0]
    """
    if len({len(v) for v in vectors}) > 1:
        raise ValueError(
            f"softmax_average: the vectors must all have the same length; got lengths "
            f"{sorted({len(v) for v in vectors})}"
        )
    return _softmax_average("softmax_average", "vectors", scores, vectors, scale)


def _softmax_average(
    owner: str,
    what: str,
    scores: Sequence[Value],
    vectors: Sequence[Sequence[Value]],
    scale: object,
) -> list[Value]:
    if len(scores) != len(vectors) or not scores:
        raise ValueError(
            f"{owner}: scores and {what} must have the same, nonzero length; "
            f"got {len(scores)} and {len(vectors)}"
        )
    number = None if isinstance(scale, bool) else _as_float(scale, owner)
    if number is None:
        raise TypeError(f"{owner}: scale must be a number, got {type(scale).__name__}")
    if not _isfinite(number):
        raise ValueError(f"{owner}: scale must be finite, got {number!r}")
    scores = tuple(scores)
    score_data = _data_of_values(owner, scores)
    columns = list(zip(*vectors))
    column_data = [_data_of_values(owner, column) for column in columns]
    if _values_with_own_rules:  # a dual number among them applies SOFTMAX_DOT its own way
        return [SOFTMAX_DOT(*scores, *column, number) for column in columns]
    weights = _softmax(score_data, number, math.exp)
    out = []
    for column, data in zip(columns, column_data):
        average = _sum_of_products(weights, data)
        slopes = _average_slopes(weights, data, number, average)
        out.append(_node(average, SOFTMAX_DOT, scores + column, slopes, (number,)))
    return out
