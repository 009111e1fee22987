"""The guide's Markdown as HTML: markdown-it-py with raw HTML off (tags are shown as text), its link
check (no javascript:, vbscript:, file: or data: links), and [[kb:N]] citations in the text (not in
code) of approved knowledge entries turned into links to them."""

from __future__ import annotations

from collections.abc import Callable

from markdown_it.token import Token
from markupsafe import Markup

from engine.services.guide import CITATION, MARKDOWN, texts


def _pieces(text: str, titles: dict[int, str], link: Callable[[int], str]) -> list[Token]:
    """`text` as text tokens, each citation of an approved entry a link reading 「title」."""
    out, at = [], 0
    for found in CITATION.finditer(text):
        entry = int(found.group(1))
        if entry not in titles:
            continue
        if found.start() > at:
            out.append(Token("text", "", 0, content=text[at:found.start()]))
        out += [Token("link_open", "a", 1, attrs={"href": link(entry)}),
                Token("text", "", 0, content=f"「{titles[entry]}」"), Token("link_close", "a", -1)]
        at = found.end()
    if at < len(text):
        out.append(Token("text", "", 0, content=text[at:]))
    return out


def render(body: str, titles: dict[int, str], link: Callable[[int], str]) -> Markup:
    """`body` as safe HTML; a citation of an approved entry (in `titles`) links to it as 「title」."""
    env: dict = {}
    tokens = MARKDOWN.parse(body or "", env)
    for block, i, _line in reversed(list(texts(tokens))):  # from the end: indexes stay right
        text = block.children[i].content
        if CITATION.search(text):
            block.children[i:i + 1] = _pieces(text, titles, link)
    return Markup(MARKDOWN.renderer.render(tokens, MARKDOWN.options, env))  # all text escaped: no raw HTML
