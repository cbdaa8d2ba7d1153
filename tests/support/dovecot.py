"""A throwaway Dovecot 2.3 IMAP server on 127.0.0.1 for integration tests.

The configuration is the one verified in ecosystem.md §5 (works as root, as on CI, and as a normal user),
plus an ``imaps`` listener with a certificate made for the test by the ``openssl`` CLI (a dependency of
dovecot, so it is there wherever dovecot is). Mail is delivered with IMAP ``APPEND``: no LDA, no LMTP.

Test isolation: every test gets a user of its own, never used before, so its mailbox is empty and
its UIDVALIDITY new. Users live in a passwd-file that Dovecot re-reads when it changes, but it looks at
most once per second (``passwd_file_sync`` compares mtime and size only when ``ioloop_time`` moved on),
so a user appended just now may be refused for up to a second. Hence :meth:`DovecotServer.fresh_user`
hands out users from a pool written in batches (the first before the server starts), waiting for a
login to succeed only when a new batch is appended. Refused logins (that wait, and tests of a wrong
password) are kept short: ``auth_failure_delay = 0`` (Dovecot still answers on its 500 ms failure
timer) and no anvil ``auth-penalty`` socket, which turns off the per-IP penalty (2 s, doubling up to
15 s, for every later login from 127.0.0.1).

``ssl = yes`` serves the imaps port; the plain port then also offers STARTTLS, and plaintext LOGIN is
allowed on it (``disable_plaintext_auth = no``), as a poller configured with ``imap://`` will use it.

As root, the mail files belong to ``nobody`` and the login/auth processes run as the packaged
``dovenull``/``dovecot`` users, so ``directory`` and its parents must be traversable by others
(pytest's ``tmp_path`` is not: it is private to root); the fixture uses ``tempfile.mkdtemp``.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import ssl
import stat
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient
from imapclient.imapclient import SocketTimeout

from tests.support.servers import free_port, require_binary, wait_for_port

PASSWORD = "secret"
USERS = ("alice", "bob")
TIMEOUT = SocketTimeout(connect=5, read=15)
POOL_BATCH = 100

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_OPENSSL_CONFIG = """\
[req]
prompt = no
distinguished_name = dn
x509_extensions = v3
[dn]
CN = qmark test IMAP server
[v3]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def appended_uid(response: bytes) -> int:
    """The UID from an APPEND response: imapclient 4.1 returns the raw ``[APPENDUID v uid] ...`` text."""
    match = _APPENDUID.search(response)
    if match is None:
        raise AssertionError(f"no APPENDUID in the APPEND response {response!r}")
    return int(match.group(2))


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(none)"


class DovecotServer:
    """Dovecot on two free ports of 127.0.0.1: plain IMAP (``port``) and IMAP over TLS (``tls_port``).

    Users ``alice`` and ``bob`` (password ``secret``) exist from the start; :meth:`fresh_user` hands
    out unused ones, :meth:`add_user` adds more while it runs. The helpers each open their own short
    connection, so they never disturb a client under test (nor its selected folder).
    """

    host = "127.0.0.1"

    def __init__(self, directory: Path) -> None:
        self.binary = require_binary("dovecot", "dovecot-imapd")
        self.openssl = require_binary("openssl", "openssl")
        self.directory = directory
        self.port = free_port()
        self.tls_port = free_port()
        while self.tls_port == self.port:
            self.tls_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.config = directory / "dovecot.conf"
        self.passwd = directory / "passwd"
        self.log = directory / "dovecot.log"  # dovecot's own log (log_path)
        self.output = directory / "dovecot.out"  # stdout/stderr of `dovecot -F`: early config errors
        self.ca_file = directory / "tls" / "cert.pem"
        self._lock = threading.Lock()
        if os.geteuid() == 0:  # mail is never accessed as uid 0 (ecosystem.md §5)
            self._uid, self._gid = _nobody()
        else:
            self._uid, self._gid = os.getuid(), os.getgid()
        self._written = False
        self._pool: list[str] = []
        self._serial = itertools.count(1)

    @property
    def url(self) -> str:
        return f"imap://{self.host}:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"imaps://{self.host}:{self.tls_port}"

    def ssl_context(self) -> ssl.SSLContext:
        """A default (verifying) client context that trusts only this server's certificate."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> None:
        if not self._written:
            self._write_files()
            self._written = True
        with self.output.open("ab") as output:
            self.process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.config)], stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        try:
            wait_for_port(self.port, timeout)
            wait_for_port(self.tls_port, max(0.1, deadline - time.monotonic()))
            while True:  # the port opens before auth is ready: wait until a LOGIN goes through
                try:
                    self.client().logout()
                    return
                except Exception:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise
                    time.sleep(0.05)
        except Exception as error:
            code = self.process.poll()
            self.stop()
            raise AssertionError(
                f"dovecot did not start (exit code {code}): {error}\n"
                f"--- {self.log} ---\n{_tail(self.log)}\n--- {self.output} ---\n{_tail(self.output)}"
            ) from error

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # the master stops its children and removes its pid file
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same ports; the mail stays (UIDs and UIDVALIDITY included)."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- users ---------------------------------------------------------------------------------------

    def add_user(self, name: str, password: str = PASSWORD) -> None:
        """Add a user with an empty mailbox; if the server runs, wait until it accepts the login."""
        with self._lock:
            self._append_users([name], password)
        if self.running:
            self._await_login(name, password)

    def fresh_user(self) -> str:
        """The name of a user nobody has used yet (password ``secret``): an empty mailbox."""
        with self._lock:
            if not self._pool:
                batch = [f"t{next(self._serial):04d}" for _ in range(POOL_BATCH)]
                self._append_users(batch, PASSWORD)
                if self.running:
                    self._await_login(batch[0], PASSWORD)
                self._pool.extend(batch)
            return self._pool.pop(0)

    def _append_users(self, names: list[str], password: str) -> None:
        if ":" in password or "\n" in password:
            raise ValueError("a passwd-file password cannot contain ':' or a newline")
        lines = []
        for name in names:
            if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
                raise ValueError(f"unsuitable user name {name!r}")
            home = self.directory / "mail" / name
            lines.append(f"{name}:{{PLAIN}}{password}:{self._uid}:{self._gid}::{home}\n")
        with self.passwd.open("a") as passwd:
            passwd.write("".join(lines))

    def _await_login(self, name: str, password: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client(name, password).logout()
                return
            except IMAPClient.Error:  # LoginError: the passwd-file is not re-read yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    # -- helpers for tests ---------------------------------------------------------------------------

    def client(self, user: str = "alice", password: str = PASSWORD) -> IMAPClient:
        """A logged-in client on the plain port, with socket timeouts (as the poller must use)."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=TIMEOUT)
        try:
            client.login(user, password)
        except BaseException:
            client.shutdown()
            raise
        return client

    def tls_client(self, user: str = "alice", password: str = PASSWORD) -> IMAPClient:
        """A logged-in client on the imaps port, verifying the certificate against ``ca_file``."""
        client = IMAPClient(
            self.host, port=self.tls_port, ssl=True, ssl_context=self.ssl_context(), timeout=TIMEOUT
        )
        try:
            client.login(user, password)
        except BaseException:
            client.shutdown()
            raise
        return client

    @contextmanager
    def session(self, user: str = "alice", password: str = PASSWORD) -> Iterator[IMAPClient]:
        client = self.client(user, password)
        try:
            yield client
        finally:
            try:
                client.logout()
            except (OSError, IMAPClient.Error):
                client.shutdown()

    def append(
        self,
        raw: bytes,
        folder: str = "INBOX",
        flags: Iterable[bytes | str] = (),
        user: str = "alice",
        password: str = PASSWORD,
    ) -> int:
        """APPEND ``raw`` (sent as is: give CRLF line ends) and return its UID."""
        with self.session(user, password) as client:
            return appended_uid(client.append(folder, raw, flags=tuple(flags)))

    def create_folder(self, name: str, user: str = "alice", password: str = PASSWORD) -> None:
        with self.session(user, password) as client:
            client.create_folder(name)

    def delete_folder(self, name: str, user: str = "alice", password: str = PASSWORD) -> None:
        with self.session(user, password) as client:
            client.delete_folder(name)

    def uidvalidity(self, folder: str = "INBOX", user: str = "alice", password: str = PASSWORD) -> int:
        with self.session(user, password) as client:
            return int(client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def uids(self, folder: str = "INBOX", user: str = "alice", password: str = PASSWORD) -> list[int]:
        with self.session(user, password) as client:
            client.select_folder(folder, readonly=True)
            return sorted(client.search(["ALL"]))

    def flags(
        self, folder: str = "INBOX", user: str = "alice", password: str = PASSWORD
    ) -> dict[int, set[bytes]]:
        """UID -> flags, without ``\\Recent`` (session-dependent, not something a test should assert)."""
        with self.session(user, password) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            if not uids:
                return {}
            fetched = client.fetch(uids, ["FLAGS"])
            return {uid: set(data[b"FLAGS"]) - {b"\\Recent"} for uid, data in fetched.items()}

    def message(
        self, uid: int, folder: str = "INBOX", user: str = "alice", password: str = PASSWORD
    ) -> bytes:
        """The raw bytes of one message, read without setting ``\\Seen``."""
        with self.session(user, password) as client:
            client.select_folder(folder, readonly=True)
            return bytes(client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"])

    # -- files -----------------------------------------------------------------------------------------

    def _write_files(self) -> None:
        d = self.directory
        for sub in ("run", "state", "mail", "tls"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            _check_traversable(d)
            d.chmod(0o755)  # mkdtemp makes it 0700; dovenull/dovecot/nobody must get in
            shutil.chown(d / "mail", self._uid, self._gid)
            users = ""
        else:
            import grp
            import pwd

            users = (
                f"default_internal_user = {pwd.getpwuid(os.getuid()).pw_name}\n"
                f"default_internal_group = {grp.getgrgid(os.getgid()).gr_name}\n"
                f"default_login_user = {pwd.getpwuid(os.getuid()).pw_name}\n"
            )
        self.passwd.write_text("")
        self.passwd.chmod(0o644)
        self._append_users(list(USERS), PASSWORD)
        self._pool = [f"t{next(self._serial):04d}" for _ in range(POOL_BATCH)]
        self._append_users(self._pool, PASSWORD)
        self._make_certificate()
        self.config.write_text(
            f"""\
protocols = imap
listen = {self.host}
base_dir = {d}/run
state_dir = {d}/state
log_path = {self.log}
ssl = yes
ssl_cert = <{self.ca_file}
ssl_key = <{d}/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
{users}first_valid_uid = {self._uid}
last_valid_uid = {self._uid}
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.passwd}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""
        )

    def _make_certificate(self) -> None:
        """A self-signed certificate for 127.0.0.1 and localhost, valid two days; it is its own CA."""
        tls = self.directory / "tls"
        (tls / "openssl.cnf").write_text(_OPENSSL_CONFIG)
        result = subprocess.run(
            [
                self.openssl,
                "req",
                "-x509",
                "-config",
                str(tls / "openssl.cnf"),
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-keyout",
                str(tls / "key.pem"),
                "-out",
                str(self.ca_file),
            ],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"openssl could not make a test certificate: {result.stderr.decode()}")


def _nobody() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def _check_traversable(directory: Path) -> None:
    for parent in directory.resolve().parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise AssertionError(
                f"{parent} is not traversable by others, so dovecot's unprivileged processes cannot reach "
                f"{directory}: use a directory from tempfile.mkdtemp(), not pytest's tmp_path"
            )


@dataclass(frozen=True)
class ImapMailbox:
    """One test's own IMAP account on the session's Dovecot: a fresh user with an empty mailbox."""

    server: DovecotServer
    username: str
    password: str

    @classmethod
    def fresh(cls, server: DovecotServer) -> ImapMailbox:
        return cls(server, server.fresh_user(), PASSWORD)

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def tls_port(self) -> int:
        return self.server.tls_port

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def tls_url(self) -> str:
        return self.server.tls_url

    @property
    def ca_file(self) -> Path:
        return self.server.ca_file

    def env(self, tls: bool = False, folder: str = "INBOX") -> dict[str, str]:
        """``QMARK_IMAP__*`` variables pointing qmark at this mailbox.

        With ``tls=True`` it also sets ``SSL_CERT_FILE``, which a default SSL context honours, so a
        verifying client trusts the test certificate.
        """
        env = {
            "QMARK_IMAP__URL": self.tls_url if tls else self.url,
            "QMARK_IMAP__USERNAME": self.username,
            "QMARK_IMAP__PASSWORD": self.password,
            "QMARK_IMAP__FOLDER": folder,
        }
        if tls:
            env["SSL_CERT_FILE"] = str(self.ca_file)
        return env

    def client(self) -> IMAPClient:
        return self.server.client(self.username, self.password)

    def tls_client(self) -> IMAPClient:
        return self.server.tls_client(self.username, self.password)

    def session(self) -> AbstractContextManager[IMAPClient]:
        return self.server.session(self.username, self.password)

    def append(self, raw: bytes, folder: str = "INBOX", flags: Iterable[bytes | str] = ()) -> int:
        return self.server.append(raw, folder, flags, self.username, self.password)

    def create_folder(self, name: str) -> None:
        self.server.create_folder(name, self.username, self.password)

    def delete_folder(self, name: str) -> None:
        self.server.delete_folder(name, self.username, self.password)

    def uidvalidity(self, folder: str = "INBOX") -> int:
        return self.server.uidvalidity(folder, self.username, self.password)

    def uids(self, folder: str = "INBOX") -> list[int]:
        return self.server.uids(folder, self.username, self.password)

    def flags(self, folder: str = "INBOX") -> dict[int, set[bytes]]:
        return self.server.flags(folder, self.username, self.password)

    def message(self, uid: int, folder: str = "INBOX") -> bytes:
        return self.server.message(uid, folder, self.username, self.password)
