"""HTML bodies become readable lines of text (pipeline.inbound.html)."""

from __future__ import annotations

import pytest

from pipeline.inbound.html import MAX_HTML, RULE, html_to_text


def test_scripts_styles_and_the_head_are_not_text() -> None:
    html = (
        "<html><head><title>Mail</title><style>p {color: red}</style></head>"
        "<body><script>alert('x')</script><p>Hello</p><noscript>enable js</noscript></body></html>"
    )

    assert html_to_text(html) == "Hello"


def test_block_elements_and_line_breaks_end_lines() -> None:
    html = "<div>first</div><div>second<br>third</div><span>same</span> <b>line</b>"

    assert html_to_text(html) == "first\nsecond\nthird\nsame line"


def test_entities_and_character_references_are_decoded() -> None:
    html = "<p>5 &lt; 6 &amp; &euro;89.90 &#8211; we&#x2019;re &quot;sure&quot;</p>"

    assert html_to_text(html) == '5 < 6 & €89.90 – we’re "sure"'


def test_non_breaking_spaces_become_plain_spaces() -> None:
    assert html_to_text("<div>From:&nbsp;Jordan</div>") == "From: Jordan"


def test_runs_of_blank_lines_collapse_to_one() -> None:
    html = "<div>a</div><div><br></div><div><br></div><div><br></div><div>b</div>"

    assert html_to_text(html) == "a\n\nb"


def test_paragraphs_are_separated_by_one_blank_line() -> None:
    assert html_to_text("<p>one</p><p>two</p>") == "one\n\ntwo"


def test_outlook_msonormal_paragraphs_are_single_lines() -> None:
    html = (
        '<p class="MsoNormal">Best regards<o:p></o:p></p>'
        '<p class="MsoNormal">Morgan Rivers<o:p></o:p></p>'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        '<p class="MsoNormal">Head of Purchasing</p>'
    )

    assert html_to_text(html) == "Best regards\nMorgan Rivers\n\nHead of Purchasing"


def test_a_horizontal_rule_becomes_the_outlook_separator_line() -> None:
    assert html_to_text("<div>?</div><hr><div>From: a</div>") == f"?\n{RULE}\nFrom: a"


def test_whitespace_in_source_collapses_but_pre_keeps_it() -> None:
    html = "<div>wrapped\n   across\tlines</div><pre>  kept\n    as is</pre>"

    assert html_to_text(html) == "wrapped across lines\n\n  kept\n    as is"


def test_list_items_and_table_cells_stay_readable() -> None:
    html = "<ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr></table>"

    assert html_to_text(html) == "- one\n- two\na b"


def test_outlook_forward_markup_reads_as_a_header_block() -> None:
    html = (
        '<div>?</div><hr style="display:inline-block;width:98%">'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>From:</b> Casey Client '
        "&lt;casey@shop.example&gt;<br>\n<b>Sent:</b> Sunday, November 22, 2026 8:41 PM<br>\n"
        "<b>To:</b> Dana Chief &lt;dana.chief@acme.test&gt;<br>\n<b>Subject:</b> Order 5120</font>"
        "<div>&nbsp;</div></div><div>Hello,</div>"
    )

    assert html_to_text(html).splitlines() == [
        "?",
        RULE,
        "From: Casey Client <casey@shop.example>",
        "Sent: Sunday, November 22, 2026 8:41 PM",
        "To: Dana Chief <dana.chief@acme.test>",
        "Subject: Order 5120",
        "",
        "Hello,",
    ]


def test_broken_markup_still_gives_text() -> None:
    html = "<div><b>unclosed <i>tags <p>and <<weird>> </div></span> text &bogus; <!-- open comment"

    text = html_to_text(html)

    assert "unclosed tags" in text
    assert "text &bogus;" in text


def test_empty_html_gives_empty_text() -> None:
    assert html_to_text("") == ""
    assert html_to_text("<html><body></body></html>") == ""


def test_a_stray_less_than_sign_is_text() -> None:
    assert html_to_text("<div>price < 5 and <b>bold</b> <<x</div>") == "price < 5 and bold <<x"


def test_comments_and_outlook_conditional_blocks_are_not_text() -> None:
    html = "<div>a<!-- note --></div><!--[if gte mso 9]><xml><o:shapedefaults/></xml><![endif]--><div>b</div>"

    assert html_to_text(html) == "a\nb"


def test_an_unclosed_comment_hides_the_rest_as_a_browser_would() -> None:
    assert html_to_text("<div>shown</div><!-- never closed <div>hidden</div>") == "shown"


@pytest.mark.parametrize(
    "bomb",
    ["<" * 200_000, "<a" * 100_000, "</" * 100_000, "<!--[if mso]>" * 15_000, "<a <b <c>" * 20_000],
    ids=["lt", "open-tags", "end-tags", "conditional-comments", "mixed"],
)
def test_markup_that_makes_html_parser_rescan_is_converted(bomb: str) -> None:
    text = html_to_text("<div>?</div>" + bomb)

    assert text.startswith("?")


def test_only_the_first_megabyte_of_html_is_converted() -> None:
    text = html_to_text("<div>start</div>" + "<p>filler text</p>" * (MAX_HTML // 10))

    assert text.startswith("start")
    assert len(text) < MAX_HTML
