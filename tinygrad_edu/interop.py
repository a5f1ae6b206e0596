"""Values meet the rest of Python: pickle and ``copy``, and NumPy scalars.

Apart from the engine because none of it is about derivatives: it makes a ``Value`` behave
well where other libraries expect things of it. Importing the package installs these
methods on :class:`~tinygrad_edu.engine.Value` and :class:`~tinygrad_edu.engine.Op`
(``tinygrad_edu/__init__.py`` imports this module), so they are always there; this module
imports the engine, never the reverse.

* **Pickling.** A Value with a graph pickles as a flat list of its nodes, not as nested
  objects: the default would recurse once per level of the graph and fail on deep ones.
  Leaves (weights, inputs) are pickled as themselves, so a model's parameters and a loss
  computed from them are still connected after ``pickle.loads``; the nodes between them are
  rebuilt from the list. ``copy.deepcopy`` takes the same path. Built-in operations pickle
  by name, so a pickled graph stays small and its ops stay the very same objects.
* **NumPy.** ``np.float64(2) * Value(3)`` is a Value: NumPy's arithmetic and comparisons
  hand over to our operators. Any other NumPy function (``np.exp``) would take the number
  out of the graph and drop its gradient, so it is refused, as ``float(v)`` is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from tinygrad_edu import engine, fused
from tinygrad_edu.engine import Op, Operand, Value, _new_value, topological_order
from tinygrad_edu.operators import as_float

__all__ = ["builtin_ops", "leaves_the_graph"]  # and the methods it installs on Value and Op

# --------------------------------------------------------------------------- pickling


def builtin_ops() -> dict[Op, str]:
    """Every built-in Op, with the name of its variable (``MUL``, ``TANH``, ``DOT``...)."""
    return {
        op: key
        for module in (engine, fused)
        for key, op in vars(module).items()
        if isinstance(op, Op)
    }


def _builtin_op(key: str) -> Op:
    """The built-in Op named ``key``: how a pickled op is found again."""
    op = next((op for op, name in builtin_ops().items() if name == key), None)
    if op is None:
        raise ValueError(f"unpickling: no built-in operation named {key!r}")
    return op


def _reduce_op(self: Op, protocol: object) -> object:
    """Built-in ops pickle by their name; other ops the usual way (their rules must then
    be module-level functions, as for any pickled function)."""
    key = builtin_ops().get(self)
    if key is None:
        return object.__reduce_ex__(self, protocol)
    return (_builtin_op, (key,))


def _reduce_value(self: Value, protocol: object) -> object:
    """A leaf pickles as its number, gradient and label; a graph as its flat node list."""
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


def _leaf(data: float, grad: float, label: str) -> Value:
    """Unpickle a leaf."""
    leaf = Value(data, label)
    leaf.grad = grad
    return leaf


def _rebuild_graph(records: list) -> Value:
    """Unpickle a graph from the flat list :func:`_reduce_value` made; returns its root."""
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


# --------------------------------------------------------------------------- NumPy

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


def _array_ufunc(
    self: Value, ufunc: Callable, method: str, *inputs: object, **kwargs: object
) -> Value | bool:
    """NumPy scalars meet Values: arithmetic and comparisons use our own operators,
    so ``np.float64(2) * Value(3)`` is a Value; any other NumPy function (``np.exp``)
    would drop the gradient, so it is refused."""
    methods = _NUMPY_OPERATORS.get(getattr(ufunc, "__name__", ""))
    if methods is None or method != "__call__" or kwargs or len(inputs) != 2:
        raise TypeError(leaves_the_graph(f"numpy.{getattr(ufunc, '__name__', ufunc)}()"))
    left, right = (x if isinstance(x, Value) else x.item() for x in inputs)  # NumPy scalars
    if isinstance(left, Value):
        return getattr(left, methods[0])(right)
    return getattr(right, methods[1])(left)


# --------------------------------------------------------------------------- comparisons
# ``<``, ``<=``, ``>``, ``>=`` compare the numbers and give a plain bool, so
# ``if loss < 0.01:``, ``max(a, b)`` and ``sorted(values)`` work as with floats, and
# ``max(a, b)`` returns one of the two Values, through which the gradient flows.
# ``==`` and ``hash`` stay by identity: every backward pass keeps Values as
# dictionary keys, and two different nodes that happen to hold the same number
# must stay two keys. So ``Value(2.0) == 2.0`` is False; compare ``v.data``.


def _comparable(other: object) -> float:
    """The number to compare a Value with; anything else is a TypeError, as for floats."""
    if isinstance(other, Value):
        return other._data
    number = as_float(other, "comparison")
    if number is None:
        raise TypeError(f"cannot compare a Value with {type(other).__name__}")
    return number


def _less(self: Value, other: Operand) -> bool:
    return self._data < _comparable(other)


def _less_or_equal(self: Value, other: Operand) -> bool:
    return self._data <= _comparable(other)


def _greater(self: Value, other: Operand) -> bool:
    return self._data > _comparable(other)


def _greater_or_equal(self: Value, other: Operand) -> bool:
    return self._data >= _comparable(other)


def _is_nonzero(self: Value) -> bool:
    """True when the number is not 0, as for a float."""
    return self._data != 0.0


# --------------------------------------------------------------------------- conversions


def leaves_the_graph(what: str) -> str:
    """The message for a conversion that would take a Value's number out of the graph."""
    return (
        f"{what} of a Value would take its number out of the graph, so no gradient would "
        "flow back through it. Use the Value's own method to stay in the graph (v.exp(), "
        "v.log(), v.sqrt(), v.tanh(), v.sin(), ...), or v.data / v.item() for the number."
    )


def _float(self: Value) -> NoReturn:
    """Refused: ``float(v)`` (and ``math.exp(v)``, which calls it) would leave the graph."""
    raise TypeError(leaves_the_graph("float()"))


def _complex(self: Value) -> NoReturn:
    """Refused, as ``float(v)`` is."""
    raise TypeError(leaves_the_graph("complex()"))


def _int(self: Value) -> NoReturn:
    """Refused, as ``float(v)`` is: ``int(v)``, ``math.floor(v)`` and the like."""
    raise TypeError(leaves_the_graph("int()"))


def _round(self: Value, ndigits: int | None = None) -> NoReturn:
    """Refused, as ``float(v)`` is: a rounded number has no gradient to pass on."""
    raise TypeError(leaves_the_graph("round()"))


def _format(self: Value, spec: str) -> str:
    """``f"{loss:.3f}"`` formats the number; ``f"{v}"`` is ``str(v)``."""
    return format(self._data, spec) if spec else str(self)


# --------------------------------------------------------------------------- installing


def _name_the_methods(cls: type) -> None:
    """Give the factory-made methods the names help(), tracebacks and pickle expect.

    Pickle finds a function by its qualified name, so ``Value.relu`` (kept by a Neuron as
    its activation) must be called that, not ``_unary_method.<locals>.method``.
    """
    for name, method in vars(cls).items():
        if callable(method) and "<locals>" in getattr(method, "__qualname__", ""):
            method.__name__ = name
            method.__qualname__ = f"{cls.__name__}.{name}"


Op.__reduce_ex__ = _reduce_op  # type: ignore[method-assign]
Value.__reduce_ex__ = _reduce_value  # type: ignore[method-assign]
Value.__array_ufunc__ = _array_ufunc  # type: ignore[attr-defined]
Value.__lt__ = _less  # type: ignore[method-assign]
Value.__le__ = _less_or_equal  # type: ignore[method-assign]
Value.__gt__ = _greater  # type: ignore[method-assign]
Value.__ge__ = _greater_or_equal  # type: ignore[method-assign]
Value.__bool__ = _is_nonzero  # type: ignore[method-assign]
Value.__float__ = _float  # type: ignore[method-assign]
Value.__complex__ = _complex  # type: ignore[method-assign]
Value.__int__ = Value.__trunc__ = _int  # type: ignore[method-assign]
Value.__floor__ = Value.__ceil__ = _int  # type: ignore[attr-defined]
Value.__round__ = _round  # type: ignore[attr-defined]
Value.__format__ = _format  # type: ignore[method-assign]
_name_the_methods(Value)
