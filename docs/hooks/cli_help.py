"""MkDocs hook: the command-line page shows the program's own ``--help``, never a stale copy.

In ``docs/cli.md`` a line such as ``<!-- help: train -->`` is replaced by the output of
``python -m tinygrad_edu train --help`` run on this checkout (``<!-- help: -->`` for the
top-level help). A command that fails to print its help fails the build.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

MARKER = re.compile(r"^<!-- help:(?P<command>[\w -]*)-->$", re.MULTILINE)


def on_page_markdown(markdown: str, *, page: Any, config: Any, **kwargs: Any) -> str:
    """Fill in every help marker of the page."""
    root = Path(config.config_file_path).parent
    return MARKER.sub(lambda match: _help_block(match["command"].split(), root), markdown)


def _help_block(command: list[str], root: Path) -> str:
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
    return f"```text\n$ tinygrad-edu {' '.join([*command, '--help'])}\n{result.stdout}```"
