"""F6: the IMAP folder is deleted and recreated, so its UIDVALIDITY changes and the UIDs restart.

Injected on a real Dovecot: three messages are ingested from a folder, the folder is deleted
and recreated with the same three plus one new message (new UIDVALIDITY, UIDs from 1 again).
The poller sees the new UIDVALIDITY, rescans the whole folder, and the byte-for-byte dedupe
(and Message-ID + sender for other copies) keeps one message each.

Asserts I1 (each message stored once) and I3's basis (one escalation per message, no duplicate
escalations after the full resync).
"""

from __future__ import annotations

import pytest

from tests.support.db import scalar
from tests.support.faults_queue import billing, build, imap_env, poller, process_all, round_

pytestmark = pytest.mark.integration


@pytest.fixture
def env(database_url, redis_url, imap_mailbox, tmp_path):
    return imap_env(database_url, redis_url, imap_mailbox, tmp_path)


def test_f6_a_recreated_folder_with_a_new_uidvalidity_gives_no_duplicate_escalations(
    env, imap_mailbox, database_url
):
    app = build(env.copy(), QMARK_IMAP__FOLDER="Escalations")
    imap_mailbox.create_folder("Escalations")
    for n in range(3):
        imap_mailbox.append(billing(n), folder="Escalations")
    assert round_(poller(app)) == 3
    before = imap_mailbox.uidvalidity("Escalations")
    # The folder is deleted and recreated (a migration, a restore): the same mail is back, and one new
    imap_mailbox.delete_folder("Escalations")
    imap_mailbox.create_folder("Escalations")
    for n in range(4):
        imap_mailbox.append(billing(n), folder="Escalations")
    assert imap_mailbox.uidvalidity("Escalations") != before
    assert round_(poller(app)) == 1
    assert process_all(app) == ["escalation"] * 4
    assert scalar(database_url, "select count(*) from escalations") == 4
