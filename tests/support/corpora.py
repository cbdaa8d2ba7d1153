"""Reading the shared corpora: which files are messages, and the envelope sender each implies."""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path

SKIP_NAMES = {
    "LICENSE",
    "LICENSE.txt",
    "COPYING",
    "COPYING.LESSER",
    "README.md",
    "SOURCES.md",
    "expected.json",
}


def corpus_files(corpora: Path) -> list[Path]:
    """Every file under ``corpora`` but licences, READMEs and expected-output files, sorted."""
    return sorted(p for p in corpora.rglob("*") if p.is_file() and p.name not in SKIP_NAMES)


def envelope_sender(raw: bytes) -> str:
    """What the MTA would have said in MAIL FROM: Return-Path when the file kept it, else From."""
    head = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n\n", 1)[0].decode("latin-1")
    fields = {}
    for line in head.split("\n"):
        name, sep, value = line.partition(":")
        if sep and not line[:1].isspace():
            fields.setdefault(name.strip().lower(), value.strip())
    if "return-path" in fields:
        return parseaddr(fields["return-path"])[1]
    return parseaddr(fields.get("from", ""))[1]
