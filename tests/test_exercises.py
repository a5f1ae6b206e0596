"""Self-checking exercises: each solution passes, each stub and mistake fails with a hint."""

from __future__ import annotations

import importlib
import json
import math
import re
import sys
from pathlib import Path

import pytest

from tinygrad_edu import Value, optim
from tinygrad_edu import exercises as ex
from tinygrad_edu.nn import Linear

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "notebooks"))

ALL = ex.exercises()
IDS = [e.id for e in ALL]


def solution(exercise: ex.Exercise):
    return getattr(
        importlib.import_module(f"solutions.nb{exercise.notebook}"), exercise.function_name
    )


def stub(exercise: ex.Exercise):
    namespace: dict = {}
    exec(exercise.stub, namespace)
    return namespace[exercise.function_name]


def test_at_least_thirty_exercises_from_nudging_to_attention() -> None:
    assert len(ALL) >= 30
    assert {"01.nudge", "09.attention_head_grad"} <= set(IDS)


@pytest.mark.parametrize("exercise", ALL, ids=IDS)
def test_the_solution_passes(exercise: ex.Exercise, capsys: pytest.CaptureFixture) -> None:
    assert ex.check(exercise.id, solution(exercise), strict=True) is True
    assert capsys.readouterr().out.startswith(f"✓ {exercise.id}: ")


@pytest.mark.parametrize("exercise", ALL, ids=IDS)
def test_the_unfilled_stub_is_not_done_and_gives_the_hint(
    exercise: ex.Exercise, capsys: pytest.CaptureFixture
) -> None:
    assert ex.check(exercise.id, stub(exercise)) is False  # prints, does not raise
    out = capsys.readouterr().out
    assert "not done yet" in out and exercise.hint in out
    with pytest.raises(ex.ExerciseError, match="not done yet"):
        ex.check(exercise.id, stub(exercise), strict=True)


MISTAKES = [(e, message, wrong) for e in ALL for message, wrong in e.mistakes]


@pytest.mark.parametrize(
    ("exercise", "message", "wrong"),
    MISTAKES,
    ids=[f"{e.id}-{i}" for i, (e, _, _) in enumerate(MISTAKES)],
)
def test_each_typical_mistake_fails_with_its_own_message(
    exercise: ex.Exercise, message: str, wrong: object
) -> None:
    with pytest.raises(ex.ExerciseError) as failure:
        ex.check(exercise.id, wrong, strict=True)
    report = str(failure.value)
    assert f"Likely mistake: {message}" in report
    assert "Wrong for " in report and exercise.hint in report


def test_a_wrong_answer_names_the_input_and_expected_against_got(
    capsys: pytest.CaptureFixture,
) -> None:
    def slope(x: float) -> float:
        return -(2 * x * math.sin(x) + x * x * math.cos(x))  # sign flipped

    assert ex.check("01.slope_with_backward", slope) is False
    right = 2 * math.sin(1.0) + math.cos(1.0)
    out = capsys.readouterr().out
    assert "✗ 01.slope_with_backward: 1 of 4 cases right." in out  # x = 0 has slope 0
    right = 2 * math.sin(1.0) + math.cos(1.0)
    assert "Wrong for x = 1.0:" in out
    assert f"expected {right:.10g}\n    got      {-right:.10g}" in out
    assert "Likely mistake: the sign is flipped" in out


def test_backward_twice_is_diagnosed_as_counted_twice() -> None:
    def my_backward(root: Value) -> None:
        root.backward()
        root.backward()

    with pytest.raises(ex.ExerciseError, match=r"twice the expected value.*without zero_grad"):
        ex.check("02.backward", my_backward, strict=True)


def test_an_answer_that_raises_is_reported_not_raised(capsys: pytest.CaptureFixture) -> None:
    assert ex.check("09.softmax", lambda scores: [1 / 0]) is False
    assert "raised ZeroDivisionError" in capsys.readouterr().out


def test_unknown_ids_and_non_functions_are_refused_by_name() -> None:
    with pytest.raises(KeyError, match=r"did you mean 01\.nudge"):
        ex.check("01.nudg", print)
    with pytest.raises(TypeError, match="give the function itself, slope without"):
        ex.check("01.slope_with_backward", 3.0)


def test_the_critical_learning_rate_is_where_sgd_starts_to_diverge() -> None:
    # the exercise's formula, 2 / curvature, confirmed by running optim.SGD on c/2 x²
    for case in ex.get("06.critical_learning_rate").cases():
        (curvature,), edge = case.args, case.expected
        for factor, converges in ((0.99, True), (1.01, False)):
            x = Value(1.0)
            opt = optim.SGD([x], lr=factor * edge)
            for _ in range(600):
                opt.zero_grad()
                (curvature / 2 * x * x).backward()
                opt.step()
            assert (abs(x.data) < 1.0) is converges


def test_the_references_agree_with_pytorch_float64() -> None:
    torch = pytest.importorskip("torch")
    for case in ex.get("09.attention_head_grad").cases():
        q, keys, values, upstream = (
            torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in case.args
        )
        weights = torch.softmax(keys @ q / math.sqrt(len(q)), dim=0)
        (upstream.detach() @ (weights @ values)).backward()
        dq, dvalues = case.expected
        assert torch.allclose(q.grad, torch.tensor(dq, dtype=torch.float64), rtol=1e-12, atol=1e-14)
        assert torch.allclose(
            values.grad, torch.tensor(dvalues, dtype=torch.float64), rtol=1e-12, atol=1e-14
        )
    for case in ex.get("05a.cross_entropy_grad").cases():
        logits = torch.tensor(case.args[0], dtype=torch.float64, requires_grad=True)
        torch.nn.functional.cross_entropy(logits[None], torch.tensor([case.args[1]])).backward()
        assert torch.allclose(
            logits.grad, torch.tensor(case.expected, dtype=torch.float64), rtol=1e-12, atol=1e-15
        )
    for case in ex.get("05.bce").cases():
        logits = torch.tensor(case.args[0], dtype=torch.float64, requires_grad=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, torch.tensor(case.args[1], dtype=torch.float64)
        )
        loss.backward()
        assert math.isclose(loss.item(), case.expected[0], rel_tol=1e-12)
        assert torch.allclose(
            logits.grad, torch.tensor(case.expected[1], dtype=torch.float64), rtol=1e-12
        )


def test_the_mlp_exercise_computes_notebook_5c_model() -> None:
    # 05c's CharMLP: embeddings side by side, Linear, then out.after_relu (relu, not tanh)
    for case in ex.get("05c.mlp_logits").cases():
        C, W1, b1, W2, b2, context = case.args  # noqa: N806
        hidden, out = Linear(len(W1[0]), len(W1), seed=0), Linear(len(W2[0]), len(W2), seed=0)
        for layer, W, b in ((hidden, W1, b1), (out, W2, b2)):  # noqa: N806
            for weights, row, bias, number in zip(layer.weight, W, layer.bias, b):
                for w, x in zip(weights, row):
                    w.data = x
                bias.data = number
        x = [Value(number) for i in context for number in C[i]]
        logits = [v.data for v in out.after_relu(hidden(x))]
        assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(logits, case.expected))


def _notebook_code(prefix: str) -> str | None:
    found = sorted((ROOT / "notebooks").glob(f"{prefix}_*.ipynb"))
    if not found:
        return None
    cells = json.loads(found[0].read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize("notebook", sorted({e.notebook for e in ALL}))
def test_each_notebook_has_every_exercise_as_its_stub_and_check(notebook: str) -> None:
    code = _notebook_code(notebook)
    assert code is not None, f"no notebook {notebook}_*.ipynb for the exercises {notebook}.*"
    assert "from tinygrad_edu.exercises import check" in code
    for exercise in ex.exercises(notebook):
        assert exercise.stub.strip() in code, exercise.id
        assert f'check("{exercise.id}", {exercise.function_name})' in code, exercise.id


def test_the_exercises_page_lists_every_exercise_once() -> None:
    page = (ROOT / "docs" / "exercises.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\|.*\| `(\d\d[a-z]?\.\w+)` \|$", page, re.MULTILINE)
    assert sorted(listed) == sorted(IDS)
    for exercise in ALL:
        assert f"| {exercise.title} | `{exercise.id}` |" in page, exercise.id


def test_the_command_line_lists_and_shows(capsys: pytest.CaptureFixture) -> None:
    assert ex.main(["--list"]) == 0
    assert capsys.readouterr().out.count("\n") == len(ALL)
    assert ex.main(["--list", "03"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == [
        e.id for e in ex.exercises("03")
    ]
    assert ex.main(["--show", "03.neuron_grads"]) == 0
    out = capsys.readouterr().out
    assert ex.get("03.neuron_grads").stub in out and 'check("03.neuron_grads", neuron_grads)' in out
    assert ex.main(["--show", "03.nope"]) == 2
    assert ex.main(["--list", "99"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 2
