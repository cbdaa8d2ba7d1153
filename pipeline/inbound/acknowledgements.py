"""Replies that only acknowledge: an owner's "on it" (no explanation yet), an executive's "OK" (approval).

Pure, no I/O. Both read the new words of a reply, already reduced by the caller with
:func:`pipeline.inbound.quotes.latest_reply` (no quoted history, reply headers or signature).

Acknowledgements. A reply is a mere acknowledgement when, after greetings, thanks,
sign-offs, acknowledgement phrases ("on it", "looking into it", "will get back to you",
"ich kümmere mich darum", "je regarde ça", ...) and promises of time ("by EOD", "today")
are removed, fewer than :data:`MIN_EXPLANATION_WORDS` words with a letter are left.

Approvals. The executive approves when the first non-blank line, without case, trailing
punctuation or emoji skin tones, is one of :data:`APPROVALS` (or only 👍), and no line
below asks a question: "OK" over a signature approves, "OK. But why did this happen?" does not.
"""

from __future__ import annotations

import re

from pipeline.inbound.commands import first_line

_HAS_LETTER = re.compile(r"[^\W\d_]")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'"})

# Acknowledgements ---------------------------------------------------------------------------------------

#: The fewest words with a letter, left after removing greetings, thanks, sign-offs and
#: acknowledgement phrases, for a reply to count as an explanation.
MIN_EXPLANATION_WORDS = 8
# Only the start is read, which bounds the time: an explanation starts within it.
_MAX_ACK_CHARS = 4000

_IT = r"(?:it|this|that|the matter|the issue|the case)"
# Who acknowledges, and how: "I'll", "we are currently", "and will" before a phrase.
_WHO = (
    r"(?:(?:i|we|i'll|we'll|i'm|we're|i've|we've|am|are|will|shall|be|have|has|just|currently|now"
    r"|already|going to|gonna|and|also)\s+)*"
)


def _phrases(*alternatives: str, prefix: str = "") -> re.Pattern[str]:
    """Any of ``alternatives`` as whole words (lower case), after an optional ``prefix``."""
    return re.compile(rf"\b{prefix}(?:{'|'.join(alternatives)})\b")


#: Removed from the lower-cased words before counting, in this order.
_NOT_SUBSTANCE: tuple[re.Pattern[str], ...] = (
    # a greeting, with a name of up to three words before a comma or the end of its line
    re.compile(
        r"^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|morning|hallo|guten (?:morgen|tag)"
        r"|liebe[rs]?|bonjour|salut|cher|chère)\b(?:[^\S\n]+[^\s,!:]+){0,3}?[^\S\n]*(?:[,!:]|$)",
        re.MULTILINE,
    ),
    _phrases(  # thanks, and what for
        r"(?:many |big )?(?:thanks|thank you|thx|ty)(?: (?:so|very) much)?(?: for(?: (?:the|your|this|that"
        r"|flagging|raising|letting|me|us|know|heads-up|heads up|note|e-?mail|mail|message|report"
        r"|escalation|patience|bringing|pointing|it|up|out)\b)+)?",
    ),
    _phrases(  # English acknowledgements, with who says them
        rf"(?:look(?:ing)?|dig(?:ging)?) into {_IT}",
        rf"(?:look(?:ing)?|check(?:ing)?) (?:at|on) {_IT}",
        rf"(?:take|taking|have|having) a (?:closer )?look(?: at {_IT})?",
        rf"(?:working )?on {_IT}",
        rf"check(?:ing)?(?: {_IT})?",
        rf"investigat(?:e|ing)(?: {_IT})?",
        rf"handl(?:e|ing) {_IT}",
        r"(?:get|getting|come|coming) back(?: to you)?",
        r"revert(?:ing)?(?: back)?(?: to you)?",
        r"follow(?:ing)? up",
        r"(?:keep|keeping) you (?:posted|updated|informed|in the loop)",
        r"update you",
        r"let you know",
        r"(?:ask|asking|speak|speaking|talk|talking) (?:with|to)(?: the| my| our)?(?: \w+)? team",
        prefix=_WHO,
    ),
    _phrases(r"(?:with|to|from) (?:the|my|our) (?:\w+ )?team"),
    _phrases(  # a bare acknowledgement
        r"ack(?:nowledged)?",
        "noted|received|got it|understood|sure|ok(?:ay)?|roger|copy that|will do",
    ),
    _phrases(  # a promise of time
        r"(?:(?:by|before|until|till) )?(?:eod|cob|end of (?:the )?day|today|tomorrow|tonight|asap"
        r"|as soon as (?:possible|i can|we can)|shortly|soon|later(?: today)?"
        r"|this (?:morning|afternoon|evening|week)|in a (?:bit|moment|while|few (?:minutes|hours))"
        r"|monday|tuesday|wednesday|thursday|friday)",
    ),
    _phrases(  # German
        r"(?:ich kümmere mich|wir kümmern uns|kümmere mich)(?: (?:darum|drum))?",
        r"(?:ich|wir) (?:schaue?|schauen)(?: (?:mir|uns))?(?: (?:das|es|mal))*(?: an| nach)?",
        r"(?:bin|sind) (?:dran|dabei)",
        r"(?:ich|wir) (?:prüfe|prüfen|kläre|klären) (?:das|es)",
        r"(?:ich|wir) melden? (?:mich|uns)",
        "wird erledigt|erhalten|verstanden|danke|vielen dank|in arbeit|heute|morgen",
    ),
    _phrases(  # French
        r"(?:je|on|nous) (?:regarde|regardons|vérifie|vérifions|m'en occupe|s'en occupe|nous en occupons)"
        r"(?: (?:ça|ca|cela))?",
        r"je (?:reviens|reviendrai) vers (?:vous|toi)",
        r"je (?:vous|te) tiens au courant",
        "bien reçu|reçu|c'est noté|noté|merci|en cours",
    ),
    _phrases(  # a sign-off
        "best regards|kind regards|regards|best wishes|best|cheers|br|cordialement|grüße|gruß",
    ),
)


def is_acknowledgement(words: str) -> bool:
    """True when ``words`` only acknowledge (or say nothing): no explanation in them yet."""
    return _substance_words(words) < MIN_EXPLANATION_WORDS


def _substance_words(words: str) -> int:
    """The words with a letter left once greetings, thanks and acknowledgement phrases are gone."""
    text = words[:_MAX_ACK_CHARS].translate(_APOSTROPHES).lower()
    for pattern in _NOT_SUBSTANCE:
        text = pattern.sub(" ", text)
    return sum(1 for token in text.split() if _HAS_LETTER.search(token))


# Approvals -----------------------------------------------------------------------------------------------

#: First lines that approve, lower case, after trailing punctuation is dropped and commas become spaces.
APPROVALS = frozenset(
    {
        "approve", "approved", "i approve", "ok", "okay", "+1", "lgtm", "yes", "yep", "sure",
        "looks good", "looks good to me", "looks fine", "fine", "good", "go ahead", "close it",
        "close", "please close", "ok close", "ok close it", "okay close it", "yes close it",
        "ok to close", "approved close it", "fine to close", "good to close", "👍", "✅",
        "genehmigt", "einverstanden", "passt", "approuvé", "d'accord", "oui",
    }
)  # fmt: skip
_SKIN_TONES_AND_VARIANTS = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f]")
_TRAILING = ".!,;:~ \t"


def is_approval(words: str) -> bool:
    """True when the executive's first line approves and nothing below it asks a question."""
    first, rest = first_line(words)
    line = _SKIN_TONES_AND_VARIANTS.sub("", first.translate(_APOSTROPHES)).lower().rstrip(_TRAILING)
    line = " ".join(line.replace(",", " ").split())
    thumbs = bool(line) and not line.replace("👍", "").strip()
    return (line in APPROVALS or thumbs) and "?" not in rest
