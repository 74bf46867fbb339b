"""report/markup.py: the HTML page admits nothing the report did not write — text from a
specification someone sent cannot add markup, scripts, links out or images to fetch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nhanes_mg.report.markup import (
    SYNTHETIC_STAMP,
    details,
    embed_figures,
    to_html,
    to_html_marked,
)

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](http://evil.example/steal)",
    "[js](javascript:alert(1))",
    "![track](http://evil.example/pixel.png)",
    "<http://evil.example/auto>",
    "<details open onclick=alert(1)><summary>x</summary>",
    "<iframe src=http://evil.example></iframe>",
    "<style>body{display:none}</style>",
    '<svg onload="alert(1)">',
]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("where", ["{}", "- **Notes**: {}", "| a | b |\n| --- | --- |\n| {} | 1 |",
                                   "> {}", "## C9. {}", "{}\n\nmore"])  # fmt: skip
def test_hostile_text_adds_nothing_to_the_page(text: str, where: str) -> None:
    page = to_html(where.format(text))
    tags = set(re.findall(r"<([a-z0-9]+)", page))
    assert tags <= {"p", "ul", "li", "strong", "table", "thead", "tbody", "tr", "th", "td",
                    "blockquote", "h2"}, page  # fmt: skip
    assert "evil.example" not in re.sub(r"&[a-z]+;|&#\d+;", "", "".join(
        re.findall(r"<[^>]*>", page)
    ))  # never inside a tag (shown as text at most)  # fmt: skip


def test_what_the_report_writes_is_kept(tmp_path: Path) -> None:
    png = tmp_path / "C3.png"
    png.write_bytes(b"PNG")
    page = to_html(
        "\n".join(
            [
                "## C3. Magnesium and vitamin D",
                "",
                f"> **{SYNTHETIC_STAMP}.** Generated sample.",
                "",
                "| claim | verdict |",
                "| --- | --- |",
                "| [C3](#C3): x | **contradicted** |",
                "",
                "![C3](figure:0)",
                *details("Table (tables/C3.csv) <b>", ["| a |", "| --- |", "| 1 |"]),
                "",
                "`age >= 20`",
                "![data](data:image/png;base64,iVBORw0KGgo=)",  # not one of the figures
            ]
        ),
        {"figure:0": png},
    )
    assert '<h2 id="C3">C3. Magnesium and vitamin D</h2>' in page
    assert '<blockquote class="stamp">' in page
    assert '<a href="#C3">C3</a>' in page
    assert '<strong class="v-contradicted">contradicted</strong>' in page
    assert '<img alt="C3" src="data:image/png;base64,UE5H">' in page
    assert page.count("<img") == 1
    assert "<details><summary>Table (tables/C3.csv) b</summary>" in page  # markup dropped
    assert "<code>age &gt;= 20</code>" in page


def test_other_headings_get_a_slug() -> None:
    assert '<h2 id="validation-gallery">' in to_html("## Validation gallery")


def test_a_page_rendered_before_its_figures_are_drawn_gets_them_embedded(tmp_path: Path) -> None:
    """``run`` renders the page while its workers draw (a mark where each figure goes) and
    reads the files in at the end: the same page as rendering it then. A mark written in the
    text is not one: markdown-it replaces the NUL it needs."""
    png = tmp_path / "C3.png"
    markdown = "## C3. x\n\n![C3](figure:0)\n\nraw \x00figure:0\x00 mark"
    marked = to_html_marked(markdown, {"figure:0": png})  # the file is not there yet
    png.write_bytes(b"PNG")
    page = embed_figures(marked, {"figure:0": png})
    assert '<p><img alt="C3" src="data:image/png;base64,UE5H"></p>' in page
    assert page.count("UE5H") == 1 and "\x00" not in page  # the text's mark: not a figure
