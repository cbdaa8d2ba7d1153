"""What mail systems write: bounce and auto-reply subjects, report openers, delivery-status fields.

The text side of :mod:`pipeline.inbound.machine` and :mod:`pipeline.inbound.bounces`:
patterns and small readers over a subject or the sender's own lines (:func:`own_lines` —
``mail.note`` without ">"-quoted lines, cut at the first reply header), so that a
person's words about a bounce, or a quoted or forwarded one, are never mistaken for
the bounce itself.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from pipeline.model.mail import InboundMail


def phrases(*alternatives: str, before: str = "", after: str = "", flags: int = re.I) -> re.Pattern[str]:
    """One pattern: ``before``, then any of ``alternatives``, then ``after`` (case-insensitive by default)."""
    return re.compile(before + "(?:" + "|".join(alternatives) + ")" + after, flags)


# -- subjects ------------------------------------------------------------------------------------
# Anchored at the start: "Re: out of office policy question" is a person's subject. Words that
# also open ordinary subjects ("Vacation request", "Absence of invoice", "Out of office policy")
# count only when a separator or a date word follows them.


# A separator, the end, or a date word: "Abwesend: ...", "Out of office until 3 May", "Vacation (back 3/5)".
_THEN_DETAIL = (
    r"\s*(?:$|[:\-–—(\[!.,]|\b(?:until|till|through|back|returning|bis|ab|vom|jusqu|hasta|desde|tot|t/m"
    r"|reply|notice|notification|message|melding|bericht|notiz|mensaje)\b)"
)
_AUTO_REPLY_SUBJECT = phrases(
    r"auto(?:matic|matische|matisch|matisk|matiskt|m\.)?[ _-]?(?:reply|respon[sd]e?r?|antwort|antwoord|svar)",
    r"r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica|resposta autom[áa]tica",
    r"automaattinen vastaus|abwesenheitsnotiz|afwezigheids(?:melding|bericht)",
    r"out[ -]of[ -](?:the[ -])?office[ -](?:auto-?reply|reply|notice|notification|message|response)",
    r"vacation (?:auto-?reply|reply|response|message|notice)",
    # Lotus Notes and friends: "Pat Owner is out of the office."
    r"[^:\[\]]{1,80}? (?:is|ist|est|is niet) "
    r"(?:out of (?:the )?office|abwesend|nicht im b[üu]ro|absente?|afwezig)\b",
    # Words that also open a person's subject ("Vacation request", "Absence of invoice") need a detail.
    r"(?:out[ -]of[ -](?:the[ -])?office|ooo|oof|abwesend|abwesenheit|nicht im b[üu]ro"
    r"|absen(?:ce|t|te)(?: du bureau)?|afwezig(?:heid)?|niet op kantoor|buiten kantoor|ausente|ausencia"
    r"|fuera de (?:la )?oficina|vacation|on (?:vacation|leave|holiday)|away|urlaub|cong[ée]s?|en vacances"
    r"|de vacaciones|fr[aå]v[æa]r)" + _THEN_DETAIL,
    before=r"^\s*",
)
_BOUNCE_SUBJECT = phrases(
    r"non-?deliver(?:y|able)|unzustellbar|non remis|non recapitabile|onbestelbaar|no se puede entregar",
    r"returned mail|mail system error|failure notice|failed mail|mail failure|delayed mail",
    r"(?:\S+ )?(?:mail|message|e-?mail) (?:delivery (?:failed|failure|problem|warning|status|has failed)"
    r"|could not be delivered|not delivered|undeliverable|delayed|returned|failed)",
    r"warning: (?:could not send|message .{1,60} delayed|message has not yet been delivered)",
    r"(?:sorry, )?your (?:message|mail) (?:to .{1,120} )?"
    r"(?:could not be|was not|wasn't|has not been) delivered",
    r"there was an error sending your mail|postfix smtp server: errors from|postmaster notify",
    r"complaint about message from \d{1,3}(?:\.\d{1,3}){3}|email feedback report for",
    r"メッセージを配信できません|メールエラー通知|недоставленное сообщение|ваше сообщение не доставлено",
    # Words a person's subject may open with too ("Undelivered parcel", "Delivery status of order 42").
    r"(?:undeliver(?:able|ed)|(?:permanent |temporary )?delivery (?:status|notification|report|failure"
    r"|failed|has failed|problem|warning|incomplete|delayed|error)(?: notification| report)?"
    r"|failure delivery|failed delivery|abuse report)"
    r"\s*(?:$|[:(\-–—.!\[]|\b(?:mail|message|e-?mail|notification|returned)\b)",
    before=r"^\s*(?:\[postmaster\]\s*)?",
)

# -- own words -----------------------------------------------------------------------------------

MAX_NOTE_CHARS = 64 * 1024
TOP_LINES = 25  # mail systems open their reports with these sentences; only the first lines are read
_QUOTED = re.compile(r"^\s*>")
_REPLY_HEADER = phrases(
    r"-{2,}\s*(?:original message|ursprüngliche nachricht|original-nachricht|message d'origine"
    r"|mensaje original|oorspronkelijk bericht|forwarded message|weitergeleitete nachricht)\s*-{2,}",
    r"(?:on|am|le|el|op|il)\s.{1,200}(?:wrote|schrieb|a écrit|escribió|schreef|ha scritto)\s*:?",
    before="^",
    after="$",
)
# The body patterns below are written in lower case and searched in lower-cased text (:func:`own_words`):
# without re.I the search is about four times faster, and it runs on every person's mail.
# Sentences mail systems open their reports with; people do not write them to a colleague.
BOUNCE_OPENERS = phrases(
    r"this is the (?:mail system|postfix program|qmail-send program|mail delivery agent"
    r"|dragonfly mail agent|mailer-daemon|mail delivery system) (?:at|on|of)\b",
    r"this is the mailer-daemon\b|running the courier mail server",
    r"(?:this|the following) (?:message|notification) was created automatically by (?:the )?"
    r"(?:mail delivery|smtp relay|mail system)",
    r"this is an? (?:automatically generated |automated )?delivery status notification\b",
    r"this is an? (?:automatically generated|automated) message created by mail delivery software",
    r"this delivery status notification is sent",
    r"i'?m (?:sorry|afraid) (?:to have to (?:inform|tell) you that )?(?:i wasn't able to deliver"
    r"|your message (?:could not|was not able to)|the message returned)",
    r"a message that you (?:have )?sent (?:could not be|has not yet been) delivered to "
    r"(?:one or more|all) of",
    r"(?:message|e-?mail) that you (?:attempted to send|sent) to the following address(?:es)? could not be"
    r" delivered",
    r"delivery to the following recipients? (?:failed|has been delayed|was aborted)",
    r"delivery has failed to these recipients",
    r"(?:échec de la remise|fehler bei der zustellung|il recapito non è riuscito|error en la entrega"
    r"|bezorging is mislukt) (?:pour|an|per|a|voor) (?:ces|diese|i seguenti|estos|deze)",
    r"your message did not reach some or all of the intended recipients",
    r"did not reach the following recipient",
    r"(?:unable|not able) to deliver (?:your |the )?message to(?: the following|:? \S+@)",
    r"(?:could not|couldn't) deliver (?:the |your )?message to the following",
    r"(?:could not|couldn't|cannot|can't) be delivered to (?:the following|one or more|all of)",
    r"not (?:be )?delivered to the following (?:recipient|address)",
    r"your (?:message|mail) .{0,300}?(?:was not|could not be) delivered to:? \S+@",
    r"votre message n'a pas pu (?:être|etre) (?:délivré|delivre|distribué|distribue|remis)",
    r"your message has encountered delivery problems",
    r"an error was detected while processing the enclosed message",
    r"the following addresses had (?:permanent |transient )?(?:fatal |non-fatal |delivery )?"
    r"(?:errors|problems)",
    r"an error occurred while trying to deliver the mail to the following recipients",
    r"we were unable to deliver your message to the following address",
    r"this report relates to (?:a|your) message",
    r"\*\* (?:address not found|message not delivered|delivery incomplete) \*\*",
    r"-{3,} ?(?:failure reasons|failed recipients|returned (?:mail|message)) ?-{3,}",
    r"there was (?:a|an) (?:temporary )?(?:problem|error) delivering your (?:message|mail) to",
    r"each of the following recipients was rejected by a remote mail server",
    r"the following recipients did not receive this message",
    r"message from interscan messaging security suite|message log follows|failed addresses follow",
    r"the following message to \S+ was undeliverable",
    r"your mail to the following recipients could not be delivered",
    r"you do not need to resend your message",
    r"this is only a notification about a delay in the delivery",
    r"your message has been delayed and is still awaiting delivery",
    r"this is an (?:email )?(?:abuse|opt-out|authentication failure) report for an email message",
    r"this is an autogenerated email abuse complaint",
    r"это письмо (?:создано автоматически|отправлено почтовым) сервер|ваше письмо не может быть доставлено",
    r"が自動的に生成して送信しています",
    flags=0,
)
_DSN_FIELD = re.compile(
    r"^(final-recipient|original-recipient|reporting-mta|remote-mta|diagnostic-code|action|status)\s*:\s*(.*)$",
    re.I,
)
DSN_ADDRESS_FIELDS = frozenset({"final-recipient", "original-recipient", "reporting-mta"})
_DSN_ACTION = re.compile(r"^(?:failed|delayed|delivered|relayed|expanded)\b", re.I)
_DSN_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}\b")
# A mail server's reply as a bounce quotes it, at the start of a line: "550 5.1.1 ...", "<<< 550 ...".
SMTP_REPLY = phrases(
    r"[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3}\b|.*\b(?:requested action|user unknown|unknown user"
    r"|no such user|mailbox|recipient|relay|rejected|not accepted|does not exist|service unavailable))",
    r"(?:rcpt to|mail from)\s*:\s*<",
    before=r"^(?:(?:sent|received|in|out)?\s*(?:<<<|>>>)|remote host said:|out:|\(?reason:)?\s*",
)
SMTP_TRACE = phrases(r"[(\[]#[245]\.\d\.\d{1,3}[)\]]", r"transcript of (?:the )?session follows", flags=0)
# Failures of e-mail in particular: "the parcel was not delivered" is a customer's complaint, not a bounce.
# (No leading \b: it keeps the regex engine from skipping ahead, and made the search seven times slower.)
FAILURE_WORDS = phrases(
    r"(?:message|e-?mail)\b.{0,120}?\b(?:could not|couldn't|can ?not|can't|was not|wasn't|has not been"
    r"|had not been) (?:be )?(?:delivered|relayed)",
    r"undeliverable (?:mail|message|e-?mail)\b|undeliverable\s+to\s+<?\S+@",
    r"(?:unable|failed) to deliver (?:your |the )?(?:message|mail)\b",
    r"user unknown\b|unknown user\b|no such user\b|mailbox (?:is )?(?:full|unavailable|not found)\b",
    r"full mailbox\b|recipient address rejected\b|does not like recipient\b|host unknown\b",
    r"invalid (?:user|recipient) address\b|invalid final delivery userid\b",
    r"送信(?:に失敗しました|できませんでした)|配信できませんでした",
    flags=0,
)
# A copy of the returned message follows the report inline.
RETURNED_COPY = phrases(
    r"below this line is a copy of the message|copy of the original message|original message follows?",
    r"message text follows|unsent message follows|lines of your original message follow",
    r"original mail as follows|a summary of the undelivered message|undelivered message (?:is )?attached",
    r"returned message|header and top \d+ lines of the message follow",
    flags=0,
)
_FROM_FIELD = re.compile(r"^(?:from|von|de|van|da|fra|från|od)\s*:\s*\S", re.I)
_DATE_FIELD = re.compile(
    r"^(?:sent|date|gesendet|datum|envoyé|enviado|fecha|verzonden|inviato|data|skickat|sendt)\s*:", re.I
)


def _reply_header_at(lines: list[str], i: int) -> bool:
    """A reply or forward header starts at ``lines[i]``: a separator, an attribution, or From: then Sent:."""
    line = lines[i].strip()
    if _REPLY_HEADER.match(line):
        return True
    if not _FROM_FIELD.match(line):
        return False
    following = [other.strip() for other in lines[i + 1 : i + 6] if other.strip()][:3]
    return any(_DATE_FIELD.match(other) for other in following)


def own_lines(mail: InboundMail) -> tuple[str, ...]:
    """The non-blank, unquoted lines the sender wrote above any reply header or forward, stripped."""
    return _own_lines(mail.note[:MAX_NOTE_CHARS])


@functools.lru_cache(maxsize=16)  # the body checks read the same note one after another
def _own_lines(note: str) -> tuple[str, ...]:
    every = note.splitlines()
    lines: list[str] = []
    for i, line in enumerate(every):
        stripped = line.strip()
        if not stripped or _QUOTED.match(stripped):
            continue
        if _reply_header_at(every, i):
            break
        lines.append(stripped)
    return tuple(lines)


def own_words(lines: Sequence[str]) -> str:
    """The lines as one lower-cased string, runs of white space made one space."""
    return " ".join(" ".join(lines).split()).lower()


def is_auto_reply_subject(subject: str) -> bool:
    """The subject of an out-of-office or other auto-reply ("Automatic reply: ...", "Abwesend: ...")."""
    return bool(_AUTO_REPLY_SUBJECT.match(subject))


def is_bounce_subject(subject: str) -> bool:
    """The subject of a delivery report ("Undeliverable: ...", "Returned mail: ...")."""
    return bool(_BOUNCE_SUBJECT.match(subject))


def dsn_field_names(lines: Iterable[str]) -> set[str]:
    """The RFC 3464 delivery-status fields among ``lines`` whose values look like a report's."""
    found: set[str] = set()
    for line in lines:
        match = _DSN_FIELD.match(line)
        if match is None:
            continue
        name, value = match.group(1).lower(), match.group(2).strip()
        if name == "action" and not _DSN_ACTION.match(value):
            continue
        if name == "status" and not _DSN_STATUS.match(value):
            continue
        found.add(name)
    return found


def is_dsn_block(lines: Iterable[str]) -> bool:
    """Two or more delivery-status fields, one of them naming a recipient or the reporting MTA."""
    names = dsn_field_names(lines)
    return len(names) >= 2 and bool(names & DSN_ADDRESS_FIELDS)
