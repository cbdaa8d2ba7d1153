"""The Maildir transport (``[outbound] url = maildir:PATH``): each mail a file in ``new/``, written once.

For ``make run`` and for sites that read qmark's mail with a local MUA or an MDA.
"""

from __future__ import annotations

import hashlib
import mailbox
import os
import threading
from pathlib import Path

from pipeline.model.mail import OutgoingMail
from pipeline.outbound.delivery import LINE_BREAK, DeliveryError, check_envelope


class MaildirTransport:
    """Delivers into a Maildir (created if missing), one file in ``new/`` per mail, LF line endings.

    Idempotent by Message-ID: a mail's file name is derived from its Message-ID and recipient,
    so a resend (a worker killed after writing, before recording it as sent) finds the file
    in ``new/`` or ``cur/`` and writes nothing more. A Maildir reader never sees a mail twice.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            mailbox.Maildir(path, factory=None, create=True)
        except OSError as exc:
            raise ValueError(f"cannot create Maildir {path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"MaildirTransport({str(self.path)!r})"

    def send(self, mail: OutgoingMail) -> None:
        """Store ``mail`` with a ``Delivered-To`` line on top; written to tmp/, then linked into new/."""
        check_envelope(mail)
        data = b"Delivered-To: " + mail.recipient.encode("ascii") + b"\n" + LINE_BREAK.sub(b"\n", mail.raw)
        name = maildir_name(mail)
        try:
            if self._delivered(name):
                return
            temporary = self.path / "tmp" / f"{name}.{os.getpid()}.{threading.get_ident()}"
            with temporary.open("wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, self.path / "new" / name)  # never replaces: the first copy stays
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        except OSError as exc:
            raise DeliveryError(f"cannot write to Maildir {self.path}: {exc}", permanent=False) from exc

    def _delivered(self, name: str) -> bool:
        """The file is in new/, or a reader moved it to cur/ (``name:2,<flags>``)."""
        if (self.path / "new" / name).exists():
            return True
        return any(self.path.joinpath("cur").glob(f"{name}:*")) or (self.path / "cur" / name).exists()

    def close(self) -> None:
        """Nothing to release; present for the Transport protocol."""


def maildir_name(mail: OutgoingMail) -> str:
    """The Maildir file name of ``mail``: the same for every send of one Message-ID to one recipient."""
    digest = hashlib.sha256(f"{mail.message_id}\0{mail.recipient}".encode()).hexdigest()[:32]
    return f"qmark-{digest}"
