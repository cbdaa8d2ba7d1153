"""Repeat complaints, the pure part: the complaint text (pipeline.model.related), free mail
(rules.freemail), matching and the recurrence rule (pipeline.decide.related), the "Seen before"
block and the fix-did-not-hold mail (pipeline.outbound.related, opening)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.decide.related import MOST, SIMILARITY, pick, similarity
from pipeline.model.mail import Address
from pipeline.model.related import Candidate, Probe, SeenBefore, complaint_key, domain_of
from pipeline.outbound.related import render_fix_did_not_hold, seen_before, seen_line
from pipeline.outbound.thread import Thread
from rules.freemail import is_free_mail
from tests.support.replies import body_of, parsed
from tests.unit.test_outbound import FACTS, IDENTITY

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CHARGED = (
    "Charged twice for invoice 4411",
    "I was charged twice for invoice 4411. Please refund the duplicate.",
)

# (subject, body) pairs on one route: the same complaint in other words, and different complaints.
SAME = [
    (
        CHARGED,
        (
            "Charged twice again",
            "You charged my card twice again for invoice 5120, please refund the second charge.",
        ),
    ),
    (
        ("Refund not received", "I returned the blender three weeks ago and still have no refund."),
        (
            "Still waiting for my refund",
            "I sent the blender back weeks ago and the refund has not arrived yet.",
        ),
    ),
]
DIFFERENT = [
    (CHARGED, ("Invoice address wrong", "The invoice shows my old address, please correct the invoice.")),
    (
        ("Parcel never arrived", "my parcel never arrived. Order 6120 was marked as delivered"),
        ("Order arrived damaged", "order 5120 arrived today and the box was crushed"),
    ),
    (
        ("Refund not received", "I returned the blender three weeks ago and still have no refund."),
        ("Charged twice", "I was charged twice, please refund."),
    ),
]  # fmt: skip


def probe(customer: str = "jordan@shop.example", route: str = "billing", text=CHARGED) -> Probe:
    return Probe.of(customer=customer, route=route, subject=text[0], body=text[1])


def earlier(number: int, customer: str, route: str = "billing", text=("Something else entirely", "")):
    """Escalation ``number`` (the higher, the newer)."""
    return Candidate(number, customer, domain_of(customer), route, complaint_key(*text))


# The complaint text ---------------------------------------------------------------------------------


def test_the_complaint_text_drops_prefixes_quotes_numbers_greetings_and_stop_words():
    key = complaint_key(
        "Fwd: RE: Charged twice for invoice 4411", "Hello,\n> old quote\nI was charged 2x!\nRegards"
    )
    assert key == "charged twice invoice charged"


def test_the_complaint_text_is_cut_at_a_word_within_two_hundred_characters():
    key = complaint_key("Overcharged", "refund " * 100 + "blender")
    assert len(key) <= 200 and key.endswith("refund") and "blender" not in key


def test_a_customer_domain_is_the_lower_case_part_after_the_at_sign():
    assert domain_of("Jordan@Shop.Example") == "shop.example"
    assert domain_of("") == "" and domain_of("no-at-sign") == ""


@pytest.mark.parametrize("domain", ["gmail.com", "GMX.de", "mail.yahoo.com", "orange.fr", "proton.me"])
def test_free_mail_domains_are_known_with_their_subdomains(domain):
    assert is_free_mail(domain)


@pytest.mark.parametrize("domain", ["shop.example", "bigcustomer.example", "com", "gmail.com.evil.example"])
def test_company_domains_are_not_free_mail(domain):
    assert not is_free_mail(domain)


def test_a_probe_from_free_mail_carries_no_domain_to_match():
    assert probe("someone@gmail.com").domain is None
    assert probe("jordan@shop.example").domain == "shop.example"


# Similar text: the threshold on the test pairs --------------------------------------------------------


@pytest.mark.parametrize(("one", "other"), SAME)
def test_the_same_complaint_in_other_words_reaches_the_threshold(one, other):
    assert similarity(complaint_key(*one), complaint_key(*other)) >= SIMILARITY


@pytest.mark.parametrize(("one", "other"), DIFFERENT)
def test_different_complaints_on_one_route_stay_below_the_threshold(one, other):
    assert similarity(complaint_key(*one), complaint_key(*other)) < SIMILARITY


def test_one_shared_word_is_not_similar_even_when_one_text_is_a_subset():
    assert similarity("invoice", "invoice wrong address correct") == 0


# Matching -------------------------------------------------------------------------------------------


def test_the_same_customer_ranks_before_the_same_domain_and_a_similar_text_last():
    found = [
        earlier(1, "casey@other.example", text=("Charged twice again", "You charged me twice for invoice 9")),
        earlier(2, "taylor@shop.example", route="shipping"),
        earlier(3, "jordan@shop.example", route="shipping"),
    ]
    result = pick(probe(), found, {})
    assert [m.number for m in result.matches] == [3, 2, 1]
    assert [m.why for m in result.matches][:2] == ["same customer", "same domain"]
    assert result.matches[2].why.startswith("same route and similar text ")
    assert result.recurred_after is None


def test_a_free_mail_customer_matches_the_same_address_but_not_the_rest_of_the_provider():
    found = [
        earlier(1, "jordan@gmail.com", route="shipping"),
        earlier(2, "someone@gmail.com", route="shipping"),
    ]
    result = pick(probe("jordan@gmail.com"), found, {})
    assert [(m.number, m.why) for m in result.matches] == [(1, "same customer")]


def test_an_unrelated_complaint_on_another_route_from_another_customer_matches_nothing():
    assert pick(probe(), [earlier(1, "sam@else.example", route="shipping", text=CHARGED)], {}).matches == ()


def test_at_most_three_are_shown_newest_first_among_equals():
    found = [earlier(n, "jordan@shop.example", route="shipping") for n in range(1, 7)]
    result = pick(probe(), found, {})
    assert len(result.matches) == MOST == 3
    assert [m.number for m in result.matches] == [6, 5, 4]


def test_a_candidate_found_twice_is_shown_once_with_every_reason():
    twice = earlier(4, "jordan@shop.example", text=CHARGED)
    result = pick(probe(), [twice, twice], {})
    assert [(m.number, m.why) for m in result.matches] == [
        (4, "same customer; same route and similar text 100%")
    ]


# The recurrence rule --------------------------------------------------------------------------------


def test_same_route_and_customer_with_every_action_done_is_a_recurrence_and_shown_first():
    found = [
        earlier(1, "jordan@shop.example"),
        earlier(2, "jordan@shop.example", route="shipping"),
    ]
    result = pick(probe(), found, {1: (2, 2)})
    assert result.recurred_after == 1
    assert result.matches[0].number == 1


def test_the_same_domain_counts_for_a_recurrence_too():
    assert pick(probe(), [earlier(1, "taylor@shop.example")], {1: (1, 1)}).recurred_after == 1


@pytest.mark.parametrize(
    ("progress", "route", "customer"),
    [
        ({1: (1, 2)}, "billing", "jordan@shop.example"),  # an action still open
        ({}, "billing", "jordan@shop.example"),  # no actions at all
        ({1: (0, 0)}, "billing", "jordan@shop.example"),  # every action dropped
        ({1: (2, 2)}, "shipping", "jordan@shop.example"),  # another route
        ({1: (2, 2)}, "billing", "casey@other.example"),  # only the text is alike
    ],
)
def test_no_recurrence_without_every_action_done_on_the_same_route_and_customer_or_domain(
    progress, route, customer
):
    candidate = earlier(1, customer, route=route, text=CHARGED)
    assert pick(probe(), [candidate], progress).recurred_after is None


def test_of_two_fixes_that_did_not_hold_the_newer_is_named():
    found = [earlier(1, "jordan@shop.example"), earlier(2, "jordan@shop.example")]
    assert pick(probe(), found, {1: (1, 1), 2: (3, 3)}).recurred_after == 2


# What the mails show --------------------------------------------------------------------------------

CLOSED = SeenBefore(
    ref="Q-12",
    state="closed",
    closed_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
    owner_name="Pat",
    root_cause="The retry job re-submits settled payments. It never checked the ledger first.",
    actions=(2, 2),
    why="same customer",
)


def test_a_closed_earlier_escalation_is_one_line_with_its_root_cause_and_actions():
    assert seen_line(CLOSED) == (
        'Q-12 (closed 2026-11-20, owner Pat): root cause "The retry job re-submits settled payments."; '
        "actions 2 of 2 done — same customer"
    )


def test_an_open_one_shows_its_state_and_no_actions_when_it_has_none():
    item = SeenBefore("Q-3", "awaiting_root_cause", None, "Lee", "", None, "same domain")
    assert seen_line(item) == "Q-3 (awaiting root cause, owner Lee): no root cause yet — same domain"


def test_a_long_root_cause_is_cut_to_about_eighty_characters():
    item = SeenBefore("Q-4", "closed", NOW, "Pat", "word " * 60, None, "same customer")
    cause = seen_line(item).split('"')[1]
    assert len(cause) <= 80 and cause.endswith("…")


def test_the_owner_forward_and_the_ack_carry_the_block_only_when_something_was_seen():
    from dataclasses import replace

    from pipeline.outbound.opening import render_executive_ack, render_owner_forward

    seen = replace(FACTS, seen_before=(CLOSED,))
    for render in (render_owner_forward, render_executive_ack):
        assert "Seen before:\n- Q-12 (closed 2026-11-20" in body_of(render(seen, IDENTITY).raw)
        assert "Seen before" not in body_of(render(FACTS, IDENTITY).raw)
    assert seen_before(()) == ""


def test_the_earlier_owner_hears_their_fix_did_not_hold_in_the_earlier_thread():
    thread = Thread(
        12,
        "Charged twice",
        Address("dana.chief@acme.test", "Dana"),
        Address("pat.owner@acme.test", "Pat"),
        "Europe/Berlin",
    )
    mail = render_fix_did_not_hold(
        thread, IDENTITY, earlier=CLOSED, later_ref="Q-31", later_owner=Address("lee@acme.test", "Lee"),
        customer="jordan@shop.example", complaint_subject="Charged twice again",
    )  # fmt: skip
    assert mail.recipient == "pat.owner@acme.test"
    assert str(parsed(mail.raw)["Subject"]).startswith("[Q-12] Fix did not hold, Q-31 came back")
    body = body_of(mail.raw)
    assert body.startswith("Q-12's fix did not hold: Q-31 is the same complaint (same customer).")
    assert "re-submits settled payments" in body and "Lee <lee@acme.test>" in body


def test_a_five_whys_root_cause_shows_its_first_question_with_the_answer():
    from pipeline.outbound.related import root_cause_line

    text = "Why charged twice? The capture was retried. Why retried? The gateway timed out."
    assert root_cause_line(text) == "Why charged twice? The capture was retried."
