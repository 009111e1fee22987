"""Parse untrusted BPMN XML: no entities, no network, bounded size and depth."""

from __future__ import annotations

from lxml import etree

from engine.errors import InvalidProcess, Problem

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=False, collect_ids=False,
    )


def parse_bpmn_bytes(data: bytes, filename: str, max_bytes: int = MAX_BYTES) -> etree._Element:
    """Return the root element of a BPMN document, or raise InvalidProcess saying why not."""
    if len(data) > max_bytes:
        raise InvalidProcess([Problem(
            f"file is {len(data)} bytes, larger than the limit of {max_bytes} bytes", file=filename)])
    if not _is_utf8(data):
        # Deploy stores the text as UTF-8, and in UTF-16 or UTF-32 "<!DOCTYPE" would not be found below.
        raise InvalidProcess([Problem("file is not UTF-8 text; save BPMN files as UTF-8", file=filename)])
    if b"<!DOCTYPE" in data:
        # BPMN never needs a DTD; refusing it outright stops XXE and entity expansion
        # before lxml sees the document.
        raise InvalidProcess([Problem("DTDs and entity declarations are not allowed", file=filename,
                                      line=_line_of(data, b"<!DOCTYPE"))])
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise InvalidProcess([Problem(f"not well-formed XML: {exc.msg}", file=filename,
                                      line=exc.lineno)]) from None
    if root.getroottree().docinfo.doctype:  # declared in an encoding that hid it from the check above
        raise InvalidProcess([Problem("DTDs and entity declarations are not allowed", file=filename)])
    depth = _depth(root)
    if depth > MAX_DEPTH:
        raise InvalidProcess([Problem(f"elements nested {depth} deep; the limit is {MAX_DEPTH}",
                                      file=filename)])
    return root


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\0" not in data  # XML never contains NUL; UTF-16 and UTF-32 text does


def _line_of(data: bytes, needle: bytes) -> int | None:
    pos = data.find(needle)
    return data.count(b"\n", 0, pos) + 1 if pos >= 0 else None


def _depth(root: etree._Element) -> int:
    deepest = 0
    stack = [(root, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level <= MAX_DEPTH:
            stack.extend((child, level + 1) for child in node)
    return deepest
