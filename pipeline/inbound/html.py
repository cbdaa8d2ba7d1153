"""Turn an HTML mail body into plain text, using only the stdlib ``html.parser``.

Outlook often sends HTML only, and forward detection works on lines of text, so
this keeps the line structure a reader sees: block elements and ``<br>`` end a
line, ``<hr>`` becomes the underscore line Outlook writes in its own plain-text
part, scripts and styles are dropped, entities are decoded and runs of blank
lines collapse to one. It is a reading aid, not a renderer: no CSS, no layout.
Hostile markup costs linear time (see :func:`_defuse`).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

RULE = "_" * 32
# Only the first MAX_HTML characters are converted: enough for any complaint, bounded for any bomb.
MAX_HTML = 1_000_000

_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "object", "svg"})
_LINE = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "center", "dd", "details",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "legend", "li", "main", "nav", "ol", "section",
        "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
_PARAGRAPH = frozenset({"p", "pre"})
_CELL = frozenset({"td", "th"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "source"})
_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
_STRAY_LT = re.compile(r"<(?![A-Za-z/!?][^<>]*>)")


class _TextCollector(HTMLParser):
    """Collects lines of text while the parser walks the document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._has_text = False  # the open line holds more than spaces
        self._skip_depth = 0
        self._pre_depth = 0
        self._paragraphs: list[bool] = []  # open <p>/<pre>: True when it is an Outlook line, not a paragraph

    # -- line bookkeeping -------------------------------------------------
    def _add(self, text: str) -> None:
        if text:
            self._line.append(text)
            self._has_text = self._has_text or bool(text.strip(" "))

    def _end_line(self) -> None:
        self.lines.append("".join(self._line).replace("\xa0", " ").rstrip())
        self._line = []
        self._has_text = False

    def _break_if_open(self) -> None:
        if self._has_text:
            self._end_line()
        else:
            self._line = []

    def _blank_line(self) -> None:
        self._break_if_open()
        if self.lines and self.lines[-1]:
            self.lines.append("")

    # -- parser callbacks -------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
        elif tag == "br":
            self._end_line()
        elif tag == "hr":
            self._break_if_open()
            self.lines.append(RULE)
        elif tag in _PARAGRAPH:
            self._open_paragraph(tag, attrs)
        elif tag in _LINE:
            self._break_if_open()
            if tag == "li":
                self._add("- ")
        elif tag in _CELL and self._has_text:
            self._add(" ")

    def _open_paragraph(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """<p> or <pre>: a blank line before it, or only a line break for Outlook's one-line paragraphs."""
        if tag == "pre":
            self._pre_depth += 1
        self._paragraphs.append(_is_outlook_line(attrs))
        if self._paragraphs[-1]:
            self._break_if_open()
        else:
            self._blank_line()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _PARAGRAPH:
            if tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)
            if self._paragraphs and self._paragraphs.pop():
                self._break_if_open()
            else:
                self._blank_line()
        elif tag in _LINE:
            self._break_if_open()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            chunks = data.split("\n")
            self._add(chunks[0])
            for chunk in chunks[1:]:
                self._end_line()
                self._add(chunk)
            return
        text = _WHITESPACE.sub(" ", data)
        self._add(text if self._has_text else text.lstrip(" "))

    def text(self) -> str:
        self._break_if_open()
        out: list[str] = []
        for line in self.lines:
            if line or (out and out[-1]):
                out.append(line)
        return "\n".join(out).strip("\n")


def _is_outlook_line(attrs: list[tuple[str, str | None]]) -> bool:
    """Outlook writes every line as ``<p class=MsoNormal>`` with no margin: a line, not a paragraph."""
    return any(name == "class" and value and "msonormal" in value.lower() for name, value in attrs)


def _defuse(html: str) -> str:
    """Drop comments and escape every ``<`` that opens no complete tag, in one linear pass.

    ``html.parser`` in CPython 3.13.0 (our runtime) rescans the rest of the input for each unclosed
    comment or tag (quadratic: 200 KB of ``<`` took minutes); after this it never has to.
    Comments hold nothing readable (Outlook's conditional comments hold VML and XML).
    """
    kept: list[str] = []
    position = 0
    while (start := html.find("<!--", position)) >= 0:
        kept.append(html[position:start])
        end = html.find("-->", start + 4)
        position = len(html) if end < 0 else end + 3
    kept.append(html[position:])
    return _STRAY_LT.sub("&lt;", "".join(kept))


def html_to_text(html: str) -> str:
    """Return the readable text of ``html``, one line per visual line, blank lines collapsed."""
    collector = _TextCollector()
    try:
        collector.feed(_defuse(html[:MAX_HTML]))
        collector.close()
    except (AssertionError, ValueError, IndexError):  # html.parser on pathological markup
        return _WHITESPACE.sub(" ", re.sub(r"<[^<>]*>", " ", html[:MAX_HTML])).strip()
    return collector.text()
