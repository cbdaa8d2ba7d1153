"""Reply-quote stripping (pipeline.inbound.quotes.latest_reply): accuracy on real replies, and its speed.

Reads ../shared/corpora in place (never copies it) and prints, for qmark's latest_reply and,
as the baseline, for mail-parser-reply alone (``EmailReplyParser(languages).read(text)``,
first reply's ``body``, i.e. its own header split and signature removal):

* talon standard_replies: the exact-match share against the expected reply text ("Hello"
  unless a sibling ``X_reply_text`` exists). "Exact" = both texts with CRLF made LF,
  trailing spaces removed from every line and leading/trailing blank lines dropped. Two
  figures: against qmark's contract (talon's expected text cut at a signature, which qmark
  removes and talon's quotation test keeps) and against talon's text as is; every miss of
  latest_reply is listed with what came out;
* talon html_replies converted by pipeline.inbound.html (informative): how many give talon's
  expected "Hi. I am fine." (its "Thanks, Alex" sign-off is removed by qmark);
* crisp-email-reply-parser and mail-parser-reply fixtures (plain bodies, no expected text
  here): how many give non-empty output, how many a ">"-quoted line (should be 0), and
  whether crisp's fixtures that share one first paragraph all reduce to one identical text;
* jetbrains-email-parser testEmls (informative): non-empty outputs per folder;
* microseconds per reply: the talon bodies, one typical top-posted reply, crisp's fixtures.

It prints numbers; it is not a test and never fails because of them.

    .venv/bin/python bench/quotes_accuracy.py [--corpora DIR] [--repeat N] [--languages en,de,fr]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailparser_reply import EmailReplyParser  # noqa: E402

from pipeline.inbound.html import html_to_text  # noqa: E402
from pipeline.inbound.quotes import DEFAULT_LANGUAGES, latest_reply  # noqa: E402
from tests.support import talon as talon_replies  # noqa: E402

Extract = Callable[[str], str]

TYPICAL = """Hi Anna,

the outage came from a config push at 14:02 that disabled the cache.
We rolled back at 14:40; checkout was slow for 38 minutes.

Best regards,
Jordan Owner
Head of Operations

On Mon, 23 Nov 2026 at 09:12, qmark <escalations@acme.test> wrote:

> [Q-12] A customer reports order 4711 arrived broken.
> Please explain by 18:00.
>
> --
> qmark
"""


def engine_alone(languages: tuple[str, ...]) -> Extract:
    parser = EmailReplyParser(languages=list(languages))

    def extract(text: str) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return str(parser.read(text).replies[0].body)

    return extract


def talon(corpora: Path, label: str, extract: Extract, *, show_misses: bool) -> list[str]:
    result = talon_replies.score(corpora, extract)
    total = max(result.total, 1)
    print(
        f"  {label}: exact {result.exact}/{result.total} = {result.exact / total:.1%} (qmark contract); "
        f"against talon's text as is {result.as_is}/{result.total} = {result.as_is / total:.1%}"
    )
    for miss in result.misses if show_misses else ():
        print(f"    {miss}")
    return list(result.bodies)


def talon_html(corpora: Path, label: str, extract: Extract) -> None:
    paths = sorted((corpora / "talon" / "tests" / "fixtures" / "html_replies").glob("*.html"))
    outputs = [extract(html_to_text(p.read_text(errors="replace"))) for p in paths]
    same = sum("".join(out.split()) == "Hi.Iamfine." for out in outputs)
    print(f"  {label}: {same}/{len(paths)} give 'Hi. I am fine.'")


def plain_fixtures(folder: Path, label: str, extract: Extract) -> list[str]:
    texts = [p.read_text(errors="replace") for p in sorted(folder.glob("*.txt"))]
    outputs = [extract(t) for t in texts]
    quoted = sum(any(line.lstrip().startswith(">") for line in out.splitlines()) for out in outputs)
    line = f"  {label}: {sum(bool(out) for out in outputs)}/{len(texts)} non-empty, {quoted} with a '>' line"
    shared = [out for t, out in zip(texts, outputs, strict=True) if t.startswith("Fusce bibendum")]
    if shared:
        most = Counter(shared).most_common(1)[0][1]
        line += f"; {most}/{len(shared)} sharing crisp's first paragraph give one identical text"
    print(line)
    return texts


def jetbrains(corpora: Path, label: str, extract: Extract) -> None:
    folder = corpora / "jetbrains-email-parser" / "src" / "test" / "resources" / "testEmls"
    parts = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        bodies = [
            b for b in (talon_replies.plain_body(p) for p in sorted(sub.glob("*.eml"))) if b is not None
        ]
        parts.append(f"{sub.name} {sum(bool(extract(b)) for b in bodies)}/{len(bodies)}")
    print(f"  {label}: non-empty per folder: {', '.join(parts)}")


def timing(label: str, texts: list[str], repeat: int, extract: Extract) -> None:
    for text in texts:
        extract(text)  # warm the pattern cache
    per_reply = []
    for text in texts:
        start = time.perf_counter()
        for _ in range(repeat):
            extract(text)
        per_reply.append((time.perf_counter() - start) / repeat * 1e6)
    print(
        f"  {label}: mean {statistics.fmean(per_reply):.0f} µs/reply, "
        f"median {statistics.median(per_reply):.0f}, max {max(per_reply):.0f} "
        f"({len(texts)} replies x {repeat})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--repeat", type=int, default=200, help="runs per reply for the timing")
    parser.add_argument("--languages", default=",".join(DEFAULT_LANGUAGES))
    args = parser.parse_args()
    languages = tuple(code for code in args.languages.split(",") if code)
    corpora: Path = args.corpora
    if not corpora.is_dir():
        print(f"no corpora at {corpora}", file=sys.stderr)
        return 1

    def qmark(text: str) -> str:
        return latest_reply(text, languages=languages)

    engine = engine_alone(languages)
    crisp_folder = corpora / "crisp-email-reply-parser" / "test" / "fixtures"
    mpr_folder = corpora / "mail-parser-reply" / "test" / "emails"

    print(f"languages: {', '.join(languages)}")
    print("talon standard_replies")
    bodies = talon(corpora, "latest_reply", qmark, show_misses=True)
    talon(corpora, "engine alone", engine, show_misses=False)
    print("talon html_replies via pipeline.inbound.html (informative)")
    talon_html(corpora, "latest_reply", qmark)
    talon_html(corpora, "engine alone", engine)
    print("crisp-email-reply-parser")
    crisp = plain_fixtures(crisp_folder, "latest_reply", qmark)
    plain_fixtures(crisp_folder, "engine alone", engine)
    print("mail-parser-reply")
    plain_fixtures(mpr_folder, "latest_reply", qmark)
    plain_fixtures(mpr_folder, "engine alone", engine)
    print("jetbrains-email-parser testEmls (informative)")
    jetbrains(corpora, "latest_reply", qmark)
    print("timing, latest_reply")
    timing("talon bodies", bodies, args.repeat, qmark)
    timing("typical top-posted reply", [TYPICAL], args.repeat * 10, qmark)
    timing("crisp fixtures", crisp, max(1, args.repeat // 10), qmark)
    print("timing, engine alone")
    timing("typical top-posted reply", [TYPICAL], args.repeat * 10, engine)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
