"""The building blocks of a transformer, from Values: Linear, Embedding, RMSNorm, attention.

Vectors are plain Python lists of :class:`~tinygrad_edu.engine.Value`, and a matrix is
a list of rows, one row per output. Every dot product is one fused graph node
(:func:`~tinygrad_edu.engine.dot`) and every long sum one :func:`~tinygrad_edu.engine.sum_values`
node, so the graph of a transformer stays small enough to train on a laptop, while the
numbers are those of the plain ``*`` and ``+`` arithmetic.

>>> layer = Linear(3, 2, seed=0)
>>> y = layer([Value(1.0), Value(2.0), Value(3.0)])   # two outputs, one node each
>>> len(y), y[0].op
(2, 'w·x+b')

Initialisation. ``std=None`` follows PyTorch: a Linear draws its weights and biases from
``U(-1/sqrt(nin), 1/sqrt(nin))``, an Embedding from the standard normal. A number ``std``
draws weights from ``N(0, std²)`` instead (biases start at 0), which is what small
GPTs do. Numbers come from a private ``random.Random(seed)``, row by row.
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Sequence
from itertools import repeat

from tinygrad_edu._checks import check_int, check_real, random_generator
from tinygrad_edu.engine import Op, Operand, Value
from tinygrad_edu.fused import dot, matvec, matvecs, softmax_average, weighted_sum
from tinygrad_edu.grad_mode import is_tracing
from tinygrad_edu.integer_inputs import row
from tinygrad_edu.losses import softmax
from tinygrad_edu.nn.module import Module, named_children

__all__ = [
    "CausalSelfAttention",
    "Embedding",
    "Linear",
    "RMSNorm",
    "attention",
    "attention_weights",
    "rms_norm",
]


def _check_std(owner: str, std: float | None) -> float | None:
    return None if std is None else check_real(owner, "std", std, above=0.0)


def _gaussian_rows(rng: random.Random, rows: int, columns: int, std: float) -> list[list[Value]]:
    """A ``rows`` x ``columns`` matrix of leaves drawn from N(0, std²), row by row."""
    return [[Value(rng.gauss(0.0, std)) for _ in range(columns)] for _ in range(rows)]


def _matrix_parameters(name: str, rows: list[list[Value]]) -> list[tuple[str, Value]]:
    return [(f"{name}.{i}.{j}", p) for i, row in enumerate(rows) for j, p in enumerate(row)]


def _check_vector(owner: str, x: Sequence[Value], size: int) -> None:
    try:
        got = len(x)
    except TypeError:
        raise TypeError(
            f"{owner}: expected a list of {size} Values, got {type(x).__name__}"
        ) from None
    if got and isinstance(x[0], (list, tuple)):  # a batch: a list of samples
        raise TypeError(
            f"{owner}: one sample at a time; use [layer(x) for x in X] (given a batch of "
            f"{got} samples, expected one vector of {size} Values)"
        )
    if got != size:
        raise ValueError(f"{owner}: expected a vector of {size} Values, got {got}")


# --------------------------------------------------------------------------- w·relu(h)


def _products_on(start: float | None, weights: Sequence, inputs: Sequence) -> float:
    """``start + w_j h_j + ...`` over the units that are on (``h_j > 0``), added in order.

    Without a ``start`` (None) the sum begins with the first such product, as a dot
    product does, and is 0.0 when no unit is on.
    """
    out = start
    for w, h in zip(weights, inputs):
        if h > 0.0:
            out = w * h if out is None else out + w * h
    return 0.0 if out is None else out


def _relu_slopes(weights: Sequence, inputs: Sequence) -> tuple[tuple, tuple]:
    """d/dw_j = relu(h_j) and d/dh_j = w_j for a unit that is on, 0 for one that is off."""
    return (
        tuple(h if h > 0.0 else 0.0 for h in inputs),
        tuple(w if h > 0.0 else 0.0 for w, h in zip(weights, inputs)),
    )


def _relu_dot_forward(*operands: float) -> float:
    """Operands are w_1..w_n, h_1..h_n: returns the sum of ``w_j relu(h_j)``, in order."""
    n = len(operands) // 2
    return _products_on(None, operands[:n], operands[n:])


def _relu_dot_derivative(*operands_and_out: float | Value) -> tuple:
    """Operands are w_1..w_n, h_1..h_n (then out): see :func:`_relu_slopes`."""
    n = (len(operands_and_out) - 1) // 2
    weight_slopes, input_slopes = _relu_slopes(operands_and_out[:n], operands_and_out[n : 2 * n])
    return (*weight_slopes, *input_slopes)


def _relu_weighted_sum_forward(*operands: float) -> float:
    """Operands are w_1..w_n, b, h_1..h_n: returns ``b + sum_j w_j relu(h_j)``, in order."""
    n = (len(operands) - 1) // 2
    return _products_on(operands[n], operands[:n], operands[n + 1 :])


def _relu_weighted_sum_derivative(*operands_and_out: float | Value) -> tuple:
    """Operands are w_1..w_n, b, h_1..h_n (then out): d/db = 1, the rest as :func:`_relu_slopes`."""
    n = (len(operands_and_out) - 2) // 2
    weights, inputs = operands_and_out[:n], operands_and_out[n + 1 : 2 * n + 1]
    weight_slopes, input_slopes = _relu_slopes(weights, inputs)
    return (*weight_slopes, 1.0, *input_slopes)


#: ``w · relu(h)``: a layer without bias applied to the relu of its inputs, one node
#: (made by :meth:`Linear.after_relu`). The relu decides inside the op, on every run.
RELU_DOT = Op("w·relu(h)", _relu_dot_forward, _relu_dot_derivative)
#: ``w · relu(h) + b``: the same with a bias (operands w_1..w_n, b, h_1..h_n).
RELU_WEIGHTED_SUM = Op("w·relu(h)+b", _relu_weighted_sum_forward, _relu_weighted_sum_derivative)


# --------------------------------------------------------------------------- Linear


class Linear(Module):
    """``y = W x + b``: ``nout`` outputs, each a weighted sum of the same ``nin`` inputs.

    ``weight`` is a list of ``nout`` rows of ``nin`` leaves (row ``i`` makes output
    ``i``) and ``bias`` a list of ``nout`` leaves, or None with ``bias=False``. Each
    output is one fused node: ``w·x+b`` (:func:`weighted_sum`) or, without bias,
    ``a·b`` (:func:`dot`). d y_i / d W_ij = x_j, d y_i / d x_j = W_ij, d y_i / d b_i = 1.
    Parameters are named ``weight.<i>.<j>`` and ``bias.<i>``.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        bias: bool = True,
        *,
        std: float | None = None,
        seed: int | random.Random | None = None,
    ) -> None:
        self.nin = check_int("Linear", "nin", nin)
        self.nout = check_int("Linear", "nout", nout)
        if not isinstance(bias, bool):
            raise TypeError(f"Linear: bias must be True or False, got {bias!r}")
        self.std = _check_std("Linear", std)
        rng = random_generator("Linear", seed)
        if self.std is None:  # PyTorch's default: U(-1/sqrt(nin), 1/sqrt(nin)) for both
            bound = 1.0 / math.sqrt(self.nin)
            self.weight = [
                [Value(rng.uniform(-bound, bound)) for _ in range(self.nin)]
                for _ in range(self.nout)
            ]
            self.bias = (
                [Value(rng.uniform(-bound, bound)) for _ in range(self.nout)] if bias else None
            )
        else:
            self.weight = _gaussian_rows(rng, self.nout, self.nin, self.std)
            self.bias = [Value(0.0) for _ in range(self.nout)] if bias else None
        self._label_parameters()

    def __call__(self, x: Sequence[Operand]) -> list[Value]:
        _check_vector("Linear", x, self.nin)
        if self.bias is not None:
            return [weighted_sum(row, x, b) for row, b in zip(self.weight, self.bias)]
        if not all(map(isinstance, x, repeat(Value))):  # plain numbers: leaves, so matvec applies
            x = [v if isinstance(v, Value) else Value(v) for v in x]
        return matvec(self.weight, x)

    def each(self, xs: Sequence[Sequence[Operand]]) -> list[list[Value]]:
        """The layer applied to every vector of ``xs``: ``[layer(x) for x in xs]``.

        The same nodes and numbers. Without a bias, and given Values, it reads each
        weight once for all the vectors (:func:`~tinygrad_edu.engine.matvecs`) instead
        of once per vector, which is how a transformer applies a layer at every
        position of a sequence.
        """
        if self.bias is not None or not all(all(map(isinstance, x, repeat(Value))) for x in xs):
            return [self(x) for x in xs]
        for x in xs:
            _check_vector("Linear", x, self.nin)
        return matvecs(self.weight, xs)

    def after_relu(self, x: Sequence[Value]) -> list[Value]:
        """``layer([h.relu() for h in x])``: the same numbers, without the relu nodes.

        A unit that is off (``h <= 0``) has ``relu(h) = 0``, which adds nothing to any
        output, and a slope of 0, which passes no gradient back. So each output is a
        dot product over the units that are on, for which ``relu(h)`` is ``h`` itself:
        the units that are off, and everything only they depend on, drop out of the
        graph, and the backward pass never visits them. (An output of the whole sum can
        differ from it only in the sign of an exact zero.)

        Leaving units out is a decision made in Python from their numbers, which a
        traced program would freeze. So while :func:`~tinygrad_edu.program.trace`
        records (:func:`~tinygrad_edu.grad_mode.is_tracing`), each output is instead one
        :data:`RELU_DOT` node (:data:`RELU_WEIGHTED_SUM` with a bias) with every unit as
        a parent, which decides inside the op on every run: the same numbers and
        gradients, bit for bit, and a program that stays equal to eager after the
        weights (and with them the units that are on) have changed.
        """
        _check_vector("Linear", x, self.nin)
        try:
            on = [j for j, h in enumerate(x) if h._data > 0.0]
        except AttributeError:
            bad = next(h for h in x if not isinstance(h, Value))
            raise TypeError(
                f"Linear.after_relu: expected Values, got {type(bad).__name__}"
            ) from None
        if is_tracing():  # decide inside the op, on every run of the program
            if self.bias is None:
                return [RELU_DOT(*row, *x) for row in self.weight]
            return [RELU_WEIGHTED_SUM(*row, b, *x) for row, b in zip(self.weight, self.bias)]
        rows = [[row[j] for j in on] for row in self.weight]
        inputs = [x[j] for j in on]
        if self.bias is not None:
            return [weighted_sum(row, inputs, b) for row, b in zip(rows, self.bias)]
        if not on:
            return [Value(0.0) for _ in rows]
        return matvec(rows, inputs)

    def named_parameters(self) -> list[tuple[str, Value]]:
        named = _matrix_parameters("weight", self.weight)
        if self.bias is not None:
            named += [(f"bias.{i}", b) for i, b in enumerate(self.bias)]
        return named

    def __repr__(self) -> str:
        return f"Linear({self.nin} -> {self.nout}, bias={self.bias is not None})"


# --------------------------------------------------------------------------- Embedding


class Embedding(Module):
    """A lookup table: index ``i`` -> row ``i``, a learned vector of ``dim`` leaves.

    ``embedding(i)`` returns the row itself (the same leaves, no new node), so after
    ``backward()`` only the rows that were used have a gradient: d out / d row_i = 1 for
    the row looked up, 0 for every other. Parameters are named ``weight.<i>.<j>``.

    >>> wte = Embedding(27, 4, seed=0)
    >>> len(wte(3)), wte(3)[0] is wte.weight[3][0]
    (4, True)
    """

    def __init__(
        self,
        num_embeddings: int,
        dim: int,
        *,
        std: float | None = None,
        seed: int | random.Random | None = None,
    ) -> None:
        self.num_embeddings = check_int("Embedding", "num_embeddings", num_embeddings)
        self.dim = check_int("Embedding", "dim", dim)
        self.std = _check_std("Embedding", std)
        rng = random_generator("Embedding", seed)
        std = 1.0 if self.std is None else self.std  # PyTorch's default is N(0, 1)
        self.weight = _gaussian_rows(rng, self.num_embeddings, self.dim, std)
        self._label_parameters()

    def __call__(self, index: int) -> list[Value]:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"Embedding: index must be an int, got {type(index).__name__}")
        if not 0 <= index < self.num_embeddings:
            raise IndexError(
                f"Embedding: index {index} is out of range 0..{self.num_embeddings - 1}"
            )
        return row(self.weight, index)  # an input of a compiled step: read on every call

    def named_parameters(self) -> list[tuple[str, Value]]:
        return _matrix_parameters("weight", self.weight)

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.dim})"


# --------------------------------------------------------------------------- RMSNorm


def rms_norm(xs: Sequence[Value], eps: float = 1e-5) -> list[Value]:
    """``x_i / sqrt(mean(x²) + eps)``: the vector rescaled to a root mean square of about 1.

    Written as ``scale = (dot(x, x) / n + eps) ** -0.5`` and ``x_i * scale``, so each
    output depends on every input through ``scale``:
    d y_i / d x_j = scale (δ_ij - y_i y_j / n) (up to eps). Unlike layer norm it does
    not subtract the mean, and it has no parameters (see :class:`RMSNorm` for a
    learned per-feature gain).

    >>> [round(y.data, 4) for y in rms_norm([Value(3.0), Value(4.0)], eps=0.0)]
    [0.8485, 1.1314]
    """
    if not xs:
        raise ValueError("rms_norm: the vector is empty")
    eps = check_real("rms_norm", "eps", eps, at_least=0.0)
    scale = (dot(xs, xs) / len(xs) + eps) ** -0.5
    return [x * scale for x in xs]


class RMSNorm(Module):
    """:func:`rms_norm` followed by a learned gain per feature: ``y_i = g_i * rms_norm(x)_i``.

    The gains start at 1 (the identity after normalising); parameters are named
    ``weight.<i>``.
    """

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        self.dim = check_int("RMSNorm", "dim", dim)
        self.eps = check_real("RMSNorm", "eps", eps, at_least=0.0)
        self.weight = [Value(1.0) for _ in range(self.dim)]
        self._label_parameters()

    def __call__(self, xs: Sequence[Value]) -> list[Value]:
        _check_vector("RMSNorm", xs, self.dim)
        return [g * y for g, y in zip(self.weight, rms_norm(xs, self.eps))]

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [(f"weight.{i}", g) for i, g in enumerate(self.weight)]

    def __repr__(self) -> str:
        return f"RMSNorm({self.dim})"


# --------------------------------------------------------------------------- attention


def attention_weights(query: Sequence[Value], keys: Sequence[Sequence[Value]]) -> list[Value]:
    """How much a query attends to each key: ``softmax_t(q · k_t / sqrt(d))``.

    ``d`` is the length of the query. The scores are scaled by ``1/sqrt(d)`` so that
    they do not grow with ``d`` (a dot product of ``d`` random terms has a standard
    deviation of about ``sqrt(d)``), which keeps the softmax away from a one-hot
    output whose gradient vanishes. The largest score is subtracted before ``exp``
    (stable; it changes nothing), and the weights are positive and add up to 1: they
    are :func:`~tinygrad_edu.losses.softmax` of the scaled scores.
    """
    if not keys:
        raise ValueError("attention_weights: there are no keys to attend to")
    scale = math.sqrt(len(query))
    return softmax([dot(query, key) / scale for key in keys])


def attention(
    query: Sequence[Value], keys: Sequence[Sequence[Value]], values: Sequence[Sequence[Value]]
) -> list[Value]:
    """Scaled dot-product attention of one query: ``sum_t a_t v_t``, see :func:`attention_weights`.

    The output is an average of the value vectors, weighted by how well each key
    matches the query. The scores ``q · k_t`` are fused ``dot`` nodes, and each output
    component is one fused :func:`~tinygrad_edu.engine.softmax_dot` node over the scores
    and that component of every value (:func:`~tinygrad_edu.engine.softmax_average`),
    with the scale ``1/sqrt(d)`` inside it: the
    same numbers as the softmax written out (up to rounding) in far fewer nodes.
    Causal attention passes only the keys and values of the current and earlier
    positions.
    """
    if len(values) != len(keys):
        raise ValueError(f"attention: {len(keys)} keys but {len(values)} values; they must match")
    if not keys:
        raise ValueError("attention: there are no keys to attend to")
    scores = [dot(query, key) for key in keys]
    scale = 1.0 / math.sqrt(len(query))
    return softmax_average(scores, values, scale)


class CausalSelfAttention(Module):
    """Multi-head self-attention over a sequence, each position seeing only itself and earlier.

    Every position's vector ``x`` (of ``n_embd`` numbers) makes a query ``q = Wq x``, a
    key ``k = Wk x`` and a value ``v = Wv x``. These are cut into ``n_head`` heads of
    ``n_embd // n_head`` numbers; in each head the position's query attends over the
    keys and values of positions ``0 .. t`` (:func:`attention`). The heads' outputs are
    put side by side and mixed by ``Wo``. No biases; weights from ``N(0, std²)``
    (``std=None``: PyTorch's Linear default). Parameters are named ``wq.weight.<i>.<j>``,
    ``wk...``, ``wv...``, ``wo...``.

    ``attn(xs)`` maps a whole sequence (a list of vectors) to a list of output vectors,
    applying each of ``Wq``, ``Wk``, ``Wv`` and ``Wo`` to all positions at once.
    :meth:`attend` does one position at a time, keeping earlier keys and values in two
    lists (a "KV cache"), which is how a model generates text token by token. Both give
    the same numbers, bit for bit.
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        *,
        std: float | None = None,
        seed: int | random.Random | None = None,
    ) -> None:
        self.n_embd = check_int("CausalSelfAttention", "n_embd", n_embd)
        self.n_head = check_int("CausalSelfAttention", "n_head", n_head)
        if self.n_embd % self.n_head:
            raise ValueError(
                f"CausalSelfAttention: n_embd ({n_embd}) must be divisible by n_head ({n_head})"
            )
        self.head_dim = self.n_embd // self.n_head
        rng = random_generator("CausalSelfAttention", seed)
        self.wq, self.wk, self.wv, self.wo = (
            Linear(self.n_embd, self.n_embd, bias=False, std=std, seed=rng) for _ in range(4)
        )
        self._label_parameters()

    def attend(
        self, x: Sequence[Value], keys: list[list[Value]], values: list[list[Value]]
    ) -> list[Value]:
        """The output at the next position: appends its key and value, then attends over all."""
        _check_vector("CausalSelfAttention", x, self.n_embd)
        q = self.wq(x)
        keys.append(self.wk(x))
        values.append(self.wv(x))
        return self.wo(self._heads(q, keys, values))

    def __call__(self, xs: Sequence[Sequence[Value]]) -> list[list[Value]]:
        for x in xs:
            _check_vector("CausalSelfAttention", x, self.n_embd)
        queries, keys, values = self.wq.each(xs), self.wk.each(xs), self.wv.each(xs)
        heads = [self._heads(q, keys[: t + 1], values[: t + 1]) for t, q in enumerate(queries)]
        return self.wo.each(heads)

    def _heads(
        self, q: list[Value], keys: list[list[Value]], values: list[list[Value]]
    ) -> list[Value]:
        """Every head's attention of the query ``q`` over ``keys`` and ``values``, side by side."""
        heads = []
        for start in range(0, self.n_embd, self.head_dim):
            head = slice(start, start + self.head_dim)
            heads += attention(q[head], [k[head] for k in keys], [v[head] for v in values])
        return heads

    def named_parameters(self) -> list[tuple[str, Value]]:
        return named_children(self, ("wq", "wk", "wv", "wo"))

    def __repr__(self) -> str:
        return f"CausalSelfAttention(n_embd={self.n_embd}, n_head={self.n_head})"
