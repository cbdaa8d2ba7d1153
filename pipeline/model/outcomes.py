"""Why a message was quarantined, in a fixed set of classes: a bounded label for metrics and ops.

A quarantine reason is words (DESIGN §5, I2); its class is read from how the words
start. :data:`QUARANTINE_CLASSES` pairs each class with a SQL ``LIKE`` pattern, so the
database can count by class (``pipeline.store.metricdata``) with the same rule
:func:`classify_reason` applies to one reason.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

QUARANTINE_CLASSES: tuple[tuple[str, str], ...] = (
    ("unparseable", "unparseable:%"),
    ("possible_spoof", "possible spoof:%"),
    ("reply_forged_token", "the reply token is not genuine%"),
    ("reply_stranger", "% takes no part in %"),
    ("processing_failed", "processing failed %"),
)
OTHER = "other"


def classify_reason(reason: str | None) -> str:
    """The quarantine class of a reason text: the first class whose pattern matches, else ``other``."""
    for name, pattern in QUARANTINE_CLASSES:
        if reason is not None and fnmatchcase(reason, pattern.replace("%", "*")):
            return name
    return OTHER
