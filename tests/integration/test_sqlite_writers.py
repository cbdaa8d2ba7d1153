"""Many SQLite writers at once (F13): every write lands, none fails with "database is locked"."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from sqlalchemy import text

from pipeline.store.db import Database
from tests.support.db import scalar

pytestmark = pytest.mark.integration

WRITER = """
import sys
from sqlalchemy import text
from pipeline.store.db import Database
db = Database(sys.argv[1], durable=False)
for n in range(int(sys.argv[2])):
    with db.transaction() as conn:
        conn.execute(text("insert into escalation_numbers default values"))
"""


def test_threads_and_processes_writing_together_all_commit(sqlite_url):
    # Given two other processes and four threads of this one, all writing as fast as they can
    others = [
        subprocess.Popen([sys.executable, "-c", WRITER, sqlite_url, "150"], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    db = Database(sqlite_url)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(150):
                with db.transaction() as conn:
                    conn.execute(text("insert into escalation_numbers default values"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    # Then every write committed, and nobody saw "database is locked"
    outputs = [process.communicate(timeout=120)[1] for process in others]
    assert [p.returncode for p in others] == [0, 0], outputs
    assert errors == []
    assert scalar(sqlite_url, "select count(*) from escalation_numbers") == 6 * 150
