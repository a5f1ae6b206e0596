"""Derivatives of functions: ``grad``, ``value_and_grad`` and the pass behind them.

``Value.backward()`` fills in ``.grad`` attributes across a whole graph. These
functions instead take a Python function and return a new function that computes
its derivative, as in JAX, which reads like the mathematics: ``grad(f)`` *is* f'.

>>> grad(lambda x: x ** 3)(2.0)      # 3x^2 at x = 2
12.0

What comes back depends on what goes in:

* **Plain numbers in, plain floats out.** ``grad(f)(2.0)`` is the float f'(2.0). An
  infinite slope comes back as ``inf``, as ``backward()`` gives it
  (``grad(lambda x: x.sqrt())(0.0)`` is ``inf``).
* **Values in, Values out.** Pass Values while recording and the result stays
  connected to them, so ``grad(f)(x).backward()`` puts f''(x) into ``x.grad``.
  (Inside ``no_grad`` the result is a new leaf holding the number.)
* **Nested, Values out.** While a ``grad`` runs inside another one (or inside ``vjp``
  or a reverse-mode ``jacobian``), the inner backward pass is computed with Values
  instead of floats (the same derivative rules, see :mod:`tinygrad_edu.engine`), so the
  derivative it returns is itself a graph that the outer one differentiates:
  ``grad(grad(f))`` is f''. This holds even when the inner call is given plain numbers,
  since its function may use the outer input: ``grad(lambda x: grad(lambda y: x * y)(1.0))``.

Every plain-number positional argument reaches ``f`` as a Value, so ``f`` may call
methods such as ``.sin()`` on any of them; other arguments (a model, a flag) are passed
as they are, and so are keyword arguments, which are never differentiated (as in JAX).
An argument being differentiated may also be a list of numbers (a vector); its
gradient is then a list. ``f`` always runs with graph recording on, even inside ``no_grad``.

**Each argument is a fresh input.** ``grad(f)(x)`` is d f / d (f's parameter), at the
number ``x``, not the derivative with respect to whatever object was passed. The two
differ as soon as ``f`` also uses that object some other way::

    x = Value(3.0)
    grad(lambda y: x * y)(x)     # d/dy (x * y) with x fixed: x = 3, not d/dx x**2 = 6

Had ``f`` received ``x`` itself, ``x * y`` would be ``x * x`` to the backward pass, and
the two roles of ``x`` would be mixed up: *perturbation confusion*, the classic bug of
nested derivatives (JAX's "Autodidax" tells its story). It bites most often unseen,
inside nested calls: in ``grad(lambda x: grad(lambda y: x * x * y)(x))``, the inner
derivative is ``x * x`` and the outer one ``2x``, but an inner ``grad`` that took ``y``
to be the outer ``x`` would differentiate ``x ** 3`` instead. So every argument that is
differentiated reaches ``f`` as a new node of its own (:func:`fresh_input`): a plain
number as a new leaf, a Value ``v`` as a node of op ``"input"`` whose only parent is
``v``, with slope 1. The derivative is taken with respect to that node, so ``v`` used
directly counts as a constant; and the node depends on ``v``, so the result is still
connected to ``v``, and an outer derivative (or ``backward()``) reaches ``v`` through it.
That costs one node per Value argument (plain numbers cost nothing extra).
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Callable, Sequence
from typing import Any

from tinygrad_edu._checks import check_function
from tinygrad_edu.engine import (
    Op,
    Value,
    _unary_method,
    enable_grad,
    is_grad_enabled,
    topological_order,
)

__all__ = ["INPUT", "fresh_input", "grad", "gradients", "value_and_grad"]

Argnums = int | Sequence[int]


class _Nesting(threading.local):
    """How many reverse-mode transforms (``grad``, ``vjp``, a reverse ``jacobian``) are
    running their function right now in this thread.

    While one is, anything computed may be differentiated by it, so a transform called
    inside must answer with a graph even when given plain numbers: in
    ``grad(lambda x: jacobian(lambda y: x * y)(1.0)[0][0])`` the inner answer is ``x``,
    and a plain float there would cut it off from the outer ``grad``. Per thread, like
    grad mode: a transform running in another thread is not an outer one of ours.
    """

    depth = 0


_nesting = _Nesting()


class _Differentiating(enable_grad):
    """Around the call of ``f`` by a reverse-mode transform: recording on, nesting counted.

    Recording is on because f's graph is needed even when the transform is called inside
    ``no_grad``.
    """

    def __enter__(self) -> None:
        _nesting.depth += 1
        super().__enter__()

    def __exit__(self, *exc_info: object) -> None:
        _nesting.depth -= 1
        super().__exit__(*exc_info)


def _nested() -> bool:
    """Whether a reverse-mode transform is running its function (see ``_Nesting``)."""
    return _nesting.depth > 0


def gradients(
    root: Value, inputs: Sequence[Value], create_graph: bool = False
) -> list[float | Value]:
    """d root / d input for each input, without touching any ``.grad`` attribute.

    This is ``backward()``'s pass with the gradients kept in a dictionary. With
    ``create_graph=True`` each local derivative is recomputed from the node's operands
    *as Values*, so the gradients returned are graphs that can be differentiated again.
    An input that ``root`` does not depend on gets 0.0.
    """
    grads: dict[Value, float | Value] = {root: 1.0}
    for node in reversed(topological_order(root)):
        grad = grads.get(node)
        if grad is None or not node.parents or (type(grad) is float and grad == 0.0):
            continue  # as in backward(): a zero gradient passes nothing on
        local_grads = _derivative_as_graph(node) if create_graph else node.local_grads
        for parent, local_grad in zip(node.parents, local_grads):
            if local_grad == 0.0:  # as in backward(): a zero slope passes nothing on
                continue
            if type(local_grad) is float and local_grad == 1.0:
                contribution = grad  # 1 * g is g: a graph being built needs no node for it
            else:
                contribution = local_grad * grad
            grads[parent] = grads[parent] + contribution if parent in grads else contribution
    return [grads.get(x, 0.0) for x in inputs]


def _derivative_as_graph(node: Value) -> tuple:
    """``node``'s local derivatives computed from its operands *as Values* (a graph).

    A derivative rule written with :mod:`math` (``math.cos(x)``) works in an ordinary
    backward pass, where the operands are floats, and fails here, where they are Values:
    the TypeError is raised again naming the operation and the two ways to fix it.
    """
    op = node._op
    try:
        return op.checked_derivative((*node.parents, *node.constants), node, len(node.parents))
    except TypeError as error:
        raise TypeError(
            f"grad: the derivative rule of the operation {op.name!r} cannot run on Values. "
            "Nested derivatives (grad of grad, hessian, a grad inside jacobian or vjp) are "
            "computed as graphs, so the rule is given Values, not floats, and math.* refuses "
            "them. Make the rule work on both, using a Value's own methods "
            "(x.cos() if isinstance(x, Value) else math.cos(x)), or give a "
            "second-order rule: for a Value, return an Op of your own whose derivative rule "
            "gives the next derivative"
        ) from error


def _same_number(x: float) -> float:
    """The forward rule of a fresh input: it holds the very number it was given."""
    return x


def _slope_one(x: float | Value, out: float | Value) -> tuple[float]:
    """The derivative rule of a fresh input: d input / d the Value it was made from = 1."""
    return (1.0,)


#: The operation of a fresh input (see :func:`fresh_input`): the identity, slope 1.
INPUT = Op("input", _same_number, _slope_one)


def fresh_input(x: float | Value) -> Value:
    """A new input holding ``x``'s number, for a function about to be differentiated.

    A plain number becomes a new leaf. A Value ``x`` becomes a new node of op ``"input"``
    whose one parent is ``x`` (local derivative 1): a derivative taken with respect to
    the new node treats every direct use of ``x`` as a constant, while the node still
    depends on ``x``, so the result stays connected to it (see the module docstring on
    perturbation confusion). For a dual number of forward mode it is a dual number
    again, with the same tangent. Call it with graph recording on.

    >>> x = Value(3.0)
    >>> y = fresh_input(x)
    >>> y.data, y.op, y.parents == (x,)
    (3.0, 'input', True)
    """
    return _input_node(x) if isinstance(x, Value) else Value(x)


# Made the way Value's own one-operand methods are (``x.exp()``), so it costs as little.
_input_node = _unary_method(INPUT, "A fresh input: a node of op 'input' with one parent.")


def _positions(argnums: object) -> tuple[int, ...]:
    """``argnums`` as a tuple of ints; a TypeError for anything else (a float, a bool, ...)."""

    def is_index(i: object) -> bool:
        return isinstance(i, numbers.Integral) and not isinstance(i, bool)

    if is_index(argnums):
        return (int(argnums),)  # type: ignore[call-overload]
    if isinstance(argnums, (tuple, list)) and argnums and all(is_index(i) for i in argnums):
        return tuple(int(i) for i in argnums)
    raise TypeError(f"grad: argnums must be an int or a non-empty tuple of ints, got {argnums!r}")


def _is_number(x: object) -> bool:
    """A plain real number (a bool is a flag, not a number)."""
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, Value))


def _as_leaf(g: float) -> Value:
    """A plain-number gradient as a Value, for a caller who passed Values."""
    if not math.isfinite(g):
        raise ValueError(
            f"grad: the derivative is {g!r} here, which a Value cannot hold (it must be "
            "finite), so it cannot be differentiated further; grad called with plain "
            "numbers returns it as a float"
        )
    return Value(g)


def _fresh_argument(i: int, arg: object) -> Value | list | tuple:
    """Argument ``i`` as fresh inputs: one for a number or a Value, one per entry of a list."""
    if isinstance(arg, (list, tuple)):
        entries = [_fresh_scalar(f"argument {i}[{j}]", x) for j, x in enumerate(arg)]
        return entries if isinstance(arg, list) else tuple(entries)
    return _fresh_scalar(f"argument {i}", arg)


def _fresh_scalar(name: str, x: object) -> Value:
    if isinstance(x, Value):
        return _input_node(x)
    if not _is_number(x):
        raise TypeError(
            f"grad: {name} must be a number, a Value or a list of them, got {type(x).__name__}"
        )
    return Value(x)  # type: ignore[arg-type]


def _shaped(fresh: list, slopes: list) -> tuple:
    """The gradients, one per fresh argument, a list of them for a list argument."""
    grads, k = [], 0
    for arg in fresh:
        if isinstance(arg, (list, tuple)):
            entries = slopes[k : k + len(arg)]
            grads.append(entries if isinstance(arg, list) else tuple(entries))
            k += len(arg)
        else:
            grads.append(slopes[k])
            k += 1
    return tuple(grads)


def _numbers(aux: Any) -> Any:
    """``aux`` with every Value replaced by its number, inside lists, tuples and dicts."""
    if isinstance(aux, Value):
        return aux.data
    if isinstance(aux, list):
        return [_numbers(x) for x in aux]
    if isinstance(aux, tuple):
        return tuple(_numbers(x) for x in aux)
    if isinstance(aux, dict):
        return {key: _numbers(x) for key, x in aux.items()}
    return aux


def _split(result: object) -> tuple[object, Any]:
    """With ``has_aux=True``, f's result as the value to differentiate and the aux output."""
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(
            "grad: with has_aux=True, f must return a pair (value, aux), "
            f"got {type(result).__name__}"
        )
    return result[0], result[1]


def value_and_grad(
    f: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False
) -> Callable[..., tuple[Any, Any]]:
    """Like :func:`grad`, but the new function returns ``(f(*args), gradient(s))``.

    >>> value_and_grad(lambda x: x ** 3)(2.0)
    (8.0, 12.0)

    With ``has_aux=True``, ``f`` returns a pair ``(value, aux)``: only ``value`` is
    differentiated, and ``aux`` (anything: a prediction, a list of Values) comes back as
    ``((value, aux), gradient(s))``, as in JAX. With plain numbers in, the Values in
    ``aux`` (in lists, tuples and dicts too) come back as their numbers.

    >>> value_and_grad(lambda x: (x * x, x + 1.0), has_aux=True)(3.0)
    ((9.0, 4.0), 6.0)
    """
    check_function("grad", "f", f)
    positions = _positions(argnums)
    single = len(positions) == 1 and not isinstance(argnums, (tuple, list))
    if not isinstance(has_aux, bool):
        raise TypeError(f"grad: has_aux must be True or False, got {has_aux!r}")

    def value_and_gradient(*args: object, **kwargs: object) -> tuple[Any, Any]:
        chosen = []
        for i in positions:
            if not -len(args) <= i < len(args):
                raise ValueError(f"grad: argnums {i} is out of range for {len(args)} arguments")
            chosen.append(i % len(args))
        values_in = any(
            isinstance(x, Value)
            or (isinstance(x, (list, tuple)) and any(isinstance(v, Value) for v in x))
            for x in args
        )
        # Our answer must itself be a graph when someone may differentiate it: an outer
        # grad, or a caller who passed Values while recording (e.g. gradcheck(grad(f), x)).
        nested = _nested()
        as_graph = nested or (values_in and is_grad_enabled())
        with _Differentiating():
            fresh = {i: _fresh_argument(i, args[i]) for i in chosen}
            f_args = [
                fresh[i] if i in fresh else Value(x) if _is_number(x) else x  # type: ignore[arg-type]
                for i, x in enumerate(args)
            ]
            result = f(*f_args, **kwargs)
            out, aux = _split(result) if has_aux else (result, None)
        if not isinstance(out, Value):
            if not _is_number(out):
                raise TypeError(f"grad: f must return a Value, got {type(out).__name__}")
            out = Value(out)  # a function that ignores its inputs: every gradient is 0
        inputs, vectors = [], False
        for i in chosen:
            if isinstance(fresh[i], (list, tuple)):
                inputs += fresh[i]
                vectors = True
            else:
                inputs.append(fresh[i])
        slopes = gradients(out, inputs, create_graph=as_graph)
        if nested or values_in:
            value: Value | float = out
            slopes = [g if isinstance(g, Value) else _as_leaf(g) for g in slopes]
        else:  # plain numbers in: plain numbers out
            value, aux = out.data, _numbers(aux) if has_aux else None
        grads = _shaped([fresh[i] for i in chosen], slopes) if vectors else tuple(slopes)
        return ((value, aux) if has_aux else value), grads[0] if single else grads

    return value_and_gradient


def grad(f: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """The derivative of ``f`` as a new function.

    ``f`` takes Values and returns a scalar Value. ``grad(f)(*args)`` returns
    d f / d args[argnums]: one derivative for an int ``argnums``, a tuple of them for a
    tuple. Called with plain numbers it returns floats; called with Values, Values
    connected to them (see the module docstring). Nesting gives higher derivatives:

    >>> f = lambda x: x ** 3
    >>> grad(f)(2.0), grad(grad(f))(2.0)      # 3x^2 and 6x at x = 2
    (12.0, 12.0)
    >>> g = lambda x, y: x * x * y + y.sin()  # y reaches g as a Value too
    >>> grad(lambda x, y: grad(g, 1)(x, y))(3.0, 5.0)   # d/dx d/dy = 2x
    6.0
    >>> grad(lambda x: x.sqrt())(0.0)         # an infinite slope, as backward() gives it
    inf

    Each argument is a fresh input of ``f`` (see the module docstring), so a Value that
    ``f`` also uses directly is a constant to the derivative, as in JAX and torch.func:

    >>> x = Value(3.0)
    >>> grad(lambda y: x * y)(x).data         # d/dy (x y) = x, with y := x
    3.0
    >>> grad(lambda x: grad(lambda y: x * x * y)(x))(2.0)   # d/dx x^2 = 2x
    4.0

    An argument may be a list of numbers (a vector): its gradient is a list.

    >>> grad(lambda v: v[0] * v[1] + v[1])([2.0, 5.0])
    [5.0, 3.0]

    ``argnums`` is an int or a tuple of ints (negative counts from the end); anything
    else, a float or a bool included, is a TypeError. With ``has_aux=True``, ``f``
    returns ``(value, aux)`` and the new function ``(gradient(s), aux)``, as in JAX.

    Keyword arguments go to ``f`` as they are and are never differentiated (as in
    JAX, ``argnums`` counts positional arguments only), so they suit settings:

    >>> grad(lambda x, scale=1.0: scale * x ** 2)(3.0, scale=10.0)
    60.0

    To differentiate with respect to one, pass it by position instead.
    """
    value_and_gradient = value_and_grad(f, argnums, has_aux)

    def gradient(*args: object, **kwargs: object) -> Any:
        value, grads = value_and_gradient(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads

    return gradient
