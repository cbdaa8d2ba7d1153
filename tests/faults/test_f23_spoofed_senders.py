"""F23: spoofed escalators and repliers change nothing and are held with their reason.

Injected by mail through the real process step (a real database and relay sink) and,
for the spoofed escalator, through `qmark run` as a real process: a forward whose From
is an executive but whose DMARC fails (behind a ``bounce@`` or ``<>`` envelope), an
``Authentication-Results`` header with our authserv-id written by the sender (above and
below our edge's), a forged reply token, a genuine token used by someone who takes no
part, by the owner of another escalation in that escalation's thread, a token signed
with a key since retired, and an owner's reply without authentication.

Invariants: I2 (each is quarantined with the reason in words), I4 and no side effect:
no escalation opens, the escalations' state and events are unchanged, nothing is
mailed to anyone; a spoof shows in ``qmark quarantine list`` and on ``/metrics``.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.conftest import mail_fixture
from tests.e2e.test_run import send
from tests.integration.test_replies import DANA, EXPLANATION, LEE, PAT, make_life, open_q1
from tests.support.db import rows, scalar
from tests.support.life import Life
from tests.support.replies import AUTH, parsed, reply_to
from tests.support.runners import qmark_command, settings_from, spawn, stop, wait_until
from tests.support.servers import wait_for_port

pytestmark = pytest.mark.integration

SPOOF_ENVELOPES = ("bounce@spoof.example", "")  # "" is MAIL FROM:<>
FORGED_PASS = AUTH  # what our edge writes for Dana's real mail, here written by the sender
EDGE_FAIL = "mx.acme.test; dkim=none; spf=fail smtp.mailfrom=acme.test; dmarc=fail header.from=acme.test"
STATE = "select id, state, owner, deadline, explanation, writeup from escalations order by id"


@pytest.fixture
def life(database_url, redis_url, relay_sink, tmp_path) -> Life:
    return make_life(database_url, redis_url, relay_sink, tmp_path)


def metrics(env: dict[str, str]) -> str:
    with urllib.request.urlopen(f"http://{env['QMARK_HTTP__LISTEN']}/metrics", timeout=10) as response:
        return response.read().decode()


@pytest.mark.e2e  # `qmark run` as a real process
def test_f23_a_spoofed_executive_with_a_bounce_or_null_envelope_is_quarantined_and_nobody_is_mailed(
    run_env, database_url, relay_sink, tmp_path
):
    smtp_port = int(run_env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])
    process = spawn("run", run_env, tmp_path / "run.log")
    try:
        wait_for_port(smtp_port, timeout=30)
        # Given Dana's From failing DMARC, once with a bounce@ envelope and once with <>
        for mail_from in SPOOF_ENVELOPES:
            send(smtp_port, mail_fixture("no-dmarc.eml"), mail_from)
        # When the worker has decided both
        done = "select count(*) from messages where state = 'done'"
        wait_until(lambda: scalar(database_url, done) == 2, timeout=30, what="both spoofs processed")
        # Then both are quarantined as possible spoofs, the reason naming the machine look
        listed = "select mail_from, outcome, reason, escalation_id from messages order by id"
        held = rows(database_url, listed)
        assert [(r[0], r[1], r[3]) for r in held] == [
            ("bounce@spoof.example", "quarantined", None),
            ("<>", "quarantined", None),
        ]
        for (_, _, reason, _), machine_look in zip(
            held,
            ("the sender bounce@spoof.example is a mail system address", "the envelope sender is empty (<>)"),
            strict=True,
        ):
            assert reason.startswith("possible spoof: mail claims to be from executive dana.chief@acme.test")
            assert "dmarc=fail" in reason and "by mx.acme.test" in reason
            assert f"held although it looks like machine mail ({machine_look}" in reason
        # And ops see them in the quarantine list and on /metrics, counted as possible spoofs
        listing = qmark_command(run_env, "quarantine", "list", "--json")
        assert listing.returncode == 0, listing.stderr
        items = json.loads(listing.stdout)
        assert [i["reason"] for i in items] == [r[2] for r in held]
        assert {i["sender"] for i in items} == {"Dana Chief <dana.chief@acme.test>"}
        table = qmark_command(run_env, "quarantine", "list").stdout
        assert table.count("possible spoof") == 2
        wait_until(
            lambda: 'qmark_quarantined_total{reason="possible_spoof"} 2.0' in metrics(run_env),
            timeout=30,
            what="the possible_spoof count on /metrics",
        )
        # And nothing was queued or sent about them: no escalation, no outgoing mail
        assert scalar(database_url, "select count(*) from escalations") == 0
        assert scalar(database_url, "select count(*) from outbound_mails") == 0
        assert relay_sink.messages == []
    finally:
        log, lines = stop(process, tmp_path / "run.log")
    outcomes = [line.get("outcome") for line in lines if line["event"] == "message_processed"]
    assert outcomes == ["quarantined", "quarantined"]
    assert "I was charged twice" not in log  # no mail bodies in the logs


def test_f23_a_forged_token_is_quarantined_changes_nothing_and_sends_nothing(life):
    forward, _ = open_q1(life)
    events = life.events()
    forged = reply_to(
        forward, sender=PAT, text=EXPLANATION, to="escalations+q1-aaaaaaaaaaaaaaaabbbbbbbb@acme.test"
    )
    message = life.deliver(forged, rcpts=("escalations+q1-aaaaaaaaaaaaaaaabbbbbbbb@acme.test",))
    outcome, reason = life.outcome(message)
    assert outcome == "quarantined" and "not genuine" in reason
    assert life.new_mail() == [] and life.state() == "awaiting_explanation" and life.events() == events


def test_f23_a_valid_token_from_someone_who_takes_no_part_is_quarantined(life):
    forward, _ = open_q1(life)
    events = life.events()
    stolen = reply_to(forward, sender="eve@acme.test", text=EXPLANATION)
    outcome, reason = life.outcome(life.deliver(stolen))
    assert outcome == "quarantined" and "eve@acme.test takes no part in Q-1" in reason
    assert life.new_mail() == [] and life.state() == "awaiting_explanation" and life.events() == events


def test_f23_an_owner_reply_without_authentication_is_quarantined_as_a_possible_spoof(life):
    forward, _ = open_q1(life)
    spoof = reply_to(forward, sender=PAT, text=EXPLANATION, authenticated=False)
    outcome, reason = life.outcome(life.deliver(spoof))
    assert outcome == "quarantined" and reason.startswith("possible spoof")
    assert life.new_mail() == [] and life.state() == "awaiting_explanation"


# -- an Authentication-Results header with our authserv-id, written by the sender ------------


@pytest.mark.parametrize("where", ["above our edge's header", "among the sender's headers"])
def test_f23_an_executives_forward_with_a_forged_pass_in_our_authserv_id_is_held_as_a_spoof(life, where):
    raw = mail_fixture("no-dmarc.eml")  # our edge says dmarc=fail
    forged = f"Authentication-Results: {FORGED_PASS}\n".encode()
    if where.startswith("above"):
        raw = raw.replace(b"Authentication-Results:", forged + b"Authentication-Results:", 1)
    else:
        raw = raw.replace(b"MIME-Version: 1.0\n", b"MIME-Version: 1.0\n" + forged, 1)
    assert raw.count(b"Authentication-Results: mx.acme.test") == 2
    outcome, reason = life.outcome(life.deliver(raw, mail_from=DANA))
    assert outcome == "quarantined" and reason.startswith("possible spoof"), reason
    assert "headers disagree" in reason and "dmarc=fail" in reason
    assert scalar(life.url, "select count(*) from escalations") == 0
    assert life.new_mail() == []


def test_f23_an_owner_reply_with_a_forged_pass_above_our_edges_fail_changes_nothing(life):
    forward, _ = open_q1(life)
    before, events = rows(life.url, STATE), life.events()
    forged = reply_to(forward, sender=PAT, text=EXPLANATION, headers={"Authentication-Results": EDGE_FAIL})
    above, below = (str(h) for h in parsed(forged).get_all("Authentication-Results"))
    assert "dmarc=pass" in above and "dmarc=fail" in below
    outcome, reason = life.outcome(life.deliver(forged))
    assert outcome == "quarantined" and reason.startswith("possible spoof"), reason
    assert life.new_mail() == [] and rows(life.url, STATE) == before and life.events() == events


# -- genuine tokens out of place -------------------------------------------------------------


def test_f23_a_token_for_one_escalation_sent_in_anothers_thread_by_its_owner_changes_neither(life):
    forward_1, _ = open_q1(life)
    life.deliver(mail_fixture("apple-forward.eml"))
    forward_2 = life.by_recipient(2)[LEE]
    assert scalar(life.url, "select owner from escalations where id = 2") == LEE
    before, events = rows(life.url, STATE), (life.events(1), life.events(2))
    # Lee answers in Q-2's thread (its subject, In-Reply-To), but to Q-1's signed address, issued to Pat
    crossed = reply_to(forward_2, sender=LEE, text=EXPLANATION, to=str(parsed(forward_1)["Reply-To"]))
    message_id = life.deliver(crossed)
    outcome, reason = life.outcome(message_id)
    assert outcome == "quarantined" and f"{LEE} takes no part in Q-1" in reason, reason
    assert life.new_mail() == [] and rows(life.url, STATE) == before
    assert (life.events(1), life.events(2)) == events


def test_f23_a_token_signed_with_a_key_since_retired_is_quarantined_and_changes_nothing(
    life, database_url, relay_sink
):
    from workers.bootstrap import build

    forward, _ = open_q1(life)
    before, events = rows(database_url, STATE), life.events()
    # the key that signed Pat's reply address is replaced (not kept in secret_keys): its tokens are void
    rotated = build(
        settings=settings_from({**life.env, "QMARK_SERVICE__SECRET_KEY": "a-new-key-0123456789abcdef"})
    )
    later = Life(rotated, relay_sink, database_url)
    later.new_mail()  # what the first instance sent is not news
    outcome, reason = later.outcome(later.deliver(reply_to(forward, sender=PAT, text=EXPLANATION)))
    assert outcome == "quarantined" and "not genuine" in reason, reason
    assert later.new_mail() == [] and rows(database_url, STATE) == before and later.events() == events
