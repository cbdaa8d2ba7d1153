"""Dead letters from a test: build an app, store a fixture and ring the queue, list what ops would see."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pipeline.model.mail import Envelope
from pipeline.steps.services import utcnow
from tests.conftest import mail_fixture
from tests.support.runners import settings_from


def build(env: dict[str, str]) -> Any:
    from workers.bootstrap import build as build_app

    return build_app(settings=settings_from(env))


def store(app: Any, name: str) -> int:
    """Store a fixture like `qmark inject` does and ring the process queue."""
    from workers.roles.group_commit import store_one

    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "inject")
    message_id = store_one(app.services.db, mail_fixture(name), envelope)
    app.graph.enqueue_process([message_id])
    return message_id


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")  # structlog's console lines (worker threads)


def printed(capsys: pytest.CaptureFixture[str]) -> str:
    """What the command printed, without the log lines the worker thread wrote meanwhile."""
    return "\n".join(line for line in capsys.readouterr().out.splitlines() if not LOG_LINE.match(line))


def listed(capsys: pytest.CaptureFixture[str], settings: Any) -> list[dict[str, Any]]:
    """The dead letters as `qmark dead-letters list --json` prints them."""
    from workers.cli import dead_letters as deadletters

    capsys.readouterr()
    assert deadletters.list_command(settings, as_json=True) == 0
    return list(json.loads(printed(capsys)))
