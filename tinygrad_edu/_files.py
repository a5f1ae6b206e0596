"""Writing files so that a failure never leaves half a file behind.

Every file the library or the command line writes goes through :func:`write_atomically`:
the bytes go to a temporary file in the same folder, which is flushed to disk and then
renamed over the target. A rename within one folder is atomic, so a reader sees either the
old file or the complete new one, never a truncated mix, even if the process is killed or
the disk fills up halfway.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: str | os.PathLike[str], content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8, or bytes) to ``path`` all at once, or not at all.

    On any error the temporary file is removed and the previous file at ``path``, if
    there was one, is left exactly as it was. Returns the path written.
    """
    target = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        # mkstemp makes a private file (0600); give it the permissions a plain open() would
        os.chmod(temporary, _mode_of(target))
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _mode_of(target: Path) -> int:
    """The permission bits for ``target``: its own if it exists, else the usual 0666 - umask."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)  # reading the umask means setting it: put it straight back
        os.umask(umask)
        return 0o666 & ~umask
