"""The pid file of ``qmark run`` (``[service] pid_file``): written at start, removed at a clean stop.

``qmark rules reload`` reads it to find the supervisor; a file naming a process that is gone is stale.
"""

from __future__ import annotations

import os
from pathlib import Path


def write(path: Path) -> Path:
    """Write this process's pid to ``path`` (creating its folder); returns the absolute path."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(f"{os.getpid()}\n")
    temporary.replace(path)
    return path


def remove(path: Path) -> None:
    """Remove ``path`` if it still names this process (another ``qmark run`` may have taken it over)."""
    if read(path) == os.getpid():
        path.unlink(missing_ok=True)


def read(path: Path) -> int | None:
    """The pid in ``path``; None when there is no such file or it holds no number."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def alive(pid: int) -> bool:
    """True when a process ``pid`` exists (signal 0 reaches it, or it belongs to someone else)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
