"""nn.save and nn.load: a model file that rebuilds the model, strict and all-or-nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tinygrad_edu import Value, nn
from tinygrad_edu.nn import MLP, Layer, Module, Neuron

MODELS = [
    lambda: MLP(2, [16, 16, 1], seed=0),
    lambda: MLP(3, [5, 4], activation="tanh", seed=1, output_activation="sigmoid"),
    lambda: MLP(2, [3, 3, 2], activation="leaky_relu", seed=2),
    lambda: Layer(4, 2, "sigmoid", seed=3),
    lambda: Neuron(5, activation="linear", seed=4),
]


@pytest.mark.parametrize("make", MODELS)
def test_load_rebuilds_the_saved_model_exactly(make, tmp_path: Path) -> None:
    model = make()
    path = nn.save(model, tmp_path / "model.json")
    copy = nn.load(path)
    assert type(copy) is type(model) and repr(copy) == repr(model)
    assert copy.state_dict() == model.state_dict()
    assert [name for name, _ in copy.named_parameters()] == [
        name for name, _ in model.named_parameters()
    ]
    x = [0.25 * (i + 1) for i in range(model.nin)]
    out, out_copy = model(x), copy(x)
    if isinstance(out, list):
        assert [v.data for v in out] == [v.data for v in out_copy]
    else:
        assert out.data == out_copy.data


def test_the_file_is_json_with_the_kind_the_config_the_weights_and_metadata(tmp_path) -> None:
    model = MLP(2, [3, 1], activation="tanh", seed=0)
    nn.save(model, tmp_path / "m.json", metadata={"note": "trained on moons"})
    data = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert data == {
        "format": "tinygrad_edu.model",
        "version": 1,
        "kind": "MLP",
        "config": {"nin": 2, "nouts": [3, 1], "activation": "tanh", "output_activation": "linear"},
        "state_dict": model.state_dict(),
        "metadata": {"note": "trained on moons"},
    }
    assert MLP(**data["config"]).num_parameters() == model.num_parameters()


def test_a_failed_save_leaves_the_previous_file_whole(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "model.json"
    nn.save(MLP(2, [3, 1], seed=0), path)
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        nn.save(MLP(2, [8, 8, 1], seed=1), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.json"]  # no temporary file left behind


def _saved(tmp_path: Path) -> tuple[Path, dict]:
    path = nn.save(MLP(2, [3, 1], seed=0), tmp_path / "model.json")
    return path, json.loads(path.read_text())


def _write(path: Path, data: object) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _broken_files() -> list[tuple[object, str]]:
    """(how to spoil a good file's data, the message expected)."""
    return [
        (lambda d: "{not json", "not valid JSON"),
        (lambda d: [1, 2], r"not a saved model: it has no \"format\""),
        (lambda d: d["state_dict"], r"not a saved model: it has no \"format\""),
        (lambda d: {**d, "format": "other"}, "not a saved model"),
        (lambda d: {k: v for k, v in d.items() if k != "config"}, "missing entries config"),
        (lambda d: {**d, "weights": {}}, "unexpected entries 'weights'"),
        (lambda d: {**d, "version": 2}, "format version 2; .* reads version 1"),
        (lambda d: {**d, "version": True}, "format version True"),
        (lambda d: {**d, "kind": "Transformer"}, "unknown kind of model 'Transformer'"),
        (lambda d: {**d, "config": [2, [3, 1]]}, "config must be an object"),
        (lambda d: {**d, "config": {**d["config"], "nin": 0}}, "not build a model of kind MLP"),
        (lambda d: {**d, "config": {**d["config"], "depth": 3}}, "not build a model of kind MLP"),
        (lambda d: {**d, "config": {**d["config"], "nouts": [4, 1]}}, "missing entries"),
        (lambda d: {**d, "state_dict": 3}, "state_dict must be an object"),
        (lambda d: {**d, "metadata": 3}, "metadata must be an object"),
        (
            lambda d: {**d, "state_dict": {**d["state_dict"], "layers.0.neurons.0.b": "x"}},
            "entry 'layers.0.neurons.0.b' must be a real number",
        ),
        (lambda d: _bias_as_text(d, "NaN"), "NaN is not a finite number"),
        (lambda d: _bias_as_text(d, "-Infinity"), "-Infinity is not a finite number"),
        (
            lambda d: _bias_as_text(d, "1" + "0" * 400),
            "entry 'layers.0.neurons.0.b' is too large for a float64",
        ),
    ]  # fmt: skip


def _bias_as_text(data: dict, text: str) -> str:
    """The file's JSON with the first bias written as ``text`` (json.dumps would not)."""
    good = json.dumps(data)
    assert '"layers.0.neurons.0.b": 0.0' in good
    return good.replace('"layers.0.neurons.0.b": 0.0', f'"layers.0.neurons.0.b": {text}')


@pytest.mark.parametrize(("spoil", "message"), _broken_files())
def test_a_broken_file_is_refused_naming_the_file_and_the_problem(spoil, message, tmp_path):
    path, data = _saved(tmp_path)
    _write(path, spoil(data))
    with pytest.raises(ValueError, match=message) as failure:
        nn.load(path)
    assert str(failure.value).startswith(f"nn.load: {str(path)!r}")


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "nothing.json")


def test_only_registered_modules_with_a_config_can_be_saved(tmp_path: Path) -> None:
    class Scale(Module):
        def __init__(self, factor: float = 1.0) -> None:
            self.factor = Value(factor)

        def named_parameters(self):
            return [("factor", self.factor)]

        def config(self) -> dict:
            return {}

    with pytest.raises(TypeError, match=r"Scale is not a registered kind .* nn\.register\(Scale\)"):
        nn.save(Scale(), tmp_path / "s.json")
    with pytest.raises(TypeError, match="model must be a Module"):
        nn.save([1.0], tmp_path / "s.json")
    assert not (tmp_path / "s.json").exists()


def test_a_registered_kind_round_trips(tmp_path: Path, monkeypatch) -> None:
    """What a new model (a GPT, say) needs: config() and one register() call."""
    monkeypatch.setattr(nn.saving, "MODEL_KINDS", dict(nn.saving.MODEL_KINDS))

    @nn.register
    class Affine(Module):
        def __init__(self, width: int) -> None:
            self.width = width
            self.w = [Value(0.0, f"w.{i}") for i in range(width)]

        def named_parameters(self):
            return [(f"w.{i}", w) for i, w in enumerate(self.w)]

        def config(self) -> dict:
            return {"width": self.width}

    model = Affine(3)
    for i, w in enumerate(model.w):
        w.data = i + 0.5
    copy = nn.load(nn.save(model, tmp_path / "affine.json"))
    assert type(copy) is Affine and copy.width == 3
    assert copy.state_dict() == {"w.0": 0.5, "w.1": 1.5, "w.2": 2.5}
    with pytest.raises(ValueError, match="'Affine' is already taken"):
        nn.register(type("Affine", (Module,), {}))
    with pytest.raises(TypeError, match="expected a Module class"):
        nn.register(int)


def test_a_module_without_config_says_so() -> None:
    class Bare(Module):
        def named_parameters(self):
            return []

    with pytest.raises(NotImplementedError, match="Bare must define config"):
        Bare().config()
