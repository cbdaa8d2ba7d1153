"""Action mails carry the mail contract, the [A-n] tag, reach the right person and say how to answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from pipeline.model.mail import Address, OutgoingMail
from pipeline.outbound import actions
from pipeline.outbound.actions import ActionFacts
from tests.support.mailcheck import (
    assert_contract_headers,
    assert_own_message_id,
    assert_reply_to_signed_for,
    body_text,
    parse,
)
from tests.unit.test_chasemails import EXECUTIVE, IDENTITY, MANAGER, OWNER, SECRET, THREAD

LEE = Address("lee.logistics@acme.test", "Lee Logistics")
ACTION = ActionFacts(
    number=3, title="Add an idempotency key to every capture", owner=LEE, due=date(2026, 12, 4)
)
DONE = ActionFacts(3, "Add an idempotency key", LEE, date(2026, 12, 4), "done", "every capture sends one now")
NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)

RENDERERS: dict[str, tuple[Callable[[], OutgoingMail], Address]] = {
    actions.ACTION_REMINDER: (lambda: actions.render_reminder(THREAD, IDENTITY, ACTION), LEE),
    actions.ACTION_OVERDUE: (
        lambda: actions.render_overdue(THREAD, IDENTITY, ACTION, to=MANAGER, level=1, now=NOW),
        MANAGER,
    ),
    actions.ACTION_OVERDUE_NOTICE: (
        lambda: actions.render_overdue_notice(THREAD, IDENTITY, ACTION, chased=[MANAGER]),
        EXECUTIVE,
    ),
    actions.ACTION_DROPPED: (
        lambda: actions.render_dropped(THREAD, IDENTITY, ACTION, by=LEE, reason="The vendor does it now."),
        EXECUTIVE,
    ),
    actions.ACTION_ALL_DONE: (lambda: actions.render_all_done(THREAD, IDENTITY, [DONE]), EXECUTIVE),
    actions.ACTION_DUE_REQUEST: (
        lambda: actions.render_due_request(
            THREAD, IDENTITY, ACTION, to=MANAGER, asked=date(2026, 12, 18), by=LEE
        ),
        MANAGER,
    ),
    actions.ACTION_UPDATE: (
        lambda: actions.render_update(THREAD, IDENTITY, ACTION, to=LEE, outcome="A-3 is done. Thank you."),
        LEE,
    ),
}


@pytest.fixture(params=sorted(RENDERERS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_there_is_a_renderer_for_every_action_mail_kind_and_each_says_its_kind() -> None:
    assert set(RENDERERS) == set(actions.KINDS) and len(actions.KINDS) == 7
    for kind, (render, _) in RENDERERS.items():
        assert render().kind == kind


def test_every_action_mail_has_the_contract_headers_and_a_reply_to_signed_for_its_recipient(
    kind: str,
) -> None:
    render, recipient = RENDERERS[kind]
    mail = render()
    assert_contract_headers(mail, recipient.email)
    assert_own_message_id(mail)
    others = {OWNER.email, EXECUTIVE.email, MANAGER.email, LEE.email} - {recipient.email}
    assert_reply_to_signed_for(mail, SECRET, recipient.email, others)


def test_mails_about_one_action_carry_its_tag_so_a_reply_names_it() -> None:
    for kind in set(actions.KINDS) - {actions.ACTION_ALL_DONE}:
        subject = str(parse(RENDERERS[kind][0]())["Subject"])
        assert subject.startswith("[Q-12] [A-3] "), subject


def test_the_reminder_names_the_due_date_and_the_three_answers() -> None:
    body = body_text(actions.render_reminder(THREAD, IDENTITY, ACTION))
    assert "due on Fri 04 Dec 2026" in body
    for command in ("#done", "#due", "#drop"):
        assert command in body


def test_the_overdue_mail_says_how_late_and_why_this_manager_gets_it() -> None:
    body = body_text(actions.render_overdue(THREAD, IDENTITY, ACTION, to=MANAGER, level=2, now=NOW))
    assert "3 day(s) past its due date" in body
    assert "the manager 2 levels above Lee Logistics" in body


def test_the_executive_hears_an_overdue_action_in_one_line() -> None:
    body = body_text(actions.render_overdue_notice(THREAD, IDENTITY, ACTION, chased=[MANAGER]))
    assert body.strip().count("\n") == 0
    assert "A-3 of Q-12 is overdue" in body and "Lee Lead" in body


def test_the_last_done_action_tells_the_executive_what_was_done() -> None:
    mail = actions.render_all_done(THREAD, IDENTITY, [DONE])
    assert str(parse(mail)["Subject"]).startswith("[Q-12] All actions done (1 of 1)")
    assert "every capture sends one now" in body_text(mail)


def test_a_due_request_gives_the_manager_the_exact_reply_that_agrees() -> None:
    mail = RENDERERS[actions.ACTION_DUE_REQUEST][0]()
    assert "#due A-3 2026-12-18" in body_text(mail)
