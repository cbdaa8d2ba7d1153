"""The roles of a running `qmark run` tree, found in /proc, and their memory (RSS and PSS).

``qmark run`` starts each role as ``python -m workers.cli <role>``; :func:`roles` maps the
supervisor's children to their role name (``smtp``, ``worker``, ``scheduler``, ``http``),
several processes of one role in start order. :func:`memory_kib` reads
``/proc/<pid>/smaps_rollup``: RSS counts shared library pages in full in every process,
PSS divides them among the processes sharing them, so PSS sums to what the tree costs.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from pathlib import Path

PROC = Path("/proc")


def children(pid: int) -> list[int]:
    """The direct children of ``pid``."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid:
                found.append(int(entry.name))
    return sorted(found)


def role_of(pid: int) -> str | None:
    """``smtp``, ``worker``, … for a ``python -m workers.cli <role>`` process; None otherwise."""
    try:
        argv = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    words = [a.decode(errors="replace") for a in argv if a]
    if "workers.cli" not in words:
        return None
    after = words[words.index("workers.cli") + 1 :]
    return after[0] if after else None


def roles(supervisor: int) -> dict[str, list[int]]:
    """Role name -> pids of the supervisor's children running it (oldest pid first)."""
    found: dict[str, list[int]] = defaultdict(list)
    for pid in children(supervisor):
        role = role_of(pid)
        if role is not None:
            found[role].append(pid)
    return dict(found)


def memory_kib(pid: int) -> tuple[int, int] | None:
    """(RSS, PSS) in KiB of ``pid`` and its descendants; None when it is gone."""
    total_rss = total_pss = 0
    try:
        for one in [pid, *children(pid)]:
            fields = rollup(one)
            total_rss += fields.get("Rss", 0)
            total_pss += fields.get("Pss", 0)
    except OSError:
        return None
    return total_rss, total_pss


def rollup(pid: int) -> dict[str, int]:
    out = {}
    for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[name] = int(parts[0])
    return out
