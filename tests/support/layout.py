"""Measure the code's layout: module and function sizes, complexity, re-exports, docstrings.

``tests/unit/test_layout.py`` holds the limits; ``python -m tests.support.layout``
prints the figures (README: Architecture). Source modules are every ``.py`` under
``pipeline/``, ``workers/`` and ``rules/`` except the Alembic migrations; a package's
``__init__.py`` counts as a module only for docstrings and re-exports.
"""

from __future__ import annotations

import ast
import statistics
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from radon.complexity import cc_visit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "workers", "rules")
FIRST_PARTY = (*PACKAGES, "tests", "bench")
#: Radon's grade C starts at this cyclomatic complexity.
GRADE_C = 11


@dataclass(frozen=True)
class Function:
    """One function or method: where it is, how long and how complex."""

    path: str
    name: str
    lines: int
    complexity: int


def source_files(*, with_inits: bool = False) -> list[Path]:
    """The source modules, sorted; ``__init__.py`` files only when asked."""
    found = [
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and (with_inits or path.name != "__init__.py")
    ]
    return sorted(found)


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def line_counts() -> dict[str, int]:
    """Lines per source module."""
    return {relative(path): len(path.read_text().splitlines()) for path in source_files()}


def functions() -> list[Function]:
    """Every function and method of the source modules, with its length and radon complexity."""
    found: list[Function] = []
    for path in source_files():
        source = path.read_text()
        complexity = {(block.lineno, block.name): block.complexity for block in _blocks(source)}
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                score = complexity.get((node.lineno, node.name), 1)
                found.append(Function(relative(path), node.name, lines, score))
    return found


def _blocks(source: str) -> list[object]:
    """Radon's functions and methods (classes are unpacked into their methods)."""
    blocks: list[object] = []
    for block in cc_visit(source):
        blocks += [block, *getattr(block, "methods", [])]
    return blocks


@cache
def _defined(module: str) -> frozenset[str] | None:
    """The names a first-party module defines at its top level (None when it is a package or missing)."""
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        return None
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {
                leaf.id for target in targets for leaf in ast.walk(target) if isinstance(leaf, ast.Name)
            }
    return frozenset(names)


def _is_module(name: str) -> bool:
    relative_path = name.replace(".", "/")
    return (ROOT / f"{relative_path}.py").exists() or (ROOT / relative_path / "__init__.py").exists()


def re_exported_imports() -> list[str]:
    """``file:line: name from module`` for every import of a name its module does not define itself."""
    problems: list[str] = []
    files = [path for top in FIRST_PARTY for path in (ROOT / top).rglob("*.py")]
    for path in sorted(files):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if node.module.split(".")[0] not in PACKAGES:
                continue
            defined = _defined(node.module)
            for alias in node.names:
                if _is_module(f"{node.module}.{alias.name}"):
                    continue
                if defined is None or alias.name not in defined:
                    problems.append(f"{relative(path)}:{node.lineno}: {alias.name} from {node.module}")
    return problems


def modules_with_all() -> list[str]:
    """Source modules that declare ``__all__`` (a facade for re-exports)."""
    return [relative(path) for path in source_files(with_inits=True) if "__all__" in _top_names(path)]


def _top_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        leaf.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        for leaf in ast.walk(target)
        if isinstance(leaf, ast.Name)
    }


def modules_without_docstring() -> list[str]:
    return [
        relative(path)
        for path in source_files(with_inits=True)
        if not ast.get_docstring(ast.parse(path.read_text()))
    ]


def loose_pipeline_modules() -> list[str]:
    """``.py`` files directly in ``pipeline/`` besides ``__init__.py`` and ``log.py``."""
    return sorted(
        path.name for path in (ROOT / "pipeline").glob("*.py") if path.name not in {"__init__.py", "log.py"}
    )


def report() -> str:
    """The figures, as printed by ``python -m tests.support.layout``."""
    sizes = line_counts()
    funcs = functions()
    complex_ = sorted((f for f in funcs if f.complexity >= GRADE_C), key=lambda f: -f.complexity)
    longest = max(funcs, key=lambda f: f.lines)
    largest = max(sizes, key=lambda name: sizes[name])
    by_package = ", ".join(f"{p} {sum(n.startswith(p + '/') for n in sizes)}" for p in PACKAGES)
    median = statistics.median(sizes.values())
    grade_c = "".join(f"\n  {f.complexity:>3} {f.path} {f.name}" for f in complex_)
    loose = ", ".join(loose_pipeline_modules()) or "none"
    lines = [
        f"modules          {len(sizes)} ({by_package})",
        f"module lines     median {median:g}, largest {sizes[largest]} ({largest})",
        f"functions        {len(funcs)}; longest {longest.lines} lines ({longest.path} {longest.name})",
        f"radon C or worse {len(complex_)}{grade_c}",
        f"re-exports       {len(re_exported_imports())}; __all__ in {len(modules_with_all())} modules",
        f"loose modules    {loose} directly in pipeline/ (besides __init__ and log)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(report() + "\n")
