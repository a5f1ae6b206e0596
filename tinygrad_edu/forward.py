"""Forward mode, and the derivative toolbox built on both modes: jvp, vjp, jacobian, hessian.

Backpropagation (reverse mode) is one way to apply the chain rule: record the graph,
then walk it from the output back to the inputs. Forward mode is the other way: carry,
next to every number, how fast it moves when the inputs move along a chosen direction.
A number with its rate of change is a *dual number* ``a + b·ε`` (with ``ε² = 0``):

    (a + bε) * (c + dε) = ac + (ad + bc)ε        the product rule, for free

The engine's op table already says everything forward mode needs. For each operation
it gives ``d out / d operand`` (``engine.OPS``), and the tangent of the output is

    tangent_out = sum over operands of  local_derivative * tangent_in

the same rule ``backward()`` applies in the other direction (``parent.grad +=
local_grad * node.grad``), including its exceptions: an edge whose local derivative
is the float ``0.0`` passes nothing on, and neither does a tangent of ``0.0`` (as
backward() skips a node whose gradient is 0), so ``0 * inf`` never makes a nan.
One derivative rule per operation serves both modes, and operations of your own
(:class:`~tinygrad_edu.engine.Op`) work in both.

Which mode is cheaper depends on the shape of the problem: one forward pass gives the
derivative of *every output* along *one* input direction (a column of the Jacobian);
one backward pass gives the derivative of *one output* with respect to *every* input (a
row). A loss has one output and many inputs, which is why training uses reverse mode.

>>> jvp(lambda x, y: x * y + x.sin(), (2.0, 3.0), (1.0, 0.0))   # d/dx at (2, 3): y + cos x
(6.909297426825682, 2.5838531634528574)
>>> jacobian(lambda x, y: [x * y, x + y], argnums=(0, 1))(2.0, 3.0)
[[3.0, 2.0], [1.0, 1.0]]
>>> hessian(lambda x, y: x * x * y, argnums=(0, 1))(2.0, 3.0)
[[6.0, 4.0], [4.0, 0.0]]
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Sequence

from tinygrad_edu._checks import check_function
from tinygrad_edu.engine import (
    ABS,
    ADD,
    COS,
    DIV,
    EXP,
    LEAKY_RELU,
    LOG,
    MUL,
    NEG,
    POW,
    POW_CONST,
    RDIV,
    RELU,
    RPOW,
    RSUB,
    SIGMOID,
    SIN,
    SQRT,
    SUB,
    TANH,
    Op,
    Value,
    _note_values_with_own_rules,
    enable_grad,
    is_grad_enabled,
    no_grad,
)
from tinygrad_edu.functional import _Differentiating, _nested, fresh_input, gradients

__all__ = ["Dual", "hessian", "jacobian", "jvp", "vjp"]

Number = float | int
Argnums = int | Sequence[int]

# Each jvp gets its own tag, a larger one the deeper it is nested, so the perturbations
# of nested jvps never mix (see Dual).
_tags = itertools.count(1)
_isfinite = math.isfinite
_new = object.__new__


# --------------------------------------------------------------------------- dual numbers


class Dual(Value):
    """A dual number ``primal + tangent·ε`` made by :func:`jvp`: a value and its rate of change.

    ``primal`` is what the Value would hold (a float, or a Value when the inputs are
    Values); ``tangent`` is d primal / d ε, the derivative along the jvp's direction
    (``None`` where that direction does not reach at all, which is cheaper than 0.0 and
    never turns an infinite slope into a nan); ``data`` is the plain number underneath.
    Every operation gives a new Dual whose tangent is ``sum(local derivative * operand
    tangent)``, from the engine's op table.

    **Tags keep nested jvps apart.** In ``d/dx [x * (d/dy (x + y))]`` the inner jvp must
    treat ``x`` as a constant: its derivative is 1, so the answer is 1. Naive dual
    numbers add x's tangent to y's and get 2 ("perturbation confusion"). So each jvp
    call has its own tag ``ε₁, ε₂, ...`` (a larger one further in), and an operation
    differentiates only along the largest tag among its operands; a Dual with a smaller
    tag is an ordinary number to it, whose own tangent is carried inside the primal.

    A Dual is a Value, so functions written for Values accept it, and ``grad`` inside a
    jvp records a graph of Duals (their local derivatives are dual numbers too): that is
    how ``jvp`` of ``grad`` gives Hessian-vector products. Outside ``grad`` (and when
    the inputs are plain numbers) no graph is recorded.
    """

    __slots__ = ("primal", "tangent", "tag")

    def __init__(self, primal: Number | Value, tangent: Number | Value, tag: int = 0) -> None:
        raise TypeError("Dual: dual numbers are made by jvp(f, primals, tangents)")

    def apply_op(self, op: Op, operands: Sequence[object]) -> Dual:
        """How ``op(*operands)`` runs when an operand is a Dual (see ``Op.__call__``)."""
        return _apply(op, operands, checked=True)

    def __repr__(self) -> str:
        return f"Dual(primal={self.primal!r}, tangent={self.tangent!r}, tag={self.tag})"

    def __reduce_ex__(self, protocol: object) -> object:
        """Refused: a dual number means something only inside the jvp that made it.

        Pickled as a Value it would lose its tangent without a word; and its tag would
        mean nothing to a later jvp anyway. ``copy.deepcopy`` is refused the same way.
        """
        raise TypeError(
            "a dual number of forward mode cannot be pickled (it belongs to the jvp that "
            f"made it): pickle its .primal ({self.primal!r}) and .tangent "
            f"({self.tangent!r}) numbers instead"
        )


def _dual(primal: float | Value, tangent: float | Value, tag: int) -> Dual:
    """A new Dual, built directly (the engine builds its nodes the same way)."""
    d = _new(Dual)
    d._data = primal if type(primal) is float else primal._data
    d.primal = primal
    d.tangent = tangent
    d.tag = tag
    d.grad = 0.0
    d.label = ""
    d.op = ""
    d.parents = d.local_grads = d.constants = ()
    d._op = None
    d._visit = None
    return d


def _chain(local_grads: Sequence, tangents: Sequence) -> float | Value | None:
    """``sum(local * tangent)`` over the operands that carry a tangent.

    A tangent ``None`` means "not moved by this jvp at all" (a constant to it), and a
    local derivative that is the float 0.0 passes nothing on, as in ``backward()``; if
    nothing reaches the output, its tangent is ``None`` too. Keeping these zeros
    symbolic, instead of multiplying by 0.0, means forward mode follows exactly the
    paths that backward() follows: an infinite slope off the path (``sqrt`` at 0) never
    turns into a nan on it.
    """
    total = None
    for local, tangent in zip(local_grads, tangents):
        term = _times(local, tangent)
        if term is not None:
            total = term if total is None else total + term
    return total


def _times(local: float | Value, tangent: float | Value | None) -> float | Value | None:
    """``local * tangent`` for one operand, with the same symbolic zeros as ``_chain``."""
    if tangent is None or (type(local) is float and local == 0.0):
        return None
    if type(tangent) is float and tangent == 0.0:  # as backward() skips a zero gradient
        return None
    return local * tangent


def _constant(op: Op, x: object) -> float | None:
    """A plain-number operand as a finite float, None if ``x`` is not a plain number."""
    if type(x) is float:
        c = x
    elif isinstance(x, numbers.Real) and not isinstance(x, (bool, Value)):
        c = float(x)
    else:
        return None
    if not _isfinite(c):
        raise ValueError(f"{op.name!r}: the plain-number operand {c!r} is not finite")
    return c


def _float_forward(op: Op, primals: Sequence[float]) -> float:
    out = op.forward(*primals)
    if not _isfinite(out):
        raise OverflowError(f"{op.name!r} of {tuple(primals)!r} overflows float64 (gives {out!r})")
    return out


def _apply(op: Op, operands: Sequence[object], checked: bool = False) -> Dual:
    """``op(*operands)`` when at least one operand is a Dual: its primal and its tangent.

    The operands whose tag is the largest carry a tangent; every other operand (a
    number, a Value, a Dual of an outer jvp) is a constant here. The primal is ``op``
    applied to the primals, which is plain float work when they are all floats and an
    ordinary ``op(...)`` call otherwise (so an outer Dual carries its own tangent along).
    ``checked`` runs a rule of the user's own through ``Op.checked_derivative``.
    """
    tag = max(x.tag for x in operands if isinstance(x, Dual))
    recording = is_grad_enabled()
    primals: list = []
    tangents: list = []
    last_value = -1
    for i, x in enumerate(operands):
        if isinstance(x, Dual) and x.tag == tag:
            primals.append(x.primal)
            tangents.append(x.tangent)
            last_value = i
        elif isinstance(x, Value):
            # A plain Value (a weight) is only a number here unless a graph is wanted.
            primals.append(x._data if type(x) is Value and not recording else x)
            tangents.append(None)
            last_value = i
        else:
            c = _constant(op, x)
            if c is None:
                raise TypeError(
                    f"Op {op.name!r}: operands must be numbers or Values, got {type(x).__name__}"
                )
            primals.append(c)
            tangents.append(None)
    out = _float_forward(op, primals) if all(type(p) is float for p in primals) else op(*primals)
    if checked:
        local_grads = op.checked_derivative(primals, out, last_value + 1)
    else:
        local_grads = op.derivative(*primals, out)
    result = _dual(out, _chain(local_grads, tangents), tag)
    if recording:
        _record(result, op, operands, last_value)
    return result


def _record(node: Dual, op: Op, operands: Sequence[object], last_value: int) -> None:
    """Make ``node`` a graph node, for a ``grad`` running inside a jvp.

    Its local derivatives are computed from the dual operands, so they are dual numbers
    themselves: backpropagating through them differentiates the gradient along the
    jvp's direction (forward-over-reverse). A plain number before a Value becomes a
    leaf, as in ``Op.__call__``, so the operands are always parents first, then constants.
    """
    parents = tuple(x if isinstance(x, Value) else Value(x) for x in operands[: last_value + 1])
    constants = tuple(float(x) for x in operands[last_value + 1 :])
    with no_grad():
        local_grads = op.derivative(*parents, *constants, node)
    node.op = op.name
    node.parents = parents
    node.local_grads = tuple(local_grads[: len(parents)])
    node.constants = constants
    node._op = op


def _unary(op: Op, doc: str) -> Callable[[Dual], Dual]:
    """A Dual method for ``op(self)``: float work only, in the common case."""
    forward, derivative = op.forward, op.derivative

    def method(self: Dual) -> Dual:
        x = self.primal
        if type(x) is not float or is_grad_enabled():
            return _apply(op, (self,))
        out = forward(x)
        if not _isfinite(out):
            _float_forward(op, (x,))  # raises, naming the op
        (local,) = derivative(x, out)
        return _dual(out, _times(local, self.tangent), self.tag)

    method.__doc__ = doc
    return method


def _binary(op: Op, swapped: Op | None = None, doc: str = "") -> Callable[[Dual, object], Dual]:
    """A Dual method for ``op(self, other)``.

    With ``swapped``, it is the reflected method (``other - self``): a Value ``other``
    goes first into ``swapped`` (``SUB``), a plain number stays second in ``op``
    (``RSUB``, whose rule knows the number is on the left).
    """
    forward, derivative = op.forward, op.derivative

    def method(self: Dual, other: object) -> Dual:
        x = self.primal
        if type(other) is Dual and not swapped:
            y = other.primal
            if (other.tag != self.tag or type(x) is not float or type(y) is not float
                    or is_grad_enabled()):  # fmt: skip
                return _apply(op, (self, other))
            out = forward(x, y)  # two dual numbers of the same jvp: the common case
            if not _isfinite(out):
                _float_forward(op, (x, y))  # raises, naming the op
            dx, dy = derivative(x, y, out)
            tx, ty = _times(dx, self.tangent), _times(dy, other.tangent)
            tangent = tx if ty is None else (ty if tx is None else tx + ty)
            return _dual(out, tangent, self.tag)
        if isinstance(other, Value):
            return _apply(swapped or op, (other, self) if swapped else (self, other))
        c = _constant(op, other)
        if c is None:
            return NotImplemented
        if type(x) is not float or is_grad_enabled():
            return _apply(op, (self, c))
        out = forward(x, c)
        if not _isfinite(out):
            _float_forward(op, (x, c))  # raises, naming the op
        return _dual(out, _times(derivative(x, c, out)[0], self.tangent), self.tag)

    method.__doc__ = doc or f"{op.name} with a dual number"
    return method


# The same table rows as Value's operators, read for forward mode.
Dual.__add__ = Dual.__radd__ = _binary(ADD)
Dual.__sub__ = _binary(SUB)
Dual.__rsub__ = _binary(RSUB, swapped=SUB)
Dual.__mul__ = Dual.__rmul__ = _binary(MUL)
Dual.__truediv__ = _binary(DIV)
Dual.__rtruediv__ = _binary(RDIV, swapped=DIV)
Dual.__rpow__ = _binary(RPOW, swapped=POW)
Dual.__neg__ = _unary(NEG, "-x")
Dual.__abs__ = _unary(ABS, "|x|")
Dual.exp = _unary(EXP, "e**x")
Dual.log = _unary(LOG, "natural log")
Dual.sqrt = _unary(SQRT, "square root")
Dual.tanh = _unary(TANH, "tanh")
Dual.sigmoid = _unary(SIGMOID, "logistic sigmoid")
Dual.relu = _unary(RELU, "max(0, x)")
Dual.sin = _unary(SIN, "sine")
Dual.cos = _unary(COS, "cosine")
# Value.__pow__ and Value.leaky_relu check their argument, then call these.
Dual._power_of_value = _binary(POW)
Dual._power_of_number = _binary(POW_CONST)
Dual._leaky_relu = _binary(LEAKY_RELU)


# --------------------------------------------------------------------------- argument checks


def _is_number(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, Value))


def _as_operand(owner: str, name: str, x: object) -> float | Value:
    """A number (as a float) or a Value; a TypeError naming the argument otherwise."""
    if isinstance(x, Value):
        return x
    if _is_number(x):
        return float(x)
    raise TypeError(f"{owner}: {name} must be a number or a Value, got {type(x).__name__}")


def _as_tuple(owner: str, name: str, xs: object) -> tuple:
    if not isinstance(xs, (tuple, list)):
        raise TypeError(
            f"{owner}: {name} must be a tuple or list (one entry per argument of f), "
            f"got {type(xs).__name__}"
        )
    return tuple(_as_operand(owner, f"{name}[{i}]", x) for i, x in enumerate(xs))


def _outputs(owner: str, out: object) -> tuple[list, bool]:
    """f's result as a list of outputs, and whether it was a single one.

    A plain number is allowed as a constant output (derivative 0), as ``grad`` allows:
    a nested jvp may find that its tangent is a plain 0.0.
    """
    if isinstance(out, Value) or _is_number(out):
        return [out], True
    if isinstance(out, (list, tuple)) and out:
        for k, o in enumerate(out):
            if not (isinstance(o, Value) or _is_number(o)):
                raise TypeError(
                    f"{owner}: f's output {k} must be a Value or a number, got {type(o).__name__}"
                )
        return list(out), False
    raise TypeError(
        f"{owner}: f must return a Value or a non-empty list of Values, got {type(out).__name__}"
    )


def _positions(owner: str, argnums: object, n_args: int) -> list[int]:
    """``argnums`` (an int or a tuple of ints) as a list of positions into the arguments."""
    single = isinstance(argnums, numbers.Integral) and not isinstance(argnums, bool)
    many = isinstance(argnums, (tuple, list)) and argnums
    if not single and not (
        many and all(isinstance(i, int) and not isinstance(i, bool) for i in argnums)
    ):
        raise TypeError(
            f"{owner}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}"
        )
    positions = [int(argnums)] if single else [int(i) for i in argnums]
    for i in positions:
        if not -n_args <= i < n_args:
            raise ValueError(f"{owner}: argnums {i} is out of range for {n_args} arguments")
    return [i % n_args for i in positions]


# --------------------------------------------------------------------------- jvp and vjp


def jvp(
    f: Callable[..., Value | Sequence[Value]],
    primals: Sequence[Number | Value],
    tangents: Sequence[Number | Value],
) -> tuple:
    """Forward mode: ``f(*primals)`` and its derivative along ``tangents``, in one pass.

    Returns ``(value, tangent)`` with ``tangent = sum_i d f / d primals[i] * tangents[i]``,
    the Jacobian times the tangent vector. For ``f`` returning a list, both are lists.
    Plain numbers in, plain floats out, and no graph is recorded: every intermediate
    result is a :class:`Dual` carrying its number and its tangent. With Values in, the
    value and the tangent are Values connected to them (so ``grad`` can differentiate a
    jvp), and ``jvp`` of ``grad`` gives Hessian-vector products. Inside ``grad`` (or
    ``vjp``, or a reverse ``jacobian``) they are Values even for plain numbers in, since
    ``f`` may use the outer input: ``grad(lambda x: jvp(lambda y: x * y, (1.0,), (1.0,))[1])``
    is 1.

    >>> jvp(lambda x: x ** 3, (2.0,), (1.0,))          # f(2) and f'(2) = 3 * 2**2
    (8.0, 12.0)
    >>> jvp(lambda x, y: x * y, (2.0, 3.0), (1.0, 1.0))  # along (1, 1): y + x
    (6.0, 5.0)

    ``f`` must compute with Value operations and :class:`~tinygrad_edu.engine.Op` calls;
    ``weighted_sum`` (and so the ``nn`` layers) works too.
    """
    check_function("jvp", "f", f)
    primals = _as_tuple("jvp", "primals", primals)
    tangents = _as_tuple("jvp", "tangents", tangents)
    if len(tangents) != len(primals):
        raise ValueError(
            f"jvp: {len(tangents)} tangents for {len(primals)} primals; give one tangent per primal"
        )
    tag = next(_tags)
    _note_values_with_own_rules()  # from now on the fused helpers check for dual numbers
    duals = [_dual(p, t, tag) for p, t in zip(primals, tangents)]
    plain = not any(isinstance(x, Value) for x in (*primals, *tangents)) and not _nested()
    values, slopes, single = _push_forward("jvp", f, duals, tag, plain)
    return (values[0], slopes[0]) if single else (values, slopes)


def _push_forward(owner: str, f: Callable, args: Sequence, tag: int, plain: bool) -> tuple:
    """Run f on arguments holding dual numbers of ``tag``: its values, their tangents, single?"""
    if plain:
        with no_grad():  # nothing will differentiate the result: no graph
            out = f(*args)
    else:
        out = f(*args)
    outputs, single = _outputs(owner, out)
    values, slopes = [], []
    for o in outputs:
        if isinstance(o, Dual) and o.tag == tag:
            values.append(o.primal)
            slopes.append(0.0 if o.tangent is None else o.tangent)
        else:  # it does not depend on the primals
            values.append(o)
            slopes.append(0.0)
    if plain:  # plain numbers in, plain floats out, even where f used Values of its own
        # (a grad inside f records a graph of the weights it uses; a Dual of an outer jvp
        # stays: it carries that jvp's tangent)
        values = [_plain(x) for x in values]
        slopes = [_plain(x) for x in slopes]
    return values, slopes, single


def _plain(x: float | Value) -> float | Value:
    return x._data if type(x) is Value else x


def vjp(f: Callable[..., Value | Sequence[Value]], *primals: Number | Value) -> tuple:
    """Reverse mode as a function: ``f(*primals)`` and a function that backpropagates.

    Returns ``(value, vjp_fn)``. ``vjp_fn`` takes one weight per output of ``f`` and
    returns ``sum_k cotangents[k] * d f_k / d primals[i]`` for each primal, as a tuple:
    the vector times the Jacobian. The weights come in the output's structure, as in
    JAX and torch.func (one list for a list of outputs, one number for one output), or
    as separate arguments. One backward pass per call, whatever the number of primals.
    Plain numbers in, plain floats out. Each primal is a fresh input of ``f``, as in
    :func:`~tinygrad_edu.functional.grad`.

    >>> value, vjp_fn = vjp(lambda x, y: [x * y, x + y], 2.0, 3.0)
    >>> value
    [6.0, 5.0]
    >>> vjp_fn([1.0, 0.0]), vjp_fn(0.0, 1.0)      # the rows of the Jacobian
    ((3.0, 2.0), (1.0, 1.0))
    """
    check_function("vjp", "f", f)
    if not primals:
        raise ValueError("vjp: give at least one primal")
    primals = _as_tuple("vjp", "primals", primals)
    nested = _nested()
    plain = not any(isinstance(x, Value) for x in primals) and not nested
    with _Differentiating():
        leaves = [fresh_input(x) for x in primals]
        out = f(*leaves)
    outputs, single = _outputs("vjp", out)

    def vjp_fn(*cotangents: Number | Value | Sequence[Number | Value]) -> tuple:
        if not single and len(cotangents) == 1 and isinstance(cotangents[0], (list, tuple)):
            cotangents = tuple(cotangents[0])  # one object with the output's structure
        if len(cotangents) != len(outputs):
            listed = ", ".join(f"c{k}" for k in range(len(outputs)))
            forms = "vjp_fn(c)" if single else f"vjp_fn([{listed}]) or vjp_fn({listed})"
            raise ValueError(
                f"vjp_fn: {len(cotangents)} cotangents for {len(outputs)} output(s); give one "
                f"per output, in the output's structure or as separate arguments: {forms}"
            )
        cotangents = _as_tuple("vjp_fn", "cotangents", cotangents)
        with enable_grad():  # the weighted sum of the outputs is what we backpropagate
            root = Value(0.0)
            for o, c in zip(outputs, cotangents):
                root = root + o * c
        as_graph = nested or _nested() or (not plain and is_grad_enabled())
        grads = gradients(root, leaves, create_graph=as_graph)
        return tuple(grads)

    value = [o.data if plain and isinstance(o, Value) else o for o in outputs]
    return (value[0] if single else value), vjp_fn


# --------------------------------------------------------------------------- jacobian, hessian


def _flatten(owner: str, args: Sequence[object], positions: list[int]) -> list[float | Value]:
    """The scalars of the chosen arguments, in order: a number is one, a list is many."""
    scalars: list[float | Value] = []
    for i in positions:
        arg = args[i]
        if isinstance(arg, (list, tuple)):
            scalars += [_as_operand(owner, f"argument {i}[{j}]", x) for j, x in enumerate(arg)]
        else:
            scalars.append(_as_operand(owner, f"argument {i}", arg))
    return scalars


def _substitute(args: Sequence[object], positions: list[int], scalars: list) -> list:
    """``args`` with the chosen arguments' scalars replaced, in the order of ``_flatten``."""
    new_args = list(args)
    it = iter(scalars)
    for i in positions:
        if isinstance(args[i], (list, tuple)):
            new_args[i] = [next(it) for _ in args[i]]
        else:
            new_args[i] = next(it)
    return new_args


def jacobian(
    f: Callable[..., Value | Sequence[Value]], argnums: Argnums = 0, *, mode: str = "reverse"
) -> Callable[..., list[list]]:
    """The Jacobian of ``f`` as a function: ``jacobian(f)(*args)`` is a list of rows.

    Row ``k`` holds the derivatives of output ``k`` (``f`` returns a Value or a list of
    Values) with respect to every input scalar of the chosen arguments, in order; an
    argument may be a number or a list of numbers (a vector). Plain floats come back
    for plain-number arguments. Each input scalar is a fresh input of ``f``, as in
    :func:`~tinygrad_edu.functional.grad`, so a Value that ``f`` also uses directly is a
    constant to the derivative, in both modes.

    ``mode="reverse"`` runs one backward pass per output (a row each);
    ``mode="forward"`` runs one jvp per input (a column each). Same numbers; pick the
    mode whose count is smaller.

    >>> layer = lambda x: [(x[0] * 2 + x[1]).tanh(), x[0] * x[1]]
    >>> jacobian(layer, mode="forward")([1.0, -2.0])    # tanh(0) = 0: slope 1
    [[2.0, 1.0], [-2.0, 1.0]]
    """
    check_function("jacobian", "f", f)
    if mode not in ("reverse", "forward"):
        raise ValueError(f"jacobian: mode must be 'reverse' or 'forward', got {mode!r}")

    def reverse(*args: object) -> list[list]:
        positions = _positions("jacobian", argnums, len(args))
        scalars = _flatten("jacobian", args, positions)
        values_in = any(isinstance(x, Value) for x in scalars)
        create_graph = _nested() or (values_in and is_grad_enabled())
        with _Differentiating():  # each scalar a fresh input, as in grad
            leaves = [fresh_input(x) for x in scalars]
            out = f(*_substitute(args, positions, leaves))
        outputs, _ = _outputs("jacobian", out)
        return [
            gradients(o, leaves, create_graph) if isinstance(o, Value) else [0.0] * len(leaves)
            for o in outputs
        ]

    def forward(*args: object) -> list[list]:
        positions = _positions("jacobian", argnums, len(args))
        scalars = _flatten("jacobian", args, positions)
        plain = not any(isinstance(x, Value) for x in scalars) and not _nested()
        columns = []
        for j in range(len(scalars)):  # one jvp per input: only input j moves
            tag = next(_tags)
            _note_values_with_own_rules()
            duals = [_dual(x, 1.0 if k == j else None, tag) for k, x in enumerate(scalars)]
            new_args = _substitute(args, positions, duals)
            _, column, _ = _push_forward("jacobian", f, new_args, tag, plain)
            columns.append(column)
        return [list(row) for row in zip(*columns)]

    return forward if mode == "forward" else reverse


def hessian(f: Callable[..., Value], argnums: Argnums = 0) -> Callable[..., list[list]]:
    """The matrix of second derivatives of a scalar ``f``, as a function.

    ``hessian(f)(*args)[i][j]`` is d²f / dx_i dx_j over the input scalars of the chosen
    arguments (numbers or lists of numbers, as in :func:`jacobian`). Computed
    forward-over-reverse: the Jacobian, in forward mode, of the gradient computed in
    reverse mode; one backward pass per input, each carrying dual numbers.

    >>> hessian(lambda x: x[0] ** 2 * x[1])([1.0, 3.0])   # [[2y, 2x], [2x, 0]]
    [[6.0, 2.0], [2.0, 0.0]]
    """
    check_function("hessian", "f", f)

    def gradient(*args: object) -> list:
        (row,) = _single_row(jacobian(f, argnums)(*args))
        return row

    return jacobian(gradient, argnums, mode="forward")


def _single_row(rows: list[list]) -> list[list]:
    if len(rows) != 1:
        raise TypeError(f"hessian: f must return a single Value, got {len(rows)} outputs")
    return rows
