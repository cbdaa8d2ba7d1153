"""The SMTP edge under idle and slow-drip load, through the real role on a real database and Redis.

Per-peer connection limit (421 4.3.2, closed), idle timeout and session timeout (421 4.4.2, closed),
a per-peer command rate (421 4.7.0, closed), and a normal sender's 250 while 500 idle connections
and a slowloris are open (loosely: the figure itself comes from bench/smtp_edge.py).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support.db import scalar
from tests.support.edge_load import MESSAGE, Slowloris, connect, idle_connections, read_line, timed_send
from tests.support.smtp_role import smtp_role

pytestmark = pytest.mark.integration


@pytest.fixture
def start(database_url, redis_url, tmp_path):
    """Start the SMTP role with extra QMARK_SMTP__* settings; yields its (host, port)."""

    @contextmanager
    def started(**smtp: str) -> Iterator[tuple[str, int]]:
        with smtp_role(database_url, redis_url, tmp_path, **smtp) as app:
            yield app.settings.smtp.host_port

    return started


def test_a_connection_over_the_per_peer_limit_gets_421_and_is_closed(start):
    with start(max_connections_per_peer="3") as (host, port), idle_connections(host, port, 3):
        sock, first = connect(host, port)
        with sock:
            assert first.startswith(b"421 4.3.2 Too many connections")
            assert read_line(sock) == b""  # closed by the server, not left hanging


def test_a_freed_place_admits_the_next_connection(start):
    with start(max_connections_per_peer="2") as (host, port):
        with idle_connections(host, port, 2):
            sock, first = connect(host, port)
            sock.close()
            assert first.startswith(b"421")
        sock, first = connect(host, port)
        with sock:
            assert first.startswith(b"220")


def test_the_process_wide_limit_refuses_with_421(start):
    with (
        start(max_connections="2", max_connections_per_peer="50") as (host, port),
        idle_connections(host, port, 2),
    ):
        sock, first = connect(host, port)
        with sock:
            assert first.startswith(b"421 4.3.2")
            assert read_line(sock) == b""


def test_a_silent_connection_is_closed_with_421_at_the_idle_timeout(start):
    with start(idle_timeout="1s") as (host, port):
        sock, banner = connect(host, port)
        with sock:
            assert banner.startswith(b"220")
            assert read_line(sock).startswith(b"421 4.4.2")
            assert read_line(sock) == b""


def test_a_message_text_arriving_slowly_is_not_idle_and_gets_250(start, database_url):
    # Each line comes inside the 1 s idle timeout, the whole text takes about 3 s: not idle.
    with start(idle_timeout="1s") as (host, port):
        sock, banner = connect(host, port)
        with sock:
            assert banner.startswith(b"220")
            for command in (
                b"EHLO a.example",
                b"MAIL FROM:<dana.chief@acme.test>",
                b"RCPT TO:<escalations@acme.test>",
            ):
                sock.sendall(command + b"\r\n")
                while (line := read_line(sock))[3:4] == b"-":
                    pass
                assert line.startswith(b"250"), line
            sock.sendall(b"DATA\r\n")
            assert read_line(sock).startswith(b"354")
            for line in MESSAGE.splitlines(keepends=True) + [b"more\r\n"] * 6:
                sock.sendall(line)
                time.sleep(0.4)
            sock.sendall(b".\r\n")
            assert read_line(sock).startswith(b"250 2.0.0")
    assert scalar(database_url, "select count(*) from messages") == 1


def test_a_slowloris_is_cut_with_421_at_the_session_timeout(start):
    # Every byte comes well inside the idle timeout, so only the session limit can end it.
    with start(idle_timeout="30s", session_timeout="2s") as (host, port), Slowloris(host, port, 0.2) as slow:
        assert slow.banner.startswith(b"220")
        assert slow.closed_by_server.wait(20)
        assert slow.last.startswith(b"421 4.4.2 Session time limit")


@pytest.fixture
def fds_for_1100_sockets():
    """Room for 500 idle connections' two ends in this process: the soft fd limit raised if lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    assert wanted >= 1100, f"the hard open-file limit ({hard}) is too low for 500 connections; raise it"
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_normal_sender_gets_250_while_500_idle_connections_and_a_slowloris_are_open(
    start, database_url, fds_for_1100_sockets
):
    with (
        start(max_connections="600", max_connections_per_peer="600") as (host, port),
        idle_connections(host, port, 500),
        Slowloris(host, port, 1.0) as slow,
    ):
        assert slow.banner.startswith(b"220")
        seconds = timed_send(host, port)
        assert not slow.closed_by_server.is_set()
    assert seconds < 5  # loose on purpose; bench/smtp_edge.py prints the real figure
    assert scalar(database_url, "select count(*) from messages") == 1


def commands_answered(sock, commands: list[bytes]) -> list[bytes]:
    """Send each command, wait for its (last) reply line; b"" once the server has closed."""
    answers = []
    for command in commands:
        sock.sendall(command + b"\r\n")
        while (line := read_line(sock))[3:4] == b"-":
            pass
        answers.append(line)
    return answers


def test_a_peer_over_max_commands_per_minute_gets_421_and_is_closed_on_every_connection(start):
    with start(max_commands_per_minute="10") as (host, port):
        sock, banner = connect(host, port)
        with sock:
            assert banner.startswith(b"220")
            # Given ten commands within the minute's allowance, each answered
            answers = commands_answered(sock, [b"EHLO a.example"] + [b"NOOP"] * 9)
            assert [line[:3] for line in answers] == [b"250"] * 10
            # When the eleventh comes, the connection is told to slow down and closed
            assert commands_answered(sock, [b"NOOP"]) == [b"421 4.7.0 Too many commands, slow down\r\n"]
            assert read_line(sock) == b""
        # And a new connection from the same address starts with the same empty allowance
        sock, banner = connect(host, port)
        with sock:
            assert banner.startswith(b"220")
            assert commands_answered(sock, [b"NOOP"])[0].startswith(b"421 4.7.0")


def test_max_commands_per_minute_0_lets_a_pipelined_burst_of_500_commands_through(start):
    with start(max_commands_per_minute="0") as (host, port):
        sock, banner = connect(host, port)
        with sock:
            assert banner.startswith(b"220")
            sock.sendall(b"NOOP\r\n" * 500)
            assert [read_line(sock)[:3] for _ in range(500)] == [b"250"] * 500
