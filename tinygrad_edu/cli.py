"""The ``tinygrad-edu`` command (also ``python -m tinygrad_edu``).

Three subcommands, each with ``--help``:

* ``tinygrad-edu demo``: train a small MLP on the two-moons data set and write the
  model, a picture of one prediction's computation graph and the decision boundary.
* ``tinygrad-edu train``: the same with your choice of data set, layers, activation,
  optimizer, learning rate and number of steps.
* ``tinygrad-edu graph "tanh(x*w + b)" x=1 w=2 b=-1``: build the expression as Values,
  run ``backward()``, print the value and every input's gradient and draw the graph.
  The expression is read by :mod:`tinygrad_edu.expression`, which never runs Python.

Exit status: 0 on success, 2 on a usage or input error (with a message and no
traceback), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm import tqdm

from tinygrad_edu import __version__, datasets, training, viz
from tinygrad_edu.engine import Value, topological_order
from tinygrad_edu.expression import FUNCTIONS, ExpressionError, evaluate, parse, parse_assignments
from tinygrad_edu.nn import ACTIVATIONS, MLP, Module
from tinygrad_edu.optim import SGD, Adam, Optimizer

__all__ = ["main"]

PROG = "tinygrad-edu"

#: Data set name -> its generator, called as ``make(n_samples=..., seed=...)``.
DATASETS: dict[str, Callable[..., datasets.Dataset]] = {
    "moons": datasets.make_moons,
    "circles": datasets.make_circles,
    "spirals": datasets.make_spirals,
    "xor": datasets.make_xor,
}

#: Optimizer name -> (how to make it from the parameters and a learning rate, default lr).
#: "momentum" takes a tenth of plain SGD's rate because momentum 0.9 makes steps about
#: ten times longer. Adam, the default, trains every data set here well in 100 steps;
#: the SGD variants need more steps on the spirals.
OPTIMIZERS: dict[str, tuple[Callable[[list[Value], float], Optimizer], float]] = {
    "sgd": (lambda params, lr: SGD(params, lr), 0.1),
    "momentum": (lambda params, lr: SGD(params, lr, momentum=0.9), 0.01),
    "adam": (lambda params, lr: Adam(params, lr), 0.01),
}

# Activations offered on the command line: "linear" hidden layers would make the
# whole network one linear map, which cannot separate these data sets.
_ACTIVATIONS = [name for name in ACTIVATIONS if name != "linear"]

# The model picture shows one prediction's graph; past this many Values it is
# unreadable (a 2-16-16-1 network has about 400), so it is skipped with a note.
GRAPH_NODE_LIMIT = 500

_PLOT_GRID = 60  # the decision boundary is evaluated on a 60 x 60 grid
_PROGRESS_LINES = 10  # about this many loss/accuracy lines per run


class _InputError(Exception):
    """A bad value from the user: reported in one line, exit status 2."""


# --------------------------------------------------------------------------- argument types


def _number_type(
    convert: Callable[[str], float], accept: Callable[[float], bool], expected: str
) -> Callable[[str], float]:
    """An argparse ``type``: ``convert(text)`` if that works and ``accept`` holds."""

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            value = math.nan
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _number_type(int, lambda n: n > 0, "a positive integer")
_seed = _number_type(int, lambda n: n >= 0, "an integer >= 0")
_learning_rate = _number_type(float, lambda x: math.isfinite(x) and x > 0.0, "a finite number > 0")


def _layer_sizes(text: str) -> list[int]:
    """``"16,16"`` -> ``[16, 16]``: the hidden layers' sizes."""
    try:
        return [_positive_int(part.strip()) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 16,16; got {text!r}"
        ) from None


# --------------------------------------------------------------------------- the parser


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Learn backpropagation with a scalar autodiff engine: train a small "
        "network or draw the computation graph of an expression.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="train an MLP on the two-moons data set and save the results",
        description="Train an MLP 2-16-16-1 (relu) on 100 points of the two-moons data set "
        "with Adam for 100 steps, printing the loss and accuracy as it goes. Writes to "
        "--out: model.json (the trained parameters), graph.svg (the computation graph of "
        "one prediction) and decision_boundary.png (needs matplotlib).",
    )
    _add_output_options(demo, default_out="tinygrad_edu_demo")
    demo.set_defaults(
        run=_run_training,
        dataset="moons",
        samples=100,
        hidden=[16, 16],
        activation="relu",
        optimizer="adam",
        lr=None,
        steps=100,
        seed=0,
        compile=False,
    )

    train = commands.add_parser(
        "train",
        help="train an MLP with your choice of data set, layers and optimizer",
        description="Train an MLP on a 2-D toy data set and save the same files as 'demo'. "
        "Binary data sets (moons, circles, xor) use the hinge loss on one output; spirals "
        "(3 classes) uses cross-entropy on one output per class.",
    )
    train.add_argument("--dataset", choices=DATASETS, default="moons", help="default: moons")
    train.add_argument(
        "--samples", type=_positive_int, default=100, help="number of points (default: 100)"
    )
    train.add_argument(
        "--hidden",
        type=_layer_sizes,
        default=[16, 16],
        metavar="SIZES",
        help="hidden layer sizes, comma-separated (default: 16,16)",
    )
    train.add_argument("--activation", choices=_ACTIVATIONS, default="relu", help="default: relu")
    train.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="adam",
        help="sgd, momentum (SGD with momentum 0.9) or adam (default: adam)",
    )
    default_rates = ", ".join(f"{name} {lr}" for name, (_, lr) in OPTIMIZERS.items())
    train.add_argument(
        "--lr",
        type=_learning_rate,
        default=None,
        help=f"learning rate (default: {default_rates})",
    )
    train.add_argument(
        "--steps", type=_positive_int, default=100, help="training steps (default: 100)"
    )
    train.add_argument(
        "--seed", type=_seed, default=0, help="seed for the data and the weights (default: 0)"
    )
    train.add_argument(
        "--compile",
        action="store_true",
        help="trace the training step once and run it as compiled float code: the same "
        "numbers, several times faster (binary data sets only: cross-entropy branches on "
        "the logits' values)",
    )
    _add_output_options(train, default_out="tinygrad_edu_train")
    train.set_defaults(run=_run_training)

    graph = commands.add_parser(
        "graph",
        help="differentiate an expression and draw its computation graph",
        description="Evaluate EXPR with the given variables, run backward(), print the "
        "value and the gradient of the expression with respect to each variable (in the "
        "order given), and write the computation graph.",
        epilog=f"EXPR may use numbers (2, 0.5, 1e-3), variables, + - * / ** (as in Python: "
        f"-x**2 is -(x**2) and 2**3**2 is 2**9), parentheses and the functions "
        f"{', '.join(FUNCTIONS)}. It is parsed, never run as Python. An EXPR that starts "
        f"with '-' goes after '--', with the options before it: {PROG} graph -o - -- '-x**2' x=3. "
        f"Example: {PROG} graph 'tanh(x*w + b)' x=1 w=2 b=-1",
    )
    graph.add_argument("expression", metavar="EXPR", help="the expression, e.g. 'x*w + b'")
    graph.add_argument(
        "assignments",
        metavar="NAME=VALUE",
        nargs="*",
        help="a value for each variable, e.g. x=1.5 w=-2",
    )
    graph.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write the graph (default: graph.svg, or graph.dot with --format dot); "
        "'-' writes it to standard output and the value and gradients to standard error",
    )
    graph.add_argument(
        "--format",
        choices=("svg", "dot"),
        help="svg (a picture) or dot (Graphviz source); default: dot if FILE ends in .dot "
        "or .gv, else svg",
    )
    graph.set_defaults(run=_run_graph)

    for command in (demo, train, graph):
        command.set_defaults(parser=command)
    return parser


def _add_output_options(command: argparse.ArgumentParser, default_out: str) -> None:
    command.add_argument(
        "--out",
        type=Path,
        default=Path(default_out),
        metavar="DIR",
        help=f"directory for the results (default: ./{default_out})",
    )
    command.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress bar (the loss and accuracy lines are still printed)",
    )


# --------------------------------------------------------------------------- demo and train


def _run_training(args: argparse.Namespace) -> int:
    try:
        X, y = DATASETS[args.dataset](n_samples=args.samples, seed=args.seed)  # noqa: N806
    except ValueError as error:
        raise _InputError(str(error)) from None
    try:  # before training: a bad --out should not cost a run
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _InputError(
            f"--out: cannot create the directory {str(args.out)!r}: {error}"
        ) from None

    n_classes = max(y) + 1
    binary = n_classes == 2
    loss = "hinge" if binary else "cross_entropy"
    if args.compile and not binary:
        raise _InputError(
            f"--compile: {args.dataset} has {n_classes} classes and uses cross-entropy, which "
            "picks its formula from the logits' values; a traced step would freeze that choice"
        )
    nouts = [*args.hidden, 1 if binary else n_classes]
    model = MLP(2, nouts, activation=args.activation, seed=args.seed)
    make_optimizer, default_lr = OPTIMIZERS[args.optimizer]
    lr = default_lr if args.lr is None else args.lr
    print(
        f"training {model} on {len(X)} {args.dataset} points: "
        f"{loss} loss, {args.optimizer} lr {lr:g}, {args.steps} steps"
    )

    report_every = max(1, args.steps // _PROGRESS_LINES)

    def report(step: int, step_loss: float, step_accuracy: float) -> None:
        if (step + 1) % report_every == 0 or step == 0:
            # tqdm.write keeps the lines from breaking the progress bar
            tqdm.write(
                f"step {step + 1:>{len(str(args.steps))}}/{args.steps}  "
                f"loss {step_loss:.4f}  accuracy {step_accuracy:.1%}"
            )

    try:
        training.fit(
            model,
            X,
            y,
            loss=loss,
            optimizer=make_optimizer(model.parameters(), lr),
            steps=args.steps,
            progress=args.progress,
            callback=report,
            compile=args.compile,
        )
    except ArithmeticError as error:  # training diverged: the learning rate is too large
        raise _InputError(str(error)) from None
    final_accuracy = training.accuracy(model, X, y)
    correct = round(final_accuracy * len(X))
    print(f"final accuracy: {final_accuracy:.1%} ({correct} of {len(X)} points)")

    setup = {
        "dataset": args.dataset,
        "samples": len(X),
        "seed": args.seed,
        "loss": loss,
        "optimizer": args.optimizer,
        "lr": lr,
        "steps": args.steps,
        "final_accuracy": final_accuracy,
    }
    try:
        written = [
            _save_model(model, nouts, args.activation, setup, args.out / "model.json"),
            _save_prediction_graph(model, X[0], args.out / "graph.svg"),
            _save_decision_boundary(model, X, y, args, args.out / "decision_boundary.png"),
        ]
    except OSError as error:  # e.g. a directory where a file should go, or a full disk
        raise _InputError(f"--out: cannot write the results: {error}") from None
    for path in written:
        if path is not None:
            print(f"wrote {path}")
    return 0


def _save_model(
    model: Module, nouts: list[int], activation: str, setup: dict[str, object], path: Path
) -> Path:
    """Write the trained parameters with what is needed to rebuild the model::

    data = json.loads(path.read_text())
    model = MLP(**data["model"])
    model.load_state_dict(data["state_dict"])
    """
    data = {
        "model": {"nin": 2, "nouts": nouts, "activation": activation},
        "training": setup,
        "state_dict": model.state_dict(),
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def _save_prediction_graph(model: Module, x: list[float], path: Path) -> Path | None:
    """Draw the graph of the model's prediction for one data point, after ``backward()``."""
    output = model(x)
    root = output if isinstance(output, Value) else output[0]  # several classes: the first
    size = len(topological_order(root))
    if size > GRAPH_NODE_LIMIT:
        print(
            f"note: graph.svg skipped: one prediction has {size} Values, too many to read "
            f"(the limit is {GRAPH_NODE_LIMIT}); use smaller --hidden layers to draw it",
            file=sys.stderr,
        )
        return None
    root.backward()
    return viz.save_svg(viz.draw_dot(root, model=model, max_nodes=GRAPH_NODE_LIMIT), path)


def _save_decision_boundary(
    model: Module,
    X: list[list[float]],  # noqa: N803
    y: list[int],
    args: argparse.Namespace,
    path: Path,
) -> Path | None:
    """Colour a grid over the data by the predicted class and plot the points on it."""
    try:
        # Figure without pyplot: no global backend to switch, no window; PNG via Agg.
        from matplotlib.figure import Figure
    except ImportError:
        print(
            f"note: {path.name} skipped: the plot needs matplotlib; install it with "
            '`pip install "tinygrad-edu[plot]"` (or `pip install matplotlib`)',
            file=sys.stderr,
        )
        return None
    xs, ys = [p[0] for p in X], [p[1] for p in X]
    margin = 0.5
    gx = _grid(min(xs) - margin, max(xs) + margin)
    gy = _grid(min(ys) - margin, max(ys) + margin)
    predicted = training.predict(model, [[a, b] for b in gy for a in gx])
    classes = [predicted[row * len(gx) : (row + 1) * len(gx)] for row in range(len(gy))]
    n_classes = max(y) + 1

    figure = Figure(figsize=(5, 5), layout="constrained")
    axes = figure.add_subplot()
    colours = {
        "cmap": "coolwarm" if n_classes == 2 else "viridis",
        "vmin": 0,
        "vmax": n_classes - 1,
    }
    axes.contourf(
        gx, gy, classes, levels=[k - 0.5 for k in range(n_classes + 1)], alpha=0.35, **colours
    )
    axes.scatter(xs, ys, c=y, s=18, edgecolors="black", linewidths=0.5, **colours)
    axes.set_title(f"{args.dataset}: decision boundary after {args.steps} steps")
    axes.set_xlabel("x0")
    axes.set_ylabel("x1")
    figure.savefig(path, dpi=100)
    return path


def _grid(low: float, high: float) -> list[float]:
    step = (high - low) / (_PLOT_GRID - 1)
    return [low + i * step for i in range(_PLOT_GRID)]


# --------------------------------------------------------------------------- graph


def _run_graph(args: argparse.Namespace) -> int:
    # Everything that can fail on the user's input happens before any file is written.
    values = parse_assignments(args.assignments)
    expression = parse(args.expression)
    inputs = {name: Value(value, label=name) for name, value in values.items()}
    result = evaluate(expression, inputs)
    result.backward()

    output_format = args.format
    if output_format is None:
        dot_suffix = args.output is not None and Path(args.output).suffix in (".dot", ".gv")
        output_format = "dot" if dot_suffix else "svg"
    output = args.output or f"graph.{output_format}"
    drawing = viz.draw_dot(result)
    text = drawing.source if output_format == "dot" else viz.to_svg(drawing)

    # With the graph on standard output, the numbers go to standard error.
    report = sys.stderr if output == "-" else sys.stdout
    print(f"{expression} = {result.data!r}", file=report)
    for name, value in inputs.items():
        print(f"d/d{name} = {value.grad!r}", file=report)
    if output == "-":
        sys.stdout.write(text)
    else:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as error:
            raise _InputError(f"cannot write the graph to {output!r}: {error}") from None
        print(f"wrote {output}", file=report)
    return 0


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    >>> main(["graph", "x**2", "x=3", "--format", "dot", "-o", "-"])  # doctest: +ELLIPSIS
    digraph {...
    0
    """
    args, extras = _build_parser().parse_known_args(argv)
    if extras:
        # argparse leaves over the NAME=VALUE arguments that follow graph's options
        if args.run is _run_graph and not any(extra.startswith("-") for extra in extras):
            args.assignments += extras
        else:
            args.parser.error(f"unrecognized arguments: {' '.join(extras)}")
    try:
        return args.run(args)
    except (_InputError, ExpressionError) as error:
        print(f"{args.parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{args.parser.prog}: interrupted", file=sys.stderr)
        return 130
