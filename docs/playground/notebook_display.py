"""The playground's stand-in for IPython's display: a value shown under the output.

Code written for a notebook runs in the playground as it is. ``display(value)`` sends the
value's HTML to the page (its ``_repr_html_``, such as an interactive page, or its
``_repr_svg_``, such as a graph drawing; otherwise its ``repr``), and
``display(value, display_id=True)`` returns a handle whose ``update(value)`` redraws it
in place: that is how ``fit(model, X, y, live=True)`` redraws its training page as the
model learns. :func:`install` makes ``import IPython`` find this module and, as in
IPython, makes ``display`` a builtin; :func:`run_cells` runs a program as a notebook's
cells.
"""

from __future__ import annotations

import builtins
import html
import itertools
import re
import sys

import js  # the Web Worker's global scope: postMessage sends to the page
from pyodide.code import eval_code_async
from pyodide.ffi import to_js

_ids = itertools.count(1)


class DisplayHandle:
    """What ``display(..., display_id=True)`` returns: ``update`` redraws that output."""

    def __init__(self, display_id: int) -> None:
        self.display_id = display_id

    def update(self, value: object) -> None:
        _send("update", self.display_id, value)


def display(*values: object, display_id: bool = False) -> DisplayHandle | None:
    """Show each value under the output; with ``display_id=True``, a handle to the last."""
    handle = None
    for value in values:
        handle = DisplayHandle(next(_ids))
        _send("display", handle.display_id, value)
    return handle if display_id else None


class _Shell:
    """Stands for IPython's shell: code that asks whether it runs in a notebook is told yes."""


def get_ipython() -> _Shell:
    return _shell


_shell = _Shell()


def install() -> None:
    """Answer ``import IPython`` and ``import IPython.display`` with this module, and
    make ``display`` a builtin."""
    sys.modules["IPython"] = sys.modules["IPython.display"] = sys.modules[__name__]
    builtins.display = display


async def run_cells(code: str, namespace: dict) -> None:
    """Run ``code`` in ``namespace`` as a notebook runs its cells: a line starting with
    ``# %%`` starts a cell, and the value of a cell's last expression is displayed unless
    it is None. Line numbers in a traceback are the code's own."""
    lines_before = 0
    for cell in re.split(r"(?m)^(?=# %%)", code):
        padded = "\n" * lines_before + cell  # so that line numbers count from the top
        value = await eval_code_async(padded, namespace, filename="<playground>")
        if value is not None:
            display(value)
        lines_before += cell.count("\n")


def _send(kind: str, display_id: int, value: object) -> None:
    message = {"kind": kind, "id": display_id, "html": _html(value)}
    js.postMessage(to_js(message, dict_converter=js.Object.fromEntries))


def _html(value: object) -> str:
    for method in ("_repr_html_", "_repr_svg_"):
        if hasattr(value, method):
            return getattr(value, method)()
    return f"<pre>{html.escape(repr(value))}</pre>"
