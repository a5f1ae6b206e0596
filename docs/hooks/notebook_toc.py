"""MkDocs hook: a notebook's table of contents is read from its page, inline code included.

mkdocs-jupyter builds a notebook's table of contents from a Markdown copy of the notebook
from which it first deletes every inline code span (a regular expression meant to drop
code cells). A heading such as "Now with `backward()`" therefore reached the table of
contents as "Now with", linked to an anchor, ``#now-with``, that the page does not have.
This hook rebuilds the table of contents of every notebook page from the headings of the
page as rendered, so each entry has the heading's whole text and the heading's own id.
"""

from __future__ import annotations

import html
import re
from typing import Any

from mkdocs.structure.toc import get_toc

# A heading of a Markdown cell as nbconvert renders it: <h2 id="...">text<a class="anchor-link"
HEADING = re.compile(
    r'<h(?P<level>[1-6]) id="(?P<id>[^"]+)">(?P<inner>.*?)<a class="anchor-link"', re.DOTALL
)
TAG = re.compile(r"<[^>]+>")


def on_page_content(html_text: str, *, page: Any, config: Any, **kwargs: Any) -> str:
    """Replace a notebook page's table of contents by one built from its headings."""
    if page.file.src_uri.endswith(".ipynb"):
        page.toc = get_toc(toc_tokens(html_text))
    return html_text


def toc_tokens(html_text: str) -> list[dict[str, Any]]:
    """The headings of the page, nested by level, as Python-Markdown's toc tokens."""
    roots: list[dict[str, Any]] = []
    open_headings: list[dict[str, Any]] = []  # the chain of headings the next one may nest in
    for match in HEADING.finditer(html_text):
        text = html.unescape(TAG.sub("", match["inner"])).strip()
        token = {
            "level": int(match["level"]),
            "id": html.unescape(match["id"]),
            "name": html.escape(text, quote=False),
            "children": [],
        }
        while open_headings and open_headings[-1]["level"] >= token["level"]:
            open_headings.pop()
        (open_headings[-1]["children"] if open_headings else roots).append(token)
        open_headings.append(token)
    return roots
