"""The ``tinygrad-edu`` command (also ``python -m tinygrad_edu``).

Seven subcommands, each with ``--help``:

* ``tinygrad-edu demo``: train a small MLP on the two-moons data set and write the
  model (a file that :func:`tinygrad_edu.nn.load` reads), a picture of one prediction's
  computation graph, the decision boundary and a page with a slider over the training steps.
* ``tinygrad-edu train``: the same with your choice of data set, layers, activation,
  optimizer, learning rate and number of steps.
* ``tinygrad-edu evaluate model.json``: load a saved model and measure its accuracy on
  the data set it was trained on (or another one).
* ``tinygrad-edu graph "tanh(x*w + b)" x=1 w=2 b=-1``: build the expression as Values,
  run ``backward()``, print the value and every input's gradient and draw the graph.
  The expression is read by :mod:`tinygrad_edu.expression`, which never runs Python.
* ``tinygrad-edu gpt``: train a small GPT on 32,033 names, one name per step, then
  print names it makes up and save the model; ``gpt --resume model.json`` continues a
  run that was stopped before its last step.
* ``tinygrad-edu sample model.json``: print names made up by a GPT that ``gpt`` saved.
* ``tinygrad-edu explore "tanh(x*w + b)" x=1 w=2 b=-1 -o neuron.html``: the same
  expression as an interactive page stepping through the forward and backward pass.

Exit status: 0 on success, 2 on a usage or input error (with a message and no
traceback), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import signal
import sys
import tempfile
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from tqdm import tqdm

from tinygrad_edu import __version__, datasets, nn, training, viz
from tinygrad_edu._files import write_atomically
from tinygrad_edu.engine import Value, no_grad, topological_order
from tinygrad_edu.expression import FUNCTIONS, ExpressionError, evaluate, parse, parse_assignments
from tinygrad_edu.nn import ACTIVATIONS, GPT, MLP, Module
from tinygrad_edu.optim import SGD, Adam, LinearLR, Optimizer
from tinygrad_edu.program import BACKENDS
from tinygrad_edu.program_c import CompilerNotFoundError
from tinygrad_edu.step import CompiledStep, compile_step

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

# The model picture shows the output neuron (its inputs as numbers): 18 Values for the
# demo's 2-16-16-1 network. Past this many it is no longer read at a glance, so it is
# skipped with a note.
GRAPH_NODE_LIMIT = 60

_PROGRESS_LINES = 10  # about this many loss/accuracy lines per run
MAX_STEPS = 1_000_000  # about eight hours of the demo's model: more is surely a slip
# Sizes that fit in memory (measured with tracemalloc): every parameter is a Value of about
# 250 bytes with its optimizer state, and a step's graph holds an edge per parameter for
# each point (train: about 50-130 bytes each) or each position of a name (gpt: about 500
# bytes per parameter for a whole name). The limits keep a run to about 1 GB.
MAX_TRAIN_EDGES = 10_000_000  # train: parameters x points
MAX_GPT_PARAMETERS = 1_000_000


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
_step_count = _number_type(
    int, lambda n: 0 < n <= MAX_STEPS, f"a whole number of steps from 1 to {MAX_STEPS:,}"
)
_seed = _number_type(int, lambda n: n >= 0, "an integer >= 0")
_learning_rate = _number_type(float, lambda x: math.isfinite(x) and x > 0.0, "a finite number > 0")
_temperature = _number_type(float, lambda x: math.isfinite(x) and x >= 0.0, "a finite number >= 0")


def _layer_sizes(text: str) -> list[int]:
    """``"16,16"`` -> ``[16, 16]``: the hidden layers' sizes."""
    try:
        return [_positive_int(part.strip()) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 16,16; got {text!r}"
        ) from None


# --------------------------------------------------------------------------- the parser


class _Parser(argparse.ArgumentParser):
    """argparse, with every usage error in one line (argparse prints the usage first).

    A command whose ``reads_expression`` is set (graph, explore) takes an argument that
    starts with a single '-' as its EXPR when that argument is an expression and not one
    of the command's options: ``graph '-x*w' x=1 w=2``. argparse alone reads ``-x*w`` as
    an unknown option, and ``-o*x`` as ``-o`` with the file name ``*x``.
    """

    reads_expression = False

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def _parse_optional(self, arg_string: str) -> object:
        # argparse's hook that tells options from positional arguments; it returns
        # None for a positional one
        parsed = super()._parse_optional(arg_string)
        if parsed is None or not self.reads_expression:
            return parsed
        if arg_string in self._option_string_actions or arg_string.startswith("--"):
            return parsed  # -o, --format, --output=FILE, --out (an abbreviation), --typo
        try:
            parse(arg_string)
        except ExpressionError:
            return parsed  # not an expression: left to argparse (an unknown option, -oFILE)
        return None


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
        "one prediction), decision_boundary.png (needs matplotlib) and training.html (a page "
        "with a slider over the training steps).",
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
        backend=None,
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
        help="hidden layer sizes, comma-separated (default: 16,16); the network's parameters "
        f"times --samples may be at most {MAX_TRAIN_EDGES:,}, the edges of one step's graph "
        "(about 1 GB)",
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
        "--steps",
        type=_step_count,
        default=100,
        help=f"training steps, at most {MAX_STEPS:,} (default: 100)",
    )
    train.add_argument(
        "--seed", type=_seed, default=0, help="seed for the data and the weights (default: 0)"
    )
    train.add_argument(
        "--compile",
        action="store_true",
        help="trace the training step once and run it as compiled float code: the same "
        "numbers, several times faster",
    )
    train.add_argument(
        "--backend",
        choices=BACKENDS,
        help="with --compile: python (the default, works everywhere) or c (the step compiled "
        "by the system's C compiler, gcc or clang: faster again, the same numbers bit for bit)",
    )
    _add_output_options(train, default_out="tinygrad_edu_train")
    train.set_defaults(run=_run_training)

    evaluate = commands.add_parser(
        "evaluate",
        help="load a saved model and measure its accuracy",
        description="Load a model saved by 'demo' or 'train' (or by nn.save) and print its "
        "accuracy on a data set: by default the one it was trained on, as recorded in the "
        "file.",
    )
    evaluate.add_argument("model", metavar="MODEL", type=Path, help="e.g. runs/model.json")
    evaluate.add_argument("--dataset", choices=DATASETS, help="default: as recorded, or moons")
    evaluate.add_argument(
        "--samples", type=_positive_int, help="number of points (default: as recorded, or 100)"
    )
    evaluate.add_argument("--seed", type=_seed, help="default: as recorded, or 0")
    evaluate.set_defaults(run=_run_evaluate)

    graph = commands.add_parser(
        "graph",
        help="differentiate an expression and draw its computation graph",
        description="Evaluate EXPR with the given variables, run backward(), print the "
        "value and the gradient of the expression with respect to each variable (in the "
        "order given), and write the computation graph.",
        epilog=f"EXPR may use numbers (2, 0.5, 1e-3), variables, + - * / ** (as in Python: "
        f"-x**2 is -(x**2) and 2**3**2 is 2**9), parentheses and the functions "
        f"{', '.join(FUNCTIONS)}. It is parsed, never run as Python. EXPR may start with "
        f"'-' ({PROG} graph '-x*w' x=3 w=2); give a file name with a space after -o "
        f"(-o FILE), or put EXPR after '--' ({PROG} graph -o - -- '-x**2' x=3). "
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

    explore = commands.add_parser(
        "explore",
        help="write an interactive page that steps through an expression's forward and "
        "backward pass",
        description="Evaluate EXPR with the given variables and write a self-contained HTML "
        "page (no internet needed) that steps through its computation graph: the values in "
        "the forward pass, then the gradients in the backward pass, with each chain-rule "
        "step written out in numbers.",
        epilog=f"EXPR is read as by '{PROG} graph'. Example: "
        f"{PROG} explore 'tanh(x*w + b)' x=1 w=2 b=-1 -o neuron.html",
    )
    explore.add_argument("expression", metavar="EXPR", help="the expression, e.g. 'x*w + b'")
    explore.add_argument(
        "assignments", metavar="NAME=VALUE", nargs="*", help="a value for each variable"
    )
    explore.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default="explore.html",
        help="where to write the page (default: explore.html)",
    )
    explore.set_defaults(run=_run_explore)

    gpt = _add_gpt_command(commands)
    sample = _add_sample_command(commands)

    graph.reads_expression = explore.reads_expression = True
    for command in (demo, train, evaluate, graph, explore, gpt, sample):
        command.set_defaults(parser=command)
    return parser


def _add_output_options(
    command: argparse.ArgumentParser,
    default_out: str,
    progress_help: str = "no progress bar (the loss and accuracy lines are still printed)",
) -> None:
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
        help=progress_help,
    )


# --------------------------------------------------------------------------- demo and train


def _run_training(args: argparse.Namespace) -> int:
    if args.backend is not None and not args.compile:
        raise _InputError(f"--backend {args.backend}: only with --compile (it compiles the step)")
    try:
        X, y = DATASETS[args.dataset](n_samples=args.samples, seed=args.seed)  # noqa: N806
    except ValueError as error:
        raise _InputError(str(error)) from None
    n_classes = max(y) + 1
    binary = n_classes == 2
    loss = "hinge" if binary else "cross_entropy"
    nouts = [*args.hidden, 1 if binary else n_classes]
    _check_training_size(nouts, len(X))
    _check_outputs_writable(args.out)  # before training: a bad --out should not cost a run
    model = MLP(2, nouts, activation=args.activation, seed=args.seed)
    make_optimizer, default_lr = OPTIMIZERS[args.optimizer]
    lr = default_lr if args.lr is None else args.lr
    print(
        f"training {model} on {len(X)} {args.dataset} points: "
        f"{loss} loss, {args.optimizer} lr {lr:g}, {args.steps} steps"
    )

    print("each step's loss and accuracy are measured before that step's update")
    report_every = max(1, args.steps // _PROGRESS_LINES)
    # Snapshots for training.html: about 20 of them, each costs a few steps' time.
    recorder = viz.TrainingRecorder(model, X, y, every=max(1, args.steps // 20))

    def report(step: int, step_loss: float, step_accuracy: float) -> None:
        recorder(step, step_loss, step_accuracy)
        if step % report_every == 0 or step == 1:
            # tqdm.write keeps the lines from breaking the progress bar
            tqdm.write(
                f"step {step:>{len(str(args.steps))}}/{args.steps}  "
                f"loss {step_loss:.4f}  accuracy {step_accuracy:.1%}"
            )

    def warn(message: Warning | str, category: type[Warning], *details: object) -> None:
        # fit's warnings (a diverging loss) as one line, like the errors
        tqdm.write(f"{args.parser.prog}: warning: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = warn
            training.fit(
                model,
                X,
                y,
                loss=loss,
                optimizer=make_optimizer(model.parameters(), lr),
                steps=args.steps,
                progress=args.progress and sys.stderr.isatty(),
                callback=report,
                compile=args.compile,
                backend=args.backend or "python",
            )
    except ArithmeticError as error:  # training diverged: the learning rate is too large
        raise _InputError(str(error)) from None
    except CompilerNotFoundError as error:
        raise _InputError(str(error)) from None  # says what to install
    final_accuracy = training.accuracy(model, X, y)
    print(
        f"final accuracy (after step {args.steps}'s update): "
        f"{_accuracy_text(final_accuracy, len(X))}"
    )

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
            nn.save(model, args.out / "model.json", metadata={"training": setup}),
            _save_prediction_graph(model, X[0], args.out / "graph.svg"),
            _save_decision_boundary(model, X, y, args, args.out / "decision_boundary.png"),
            viz.training_page(recorder, steps=args.steps).save_html(args.out / "training.html"),
        ]
    except OSError as error:  # e.g. a directory where a file should go, or a full disk
        raise _InputError(f"--out: cannot write the results: {error}") from None
    for path in written:
        if path is not None:
            print(f"wrote {path}")
    return 0


def _check_training_size(nouts: list[int], n_points: int) -> None:
    """Refuse a network whose training step cannot fit in memory, before building it.

    Each point's forward pass keeps an edge per parameter in the step's graph.
    """
    sizes = [2, *nouts]
    parameters = sum((nin + 1) * nout for nin, nout in itertools.pairwise(sizes))
    if parameters * n_points > MAX_TRAIN_EDGES:
        largest = MAX_TRAIN_EDGES // n_points
        shape = "-".join(map(str, sizes))
        raise _InputError(
            f"--hidden and --samples: a {shape} network has {parameters:,} parameters, and a "
            f"training step on {n_points:,} points would hold {parameters * n_points:,} edges, "
            f"more than the {MAX_TRAIN_EDGES:,} that fit in about 1 GB; at most {largest:,} "
            f"parameters with {n_points:,} points (fewer --samples allow more)"
        )


_OUTPUT_FILES = ("model.json", "graph.svg", "decision_boundary.png")


def _check_outputs_writable(out: Path, files: Sequence[str] = _OUTPUT_FILES) -> None:
    """Create ``out`` and check that every result file can be written into it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _InputError(f"--out: cannot create the directory {str(out)!r}: {error}") from None
    for name in files:
        if (out / name).is_dir():
            raise _InputError(f"--out: cannot write {str(out / name)!r}: it is a directory")
    try:  # the results are written as temporary files in `out`, then renamed
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise _InputError(f"--out: cannot write files in {str(out)!r}: {error}") from None


def _accuracy_text(accuracy: float, n_points: int) -> str:
    """``88.0% (88 of 100 points)``."""
    return f"{accuracy:.1%} ({round(accuracy * n_points)} of {n_points} points)"


def _save_prediction_graph(model: MLP, x: list[float], path: Path) -> Path | None:
    """Draw the output neuron of the trained model at one data point, after a fresh ``backward()``.

    Its inputs, the last hidden layer's outputs, are computed first and enter as plain
    numbers (written in its ``w·x+b`` ellipse), so the picture is that one neuron's
    weights, bias and output: readable at a glance, where the whole prediction of a
    2-16-16-1 network is about 400 boxes.
    """
    hidden: list[float] = list(x)
    with no_grad():
        for layer in model.layers[:-1]:
            hidden = [neuron(hidden).data for neuron in layer.neurons]
    root = model.layers[-1].neurons[0](hidden)  # several classes: the first
    size = len(topological_order(root))
    if size > GRAPH_NODE_LIMIT:
        print(
            f"note: graph.svg skipped: the output neuron has {size} Values, too many to read "
            f"(the limit is {GRAPH_NODE_LIMIT}); use smaller --hidden layers to draw it",
            file=sys.stderr,
        )
        return None
    # The parameters still hold the last training step's gradients, and backward()
    # adds to what is there: cleared first, the picture shows this output's own gradients.
    model.zero_grad()
    root.backward()
    return viz.save_svg(viz.draw_dot(root, model=model, max_nodes=GRAPH_NODE_LIMIT), path)


def _save_decision_boundary(
    model: Module,
    X: list[list[float]],  # noqa: N803
    y: list[int],
    args: argparse.Namespace,
    path: Path,
) -> Path | None:
    """The model's decision boundary over the data, drawn as everywhere else
    (:func:`viz.save_decision_boundary`: the classes' colours, a smooth boundary)."""
    title = f"{args.dataset}: decision boundary after {args.steps} steps"
    try:
        return viz.save_decision_boundary(model, X, y, path, title=title)
    except ImportError:
        print(
            f"note: {path.name} skipped: the plot needs matplotlib; install it with "
            '`pip install "tinygrad-edu[plot]"` (or `pip install matplotlib`)',
            file=sys.stderr,
        )
        return None


# --------------------------------------------------------------------------- evaluate


def _run_evaluate(args: argparse.Namespace) -> int:
    try:
        model = nn.load(args.model)
    except OSError as error:
        raise _InputError(f"cannot read {str(args.model)!r}: {error.strerror}") from None
    except ValueError as error:
        raise _InputError(str(error)) from None
    if isinstance(model, GPT):  # a model of names: it has no accuracy on 2-D points
        raise _InputError(
            f"{str(args.model)!r} holds a GPT (a model of names, as 'gpt' saves), not a "
            "classifier of 2-D points (as 'demo' and 'train' save), so it has no accuracy to "
            f"measure; '{PROG} gpt' trains one and prints its held-out loss and samples, and "
            f"'{PROG} sample {args.model}' makes up names with this one"
        )
    # what the training run recorded (the file is valid JSON: nn.load has read it)
    metadata = json.loads(args.model.read_text(encoding="utf-8")).get("metadata", {})
    setup = metadata.get("training")
    if not isinstance(setup, dict):  # a file from nn.save, without a training record
        setup = {}
    dataset = args.dataset or setup.get("dataset", "moons")
    samples = args.samples or setup.get("samples", 100)
    seed = setup.get("seed", 0) if args.seed is None else args.seed
    try:
        X, y = DATASETS[dataset](n_samples=samples, seed=seed)  # noqa: N806
        accuracy = training.accuracy(model, X, y)
    except (KeyError, TypeError, ValueError) as error:  # e.g. a model with 3 inputs
        raise _InputError(f"cannot evaluate {str(args.model)!r} on {dataset}: {error}") from None
    print(f"{model} on {len(X)} {dataset} points (seed {seed})")
    print(f"accuracy: {_accuracy_text(accuracy, len(X))}")
    return 0


# --------------------------------------------------------------------------- graph


def _evaluate_expression(args: argparse.Namespace) -> tuple[object, dict[str, Value], Value]:
    """The parsed EXPR, its variables as Values, and its value with ``backward()`` run.
    Everything that can fail on the user's input happens here, before any file is written."""
    values = parse_assignments(args.assignments)
    expression = parse(args.expression)
    inputs = {name: Value(value, label=name) for name, value in values.items()}
    result = evaluate(expression, inputs)
    result.backward()
    return expression, inputs, result


def _run_graph(args: argparse.Namespace) -> int:
    expression, inputs, result = _evaluate_expression(args)

    _check_output_name(args.output, standard_output=True)
    output_format = _graph_format(args.output, args.format)
    output = f"graph.{output_format}" if args.output is None else args.output
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
            write_atomically(output, text)
        except OSError as error:
            raise _InputError(f"cannot write the graph to {output!r}: {error}") from None
        print(f"wrote {output}", file=report)
    return 0


# --------------------------------------------------------------------------- gpt


#: The options that set up a GPT run, with their defaults. A run continued with --resume
#: takes them from its file: given again, they must agree with it.
GPT_RUN_DEFAULTS: dict[str, int | float] = {
    "steps": 1000,
    "lr": 0.01,
    "seed": 42,
    "n_embd": 16,
    "n_head": 4,
    "n_layer": 1,
    "block_size": 16,
    "eval": 500,
}
_GPT_ARCHITECTURE = ("n_embd", "n_head", "n_layer", "block_size")  # in the model's config
GPT_BETAS = (0.85, 0.99)  # Adam's, as in the classic scalar GPT recipe
LOSS_WINDOW = 100  # the progress bar and the step lines show the mean loss of this many steps
GPT_OUT = "tinygrad_edu_gpt"  # where gpt writes model.json, unless --out or --resume says


def _add_gpt_command(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    gpt = commands.add_parser(
        "gpt",
        help="train a small GPT on 32,033 names and make up new ones",
        description="Train a character-level GPT on the names data set, one name per step "
        "in a seeded shuffled order (Adam with betas 0.85 and 0.99, the learning rate "
        "decaying linearly to 0), keeping --eval names apart to measure the loss on names "
        "it never saw. Then print names sampled from the model and write --out/model.json. "
        f"About {_PROGRESS_LINES} lines report the training loss, each the mean over the "
        f"last {LOSS_WINDOW} steps (one name's loss is noise), as does the progress bar. "
        "Ctrl-C, during the training, the evaluation or the sampling, stops the run and saves "
        "the model as trained so far; a run stopped before its last step (by Ctrl-C or "
        "--stop-after) also saves the optimizer's state, and --resume continues it exactly "
        "as if it had never stopped. The model may have at most "
        f"{MAX_GPT_PARAMETERS:,} parameters (12 * n_layer * n_embd**2 + (54 + block_size) * "
        "n_embd), which need about 1 GB of memory to train.",
    )
    d = GPT_RUN_DEFAULTS
    options = (
        (
            "--steps",
            _step_count,
            f"training steps, one name each, at most {MAX_STEPS:,}; the learning rate reaches "
            f"0 at the last (default: {d['steps']})",
        ),
        ("--lr", _learning_rate, f"starting learning rate (default: {d['lr']})"),
        (
            "--seed",
            _seed,
            f"seed for the order of the names, the weights and the samples (default: {d['seed']})",
        ),
        ("--n-embd", _positive_int, f"width of the embeddings (default: {d['n_embd']})"),
        (
            "--n-head",
            _positive_int,
            f"attention heads; must divide --n-embd (default: {d['n_head']})",
        ),
        ("--n-layer", _positive_int, f"transformer layers (default: {d['n_layer']})"),
        (
            "--block-size",
            _positive_int,
            f"longest context, in characters; a longer name is cut, and the run says how many "
            f"were (default: {d['block_size']})",
        ),
        ("--eval", _seed, f"names held out to measure the loss on (default: {d['eval']})"),
    )
    for flag, kind, text in options:
        gpt.add_argument(flag, type=kind, default=None, help=text)
    _add_sampling_options(gpt, seed=False)
    gpt.add_argument(
        "--stop-after",
        type=_step_count,
        metavar="N",
        help="stop once N of the --steps steps are done, and save the model with the "
        "optimizer's state for --resume (default: train all --steps)",
    )
    gpt.add_argument(
        "--compile",
        action="store_true",
        help="run each training step as compiled float code (tg.compile_step: forward, "
        "backward and Adam's update, one program per name length): the same numbers, bit "
        "for bit, and the same model.json; a step is about 1.7 times faster in Python, 17 "
        "times in C (--backend c), after a build of a few seconds",
    )
    gpt.add_argument(
        "--backend",
        choices=BACKENDS,
        help="with --compile: python (the default, works everywhere) or c (the step "
        "compiled by the system's C compiler, gcc or clang: faster again, the same numbers "
        "bit for bit; built parts are cached on disk)",
    )
    gpt.add_argument(
        "--resume",
        type=Path,
        metavar="MODEL",
        help="continue the run saved in MODEL (a model.json written by a run stopped before "
        "its last step) from where it stopped, with the same settings and data order; "
        "--steps, --lr, --seed, --eval and the model's sizes come from MODEL (given, they "
        "must agree with it); --out defaults to MODEL's directory",
    )
    _add_output_options(
        gpt,
        default_out=GPT_OUT,
        progress_help="no progress bar (the step lines, the held-out loss and the samples "
        "are still printed); there is none either when standard error is not a terminal",
    )
    gpt.set_defaults(run=_run_gpt, out=None)
    return gpt


def _add_sampling_options(command: argparse.ArgumentParser, *, seed: bool) -> None:
    command.add_argument("--samples", type=_seed, default=20, help="names to sample (default: 20)")
    command.add_argument(
        "--temperature",
        type=_temperature,
        default=0.5,
        help="sampling temperature >= 0; lower gives more common names, and 0 always picks "
        "the most likely next character (default: 0.5)",
    )
    if seed:
        command.add_argument(
            "--seed",
            type=_seed,
            help="seed for the samples (default: the training run's, which gives the names "
            "'gpt' printed at the end of it)",
        )


def _add_sample_command(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    sample = commands.add_parser(
        "sample",
        help="make up names with a GPT saved by 'gpt'",
        description="Load a model.json written by 'gpt' and print names sampled from it.",
    )
    sample.add_argument(
        "model", metavar="MODEL", type=Path, help="e.g. tinygrad_edu_gpt/model.json"
    )
    _add_sampling_options(sample, seed=True)
    sample.set_defaults(run=_run_sample)
    return sample


@dataclass
class _GPTRun:
    """A GPT training run: everything needed to continue it exactly where it stopped."""

    model: GPT
    tokenizer: datasets.CharTokenizer
    settings: dict[str, int | float]  # the GPT_RUN_DEFAULTS options, as the run uses them
    optimizer: Adam
    schedule: LinearLR
    done: int = 0  # steps trained so far
    losses: deque[float] = field(default_factory=lambda: deque(maxlen=LOSS_WINDOW))


def _run_gpt(args: argparse.Namespace) -> int:
    names = datasets.load_names()
    run = _resume_gpt(args) if args.resume is not None else _start_gpt(args, names)
    steps, seed, n_eval = run.settings["steps"], run.settings["seed"], run.settings["eval"]
    random.Random(seed).shuffle(names)
    held_out, train_names = names[:n_eval], names[n_eval:]
    stop = steps if args.stop_after is None else min(args.stop_after, steps)
    if stop <= run.done:
        raise _InputError(f"--stop-after {stop}: the run has already trained {run.done} steps")
    out = (
        args.out
        if args.out is not None
        else Path(GPT_OUT if args.resume is None else args.resume.parent)
    )
    _check_outputs_writable(out, ("model.json",))
    path = out / "model.json"
    verb = f"resuming at step {run.done + 1}:" if run.done else "training"
    print(f"{verb} {run.model} on {len(train_names)} names, {steps} steps")
    _note_cut_names(train_names, held_out, run.model.block_size)

    phase = "training"  # for the message if Ctrl-C stops the run
    try:
        if args.backend is not None and not args.compile:
            raise _InputError(
                f"--backend {args.backend}: only with --compile (it compiles the step)"
            )
        step = None
        if args.compile:
            step = compile_step(
                run.model.loss, run.optimizer, run.schedule, backend=args.backend or "python"
            )
        _train_gpt(
            run, train_names, stop, progress=args.progress and sys.stderr.isatty(), step=step
        )
        if held_out:
            phase = "the held-out evaluation"
            encoded = [run.tokenizer.encode(name) for name in held_out]
            if step is None:
                with no_grad():
                    losses = [run.model.loss(tokens).data for tokens in encoded]
            else:  # the forward parts of the compiled programs: the same numbers
                losses = [step.loss(tokens) for tokens in encoded]
            print(f"mean loss on {len(held_out)} held-out names: {_mean(losses):.4f}")
        if args.samples:
            phase = "sampling"
            _print_samples(run.model, run.tokenizer, args.samples, args.temperature, seed)
    except KeyboardInterrupt:  # the model as trained so far is kept, whatever the phase
        written = _save_gpt(run, path)
        print(
            f"interrupted after {run.done} steps, during {phase}; wrote {written}"
            + (f" (continue with --resume {written})" if run.done < steps else ""),
            file=sys.stderr,
        )
        return 130
    except ArithmeticError as error:  # training diverged: the learning rate is too large
        raise _InputError(str(error)) from None
    except CompilerNotFoundError as error:
        raise _InputError(str(error)) from None  # says what to install
    written = _save_gpt(run, path)
    later = f" (continue with --resume {written})" if run.done < steps else ""
    print(f"wrote {written}{later}")
    return 0


def _gpt_settings(args: argparse.Namespace) -> dict[str, int | float]:
    """The run's options: those given, else their defaults."""
    given = {key: getattr(args, key) for key in GPT_RUN_DEFAULTS}
    return {key: GPT_RUN_DEFAULTS[key] if value is None else value for key, value in given.items()}


def _start_gpt(args: argparse.Namespace, names: list[str]) -> _GPTRun:
    """A new run: the model, the optimizer and the schedule as the options set them."""
    settings = _gpt_settings(args)
    if settings["eval"] >= len(names):
        raise _InputError(
            f"--eval: {settings['eval']} leaves no names to train on (of {len(names)})"
        )
    tokenizer = datasets.CharTokenizer.from_documents(names)
    _check_gpt_size(settings, tokenizer.vocab_size)
    try:
        model = GPT(
            tokenizer.vocab_size,
            **{key: settings[key] for key in _GPT_ARCHITECTURE},
            seed=settings["seed"],
        )
    except ValueError as error:
        raise _InputError(str(error)) from None
    optimizer = Adam(model.parameters(), lr=settings["lr"], betas=GPT_BETAS)
    schedule = LinearLR(optimizer, total_steps=settings["steps"])
    return _GPTRun(model, tokenizer, settings, optimizer, schedule)


def _resume_gpt(args: argparse.Namespace) -> _GPTRun:
    """The run saved in ``args.resume``, refusing options that disagree with it."""
    model, tokenizer, training = _load_gpt(args.resume, "--resume")
    where = f"--resume: {str(args.resume)!r}"
    config = model.config()
    try:
        settings = {key: config[key] for key in _GPT_ARCHITECTURE}
        settings |= {key: training[key] for key in ("lr", "seed", "eval")}
        settings["steps"] = training["total_steps"]
        done, state = training["steps"], training.get("optimizer")
        schedule_state, losses = training.get("schedule"), training.get("recent_losses", [])
    except KeyError as error:
        raise _InputError(
            f"{where} does not record how it was trained (no {error} entry)"
        ) from None
    given = {
        key: value for key, value in vars(args).items() if key in settings and value is not None
    }
    conflicts = [
        f"--{key.replace('_', '-')} {settings[key]} (given {value})"
        for key, value in given.items()
        if value != settings[key]
    ]
    if conflicts:
        raise _InputError(
            f"{where} was set up with {', '.join(conflicts)}; leave those options out to "
            "continue it as it was set up"
        )
    if done >= settings["steps"]:
        raise _InputError(
            f"{where} finished all its {settings['steps']} steps: there is nothing to resume; "
            f"'{PROG} sample {args.resume}' makes up names with it"
        )
    optimizer = Adam(model.parameters(), lr=settings["lr"], betas=GPT_BETAS)
    schedule = LinearLR(optimizer, total_steps=settings["steps"])
    try:
        optimizer.load_state_dict(state)
        schedule.load_state_dict(schedule_state)
        recent = deque(map(float, losses), maxlen=LOSS_WINDOW)
    except (TypeError, ValueError) as error:
        raise _InputError(f"{where}: its optimizer's state cannot be used: {error}") from None
    return _GPTRun(model, tokenizer, settings, optimizer, schedule, done, recent)


def _load_gpt(path: Path, option: str) -> tuple[GPT, datasets.CharTokenizer, dict]:
    """The GPT saved by 'gpt' at ``path``, its tokenizer and its training record."""
    where = f"{option}: {str(path)!r}"
    try:
        model = nn.load(path)
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise _InputError(f"{where}: cannot read it: {error.strerror}") from None
    except ValueError as error:
        raise _InputError(f"{option}: {error}") from None
    if not isinstance(model, GPT):
        raise _InputError(f"{where} holds {model!r}, not a GPT of names (as '{PROG} gpt' saves)")
    metadata = json.loads(text).get("metadata", {})
    try:
        tokenizer = datasets.CharTokenizer(metadata["tokenizer"]["chars"])
    except (KeyError, TypeError, ValueError):
        raise _InputError(
            f'{where} has no tokenizer in its metadata ("tokenizer": {{"chars": ...}}), '
            f"which '{PROG} gpt' writes: without it its tokens cannot be read as letters"
        ) from None
    if tokenizer.vocab_size != model.vocab_size:
        raise _InputError(
            f"{where}: its tokenizer has {tokenizer.vocab_size} tokens but the model "
            f"{model.vocab_size}"
        )
    training = metadata.get("training")
    return model, tokenizer, training if isinstance(training, dict) else {}


def _gpt_step(run: _GPTRun, tokens: list[int]) -> float:
    """One training step on one name's tokens; returns its loss (before the update).

    The forward and backward pass, then the update: Adam's step and the schedule's.
    The update is made whole (Ctrl-C during it takes effect once it is done), so a run
    stopped at any moment is saved between two steps and --resume continues it exactly.
    """
    loss = run.model.loss(tokens)
    run.optimizer.zero_grad()
    loss.backward()
    with _interrupts_held():
        run.optimizer.step()
        run.schedule.step()
        run.done += 1
        run.losses.append(loss.data)
    return loss.data


def _compiled_gpt_step(run: _GPTRun, step: CompiledStep, tokens: list[int]) -> float:
    """:func:`_gpt_step`, compiled: the same numbers, bit for bit. Ctrl-C waits for the
    whole step, whose update is a few milliseconds after its forward and backward pass."""
    with _interrupts_held():
        loss = step(tokens)
        run.done += 1
        run.losses.append(loss)
    return loss


def _train_gpt(
    run: _GPTRun,
    train_names: list[str],
    stop: int,
    *,
    progress: bool,
    step: CompiledStep | None = None,
) -> None:
    """Train from step ``run.done + 1`` to ``stop``, one name per step, reporting the mean
    loss; with a compiled ``step``, each step runs as its program (the model's Values are
    brought up to date when training stops, however it stops)."""
    steps = run.settings["steps"]
    report_every = max(1, steps // _PROGRESS_LINES)
    bar = tqdm(total=steps, initial=run.done, disable=not progress, unit="step")
    try:
        with step or nullcontext():
            _train_gpt_steps(run, train_names, stop, step, bar, report_every)
    finally:
        bar.close()


def _train_gpt_steps(
    run: _GPTRun,
    train_names: list[str],
    stop: int,
    step: CompiledStep | None,
    bar: tqdm,
    report_every: int,
) -> None:
    """The steps of :func:`_train_gpt`, eager (``step`` None) or compiled."""
    steps = run.settings["steps"]
    while run.done < stop:
        tokens = run.tokenizer.encode(train_names[run.done % len(train_names)])
        if step is None:
            _gpt_step(run, tokens)
        else:
            _compiled_gpt_step(run, step, tokens)
        mean = _mean(run.losses)
        bar.update()
        bar.set_postfix_str(f"loss {mean:.4f}", refresh=False)
        if run.done % report_every == 0 or run.done == stop:
            tqdm.write(
                f"step {run.done:>{len(str(steps))}}/{steps}  loss {mean:.4f}  "
                f"(mean of the last {len(run.losses)} steps)"
            )


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block is done, then deliver it as it would have been."""
    held: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda number, frame: held.append(number))
    except ValueError:  # not the main thread, where only signals can be handled: nothing to hold
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            signal.raise_signal(signal.SIGINT)


def _note_cut_names(train_names: list[str], held_out: list[str], block_size: int) -> None:
    """Say once how many names are longer than the context, and so cut."""
    cut = sum(len(name) >= block_size for name in train_names)
    cut_held_out = sum(len(name) >= block_size for name in held_out)
    if cut or cut_held_out:
        print(
            f"note: {cut:,} of the {len(train_names):,} training names and {cut_held_out:,} of "
            f"the {len(held_out):,} held-out names have {block_size} characters or more: with "
            f"--block-size {block_size} the model learns only their first {block_size} "
            "characters, not how they end",
            file=sys.stderr,
        )


def _mean(numbers: Sequence[float]) -> float:
    return sum(numbers) / len(numbers)


def _print_samples(
    model: GPT, tokenizer: datasets.CharTokenizer, count: int, temperature: float, seed: int
) -> None:
    print(f"{count} names sampled at temperature {temperature:g}:")
    rng = random.Random(seed)
    for _ in range(count):
        sample = model.generate(bos=tokenizer.bos, temperature=temperature, seed=rng)
        print("  " + tokenizer.decode(sample))


def _run_sample(args: argparse.Namespace) -> int:
    model, tokenizer, training = _load_gpt(args.model, "MODEL")
    seed = args.seed
    if seed is None:
        seed = training.get("seed", model.seed if model.seed is not None else 0)
    _print_samples(model, tokenizer, args.samples, args.temperature, seed)
    return 0


def _check_gpt_size(settings: dict[str, int | float], vocab_size: int) -> None:
    """Refuse a GPT too large to train in memory, before building it."""
    n_embd, n_layer, block_size = settings["n_embd"], settings["n_layer"], settings["block_size"]
    embeddings = (2 * vocab_size + block_size) * n_embd  # wte, lm_head, wpe
    parameters = embeddings + n_layer * 12 * n_embd**2  # 4 attention + 8 MLP
    if parameters > MAX_GPT_PARAMETERS:
        # the largest n_embd that fits: 12 L e**2 + b e <= MAX, rounded down
        a, b = 12 * n_layer, 2 * vocab_size + block_size
        widest = (math.isqrt(b * b + 4 * a * MAX_GPT_PARAMETERS) - b) // (2 * a)
        hint = f"; with these --n-layer and --block-size, --n-embd {widest} at most" * (widest > 0)
        raise _InputError(
            f"--n-embd {n_embd}, --n-layer {n_layer} and --block-size "
            f"{block_size} make a GPT of {parameters:,} parameters; at most "
            f"{MAX_GPT_PARAMETERS:,} fit (about 1 GB of memory to train){hint}"
        )


def _save_gpt(run: _GPTRun, path: Path) -> Path:
    """Write the model with ``nn.save``; its tokenizer and its training record go in the metadata.

    ``nn.load(path)`` rebuilds the model, and
    ``CharTokenizer(json.loads(path.read_text())["metadata"]["tokenizer"]["chars"])``
    its tokenizer. ``metadata["training"]`` holds the run's settings and ``"steps"``, the
    steps done; a run stopped before its last one also holds what --resume needs to
    continue it: the optimizer's and the schedule's ``state_dict()`` and the last losses
    (for the running mean).
    """
    training: dict[str, object] = {
        "steps": run.done,
        "total_steps": run.settings["steps"],
        **{key: run.settings[key] for key in ("lr", "seed", "eval")},
    }
    if run.done < run.settings["steps"]:
        training["optimizer"] = run.optimizer.state_dict()
        training["schedule"] = run.schedule.state_dict()
        training["recent_losses"] = list(run.losses)
    metadata = {"tokenizer": {"chars": run.tokenizer.chars}, "training": training}
    try:
        return nn.save(run.model, path, metadata=metadata)
    except OSError as error:
        raise _InputError(f"--out: cannot write the model: {error}") from None


def _check_output_name(output: str | None, *, standard_output: bool = False) -> None:
    """Refuse an -o that names no file it could write (graph's and explore's), in one line."""
    dash = ", or '-' for standard output" if standard_output else ""
    if output == "":
        raise _InputError(f"-o: give a file name{dash}")
    if output not in (None, "-") and Path(output).is_dir():
        raise _InputError(f"-o: {output!r} is a directory; give a file name{dash}")


_FORMAT_OF_SUFFIX = {".svg": "svg", ".dot": "dot", ".gv": "dot"}


def _graph_format(output: str | None, chosen: str | None) -> str:
    """The format to write: ``--format`` if given, else the one FILE's suffix names."""
    suffix = Path(output).suffix.lower() if output not in (None, "-") else ""
    named = _FORMAT_OF_SUFFIX.get(suffix)
    if suffix and named is None:
        raise _InputError(
            f"-o: cannot write {suffix!r} files: graph writes svg (.svg) or dot (.dot, .gv)"
        )
    if chosen is not None and named is not None and named != chosen:
        raise _InputError(f"-o: {output!r} names a {named} file, but --format is {chosen}")
    return chosen or named or "svg"


# --------------------------------------------------------------------------- explore


def _run_explore(args: argparse.Namespace) -> int:
    expression, _, result = _evaluate_expression(args)
    _check_output_name(args.output)
    try:
        page = viz.explore(result)
    except ValueError as error:  # a graph too large to show
        raise _InputError(str(error)) from None
    try:
        write_atomically(args.output, page.html)
    except OSError as error:
        raise _InputError(f"cannot write the page to {args.output!r}: {error}") from None
    print(f"{expression} = {result.data!r}")
    print(f"wrote {args.output}: open it in a browser")
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
        if args.run in (_run_graph, _run_explore) and not any(
            extra.startswith("-") for extra in extras
        ):
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
