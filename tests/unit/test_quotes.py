"""An owner's reply is reduced to the owner's new words (pipeline.inbound.quotes).

The hand-written replies below are ours. The corpus tests read ../shared/corpora in place
(never copied): outside CI a missing folder skips them, with ``CI`` set it fails them.

talon's standard replies against the agreed accuracy floor, and the corpora's replies
checked for quoted lines, are in tests/faults/test_f25_reply_stripping.py (F25).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pipeline.inbound import quotes
from pipeline.inbound.html import html_to_text
from pipeline.inbound.quotes import MAX_CHARS, latest_reply

GMAIL = """Hi Anna,

The outage came from a config push at 14:02. We rolled it back at 14:40.

On Mon, 23 Nov 2026 at 09:12, qmark <escalations@acme.test> wrote:

> [Q-12] A customer reports order 4711 arrived broken.
> Please explain by 18:00.
"""

OUTLOOK = """The carrier dropped the pallet; we have claimed the damage.

________________________________
From: qmark <escalations@acme.test>
Sent: Monday, November 23, 2026 9:12 AM
To: Jordan Owner <jordan@acme.test>
Subject: [Q-12] Order 4711 arrived broken

A customer reports order 4711 arrived broken.
"""


def test_a_gmail_reply_keeps_only_the_text_above_on_wrote() -> None:
    assert latest_reply(GMAIL) == (
        "Hi Anna,\n\nThe outage came from a config push at 14:02. We rolled it back at 14:40."
    )


def test_an_outlook_reply_drops_the_underscore_line_and_the_from_sent_block() -> None:
    assert latest_reply(OUTLOOK) == "The carrier dropped the pallet; we have claimed the damage."


def test_an_outlook_original_message_separator_starts_the_history() -> None:
    reply = (
        "Fixed in release 2.4.1.\n\n-----Original Message-----\n"
        "From: qmark [mailto:escalations@acme.test]\nSent: 23 November 2026 09:12\n\nOrder 4711."
    )

    assert latest_reply(reply) == "Fixed in release 2.4.1."


def test_an_apple_mail_reply_with_a_quoted_header_keeps_the_text_above() -> None:
    reply = (
        "We shipped a replacement today.\n"
        "> On 23 Nov 2026, at 09:12, qmark <escalations@acme.test> wrote:\n>\n> Order 4711 arrived broken.\n"
    )

    assert latest_reply(reply) == "We shipped a replacement today."


def test_a_german_am_schrieb_header_starts_the_history() -> None:
    reply = (
        "Hallo Anna,\n\nder Fehler lag im Cache, er ist behoben.\n\n"
        "Am Mo., 23. Nov. 2026 um 09:12 Uhr schrieb qmark <escalations@acme.test>:\n"
        "> Bestellung 4711 kam beschädigt an.\n"
    )

    assert latest_reply(reply) == "Hallo Anna,\n\nder Fehler lag im Cache, er ist behoben."


def test_a_german_outlook_von_gesendet_block_starts_the_history() -> None:
    reply = (
        "Die Ursache war ein Konfigurationsfehler.\n\n"
        "Von: qmark <escalations@acme.test>\nGesendet: Montag, 23. November 2026 09:12\n"
        "An: Jordan <jordan@acme.test>\nBetreff: [Q-12] Bestellung 4711\n\nBestellung 4711 kam beschädigt an."
    )

    assert latest_reply(reply) == "Die Ursache war ein Konfigurationsfehler."


def test_a_french_le_a_ecrit_header_starts_the_history() -> None:
    reply = (
        "Bonjour,\n\nle colis a été réexpédié ce matin.\n\n"
        "Le lun. 23 nov. 2026 à 09:12, qmark <escalations@acme.test> a écrit :\n"
        "> La commande 4711 est arrivée cassée.\n"
    )

    assert latest_reply(reply) == "Bonjour,\n\nle colis a été réexpédié ce matin."


def test_a_french_outlook_block_with_spaces_before_the_colons_starts_the_history() -> None:
    reply = (
        "Le transporteur a perdu le colis.\n\n"
        "De : qmark <escalations@acme.test>\nEnvoyé le : lundi 23 novembre 2026 09:12\n"
        "À : Jordan <jordan@acme.test>\nObjet : Commande 4711\n\nLa commande 4711 est arrivée cassée."
    )

    assert latest_reply(reply) == "Le transporteur a perdu le colis."


def test_a_header_wrapped_over_two_lines_is_removed_whole() -> None:
    reply = (
        "Done.\n\nOn Mon, 23 Nov 2026 at 09:12, qmark escalations <\n"
        "escalations@acme.test> wrote:\n\n> Order 4711 arrived broken.\n"
    )

    assert latest_reply(reply) == "Done."


def test_an_attribution_above_a_quote_is_a_header_in_any_language() -> None:
    reply = (
        "Исправлено.\n\n"
        "23.11.2026 09:12 пользователь qmark <escalations@acme.test> написал:\n\n"
        "> Заказ 4711.\n"
    )

    assert latest_reply(reply) == "Исправлено."


def test_a_top_posted_reply_loses_its_dash_dash_signature() -> None:
    reply = (
        "The root cause is a missing index.\n\n-- \nJordan Owner\nHead of Logistics\n\n"
        + GMAIL[GMAIL.index("On") :]
    )

    assert latest_reply(reply) == "The root cause is a missing index."


def test_client_footers_are_signatures() -> None:
    assert latest_reply("Will do.\n\nSent from my iPhone\n\n" + GMAIL[GMAIL.index("On") :]) == "Will do."
    assert latest_reply("Will do.\n\nGet Outlook for iOS<https://aka.ms/o0ukef>") == "Will do."
    assert latest_reply("Erledigt.\n\nVon meinem iPhone gesendet") == "Erledigt."


def test_a_sentence_that_mentions_sent_from_my_is_not_a_footer() -> None:
    reply = "Sent from my desk, the report is attached."

    assert latest_reply(reply) == reply


def test_a_closing_sign_off_and_the_name_card_under_it_are_removed() -> None:
    reply = "The fix ships tomorrow.\n\nBest regards,\nJordan Owner\nHead of Logistics\n+49 30 1234567"

    assert latest_reply(reply) == "The fix ships tomorrow."


def test_a_sign_off_followed_by_more_words_is_kept() -> None:
    reply = "Root cause found.\n\nThanks,\nthe fix ships tomorrow"

    assert latest_reply(reply) == reply


def test_a_reply_that_is_only_a_sign_off_is_kept() -> None:
    assert latest_reply("Thanks!\n\n" + GMAIL[GMAIL.index("On") :]) == "Thanks!"


def test_hyphen_lists_and_indentation_are_kept() -> None:
    reply = "Corrective actions:\n- add the index\n- alert on slow queries\n    - owner: Jordan"

    assert latest_reply(reply) == reply


def test_inline_answers_between_quoted_lines_are_the_owners_words() -> None:
    # Given a reply that answers each quoted question below it
    reply = (
        "On Mon, 23 Nov 2026 at 09:12, qmark <escalations@acme.test> wrote:\n"
        "> What happened?\n"
        "A config push disabled the cache.\n"
        "> What was the impact?\n"
        "\n"
        "Two hours of slow checkouts.\n"
    )

    # Then only the answers remain
    assert latest_reply(reply) == "A config push disabled the cache.\n\nTwo hours of slow checkouts."


def test_a_bottom_posted_reply_keeps_the_text_below_the_quote() -> None:
    reply = "On 23/11/2026 09:12, qmark wrote:\n> Order 4711 arrived broken.\nReplacement shipped."

    assert latest_reply(reply) == "Replacement shipped."


def test_quoted_lines_without_any_header_are_dropped() -> None:
    reply = "I disagree with this:\n\n> it was the carrier's fault\n\nThe label was wrong."

    assert latest_reply(reply) == "I disagree with this:\n\nThe label was wrong."


def test_a_reply_that_is_only_a_quote_is_empty() -> None:
    assert latest_reply(GMAIL[GMAIL.index("On") :]) == ""
    assert latest_reply("> only\n> quoted\n") == ""
    assert latest_reply(OUTLOOK[OUTLOOK.index("____") :]) == ""


def test_a_forwarded_message_marker_starts_the_history() -> None:
    reply = (
        "See below.\n\n---------- Forwarded message ---------\nFrom: Jordan <jordan@shop.example>\n\nBroken."
    )

    assert latest_reply(reply) == "See below."


def test_prose_that_only_looks_like_a_header_is_kept() -> None:
    reply = "On Monday the customer wrote:\nthe app crashes on login.\n\nWe fixed the login today."

    assert latest_reply(reply) == reply


def test_crlf_and_bare_cr_line_endings_give_the_same_result() -> None:
    assert latest_reply(GMAIL.replace("\n", "\r\n")) == latest_reply(GMAIL)
    assert latest_reply(GMAIL.replace("\n", "\r")) == latest_reply(GMAIL)


def test_languages_choose_the_engine_patterns_and_unknown_codes_are_ignored() -> None:
    reply = (
        "Fatto.\n\n"
        "Il giorno lun 23 nov 2026 alle ore 09:12 qmark ha scritto:\n"
        "L'ordine 4711 è arrivato rotto."
    )

    assert latest_reply(reply, languages=("en", "it")) == "Fatto."
    assert latest_reply(reply, languages=("xx",)) == reply


def test_odd_input_gives_text_not_an_exception() -> None:
    assert latest_reply("") == ""
    assert latest_reply("  \n\n  ") == ""
    assert latest_reply(None) == ""  # type: ignore[arg-type]
    assert latest_reply("\x00\ud800 >") == "\x00\ud800 >"


def test_an_internal_failure_falls_back_to_the_stripped_input(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str, languages: tuple[str, ...]) -> str:
        raise RuntimeError("bug")

    monkeypatch.setattr(quotes, "_latest_reply", broken)

    assert latest_reply("  Fixed.\n> quoted\n") == "Fixed.\n> quoted"


def test_the_core_needs_no_fallback_on_scrambled_replies() -> None:
    # The public function hides failures behind its fallback; the core itself must not fail.
    pieces = [
        "On 1 May 2026, a <b@c.d> wrote:", "> ", ">", "-- ", "\n", "\r\n", "\r", " ", "From: a@b.c",
        "Sent: 1 May", "De : x", "________________", "-----Original Message-----", "Thanks,", "John",
        "Sent from my iPhone", "Am 1.2.2026 schrieb x <a@b>:", "\u200b", "\xa0", "<", "(", "@", "1", ":", "é",
    ]  # fmt: skip
    rng = random.Random(4711)
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))

        assert isinstance(quotes._latest_reply(text, quotes.DEFAULT_LANGUAGES), str)


def test_only_the_first_max_chars_characters_are_read() -> None:
    reply = "a" * MAX_CHARS + "\nbeyond the limit"

    assert latest_reply(reply) == "a" * MAX_CHARS


# -- real replies from ../shared/corpora -----------------------------------------------


def test_talon_html_replies_converted_to_text_reduce_to_the_reply(corpora: Path) -> None:
    # talon expects "Hi. I am fine. Thanks, Alex"; qmark also drops the sign-off.
    folder = corpora / "talon" / "tests" / "fixtures" / "html_replies"
    paths = sorted(folder.glob("*.html"))
    assert len(paths) == 9

    for path in paths:
        assert latest_reply(html_to_text(path.read_text())) == "Hi. I am fine.", path.name


def test_crisp_fixtures_that_share_a_first_fragment_all_reduce_to_it(corpora: Path) -> None:
    # Given crisp's fixtures whose first fragment is the same paragraph, quoted in many languages
    folder = corpora / "crisp-email-reply-parser" / "test" / "fixtures"
    texts = [p.read_text(errors="replace") for p in sorted(folder.glob("*.txt"))]
    shared = [t for t in texts if t.startswith("Fusce bibendum")]
    assert len(shared) >= 40

    # Then every one of them gives the same text: that paragraph
    outputs = {latest_reply(t) for t in shared}
    assert len(outputs) == 1
    (paragraph,) = outputs
    assert paragraph.startswith("Fusce bibendum") and paragraph.endswith("nec nec nibh.")
