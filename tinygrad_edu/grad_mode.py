"""Modes: whether operations record the graph (``no_grad``), and whether a trace is recording.

Apart from the engine because a student reading ``Value`` needs only its outcome: a node
made while recording is off is a plain leaf. What lives here is the machinery: a switch
per thread (as in PyTorch), a process-wide count that lets the engine skip looking the
switch up while no thread has recording off, and context managers that also decorate
functions and generators. The engine reads ``threads_not_recording`` and the thread's switch;
this module imports nothing of the package.

Trace mode (:func:`is_tracing`) is on while :func:`~tinygrad_edu.program.trace` runs a
function to record it as a program. A program replays the graph's operations on new
numbers, so a decision made in Python from a number (which units of a layer are on)
would be frozen into it; code that takes such a shortcut eagerly records the decision
as an operation instead while a trace is recording.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from typing import ParamSpec

    P = ParamSpec("P")

R = TypeVar("R")

__all__ = ["enable_grad", "is_grad_enabled", "is_tracing", "no_grad", "tracing"]


class _GradMode(threading.local):
    """Whether operations record the graph, for the current thread. ``no_grad`` switches it off.

    Each thread has its own switch, as in PyTorch, so a ``no_grad`` block in one thread
    (evaluating a model, say) never stops another thread's training from recording.
    A new thread starts with recording on (the class attribute).
    """

    enabled = True


_grad_mode = _GradMode()


class _Count:
    """How many threads have recording off right now.

    While it is 0 (nearly always), an operation knows it records without looking up its
    thread's switch, which is slower. (An object with a slot, so the engine reads the
    count as one quick attribute.)
    """

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


threads_not_recording = _Count()
_switch_lock = threading.Lock()


def _set_grad_mode(enabled: bool) -> None:
    """Switch recording for the current thread, keeping the count of threads with it off."""
    with _switch_lock:
        if _grad_mode.enabled != enabled:
            threads_not_recording.count += -1 if enabled else 1
        _grad_mode.enabled = enabled


def is_grad_enabled() -> bool:
    """True unless the current thread is inside a :func:`no_grad` block."""
    return _grad_mode.enabled


class _GradModeSwitch:
    """Sets graph recording on or off for a ``with`` block or a decorated function."""

    recording: bool

    def __new__(cls, function: Callable[P, R] | None = None) -> _GradModeSwitch | Callable[P, R]:
        """``no_grad()`` makes a switch; ``@no_grad`` and ``@no_grad()`` both decorate."""
        switch = super().__new__(cls)
        if function is None:
            return switch
        if not callable(function):
            raise TypeError(
                f"{cls.__name__}: expected a function to decorate, got {type(function).__name__}"
            )
        return switch(function)

    def __enter__(self) -> None:
        self._previous = _grad_mode.enabled
        _set_grad_mode(self.recording)

    def __exit__(self, *exc_info: object) -> None:
        _set_grad_mode(self._previous)

    def __call__(self, function: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(function):
            return self._wrap_generator(function)

        @wraps(function)
        def switched(*args: P.args, **kwargs: P.kwargs) -> R:
            with type(self)():
                return function(*args, **kwargs)

        return switched

    def _wrap_generator(self, function: Callable[P, Generator]) -> Callable[P, Generator]:
        """A generator function runs a little at every ``next()``: switch for each piece.

        Between two values the caller's own mode is back in force, so a ``no_grad``
        generator never leaves recording off in the code that iterates over it.
        """

        @wraps(function)
        def switched(*args: P.args, **kwargs: P.kwargs) -> Generator:
            generator = function(*args, **kwargs)
            try:
                with type(self)():
                    response = generator.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with type(self)():
                            generator.close()
                        raise
                    except BaseException as error:  # thrown in by the caller: pass it on
                        with type(self)():
                            response = generator.throw(error)
                    else:
                        with type(self)():
                            response = generator.send(request)
            except StopIteration as stop:  # the generator returned: so do we
                return stop.value

        return switched


class no_grad(_GradModeSwitch):  # noqa: N801 - named like the PyTorch context manager
    """Context manager and decorator: operations inside record no graph.

    Results computed inside are leaves (no parents), which saves memory and time
    when only the numbers matter, e.g. evaluating a model or updating weights::

        with no_grad():
            y = w * x      # y.parents == ()

        @no_grad              # or @no_grad()
        def predict(x): ...
    """

    recording = False


class enable_grad(_GradModeSwitch):  # noqa: N801
    """The opposite of :class:`no_grad`: record the graph, even inside a ``no_grad`` block."""

    recording = True


# --------------------------------------------------------------------------- trace mode


class _TraceMode(threading.local):
    """Whether the current thread is recording a function as a program (off at first)."""

    active = False


_trace_mode = _TraceMode()


def is_tracing() -> bool:
    """True while :func:`~tinygrad_edu.program.trace` records a function in this thread.

    A shortcut that decides from a number which nodes to build (as
    :meth:`~tinygrad_edu.nn.Linear.after_relu` leaves out the units that are off) must
    then build an operation that decides on every run instead, or a program would
    replay the decision of the numbers it was traced at.
    """
    return _trace_mode.active


@contextmanager
def tracing() -> Iterator[None]:
    """Trace mode on for a ``with`` block (what ``trace`` and ``check=True`` run ``f`` in)."""
    previous = _trace_mode.active
    _trace_mode.active = True
    try:
        yield
    finally:
        _trace_mode.active = previous
