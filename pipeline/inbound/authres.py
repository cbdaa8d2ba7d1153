"""Read Authentication-Results headers (RFC 8601) and decide whether a sender is authenticated.

``From:`` proves nothing. A sender counts as authenticated only when a header
from an authserv-id we trust (our own edge MTA) says DMARC passed for the From
domain, or DKIM passed with a signing domain aligned to it. Headers from other
authserv-ids are ignored: anyone can write one.

Our edge should strip headers carrying its authserv-id from incoming mail; when it
does not, a sender can write one of its own. So each trusted header is judged on
its own, and when one passes while another trusted header has a dmarc or aligned
dkim verdict that does not pass, the sender is not authenticated: a header that
contradicts our edge was not written by it (whichever of the two sits above).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=\s*([A-Za-z0-9_-]+)(.*)$", re.S)
_PROPERTY = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)")


@dataclass(frozen=True)
class AuthResult:
    """One ``method=result`` clause with its properties (``header.from`` -> ``acme.test``)."""

    authserv_id: str
    method: str
    result: str
    properties: dict[str, str]


def parse_header(value: str) -> list[AuthResult]:
    """All results in one Authentication-Results value; malformed clauses are skipped."""
    text = value
    for _ in range(5):  # comments may nest a little; more is not worth honouring
        text = _COMMENT.sub(" ", text)
    head, _, rest = text.partition(";")
    parts = head.split()
    if not parts:
        return []
    authserv_id = parts[0].lower()
    results: list[AuthResult] = []
    for clause in rest.split(";"):
        match = _RESULT.match(clause)
        if match is None:
            continue
        method, result, tail = match.groups()
        props = {
            f"{ptype.lower()}.{name.lower()}": val.strip('"').lower()
            for ptype, name, val in _PROPERTY.findall(tail)
        }
        results.append(AuthResult(authserv_id, method.lower(), result.lower(), props))
    return results


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: equal, or one is a subdomain of the other."""
    domain, from_domain = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    return domain == from_domain or from_domain.endswith("." + domain) or domain.endswith("." + from_domain)


@dataclass(frozen=True)
class SenderCheck:
    """Whether the sender is authenticated, and why in words."""

    authenticated: bool
    reason: str


def verify_sender(headers: Iterable[str], from_email: str, trusted: Iterable[str]) -> SenderCheck:
    """Check ``from_email`` against the Authentication-Results ``headers`` from ``trusted`` ids.

    Within one header, a DMARC result, when the trusted MTA gave one, decides;
    without one, a DKIM pass whose signing domain is aligned with the From domain
    counts. Across headers, one that does not pass outweighs one that does.
    """
    from_domain = from_email.rpartition("@")[2].lower()
    per_header = _trusted_headers(headers, trusted)
    if not per_header:
        return SenderCheck(False, "no Authentication-Results header from a trusted authserv-id")
    return _combined(per_header, from_domain)


def _trusted_headers(headers: Iterable[str], trusted: Iterable[str]) -> list[list[AuthResult]]:
    """The results of each header, keeping only those from a trusted authserv-id; empty headers dropped."""
    trusted_ids = {t.lower() for t in trusted}
    per_header = [[r for r in parse_header(value) if r.authserv_id in trusted_ids] for value in headers]
    return [results for results in per_header if results]


def _combined(per_header: list[list[AuthResult]], from_domain: str) -> SenderCheck:
    """The headers' verdicts together: one that does not pass outweighs one that does."""
    passes: list[SenderCheck] = []
    fails: list[SenderCheck] = []
    for results in per_header:
        verdict = _header_verdict(results, from_domain)
        if verdict is not None:
            (passes if verdict.authenticated else fails).append(verdict)
    if passes and fails:
        return _disagreeing(passes[0], fails[0], from_domain)
    if passes or fails:
        return (passes or fails)[0]
    return _not_passed([r for header in per_header for r in header], from_domain)


def _disagreeing(passed: SenderCheck, failed: SenderCheck, from_domain: str) -> SenderCheck:
    return SenderCheck(
        False,
        f"trusted Authentication-Results headers disagree for {from_domain}: one says "
        f"{passed.reason}, another {failed.reason.partition(' (')[2].rstrip(')')}"
        " (one of them was not written by our edge)",
    )


def _header_verdict(results: list[AuthResult], from_domain: str) -> SenderCheck | None:
    """One trusted header's verdict; None when it says nothing about DMARC or the From's DKIM."""
    dmarc = [r for r in results if r.method == "dmarc"]
    passed = _dmarc_pass(dmarc, from_domain) if dmarc else _aligned_dkim_pass(results, from_domain)
    if passed is not None:
        return passed
    relevant = dmarc or [
        r
        for r in results
        if r.method == "dkim" and _aligned(r.properties.get("header.d", from_domain), from_domain)
    ]
    return _not_passed(results, from_domain) if relevant else None


def _not_passed(results: list[AuthResult], from_domain: str) -> SenderCheck:
    seen = ", ".join(f"{r.method}={r.result}" for r in results if r.method in {"dmarc", "dkim"})
    by = ", ".join(sorted({r.authserv_id for r in results}))
    return SenderCheck(
        False, f"authentication did not pass for {from_domain} ({seen or 'no dmarc or dkim result'}, by {by})"
    )


def _dmarc_pass(dmarc: list[AuthResult], from_domain: str) -> SenderCheck | None:
    """The first dmarc=pass for the From domain (its header.from aligned, or absent)."""
    for r in dmarc:
        if r.result == "pass" and _aligned(r.properties.get("header.from", from_domain), from_domain):
            return SenderCheck(True, f"dmarc=pass for {from_domain} from {r.authserv_id}")
    return None


def _aligned_dkim_pass(results: list[AuthResult], from_domain: str) -> SenderCheck | None:
    """The first dkim=pass whose signing domain (header.d) is aligned with the From domain."""
    for r in results:
        domain = r.properties.get("header.d", "")
        if r.method == "dkim" and r.result == "pass" and domain and _aligned(domain, from_domain):
            return SenderCheck(True, f"dkim=pass aligned with {from_domain} from {r.authserv_id}")
    return None
