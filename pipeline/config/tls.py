"""The SMTP intake's TLS: a server context from ``[smtp] tls_cert``/``tls_key``, checked at start-up.

Loading the pair while the settings are validated means a missing, unreadable or
mismatched file stops qmark with the file, the line and the fix, before any listener starts.
"""

from __future__ import annotations

import ssl


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """A TLS server context (TLS 1.2 or newer) holding ``cert`` and its ``key``; OSError/SSLError if not."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=cert, keyfile=key)
    return context


def pair_problem(cert: str, key: str) -> str | None:
    """Why ``cert`` and ``key`` cannot serve TLS, in words; None when they can."""
    for path in (cert, key):
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            return f"cannot read {path}: {error.strerror or error}"
    try:
        server_context(cert, key)
    except (ssl.SSLError, OSError) as error:
        return f"{cert} and {key} are not a PEM certificate and its private key ({error})"
    return None
