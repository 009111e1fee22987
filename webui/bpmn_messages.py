"""The texts of process diagrams for the translation catalogue: a Babel extractor for .bpmn files.

babel.cfg maps `processes/**.bpmn` to `extract_bpmn`, so webui/translations/update.sh puts what the
pages show of a diagram into messages.pot: element names (tasks, events, gateways, lanes, sequence
flows, processes, call activities), form field labels split into label and guidance the way the form
shows them (webui.i18n.split_label), option names, table column labels and `help` properties.
The Chinese text of the diagram is the msgid; the pages pass it through gettext when they show it
(webui.i18n.process_text), so a text typed in the modeller and never extracted shows as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

from lxml import etree

from engine.bpmn.safe_xml import parse_bpmn_bytes
from webui.i18n import split_label

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
# Named BPMN elements that are data declarations or definitions, not something a page shows.
NOT_SHOWN = frozenset({"definitions", "property", "dataInput", "dataOutput", "inputDataItem", "outputDataItem",
                       "itemDefinition", "message", "error", "signal", "escalation", "dataStore", "resource",
                       "interface", "operation"})

Message = tuple[int, str, str]  # line, text, what it is (for the translator)


def messages(root: etree._Element) -> Iterator[Message]:
    """Every text of a diagram a page may show, in document order, with its line and where it comes from."""
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue  # comments and processing instructions
        name = etree.QName(el)
        ident = el.get("id") or ""
        line = el.sourceline or 0
        if name.namespace == BPMN and name.localname not in NOT_SHOWN:
            yield from _text(line, el.get("name"), f"{name.localname} {ident}")
        elif name.namespace == CAMUNDA and name.localname == "formField":
            label, guidance = split_label(el.get("label") or "")
            yield from _text(line, label, f"form field {ident}")
            yield from _text(line, guidance, f"guidance of form field {ident}")
        elif name.namespace == CAMUNDA and name.localname == "value":
            yield from _text(line, el.get("name"), f"option {ident} of {_field_id(el)}")
        elif name.namespace == CAMUNDA and name.localname == "property" and ident == "help":
            yield from _text(line, el.get("value"), f"guidance of form field {_field_id(el)}")
        elif name.namespace == CAMUNDA and name.localname == "property" and ident.startswith(("minDate", "maxDate")):
            yield from _text(line, (el.get("value") or "").partition(":")[2], f"date bound {ident} of {_field_id(el)}")
        elif name.namespace == CAMUNDA and name.localname == "property" and ident == "columns":
            for column, label in columns(el.get("value") or ""):
                yield from _text(line, label, f"column {column} of {_field_id(el)}")


def translate_names(xml: str, filename: str, translate: Callable[[str], str]) -> str:
    """The diagram `xml` with the names a viewer draws (those `messages` extracts) passed through
    `translate`; the XML unchanged when no name changes (the default language)."""
    root = parse_bpmn_bytes(xml.encode("utf-8"), filename)
    changed = False
    for el in root.iter(f"{{{BPMN}}}*"):
        name = el.get("name")
        if name and name.strip() and etree.QName(el).localname not in NOT_SHOWN and translate(name) != name:
            el.set("name", translate(name))
            changed = True
    return etree.tostring(root, encoding="unicode") if changed else xml


def columns(spec: str) -> list[tuple[str, str]]:
    """(id, label) of a table's `columns` property "id[!]:type:label,...", as engine.bpmn.forms reads it."""
    found = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        column, _, rest = part.partition(":")
        label = rest.partition(":")[2].strip()
        if label:
            found.append((column.rstrip("!").strip(), label))
    return found


def _text(line: int, text: str | None, what: str) -> Iterator[Message]:
    if text and text.strip():
        yield line, text, what


def _field_id(el: etree._Element) -> str:
    field = next(el.iterancestors(f"{{{CAMUNDA}}}formField"), None)
    return field.get("id") if field is not None else "?"


def extract_bpmn(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict) -> Iterator[tuple]:
    """Babel extraction method for BPMN files (registered in babel.cfg's [extractors])."""
    filename = getattr(fileobj, "name", "<bpmn>")
    root = parse_bpmn_bytes(fileobj.read(), str(filename))
    for line, text, what in messages(root):
        yield line, None, text, [what]
