"""Our docstrings, written for ``help()``, made into Markdown for the API reference.

The docstrings follow Python's own habits, which read well in a terminal: ``double
backticks`` for code, ``:func:`grad``` roles for cross-references, ``>>>`` examples and
``::`` before an indented block. The reference renders Markdown, so this Griffe extension
rewrites, for the site only:

* ``:class:`Value``` (and ``:func:``, ``:meth:``, ``:mod:``, ``:data:``, ``:attr:``,
  ``:exc:``) into a cross-reference to the object's page, resolved from where the docstring
  stands. A name that resolves nowhere stays a link, so ``mkdocs build --strict`` fails
  on it; a name outside the documented API (the standard library, a private helper) becomes
  code.
* a run of ``>>>`` lines and their output into a ``pycon`` code block;
* a paragraph's closing ``::`` into ``:`` (the indented block after it is code in both).

It also gives the operations that the engine builds as methods from a table (``exp =
_unary_method(EXP, "e**x. ...")``) their docstring, the string passed to the builder.
"""

from __future__ import annotations

import ast
import builtins
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`(?P<target>[^`]+)`")
METHOD_BUILDERS = {"_unary_method", "_binary_method"}


class RstDocstrings(griffe.Extension):
    """Rewrites each docstring once the whole package is loaded (names then resolve)."""

    def on_attribute_instance(
        self, *, node: ast.AST | griffe.ObjectNode, attr: griffe.Attribute, **kwargs: Any
    ) -> None:
        if attr.docstring is None:
            comment = _comment_docstring(attr)
            if comment:
                attr.docstring = griffe.Docstring(comment, parent=attr)
        if attr.docstring is None and isinstance(node, ast.Assign):
            call = node.value
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id in METHOD_BUILDERS
                and call.args
                and isinstance(call.args[-1], ast.Constant)
                and isinstance(call.args[-1].value, str)
            ):
                attr.docstring = griffe.Docstring(call.args[-1].value, parent=attr)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = to_markdown(obj.docstring.value, obj)


def _comment_docstring(attr: griffe.Attribute) -> str:
    """The ``#:`` comment lines just above an assignment, Sphinx's way to document it."""
    collection = attr.lines_collection
    lines = collection[attr.filepath] if attr.lineno and attr.filepath in collection else None
    comment: list[str] = []
    index = attr.lineno - 2  # the line above, counting from 0
    while lines and index >= 0 and lines[index].strip().startswith("#:"):
        comment.insert(0, lines[index].strip()[2:].strip())
        index -= 1
    return " ".join(comment)


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    """The object and everything defined in it (not what it imports)."""
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found.extend(_walk(member))
    return found


def to_markdown(text: str, obj: griffe.Object) -> str:
    """The Markdown form of one docstring (see the module docstring)."""
    text = ROLE.sub(lambda match: _cross_reference(match["target"], obj), text)
    lines, out = text.splitlines(), []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(indent) :])
                i += 1
            out += [f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"]
            continue
        if line.rstrip().endswith("::"):
            stripped = line.rstrip()[:-2].rstrip()
            line = stripped + ":" if stripped else ""
        out.append(line)
        i += 1
    return "\n".join(out)


def _cross_reference(target: str, obj: griffe.Object) -> str:
    """``[`name`][path]`` for a documented object, plain code for anything else."""
    shown = target.removeprefix("~").removesuffix("()")
    name = shown.rsplit(".", 1)[-1] if target.startswith("~") else shown
    path = _resolve(shown, obj)
    if path is None:
        if hasattr(builtins, shown):
            return f"`{name}`"
        path = shown  # unresolvable: left as a link so the strict build reports it
    elif not path.startswith("tinygrad_edu.") or any(
        part.startswith("_") for part in path.split(".")
    ):
        return f"`{name}`"
    return f"[`{name}`][{path}]"


def _resolve(name: str, obj: griffe.Object) -> str | None:
    """The full path that ``name`` means where ``obj``'s docstring stands, or None."""
    if name == "tinygrad_edu" or name.startswith("tinygrad_edu."):
        return name
    first, _, rest = name.partition(".")
    scope: griffe.Object | None = obj
    while scope is not None:
        if first in scope.members:
            member = scope.members[first]
            path = member.target_path if member.is_alias else member.path
            return f"{path}.{rest}" if rest else path
        scope = scope.parent
    return None
