"""Programs in C against the Python program and eager: equal with ==, every gradient.

The references are independent of the C code: the eager graph with ``backward()`` and
the Python program. Random graphs (the op mix of test_engine_random_graphs), every op of the
library (the fused ones, the powers, the losses' ops), and the public models and
losses after Adam steps have moved their decisions (which relu units are on). Then
what the C backend must refuse or survive: hostile labels, an op of your own, no
compiler, two processes building the same program at once.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from test_engine_random_graphs import DOMAIN_ERRORS, INPUTS, STEPS, run

import tinygrad_edu as tg
from tinygrad_edu import Value, datasets, losses, optim, program_c
from tinygrad_edu.nn import GPT, MLP, Linear
from tinygrad_edu.training import LOSSES, fit

pytestmark = pytest.mark.usefixtures("c_compiler")


@pytest.fixture(scope="module", autouse=True)
def own_cache(tmp_path_factory):
    """A cache directory of this module's own: every test builds from a clean start."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TINYGRAD_EDU_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


def eager(f, args):
    """f's value and gradients from the graph and backward(), or the error it raises."""
    inputs = [Value(a) for a in args]
    try:
        out = f(*inputs)
        out.backward()
    except DOMAIN_ERRORS as error:
        return type(error)
    return out.data, tuple(x.grad for x in inputs)


def called(program, args):
    try:
        return program(*args)
    except DOMAIN_ERRORS as error:
        return type(error)


def same(result):
    """``result`` as text that is equal exactly when the numbers are: == on floats,
    except that a nan gradient (an infinite slope times 0) equals a nan too."""
    return repr(result)


def assert_same(f, trace_at, points):
    """C program == Python program == eager, at the trace's point and at ``points``."""
    in_c = tg.trace(f, *trace_at, backend="c")
    in_python = tg.trace(f, *trace_at)
    for args in [trace_at, *points]:
        expected = same(eager(f, args))
        assert same(called(in_python, args)) == expected
        assert same(called(in_c, args)) == expected, (args, in_c.c_source)


def test_a_neuron_in_c_gives_the_eager_numbers_and_reads_like_the_listing():
    def neuron(x, w, b):
        return (w * x + b).tanh()

    program = tg.trace(neuron, 2.0, -3.0, 1.0, backend="c")
    assert program(0.5, 1.5, -0.25) == eager(neuron, (0.5, 1.5, -0.25))
    assert "t[7] = (1.0 - t[5] * t[5]) * t[6]; /* g_v2 = (1.0 - v3 * v3) * g_v3" in (
        program.c_source
    )
    assert str(program) == str(tg.trace(neuron, 2.0, -3.0, 1.0))  # the same listing
    with pytest.raises(AttributeError, match="backend='c'"):
        _ = tg.trace(neuron, 2.0, -3.0, 1.0).c_source


@settings(max_examples=60)
@given(STEPS, INPUTS, INPUTS)
def test_random_graphs_in_c_equal_the_python_program_and_eager(steps, at, other):
    def f(x, y, z):
        return run(steps, [x, y, z], 0)

    if isinstance(eager(f, at), type):
        return  # no trace where eager fails
    assert_same(f, at, [other])


BCE = losses.binary_cross_entropy_with_logits
POINTS = [(0.5, -1.25, 2.0), (0.0, 0.0, 0.0), (-3.0, 0.75, 1e-3), (2.5, 2.5, -0.5)]


@pytest.mark.parametrize(
    "name, f",
    [
        ("powers", lambda x, y, z: x**2 + x**3.0 + abs(y) ** z + 2.0**x + abs(y) ** 0.5),
        ("sqrt abs leaky", lambda x, y, z: abs(x).sqrt() + abs(y) + x.leaky_relu(0.1) * z),
        ("division", lambda x, y, z: x / (y * y + 1.0) + 3.0 / (z * z + 0.5) - 1.0 / (x + 4.0)),
        ("dot sum", lambda x, y, z: tg.dot([x, y, z], [z, x, y]) + tg.sum_values([x, y, z, x])),
        ("weighted sum", lambda x, y, z: tg.weighted_sum([x, y], [z, 2.0], y)),
        ("weighted sum of values", lambda x, y, z: tg.weighted_sum([x, y], [z, x], y).tanh()),
        ("logsumexp", lambda x, y, z: tg.logsumexp([x, y * 3.0, z, x]) * x),
        ("softmax dot", lambda x, y, z: tg.softmax_dot([x, y, z], [z, y * y, x], 0.7)),
        ("bce", lambda x, y, z: BCE([x, y * 5.0, z], [1, 0, 1])),
        ("cross entropy", lambda x, y, z: losses.cross_entropy([[x, y, z], [z, x, y]], [0, 2])),
        ("sigmoid exp log", lambda x, y, z: x.sigmoid() * y.exp() + (z * z + 1.0).log()),
        ("sin cos neg", lambda x, y, z: (-x).sin() * y.cos() - z),
    ],
)
def test_every_library_op_in_c_equals_eager(name, f):
    assert_same(f, POINTS[0], POINTS[1:])


@pytest.mark.parametrize("bias", [True, False])
def test_relu_dot_in_c_follows_the_units_that_are_on(bias):
    layer = Linear(3, 2, bias=bias, seed=0)

    def f(x, y, z):
        with tg.grad_mode.tracing():  # as while tracing: one w·relu(h) op per output
            return tg.sum_values(layer.after_relu([x, y, z]))

    assert_same(f, (1.0, -1.0, 0.5), [(-1.0, 1.0, -0.5), (0.0, 2.0, 3.0), (-1.0, -2.0, -3.0)])


def test_errors_and_overflow_give_the_eager_error():
    assert_same(lambda x, y, z: (x * y).exp() + z.log(), (1.0, 1.0, 1.0), [(800.0, 1.0, 1.0)])
    assert_same(lambda x, y, z: x / y + z, (1.0, 1.0, 1.0), [(1.0, 0.0, 1.0), (1e300, 1e-300, 1.0)])
    assert_same(lambda x, y, z: x**y + z, (1.0, 2.0, 1.0), [(0.0, -1.0, 1.0), (-2.0, 0.5, 1.0)])
    big = [(0.0, 1.0, 1e-300), (1.0, 1.0, 1.0)]  # an infinite slope; an overflow
    assert_same(lambda x, y, z: x.sqrt() * y + (z * 1e200) * 1e200, (1.0, 1.0, 1e-300), big)


def parameters_after_fit(loss, backend, data):
    points, y = data
    model = MLP(2, [8, 3 if loss == "cross_entropy" else 1], seed=0)
    history = fit(model, points, y, loss=loss, steps=8, progress=False, compile=backend is not None,
                  backend=backend or "python", l2=1e-3)  # fmt: skip
    return history, [p.data for p in model.parameters()]


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_fit_with_the_c_backend_equals_eager_for_every_loss(loss):
    data = datasets.make_moons(20, noise=0.1, seed=0)
    if loss == "cross_entropy":
        data = datasets.make_spirals(21, n_classes=3, seed=0)
    assert parameters_after_fit(loss, "c", data) == parameters_after_fit(loss, None, data)


def test_a_gpt_loss_in_c_equals_eager_after_adam_steps():
    model = GPT(27, n_embd=8, n_head=2, block_size=8, seed=0)
    tokens = [26, 0, 13, 13, 0, 26]
    parameters = model.parameters()
    program = tg.compile(lambda: model.loss(tokens), backend="c")
    optimizer = optim.Adam(parameters, lr=0.05)
    for _ in range(3):
        for p in parameters:
            p.grad = 0.0
        value, _ = program()
        in_c = (value, [p.grad for p in parameters])
        optimizer.zero_grad()
        out = model.loss(tokens)
        out.backward()
        assert in_c == (out.data, [p.grad for p in parameters])
        for _ in range(4):
            optimizer.step()


HOSTILE = [
    '*/ system("rm -rf /"); /*',
    "line\nbreak */ int x; //",
    "back\\slash\\",
    "θ ?" + "?/ trigraph ??) */",
    "naïve ✓ 𝐱",
]


def test_hostile_labels_stay_inside_comments_that_cannot_end_early():
    def f(*xs):
        v = xs[0]
        for i, x in enumerate(xs[1:]):
            v = v * x + 1.0
            v.label = HOSTILE[i]
        return v.tanh()

    args = [1.5] + [0.5] * len(HOSTILE)
    program = tg.trace(f, *args, backend="c")
    source = program.c_source
    assert source.isascii()
    # the code without its comments, each ended at its first */
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    assert "/*" not in code and "*/" not in code and "system" not in code
    assert "rm -rf" in source  # shown, in a comment
    for line in source.splitlines():  # each label's comment opens and closes on its line
        if "rm -rf" in line or "trigraph" in line:
            assert line.count("/*") == line.count("*/") == 1 and line.endswith("*/")
    assert program(*[1.0] * len(args)) == tg.trace(f, *[1.0] * len(args))(*[1.0] * len(args))


def test_an_op_of_your_own_is_refused_naming_the_node_and_the_python_backend():
    square = tg.Op("square", lambda x: x * x, lambda x, out: (2.0 * x,))
    with pytest.raises(TypeError, match=r"node v1 \(square\).*backend='python'"):
        tg.trace(lambda x: square(x) + 1.0, 2.0, backend="c")


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be 'python' or 'c', got 'rust'"):
        tg.compile(lambda x: x, backend="rust")


def square_plus_exp(x, y):
    return x * x + y.exp()


def test_a_c_program_pickles_and_loads_from_the_cache():
    program = tg.trace(square_plus_exp, 1.0, 2.0, backend="c")
    loaded = pickle.loads(pickle.dumps(program))
    assert loaded.backend == "c" and loaded.c_source == program.c_source
    assert loaded(0.5, -1.0) == program(0.5, -1.0) == eager(square_plus_exp, (0.5, -1.0))


def test_without_a_compiler_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-tinygrad")
    program_c._compiler.cache_clear()
    try:
        with pytest.raises(program_c.CompilerNotFoundError) as error:
            tg.trace(square_plus_exp, 1.0, 2.0, backend="c")
    finally:
        program_c._compiler.cache_clear()
    assert "apt-get install gcc" in str(error.value)
    assert "backend='python'" in str(error.value)


BUILD = textwrap.dedent(
    """
    import tinygrad_edu as tg
    def chain(x, a):
        for _ in range(300):
            x = (x * a + 0.5).tanh()
        return x
    print(tg.trace(chain, 0.3, 0.9, backend="c")(0.1, 1.1))
    """
)


def test_two_processes_building_the_same_program_at_once_both_succeed(tmp_path):
    env = {**os.environ, "TINYGRAD_EDU_CACHE_DIR": str(tmp_path)}
    runs = [
        subprocess.Popen([sys.executable, "-c", BUILD], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate()[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert outputs[0] == outputs[1] != ""
    assert len(list((tmp_path / "c").glob("*.so"))) == 1
    assert not [p for p in (tmp_path / "c").iterdir() if not p.name.endswith(".so")]


def test_the_cache_holds_one_library_per_source():
    first = tg.trace(square_plus_exp, 1.0, 2.0, backend="c")
    library = program_c.library_path(first.c_source)
    built = library.stat().st_mtime_ns
    again = tg.trace(square_plus_exp, 3.0, 4.0, backend="c")
    assert program_c.library_path(again.c_source) == library
    assert library.stat().st_mtime_ns == built  # found, not built again
    assert math.isfinite(again(1.0, 1.0)[0])
