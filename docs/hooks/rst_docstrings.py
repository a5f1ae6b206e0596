"""Our docstrings, written for ``help()``, made into Markdown for the API reference.

The docstrings follow Python's own habits, which read well in a terminal: ``double
backticks`` for code, ``:func:`grad``` roles for cross-references, ``>>>`` examples, ``::``
before an indented block and ``#:`` comments above a constant. The reference renders
Markdown, so this Griffe extension rewrites, for the site only:

* ``:class:`Value``` (and ``:func:``, ``:meth:``, ``:mod:``, ``:data:``, ``:attr:``,
  ``:exc:``) into a cross-reference to the object's page, resolved from where the docstring
  stands. A name that resolves nowhere stays a link, so ``mkdocs build --strict`` fails
  on it; a name outside the documented API (the standard library, a private helper) becomes
  code. A full path through a re-export (``tinygrad_edu.nn.Linear``) links to where the
  object is defined, and a name that a module still forwards to the module it moved to
  (``engine.dot`` is ``fused.dot``, ``viz.explore`` is ``pages.explore``) to its new home.
  A role of the C domain (``:c:func:`pow```) becomes code.
* a run of ``>>>`` lines and their output into a ``pycon`` code block;
* a paragraph's closing ``::`` into ``:`` (the indented block after it is code in both);
* ``x**2`` in prose into a literal ``**`` rather than the start of bold text;
* ``#:`` comment lines above an assignment into that constant's docstring.

It also shows the operations that the engine builds from its table of operations (``exp =
_unary_method(EXP, "e**x. ...")``) as the methods they are, with the docstring passed to
the builder.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import re
import sys
from typing import Any

import griffe

ROLE = re.compile(
    r":(?P<c_domain>c:)?(?:class|func|meth|mod|data|attr|exc|obj|macro|type|member):"
    r"`(?P<target>[^`]+)`"
)
POWER = re.compile(r"(?<=[\w)])\*\*(?=[\w(])")  # x**2, e**x: not bold
CODE_SPAN = re.compile(r"(`+).*?\1")
# The engine's method builders, and the parameters of the methods they make.
METHOD_BUILDERS = {
    "_unary_method": ("self",),
    "_binary_method": ("self", "other"),
}


class RstDocstrings(griffe.Extension):
    """Reads ``#:`` comments and built methods while loading; rewrites docstrings after."""

    def __init__(self) -> None:
        super().__init__()
        self.built_methods: dict[str, griffe.Function] = {}

    def on_attribute_instance(
        self, *, node: ast.AST | griffe.ObjectNode, attr: griffe.Attribute, **kwargs: Any
    ) -> None:
        if attr.docstring is None:
            comment = _comment_docstring(attr)
            if comment:
                attr.docstring = griffe.Docstring(comment, parent=attr)
        method = _built_method(node, attr)
        if method is not None:
            self.built_methods[attr.path] = method

    def on_class_members(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        for name, member in list(cls.members.items()):
            method = self.built_methods.get(member.path)
            if method is not None:
                cls.set_member(name, method)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = to_markdown(obj.docstring.value, obj)


def _comment_docstring(attr: griffe.Attribute) -> str:
    """The ``#:`` comment lines just above an assignment, Sphinx's way to document it."""
    collection = attr.lines_collection
    lines = collection[attr.filepath] if attr.lineno and attr.filepath in collection else None
    comment: list[str] = []
    index = attr.lineno - 2 if attr.lineno else -1  # the line above, counting from 0
    while lines and index >= 0 and lines[index].strip().startswith("#:"):
        comment.insert(0, lines[index].strip()[2:].strip())
        index -= 1
    return " ".join(comment)


def _built_method(node: object, attr: griffe.Attribute) -> griffe.Function | None:
    """``name = _unary_method(OP, "doc")`` in a class, as the method it makes, else None."""
    call = node.value if isinstance(node, ast.Assign) else None
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id in METHOD_BUILDERS
        and isinstance(call.args[-1], ast.Constant)
        and isinstance(call.args[-1].value, str)
        and attr.parent is not None
        and attr.parent.is_class
    ):
        return None
    parameters = griffe.Parameters(
        *(
            griffe.Parameter(name, kind=griffe.ParameterKind.positional_or_keyword)
            for name in METHOD_BUILDERS[call.func.id]
        )
    )
    method = griffe.Function(
        attr.name,
        lineno=attr.lineno,
        endlineno=attr.endlineno,
        parent=attr.parent,
        parameters=parameters,
        returns=attr.parent.name,  # the class: a Value method returns a new Value
        lines_collection=attr.lines_collection,
        modules_collection=attr.modules_collection,
    )
    method.docstring = griffe.Docstring(call.args[-1].value, parent=method)
    return method


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    """The object and everything defined in it (not what it imports)."""
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found.extend(_walk(member))
    return found


def to_markdown(text: str, obj: griffe.Object) -> str:
    """The Markdown form of one docstring (see the module docstring)."""
    text = ROLE.sub(lambda match: _role(match, obj), text)
    lines, out = text.splitlines(), []
    code_indent: int | None = None  # inside the indented block after a "::" line
    i = 0
    while i < len(lines):
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        if code_indent is not None and (not line.strip() or indent > code_indent):
            out.append(line)
            i += 1
            continue
        code_indent = None
        if line.lstrip().startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][indent:])
                i += 1
            margin = " " * indent
            out += [f"{margin}```pycon", *(margin + b for b in block), f"{margin}```"]
            continue
        if line.rstrip().endswith("::"):
            code_indent = indent
            stripped = line.rstrip()[:-2].rstrip()
            line = stripped + ":" if stripped else ""
        out.append(_escape_powers(line))
        i += 1
    return "\n".join(out)


def _role(match: re.Match[str], obj: griffe.Object) -> str:
    """One role: a C name (``:c:func:`pow```) as code, a Python name as a cross-reference."""
    if match["c_domain"]:
        return f"`{match['target']}`"
    return _cross_reference(match["target"], obj)


def _escape_powers(line: str) -> str:
    """``x**2`` outside code spans, with the stars escaped so Markdown shows them."""
    pieces, last = [], 0
    for span in CODE_SPAN.finditer(line):
        pieces += [POWER.sub(r"\\*\\*", line[last : span.start()]), span.group()]
        last = span.end()
    return "".join([*pieces, POWER.sub(r"\\*\\*", line[last:])])


def _cross_reference(target: str, obj: griffe.Object) -> str:
    """``[`name`][path]`` for a documented object, plain code for anything else."""
    shown = target.removeprefix("~").removesuffix("()")
    name = shown.rsplit(".", 1)[-1] if target.startswith("~") else shown
    path = _new_home(_resolve(shown, obj))
    if path is None:
        if hasattr(builtins, shown) or shown.split(".")[0] in sys.stdlib_module_names:
            return f"`{name}`"
        path = shown  # unresolvable: left as a link so the strict build reports it
    elif not path.startswith("tinygrad_edu.") or any(
        part.startswith("_") for part in path.split(".")
    ):
        return f"`{name}`"
    return f"[`{name}`][{path}]"


def _new_home(path: str | None) -> str | None:
    """The path of a name a module still forwards (``engine.dot``) where it now lives.

    ``tinygrad_edu.engine`` and ``tinygrad_edu.viz`` answer for names that moved out of
    them through a module ``__getattr__`` and a ``_MOVED`` table (name: new module), which
    the static analysis of the reference cannot follow.
    """
    module, _, name = (path or "").rpartition(".")
    if not module.startswith("tinygrad_edu"):
        return path
    try:
        moved = getattr(importlib.import_module(module), "_MOVED", {})
    except ModuleNotFoundError:  # a class, not a module: tinygrad_edu.engine.Value.backward
        return path
    return f"{moved[name]}.{name}" if name in moved else path


def _canonical(path: str, obj: griffe.Object) -> str:
    """Where ``path`` is defined: ``tinygrad_edu.nn.Linear`` is ``tinygrad_edu.nn.layers.Linear``.

    The reference has a page only where an object is defined, not where it is re-exported.
    A path that leads nowhere is returned as it is, for the strict build to report.
    """
    package, _, rest = path.partition(".")
    try:
        found = obj.modules_collection[package]
        return (found[rest] if rest else found).canonical_path
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return path


def _resolve(name: str, obj: griffe.Object) -> str | None:
    """The full path that ``name`` means where ``obj``'s docstring stands, or None."""
    if name == "tinygrad_edu" or name.startswith("tinygrad_edu."):
        return _canonical(name, obj)
    first, _, rest = name.partition(".")
    scope: griffe.Object | None = obj
    while scope is not None:
        if first in scope.members:
            member = scope.members[first]
            path = member.target_path if member.is_alias else member.path
            return f"{path}.{rest}" if rest else path
        scope = scope.parent
    return None
