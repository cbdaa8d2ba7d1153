"""Authentication-Results parsing and the sender verdict."""

from pipeline.inbound.authres import parse_header, verify_sender

TRUSTED = ["mx.acme.test"]


def test_a_dmarc_pass_from_our_mx_authenticates_the_sender():
    header = (
        "mx.acme.test; dkim=pass header.d=acme.test; spf=pass smtp.mailfrom=acme.test; "
        "dmarc=pass header.from=acme.test"
    )
    verdict = verify_sender([header], "dana.chief@acme.test", TRUSTED)
    assert verdict.authenticated
    assert "dmarc=pass" in verdict.reason


def test_a_header_from_an_untrusted_authserv_id_is_ignored():
    header = "evil.example; dmarc=pass header.from=acme.test"
    verdict = verify_sender([header], "dana.chief@acme.test", TRUSTED)
    assert not verdict.authenticated
    assert "no Authentication-Results header from a trusted authserv-id" in verdict.reason


def test_dmarc_fail_is_reported_with_the_result():
    header = "mx.acme.test; dmarc=fail (p=reject) header.from=acme.test"
    verdict = verify_sender([header], "dana.chief@acme.test", TRUSTED)
    assert not verdict.authenticated
    assert "dmarc=fail" in verdict.reason


def test_dmarc_pass_for_another_domain_does_not_count():
    header = "mx.acme.test; dmarc=pass header.from=evil.example"
    assert not verify_sender([header], "dana.chief@acme.test", TRUSTED).authenticated


def test_aligned_dkim_counts_when_there_is_no_dmarc_result():
    header = "mx.acme.test; dkim=pass header.d=mail.acme.test header.s=sel"
    assert verify_sender([header], "dana.chief@acme.test", TRUSTED).authenticated


def test_unaligned_dkim_does_not_count():
    header = "mx.acme.test; dkim=pass header.d=mailer.example"
    assert not verify_sender([header], "dana.chief@acme.test", TRUSTED).authenticated


def test_comments_and_versions_are_tolerated():
    results = parse_header("MX.acme.test 1; (checked) dmarc=pass (policy ok) header.from=acme.test; spf=none")
    assert [(r.authserv_id, r.method, r.result) for r in results] == [
        ("mx.acme.test", "dmarc", "pass"),
        ("mx.acme.test", "spf", "none"),
    ]
    assert results[0].properties == {"header.from": "acme.test"}


def test_garbage_yields_no_results():
    assert parse_header("") == []
    assert parse_header(";;;") == []


EDGE_FAIL = "mx.acme.test; dkim=none (message not signed); spf=fail smtp.mailfrom=acme.test; dmarc=fail"
FORGED_PASS = "mx.acme.test; dkim=pass header.d=acme.test; dmarc=pass header.from=acme.test"


def test_a_forged_pass_with_our_authserv_id_does_not_outvote_our_edges_fail_above_or_below_it():
    for headers in ([FORGED_PASS, EDGE_FAIL], [EDGE_FAIL, FORGED_PASS]):
        verdict = verify_sender(headers, "dana.chief@acme.test", TRUSTED)

        assert not verdict.authenticated
        assert verdict.reason.startswith("trusted Authentication-Results headers disagree for acme.test")
        assert "dmarc=fail" in verdict.reason


def test_a_forged_dmarc_pass_beside_an_edge_that_saw_no_signature_does_not_count():
    verdict = verify_sender(
        ["mx.acme.test; dkim=none; spf=none", FORGED_PASS], "dana.chief@acme.test", TRUSTED
    )

    assert not verdict.authenticated


def test_separate_dkim_and_dmarc_headers_from_our_edge_both_passing_authenticate():
    headers = ["mx.acme.test; dkim=pass header.d=acme.test", "mx.acme.test; dmarc=pass header.from=acme.test"]

    assert verify_sender(headers, "dana.chief@acme.test", TRUSTED).authenticated
