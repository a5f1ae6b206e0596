"""trace, compile and Program: bit-identical to the eager graph, errors included."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Value, datasets, engine, losses, optim, weighted_sum
from tinygrad_edu.nn import MLP
from tinygrad_edu.program import TraceMismatchError


def bits(x: float) -> str:
    """A float's exact bits as text: tells 0.0 from -0.0, and any NaN is 'nan'."""
    return x.hex() if math.isfinite(x) else repr(x)


def eager(f, *args, parameters=()):
    """The reference: f on fresh Values, then backward(); or the error it raises."""
    inputs = [Value(a) for a in args]
    try:
        out = f(*inputs)
        out.backward()
    except (ArithmeticError, ValueError) as error:
        return type(error), str(error)
    return bits(out.data), [bits(x.grad) for x in inputs], [bits(p.grad) for p in parameters]


def compiled(program, *args, parameters=()):
    try:
        value, grads = program(*args)
    except (ArithmeticError, ValueError) as error:
        return type(error), str(error)
    return bits(value), [bits(g) for g in grads], [bits(p.grad) for p in parameters]


# --------------------------------------------------------------------------- random graphs
# A recipe is a list of steps, each making one new node from earlier ones (or constants),
# with every op of the table: f replays it on whatever inputs it is given.

UNARY = ["neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sin", "cos"]
BINARY = ["+", "-", "*", "/", "**"]
constants = st.sampled_from([0.0, -0.0, 0.5, -1.5, 2.0, 3.0, 1e-3, 7.25, -2.0, 1e200])


@st.composite
def recipes(draw):
    n_inputs = draw(st.integers(1, 3))
    steps = []
    for k in range(draw(st.integers(1, 14))):
        n = n_inputs + k
        pick = st.integers(0, n - 1)
        kind = draw(
            st.sampled_from(
                [
                    "unary",
                    "binary",
                    "left constant",
                    "right constant",
                    "leaky",
                    "weighted",
                    "weighted values",
                ]
            )
        )
        if kind == "unary":
            steps.append((kind, draw(st.sampled_from(UNARY)), draw(pick)))
        elif kind == "binary":
            steps.append((kind, draw(st.sampled_from(BINARY)), draw(pick), draw(pick)))
        elif kind in ("left constant", "right constant"):
            steps.append((kind, draw(st.sampled_from(BINARY)), draw(pick), draw(constants)))
        elif kind == "leaky":
            steps.append((kind, draw(pick), draw(st.sampled_from([0.01, 0.2, -0.5]))))
        else:
            size = draw(st.integers(1, 3))
            nodes = draw(st.lists(pick, min_size=2 * size + 1, max_size=2 * size + 1))
            steps.append((kind, nodes, draw(st.lists(constants, min_size=size, max_size=size))))
    return n_inputs, steps


def replay(steps, *inputs):
    nodes = list(inputs)
    binary = {
        "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
        "/": lambda a, b: a / b, "**": lambda a, b: a ** b,
    }  # fmt: skip
    for step in steps:
        kind = step[0]
        if kind == "unary":
            node = (
                -nodes[step[2]]
                if step[1] == "neg"
                else (
                    abs(nodes[step[2]]) if step[1] == "abs" else getattr(nodes[step[2]], step[1])()
                )
            )
        elif kind == "binary":
            node = binary[step[1]](nodes[step[2]], nodes[step[3]])
        elif kind == "left constant":
            node = binary[step[1]](step[3], nodes[step[2]])
        elif kind == "right constant":
            node = binary[step[1]](nodes[step[2]], step[3])
        elif kind == "leaky":
            node = nodes[step[1]].leaky_relu(step[2])
        else:
            picked, size = [nodes[i] for i in step[1]], len(step[2])
            weights, bias = picked[:size], picked[size]
            inputs_ = picked[size + 1 :] if kind == "weighted values" else step[2]
            node = weighted_sum(weights, inputs_, bias)
        nodes.append(node)
    # every node counts (a trace leaves out what the output does not use), some twice
    out = nodes[-1] * nodes[-1] if len(steps) % 2 else nodes[-1]
    for node in nodes[len(inputs) : -1]:
        out = out + node
    return out


points = st.floats(-3.0, 3.0, allow_nan=False).map(lambda x: 0.0 if abs(x) < 1e-3 else x)


@settings(max_examples=300)
@given(recipes(), st.lists(points, min_size=6, max_size=6))
def test_random_graphs_match_eager_bit_for_bit(recipe, numbers) -> None:
    n_inputs, steps = recipe
    f = lambda *xs: replay(steps, *xs)  # noqa: E731
    at_trace, at_call = numbers[:n_inputs], numbers[3 : 3 + n_inputs]
    reference = eager(f, *at_trace)
    if isinstance(reference[0], type):  # tracing meets the same error as eager
        with pytest.raises(reference[0]) as error:
            tg.trace(f, *at_trace)
        assert str(error.value) == reference[1]
        return
    program = tg.trace(f, *at_trace)
    assert compiled(program, *at_trace) == reference
    assert compiled(program, *at_call) == eager(f, *at_call)  # new numbers, same program


@settings(max_examples=100)
@given(
    recipes(), st.lists(points, min_size=3, max_size=3), st.lists(points, min_size=3, max_size=3)
)
def test_parameters_accumulate_as_backward_does(recipe, start, numbers) -> None:
    """Leaves f reads but is not given: .data read per call, .grad summed per call as backward."""
    n_inputs, steps = recipe
    ours, theirs = [Value(x) for x in start], [Value(x) for x in start]
    for p, q in zip(ours, theirs):
        p.grad = q.grad = 0.25  # an earlier gradient, to be added to
    f_ours = lambda *xs: replay(steps, *ours[:1], *xs)  # noqa: E731
    f_theirs = lambda *xs: replay(steps, *theirs[:1], *xs)  # noqa: E731
    args = numbers[: n_inputs - 1] if n_inputs > 1 else []
    try:
        program = tg.trace(f_ours, *args)
    except (ArithmeticError, ValueError):
        return
    for _ in range(2):  # twice: the second call adds its total to the first
        assert compiled(program, *args, parameters=ours) == eager(
            f_theirs, *args, parameters=theirs
        )


# One function per op of the table (and the fused weighted sum), each at points that
# take every branch of its rule (relu and abs at 0, a power of 0, ...).
EVERY_OP = [
    (lambda x, y: x + y, [(1.5, -2.0)]),
    (lambda x, y: x - y, [(1.5, -2.0)]),
    (lambda x, y: 2.5 - x * y, [(1.5, -2.0)]),
    (lambda x, y: x * y * x, [(1.5, -2.0), (0.0, 3.0)]),
    (lambda x, y: x / y, [(1.5, -2.0)]),
    (lambda x, y: 3.0 / (x * y), [(1.5, -2.0)]),
    (lambda x, y: x**y, [(1.5, -2.0), (0.0, 0.5), (0.0, 2.0)]),
    (lambda x, y: (x * y) ** 3.0 + x**0.5 + y**0.0, [(1.5, 2.0), (0.0, 2.0)]),
    (lambda x, y: 2.0**x + 0.0**y, [(1.5, 2.0)]),
    (lambda x, y: -(x * y), [(1.5, -2.0)]),
    (lambda x, y: abs(x) * y, [(1.5, -2.0), (0.0, 1.0), (-1.0, 1.0)]),
    (lambda x, y: (x * y).exp(), [(1.5, -2.0)]),
    (lambda x, y: (x * y).log(), [(1.5, 2.0)]),
    (lambda x, y: (x * y).sqrt(), [(1.5, 2.0), (0.0, 2.0)]),
    (lambda x, y: (x * y).tanh(), [(1.5, -2.0), (20.0, 1.0)]),
    (lambda x, y: (x * y).sigmoid(), [(1.5, -2.0), (-800.0, 1.0)]),
    (lambda x, y: (x * y).relu() * y, [(1.5, -2.0), (1.5, 2.0), (0.0, 2.0)]),
    (lambda x, y: (x * y).leaky_relu(0.1), [(1.5, -2.0), (1.5, 2.0)]),
    (lambda x, y: (x * y).sin(), [(1.5, -2.0)]),
    (lambda x, y: (x * y).cos(), [(1.5, -2.0)]),
    (lambda x, y: weighted_sum([x, y], [0.5, -3.0], x * y), [(1.5, -2.0)]),
    (lambda x, y: weighted_sum([x, y], [y, 2.0], x), [(1.5, -2.0)]),
]


def test_every_op_of_the_table_is_bit_identical_to_eager() -> None:
    seen = set()
    for f, points in EVERY_OP:
        program = tg.trace(f, 0.75, 1.25)
        for point in points:
            assert compiled(program, *point) == eager(f, *point), (program, point)
        x, y = Value(0.75), Value(1.25)
        seen.update(node.operation for node in tg.topological_order(f(x, y)) if node.parents)
    missing = (set(engine.OPS) | {engine.WEIGHTED_SUM}) - seen
    assert not missing, f"add a function using {missing} to EVERY_OP"


def test_a_user_defined_op_runs_through_its_own_rules() -> None:
    cube = engine.Op("cube", lambda x: x * x * x, lambda x, out: (3.0 * x * x,))

    def f(x, y):
        return cube(x) * y

    program = tg.trace(f, 2.0, 5.0)
    assert "cube" in str(program)
    assert compiled(program, -1.5, 0.5) == eager(f, -1.5, 0.5)
    assert program(2.0, 1.0) == (8.0, (12.0, 8.0))  # analytic: 3x^2, x^3


def test_the_transformer_fused_nodes_are_bit_identical_through_a_program() -> None:
    def f(x, y):
        row = [x, y, x * y]
        scores = [tg.dot(row, [y, x, 0.5 * x]), x.tanh(), y * y]
        return tg.sum_values([*scores, tg.logsumexp(scores), tg.softmax_dot(scores, row, 0.5)])

    program = tg.trace(f, 0.75, 1.25)
    for point in [(0.3, -2.0), (1.5, 0.25), (-0.7, 0.0)]:
        assert compiled(program, *point) == eager(f, *point), point


# --------------------------------------------------------------------------- training


def test_twenty_steps_of_training_are_bit_identical_to_eager() -> None:
    X, y = datasets.make_moons(30, noise=0.1, seed=3)  # noqa: N806
    signs = [2 * t - 1 for t in y]
    models = [MLP(2, [8, 8, 1], seed=1) for _ in range(2)]

    def loss_of(model):
        return lambda: (
            losses.hinge_loss([model(x) for x in X], signs)
            + losses.l2_penalty(model.parameters(), 1e-3)
        )

    eager_model, compiled_model = models
    eager_loss, program = loss_of(eager_model), tg.trace(loss_of(compiled_model))
    assert set(program.parameters) == set(compiled_model.parameters())
    optimizers = [optim.Adam(m.parameters(), lr=0.05) for m in models]
    for _ in range(20):
        for o in optimizers:
            o.zero_grad()
        total = eager_loss()
        total.backward()
        value, grads = program()
        assert grads == ()
        assert bits(value) == bits(total.data)
        for p, q in zip(eager_model.parameters(), compiled_model.parameters()):
            assert bits(p.grad) == bits(q.grad)
        for o in optimizers:
            o.step()
    assert [p.data for p in eager_model.parameters()] == [
        p.data for p in compiled_model.parameters()
    ]


def test_fit_with_compile_gives_the_eager_history_and_weights() -> None:
    X, y = datasets.make_moons(40, noise=0.1, seed=0)  # noqa: N806
    runs = []
    for compile_ in (False, True):
        model = MLP(2, [8, 1], seed=2)
        history = tg.training.fit(model, X, y, steps=15, l2=1e-4, progress=False, compile=compile_)
        runs.append((history, [p.data for p in model.parameters()]))
    assert runs[0] == runs[1]


def test_fit_compiles_the_stable_bce_to_the_eager_history_and_weights() -> None:
    X, y = datasets.make_moons(20, noise=0.1, seed=1)  # noqa: N806
    runs = []
    for compile_ in (False, True):
        model = MLP(2, [8, 1], seed=3)
        history = tg.training.fit(
            model, X, y, loss="bce", steps=10, progress=False, compile=compile_
        )
        runs.append((history, [p.data for p in model.parameters()]))
    assert runs[0] == runs[1]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (lambda x, y: (x * y).log(), (-1.0, 2.0)),  # domain
        (lambda x, y: x / y, (1.0, 0.0)),  # division by zero
        (lambda x, y: (x * y).exp(), (30.0, 30.0)),  # exp overflows
        (lambda x, y: (x * y * y).tanh(), (1e300, 1e10)),  # overflow a later tanh would hide
        (lambda x, y: (x * y).relu() + (x * y).sigmoid(), (-1e300, 1e300)),  # -inf hidden
        (lambda x, y: x**y, (-2.0, 0.5)),  # negative base, Value exponent
        (lambda x, y: (y - x).sqrt(), (1.0, 0.0)),
    ],
)
def test_errors_are_the_eager_errors(f, args) -> None:
    program = tg.trace(f, 2.0, 3.0)
    reference = eager(f, *args)
    assert isinstance(reference[0], type)  # the eager run fails
    assert compiled(program, *args) == reference


def test_an_infinite_slope_gives_the_eager_gradients() -> None:
    f = lambda x, y: (x - y).sqrt().relu() * y  # noqa: E731  sqrt's slope at 0 is inf
    program = tg.trace(f, 4.0, 1.0)
    assert compiled(program, 1.0, 1.0) == eager(f, 1.0, 1.0)
    assert compiled(program, 2.0, 1.0) == eager(f, 2.0, 1.0)


def test_arguments_are_checked() -> None:
    program = tg.trace(lambda x: x * 2.0, 1.0)
    with pytest.raises(TypeError, match="expected 1 arguments, got 2"):
        program(1.0, 2.0)
    with pytest.raises(TypeError, match="argument 0 must be a real number, got str"):
        program("1")
    with pytest.raises(ValueError, match="finite"):  # the eager error for Value(inf)
        program(math.inf)
    with pytest.raises(TypeError, match="f must return a Value, got float"):
        tg.trace(lambda x: 1.0, 1.0)
    with pytest.raises(TypeError, match="f must be a function"):
        tg.trace(3.0)


# --------------------------------------------------------------------------- tracing limits


def branchy(x, y):
    if x.data > 0:  # a Python decision on a number: frozen by the trace
        return x * y
    return x + y


def test_a_branch_is_frozen_and_check_finds_where_it_parts() -> None:
    program = tg.trace(branchy, 1.0, 2.0)
    assert program(-1.0, 2.0) == (-2.0, (2.0, -1.0))  # still x * y: the trace's branch
    checked = tg.trace(branchy, 1.0, 2.0, check=True)
    assert checked(3.0, 2.0) == program(3.0, 2.0)
    with pytest.raises(TraceMismatchError, match=r"node 3 .* '\*' of \(node 1, node 2\).* '\+'"):
        checked(-1.0, 2.0)


def test_check_finds_a_number_frozen_into_a_constant() -> None:
    checked = tg.trace(lambda x, y: x * y.data, 1.0, 2.0, check=True)
    with pytest.raises(
        TraceMismatchError, match=r"'\*' of \(node 1, 2.0\).*'\*' of \(node 1, 5.0\)"
    ):
        checked(1.0, 5.0)


def test_compile_traces_once_per_number_of_arguments() -> None:
    calls = []

    def total(*xs):
        calls.append(len(xs))
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out

    f = tg.compile(total)
    assert f(2.0, 3.0) == (6.0, (3.0, 2.0))
    assert f(4.0, 5.0) == (20.0, (5.0, 4.0))
    assert f(2.0, 3.0, 4.0) == (24.0, (12.0, 8.0, 6.0))
    assert calls == [2, 3]  # traced twice, run three times
    assert sorted(f.programs) == [2, 3]
    assert f.__name__ == "total"


def test_has_aux_returns_the_numbers_of_the_aux_values() -> None:
    def f(a, b):
        scores = [a * b, a + b]
        return scores[0] * scores[1], [scores, scores[1]]

    program = tg.trace(f, 1.0, 2.0, has_aux=True)
    (value, aux), grads = program(2.0, 3.0)
    assert (value, aux, grads) == (30.0, [[6.0, 5.0], 5.0], (21.0, 16.0))  # 2ab+b^2, a^2+2ab
    with pytest.raises(ValueError, match="not part of the computation"):
        tg.trace(lambda a: (a * 2.0, a * 3.0), 1.0, has_aux=True)


# --------------------------------------------------------------------------- reading the program


def test_the_wengert_list_of_a_neuron_reads_like_the_chain_rule() -> None:
    def neuron(x, w, b):
        return (w * x + b).tanh()

    program = tg.trace(neuron, 2.0, -3.0, 1.0)
    text = str(program)
    assert text.splitlines()[0] == "def neuron(x, w, b):"
    for line in ["v1 = w * x", "v3 = tanh(v2)", "g_v2 = (1.0 - v3 * v3) * g_v3",
                 "g_w = x * g_v1", "return v3, (g_x, g_w, g_b)"]:  # fmt: skip
        assert line in text
    # The listing is a Python function: run it, against the analytic derivatives.
    namespace: dict = {"tanh": math.tanh}
    exec(text, namespace)
    y = math.tanh(-3.0 * 2.0 + 1.0)
    slope = 1 - y * y
    value, grads = namespace["neuron"](2.0, -3.0, 1.0)
    assert value == pytest.approx(y)
    assert grads == pytest.approx((-3.0 * slope, 2.0 * slope, slope))
    assert len(program) == 3
    assert "neuron(x, w, b): 3 operations" in repr(program)


def test_labels_that_are_not_names_are_renamed() -> None:
    a = Value(1.0, "class")  # a keyword
    program = tg.trace(lambda x: (x * a).relu() * Value(2.0, "two words"), 1.0)
    assert "class" not in program.source and "two words" not in program.source
    listing = str(program)  # the listing says which name stands for which
    assert "#   p1     class\n" in listing and "#   p2     two words\n" in listing
    assert program(3.0) == (6.0, (2.0,))
    assert a.grad == 6.0


def test_big_programs_are_cut_into_parts_that_pass_values_on_the_tape(monkeypatch) -> None:
    monkeypatch.setattr(tg.program, "STATEMENTS_PER_PART", 7)

    def f(x, y):
        out = x
        for _ in range(10):
            out = (out * y).tanh() + x
        return out

    program = tg.trace(f, 0.5, -0.25)
    assert program.source.count("def part_") > 3
    assert "= t[" in program.source
    assert compiled(program, 0.75, 1.5) == eager(f, 0.75, 1.5)


def test_a_models_listing_names_each_parameter_by_its_state_dict_name():
    from tinygrad_edu.nn import MLP

    model = MLP(2, [2, 1], seed=0)

    def loss(x, y):
        return (model([x, y]) - 1.0) ** 2

    listing = str(tg.trace(loss, 0.5, 0.25)).splitlines()
    names = dict(model.named_parameters())
    shown = [line.split() for line in listing if line.startswith("    #   p")]
    assert len(shown) == len(names)
    assert all(label in names for _, _, label in shown)  # p1  layers.1.neurons.0.w.0


def test_a_compiled_function_says_what_it_holds():
    compiled = tg.compile(lambda x, y: x * y + x)
    assert repr(compiled) == "<compiled <lambda> (python): 0 programs>"
    compiled(1.0, 2.0)
    assert repr(compiled) == "<compiled <lambda> (python): 1 program (2 arguments: 2 operations)>"
