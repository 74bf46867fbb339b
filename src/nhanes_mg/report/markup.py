"""The report's markdown as a self-contained HTML page: one source, two files.

:func:`nhanes_mg.report.document.render_markdown` writes the report once, in markdown;
:func:`to_html` renders that markdown with markdown-it-py (CommonMark plus tables), so the two
files cannot drift apart. What a specification says is untrusted text, so the page admits
nothing the report did not put there itself:

- raw HTML is escaped, except the exact tags the report writes for collapsible tables
  (``<details>``, ``<summary>…</summary>``, ``</details>``, without attributes);
- a link is kept only when it points inside the page (``#C3``), an image only when it is one
  of the report's figures (embedded as a base64 PNG): a specification cannot make the page
  fetch anything;
- a verdict in bold gets its colour class (``<strong class="v-consistent">``), a claim's
  heading (``## C3. …``) its anchor (``id="C3"``; other headings: ``id="validation-gallery"``)
  and the synthetic-data stamp its class.

Examples
--------
>>> page = to_html("## C3. A claim\\n\\n- **Verdict**: **consistent** — <script>x</script>")
>>> '<h2 id="C3">' in page, '<strong class="v-consistent">consistent</strong>' in page
(True, True)
>>> "<script>" in page
False
>>> "<img" in to_html("![x](http://example.org/track.png)")
False
>>> import base64, pathlib, tempfile
>>> png = pathlib.Path(tempfile.mkdtemp()) / "f.png"
>>> _ = png.write_bytes(b"PNG")
>>> to_html("![C3](figure:1)", {"figure:1": png}).strip()
'<p><img alt="C3" src="data:image/png;base64,UE5H"></p>'
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from nhanes_mg.study.verdicts import VERDICTS

# the only raw HTML the report writes: a collapsible block around a long table
_ALLOWED_HTML = re.compile(r"^\s*(<details><summary>[^<>]*</summary>|</details>)\s*$")
_ANCHOR = re.compile(r"^([A-Za-z][A-Za-z0-9_-]{0,63})\. ")  # "C3. title" → C3 (ids: issue 20)
_VERDICT_CLASS = {v: "v-" + v.replace(" ", "-") for v in VERDICTS}
SYNTHETIC_STAMP = "SYNTHETIC DATA — not for inference"  # on every output of synthetic data


def details(summary: str, lines: Sequence[str]) -> list[str]:
    """Markdown lines that show ``lines`` (a table) collapsed under ``summary`` in the HTML
    page (and on GitHub); ``summary`` is text, its markup characters are dropped."""
    plain = re.sub(r"[<>]", "", summary)
    return ["", f"<details><summary>{html.escape(plain, quote=False)}</summary>", "",
            *lines, "", "</details>"]  # fmt: skip


def to_html(markdown: str, figures: Mapping[str, Path] | None = None) -> str:
    """The HTML body of ``markdown`` (see the module docstring for what is admitted).

    ``figures`` maps an image reference of the markdown (``![C3](figure:1)``) to the PNG file
    embedded in its place: the page carries its figures, and the parser never reads their
    base64 text (megabytes) as markdown.
    """
    return embed_figures(to_html_marked(markdown, figures), figures or {})


def to_html_marked(markdown: str, figures: Mapping[str, Path] | None = None) -> str:
    """:func:`to_html` with a mark where each figure's base64 text goes, for
    :func:`embed_figures` to fill once the files are drawn (the page is rendered while they
    are). The mark holds a NUL, which markdown-it replaces in any text it is given."""
    parser = _parser()
    tokens = parser.parse(markdown)
    _mark(tokens)
    return str(parser.renderer.render(tokens, parser.options, {"figures": figures or {}}))


_FIGURE_MARK = re.compile("\x00(figure:[0-9]+)\x00")


def embed_figures(page: str, figures: Mapping[str, Path]) -> str:
    """``page`` (:func:`to_html_marked`) with each figure's PNG in place of its mark."""
    return _FIGURE_MARK.sub(
        lambda m: base64.b64encode(Path(figures[m.group(1)]).read_bytes()).decode("ascii"), page
    )


@cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table")
    parser.add_render_rule("link_open", _link_open)
    parser.add_render_rule("link_close", _link_close)
    parser.add_render_rule("image", _image)
    return parser


def _mark(tokens: list[Token]) -> None:
    """Escape raw HTML outside the allow-list; add verdict classes and heading anchors."""
    for i, token in enumerate(tokens):
        if token.type == "html_block" and not _ALLOWED_HTML.match(token.content):
            token.content = f"<p>{html.escape(token.content)}</p>\n"
        if token.type == "heading_open" and i + 1 < len(tokens):
            text = tokens[i + 1].content
            found = _ANCHOR.match(text)
            slug = "-".join(re.findall(r"[a-z0-9]+", text.lower()))
            token.attrSet("id", found.group(1) if found else slug)
        stamp = f"**{SYNTHETIC_STAMP}"
        if token.type == "blockquote_open" and tokens[
            min(i + 2, len(tokens) - 1)
        ].content.startswith(stamp):
            token.attrSet("class", "stamp")
        for j, child in enumerate(token.children or []):
            if child.type == "html_inline":
                child.content = html.escape(child.content)
            elif child.type == "strong_open" and token.children is not None:
                inner = token.children[j + 1] if j + 1 < len(token.children) else None
                if inner is not None and inner.type == "text" and inner.content in _VERDICT_CLASS:
                    child.attrSet("class", _VERDICT_CLASS[inner.content])


def _inside(token: Token) -> bool:
    return str(token.attrGet("href") or "").startswith("#")


def _link_open(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    # a link out of the page is shown as its text only
    return str(self.renderToken(tokens, idx, options, env)) if _inside(tokens[idx]) else ""


def _link_close(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    opening = next(t for t in reversed(tokens[:idx]) if t.type == "link_open")
    return str(self.renderToken(tokens, idx, options, env)) if _inside(opening) else ""


def _image(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    figure = env["figures"].get(str(token.attrGet("src") or ""))
    alt = html.escape(token.content or "")
    if figure is None:
        return alt  # not one of the report's figures: never fetched, its text instead
    src = str(token.attrGet("src"))  # filled by embed_figures, once the figure is drawn
    return f'<img alt="{alt}" src="data:image/png;base64,\x00{src}\x00">'
