"""deploy/prometheus/alerts.yml: complete rules, on metrics qmark exports, each with its runbook."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.support.servers import require_binary
from workers.ops.metrics.specs import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
README = ROOT / "README.md"
METRIC = re.compile(r"\b(?:qmark|dramatiq)_[a-z0-9_]+\b")
DURATION = re.compile(r"^\d+[smhd]$")


def rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def operating_anchors() -> set[str]:
    text = README.read_text()
    section = text.split("\n## Operating qmark\n", 1)[1].split("\n## ", 1)[0]
    return {slug(line.lstrip("#")) for line in section.splitlines() if line.startswith("#")}


def test_every_alert_is_complete():
    found = rules()
    assert len(found) >= 5
    names = [rule["alert"] for rule in found]
    assert len(names) == len(set(names))
    for rule in found:
        assert rule["expr"].strip(), rule["alert"]
        assert DURATION.match(str(rule["for"])), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["runbook"].startswith("README.md#"), rule["alert"]


def test_the_issue_s_alerts_are_there():
    expressions = {rule["alert"]: rule["expr"] for rule in rules()}
    assert 'qmark_queue_messages{state="dead"}' in expressions["QmarkDeadLetters"]
    assert "qmark_oldest_unprocessed_message_seconds" in expressions["QmarkQueueBacklog"]
    assert 'role="scheduler"' in expressions["QmarkSchedulerStalled"]
    assert "qmark_escalation_oldest_overdue_seconds" in expressions["QmarkEscalationsOverdue"]
    assert "qmark_mails_failed_total" in expressions["QmarkDeliveryFailures"]


def test_every_metric_an_alert_uses_is_one_qmark_exports():
    for rule in rules():
        used = set(METRIC.findall(rule["expr"]))
        assert used or rule["expr"].startswith('up{job="qmark"}'), f"{rule['alert']} uses no qmark metric"
        assert used <= METRIC_NAMES, (rule["alert"], used - METRIC_NAMES)


def test_every_runbook_link_leads_to_a_section_of_operating_qmark():
    anchors = operating_anchors()
    for rule in rules():
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert anchor in anchors, f"{rule['alert']}: README has no heading for #{anchor}"


def test_the_readme_lists_every_metric():
    text = README.read_text().split("\n## Operating qmark\n", 1)[1].split("\n## ", 1)[0]
    for name in METRIC_NAMES:
        family = (
            re.sub(r"_(bucket|sum|count)$", "", name) if name.startswith("dramatiq_message_dur") else name
        )
        assert family in text, f"README's Operating qmark does not mention {family}"


def test_promtool_accepts_the_rules():
    # `make test` installs it (Debian's prometheus package); without it this fails, never skips.
    promtool = require_binary("promtool", "prometheus")
    checked = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout
