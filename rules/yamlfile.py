"""One YAML file read with its lines: the structure of mappings and lists, and problems at their lines.

The YAML is composed, not loaded, so every node keeps its line. :class:`YamlFile`
checks the shape (known keys, lists of entries, no repeats) and records each
problem as a RulesError with the node's line and a fix, so one pass over a file
can report every problem in it. The typed values inside are
:class:`rules.rulesfile.RulesFile`'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rules.errors import RulesError, did_you_mean

T = TypeVar("T")
Entry = Mapping[str, Node]

_YAML_FIX = 'check indentation and quoting on this line and the one above; quote values containing ": "'
#: What can go wrong turning a file's bytes into composed YAML.
_UNREADABLE = (UnicodeDecodeError, yaml.MarkedYAMLError, yaml.reader.ReaderError)


def line_of(node: Node) -> int:
    """The node's 1-based line."""
    return int(node.start_mark.line) + 1


def shown(node: Node) -> str:
    """How a node reads in a message: its value, or "a mapping" / "a list"."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag.endswith(":null"):
        return "nothing"
    return f'"{node.value}"' if node.tag.endswith(":str") else str(node.value)


def say(context: str, text: str) -> str:
    """``text`` after ``context`` (which may be empty)."""
    return f"{context} {text}" if context else text


class YamlFile:
    """One YAML file being read; ``problems`` collects what is wrong with it, in the order found."""

    def __init__(self, path: Path) -> None:
        self.path, self.name = path, str(path)
        self.problems: list[RulesError] = []
        self.text: str | None = None  # what was read, once compose() ran
        self._constructor = SafeConstructor()

    def problem(self, at: Node | int | None, message: str, fix: str) -> None:
        line = line_of(at) if isinstance(at, Node) else at
        self.problems.append(RulesError(self.name, line, message, fix))

    def compose(self, what: str) -> Node | None:
        """The root node; None (with the reason recorded) when missing, unreadable or empty.

        ``what`` says what the file must contain, for the missing and empty cases.
        """
        if not self.path.is_file():
            self.problem(None, f"missing: a rules directory needs {self.path.name}", f"create it with {what}")
            return None
        text = ""
        try:
            text = self.text = self.path.read_text(encoding="utf-8")
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except _UNREADABLE as exc:
            self.problem(*_unreadable(exc, text))
            return None
        if root is None:
            self.problem(1, "the file is empty", f"write {what}")
        return root

    def mapping(
        self, node: Node, context: str, keys: Sequence[str], required: Sequence[str] = ()
    ) -> Entry | None:
        """The known entries by key (None for a non-mapping); unknown, repeated, missing keys are problems."""
        if not isinstance(node, MappingNode):
            message = say(context, f"must be a mapping of {', '.join(keys)}, not {shown(node)}")
            self.problem(node, message, f"write `{(required or keys)[0]}: ...` on its own line")
            return None
        entries: dict[str, Node] = {}
        for key_node, value in node.value:
            key = str(key_node.value) if isinstance(key_node, ScalarNode) else shown(key_node)
            if key in entries:
                message = say(context, f'"{key}" appears twice (first on line {line_of(entries[key])})')
                self.problem(key_node, message, "keep one of them")
            elif key not in keys:
                close = did_you_mean(key, keys)
                fix = (
                    f'did you mean "{close[0]}"?'
                    if close
                    else f"remove it; the keys here are {', '.join(keys)}"
                )
                self.problem(key_node, say(context, f'unknown key "{key}"'), fix)
            else:
                entries[key] = value
        for key in required:
            if key not in entries:
                self.problem(node, say(context, f'"{key}" is missing'), f"add `{key}: ...`")
        return entries

    def sequence(self, node: Node, context: str, example: str) -> list[Node] | None:
        if isinstance(node, SequenceNode):
            return list(node.value)
        self.problem(node, say(context, f"must be a list, not {shown(node)}"), f"write e.g. {example}")
        return None

    def entries(
        self, top: Entry, kind: str, keys: Sequence[str], required: Sequence[str], example: str
    ) -> Iterator[tuple[str, Entry]]:
        """(context, mapping) for each entry of the list ``top[kind]`` that has the required keys."""
        if kind not in top:
            return
        items = self.sequence(top[kind], f"{kind}:", example)
        if items == []:
            self.problem(top[kind], f"{kind}: is empty", f"list at least one entry, e.g. {example}")
        for index, item in enumerate(items or [], start=1):
            entry = self.mapping(item, f"{kind}[{index}]:", keys, required)
            if entry is not None and all(key in entry for key in required):
                yield f"{kind}[{index}]:", entry

    def value(self, node: Node) -> Any:
        """The plain value of a scalar (str, int, float, bool, None, date); else the node itself."""
        if not isinstance(node, ScalarNode):
            return node
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError:  # a tag the safe constructor refuses, such as !!python/object
            return node

    def get(
        self,
        entry: Entry,
        key: str,
        read: Callable[[Node, str], T | None],
        context: str,
        *,
        nullable: bool = False,
    ) -> T | None:
        """``read`` applied to ``entry[key]``; None when the key is absent (or empty, if ``nullable``)."""
        node = entry.get(key)
        if node is None or (nullable and self.value(node) is None):
            return None
        return read(node, say(context, key))

    def once(self, items: Sequence[tuple[str, Node]], what: str) -> bool:
        """True when no name repeats; each repeat is a problem at its line."""
        first: dict[str, Node] = {}
        for name, node in items:
            if name in first:
                message = f'{what} "{name}" is listed twice (first on line {line_of(first[name])})'
                self.problem(node, message, "keep one of them")
            else:
                first[name] = node
        return len(first) == len(items)


def _unreadable(
    exc: UnicodeDecodeError | yaml.MarkedYAMLError | yaml.reader.ReaderError, text: str
) -> tuple[int | None, str, str]:
    """(line, message, fix) for a file that is not UTF-8, holds a character YAML refuses, or is not YAML."""
    if isinstance(exc, UnicodeDecodeError):
        return None, f"not UTF-8 text ({exc.reason} at byte {exc.start})", "save the file as UTF-8"
    if isinstance(exc, yaml.MarkedYAMLError):
        return _syntax_error(exc)
    line = text.count("\n", 0, exc.position) + 1
    code = exc.character if isinstance(exc.character, int) else ord(exc.character)
    return line, f"YAML cannot contain the character U+{code:04X}", "remove it"


def _syntax_error(exc: yaml.MarkedYAMLError) -> tuple[int | None, str, str]:
    """(line, message, fix) for YAML that does not parse, at the mark the parser left."""
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    fix = "indent with spaces, not tabs" if "\\t" in problem else _YAML_FIX
    return mark.line + 1 if mark else None, f"YAML syntax error: {problem}", fix
