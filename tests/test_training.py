"""Training end to end: moons and spirals are learned; fit's loop, history and errors."""

from __future__ import annotations

import math
import re
import warnings

import pytest

from tinygrad_edu import datasets, is_grad_enabled, losses
from tinygrad_edu.nn import MLP
from tinygrad_edu.optim import SGD, Adam
from tinygrad_edu.training import accuracy, fit, predict

# ------------------------------------------------------------------ the networks learn


@pytest.mark.slow
def test_mlp_2_16_16_1_learns_moons_to_97_percent_in_100_adam_steps() -> None:
    points, labels = datasets.make_moons(100, noise=0.1, seed=0)
    model = MLP(2, [16, 16, 1], seed=0)
    history = fit(model, points, labels, steps=100, progress=False)  # Adam by default
    assert accuracy(model, points, labels) >= 0.97
    assert len(history["loss"]) == len(history["accuracy"]) == 100
    assert history["loss"][-1] < 0.1 * history["loss"][0]


def test_three_spirals_are_learned_to_90_percent_with_cross_entropy() -> None:
    points, labels = datasets.make_spirals(60, n_classes=3, noise=0.2, seed=0)
    model = MLP(2, [16, 16, 3], seed=0)
    fit(model, points, labels, loss="cross_entropy", steps=60, progress=False)
    assert accuracy(model, points, labels) >= 0.90


# ------------------------------------------------------------------ what a step does


@pytest.fixture
def small_problem():
    points, labels = datasets.make_moons(20, noise=0.1, seed=1)
    return points, labels, MLP(2, [4, 1], seed=1), MLP(2, [4, 1], seed=1)


def test_a_step_is_forward_loss_penalty_backward_update(small_problem) -> None:
    points, labels, model, twin = small_problem
    # The same step by hand, on an identical model.
    scores = [twin(x) for x in points]
    signs = [2 * label - 1 for label in labels]
    loss = losses.hinge_loss(scores, signs) + losses.l2_penalty(twin.parameters(), 0.01)
    loss.backward()
    expected = [p.data - 0.1 * p.grad for p in twin.parameters()]
    correct = sum((s.data > 0) == (label == 1) for s, label in zip(scores, labels))

    calls = []
    history = fit(
        model, points, labels, optimizer=SGD(model.parameters(), lr=0.1), steps=1, l2=0.01,
        progress=False, callback=lambda *args: calls.append(args),
    )  # fmt: skip
    assert history == {"loss": [loss.data], "accuracy": [correct / len(labels)]}
    assert calls == [(1, loss.data, correct / len(labels))]  # steps count from 1
    assert [p.data for p in model.parameters()] == expected


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("hinge", lambda s, y: losses.hinge_loss(s, [2 * v - 1 for v in y])),
        ("bce", losses.binary_cross_entropy_with_logits),
        ("mse", lambda s, y: losses.mse_loss(s, [2.0 * v - 1.0 for v in y])),
    ],
)
def test_each_named_binary_loss_is_the_documented_function_and_goes_down(
    small_problem, name, reference
) -> None:
    points, labels, model, twin = small_problem
    expected_first = reference([twin(x) for x in points], labels).data
    history = fit(model, points, labels, loss=name, steps=15, progress=False)
    assert history["loss"][0] == expected_first
    assert history["loss"][-1] < history["loss"][0]


def test_a_loss_function_can_be_given(small_problem) -> None:
    points, labels, model, _ = small_problem
    seen = []

    def loss(outputs, y):
        seen.append(len(outputs))
        return losses.mse_loss(outputs, [float(v) for v in y])

    history = fit(model, points, labels, loss=loss, steps=3, progress=False)
    assert seen == [20, 20, 20] and len(history["loss"]) == 3


def test_callback_step_indexes_the_history(small_problem) -> None:
    points, labels, model, _ = small_problem
    calls = []
    history = fit(model, points, labels, steps=5, progress=False,
                  callback=lambda step, loss, acc: calls.append((step, loss, acc)))  # fmt: skip
    assert [step for step, _, _ in calls] == [1, 2, 3, 4, 5]
    assert all(history["loss"][s - 1] == loss and history["accuracy"][s - 1] == acc
               for s, loss, acc in calls)  # fmt: skip


def test_progress_bar_shows_loss_and_accuracy_and_can_be_switched_off(small_problem, capsys):
    points, labels, model, _ = small_problem
    fit(model, points, labels, steps=3, progress=True)
    shown = capsys.readouterr().err
    assert "training" in shown and "loss=" in shown and "accuracy=" in shown and "3/3" in shown
    fit(model, points, labels, steps=3, progress=False)
    assert capsys.readouterr() == ("", "")


def test_default_optimizer_is_adam_with_lr_0_05(small_problem) -> None:
    points, labels, model, twin = small_problem
    fit(model, points, labels, steps=4, progress=False)
    fit(twin, points, labels, steps=4, progress=False,
        optimizer=Adam(twin.parameters(), lr=0.05))  # fmt: skip
    assert model.state_dict() == twin.state_dict()


# ------------------------------------------------------------------ predict and accuracy


def test_predict_thresholds_one_score_at_zero_and_takes_argmax_of_several() -> None:
    points = [[0.3, -0.2], [-1.0, 0.5], [0.9, 0.9], [0.0, -0.7]]
    binary = MLP(2, [5, 1], seed=2)
    assert predict(binary, points) == [int(binary(x).data > 0) for x in points]
    multi = MLP(2, [5, 3], seed=2)
    expected = []
    for x in points:
        scores = [v.data for v in multi(x)]
        expected.append(max(range(3), key=scores.__getitem__))
    assert predict(multi, points) == expected
    assert is_grad_enabled()


def test_accuracy_is_the_fraction_of_correct_predictions() -> None:
    points, labels = datasets.make_moons(30, seed=0)
    model = MLP(2, [4, 1], seed=0)
    predicted = predict(model, points)
    assert accuracy(model, points, labels) == sum(
        p == label for p, label in zip(predicted, labels)
    ) / len(labels)


# ------------------------------------------------------------------ errors leave the model alone


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"loss": "softmax"}, ValueError, "unknown loss 'softmax'"),
        ({"loss": 3}, TypeError, "loss must be a name or a function"),
        ({"loss": "cross_entropy"}, ValueError, "needs one output per class"),
        (
            {"labels": [2] * 20},
            ValueError,
            "binary labels must be 0/1 or -1/\\+1, got 2 at index 0",
        ),
        ({"labels": [0] * 10 + [-1] * 10}, ValueError, r"0/1 or -1/\+1, not a mix .*\[0\] is 0"),
        ({"labels": [True] * 20}, TypeError, r"fit: labels\[0\] must be a number, got bool"),
        ({"labels": [0, 1]}, ValueError, "X has 20 samples but y has 2 labels"),
        ({"points": [], "labels": []}, ValueError, "empty"),
        ({"points": [[1.0, 2.0, 3.0]] * 20}, ValueError, "expected 2 inputs, got 3"),
        ({"steps": 0}, ValueError, "steps must be >= 1"),
        ({"l2": -1.0}, ValueError, "l2 must be >= 0"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be an Optimizer"),
        ({"callback": 5}, TypeError, "callback must be callable"),
        ({"loss": lambda outputs, y: 1.0}, TypeError, "must return a Value"),
        (
            {"loss": lambda outputs, y: (outputs[0] * 0.0 + 1e300) * 1e300},
            OverflowError,
            r"fit: step 1 of 100: '\*' of \(1e\+300, 1e\+300\) overflows float64",
        ),
    ],
)
def test_bad_arguments_raise_and_leave_the_model_unchanged(
    small_problem, change, error, message
) -> None:
    points, labels, model, _ = small_problem
    arguments = {"points": points, "labels": labels, **change}
    before = model.state_dict()
    options = {k: v for k, v in arguments.items() if k not in ("points", "labels")}
    with pytest.raises(error, match=message):
        fit(model, arguments["points"], arguments["labels"], progress=False, **options)
    assert model.state_dict() == before


@pytest.mark.filterwarnings("ignore:fit.*diverging:RuntimeWarning")
def test_a_diverging_run_stops_with_the_step_and_the_weights_before_it() -> None:
    points, labels = datasets.make_moons(20, noise=0.1, seed=0)
    model = MLP(2, [8, 1], seed=0)
    weights_after = []  # the weights after each completed step
    with pytest.raises(
        ArithmeticError, match=r"fit: step (\d+) of 100: .*smaller learning"
    ) as info:
        fit(
            model,
            points,
            labels,
            loss="mse",
            optimizer=SGD(model.parameters(), lr=1e30),
            steps=100,
            progress=False,
            callback=lambda step, loss, accuracy: weights_after.append(model.state_dict()),
        )
    failed_step = int(re.search(r"step (\d+)", str(info.value)).group(1))
    assert failed_step == len(weights_after) + 1 > 1  # steps 1 .. failed_step - 1 completed
    assert model.state_dict() == weights_after[-1]
    assert all(math.isfinite(w) for w in model.state_dict().values())


def test_a_loss_that_grows_by_orders_of_magnitude_gets_one_warning(small_problem) -> None:
    points, labels, model, _ = small_problem
    with pytest.warns(RuntimeWarning) as caught:
        history = fit(model, points, labels, optimizer=SGD(model.parameters(), lr=1e6),
                      steps=10, progress=False)  # fmt: skip
    assert len(caught) == 1
    message = str(caught[0].message)
    # the first step whose loss is over 1000 times the loss at step 1 is named
    step = next(i + 1 for i, loss in enumerate(history["loss"]) if loss > 1000 * history["loss"][0])
    assert message.startswith(f"fit: step {step}: the loss is ")
    assert "diverging" in message and "smaller learning rate (lr is 1e+06)" in message
    assert caught[0].filename == __file__  # it points at the call to fit


def test_a_healthy_run_gets_no_warning(small_problem) -> None:
    points, labels, model, _ = small_problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = fit(model, points, labels, steps=30, progress=False)
    assert history["loss"][-1] < history["loss"][0]


def test_an_optimizer_holding_none_of_the_models_parameters_is_refused(small_problem) -> None:
    points, labels, model, twin = small_problem
    before = model.state_dict()
    with pytest.raises(ValueError, match="optimizer holds none of the model's 17 parameters"):
        fit(model, points, labels, optimizer=SGD(twin.parameters(), lr=1.0), progress=False)
    assert model.state_dict() == before == twin.state_dict()
    # an optimizer for some of the parameters (the last layer only, say) is fine
    last_layer = model.layers[-1].parameters()
    fit(model, points, labels, optimizer=SGD(last_layer, lr=0.1), steps=2, progress=False)
    changed = [name for name, value in model.state_dict().items() if value != before[name]]
    assert changed and all(name.startswith("layers.1.") for name in changed)


# ------------------------------------------------------------------ binary labels: 0/1 or -1/+1


@pytest.mark.parametrize("loss", ["hinge", "bce", "mse"])
def test_every_binary_loss_takes_labels_0_1_and_minus_1_plus_1_alike(small_problem, loss) -> None:
    points, labels, model, twin = small_problem
    signs = [2 * label - 1 for label in labels]
    history = fit(model, points, labels, loss=loss, steps=5, progress=False)
    assert fit(twin, points, signs, loss=loss, steps=5, progress=False) == history
    assert model.state_dict() == twin.state_dict()
    assert accuracy(model, points, signs) == accuracy(model, points, labels)


def test_accuracy_counts_a_positive_score_right_for_label_1_and_negative_for_0_or_minus_1() -> None:
    points, labels = datasets.make_moons(30, seed=0)
    model = MLP(2, [4, 1], seed=0)
    scores = [model(x).data for x in points]
    right = sum((s > 0) == (label == 1) for s, label in zip(scores, labels)) / len(labels)
    assert 0 < right < 1
    assert accuracy(model, points, labels) == right
    assert accuracy(model, points, [2 * label - 1 for label in labels]) == right
    assert accuracy(model, points, [float(label) for label in labels]) == right
    with pytest.raises(ValueError, match=r"accuracy: .*0/1 or -1/\+1, not a mix"):
        accuracy(model, points, [-1, *labels[1:]])  # a -1 among 0/1 labels


def test_binary_losses_need_a_model_with_one_output() -> None:
    points, labels = datasets.make_moons(10, seed=0)
    with pytest.raises(ValueError, match="needs a model with one output, but it has 3"):
        fit(MLP(2, [4, 3], seed=0), points, labels, loss="hinge", progress=False)


@pytest.mark.parametrize("loss", ["hinge", "bce", "mse", lambda outputs, y: outputs[0]])
def test_more_than_two_classes_for_one_output_suggest_cross_entropy(loss) -> None:
    points, labels = datasets.make_spirals(30, n_classes=3, seed=0)
    model = MLP(2, [4, 1], seed=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"fit: y holds 3 classes \(0, 1, 2\), but a model with "
                       r"one output separates two; .*use loss='cross_entropy' and a model with "
                       r"one output per class \(e\.g\. MLP\(\.\.\., \[16, 3\]\)\)"):  # fmt: skip
        fit(model, points, labels, loss=loss, progress=False)
    assert model.state_dict() == before
    with pytest.raises(ValueError, match="accuracy: y holds 3 classes"):
        accuracy(model, points, labels)
    # what the message says to do works
    history = fit(MLP(2, [4, 3], seed=0), points, labels, loss="cross_entropy", steps=3,
                  progress=False)  # fmt: skip
    assert len(history["loss"]) == 3


def test_only_modules_can_be_fitted_or_evaluated() -> None:
    with pytest.raises(TypeError, match="model must be a Module"):
        fit(lambda x: x, [[1.0]], [0], progress=False)
    with pytest.raises(TypeError, match="model must be a Module"):
        predict(lambda x: x, [[1.0]])
