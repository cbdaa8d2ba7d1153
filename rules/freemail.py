"""Free-mail domains: a customer's domain that says nothing about which customer it is.

Two complaints from ``@gmail.com`` are not from the same customer, so the repeat-complaint
lookup (``pipeline.store.related``, ``pipeline.decide.related``) never matches on these
domains; the same address still matches. Data, not code: extend the set when a provider
is missing. Subdomains count too (``mail.yahoo.com`` is ``yahoo.com``).
"""

from __future__ import annotations

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        # international
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com",
        "msn.com", "yahoo.com", "yahoo.co.uk", "ymail.com", "icloud.com", "me.com", "mac.com",
        "aol.com", "mail.com", "gmx.com", "zoho.com", "proton.me", "protonmail.com", "pm.me",
        "tutanota.com", "fastmail.com", "hey.com",
        # German-speaking
        "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "web.de", "t-online.de", "freenet.de",
        "posteo.de", "mailbox.org", "arcor.de", "bluewin.ch",
        # French
        "orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr", "neuf.fr", "yahoo.fr",
        "hotmail.fr",
        # elsewhere in Europe
        "libero.it", "virgilio.it", "tiscali.it", "seznam.cz", "wp.pl", "o2.pl", "interia.pl",
        "yandex.ru", "yandex.com", "mail.ru", "rambler.ru", "ukr.net",
        # elsewhere
        "qq.com", "163.com", "126.com", "naver.com", "rediffmail.com",
    }
)  # fmt: skip


def is_free_mail(domain: str) -> bool:
    """Whether ``domain`` (or a domain it is under) is a free-mail provider's."""
    labels = domain.strip().lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in FREE_MAIL_DOMAINS for i in range(max(0, len(labels) - 1)))
