"""Neuron, Layer, MLP and Module: structure, numbers against PyTorch, state dicts, seeds."""

from __future__ import annotations

import json
import math
import random
import statistics
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Value, gradcheck, nn, no_grad
from tinygrad_edu.nn import ACTIVATIONS, MLP, Layer, Module, Neuron

finite = st.floats(-3.0, 3.0, allow_nan=False)


def unfused_neuron(neuron: Neuron, x: list) -> Value:
    """The textbook neuron: b + w_0 x_0 + w_1 x_1 + ... as separate nodes, then the activation."""
    out = sum((w * xi for w, xi in zip(neuron.w, x)), neuron.b)
    if neuron.activation == "linear":
        return out
    return getattr(out, neuron.activation)()


# ------------------------------------------------------------------ structure


def test_mlp_2_16_16_1_has_337_parameters() -> None:
    model = MLP(2, [16, 16, 1], seed=0)
    # (2 weights + 1 bias) * 16 + (16 + 1) * 16 + (16 + 1) * 1
    assert model.num_parameters() == len(model.parameters()) == 3 * 16 + 17 * 16 + 17 == 337
    assert len({id(p) for p in model.parameters()}) == 337


def test_parameters_are_ordered_layer_by_layer_neuron_by_neuron_weights_then_bias() -> None:
    model = MLP(3, [4, 2], seed=1)
    expected = [
        p for layer in model.layers for n in layer.neurons for p in [*n.w, n.b]
    ]  # fmt: skip
    assert [id(p) for p in model.parameters()] == [id(p) for p in expected]


def test_named_parameters_match_parameters_and_label_every_parameter() -> None:
    model = MLP(2, [3, 1], seed=2)
    named = model.named_parameters()
    assert [p for _, p in named] == model.parameters()
    names = [name for name, _ in named]
    assert names[:4] == [
        "layers.0.neurons.0.w.0",
        "layers.0.neurons.0.w.1",
        "layers.0.neurons.0.b",
        "layers.0.neurons.1.w.0",
    ]
    assert names[-1] == "layers.1.neurons.0.b"
    assert len(set(names)) == len(names)
    assert all(p.label == name for name, p in named)
    assert list(model.state_dict()) == names


def test_labels_are_relative_to_the_module_they_were_built_in() -> None:
    layer = Layer(2, 2, seed=0)
    assert [p.label for p in layer.parameters()] == [
        "neurons.0.w.0", "neurons.0.w.1", "neurons.0.b",
        "neurons.1.w.0", "neurons.1.w.1", "neurons.1.b",
    ]  # fmt: skip
    assert [p.label for p in Neuron(2, seed=0).parameters()] == ["w.0", "w.1", "b"]


def test_last_layer_is_linear_unless_told_otherwise() -> None:
    model = MLP(2, [4, 4, 3], activation="tanh", seed=0)
    assert [layer.activation for layer in model.layers] == ["tanh", "tanh", "linear"]
    model = MLP(2, [4, 1], seed=0, output_activation="sigmoid")
    assert [layer.activation for layer in model.layers] == ["relu", "sigmoid"]
    assert 0.0 < model([0.3, -0.2]).data < 1.0


def test_repr_shows_the_architecture_and_parameter_count() -> None:
    assert (
        repr(MLP(2, [16, 16, 1], seed=0))
        == "MLP(2 -> [16 relu, 16 relu, 1 linear], 337 parameters)"
    )
    assert repr(Layer(2, 16, "tanh", seed=0)) == "Layer(2 -> 16 tanh, 48 parameters)"
    assert repr(Neuron(3, "sigmoid", seed=0)) == "Neuron(3 inputs, sigmoid, 4 parameters)"


# ------------------------------------------------------------------ calling a model


def test_one_output_gives_a_value_several_give_a_list() -> None:
    x = [0.5, -1.0]
    assert isinstance(MLP(2, [4, 1], seed=0)(x), Value)
    outputs = MLP(2, [4, 3], seed=0)(x)
    assert isinstance(outputs, list) and len(outputs) == 3
    assert all(isinstance(v, Value) for v in outputs)
    assert isinstance(Layer(2, 1, seed=0)(x), Value)
    assert isinstance(Layer(2, 2, seed=0)(x), list)
    assert isinstance(Neuron(2, seed=0)(x), Value)


def test_a_hidden_layer_of_width_one_feeds_the_next_layer() -> None:
    model = MLP(2, [1, 2], activation="tanh", seed=0)
    hidden = model.layers[0].neurons[0]([0.2, 0.4])
    out = model([0.2, 0.4])
    assert [v.data for v in out] == [n([hidden]).data for n in model.layers[1].neurons]


@pytest.mark.parametrize("make", [lambda: MLP(3, [2, 1], seed=0), lambda: Layer(3, 2, seed=0),
                                  lambda: Neuron(3, seed=0)])  # fmt: skip
def test_wrong_number_of_inputs_names_expected_and_got(make) -> None:
    model = make()
    with pytest.raises(ValueError, match=r"expected 3 inputs, got 2"):
        model([1.0, 2.0])
    with pytest.raises(TypeError, match="expected a list of 3"):
        model(1.0)


@pytest.mark.parametrize("make", [lambda: MLP(3, [2, 1], seed=0), lambda: Layer(3, 2, seed=0),
                                  lambda: Neuron(3, seed=0)])  # fmt: skip
def test_a_batch_where_one_sample_is_expected_says_one_sample_at_a_time(make) -> None:
    import numpy as np

    model = make()
    X = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]  # noqa: N806
    hint = r"one sample at a time; use \[model\(x\) for x in X\]"
    for batch in (X, X[:2], X[:1], [tuple(x) for x in X], np.array(X)):
        with pytest.raises(TypeError, match=hint):
            model(batch)
    # one sample, as a list, a tuple or a NumPy row, is what the model takes
    numbers = lambda out: [v.data for v in out] if isinstance(out, list) else out.data  # noqa: E731
    expected = numbers(model(X[0]))
    assert numbers(model(tuple(X[0]))) == numbers(model(np.array(X[0]))) == expected


def test_unknown_or_mistyped_activation_is_refused() -> None:
    with pytest.raises(ValueError, match="'softmax'"):
        MLP(2, [3, 1], activation="softmax")
    with pytest.raises(ValueError, match="'swish'"):
        MLP(2, [3, 1], output_activation="swish")
    with pytest.raises(ValueError, match="'Relu'"):
        Neuron(2, activation="Relu")
    with pytest.raises(TypeError, match="activation must be a str"):
        Layer(2, 2, activation=None)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: Neuron(0), ValueError),
        (lambda: Neuron(2.0), TypeError),
        (lambda: Layer(2, 0), ValueError),
        (lambda: MLP(2, []), TypeError),
        (lambda: MLP(2, 3), TypeError),
        (lambda: MLP(2, [3, 0]), ValueError),
        (lambda: MLP(2, [3, 1], seed="abc"), TypeError),
    ],
)
def test_bad_sizes_and_seeds_are_refused(make, error) -> None:
    with pytest.raises(error):
        make()


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@given(x=st.lists(finite, min_size=3, max_size=3), as_values=st.booleans())
def test_fused_neuron_equals_the_unfused_sum_bit_for_bit(activation, x, as_values) -> None:
    neuron = Neuron(3, activation, seed=5)
    neuron.b.data = 0.1  # a non-zero bias, so its place in the sum matters

    def run(forward) -> tuple[float, list[float]]:
        inputs = [Value(v) for v in x] if as_values else list(x)
        neuron.zero_grad()
        out = forward(inputs)
        out.backward()
        input_grads = [v.grad for v in inputs] if as_values else []
        return out.data, [p.grad for p in neuron.parameters()] + input_grads

    assert run(neuron) == run(lambda inputs: unfused_neuron(neuron, inputs))


def test_the_weighted_sum_is_one_node_with_every_weight_and_the_bias_as_parents() -> None:
    neuron = Neuron(4, "tanh", seed=0)
    out = neuron([1.0, 2.0, 3.0, 4.0])
    pre_activation = out.parents[0]
    assert out.op == "tanh" and pre_activation.op == "w·x+b"
    assert pre_activation.parents == (*neuron.w, neuron.b)


def test_mlp_matches_pytorch_in_value_and_every_gradient(torch) -> None:
    model = MLP(3, [5, 4, 2], activation="tanh", seed=3)
    x = [0.3, -1.2, 0.7]
    inputs = [Value(v) for v in x]
    out = model(inputs)
    (out[0] * 2.0 - out[1]).backward()

    # The same network as matrices in PyTorch, built from our weights.
    weights, biases = [], []
    for layer in model.layers:
        w = torch.tensor([[w.data for w in n.w] for n in layer.neurons], requires_grad=True)
        b = torch.tensor([n.b.data for n in layer.neurons], requires_grad=True)
        weights.append(w)
        biases.append(b)
    h = torch.tensor(x, requires_grad=True)
    t = h
    for k, (w, b) in enumerate(zip(weights, biases)):
        t = w @ t + b
        if k < len(weights) - 1:
            t = torch.tanh(t)
    (t[0] * 2.0 - t[1]).backward()

    assert [v.data for v in out] == pytest.approx(t.tolist(), rel=1e-12, abs=1e-12)
    for layer, w, b in zip(model.layers, weights, biases):
        ours_w = [p.grad for n in layer.neurons for p in n.w]  # row by row, as w is stored
        assert ours_w == pytest.approx(w.grad.flatten().tolist(), rel=1e-12, abs=1e-12)
        assert [n.b.grad for n in layer.neurons] == pytest.approx(b.grad.tolist(), abs=1e-12)
    assert [v.grad for v in inputs] == pytest.approx(h.grad.tolist(), rel=1e-12, abs=1e-12)


def test_gradients_with_respect_to_the_inputs_pass_gradcheck() -> None:
    model = MLP(2, [6, 1], activation="sigmoid", seed=4)
    assert gradcheck(lambda a, b: model([a, b]), 0.4, -0.9)


def test_under_no_grad_the_output_records_no_graph() -> None:
    model = MLP(2, [3, 1], seed=0)
    with no_grad():
        out = model([1.0, 2.0])
    assert out.parents == ()


def test_zero_grad_clears_every_gradient() -> None:
    model = MLP(2, [3, 1], activation="tanh", seed=0)
    model([1.0, -1.0]).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_a_module_must_say_what_its_parameters_are() -> None:
    class Empty(Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty"):
        Empty().parameters()


# ------------------------------------------------------------------ initialisation and seeds


def test_same_seed_same_weights_different_seed_different_weights() -> None:
    assert MLP(2, [8, 1], seed=7).state_dict() == MLP(2, [8, 1], seed=7).state_dict()
    assert MLP(2, [8, 1], seed=7).state_dict() != MLP(2, [8, 1], seed=8).state_dict()
    assert MLP(2, [8, 1]).state_dict() != MLP(2, [8, 1]).state_dict()  # no seed: fresh


def test_a_generator_can_be_shared_and_determines_the_weights() -> None:
    a, b = random.Random(3), random.Random(3)
    assert Layer(2, 3, seed=a).state_dict() == Layer(2, 3, seed=b).state_dict()


@pytest.mark.parametrize("seed", [None, 11])
def test_the_global_random_state_is_not_touched(seed) -> None:
    random.seed(1234)
    state = random.getstate()
    MLP(2, [16, 16, 1], seed=seed)
    Layer(3, 2, seed=seed)
    Neuron(3, seed=seed)
    assert random.getstate() == state


@pytest.mark.parametrize(
    ("activation", "gain_squared"),
    [("relu", 2.0), ("leaky_relu", 2.0 / (1.0 + 0.01**2)), ("tanh", 1.0), ("sigmoid", 1.0),
     ("linear", 1.0)],
)  # fmt: skip
def test_weights_have_variance_gain_squared_over_fan_in_and_biases_start_at_zero(
    activation, gain_squared
) -> None:
    nin = 400
    layer = Layer(nin, 20, activation, seed=0)
    weights = [w.data for n in layer.neurons for w in n.w]
    expected = gain_squared / nin  # He for relu, LeCun for tanh/sigmoid/linear
    assert statistics.pvariance(weights) == pytest.approx(expected, rel=0.05)
    assert max(abs(w) for w in weights) <= math.sqrt(3.0 * expected)  # uniform's bound
    assert statistics.fmean(weights) == pytest.approx(0.0, abs=0.05 * math.sqrt(expected))
    assert all(n.b.data == 0.0 for n in layer.neurons)


# ------------------------------------------------------------------ state dicts


def test_state_dict_round_trips_through_json() -> None:
    model = MLP(2, [4, 4, 1], seed=0)
    text = json.dumps(model.state_dict())
    other = MLP(2, [4, 4, 1], seed=99)
    other.load_state_dict(json.loads(text))
    assert other.state_dict() == model.state_dict()
    x = [0.25, -0.75]
    assert other(x).data == model(x).data
    assert all(type(p.data) is float for p in other.parameters())


def test_state_dict_is_a_plain_dict_of_floats() -> None:
    state = MLP(2, [3, 1], seed=0).state_dict()
    assert type(state) is dict
    assert all(type(k) is str and type(v) is float for k, v in state.items())


def _broken_states(good: dict) -> list[tuple[dict, type, str]]:
    first, last = next(iter(good)), list(good)[-1]
    missing = dict(good)
    del missing[last]
    extra = {**good, "layers.9.neurons.0.b": 1.0}
    return [
        (missing, KeyError, last),
        (extra, KeyError, "layers.9.neurons.0.b"),
        ({**good, last: "0.5"}, ValueError, last),
        ({**good, last: None}, ValueError, last),
        ({**good, last: True}, ValueError, last),
        ({**good, last: math.nan}, ValueError, last),
        ({**good, last: math.inf}, ValueError, last),
        ({**good, first: [1.0]}, ValueError, first),
        ({**good, last: 10**400}, ValueError, rf"{last}' is too large for a float64"),
        ({**good, first: -(10**400)}, ValueError, rf"{first}' is too large for a float64"),
        ({**good, last: Fraction(10**400, 3)}, ValueError, rf"{last}' is too large"),
    ]


@pytest.mark.parametrize("case", range(11))
def test_a_failed_load_names_the_entry_and_leaves_the_model_unchanged(case) -> None:
    model = MLP(2, [3, 1], seed=0)
    before = model.state_dict()
    new = {name: value + 1.0 for name, value in before.items()}  # would change every weight
    state, error, name = _broken_states(new)[case]
    with pytest.raises(error, match=name.replace(".", r"\.")):
        model.load_state_dict(state)
    assert model.state_dict() == before


def test_load_state_dict_given_a_whole_saved_file_points_to_nn_load(tmp_path) -> None:
    model = MLP(2, [3, 1], seed=0)
    path = nn.save(model, tmp_path / "model.json")
    whole = json.loads(path.read_text())
    with pytest.raises(ValueError, match=r"whole saved model .* nn\.load\(path\)"):
        MLP(2, [3, 1], seed=1).load_state_dict(whole)
    other = MLP(2, [3, 1], seed=1)
    other.load_state_dict(whole["state_dict"])  # the part that is a state dict
    assert other.state_dict() == model.state_dict()


def test_load_state_dict_wants_a_mapping() -> None:
    with pytest.raises(TypeError, match="dict"):
        MLP(2, [1], seed=0).load_state_dict([("layers.0.neurons.0.b", 1.0)])
