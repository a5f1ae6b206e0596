"""MkDocs hook: the command-line page shows the program's own ``--help``, never a stale copy.

In ``docs/cli.md`` a line such as ``<!-- help: train -->`` is replaced by the output of
``python -m tinygrad_edu train --help`` run on this checkout (``<!-- help: -->`` for the
top-level help). A command that fails to print its help fails the build, and so does a
command that the program lists but the page has no help marker for: a new command cannot
be left off the page.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

MARKER = re.compile(r"^<!-- help:(?P<command>[\w -]*)-->$", re.MULTILINE)
# In the top-level help, each command is a line of its own under "commands:", indented by
# four spaces: "    train     train an MLP with ...".
COMMAND_LINE = re.compile(r"^ {4}(?P<name>[a-z][\w-]*)(?: {2,}|$)", re.MULTILINE)

log = logging.getLogger("mkdocs.hooks.cli_help")


def on_page_markdown(markdown: str, *, page: Any, config: Any, **kwargs: Any) -> str:
    """Fill in every help marker of the page; on the page that has any, check all commands."""
    root = Path(config.config_file_path).parent
    commands = [match["command"].split() for match in MARKER.finditer(markdown)]
    if commands:
        shown = {" ".join(command) for command in commands}
        for name in program_commands(root):
            if name not in shown:
                log.warning(f"{page.file.src_uri}: no '<!-- help: {name} -->' for that command")
    return MARKER.sub(lambda match: help_block(match["command"].split(), root), markdown)


def program_commands(root: Path) -> list[str]:
    """The commands that ``tinygrad-edu --help`` lists, in its order."""
    listing = help_text([], root).partition("\ncommands:\n")[2]
    return [match["name"] for match in COMMAND_LINE.finditer(listing)]


def help_text(command: list[str], root: Path) -> str:
    """What ``tinygrad-edu COMMAND --help`` prints, from this checkout, 90 columns wide."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        "COLUMNS": "90",  # argparse wraps to the terminal: the same width on every machine
    }
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", *command, "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        check=True,
    )
    return result.stdout


def help_block(command: list[str], root: Path) -> str:
    """The help of one command as a ``text`` code block, headed by the command line."""
    shown = " ".join([*command, "--help"])
    return f"```text\n$ tinygrad-edu {shown}\n{help_text(command, root)}```"
