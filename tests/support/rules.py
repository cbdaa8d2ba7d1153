"""A private copy of the example rules for a test, with the root-cause policy it needs, and edits to it."""

from __future__ import annotations

import shutil
from pathlib import Path

ACME = Path(__file__).resolve().parents[2] / "rules" / "examples" / "acme"


def acme_rules(directory: Path, *, policy: str = "close_when_complete") -> Path:
    """Copy rules/examples/acme to ``directory`` with ``policy`` in rca.yaml; returns the copy."""
    shutil.copytree(ACME, directory)
    rca = directory / "rca.yaml"
    text = rca.read_text()
    assert "policy: close_when_complete" in text
    rca.write_text(text.replace("policy: close_when_complete", f"policy: {policy}"))
    return directory


def edit_rules(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must be there) by ``new`` in the rules file ``path``."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))
