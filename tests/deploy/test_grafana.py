"""deploy/grafana/qmark.json and deploy/prometheus/alerts.yml query only metrics qmark exports.

The exported names come from a real scrape: `qmark run` (two SMTP listeners, a worker, the
scheduler, the IMAP poller on a real Dovecot, `qmark http`) on real Redis and SQLite, with mail
sent over SMTP, one recipient refused, and the owner's forwards delivered to the relay sink.
Every PromQL expression also goes through promtool's parser (as recording rules).
"""

from __future__ import annotations

import json
import re
import smtplib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from pipeline.outbound.transport import crlf
from tests.conftest import mail_fixture
from tests.support.deploy import DEPLOY, run
from tests.support.runners import qmark_env, spawn, stop, wait_until
from tests.support.servers import require_binary, wait_for_port
from tests.support.sink import RelaySink
from workers.ops.metrics.specs import METRIC_NAMES

pytestmark = pytest.mark.integration

DASHBOARD = DEPLOY / "grafana" / "qmark.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
NAME = re.compile(r"\b(?:qmark|dramatiq)_[a-z0-9_]+\b")
SUFFIX = re.compile(r"_(?:bucket|sum|count|total|created)$")
# Counted only when something went wrong, so a healthy run's scrape cannot show them; they are
# still in qmark's catalogue of metrics (checked below).
ONLY_AFTER_FAILURES = {"dramatiq_message_errors", "dramatiq_message_retries", "dramatiq_message_rejects"}
# Left out until there is something to compute: a quantile needs explained (or closed)
# escalations, the share within deadline a decided one. A fresh installation has neither.
NEED_HISTORY = {
    "qmark_time_to_explanation_seconds",
    "qmark_time_to_root_cause_seconds",
    "qmark_explanation_within_deadline_ratio",
}


def family(name: str) -> str:
    """The family a sample name belongs to: without _bucket, _sum, _count, _total."""
    return SUFFIX.sub("", name)


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def alert_exprs() -> list[str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def families_used(exprs: list[str]) -> set[str]:
    return {family(name) for expr in exprs for name in NAME.findall(expr)}


def scrape(port: int) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {family(sample.name) for found in text_string_to_metric_families(text) for sample in found.samples}


def send(port: int, rcpts: tuple[str, ...]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("dana.chief@acme.test", list(rcpts), crlf(mail_fixture("gmail-forward.eml")))


@pytest.fixture(scope="module")
def exported(tmp_path_factory, redis_server, dovecot) -> Iterator[set[str]]:
    """Every metric family in a real /metrics scrape of `qmark run` after real traffic."""
    with RelaySink() as sink:
        yield scraped_after_traffic(tmp_path_factory.mktemp("grafana"), redis_server, dovecot, sink)


def scraped_after_traffic(workdir: Path, redis_server, dovecot, sink: RelaySink) -> set[str]:
    from pipeline.store.migrate import upgrade
    from tests.support.dovecot import ImapMailbox

    database_url = f"sqlite:///{workdir / 'qmark.db'}"
    upgrade(database_url)
    env = qmark_env(
        database_url=database_url,
        redis_url=redis_server.url,
        outbound_url=f"smtp://127.0.0.1:{sink.port}",
        QMARK_WORKER__PROCESSES="1",
        QMARK_IMAP__STARTTLS="false",
        **ImapMailbox.fresh(dovecot).env(),
    )
    smtp_port = int(env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])
    http_port = int(env["QMARK_HTTP__LISTEN"].rsplit(":", 1)[1])
    process = spawn("run", env, workdir / "run.log")
    try:
        wait_for_port(smtp_port, timeout=30)
        wait_for_port(http_port, timeout=30)
        send(smtp_port, ("escalations@acme.test",))
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            send(smtp_port, ("nobody@acme.test",))
        # The forward delivered: the escalation is open before the first scrape computes the
        # honest statistics (kept for a while after).
        sink.wait_for(2, timeout=30)  # the owner's forward and the executive's acknowledgement
        wanted = {"dramatiq_messages", "dramatiq_message_duration_milliseconds", "qmark_imap_lag_seconds"}
        wait_until(lambda: wanted <= scrape(http_port), timeout=30, what=f"{wanted} in /metrics")
        return scrape(http_port)
    finally:
        stop(process, workdir / "run.log")


def test_every_metric_the_dashboard_queries_is_in_a_real_scrape(exported):
    used = families_used(dashboard_exprs())
    assert len(used) >= 20
    scraped_later = ONLY_AFTER_FAILURES | NEED_HISTORY
    assert used - scraped_later <= exported, sorted(used - scraped_later - exported)
    catalogue = {family(name) for name in METRIC_NAMES}
    assert used <= catalogue, sorted(used - catalogue)


def test_every_metric_the_alerts_query_is_in_a_real_scrape(exported):
    used = families_used(alert_exprs())
    assert used <= exported, sorted(used - exported)


def test_the_dashboard_shows_queues_backlog_escalations_statistics_and_mail_failures():
    used = families_used(dashboard_exprs())
    assert {
        "qmark_queue_messages",
        "qmark_oldest_unprocessed_message_seconds",
        "qmark_escalations",
        "qmark_escalations_overdue",
        "qmark_time_to_explanation_seconds",
        "qmark_explanation_within_deadline_ratio",
        "qmark_mails_failed",
    } <= used


def test_promtool_parses_every_dashboard_expression(tmp_path):
    promtool = require_binary("promtool", "prometheus")
    exprs = dashboard_exprs()
    rules = {
        "groups": [
            {"name": "dashboard", "rules": [{"record": f"panel:{i}", "expr": e} for i, e in enumerate(exprs)]}
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    checked = run(promtool, "check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in checked.stdout


def test_promtool_refuses_a_broken_expression(tmp_path):
    promtool = require_binary("promtool", "prometheus")
    path = tmp_path / "broken.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "x",
                        "rules": [{"record": "a:b", "expr": "sum by (queue (qmark_queue_messages)"}],
                    }
                ]
            }
        )
    )
    assert run(promtool, "check", "rules", str(path)).returncode != 0


def test_every_panel_has_a_unique_id_a_place_and_a_datasource_variable():
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]
    [variable] = dashboard["templating"]["list"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
