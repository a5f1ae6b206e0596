"""Programs against eager where the first version went silently wrong: names and labels,
aux outputs, ops of your own, wide neurons, and pickling. Every comparison is ``==``."""

from __future__ import annotations

import copy
import functools
import inspect
import keyword
import math
import pickle
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Value, engine, weighted_sum
from tinygrad_edu.nn import MLP
from tinygrad_edu.program import TraceMismatchError


def eager(f, *args, parameters=()):
    """The reference: f on fresh Values, then backward(): (value, grads, parameters' grads)."""
    inputs = [Value(a) for a in args]
    out = f(*inputs)
    out.backward()
    return out.data, tuple(x.grad for x in inputs), [p.grad for p in parameters]


def run(program, *args, parameters=()):
    value, grads = program(*args)
    return value, grads, [p.grad for p in parameters]


# --------------------------------------------------------------------------- names and labels


def fullwidth(name: str) -> str:
    """``ｅｘｐ``: what Python reads as ``exp`` (identifiers are NFKC-normalised)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isalnum() or c == "_" else c for c in name)


def bold(name: str) -> str:
    """``𝐞𝐱𝐩``: mathematical bold letters, also ``exp`` to Python."""
    return "".join(
        chr(0x1D41A + ord(c) - ord("a"))
        if "a" <= c <= "z"
        else chr(0x1D400 + ord(c) - ord("A"))
        if "A" <= c <= "Z"
        else c
        for c in name
    )


# The names the generated code reads or makes, and names a trace gives to values.
TAKEN = [
    "sum", "t", "exp", "log", "tanh", "sigmoid", "sin", "cos", "part_0", "part_1",
    "_op0_forward", "_op0_derivative", "_d_v1", "g_x", "g_v1", "g2_x", "x", "y", "v1", "v2",
    "x1", "p1", "class", "None", "lambda", "match", "float", "__builtins__",
]  # fmt: skip
LOOKALIKES = sorted({*TAKEN, *map(fullwidth, TAKEN), *map(bold, TAKEN)})
identifiers = st.from_regex(r"[^\W\d]\w{0,5}", fullmatch=True)
labels = st.one_of(st.sampled_from(LOOKALIKES), identifiers, st.text(max_size=6))
argument_names = st.one_of(st.sampled_from(LOOKALIKES), identifiers).filter(
    lambda name: name.isidentifier() and not keyword.iskeyword(name)
)

CUBE = engine.Op("cube", lambda x: x * x * x, lambda x, out: (3.0 * x * x,))


def labelled_function(node_labels, names, parameter_labels):
    """f(*args) whose every kind of node carries a chosen label, with a signature that
    names its arguments ``names``, reading two parameters labelled ``parameter_labels``."""
    w = [Value(0.5, parameter_labels[0]), Value(-1.25, parameter_labels[1])]

    def f(*xs):
        x, y = xs[0], xs[-1]
        nodes = [
            x * y,
            (x + w[0]).tanh(),
            y.sigmoid(),
            (x * w[1]).exp(),
            (y * y + 1.0).log(),
            x.sin() * y.cos(),
            CUBE(x - y),
            weighted_sum(w, [x, y], x),
            sum(xs[1:-1], x.relu()),
        ]
        out = nodes[0]
        for node, label in zip(nodes, node_labels):
            node.label = label
            out = out * 0.5 + node * y
        return out

    kind = inspect.Parameter.POSITIONAL_ONLY
    f.__signature__ = inspect.Signature([inspect.Parameter(n, kind) for n in names])
    return f, w


@settings(max_examples=200)
@given(
    st.lists(labels, min_size=9, max_size=9),
    st.lists(argument_names, min_size=2, max_size=4, unique=True),
    st.lists(labels, min_size=2, max_size=2),
    st.lists(st.floats(-2.0, 2.0), min_size=8, max_size=8),
)
def test_any_labels_and_argument_names_give_the_eager_numbers(
    node_labels, names, parameter_labels, numbers
) -> None:
    f, ours = labelled_function(node_labels, names, parameter_labels)
    g, theirs = labelled_function(node_labels, names, parameter_labels)
    at_trace, at_call = numbers[: len(names)], numbers[4 : 4 + len(names)]
    program = tg.trace(f, *at_trace)
    for point in (at_trace, at_call):
        assert run(program, *point, parameters=ours) == eager(g, *point, parameters=theirs)
    compile(str(program), "<listing>", "exec")  # the listing is still Python, labels in comments
    assert program.source.isascii()


def labelled_square(label):
    def f(x):
        y = x * 3.0
        y.label = label  # a name Python reads as x
        return y * x

    return f


@pytest.mark.parametrize("label", ["𝐱", "ｘ"])
def test_a_label_python_reads_as_another_name_does_not_merge_two_values(label) -> None:
    f = labelled_square(label)
    assert tg.trace(f, 2.0)(2.0) == (12.0, (12.0,)) == eager(f, 2.0)[:2]


@pytest.mark.parametrize("label", ["sum", "t", "ｅxp", "ｔ", "ｓｕｍ", "part_0", "ｐart_0"])
def test_labels_named_like_the_programs_helpers(label) -> None:
    def f(x):
        y = (x * x).exp()
        y.label = label
        return y.tanh() * x

    assert tg.trace(f, 0.5)(0.25) == eager(f, 0.25)[:2]


def angles(θ, ω):
    return (θ * ω).sin() + θ


def test_arguments_and_parameters_with_greek_names() -> None:
    program = tg.trace(angles, 0.5, 2.0)
    assert program(1.5, -0.5) == eager(angles, 1.5, -0.5)[:2]
    assert "x1 is 'θ', x2 is 'ω'" in str(program)  # the listing says which is which
    ours, theirs = Value(0.75, "ω"), Value(0.75, "ω")
    program = tg.trace(lambda x: angles(x, ours), 1.0)
    assert run(program, 2.0, parameters=[ours]) == eager(
        lambda x: angles(x, theirs), 2.0, parameters=[theirs]
    )


# --------------------------------------------------------------------------- aux


def test_check_compares_the_aux_output_too() -> None:
    program = tg.trace(lambda x, y: (x * y, max(x, y)), 1.0, 2.0, has_aux=True, check=True)
    assert program(1.0, 3.0) == ((3.0, 3.0), (3.0, 1.0))  # max is still y
    with pytest.raises(TraceMismatchError, match=r"aux.*'argument 1'.*'argument 0'"):
        program(3.0, 1.0)


def test_check_compares_the_aux_structure() -> None:
    def f(x, y):
        z = x * y
        return z, ([z] if x > y else (z,))

    program = tg.trace(f, 2.0, 1.0, has_aux=True, check=True)
    assert program(3.0, 1.0) == ((3.0, [3.0]), (1.0, 3.0))
    with pytest.raises(TraceMismatchError, match="aux"):
        program(1.0, 3.0)


def test_aux_arguments_parameters_and_leaves_are_the_current_numbers() -> None:
    w = Value(2.0)

    def f(x, y):
        two = Value(2.0)
        return x * w * two, [y, w, two, x]

    program = tg.trace(f, 1.0, 5.0, has_aux=True)
    w.data = 3.0
    (value, aux), grads = program(4.0, 7.0)
    assert (value, aux, grads) == (24.0, [7.0, 3.0, 2.0, 4.0], (6.0, 0.0))


# --------------------------------------------------------------------------- ops of your own


def test_a_forward_that_gives_an_int_is_a_float_as_in_eager() -> None:
    big = engine.Op("big", lambda x: 2**60 + 1 if x > 0 else 1, lambda x, out: (3,))

    def f(x):
        return big(x) + big(x)

    program = tg.trace(f, 1.0)
    value, grads = program(1.0)
    assert (value, grads) == eager(f, 1.0)[:2]  # 2**61 as floats; 2**61 + 2 as ints
    assert type(value) is float and type(grads[0]) is float
    huge = engine.Op("huge", lambda x: 10**400 if x > 1 else 1, lambda x, out: (0,))
    program = tg.trace(lambda x: huge(x) * x, 1.0)
    with pytest.raises(OverflowError) as error:
        eager(lambda x: huge(x) * x, 2.0)
    with pytest.raises(OverflowError, match=re.escape(str(error.value))):
        program(2.0)


def test_a_forward_that_gives_a_bool_is_refused_as_in_eager() -> None:
    sign = engine.Op("sign", lambda x: x > 1.0 or 0.5, lambda x, out: (0.0,))
    program = tg.trace(lambda x: sign(x) * x, 0.5)
    with pytest.raises(TypeError, match="Op 'sign': forward must return a number, got bool"):
        eager(lambda x: sign(x) * x, 2.0)
    with pytest.raises(TypeError, match="Op 'sign': forward must return a number, got bool"):
        program(2.0)


def test_a_derivative_that_gives_a_value_names_the_op() -> None:
    odd = engine.Op("odd", lambda x: 2.0 * x, lambda x, out: (Value(2.0) if x > 1 else 2.0,))
    program = tg.trace(lambda x: odd(x) * x, 0.5)
    assert program(0.75) == eager(lambda x: odd(x) * x, 0.75)[:2]
    with pytest.raises(TypeError, match="Op 'odd': derivative returned a Value"):
        program(2.0)


def test_a_derivative_of_the_wrong_length_is_refused_as_in_eager() -> None:
    slip = engine.Op("slip", lambda x: x, lambda x, out: (1.0,) if x < 1 else (1.0, 2.0))
    program = tg.trace(lambda x: slip(x) * x, 0.5)
    with pytest.raises(ValueError, match="Op 'slip': derivative returned 2 local derivatives"):
        program(2.0)


# --------------------------------------------------------------------------- wide neurons


@pytest.mark.parametrize("n", [3_000, 10_000])
def test_a_neuron_with_thousands_of_inputs_compiles(n) -> None:
    def weights():
        return [Value(math.sin(i)) for i in range(n)]

    ours, theirs = weights(), weights()

    def neuron(w):
        return lambda b, *xs: weighted_sum(w, xs, b).tanh()

    args = [math.cos(i) / 50 for i in range(n + 1)]
    program = tg.trace(neuron(ours), *args)
    point = args[::-1]
    assert run(program, *point, parameters=ours) == eager(neuron(theirs), *point, parameters=theirs)
    sums = [line for line in str(program).splitlines() if "# w·x+b" in line]
    assert len(sums) > n // 20 and max(map(len, sums)) < 800  # the sum goes on many lines


# --------------------------------------------------------------------------- pickling


def scaled_square(x, y):
    return (x * y) ** 2.0 + y


def test_a_program_pickles_and_is_the_same_program_after_loading() -> None:
    program = tg.trace(scaled_square, 1.0, 2.0, check=True)
    loaded = pickle.loads(pickle.dumps(program))
    assert loaded(3.0, -0.5) == program(3.0, -0.5) == eager(scaled_square, 3.0, -0.5)[:2]
    assert str(loaded) == str(program)
    compiled = tg.compile(scaled_square)
    compiled(1.0, 2.0)
    assert pickle.loads(pickle.dumps(compiled))(0.5, 4.0) == compiled(0.5, 4.0)


def output(model, x, y):
    return model([x, y])


def test_a_model_and_its_program_pickled_together_stay_connected() -> None:
    model = MLP(2, [1], seed=0)  # one linear neuron: no decision on a number
    program = tg.trace(functools.partial(output, model), 0.5, -1.0)
    model, program = pickle.loads(pickle.dumps((model, program)))
    twin = copy.deepcopy(model)
    for p in model.parameters():
        p.data += 0.125  # the program reads the loaded model's parameters
    for p in twin.parameters():
        p.data += 0.125
    model.zero_grad()
    value, _ = program(0.25, 0.75)
    reference = eager(functools.partial(output, twin), 0.25, 0.75, parameters=twin.parameters())
    assert [value, [p.grad for p in model.parameters()]] == [reference[0], reference[2]]


def test_a_program_of_a_lambda_is_refused_saying_what_to_do() -> None:
    program = tg.trace(lambda x: x * x, 1.0)
    with pytest.raises(TypeError, match=r"lambda.*module level.*trace or compile again"):
        pickle.dumps(program)
    compiled = tg.compile(lambda x: x * x)
    with pytest.raises(TypeError, match=r"lambda.*module level"):
        pickle.dumps(compiled)
    assert copy.deepcopy(program)(3.0) == copy.copy(program)(3.0) == (9.0, (6.0,))


def test_trace_mismatch_error_is_exported_at_the_top_level() -> None:
    import tinygrad_edu as tg

    assert tg.TraceMismatchError is tg.program.TraceMismatchError
    program = tg.trace(lambda x: x * 2.0 if x > 0 else x * 3.0, 1.0, check=True)
    with pytest.raises(tg.TraceMismatchError):
        program(-1.0)
