"""A small, safe parser for arithmetic expressions over Values (``tinygrad-edu graph``).

``parse`` turns text such as ``"tanh(x*w + b)"`` into a syntax tree and ``evaluate``
computes it with :class:`~tinygrad_edu.engine.Value` arithmetic, so the result has a
graph you can ``backward()`` through and draw:

>>> from tinygrad_edu import Value
>>> expression = parse("tanh(x*w + b)")
>>> x, w, b = Value(1.0, "x"), Value(2.0, "w"), Value(-1.0, "b")
>>> y = evaluate(expression, {"x": x, "w": w, "b": b})
>>> y.backward()
>>> round(y.data, 6), round(w.grad, 6)     # dy/dw = x * (1 - tanh(xw + b)**2)
(0.761594, 0.419974)

Why not ``eval``? Text typed at a command line is untrusted: Python's ``eval`` would run
``__import__('os').system(...)`` as happily as ``x*w``. This module reads the text one
token at a time and accepts only this grammar, nothing else::

    sum      := product (('+' | '-') product)*
    product  := unary (('*' | '/') unary)*
    unary    := '-' unary | power
    power    := primary ('**' unary)?
    primary  := NUMBER | NAME | FUNCTION '(' sum ')' | '(' sum ')'

Each rule is one method of a recursive-descent parser, and the rules encode Python's
precedence: ``**`` binds tightest and groups to the right (``2**3**2 == 2**9``), unary
minus binds looser than ``**`` (``-x**2 == -(x**2)``) and tighter than ``*``. NUMBER is a
decimal such as ``2``, ``0.5``, ``.5`` or ``1e-3``; NAME is a variable; FUNCTION is one of
:data:`FUNCTIONS`. Anything else (attribute access, subscripts, strings, commas, Python
keywords, unknown functions) is refused with an :class:`ExpressionError` that names the
column of the problem.

Bounds keep every input cheap and the parser's recursion shallow: at most
:data:`MAX_LENGTH` characters, :data:`MAX_DEPTH` levels of nesting (parentheses, signs and
powers) and :data:`MAX_OPERATIONS` operations, more than a readable graph holds anyway.
Evaluation turns the engine's domain errors (``log(-1)``, ``1/0``, ``exp(1000)``, any
result too large for a float64) into an ``ExpressionError`` too, so a caller handles one
exception.
"""

from __future__ import annotations

import keyword
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from tinygrad_edu.engine import Value

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_OPERATIONS",
    "Binary",
    "Call",
    "Expression",
    "ExpressionError",
    "Name",
    "Negate",
    "Node",
    "Number",
    "evaluate",
    "parse",
    "parse_assignments",
]

#: The longest expression accepted, in characters.
MAX_LENGTH = 1000
#: The deepest nesting accepted; each parenthesis, unary minus and ``**`` opens a level.
MAX_DEPTH = 50
#: The most operations (operators and function calls) in one expression.
MAX_OPERATIONS = 200

#: The functions an expression may call: the engine's one-argument Value methods.
FUNCTIONS: dict[str, Callable[[Value], Value]] = {
    "abs": Value.__abs__,
    "cos": Value.cos,
    "exp": Value.exp,
    "leaky_relu": Value.leaky_relu,
    "log": Value.log,
    "relu": Value.relu,
    "sigmoid": Value.sigmoid,
    "sin": Value.sin,
    "sqrt": Value.sqrt,
    "tanh": Value.tanh,
}

_BINARY_OPERATORS: dict[str, Callable[[Value | float, Value | float], Value]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
}


class ExpressionError(ValueError):
    """An expression (or a ``NAME=VALUE`` input) that cannot be parsed or evaluated.

    The message is one line. When the problem has a place, it starts with the column
    (counted from 1) and the text from there on, e.g.
    ``at column 2 ('.__class__'): attribute access ('.') is not allowed``.
    ``position`` is the 0-based index of the problem in the text, or None.
    """

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.position = position
        if position is not None:
            if position >= len(text):
                message = f"at the end of the expression: {message}"
            else:
                excerpt = text[position : position + 20]
                if position + 20 < len(text):
                    excerpt += "..."
                message = f"at column {position + 1} ({excerpt!r}): {message}"
        super().__init__(message)


# --------------------------------------------------------------------------- the syntax tree


@dataclass(frozen=True)
class Number:
    """A numeric literal; ``position`` is its index in the text."""

    value: float
    position: int


@dataclass(frozen=True)
class Name:
    """A variable, given a value when the expression is evaluated."""

    name: str
    position: int


@dataclass(frozen=True)
class Negate:
    """Unary minus, ``-operand``."""

    operand: Node
    position: int


@dataclass(frozen=True)
class Binary:
    """``left op right`` for ``op`` in ``+ - * / **``; ``position`` is the operator's."""

    op: str
    left: Node
    right: Node
    position: int


@dataclass(frozen=True)
class Call:
    """``function(argument)`` for a function of :data:`FUNCTIONS`."""

    function: str
    argument: Node
    position: int


Node = Number | Name | Negate | Binary | Call


@dataclass(frozen=True)
class Expression:
    """A parsed expression: the source ``text`` and the ``root`` of its syntax tree."""

    text: str
    root: Node

    def __str__(self) -> str:
        return self.text


# --------------------------------------------------------------------------- tokens

# Digits split one way only ("[0-9]+\.?[0-9]*" could split "111" three ways, which made
# a failed match quadratic in the number's length).
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TOKEN = re.compile(
    rf"(?P<space>[ \t]+)|(?P<number>{_NUMBER})|(?P<name>{_NAME})|(?P<operator>\*\*|/(?!/)|[-+*()])"
)
# A number may not run straight into a name, a digit or a point: "2x" and "1.2.3" are typos.
_RUN_ON = re.compile(r"[A-Za-z0-9_.]")

# Characters a Python user might try, and why each is refused.
_REFUSED = {
    ".": "attribute access ('.') is not allowed",
    "[": "subscripts ('[') are not allowed",
    "]": "subscripts (']') are not allowed",
    ",": "',' is not allowed: every function takes exactly one argument",
    "'": "strings are not allowed",
    '"': "strings are not allowed",
    ";": "';' is not allowed: give a single expression",
    "=": "'=' is not allowed in the expression: give values as separate NAME=VALUE arguments",
    ":": "':' is not allowed: only arithmetic is",
}
_OPERATORS = "+ - * / **"


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "name", "operator" or "end"
    text: str
    position: int


def _tokens(text: str) -> Iterator[_Token]:
    """The tokens of ``text``, then an "end" token.

    A generator, so an invalid character is reported only when the parser reaches it:
    the error a user sees is always the leftmost problem.
    """
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _refusal(text, position)
        kind = match.lastgroup
        end = match.end()
        if kind == "number":
            if end < len(text) and _RUN_ON.match(text, end):
                raise ExpressionError(
                    f"malformed number: it runs into {text[end]!r} (write 2*x, not 2x)",
                    text,
                    position,
                )
            if math.isinf(float(match.group())):
                raise ExpressionError("number too large for a float64", text, position)
        if kind != "space":
            yield _Token(kind, match.group(), position)
        position = end
    yield _Token("end", "", position)


def _refusal(text: str, position: int) -> ExpressionError:
    """The error for the character at ``position``, which starts no token."""
    char = text[position]
    if text.startswith("//", position) or char in "%@&|^~<>!":
        two = text[position : position + 2]
        symbol = two if two in ("//", "<<", ">>", "<=", ">=", "!=") else char
        reason = f"operator {symbol!r} is not supported; the operators are {_OPERATORS}"
    else:
        reason = _REFUSED.get(char, f"unexpected character {char!r}")
    return ExpressionError(reason, text, position)


# --------------------------------------------------------------------------- the parser


def parse(text: str) -> Expression:
    """Parse ``text`` into an :class:`Expression`; raise :class:`ExpressionError` if invalid.

    >>> tree = parse("-x**2").root        # -(x**2), as in Python
    >>> type(tree).__name__, tree.operand.op
    ('Negate', '**')
    """
    if not isinstance(text, str):
        raise TypeError(f"parse: text must be a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}"
        )
    return Expression(text, _Parser(text).parse())


def _check_variable_name(name: str, text: str, position: int) -> None:
    """Refuse a name that is a Python keyword or one of the functions."""
    if keyword.iskeyword(name):
        raise ExpressionError(
            f"{name!r} is a Python keyword; only arithmetic is allowed", text, position
        )
    if name in FUNCTIONS:
        raise ExpressionError(
            f"{name!r} is a function, not a variable: call it as {name}(...)", text, position
        )


class _Parser:
    """Recursive descent: one method per grammar rule, one token of lookahead."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._tokens = _tokens(text)
        self.token = next(self._tokens)
        self.depth = 0
        self.operations = 0

    def error(self, message: str, position: int) -> ExpressionError:
        return ExpressionError(message, self.text, position)

    def advance(self) -> _Token:
        """Consume the current token and return it."""
        token = self.token
        self.token = next(self._tokens)
        return token

    def at(self, *operators: str) -> bool:
        return self.token.kind == "operator" and self.token.text in operators

    def unexpected(self, expected: str) -> ExpressionError:
        token = self.token
        found = "nothing" if token.kind == "end" else f"{token.kind} {token.text!r}"
        return self.error(f"expected {expected}, found {found}", token.position)

    def operation(self, node: Node) -> Node:
        """Count an operation node against :data:`MAX_OPERATIONS`."""
        self.operations += 1
        if self.operations > MAX_OPERATIONS:
            raise self.error(
                f"more than {MAX_OPERATIONS} operations; a graph that big cannot be read",
                node.position,
            )
        return node

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise ExpressionError("the expression is empty")
        node = self.sum()
        if self.token.kind != "end":
            raise self.unexpected(f"an operator ({_OPERATORS}) or the end")
        return node

    def sum(self) -> Node:
        node = self.product()
        while self.at("+", "-"):
            op = self.advance()
            node = self.operation(Binary(op.text, node, self.product(), op.position))
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.at("*", "/"):
            op = self.advance()
            node = self.operation(Binary(op.text, node, self.unary(), op.position))
        return node

    def unary(self) -> Node:
        # Every way to nest (parentheses, signs, the right side of **) passes here, so
        # this one counter, the number of levels open around this point, bounds the
        # recursion.
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} levels deep", self.token.position)
        self.depth += 1
        if self.at("-"):
            sign = self.advance()
            node = self.operation(Negate(self.unary(), sign.position))
        else:
            node = self.power()
        self.depth -= 1
        return node

    def power(self) -> Node:
        base = self.primary()
        if self.at("**"):
            op = self.advance()
            # The exponent is a unary, not a power: this makes ** group to the right
            # and allows 2**-1, as in Python.
            return self.operation(Binary("**", base, self.unary(), op.position))
        return base

    def primary(self) -> Node:
        token = self.token
        if token.kind == "number":
            self.advance()
            return Number(float(token.text), token.position)
        if token.kind == "name":
            if keyword.iskeyword(token.text):  # before reading on: "lambda:" fails at lambda
                _check_variable_name(token.text, self.text, token.position)
            self.advance()
            if not self.at("("):
                _check_variable_name(token.text, self.text, token.position)
                return Name(token.text, token.position)
            if token.text not in FUNCTIONS:
                raise self.error(
                    f"unknown function {token.text!r}; the functions are {', '.join(FUNCTIONS)}",
                    token.position,
                )
            argument = self.parenthesised(self.advance())
            return self.operation(Call(token.text, argument, token.position))
        if self.at("("):
            return self.parenthesised(self.advance())
        raise self.unexpected("a number, a name or '('")

    def parenthesised(self, opening: _Token) -> Node:
        """The rest of ``( sum )`` once ``opening`` has been consumed."""
        node = self.sum()
        if not self.at(")"):
            raise self.unexpected(f"')' to close the '(' at column {opening.position + 1}")
        self.advance()
        return node


# --------------------------------------------------------------------------- evaluation


def evaluate(expression: Expression, variables: Mapping[str, Value]) -> Value:
    """Compute ``expression`` with Value arithmetic, so the result has a graph.

    ``variables`` maps each name used to a Value (the graph's inputs; give them labels
    to see the names in a drawing). Names not used are ignored. Plain numbers stay
    constants, not graph nodes, as in ``x * 2``; an operation on constants alone is
    computed right away with the engine's own checked arithmetic. An expression
    without variables returns a leaf Value.

    Raises :class:`ExpressionError` for an undefined variable, a domain error
    (``log(0)``, ``1/0``, ``(-8)**0.5``) or a result too large for a float64.
    """
    if not isinstance(expression, Expression):
        raise TypeError(
            f"evaluate: expression must be an Expression from parse(), "
            f"got {type(expression).__name__}"
        )
    for name, value in variables.items():
        if not isinstance(value, Value):
            raise TypeError(
                f"evaluate: variable {name!r} must be a Value, got {type(value).__name__}"
            )
    result = _evaluate(expression.root, variables, expression.text)
    return result if isinstance(result, Value) else Value(result)


def _evaluate(node: Node, variables: Mapping[str, Value], text: str) -> Value | float:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Name):
        if node.name not in variables:
            raise ExpressionError(
                f"undefined variable {node.name!r}; give it a value, e.g. {node.name}=1.0",
                text,
                node.position,
            )
        return variables[node.name]
    if isinstance(node, Negate):
        operands = (_evaluate(node.operand, variables, text),)
        return _apply(operator.neg, "'-'", operands, text, node.position)
    if isinstance(node, Binary):
        operands = (_evaluate(node.left, variables, text), _evaluate(node.right, variables, text))
        return _apply(_BINARY_OPERATORS[node.op], repr(node.op), operands, text, node.position)
    argument = (_evaluate(node.argument, variables, text),)
    return _apply(FUNCTIONS[node.function], f"{node.function}()", argument, text, node.position)


def _apply(
    function: Callable[..., Value],
    name: str,
    operands: tuple[Value | float, ...],
    text: str,
    position: int,
) -> Value | float:
    """``function(*operands)``, with every failure turned into an ExpressionError.

    Constants are folded through a temporary Value so they get the engine's domain
    checks (Python's own ``(-8) ** 0.5`` would be a complex number); the result stays a
    plain number, because a constant is not a graph node.
    """
    constant = not any(isinstance(x, Value) for x in operands)
    if constant:
        operands = (Value(operands[0]), *operands[1:])
    try:
        result = function(*operands)
    except OverflowError:
        raise ExpressionError(
            f"{name} overflows: the result is too large for a float64", text, position
        ) from None
    except (ArithmeticError, ValueError) as error:
        raise ExpressionError(str(error), text, position) from None
    return result.data if constant else result


# --------------------------------------------------------------------------- NAME=VALUE inputs

# The name and the number are matched apart, each in time linear in its length.
_ASSIGNED_NAME = re.compile(_NAME)
_ASSIGNED_NUMBER = re.compile(rf"-?{_NUMBER}")


def parse_assignments(items: Sequence[str]) -> dict[str, float]:
    """Read ``["x=1", "w=-0.5", ...]`` into ``{"x": 1.0, "w": -0.5, ...}``, in order.

    Each item is a name, ``=`` and a decimal number (optionally negative), at most
    :data:`MAX_LENGTH` characters in all. Raises :class:`ExpressionError` for anything
    else, a longer item, a name given twice, a name that is a
    keyword or a function, or a number too large for a float64.
    """
    values: dict[str, float] = {}
    for item in items:
        if len(item) > MAX_LENGTH:
            raise ExpressionError(
                f"an assignment is {len(item)} characters long; the limit is {MAX_LENGTH}"
            )
        name, equals, number = item.partition("=")
        if not (equals and _ASSIGNED_NAME.fullmatch(name) and _ASSIGNED_NUMBER.fullmatch(number)):
            raise ExpressionError(
                f"expected NAME=VALUE with a decimal number, such as x=1.5 or w=-2e-3; got {item!r}"
            )
        _check_variable_name(name, item, 0)
        if name in values:
            raise ExpressionError(f"{name!r} is given twice")
        value = float(number)
        if math.isinf(value):
            raise ExpressionError(f"the value of {name!r} is too large for a float64: {number}")
        values[name] = value
    return values
