"""The expression parser behind ``tinygrad-edu graph``: grammar, refusals, bounds, evaluation.

References: Python's own parser (``ast.parse``, used here only to read the tree of
trusted, generated text, never to run it) for precedence and associativity; analytic
derivatives and PyTorch float64 for values and gradients.
"""

from __future__ import annotations

import ast
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Value
from tinygrad_edu.expression import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_OPERATIONS,
    Binary,
    Call,
    ExpressionError,
    Name,
    Negate,
    Number,
    evaluate,
    parse,
    parse_assignments,
)

# --------------------------------------------------------------------------- helpers


def shape(node: object) -> object:
    """Our syntax tree as nested tuples."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Negate):
        return ("-", shape(node.operand))
    if isinstance(node, Binary):
        return (node.op, shape(node.left), shape(node.right))
    assert isinstance(node, Call)
    return (node.function, shape(node.argument))


_PYTHON_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


def python_shape(node: ast.expr) -> object:
    """Python's syntax tree of the same text as the same nested tuples."""
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.UnaryOp):
        assert isinstance(node.op, ast.USub)
        return ("-", python_shape(node.operand))
    if isinstance(node, ast.BinOp):
        return (_PYTHON_OPERATORS[type(node.op)], python_shape(node.left), python_shape(node.right))
    assert isinstance(node, ast.Call) and len(node.args) == 1
    return (node.func.id, python_shape(node.args[0]))


def run(text: str, **values: float) -> tuple[Value, dict[str, Value]]:
    """Parse and evaluate ``text`` with the given values, then run backward()."""
    inputs = {name: Value(v, name) for name, v in values.items()}
    out = evaluate(parse(text), inputs)
    out.backward()
    return out, inputs


def one_line_error(text: str, **values: float) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        run(text, **values)
    message = str(caught.value)
    assert message and "\n" not in message and "\r" not in message
    return caught.value


# --------------------------------------------------------------------------- grammar

# A generator of valid expressions: names, numbers in several spellings, every operator
# and function, with and without parentheses, so precedence decides the tree.
_numbers = st.sampled_from(["2", "3", "0.5", ".5", "2.", "1e-3", "1.5E2", "10", "0"])
_names = st.sampled_from(["x", "y", "w_1", "_b"])


def _compose(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        ),
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children).map(
            lambda t: f"{t[0]}{t[1]}{t[2]}"
        ),
        children.map(lambda c: f"-{c}"),
        children.map(lambda c: f"({c})"),
        st.tuples(st.sampled_from(sorted(FUNCTIONS)), children).map(lambda t: f"{t[0]}({t[1]})"),
    )


valid_expressions = st.recursive(st.one_of(_numbers, _names), _compose, max_leaves=8)


@given(valid_expressions)
def test_parse_builds_the_same_tree_as_python(text: str) -> None:
    assert shape(parse(text).root) == python_shape(ast.parse(text, mode="eval").body)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("-x**2", ("-", ("**", "x", 2.0))),  # ** binds tighter than unary minus
        ("2**3**2", ("**", 2.0, ("**", 3.0, 2.0))),  # and groups to the right
        ("2**-x", ("**", 2.0, ("-", "x"))),  # a signed exponent
        ("a - b - c", ("-", ("-", "a", "b"), "c")),  # - and / group to the left
        ("a / b / c", ("/", ("/", "a", "b"), "c")),
        ("a + b * c", ("+", "a", ("*", "b", "c"))),
        ("-a * b", ("*", ("-", "a"), "b")),  # unary minus binds tighter than *
        ("(a + b) * c", ("*", ("+", "a", "b"), "c")),
        ("tanh(x*w + b)", ("tanh", ("+", ("*", "x", "w"), "b"))),
        ("1e-3 + .5 + 2.", ("+", ("+", 0.001, 0.5), 2.0)),
        (" \tx\t* 2 ", ("*", "x", 2.0)),
    ],
)
def test_precedence_and_associativity(text: str, tree: object) -> None:
    assert shape(parse(text).root) == tree


def test_positions_point_at_operators_and_names() -> None:
    root = parse("a + exp(b)").root
    assert isinstance(root, Binary) and root.position == 2
    assert root.left == Name("a", 0)
    assert isinstance(root.right, Call) and root.right.position == 4
    assert root.right.argument == Name("b", 8)
    assert str(parse("a+b")) == "a+b"


# --------------------------------------------------------------------------- refusals

HOSTILE = [
    # (text, a word the message must contain, 0-based column of the problem or None)
    ("__import__('os').system('x')", "unknown function '__import__'", 0),
    ("x.__class__", "attribute access", 1),
    ("(lambda: 1)()", "keyword", 1),
    ("x[0]", "subscripts", 1),
    ("open('f')", "unknown function 'open'", 0),
    ("exec('1')", "unknown function 'exec'", 0),
    ("eval", "undefined variable 'eval'", 0),
    ("1e999999", "too large", 0),
    ("2**2**2**2**2**2", "overflows", 4),
    ("'str'", "strings", 0),
    ('"str"', "strings", 0),
    ("x;y", "';'", 1),
    ("x, y", "','", 1),
    ("exp(x, y)", "','", 5),
    ("foo(x)", "unknown function 'foo'", 0),
    ("y + 1", "undefined variable 'y'", 0),
    ("x = 1", "'='", 2),
    ("x // 2", "'//'", 2),
    ("x % 2", "'%'", 2),
    ("x @ x", "'@'", 2),
    ("x if x else 1", "expected an operator", 2),
    ("not x", "keyword", 0),
    ("True", "keyword", 0),
    ("exp", "is a function", 0),
    ("2x", "malformed number", 0),
    ("1.2.3", "malformed number", 0),
    ("1e", "malformed number", 0),
    ("x\ny", "'\\n'", 1),
    ("{x}", "unexpected character '{'", 0),
    ("x ** * 2", "expected a number", 5),
    ("+x", "expected a number", 0),
    ("exp()", "expected a number", 4),
    ("x y", "expected an operator", 2),
    ("(x", "expected ')'", 2),
    ("x)", "expected an operator", 1),
    ("x +", "expected a number", 3),
    ("", "empty", None),
    ("   ", "empty", None),
    ("log(x - 2)", "log", 0),
    ("sqrt(-x)", "sqrt", 0),
    ("1 / (x - 2)", "divide", 2),
    ("(-8) ** (1/3)", "negative base", 5),
    ("exp(1000)", "overflows", 0),
    ("x * 1e308 * 10", "overflows", 2),
    ("10 ** 400", "overflows", 3),
]


@pytest.mark.parametrize(("text", "words", "position"), HOSTILE)
def test_hostile_and_invalid_input_is_refused_with_a_one_line_error(
    text: str, words: str, position: int | None
) -> None:
    error = one_line_error(text, x=2.0)
    assert words in str(error)
    assert error.position == position
    if position is not None:
        assert f"column {position + 1}" in str(error) or "at the end" in str(error)


def test_the_error_is_a_value_error_and_parse_checks_its_argument() -> None:
    assert issubclass(ExpressionError, ValueError)
    with pytest.raises(TypeError, match="parse: text must be a str"):
        parse(b"x")  # type: ignore[arg-type]


def test_the_leftmost_problem_is_reported() -> None:
    # an unknown function at column 1 comes before the string at column 6
    assert "unknown function 'open'" in str(one_line_error("open('f')"))
    # the keyword after the ';' is never reached
    error = one_line_error("x + 1 ; lambda", x=1.0)
    assert "';'" in str(error) and error.position == 6


# --------------------------------------------------------------------------- bounds


def test_length_bound() -> None:
    assert parse("x" + " " * (MAX_LENGTH - 1)).root == Name("x", 0)
    message = str(one_line_error("x" + " " * MAX_LENGTH))
    assert f"limit is {MAX_LENGTH}" in message
    # a 10,000-deep nesting is stopped by the length bound before any recursion
    assert "limit" in str(one_line_error("(" * 10_000 + "x" + ")" * 10_000))


@pytest.mark.parametrize(
    ("opening", "closing"),
    [("(", ")"), ("-", ""), ("exp(", ")"), ("2**", "")],
    ids=["parentheses", "signs", "calls", "powers"],
)
def test_depth_bound(opening: str, closing: str) -> None:
    deepest = opening * MAX_DEPTH + "x" + closing * MAX_DEPTH
    parse(deepest)
    too_deep = opening * (MAX_DEPTH + 1) + "x" + closing * (MAX_DEPTH + 1)
    assert f"more than {MAX_DEPTH} levels" in str(one_line_error(too_deep))


def test_operations_bound() -> None:
    parse("x" + "+x" * MAX_OPERATIONS)
    message = str(one_line_error("x" + "+x" * (MAX_OPERATIONS + 1)))
    assert f"more than {MAX_OPERATIONS} operations" in message


# --------------------------------------------------------------------------- evaluation


@pytest.mark.parametrize(
    ("text", "values", "expected", "gradients"),
    [
        # tanh(xw + b): d/dx = w (1 - t²), d/dw = x (1 - t²), d/db = 1 - t²
        (
            "tanh(x*w + b)",
            {"x": 1.0, "w": 2.0, "b": -1.0},
            math.tanh(1.0),
            {"x": 2 * (1 - math.tanh(1.0) ** 2), "w": 1 - math.tanh(1.0) ** 2},
        ),
        ("-x**2", {"x": 3.0}, -9.0, {"x": -6.0}),
        ("(-x)**2", {"x": 3.0}, 9.0, {"x": 6.0}),
        ("2**x", {"x": 3.0}, 8.0, {"x": 8.0 * math.log(2.0)}),
        ("x**y", {"x": 2.0, "y": 3.0}, 8.0, {"x": 12.0, "y": 8.0 * math.log(2.0)}),
        ("x / y", {"x": 1.0, "y": 4.0}, 0.25, {"x": 0.25, "y": -1.0 / 16.0}),
        ("x * x * x", {"x": -2.0}, -8.0, {"x": 12.0}),
        ("log(x) + sqrt(x)", {"x": 4.0}, math.log(4.0) + 2.0, {"x": 0.25 + 0.25}),
        ("exp(-x)", {"x": 1.0}, math.exp(-1.0), {"x": -math.exp(-1.0)}),
        ("sin(x) * cos(x)", {"x": 0.3}, math.sin(0.3) * math.cos(0.3), {"x": math.cos(0.6)}),
        ("sigmoid(x)", {"x": 0.0}, 0.5, {"x": 0.25}),
        ("relu(x) + leaky_relu(-x)", {"x": 2.0}, 2.0 - 0.02, {"x": 1.0 - 0.01}),
        ("abs(x)", {"x": -3.0}, 3.0, {"x": -1.0}),
        ("x*y", {"x": 2.0, "y": 5.0, "unused": 7.0}, 10.0, {"x": 5.0, "y": 2.0, "unused": 0.0}),
    ],
)
def test_values_and_gradients_match_the_analytic_ones(
    text: str, values: dict[str, float], expected: float, gradients: dict[str, float]
) -> None:
    out, inputs = run(text, **values)
    assert out.data == pytest.approx(expected, rel=1e-12)
    for name, gradient in gradients.items():
        assert inputs[name].grad == pytest.approx(gradient, rel=1e-12, abs=1e-15)


def test_constants_are_folded_not_graph_nodes() -> None:
    x = Value(2.0, "x")
    out = evaluate(parse("x * (1 + 2)"), {"x": x})
    assert out.parents == (x,) and out.constants == (3.0,)
    leaf = evaluate(parse("2 ** 10 - 1"), {})
    assert leaf.data == 1023.0 and leaf.parents == ()


def test_evaluate_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="Expression from parse"):
        evaluate("x", {})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="variable 'x' must be a Value"):
        evaluate(parse("x"), {"x": 1.0})  # type: ignore[dict-item]


def test_values_and_gradients_match_pytorch(torch) -> None:
    """Random valid expressions: our value and gradients against PyTorch running Python's
    own tree of the same text, so neither our parser nor our evaluator is the reference."""
    functions = {
        "abs": torch.abs,
        "cos": torch.cos,
        "exp": torch.exp,
        "leaky_relu": torch.nn.functional.leaky_relu,
        "log": torch.log,
        "relu": torch.relu,
        "sigmoid": torch.sigmoid,
        "sin": torch.sin,
        "sqrt": torch.sqrt,
        "tanh": torch.tanh,
    }
    binary = {ast.Add: torch.add, ast.Sub: torch.sub, ast.Mult: torch.mul, ast.Div: torch.div}

    def torch_evaluate(node: ast.expr, inputs: dict, finite: list[bool]):
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return inputs[node.id]
        if isinstance(node, ast.UnaryOp):
            result = -torch.as_tensor(torch_evaluate(node.operand, inputs, finite))
        elif isinstance(node, ast.BinOp):
            left = torch_evaluate(node.left, inputs, finite)
            right = torch_evaluate(node.right, inputs, finite)
            if isinstance(node.op, ast.Pow):
                result = torch.pow(torch.as_tensor(left), right)
            else:
                result = binary[type(node.op)](torch.as_tensor(left), right)
        else:
            argument = torch.as_tensor(torch_evaluate(node.args[0], inputs, finite))
            result = functions[node.func.id](argument)
        finite.append(bool(torch.isfinite(result)))
        return result

    # Exponents are positive constants with a non-zero slope, bases and variables are
    # away from 0, where derivative conventions at kinks are outside this comparison.
    leaves = st.sampled_from(["x", "y", "1.5", "0.25", "3"])
    exponents = st.sampled_from(["2", "3", "0.5"])

    def compose(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(children, st.sampled_from("+-*/"), children).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(children, exponents).map(lambda t: f"({t[0]})**{t[1]}"),
            children.map(lambda c: f"-{c}"),
            st.tuples(st.sampled_from(sorted(FUNCTIONS)), children).map(
                lambda t: f"{t[0]}({t[1]})"
            ),
        )

    variable_values = st.floats(0.1, 3.0) | st.floats(-3.0, -0.1)

    @settings(max_examples=150)
    @given(st.recursive(leaves, compose, max_leaves=6), variable_values, variable_values)
    def check(text: str, x: float, y: float) -> None:
        tx = torch.tensor(x, requires_grad=True)
        ty = torch.tensor(y, requires_grad=True)
        finite: list[bool] = []
        expected = torch.as_tensor(
            torch_evaluate(ast.parse(text, mode="eval").body, {"x": tx, "y": ty}, finite)
        )
        try:
            out, inputs = run(text, x=x, y=y)
        except ExpressionError:
            assert not all(finite), f"refused, but PyTorch computes {text} = {expected}"
            return
        assert all(finite), f"{text}: PyTorch overflows or leaves the domain"
        if expected.requires_grad:
            expected.backward()
        for name, tensor in (("x", tx), ("y", ty)):
            torch_grad = 0.0 if tensor.grad is None else float(tensor.grad)
            ours = inputs[name].grad
            if math.isnan(torch_grad) or math.isinf(torch_grad):
                assert ours == torch_grad or (math.isnan(ours) and math.isnan(torch_grad))
            else:
                assert ours == pytest.approx(torch_grad, rel=1e-8, abs=1e-10), text
        assert out.data == pytest.approx(float(expected.detach()), rel=1e-10, abs=1e-12), text

    check()


# --------------------------------------------------------------------------- properties


@given(st.text(max_size=60))
def test_random_text_is_parsed_or_refused_cleanly(text: str) -> None:
    try:
        parse(text)
    except ExpressionError as error:
        assert "\n" not in str(error)


grammar_soup = st.lists(
    st.sampled_from([*"xy()+-*/.,e0123456789 ", *FUNCTIONS, "**", "1e308"]), max_size=40
).map("".join)


@given(grammar_soup | valid_expressions, st.floats(-5, 5), st.floats(-5, 5))
def test_random_grammar_strings_evaluate_or_fail_cleanly(text: str, x: float, y: float) -> None:
    """Strings built from the grammar's own pieces reach deep into the parser and the
    evaluator: the only failure allowed is an ExpressionError, and a success is finite."""
    try:
        out, _ = run(text, x=x, y=y)
    except ExpressionError as error:
        assert "\n" not in str(error)
    else:
        assert math.isfinite(out.data)


# --------------------------------------------------------------------------- NAME=VALUE


def test_parse_assignments() -> None:
    assert parse_assignments(["x=1", "w=-0.5", "b=2e-3", "_k2=.5"]) == {
        "x": 1.0,
        "w": -0.5,
        "b": 0.002,
        "_k2": 0.5,
    }
    assert list(parse_assignments(["b=1", "a=2"])) == ["b", "a"]  # order kept
    assert parse_assignments(["x=3.", "y=1.5e+2", "z=-0"]) == {"x": 3.0, "y": 150.0, "z": 0.0}
    digits = "0." + "1" * 996
    assert parse_assignments(["x=" + digits]) == {"x": float(digits)}  # 1000 characters
    assert parse_assignments([]) == {}


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("x", "expected NAME=VALUE"),
        ("x=", "expected NAME=VALUE"),
        ("=1", "expected NAME=VALUE"),
        ("x=abc", "expected NAME=VALUE"),
        ("x=nan", "expected NAME=VALUE"),
        ("x=inf", "expected NAME=VALUE"),
        ("x=1+1", "expected NAME=VALUE"),
        ("x = 1", "expected NAME=VALUE"),
        ("1x=1", "expected NAME=VALUE"),
        ("x=1=2", "expected NAME=VALUE"),
        ("x=--1", "expected NAME=VALUE"),
        ("x=1.2.3", "expected NAME=VALUE"),
        ("x=1e999", "too large"),
        # 32,000 digits and a letter took a backtracking regex 18 s to refuse
        ("x=" + "1" * 32000 + "a", "is 32003 characters long; the limit is 1000"),
        ("exp=1", "is a function"),
        ("lambda=1", "keyword"),
    ],
)
def test_parse_assignments_refuses_bad_items(item: str, words: str) -> None:
    with pytest.raises(ExpressionError, match=words):
        parse_assignments([item])


def test_parse_assignments_refuses_a_name_given_twice() -> None:
    with pytest.raises(ExpressionError, match="'x' is given twice"):
        parse_assignments(["x=1", "x=2"])
