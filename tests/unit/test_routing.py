"""Choosing a complaint's owner and deadline, with reasons (rules/routing.py)."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from types import MappingProxyType

import pytest

from rules.durations import parse_duration
from rules.loader import load_rules
from rules.routing import (
    PREDICATES,
    Complaint,
    choose_route,
    customer_domain_matches,
    customer_matches,
    route_matches,
    subject_matches,
    text_matches,
)
from rules.schema import Route, RouteMatch, Rules

ACME = Path(__file__).resolve().parents[2] / "rules" / "examples" / "acme"


@pytest.fixture(scope="module")
def acme() -> Rules:
    return load_rules(ACME)


def complaint(
    subject: str = "Unhappy", body: str = "Please help.", customer: str = "jo@shop.example"
) -> Complaint:
    return Complaint(subject=subject, body=body, customer=customer)


def test_a_billing_complaint_goes_to_the_billing_owner(acme: Rules) -> None:
    decision = choose_route(acme, complaint(body="My last invoice is wrong."))
    assert decision.route == "billing"
    assert decision.owner.email == "pat.owner@acme.test"
    assert decision.deadline.seconds == 4 * 3600
    [reason] = decision.reasons
    assert reason.startswith(r"text /(?i)\b(invoice|billing|") and reason.endswith('/ matched "invoice"')


def test_the_first_matching_route_wins(acme: Rules) -> None:
    # Given a key-account customer complaining about a refund (billing matches too)
    decision = choose_route(acme, complaint(body="Where is my refund?", customer="Jo@EU.BigCustomer.example"))
    # Then key-account, listed first, wins
    assert (decision.route, decision.owner.email) == ("key-account", "alex.vp@acme.test")
    assert decision.deadline.seconds == 2 * 3600
    assert decision.reasons == (
        r'customer_domain /(?i)(^|\.)bigcustomer\.example$/ matched ".bigcustomer.example"',
    )


def test_a_route_can_give_a_business_hours_deadline(acme: Rules) -> None:
    decision = choose_route(acme, complaint(subject="Parcel never arrived"))
    assert (decision.route, decision.owner.email) == ("shipping", "lee.logistics@acme.test")
    assert decision.deadline == parse_duration("8 business hours")


def test_without_a_match_the_defaults_decide(acme: Rules) -> None:
    decision = choose_route(acme, complaint(subject="Rude staff", body="Nobody called me back."))
    assert (decision.route, decision.owner.email) == ("defaults", "robin.support@acme.test")
    assert decision.deadline == acme.defaults.deadline
    assert decision.reasons == ("no route matched",)


def test_a_person_addressed_directly_owns_it_over_any_route(acme: Rules) -> None:
    # Given the executive sent a billing complaint straight to Lee, with qmark in Cc
    addressed = ["escalations@acme.test", "LEE.Logistics@acme.test", "pat.owner@acme.test"]
    decision = choose_route(acme, complaint(body="invoice"), addressed)
    # Then the first addressed person in people owns it, with the default deadline
    assert (decision.route, decision.owner.email) == ("addressed", "lee.logistics@acme.test")
    assert decision.deadline == acme.defaults.deadline
    assert decision.reasons == (
        "Lee Logistics <lee.logistics@acme.test> was addressed directly (To/Cc) and owns it",
    )


def test_addressed_executives_and_strangers_do_not_own_it(acme: Rules) -> None:
    decision = choose_route(acme, complaint(body="invoice"), ["dana.chief@acme.test", "x@elsewhere.example"])
    assert decision.route == "billing"


def test_every_condition_of_a_route_must_hold(acme: Rules) -> None:
    # Given a route that needs both a subject and a customer domain
    both = RouteMatch(subject=re.compile("(?i)outage"), customer_domain=re.compile(r"^shop\.example$"))
    route = Route("outage", both, "sam.manager@acme.test", parse_duration("1h"), 1)
    rules = Rules(
        acme.directory,
        acme.executives,
        MappingProxyType(dict(acme.people)),
        acme.defaults,
        (route,),
        acme.rca,
    )
    # When only one of them holds, the route does not match
    assert choose_route(rules, complaint(subject="Outage!", customer="jo@other.example")).route == "defaults"
    assert choose_route(rules, complaint(subject="Delay", customer="jo@shop.example")).route == "defaults"
    # And when both hold, it does, with a reason for each
    decision = choose_route(rules, complaint(subject="Outage!", customer="jo@shop.example"))
    assert decision.route == "outage"
    assert decision.reasons == (
        r'customer_domain /^shop\.example$/ matched "shop.example"',
        'subject /(?i)outage/ matched "Outage"',
    )


def test_a_failed_condition_says_why() -> None:
    matched, reasons = route_matches(RouteMatch(text=re.compile("refund")), complaint())
    assert not matched
    assert reasons == ("text /refund/ did not match the subject or body",)


def test_customer_conditions_fail_without_an_original_sender() -> None:
    pattern = re.compile(".*")
    assert customer_matches(pattern, complaint(customer="")) == (
        False,
        "customer: the complaint has no original sender",
    )
    assert customer_domain_matches(pattern, complaint(customer=""))[0] is False


def test_the_customer_condition_searches_the_whole_address() -> None:
    assert customer_matches(re.compile(r"^vip\."), complaint(customer="VIP.jo@shop.example")) == (
        True,
        r'customer /^vip\./ matched "vip."',
    )


def test_the_subject_condition_ignores_the_body() -> None:
    pattern = re.compile("refund")
    assert not subject_matches(pattern, complaint(subject="Hello", body="refund"))[0]
    assert text_matches(pattern, complaint(subject="Hello", body="refund"))[0]


def test_long_matches_are_shortened_in_the_reason() -> None:
    matched, reason = text_matches(re.compile(r"x+"), complaint(body="x" * 500))
    assert matched and len(reason) < 90 and reason.endswith('…"')


def test_every_match_key_has_exactly_one_predicate() -> None:
    assert sorted(key for key, _predicate in PREDICATES) == sorted(f.name for f in fields(RouteMatch))
