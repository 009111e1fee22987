"""Write the English catalogue en.po from the source texts (catalogue.py) and their English (en.py):
`python -m engine.messages.build` (webui/translations/update.sh runs it). Each message is one entry,
its code the context, so two codes may share a Chinese text and a code keeps its English when the
Chinese is reworded only by a translator's decision."""

from __future__ import annotations

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from engine.messages.catalogue import MESSAGES
from engine.messages.en import ENGLISH
from engine.messages.render import PO


def catalog() -> Catalog:
    found = Catalog(locale="en", project="xiezuo", fuzzy=False)
    for code, text in sorted(MESSAGES.items()):
        found.add(text, ENGLISH.get(code, ""), context=code)
    return found


def main() -> None:
    with PO.open("wb") as f:
        write_po(f, catalog(), width=120, omit_header=True, no_location=True)


if __name__ == "__main__":
    main()
