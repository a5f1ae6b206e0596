"""Fused operations: one graph node for a whole weighted sum, dot product, sum or softmax.

A neuron's ``b + w_1 x_1 + ... + w_n x_n`` written with ``*`` and ``+`` makes ``2n`` nodes;
attention's softmax-weighted average makes several per score. Each function here makes
*one* node with many parents instead, whose number and gradients are bit for bit those of
the written-out form (the same float operations in the same order), so a network's graph is
several times smaller and its backward pass several times faster. Each is an ordinary
:class:`~tinygrad_edu.engine.Op`, declared like the built-in ones (its forward and its local
derivatives side by side), so ``backward()``, nested ``grad``, forward mode, programs and the
pictures all understand it.

Apart from the engine because they are a speed trick, not a new idea: read
:mod:`tinygrad_edu.engine` first. This module imports the engine, never the reverse.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from functools import reduce

from tinygrad_edu import engine
from tinygrad_edu.engine import Op, Operand, Value, _node, _number
from tinygrad_edu.grad_mode import is_tracing
from tinygrad_edu.integer_inputs import IntegerInput
from tinygrad_edu.operators import as_float

__all__ = [
    "DOT",
    "LOGSUMEXP",
    "PICK",
    "SOFTMAX_DOT",
    "SUM",
    "WEIGHTED_SUM",
    "dot",
    "logsumexp",
    "matvec",
    "matvecs",
    "pick",
    "softmax_average",
    "softmax_dot",
    "sum_values",
    "weighted_sum",
]

_isfinite = math.isfinite

# --------------------------------------------------------------------------- weighted sum


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
        constants = tuple(as_float(x, "weighted_sum") for x in inputs)  # stay constants
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


# --------------------------------------------------------------------------- dot product and sums


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
    if engine._values_with_own_rules:  # a dual number among them applies DOT its own way
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
    if engine._values_with_own_rules:  # a dual number among them applies the op its own way
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
    number = None if isinstance(scale, bool) else as_float(scale, owner)
    if number is None:
        raise TypeError(f"{owner}: scale must be a number, got {type(scale).__name__}")
    if not _isfinite(number):
        raise ValueError(f"{owner}: scale must be finite, got {number!r}")
    scores = tuple(scores)
    score_data = _data_of_values(owner, scores)
    columns = list(zip(*vectors))
    column_data = [_data_of_values(owner, column) for column in columns]
    if engine._values_with_own_rules:  # a dual number among them applies SOFTMAX_DOT its own way
        return [SOFTMAX_DOT(*scores, *column, number) for column in columns]
    weights = _softmax(score_data, number, math.exp)
    out = []
    for column, data in zip(columns, column_data):
        average = _sum_of_products(weights, data)
        slopes = _average_slopes(weights, data, number, average)
        out.append(_node(average, SOFTMAX_DOT, scores + column, slopes, (number,)))
    return out


# --------------------------------------------------------------------------- pick


def _position(index: int | IntegerInput) -> int:
    """The index's value (an integer input's, without recording a guard: the program
    reads the input itself)."""
    return index.value if isinstance(index, IntegerInput) else index


def _pick_forward(*operands: float) -> float:
    """Operands are x_1..x_n, then the index k (a constant): returns x_k."""
    *values, index = operands
    return values[_position(index)]


def _pick_derivative(*operands_and_out: float | Value) -> tuple:
    """d/dx_i = 1 for the one picked, 0 for the others."""
    *values, index, _ = operands_and_out
    k = _position(index)
    return tuple(1.0 if i == k else 0.0 for i in range(len(values)))


PICK = Op("pick", _pick_forward, _pick_derivative)


def pick(values: Sequence[Value], index: int) -> Value:
    """``values[index]``: the logit of the target in a cross-entropy, say.

    Eagerly it is just that item, no new node. While a compiled step traces and the
    index is one of its integer inputs (:mod:`tinygrad_edu.integer_inputs`), it is a
    node of its own, with the index as a constant, so the program picks by the input
    on every call: d out / d values[i] is 1 for the one picked, 0 for the others.
    """
    if not (isinstance(index, IntegerInput) and is_tracing()):
        return values[index]
    if not 0 <= index < len(values):  # recorded as guards: an index out of range retraces
        raise IndexError(f"pick: index {index!r} is out of range 0..{len(values) - 1}")
    parents = tuple(values)
    k = index.value
    data = _data_of_values("pick", parents)
    return _node(data[k], PICK, parents, _pick_derivative(*data, index, data[k]), (index,))
