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

Read it top to bottom: the operations (``Op`` and the table), building a node, the
``Value`` with its arithmetic and ``backward()``, then the topological order. What a
student need not see lives in modules named for what it does, each importing this one:
:mod:`~tinygrad_edu.fused` (one node for a whole dot product or softmax, for speed),
:mod:`~tinygrad_edu.interop` (pickling, NumPy), and below it
:mod:`~tinygrad_edu.grad_mode` (``no_grad``) and :mod:`~tinygrad_edu.graph` (the walk).
"""

from __future__ import annotations

import importlib
import math
import numbers
import operator
from collections.abc import Callable, Sequence
from typing import NoReturn, Union

from tinygrad_edu import operators
from tinygrad_edu.grad_mode import (
    _grad_mode,
    enable_grad,
    is_grad_enabled,
    no_grad,
    threads_not_recording,
)
from tinygrad_edu.graph import depth_first
from tinygrad_edu.operators import as_float, short_repr

__all__ = [
    "OPS",
    "Op",
    "Operand",
    "Value",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "topological_order",
]

# Names that lived here before and moved to a module of their own; ``engine.dot`` still
# finds them (looked up on first use, so this module never imports the one above it).
_MOVED = dict.fromkeys(
    ["DOT", "LOGSUMEXP", "SOFTMAX_DOT", "SUM", "WEIGHTED_SUM", "dot", "logsumexp",
     "matvec", "matvecs", "softmax_average", "softmax_dot", "sum_values", "weighted_sum"],
    "tinygrad_edu.fused",
)  # fmt: skip


def __getattr__(name: str) -> object:
    """``tinygrad_edu.engine.dot`` and the other names that moved (see ``_MOVED``)."""
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MOVED[name]), name)


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
            elif as_float(x) is None or isinstance(x, bool):
                raise TypeError(
                    f"Op {self.name!r}: operands must be numbers or Values, got {type(x).__name__}"
                )
        parents = tuple(x if isinstance(x, Value) else Value(x) for x in operands[: last_value + 1])
        constants = tuple(as_float(x, repr(self.name)) for x in operands[last_value + 1 :])
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


#   name          forward on floats                   local derivatives, given the operands and out
ADD = Op("+", operator.add, lambda x, y, out: (1.0, 1.0))
SUB = Op("-", operator.sub, lambda x, y, out: (1.0, -1.0))
RSUB = Op("-", lambda x, c: c - x, lambda x, c, out: (-1.0,), reflected=True)
MUL = Op("*", operator.mul, lambda x, y, out: (y, x))
DIV = Op("/", operators.divide, lambda x, y, out: (1.0 / y, -out / y))
RDIV = Op("/", lambda x, c: operators.divide(c, x), lambda x, c, out: (-out / x,), reflected=True)
POW = Op("**", operators.power_of_base, operators.power_derivative)
POW_CONST = Op("**", operators.power, operators.power_const_derivative)
RPOW = Op("**", operators.exponential, operators.exponential_derivative, reflected=True)
NEG = Op("neg", operator.neg, lambda x, out: (-1.0,))
ABS = Op("abs", abs, lambda x, out: (_sign(x),))
EXP = Op("exp", operators.exp, lambda x, out: (out,))
LOG = Op("log", operators.log, lambda x, out: (1.0 / x,))
SQRT = Op("sqrt", operators.sqrt, operators.sqrt_derivative)
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
    node._op = op  # (under no_grad too: then backward() can say why there is no graph)
    if not threads_not_recording.count or _grad_mode.enabled:
        node.op = op.name
        node.parents = parents
        node.local_grads = local_grads
        node.constants = constants
    else:
        node.op = ""
        node.parents = node.local_grads = node.constants = ()
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
        c = other if type(other) is float else as_float(other, repr(op.name))
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

    __slots__ = ("_data", "grad", "label", "op", "parents", "local_grads", "constants")
    __slots__ += ("_op", "_visit")  # the engine's own: the Op, the graph walk's mark

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
        c = as_float(slope)
        if c is None:
            raise TypeError(f"leaky_relu: slope must be a real number, got {type(slope).__name__}")
        return self._leaky_relu(c)

    # ----------------------------------------------------------------- backward

    def backward(self, gradient: float = 1.0) -> None:
        """Fill in ``.grad`` = d self / d node for every node of the graph below self.

        ``gradient`` seeds the pass, as in PyTorch's ``Tensor.backward(gradient)``: the
        gradients become ``gradient * d self / d node``, which is how the gradient of an
        outer function reaches an inner one (``y.backward(dL_dy)``).

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

        The pass uses the local derivatives computed in the forward pass: assigning a new
        ``.data`` to an input in between changes no gradient (compute again to use it).
        A result computed under :func:`no_grad` recorded no graph, so its ``backward()``
        is an error, as in PyTorch, rather than gradients that silently stay 0.
        """
        if type(gradient) is not float or not _isfinite(gradient):  # (the usual 1.0 is fine)
            gradient = _checked_seed(gradient)
        if not self.parents and self._op is not None:
            raise RuntimeError(
                f"backward: this Value was computed by {self._op.name!r} under no_grad, "
                "which records no graph, so there is nothing to differentiate; compute it "
                "outside the no_grad block"
            )
        earlier = [(self, self.grad)] if not self.parents and self.grad else []
        order = depth_first(self, earlier)  # inner nodes only, parents before users
        self.grad = gradient
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

        ``None`` for a leaf (a result computed under ``no_grad`` included).
        ``operation.reflected`` says the plain number was the left operand, as in ``2 - x``.
        """
        return self._op if self.parents else None

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

    def __repr__(self) -> str:
        """``Value(data=..., grad=...)``, with the label and the operation when there are any."""
        label = f", label={self.label!r}" if self.label else ""
        op = f", op={self.op!r}" if self.op else ""
        return f"Value(data={self._data!r}, grad={self.grad!r}{label}{op})"


def _checked_number(number: object, owner: str) -> float:
    """``number`` as a float if it is a finite real number, else the error that says why."""
    if isinstance(number, (bool, Value)) or not isinstance(number, numbers.Real):
        hint = " (use v.data to copy a Value's number)" if isinstance(number, Value) else ""
        raise TypeError(
            f"{owner}: data must be a real number (int, float or NumPy scalar), "
            f"got {type(number).__name__} {short_repr(number)}{hint}"
        )
    data = as_float(number, owner)
    if not _isfinite(data):
        raise ValueError(f"{owner}: data is {data!r}; a Value must hold a finite real number")
    return data


def _checked_seed(gradient: object) -> float:
    """The seed of ``backward(gradient)``: a finite real number, else the error that says why."""
    seed = None if isinstance(gradient, bool) else as_float(gradient, "backward")
    if seed is None:
        raise TypeError(f"backward: gradient must be a number, got {short_repr(gradient)}")
    if not _isfinite(seed):
        raise ValueError(f"backward: gradient must be finite, got {seed!r}")
    return seed


def topological_order(root: Value) -> list[Value]:
    """Every node of ``root``'s graph, ordered so that each node comes after its parents.

    Leaves come first and ``root`` last; ``reversed()`` of it is the order backward
    visits nodes. A depth-first walk without recursion, so a chain of a million nodes
    is fine: a node is placed once all of its parents are. Parents are visited in
    order, so the result is the same in every run.
    """
    if not isinstance(root, Value):
        raise TypeError(f"topological_order: root must be a Value, got {type(root).__name__}")
    return depth_first(root)


_values_with_own_rules = False


def _note_values_with_own_rules() -> None:
    """Called when a Value that applies operations its own way (``apply_op``) is made.

    Forward mode's dual numbers are such Values. Until then every operand of the fused
    operations (:mod:`~tinygrad_edu.fused`) is a plain Value, whose numbers they read
    directly; from then on they hand their operands to the Op, which lets it apply it.
    """
    global _values_with_own_rules
    _values_with_own_rules = True
