"""The guide's Markdown as HTML: markdown-it-py with raw HTML off (tags are shown as text), its own
link check (no javascript:, vbscript:, file: or data: links), and [[kb:N]] citations of knowledge
entries turned into links to them."""

from __future__ import annotations

import re
from collections.abc import Callable

from markdown_it import MarkdownIt
from markupsafe import Markup

from engine.services.guide import CITATION

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # ASCII punctuation: escaped, so a title stays plain text


def render(body: str, titles: dict[int, str], link: Callable[[int], str]) -> Markup:
    """`body` as safe HTML; a citation of an approved entry (in `titles`) links to it as 「title」."""
    def cite(found: re.Match) -> str:
        entry = int(found.group(1))
        if entry not in titles:
            return found.group(0)
        title = _PUNCTUATION.sub(r"\\\1", titles[entry])
        return f"[「{title}」]({link(entry)})"

    return Markup(_md.render(CITATION.sub(cite, body or "")))  # markdown-it escapes all text: no raw HTML
