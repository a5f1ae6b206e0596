"""Derivatives of functions: ``grad``, ``value_and_grad`` and the pass behind them.

``Value.backward()`` fills in ``.grad`` attributes across a whole graph. These
functions instead take a Python function and return a new function that computes
its derivative, as in JAX, which reads like the mathematics: ``grad(f)`` *is* f'.

They nest: ``grad(grad(f))`` is f''. While a ``grad`` is running inside another one,
the inner backward pass is computed with Values instead of floats (the same
derivative rules, see :mod:`tinygrad_edu.engine`), so the derivative it returns is
itself a graph that the outer ``grad`` can differentiate. The same happens when you
pass Values to ``grad(f)`` while recording: the result stays connected to them, so
``grad(f)(x).backward()`` puts f''(x) into ``x.grad``. With plain numbers (or inside
``no_grad``) the result is a new leaf holding the number.

``f`` always runs with graph recording on, even inside ``no_grad``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

from tinygrad_edu._checks import check_function
from tinygrad_edu.engine import Value, enable_grad, is_grad_enabled, topological_order

__all__ = ["grad", "gradients", "value_and_grad"]

Argnums = int | Sequence[int]


class _Nesting:
    """How many ``grad`` calls are running right now (more than one: nested)."""

    depth = 0


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
        if grad is None or not node.parents:
            continue
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


def value_and_grad(
    f: Callable[..., Value | float], argnums: Argnums = 0
) -> Callable[..., tuple[Value, Value | tuple[Value, ...]]]:
    """Like :func:`grad`, but the new function returns ``(f(*args), gradient(s))``.

    >>> value, slope = value_and_grad(lambda x: x ** 3)(2.0)
    >>> float(value), float(slope)
    (8.0, 12.0)
    """
    check_function("grad", "f", f)
    single = isinstance(argnums, int)
    positions = (argnums,) if single else tuple(argnums)
    if not all(isinstance(i, int) for i in positions):
        raise TypeError(f"grad: argnums must be an int or a tuple of ints, got {argnums!r}")

    def value_and_gradient(*args: object) -> tuple[Value, Value | tuple[Value, ...]]:
        for i in positions:
            if not -len(args) <= i < len(args):
                raise ValueError(f"grad: argnums {i} is out of range for {len(args)} arguments")
        args_list = list(args)
        for i in positions:
            if not isinstance(args_list[i], Value):
                args_list[i] = Value(args_list[i])  # type: ignore[arg-type]
        inputs = [args_list[i] for i in positions]
        # Our answer must itself be a graph when someone may differentiate it: an outer
        # grad, or a caller who passed Values while recording (e.g. gradcheck(grad(f), x)).
        as_graph = _Nesting.depth > 0 or (
            is_grad_enabled() and any(isinstance(args[i], Value) for i in positions)
        )
        _Nesting.depth += 1
        try:
            with enable_grad():  # f's graph is needed even when called inside no_grad
                out = f(*args_list)
        finally:
            _Nesting.depth -= 1
        if not isinstance(out, Value):
            if isinstance(out, bool) or not isinstance(out, numbers.Real):
                raise TypeError(f"grad: f must return a Value, got {type(out).__name__}")
            out = Value(out)  # a function that ignores its inputs: every gradient is 0
        results = gradients(out, inputs, create_graph=as_graph)
        grads = tuple(g if isinstance(g, Value) else Value(g) for g in results)
        return out, grads[0] if single else grads

    return value_and_gradient


def grad(f: Callable[..., Value | float], argnums: Argnums = 0) -> Callable[..., Value | tuple]:
    """The derivative of ``f`` as a new function.

    ``f`` takes Values (or numbers) and returns a scalar Value. ``grad(f)(*args)``
    returns d f / d args[argnums]: one Value for an int ``argnums``, a tuple for a
    tuple. Arguments may be plain numbers. Nesting gives higher derivatives:

    >>> f = lambda x: x ** 3
    >>> float(grad(f)(2.0)), float(grad(grad(f))(2.0))   # 3x^2 and 6x at x = 2
    (12.0, 12.0)
    >>> g = lambda x, y: x * x * y
    >>> float(grad(lambda x, y: grad(g, 1)(x, y))(3.0, 5.0))   # d/dx d/dy = 2x
    6.0
    """
    value_and_gradient = value_and_grad(f, argnums)

    def gradient(*args: object) -> Value | tuple:
        return value_and_gradient(*args)[1]

    return gradient
