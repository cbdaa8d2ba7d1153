"""Owner and executive replies through the real process and send steps, a real relay sink and SQLite.

Each test opens Q-1 from a real executive forward, then replies the way people
and their mail systems do. The clock is the only thing the test controls.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta

import pytest

from pipeline.steps.process import process_message
from pipeline.steps.send import deliver_mails
from tests.conftest import ROOT, mail_fixture
from tests.support.db import rows, scalar
from tests.support.life import Life
from tests.support.replies import THIN_IMPACT, WRITEUP, body_of, parsed, reply_address, reply_to
from tests.support.rules import acme_rules
from tests.support.runners import qmark_env, settings_from

pytestmark = pytest.mark.integration

PAT, DANA, SAM, LEE = (
    "pat.owner@acme.test",
    "dana.chief@acme.test",
    "sam.manager@acme.test",
    "lee.logistics@acme.test",
)
EXPLANATION = (
    "The second charge came from a retry in the payment gateway after a timeout on 23 November. "
    "We refunded it this morning and are adding an idempotency key to every capture."
)


def make_life(database_url, redis_url, relay_sink, tmp_path, policy: str = "close_when_complete") -> Life:
    from workers.bootstrap import build

    rules = acme_rules(tmp_path / "rules", policy=policy)
    env = qmark_env(
        database_url=database_url,
        redis_url=redis_url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
        QMARK_RULES__PATH=str(rules),
    )
    life = Life(build(settings=settings_from(env)), relay_sink, database_url)
    life.env = env
    return life


@pytest.fixture
def life(database_url, redis_url, relay_sink, tmp_path) -> Life:
    return make_life(database_url, redis_url, relay_sink, tmp_path)


def open_q1(life: Life) -> tuple[bytes, bytes]:
    """Dana forwards a billing complaint with "?": (Pat's forward, Dana's acknowledgement)."""
    life.deliver(mail_fixture("gmail-forward.eml"))
    by_rcpt = life.by_recipient(2)
    return by_rcpt[PAT], by_rcpt[DANA]


def deadline(life: Life) -> str:
    return str(scalar(life.url, "select deadline from escalations where id = 1"))


def explained(life: Life) -> bytes:
    forward, _ = open_q1(life)
    life.deliver(reply_to(forward, sender=PAT, name="Pat Owner", text=EXPLANATION))
    life.one_to(DANA)
    return forward


# -- the whole life --------------------------------------------------------------------------


def test_a_whole_life_by_email_under_close_when_complete(life):
    forward, _ = open_q1(life)
    first_deadline = deadline(life)

    # An acknowledgement is recorded but is no explanation: no mail, no state change, clock running
    life.tick(minutes=10)
    ack = life.deliver(reply_to(forward, sender=PAT, text="Looking into it, will get back to you."))
    assert life.new_mail() == []
    assert life.state() == "awaiting_explanation" and deadline(life) == first_deadline
    assert life.outcome(ack)[0] == "reply" and "acknowledgement" in life.outcome(ack)[1]

    # The explanation goes to the executive
    life.tick(minutes=30)
    life.deliver(reply_to(forward, sender=PAT, name="Pat Owner", text=EXPLANATION))
    relayed = life.one_to(DANA)
    assert parsed(relayed)["Subject"].startswith("[Q-1] Pat Owner")
    assert "idempotency key to every capture" in body_of(relayed)
    assert life.state() == "awaiting_root_cause" and deadline(life) != first_deadline

    # #close without a writeup: the owner hears exactly what is missing; still open
    life.deliver(reply_to(forward, sender=PAT, text="#close"))
    lacking = body_of(life.one_to(PAT))
    for title in (
        "What happened",
        "Impact",
        "Root cause (five whys)",
        "Corrective actions",
        "Preventive actions",
    ):
        assert f"- {title}: missing" in lacking
    assert life.state() == "awaiting_root_cause"

    # A writeup with one thin section: that section, and only it, is named
    life.deliver(reply_to(forward, sender=PAT, text=THIN_IMPACT))
    thin = body_of(life.one_to(PAT))
    assert "- Impact: too thin (2 of 5 words)" in thin
    assert "What happened:" not in thin.split("## ")[0] and thin.count("- ") >= 1
    assert "- What happened" not in thin and "- Root cause" not in thin
    assert life.state() == "awaiting_root_cause"

    # The complete writeup closes it; the executive gets the summary, the owner a confirmation
    life.deliver(reply_to(forward, sender=PAT, text=WRITEUP))
    by_rcpt = life.by_recipient(2)
    summary = body_of(by_rcpt[DANA])
    assert parsed(by_rcpt[DANA])["Subject"].startswith("[Q-1] Closed")
    assert "Captures carried no idempotency key" in summary and "Forty customers" in summary
    assert "idempotency key to every capture" in summary  # the explanation too
    assert life.state() == "closed"

    # The executive's "?" reopens it: a new deadline, the owner told
    life.tick(days=2)
    life.deliver(reply_to(by_rcpt[DANA], sender=DANA, text="?\n\nIt happened again today."))
    reopened = body_of(life.one_to(PAT))
    assert "It happened again today." in reopened
    assert life.state() == "awaiting_explanation" and deadline(life) > first_deadline
    assert life.events()[-3:] == ["reopened", "mail_queued", "mail_sent"]


def test_a_whole_life_by_email_under_executive_approves(database_url, redis_url, relay_sink, tmp_path):
    life = make_life(database_url, redis_url, relay_sink, tmp_path, policy="executive_approves")
    forward = explained(life)

    # A complete writeup goes to the executive for approval; nothing closes yet
    life.deliver(reply_to(forward, sender=PAT, text=WRITEUP))
    request = life.one_to(DANA)
    assert "approve" in body_of(request) and "Captures carried no idempotency key" in body_of(request)
    assert life.state() == "awaiting_approval"

    # "?" with a note sends it back to the owner
    life.deliver(reply_to(request, sender=DANA, text="? Why did monitoring not catch it?"))
    sent_back = life.one_to(PAT)
    assert "Why did monitoring not catch it?" in body_of(sent_back)
    assert life.state() == "awaiting_root_cause"

    # The owner sends the writeup again; the executive approves with a thumbs-up
    life.deliver(
        reply_to(
            sent_back,
            sender=PAT,
            text=WRITEUP + "- An alert on duplicate captures, owner: me, due: in 3 weeks\n",
        )
    )
    request = life.one_to(DANA)
    life.deliver(reply_to(request, sender=DANA, text="👍"))
    by_rcpt = life.by_recipient(2)
    assert set(by_rcpt) == {DANA, PAT}
    assert life.state() == "closed"
    assert "approval_requested" in life.events() and "sent_back" in life.events()


# -- who may answer --------------------------------------------------------------------------


def test_the_owners_manager_may_explain_and_a_subject_tag_alone_finds_the_escalation(life):
    forward, _ = open_q1(life)
    # Sam writes a fresh mail to the intake address, only the tag ties it
    reply = reply_to(forward, sender=SAM, text=EXPLANATION, to="escalations@acme.test")
    reply = reply.replace(b"In-Reply-To:", b"X-Was-In-Reply-To:").replace(
        b"References:", b"X-Was-References:"
    )
    life.deliver(reply, rcpts=("escalations@acme.test",))
    life.one_to(DANA)
    assert life.state() == "awaiting_root_cause"
    [(actor,)] = rows(life.url, "select actor from events where kind = 'explained'")
    assert actor == SAM


def test_a_reply_to_a_closed_escalation_that_is_not_a_question_mark_is_recorded_and_changes_nothing(life):
    forward = explained(life)
    life.deliver(reply_to(forward, sender=PAT, text=WRITEUP))
    summary = life.by_recipient(2)[DANA]
    from_dana = life.deliver(reply_to(summary, sender=DANA, text="Thanks, good work."))
    from_pat = life.deliver(reply_to(forward, sender=PAT, text="One more detail: the refunds all went out."))
    assert life.new_mail() == [] and life.state() == "closed"
    assert "not '?'" in life.outcome(from_dana)[1]
    assert life.outcome(from_pat)[0] == "reply"
    assert life.events().count("note_after_close") == 2


# -- commands --------------------------------------------------------------------------------


def test_an_unknown_command_gets_one_helpful_reply_listing_the_valid_ones(life):
    forward, _ = open_q1(life)
    life.deliver(reply_to(forward, sender=PAT, text="#clsoe"))
    help_text = body_of(life.one_to(PAT))
    assert "#clsoe" in help_text
    for usage in ("#close", "#reassign", "#need-more-time"):
        assert usage in help_text
    assert life.state() == "awaiting_explanation"


def test_reassign_hands_the_escalation_to_someone_in_people_yaml_and_tells_the_executive(life):
    forward, _ = open_q1(life)
    life.deliver(
        reply_to(forward, sender=PAT, text="#reassign lee.logistics@acme.test\nLee owns shipping refunds.")
    )
    by_rcpt = life.by_recipient(2)
    assert set(by_rcpt) == {LEE, DANA}
    assert parsed(by_rcpt[LEE])["Subject"].startswith("[Q-1] ?")
    assert reply_address(by_rcpt[LEE]) != reply_address(forward)  # signed for Lee
    assert scalar(life.url, "select owner from escalations") == LEE
    # Lee may now explain; Pat is no longer the owner, but the token Pat holds was issued to Pat
    life.deliver(reply_to(by_rcpt[LEE], sender=LEE, text=EXPLANATION))
    life.one_to(DANA)
    assert life.state() == "awaiting_root_cause"


def test_reassign_to_someone_not_in_people_yaml_is_refused_with_help(life):
    forward, _ = open_q1(life)
    life.deliver(reply_to(forward, sender=PAT, text="#reassign nobody@elsewhere.test"))
    assert "not listed under people" in body_of(life.one_to(PAT))
    assert scalar(life.url, "select owner from escalations") == PAT


def test_need_more_time_moves_the_deadline_once_and_tells_the_executive(life):
    forward, _ = open_q1(life)
    before = deadline(life)
    life.deliver(reply_to(forward, sender=PAT, text="#need-more-time 2h the gateway vendor is checking logs"))
    notice = body_of(life.one_to(DANA))
    assert "the gateway vendor is checking logs" in notice
    assert deadline(life) > before
    after = deadline(life)
    life.deliver(reply_to(forward, sender=PAT, text="#need-more-time 4h still waiting"))
    assert "already" in body_of(life.one_to(PAT))
    assert deadline(life) == after


def test_need_more_time_without_a_reason_is_refused(life):
    forward, _ = open_q1(life)
    before = deadline(life)
    life.deliver(reply_to(forward, sender=PAT, text="#need-more-time 2h"))
    assert "reason" in body_of(life.one_to(PAT))
    assert deadline(life) == before


# -- the gate --------------------------------------------------------------------------------


def cli(life: Life, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args],
        env={**os.environ, **life.env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ops_can_close_from_the_cli_with_a_complete_writeup_and_both_sides_are_told(life, tmp_path):
    explained(life)
    writeup = tmp_path / "writeup.txt"
    writeup.write_text(WRITEUP)
    done = cli(life, "escalations", "close", "Q-1", "--writeup", str(writeup), "--by", "ops@acme.test")
    assert done.returncode == 0, done.stderr
    assert life.state() == "closed"
    # The CLI runs on the real clock, this test's worker on a fixed one: the CLI only queues
    # (pending), so the send job claims its mails whichever clock is ahead.
    queued = rows(life.url, "select id, kind, state from outbound_mails where kind like 'clos%' order by id")
    assert [(kind, state) for _, kind, state in queued] == [
        ("closing_summary", "pending"),
        ("closed_confirmation", "pending"),
    ]
    deliver_mails(life.svc, life.app.transport(), [mail_id for mail_id, _, _ in queued])
    by_rcpt = life.by_recipient(2)
    assert "Captures carried no idempotency key" in body_of(by_rcpt[DANA])
    assert set(by_rcpt) == {DANA, PAT}
    # The audit trail: every transition and every mail, one line each
    history = cli(life, "escalations", "show", "Q-1").stdout
    kinds = [line.split()[2] for line in history.split("history:\n")[1].splitlines()]
    assert kinds[:1] == ["opened"] and kinds.count("mail_sent") == 5
    for kind in ("explained", "writeup_received", "closed", "mail_queued"):
        assert kind in kinds
    assert all(len(line) < 300 for line in history.splitlines()), history


def test_mails_an_ops_close_queues_are_sent_by_a_worker_whose_clock_is_behind(life):
    from pipeline.steps.close import close_with_writeup

    # Given Q-1 explained, and ops closing it on a clock two weeks ahead of the worker's
    explained(life)
    ahead = replace(life.svc, clock=lambda: life.now + timedelta(days=14))
    closed = close_with_writeup(ahead, number=1, text=WRITEUP, actor="ops@acme.test")
    # When the worker runs the send job on its own clock
    deliver_mails(life.svc, life.app.transport(), closed.mail_ids)
    # Then both closing mails went out, the same two an email close sends
    by_rcpt = {m.rcpt_tos[0]: parsed(m.data) for m in life.new_mail(2)}
    assert set(by_rcpt) == {DANA, PAT}
    assert by_rcpt[DANA]["Subject"].startswith("[Q-1] Closed:") and by_rcpt[PAT]["Subject"].startswith(
        "[Q-1] Closed:"
    )
    assert life.state() == "closed"
    assert scalar(life.url, "select chase_at from escalations where id = 1") is None


def test_no_path_closes_without_a_complete_writeup(life, tmp_path):
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import IntegrityError

    from workers.ticks import sweep

    forward = explained(life)
    # Email: #close and a thin writeup leave it open
    close = life.deliver(reply_to(forward, sender=PAT, text="#close"))
    thin = life.deliver(reply_to(forward, sender=PAT, text=THIN_IMPACT))
    assert life.state() == "awaiting_root_cause"
    # Replay: the same messages processed again (a job run twice) change nothing
    for message_id in (close, thin):
        assert process_message(life.svc, message_id) == []
    life.tick(hours=1)
    # Sweeper: repairs lost jobs, never decides
    sweep.sweep(life.svc, life.app.graph, older_than=timedelta(0))
    assert life.state() == "awaiting_root_cause"
    # CLI: ops closing with a thin writeup are refused, with what is missing
    thin_file = tmp_path / "thin.txt"
    thin_file.write_text(THIN_IMPACT)
    refused = cli(life, "escalations", "close", "Q-1", "--writeup", str(thin_file), "--by", "ops@acme.test")
    assert refused.returncode == 65 and "Impact: too thin" in refused.stderr
    assert life.state() == "awaiting_root_cause"
    # The database itself refuses a closed row without a root cause
    engine = create_engine(life.url)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("update escalations set state = 'closed' where id = 1"))
    engine.dispose()
    assert life.state() == "awaiting_root_cause"


def test_the_owner_filling_in_the_template_qmark_sent_closes_it(life):
    forward = explained(life)
    texts = {
        "What happened": "A gateway retry after a timeout captured forty payments a second time.",
        "Impact": "Forty customers were charged twice on one day.",
        "Root cause (five whys)": "Captures had no idempotency key: the client library predates them.",
        "Why wasn't it caught earlier?": "No test ran a capture into a gateway timeout.",
        "Corrective actions": "- Refund every second charge and mail an apology, owner: me, due: in 2 days",
        "Preventive actions": "- Idempotency keys on every capture — owner: me — due in 2 weeks",
    }
    template = (
        body_of(forward).split("---- Root-cause writeup (fill in and reply) ----")[1].split("---- End")[0]
    )
    filled = template
    for title, text in texts.items():
        assert f"## {title}" in template
        filled = filled.replace(f"## {title}\n", f"## {title}\n{text}\n")
    life.deliver(reply_to(forward, sender=PAT, text=filled))
    by_rcpt = life.by_recipient(2)
    assert set(by_rcpt) == {DANA, PAT} and life.state() == "closed"
