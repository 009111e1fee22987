"""The guide's Markdown as HTML: markdown-it-py with raw HTML off (tags are shown as text), its link
check (no javascript:, vbscript:, file: or data: links), and [[kb:N]] citations in the text (not in
code, escapes or link text: engine.knowledge.guide) of approved knowledge entries turned into links."""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup

from engine.knowledge.guide import MARKDOWN


def render(body: str, titles: dict[int, str], link: Callable[[int], str]) -> Markup:
    """`body` as safe HTML; a citation of an approved entry (in `titles`) links to it as 「title」."""
    return Markup(MARKDOWN.render(body or "", {"kb_titles": titles, "kb_link": link}))  # all text escaped
