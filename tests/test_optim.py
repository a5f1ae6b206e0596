"""Optimizers and schedules: trajectories against torch.optim, safety, validation."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from tinygrad_edu import Value, losses
from tinygrad_edu.nn import MLP
from tinygrad_edu.optim import SGD, Adam, CosineAnnealingLR, LinearLR, StepLR

START = [0.5, -1.2, 0.8, 1.5]
STEPS = 20


def objective(p: list) -> object:
    """Rosenbrock's valley plus a tanh term, written so that Values and tensors both work."""
    total = p[0].tanh() * 0.5
    for a, b in itertools.pairwise(p):
        total = total + (1.0 - a) ** 2 + 10.0 * (b - a * a) ** 2
    return total


def trajectory(params: list, read, make_optimizer, steps: int = STEPS) -> list[list[float]]:
    """Minimise ``objective`` from ``params`` (Values or torch tensors); the points visited."""
    optimizer = make_optimizer(params)
    visited = []
    for _ in range(steps):
        optimizer.zero_grad()
        objective(params).backward()
        optimizer.step()
        visited.append([read(p) for p in params])
    return visited


def our_trajectory(make_optimizer, steps: int = STEPS) -> list[list[float]]:
    return trajectory([Value(x) for x in START], lambda p: p.data, make_optimizer, steps)


def torch_trajectory(torch, make_optimizer, steps: int = STEPS) -> list[list[float]]:
    tensors = [torch.tensor(x, requires_grad=True) for x in START]
    return trajectory(tensors, lambda t: t.item(), make_optimizer, steps)


def assert_same_trajectory(ours: list[list[float]], theirs: list[list[float]]) -> None:
    assert len(ours) == len(theirs) >= 15
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for x, y in zip(a, b):
            assert abs(x - y) <= 1e-9 * max(1.0, abs(y)), f"step {step}: {a} vs {b}"
    assert ours[-1] != [float(x) for x in START]  # the parameters did move


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"momentum": 0.9},
        {"weight_decay": 0.1},
        {"momentum": 0.5, "weight_decay": 0.05},
        {"momentum": 0.9, "nesterov": True},
    ],
)
def test_sgd_follows_torch_optim_sgd(torch, options) -> None:
    ours = our_trajectory(lambda p: SGD(p, lr=0.002, **options))
    theirs = torch_trajectory(torch, lambda p: torch.optim.SGD(p, lr=0.002, **options))
    assert_same_trajectory(ours, theirs)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"lr": 0.05},
        {"lr": 0.01, "weight_decay": 0.1},
        {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-6},
    ],
)
def test_adam_follows_torch_optim_adam(torch, options) -> None:
    ours = our_trajectory(lambda p: Adam(p, **options))
    theirs = torch_trajectory(torch, lambda p: torch.optim.Adam(p, **options))
    assert_same_trajectory(ours, theirs)


def test_sgd_with_a_schedule_follows_torch(torch) -> None:
    def ours(params):
        return StepLR(SGD(params, lr=0.003, momentum=0.9), step_size=4, gamma=0.5)

    def theirs(params):
        optimizer = torch.optim.SGD(params, lr=0.003, momentum=0.9)
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)

    def run(make, leaf, item):
        params = [leaf(x) for x in START]
        schedule = make(params)
        trajectory = []
        for _ in range(STEPS):
            schedule.optimizer.zero_grad()
            objective(params).backward()
            schedule.optimizer.step()
            schedule.step()
            trajectory.append([item(p) for p in params])
        return trajectory

    assert_same_trajectory(
        run(ours, Value, lambda p: p.data),
        run(theirs, lambda x: torch.tensor(x, requires_grad=True), lambda p: p.item()),
    )


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda o: StepLR(o, step_size=3, gamma=0.5),
         lambda t, o: t.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
        (lambda o: CosineAnnealingLR(o, T_max=12, eta_min=0.01),
         lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, T_max=12, eta_min=0.01)),
    ],
)  # fmt: skip
def test_learning_rate_schedules_match_torch(torch, ours, theirs) -> None:
    optimizer = SGD([Value(1.0)], lr=0.1)
    reference_optimizer = torch.optim.SGD([torch.tensor(1.0, requires_grad=True)], lr=0.1)
    schedule, reference = ours(optimizer), theirs(torch, reference_optimizer)
    for _ in range(12):
        reference_optimizer.step()
        reference.step()
        schedule.step()
        assert optimizer.lr == pytest.approx(reference.get_last_lr()[0], rel=1e-12)


def test_cosine_schedule_stays_at_eta_min_after_t_max() -> None:
    optimizer = SGD([Value(1.0)], lr=0.1)
    schedule = CosineAnnealingLR(optimizer, T_max=4, eta_min=0.001)
    lrs = []
    for _ in range(6):
        schedule.step()
        lrs.append(optimizer.lr)
    assert lrs[1] == pytest.approx(0.001 + 0.099 * 0.5)  # halfway: the mean of the two
    assert lrs[3:] == pytest.approx([0.001] * 3)


def test_sgd_weight_decay_is_the_gradient_of_an_l2_penalty_of_half_its_strength() -> None:
    decay = 0.3
    with_decay = our_trajectory(lambda p: SGD(p, lr=0.002, weight_decay=decay))
    params = [Value(x) for x in START]
    optimizer = SGD(params, lr=0.002)
    with_penalty = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        (objective(params) + losses.l2_penalty(params, decay / 2)).backward()
        optimizer.step()
        with_penalty.append([p.data for p in params])
    assert_same_trajectory(with_penalty, with_decay)


def test_plain_sgd_step_is_p_minus_lr_times_grad() -> None:
    model = MLP(2, [3, 1], activation="tanh", seed=0)
    before = [p.data for p in model.parameters()]
    optimizer = SGD(model.parameters(), lr=0.1)
    optimizer.zero_grad()
    model([0.5, -0.5]).backward()
    grads = [p.grad for p in model.parameters()]
    optimizer.step()
    assert [p.data for p in model.parameters()] == [b - 0.1 * g for b, g in zip(before, grads)]


def test_zero_grad_clears_gradients() -> None:
    params = [Value(1.0), Value(2.0)]
    (params[0] * params[1]).backward()
    Adam(params).zero_grad()
    assert [p.grad for p in params] == [0.0, 0.0]


@pytest.mark.parametrize("make", [lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: Adam(p)])
@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_non_finite_gradient_raises_before_anything_changes(make, bad) -> None:
    params = [Value(1.0, "a"), Value(2.0, "b")]
    optimizer = make(params)
    for p in params:
        p.grad = 0.5
    optimizer.step()  # builds momentum / moment estimates

    def state() -> tuple[list[float], str]:
        buffers = {k: v for k, v in vars(optimizer).items() if k != "params"}
        return [p.data for p in params], repr(buffers)

    before = state()
    params[0].grad, params[1].grad = 0.5, bad
    with pytest.raises(FloatingPointError, match=f"the gradient of parameter 'b' is {bad!r}"):
        optimizer.step()
    assert state() == before


@pytest.mark.parametrize(
    "make",
    [lambda p: SGD(p, lr=1e300, momentum=0.9), lambda p: Adam(p, lr=1e307)],
)
def test_an_update_past_float64_raises_before_anything_changes(make) -> None:
    params = [Value(1.0, "a"), Value(-1.78e308, "b")]  # float64 ends at -1.797e308
    optimizer = make(params)
    for p in params:
        p.grad = 1e-300
    optimizer.step()  # a harmless first step builds momentum / moment estimates
    buffers = repr({k: v for k, v in vars(optimizer).items() if k != "params"})
    weights = [p.data for p in params]

    params[0].grad, params[1].grad = 0.5, 1e10
    with pytest.raises(FloatingPointError, match="the update would make parameter 'b' -inf"):
        optimizer.step()
    assert [p.data for p in params] == weights
    assert repr({k: v for k, v in vars(optimizer).items() if k != "params"}) == buffers


def test_adam_refuses_a_gradient_whose_square_overflows() -> None:
    # torch.optim.Adam would store v = inf and never move this parameter again
    params = [Value(1.0, "a"), Value(2.0, "b")]
    optimizer = Adam(params, lr=0.1)
    params[0].grad, params[1].grad = 0.5, 1e200
    with pytest.raises(FloatingPointError, match=r"squared gradient of parameter 'b' overflows"):
        optimizer.step()
    assert [p.data for p in params] == [1.0, 2.0]
    assert (optimizer.t, optimizer.m, optimizer.v) == (0, [0.0, 0.0], [0.0, 0.0])


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: SGD(p, lr=0.0), ValueError, "lr must be > 0"),
        (lambda p: SGD(p, lr=-0.1), ValueError, "lr must be > 0"),
        (lambda p: SGD(p, lr=math.nan), ValueError, "lr must be finite"),
        (lambda p: SGD(p, lr="0.1"), TypeError, "lr must be a real number"),
        (lambda p: SGD(p, lr=0.1, momentum=1.0), ValueError, "momentum must be < 1"),
        (lambda p: SGD(p, lr=0.1, momentum=-0.5), ValueError, "momentum must be >= 0"),
        (lambda p: SGD(p, lr=0.1, weight_decay=-1.0), ValueError, "weight_decay must be >= 0"),
        (lambda p: SGD(p, lr=0.1, nesterov=True), ValueError, "nesterov=True needs a momentum"),
        (lambda p: Adam(p, betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be < 1"),
        (lambda p: Adam(p, betas=(-0.1, 0.9)), ValueError, r"betas\[0\] must be >= 0"),
        (lambda p: Adam(p, betas=0.9), TypeError, "betas must be a pair"),
        (lambda p: Adam(p, eps=0.0), ValueError, "eps must be > 0"),
        (lambda p: Adam(p, weight_decay=-0.1), ValueError, "weight_decay must be >= 0"),
        (lambda p: Adam([]), ValueError, "params is empty"),
        (lambda p: Adam([*p, p[0]]), ValueError, "appears twice"),
        (lambda p: Adam([1.0]), TypeError, r"params\[0\] must be a Value"),
        (lambda p: Adam(MLP(2, [1], seed=0)), TypeError, r"model\.parameters\(\)"),
        (lambda p: StepLR(SGD(p, lr=0.1), step_size=0), ValueError, "step_size must be >= 1"),
        (lambda p: StepLR(object(), step_size=1), TypeError, "expected an optimizer"),
        (lambda p: CosineAnnealingLR(SGD(p, lr=0.1), T_max=0), ValueError, "T_max must be >= 1"),
    ],
)
def test_bad_hyperparameters_are_refused(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make([Value(1.0), Value(2.0)])


# --------------------------------------------------------------------------- p.grad = None


def skipping_trajectory(params: list, read, make_optimizer, steps: int = STEPS) -> list:
    """As :func:`trajectory`, but at step k the parameters k % 4 and (k // 3) % 4 have no
    gradient (``.grad = None``): never the same pattern twice in a row."""
    optimizer = make_optimizer(params)
    visited = []
    for k in range(steps):
        optimizer.zero_grad()
        objective(params).backward()
        params[k % 4].grad = None
        params[(k // 3) % 4].grad = None
        optimizer.step()
        visited.append([read(p) for p in params])
    return visited


OPTIMIZERS = [
    ("SGD", {"lr": 0.002}),
    ("SGD", {"lr": 0.002, "momentum": 0.9, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.002, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.02, "betas": (0.5, 0.9), "weight_decay": 0.1}),
]


@pytest.mark.parametrize(("name", "options"), OPTIMIZERS)
def test_a_parameter_without_a_gradient_is_skipped_as_torch_skips_it(torch, name, options):
    """``p.grad = None`` made step() raise a TypeError; PyTorch skips such a parameter,
    and Adam counts its steps (the bias correction's t) per parameter."""
    ours = skipping_trajectory(
        [Value(x) for x in START], lambda p: p.data, lambda p: globals()[name](p, **options)
    )
    theirs = skipping_trajectory(
        [torch.tensor(x, requires_grad=True) for x in START],
        lambda t: t.item(),
        lambda p: getattr(torch.optim, name)(p, **options),
    )
    assert_same_trajectory(ours, theirs)


@pytest.mark.parametrize(("name", "options"), OPTIMIZERS)
def test_a_step_without_any_gradient_changes_no_weight(name, options) -> None:
    params = [Value(x) for x in START]
    optimizer = globals()[name](params, **options)
    for p in params:
        p.grad = None
    optimizer.step()
    assert [p.data for p in params] == START
    objective(params).backward()  # backward() fills in a gradient that was None
    assert all(isinstance(p.grad, float) and p.grad != 0.0 for p in params)


# --------------------------------------------------------------------------- state_dict


def make_schedule(name: str, optimizer):
    return {
        "LinearLR": lambda: LinearLR(optimizer, total_steps=STEPS),
        "StepLR": lambda: StepLR(optimizer, step_size=3, gamma=0.5),
        "CosineAnnealingLR": lambda: CosineAnnealingLR(optimizer, T_max=12, eta_min=0.001),
    }[name]()


def train(params: list, optimizer, schedule, steps: range) -> None:
    for k in steps:
        optimizer.zero_grad()
        objective(params).backward()
        params[k % 4].grad = None  # per-parameter state that differs, to be carried over
        optimizer.step()
        schedule.step()


@pytest.mark.parametrize(("name", "options"), OPTIMIZERS)
@pytest.mark.parametrize("schedule_name", ["LinearLR", "StepLR", "CosineAnnealingLR"])
def test_a_saved_and_reloaded_optimizer_continues_bit_for_bit(name, options, schedule_name):
    """Stopped after 7 steps, written as JSON and read back into new objects, the run
    ends exactly where one that never stopped ends."""
    params = [Value(x) for x in START]
    full = globals()[name](params, **options)
    full_schedule = make_schedule(schedule_name, full)
    train(params, full, full_schedule, range(STEPS))

    first = [Value(x) for x in START]
    optimizer = globals()[name](first, **options)
    schedule = make_schedule(schedule_name, optimizer)
    train(first, optimizer, schedule, range(7))
    saved = json.loads(json.dumps([[p.data for p in first], optimizer.state_dict(),
                                   schedule.state_dict()]))  # fmt: skip

    second = [Value(x) for x in saved[0]]
    resumed = globals()[name](second, lr=1.0)  # other settings: the state sets them
    resumed_schedule = make_schedule(schedule_name, resumed)
    resumed.load_state_dict(saved[1])
    resumed_schedule.load_state_dict(saved[2])
    assert resumed.state_dict() == optimizer.state_dict()
    assert resumed_schedule.state_dict() == schedule.state_dict()
    train(second, resumed, resumed_schedule, range(7, STEPS))
    assert [p.data for p in second] == [p.data for p in params]
    assert resumed.state_dict() == full.state_dict()
    assert resumed_schedule.state_dict() == full_schedule.state_dict()


def test_the_state_dict_is_a_copy() -> None:
    params = [Value(x) for x in START]
    optimizer = Adam(params, lr=0.1)
    state = optimizer.state_dict()
    objective(params).backward()
    optimizer.step()
    assert state["m"] == [0.0] * 4 and state["t"] == 0 and optimizer.m != state["m"]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda s: s.pop("m"), ValueError, "missing 'm'"),
        (lambda s: s.update(extra=1), ValueError, "unexpected 'extra'"),
        (lambda s: s.update(lr=-1.0), ValueError, "lr must be > 0"),
        (lambda s: s.update(betas=[0.9, 1.5]), ValueError, r"betas\[1\] must be < 1"),
        (lambda s: s.update(m=[0.0] * 3), ValueError, "m must be a list of 4 numbers, got 3"),
        (lambda s: s["v"].__setitem__(2, -1.0), ValueError, r"v\[2\] = -1.0"),
        (lambda s: s["m"].__setitem__(1, math.nan), ValueError, r"m\[1\] = nan"),
        (lambda s: s["m"].__setitem__(1, "0.5"), TypeError, r"m\[1\] must be a number"),
        (lambda s: s.update(steps=[1, 1, 1, 9]), ValueError, "steps must be a list of 4 ints"),
        (lambda s: s.update(t=-1), ValueError, "t must be >= 0"),
    ],
)
def test_load_state_dict_refuses_a_bad_state_and_changes_nothing(change, error, message):
    params = [Value(x) for x in START]
    optimizer = Adam(params, lr=0.1)
    objective(params).backward()
    optimizer.step()
    before = optimizer.state_dict()
    state = optimizer.state_dict()
    state["lr"] = 0.5  # a valid change, which must not be made either
    change(state)
    with pytest.raises(error, match=f"Adam.load_state_dict: .*{message}"):
        optimizer.load_state_dict(state)
    assert optimizer.state_dict() == before


def test_a_schedule_refuses_a_bad_state_and_changes_nothing() -> None:
    schedule = LinearLR(SGD([Value(1.0)], lr=0.1), total_steps=10)
    schedule.step()
    with pytest.raises(ValueError, match=r"LinearLR.load_state_dict: .*total_steps must be >= 1"):
        schedule.load_state_dict({"total_steps": 0, "base_lr": 0.1, "epoch": 3})
    with pytest.raises(TypeError, match="epoch must be an int"):
        schedule.load_state_dict({"total_steps": 10, "base_lr": 0.1, "epoch": 3.5})
    with pytest.raises(TypeError, match="expected a dict"):
        schedule.load_state_dict([("epoch", 3)])
    assert schedule.state_dict() == {"total_steps": 10, "base_lr": 0.1, "epoch": 1}
