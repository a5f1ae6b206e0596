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
* **Nested, Values out.** While a ``grad`` runs inside another one, the inner backward
  pass is computed with Values instead of floats (the same derivative rules, see
  :mod:`tinygrad_edu.engine`), so the derivative it returns is itself a graph that the
  outer ``grad`` differentiates: ``grad(grad(f))`` is f''.

Every plain-number argument reaches ``f`` as a Value, so ``f`` may call methods such
as ``.sin()`` on any of them; other arguments (a list, a model, a flag) are passed as
they are. ``f`` always runs with graph recording on, even inside ``no_grad``.
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Callable, Sequence

from tinygrad_edu._checks import check_function
from tinygrad_edu.engine import Value, enable_grad, is_grad_enabled, topological_order

__all__ = ["grad", "gradients", "value_and_grad"]

Argnums = int | Sequence[int]


class _Nesting(threading.local):
    """How many ``grad`` calls are running right now in this thread (more than one: nested).

    Per thread, like grad mode: a ``grad`` running in another thread is not an outer
    ``grad`` of ours.
    """

    depth = 0


_nesting = _Nesting()


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
        if create_graph:
            local_grads = node._op.derivative(*node.parents, *node.constants, node)
        else:
            local_grads = node.local_grads
        for parent, local_grad in zip(node.parents, local_grads):
            if local_grad == 0.0:  # as in backward(): a zero slope passes nothing on
                continue
            contribution = local_grad * grad
            grads[parent] = grads[parent] + contribution if parent in grads else contribution
    return [grads.get(x, 0.0) for x in inputs]


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


def value_and_grad(
    f: Callable[..., Value | float], argnums: Argnums = 0
) -> Callable[..., tuple[Value | float, Value | float | tuple]]:
    """Like :func:`grad`, but the new function returns ``(f(*args), gradient(s))``.

    >>> value_and_grad(lambda x: x ** 3)(2.0)
    (8.0, 12.0)
    """
    check_function("grad", "f", f)
    positions = _positions(argnums)
    single = len(positions) == 1 and not isinstance(argnums, (tuple, list))

    def value_and_gradient(*args: object) -> tuple[Value | float, Value | float | tuple]:
        for i in positions:
            if not -len(args) <= i < len(args):
                raise ValueError(f"grad: argnums {i} is out of range for {len(args)} arguments")
            if not (isinstance(args[i], Value) or _is_number(args[i])):
                raise TypeError(
                    f"grad: argument {i} must be a number or a Value, got {type(args[i]).__name__}"
                )
        values_in = any(isinstance(x, Value) for x in args)
        args_list = [Value(x) if _is_number(x) else x for x in args]  # type: ignore[arg-type]
        inputs = [args_list[i] for i in positions]
        # Our answer must itself be a graph when someone may differentiate it: an outer
        # grad, or a caller who passed Values while recording (e.g. gradcheck(grad(f), x)).
        nested = _nesting.depth > 0
        as_graph = nested or (values_in and is_grad_enabled())
        _nesting.depth += 1
        try:
            with enable_grad():  # f's graph is needed even when called inside no_grad
                out = f(*args_list)
        finally:
            _nesting.depth -= 1
        if not isinstance(out, Value):
            if not _is_number(out):
                raise TypeError(f"grad: f must return a Value, got {type(out).__name__}")
            out = Value(out)  # a function that ignores its inputs: every gradient is 0
        results = gradients(out, inputs, create_graph=as_graph)
        if nested or values_in:
            value: Value | float = out
            grads: tuple = tuple(g if isinstance(g, Value) else _as_leaf(g) for g in results)
        else:  # plain numbers in: plain numbers out
            value, grads = out.data, tuple(results)
        return value, grads[0] if single else grads

    return value_and_gradient


def grad(
    f: Callable[..., Value | float], argnums: Argnums = 0
) -> Callable[..., Value | float | tuple]:
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

    ``argnums`` is an int or a tuple of ints (negative counts from the end); anything
    else, a float or a bool included, is a TypeError.
    """
    value_and_gradient = value_and_grad(f, argnums)

    def gradient(*args: object) -> Value | float | tuple:
        return value_and_gradient(*args)[1]

    return gradient
