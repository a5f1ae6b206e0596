"""GPT benchmark: one training step of the scalar GPT recipe, classic engine vs tinygrad_edu.

The step trains ``GPT(27, n_embd=16, n_head=4, n_layer=1, block_size=16)`` on one name:
the forward pass (the mean next-character cross-entropy), the backward pass and one
Adam update (betas 0.85 and 0.99, the learning rate 0.01 decaying linearly to 0).

The reference is written here, in the classic pattern of scalar engines: every node a
``ClassicValue`` holding its children and local gradients, a plain number lifted to a
node, a recursive topological sort, and every dot product and sum written as separate
multiplications and additions (``sum(w * x for ...)``). It runs the same recipe from
the same weights (ours, copied through ``parameters()`` order).

Checked: both engines train on the same 50 names, step by step, and their losses agree
to 1e-9 relative at every step. Timed, in processor time (``time.process_time``, which
other jobs on a shared machine disturb less than the wall clock): the median time of a
training step over those steps, and of each phase (the engines take turns, ten steps
each, so that a shared
machine's changing load falls on both alike); the graph's size; the peak memory of one
step (tracemalloc). A step ends when its graph is freed, so the update column includes
that. Between turns the cycle collector runs untimed: each engine pays for collecting its
own garbage during its own turn (the classic recursive sort leaves a reference cycle per
step), never for the other's.

Then the compiled step, ``tg.compile_step(model.loss, optimizer, schedule)``, against the
eager step (``loss``, ``zero_grad``, ``backward``, ``optimizer.step``, ``schedule.step``)
on two copies of the same model, the same names in the same order, taking turns: the
losses must agree bit for bit at every step. First both train on one name of each
length (the compiled step builds its programs there, timed: ``step.build_seconds``,
split by timing the loss while it is traced and Python's ``builtins.compile`` through
wrappers, the rest being the writing of the code); then the steps are timed as above.
Reported: ms per step, and ns per elementary operation (see
:func:`elementary_operations`) against CPython's straight-line floor.

Last, whole runs: ``tinygrad-edu gpt --steps 1000 --no-progress``, eager and
``--compile``, as subprocesses of this interpreter (``python -m tinygrad_edu``), taking
turns, three of each: the median wall time and processor time of each, and a check that
both print the same lines and write byte-identical ``model.json`` files.

Run: ``python benchmarks/bench_gpt.py [--steps 50] [--runs 3]`` (``--runs 0`` skips the
whole runs).
"""

from __future__ import annotations

import argparse
import builtins
import gc
import itertools
import math
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import tinygrad_edu as tg
from tinygrad_edu import Value, datasets, optim, topological_order
from tinygrad_edu.nn import GPT

N_EMBD, N_HEAD, N_LAYER, BLOCK_SIZE = 16, 4, 1, 16
LEARNING_RATE, BETAS, EPS = 0.01, (0.85, 0.99), 1e-8
TURN = 10  # steps an engine takes before the other's turn
# Adam's elementary operations per parameter: m (2 *, 1 +), v (3 *, 1 +), the update
# (sqrt, 2 /, +, *, -); the bias corrections are computed once per step.
ADAM_OPERATIONS = 13
FLOOR_NS = (15, 25)  # straight-line CPython float code, ns per elementary operation


# --------------------------------------------------------------------------- the classic engine


class ClassicValue:
    """A scalar node in the classic pattern: children, local gradients, recursive backward."""

    __slots__ = ("data", "grad", "children", "local_grads")

    def __init__(self, data: float, children: tuple = (), local_grads: tuple = ()) -> None:
        self.data = data
        self.grad = 0.0
        self.children = children
        self.local_grads = local_grads

    def __add__(self, other):
        other = other if isinstance(other, ClassicValue) else ClassicValue(other)
        return ClassicValue(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        other = other if isinstance(other, ClassicValue) else ClassicValue(other)
        return ClassicValue(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, c: float):
        return ClassicValue(self.data**c, (self,), (c * self.data ** (c - 1),))

    def log(self):
        return ClassicValue(math.log(self.data), (self,), (1.0 / self.data,))

    def exp(self):
        out = math.exp(self.data)
        return ClassicValue(out, (self,), (out,))

    def relu(self):
        return ClassicValue(max(0.0, self.data), (self,), (float(self.data > 0),))

    def __neg__(self):
        return self * -1.0

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1.0

    def topological_order(self) -> list[ClassicValue]:
        """Every node below self, children first, by a recursive depth-first search."""
        order, visited = [], set()

        def visit(v: ClassicValue) -> None:
            if v not in visited:
                visited.add(v)
                for child in v.children:
                    visit(child)
                order.append(v)

        visit(self)
        return order

    def backward(self) -> None:
        order = self.topological_order()
        self.grad = 1.0
        for v in reversed(order):
            for child, local_grad in zip(v.children, v.local_grads):
                child.grad += local_grad * v.grad


class ClassicGPT:
    """The same recipe on ClassicValues, with the weights of ``model`` (a tinygrad_edu GPT)."""

    def __init__(self, model: GPT) -> None:
        weights = iter([ClassicValue(p.data) for p in model.parameters()])
        vocab = model.vocab_size

        def matrix(rows: int, columns: int) -> list[list[ClassicValue]]:
            return [[next(weights) for _ in range(columns)] for _ in range(rows)]

        self.wte, self.wpe = matrix(vocab, N_EMBD), matrix(BLOCK_SIZE, N_EMBD)
        self.lm_head = matrix(vocab, N_EMBD)
        self.layers = [
            [matrix(N_EMBD, N_EMBD) for _ in range(4)]
            + [matrix(4 * N_EMBD, N_EMBD), matrix(N_EMBD, 4 * N_EMBD)]
            for _ in range(N_LAYER)
        ]
        self.params = [
            p
            for m in (
                self.wte,
                self.wpe,
                self.lm_head,
                *(m for layer in self.layers for m in layer),
            )
            for row in m
            for p in row
        ]
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def logits(self, token: int, position: int, keys: list, values: list) -> list:
        head_dim = N_EMBD // N_HEAD
        x = rmsnorm([t + p for t, p in zip(self.wte[token], self.wpe[position])])
        for (wq, wk, wv, wo, fc1, fc2), k_cache, v_cache in zip(self.layers, keys, values):
            residual = x
            x = rmsnorm(x)
            q = linear(x, wq)
            k_cache.append(linear(x, wk))
            v_cache.append(linear(x, wv))
            heads = []
            for h in range(0, N_EMBD, head_dim):
                q_h = q[h : h + head_dim]
                k_h = [k[h : h + head_dim] for k in k_cache]
                v_h = [v[h : h + head_dim] for v in v_cache]
                scores = [
                    sum(q_h[j] * k_t[j] for j in range(head_dim)) / head_dim**0.5 for k_t in k_h
                ]
                weights = softmax(scores)
                heads += [
                    sum(weights[t] * v_h[t][j] for t in range(len(v_h))) for j in range(head_dim)
                ]
            x = [a + b for a, b in zip(linear(heads, wo), residual)]
            residual = x
            x = [h.relu() for h in linear(rmsnorm(x), fc1)]
            x = [a + b for a, b in zip(linear(x, fc2), residual)]
        return linear(x, self.lm_head)

    def loss(self, tokens: list[int]) -> ClassicValue:
        n = min(BLOCK_SIZE, len(tokens) - 1)
        keys, values = [[] for _ in self.layers], [[] for _ in self.layers]
        losses = [
            -softmax(self.logits(tokens[t], t, keys, values))[tokens[t + 1]].log() for t in range(n)
        ]
        return (1.0 / n) * sum(losses)

    def adam(self, step: int, total_steps: int) -> None:
        lr = LEARNING_RATE * (1 - step / total_steps)
        beta1, beta2 = BETAS
        for i, p in enumerate(self.params):
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * p.grad
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * p.grad**2
            m_hat = self.m[i] / (1 - beta1 ** (step + 1))
            v_hat = self.v[i] / (1 - beta2 ** (step + 1))
            p.data -= lr * m_hat / (v_hat**0.5 + EPS)
            p.grad = 0.0


def linear(x: list, w: list) -> list:
    return [sum(wi * xi for wi, xi in zip(row, x)) for row in w]


def softmax(logits: list) -> list:
    largest = max(z.data for z in logits)
    exps = [(z - largest).exp() for z in logits]
    total = sum(exps)
    return [e / total for e in exps]


def rmsnorm(x: list) -> list:
    scale = (sum(xi * xi for xi in x) / len(x) + 1e-5) ** -0.5
    return [xi * scale for xi in x]


# --------------------------------------------------------------------------- the two training loops


def classic_steps(model: ClassicGPT, names: list[list[int]]):
    """Yield ``(loss, forward, backward, update)`` times for each training step."""
    for step, tokens in enumerate(names):
        start = time.process_time()
        loss = model.loss(tokens)
        forward = time.process_time()
        loss.backward()
        backward = time.process_time()
        model.adam(step, len(names))
        value = loss.data
        del loss  # freeing the graph is part of the step
        yield value, forward - start, backward - forward, time.process_time() - backward


def our_steps(model: GPT, names: list[list[int]]):
    optimizer = optim.Adam(model.parameters(), lr=LEARNING_RATE, betas=BETAS, eps=EPS)
    schedule = optim.LinearLR(optimizer, total_steps=len(names))
    for tokens in names:
        start = time.process_time()
        loss = model.loss(tokens)
        forward = time.process_time()
        optimizer.zero_grad()
        loss.backward()
        backward = time.process_time()
        optimizer.step()
        schedule.step()
        value = loss.data
        del loss
        yield value, forward - start, backward - forward, time.process_time() - backward


def medians(rows: list[tuple[float, ...]]) -> list[float]:
    """The median time of a whole step, then of each phase, over ``(loss, *phases)`` rows."""
    columns = list(zip(*rows))[1:]
    return [statistics.median(map(sum, zip(*columns)))] + [statistics.median(c) for c in columns]


def peak_memory(loss_of: Callable[[], object]) -> int:
    """The peak of traced memory while one step's graph is built and differentiated."""
    gc.collect()
    tracemalloc.start()
    loss_of().backward()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


# --------------------------------------------------------------------------- the compiled step


def elementary_operations(loss: Value, n_parameters: int) -> int:
    """The float operations of one training step whose eager graph ends in ``loss``.

    Forward, a node of one or two parents is one operation (``a * b``, ``exp(a)``) and a
    fused node of ``k`` parents is ``k``: a dot product of ``n`` terms has ``2n`` parents
    and is ``n`` multiplications and ``n`` additions. Backward, every edge is two: its
    local derivative times the node's gradient, added to the parent's. Then Adam's
    :data:`ADAM_OPERATIONS` per parameter.
    """
    forward = backward = 0
    for node in topological_order(loss):
        k = len(node.parents)
        if k:
            forward += 1 if k <= 2 else k
            backward += 2 * k
    return forward + backward + ADAM_OPERATIONS * n_parameters


def one_name_per_length(docs: list[list[int]]) -> list[list[int]]:
    """The first name of each length the model tells apart (longer names are cut to the
    context, so they are all one length): the names the compiled step builds on."""
    first: dict[int, list[int]] = {}
    for tokens in docs:
        first.setdefault(min(len(tokens), BLOCK_SIZE + 1), tokens)
    return [first[length] for length in sorted(first)]


class BuildClock:
    """Where the build time goes: the loss while it is traced, and Python's ``compile``.

    ``loss`` is the model's loss, timed (the compiled step calls it only to trace);
    inside ``with clock.compiling():`` every ``builtins.compile`` call is timed too.
    """

    def __init__(self, model: GPT) -> None:
        self.model, self.tracing, self.compiling_seconds = model, 0.0, 0.0

    def loss(self, tokens: list[int]) -> Value:
        start = time.perf_counter()
        try:
            return self.model.loss(tokens)
        finally:
            self.tracing += time.perf_counter() - start

    @contextmanager
    def compiling(self) -> Iterator[None]:
        original = builtins.compile

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.compiling_seconds += time.perf_counter() - start

        builtins.compile = timed
        try:
            yield
        finally:
            builtins.compile = original


def adam_for(model: GPT, total_steps: int) -> tuple[optim.Adam, optim.LinearLR]:
    """The recipe's optimizer and schedule over ``model``'s parameters."""
    optimizer = optim.Adam(model.parameters(), lr=LEARNING_RATE, betas=BETAS, eps=EPS)
    return optimizer, optim.LinearLR(optimizer, total_steps=total_steps)


def eager_steps(model: GPT, names: list[list[int]], total_steps: int):
    """Yield ``(loss, seconds, elementary operations)`` for each eager training step."""
    optimizer, schedule = adam_for(model, total_steps)
    for tokens in names:
        start = time.process_time()
        loss = model.loss(tokens)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        seconds = time.process_time() - start
        yield loss.data, seconds, elementary_operations(loss, len(optimizer.params))
        del loss


def compiled_steps(step: tg.CompiledStep, names: list[list[int]]):
    """Yield ``(loss, seconds, None)`` for each compiled training step."""
    with step:  # the numbers live in the step's flat lists until the last name
        for tokens in names:
            start = time.process_time()
            loss = step(tokens)
            yield loss, time.process_time() - start, None


def compiled_comparison(docs: list[list[int]], vocab_size: int, names: list[list[int]]) -> None:
    """The compiled step against the eager step, on the same names (see the docstring)."""
    warm_up = one_name_per_length(docs)
    total = len(warm_up) + len(names)
    eager_model, compiled_model = (
        GPT(vocab_size, n_embd=N_EMBD, n_head=N_HEAD, n_layer=N_LAYER, seed=42) for _ in range(2)
    )
    clock = BuildClock(compiled_model)
    step = tg.compile_step(clock.loss, *adam_for(compiled_model, total))
    eager = eager_steps(eager_model, warm_up + names, total)
    compiled = compiled_steps(step, warm_up + names)
    with clock.compiling():
        built = [next(compiled)[0] for _ in warm_up]
    build_seconds, tracing = step.build_seconds, clock.tracing
    assert built == [next(eager)[0] for _ in warm_up], "the losses differ while building"

    eager_rows: list[tuple] = []
    compiled_rows: list[tuple] = []
    for _ in range(0, len(names), TURN):
        for rows, steps in ((eager_rows, eager), (compiled_rows, compiled)):
            gc.collect()
            rows += itertools.islice(steps, TURN)
    compiled.close()  # leaves ``with step:``, which writes the numbers back to the Values
    for a, b in zip(eager_rows, compiled_rows):
        assert a[0].hex() == b[0].hex(), f"the losses differ: {a[0]!r} eager, {b[0]!r} compiled"
    assert [p.data for p in eager_model.parameters()] == [
        p.data for p in compiled_model.parameters()
    ], "the weights differ after training"

    programs = [p for ps in step.programs.values() for p in ps]
    compiled_lines = {part.source: part.n_lines for p in programs for part in p.parts}
    print(
        f"\nthe compiled step, tg.compile_step(model.loss, optimizer, schedule), against the "
        f"eager step\non {len(names)} names after {len(warm_up)} (one of each length, where "
        f"it builds): losses and weights bit-identical at every step"
    )
    eager_ms, compiled_ms = (
        statistics.median(seconds for _, seconds, _ in rows) * 1e3
        for rows in (eager_rows, compiled_rows)
    )
    eager_ns, compiled_ns = (
        statistics.median(
            1e9 * seconds / ops for (_, seconds, _), (_, _, ops) in zip(rows, eager_rows)
        )
        for rows in (eager_rows, compiled_rows)
    )
    operations = statistics.median(ops for _, _, ops in eager_rows)
    print(f"{'step':<10}{'ms per step':>13}{'ns per operation':>18}")
    print(f"{'eager':<10}{eager_ms:>13.2f}{eager_ns:>18.1f}")
    print(f"{'compiled':<10}{compiled_ms:>13.2f}{compiled_ns:>18.1f}")
    print(
        f"compiled is {eager_ms / compiled_ms:.1f}x faster per step (target: at least 4x); "
        f"the straight-line floor is {FLOOR_NS[0]}-{FLOOR_NS[1]} ns per operation"
    )
    print(
        f"elementary operations per step: median {operations:,.0f}, counted on the eager "
        f"graph: forward one per node of 1-2 parents and k per fused node of k parents (a "
        f"dot product of n terms is n multiplications and n additions), backward 2 per edge "
        f"(local derivative times gradient, added), Adam {ADAM_OPERATIONS} per parameter"
    )
    print(
        f"build: {build_seconds:.2f} s for {len(programs)} programs ({len(compiled_lines)} "
        f"parts compiled, {sum(compiled_lines.values()):,} lines): tracing {tracing:.2f} s, "
        f"writing the code {build_seconds - tracing - clock.compiling_seconds:.2f} s, "
        f"Python's compile() {clock.compiling_seconds:.2f} s (wall clock)"
    )


# --------------------------------------------------------------------------- whole runs


def gpt_run(compiled: bool, directory: Path) -> tuple[float, float, str, bytes]:
    """One ``tinygrad-edu gpt --steps 1000 --no-progress [--compile]`` run in ``directory``:
    its wall time, its processor time, what it printed, the bytes of its model.json."""
    command = [sys.executable, "-m", "tinygrad_edu", "gpt", "--steps", "1000", "--no-progress"]
    command += ["--out", "out"] + (["--compile"] if compiled else [])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu, done.stdout, (directory / "out" / "model.json").read_bytes()


def whole_runs(runs: int) -> None:
    """Eager and compiled whole runs, taking turns: medians, and the same output."""
    results: dict[bool, list[tuple[float, float, str, bytes]]] = {False: [], True: []}
    for _ in range(runs):
        for compiled in (False, True):
            with tempfile.TemporaryDirectory(prefix="bench_gpt_") as directory:
                results[compiled].append(gpt_run(compiled, Path(directory)))
    eager, compiled = results[False], results[True]
    same_lines = all(r[2] == eager[0][2] for r in eager + compiled)
    same_bytes = all(r[3] == eager[0][3] for r in eager + compiled)
    print(
        f"\nwhole runs, tinygrad-edu gpt --steps 1000 --no-progress [--compile], taking turns, "
        f"median of {runs}"
    )
    print(f"{'run':<10}{'wall s':>9}{'CPU s':>9}")
    medians_of = {}
    for name, rows in (("eager", eager), ("compiled", compiled)):
        wall, cpu = (statistics.median(r[k] for r in rows) for k in (0, 1))
        medians_of[name] = wall, cpu
        print(f"{name:<10}{wall:>9.2f}{cpu:>9.2f}")
    (eager_wall, eager_cpu), (compiled_wall, compiled_cpu) = medians_of.values()
    print(
        f"compiled is {eager_wall / compiled_wall:.2f}x faster in wall time, "
        f"{eager_cpu / compiled_cpu:.2f}x in CPU time (target: at least 2x); "
        f"printed lines {'identical' if same_lines else 'DIFFERENT'}, model.json "
        f"{'byte-identical' if same_bytes else 'DIFFERENT'}"
    )
    assert same_lines and same_bytes, "the compiled run differs from the eager run"


def classic_comparison(names: list[list[int]], vocab_size: int) -> None:
    """Our eager step against the classic engine's, from the same weights (see the docstring)."""
    ours = GPT(vocab_size, n_embd=N_EMBD, n_head=N_HEAD, n_layer=N_LAYER, seed=42)
    theirs = ClassicGPT(ours)  # before training: the same starting weights

    first = names[0]
    nodes = {
        "classic": len(theirs.loss(first).topological_order()),
        "tinygrad_edu": len(topological_order(ours.loss(first))),
    }
    memory = {"classic": peak_memory(lambda: theirs.loss(first))}
    memory["tinygrad_edu"] = peak_memory(lambda: ours.loss(first))
    ours.zero_grad()
    for p in theirs.params:
        p.grad = 0.0

    # The engines take turns, TURN steps each, so that both see the same load on the machine.
    classic_rows: list[tuple[float, ...]] = []
    our_rows: list[tuple[float, ...]] = []
    turns = ((classic_rows, classic_steps(theirs, names)), (our_rows, our_steps(ours, names)))
    for _ in range(0, len(names), TURN):
        for rows, steps in turns:
            gc.collect()  # the other engine's garbage is not this engine's to collect
            rows += itertools.islice(steps, TURN)
    rows = list(zip(classic_rows, our_rows))
    classic_losses, our_losses = ([row[k][0] for row in rows] for k in (0, 1))
    classic_times, our_times = (medians([row[k] for row in rows]) for k in (0, 1))
    worst = max(abs(a - b) / abs(a) for a, b in zip(classic_losses, our_losses))
    assert worst <= 1e-9, f"the losses differ by {worst:.2e} relative"
    print(
        f"{len(names)} training steps from the same weights: the losses agree at every step "
        f"(largest relative difference {worst:.1e}); last loss {our_losses[-1]:.4f}"
    )

    print(
        f"\none training step (one name), median of {len(names)} (ms); GPT {ours.num_parameters()}"
    )
    print(f"{'engine':<14}{'step':>8}{'forward':>9}{'backward':>10}{'update':>8}", end="")
    print(f"{'graph nodes':>13}{'peak memory':>13}")
    for name, times in (("classic", classic_times), ("tinygrad_edu", our_times)):
        step, forward, backward, update = (1e3 * t for t in times)
        print(f"{name:<14}{step:>8.1f}{forward:>9.1f}{backward:>10.1f}{update:>8.1f}", end="")
        print(f"{nodes[name]:>13,}{memory[name] / 2**20:>10.1f} MB")
    ratio = classic_times[0] / our_times[0]
    print(f"\ntinygrad_edu is {ratio:.1f}x faster per training step (target: at least 10x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="training steps (names) per engine")
    parser.add_argument("--runs", type=int, default=3, help="whole gpt runs of each kind")
    args = parser.parse_args()
    sys.setrecursionlimit(100_000)  # the classic recursive sort goes as deep as the graph

    docs = datasets.load_names()
    random.Random(42).shuffle(docs)
    tokenizer = datasets.CharTokenizer.from_documents(docs)
    names = [tokenizer.encode(name) for name in docs[: args.steps]]
    classic_comparison(names, tokenizer.vocab_size)
    gc.collect()  # the classic engine's models are gone: no collection scans them again
    compiled_comparison([tokenizer.encode(name) for name in docs], tokenizer.vocab_size, names)
    if args.runs:
        whole_runs(args.runs)


if __name__ == "__main__":
    main()
