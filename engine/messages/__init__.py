"""Every text a person reads of the engine, by code: errors, form field problems and notices.

The engine says what happened as a code and its parameters (`Msg`); the text is rendered from one
catalogue (engine.messages.catalogue: the Chinese source texts; en.po: their English) in the
reader's language and time zone, when and where it is read: a page in the reader's, an email or a
bot message in the recipient's. A stored notice keeps its code and parameters, so a reworded text
changes old notices too and none loses its translation.
"""

from __future__ import annotations

from typing import Any

from engine.messages.catalogue import MESSAGES
from engine.messages.render import LOCALES, render

__all__ = ["LOCALES", "MESSAGES", "Msg", "render"]


class Msg:
    """One message: a code of the catalogue and its parameters (JSON values, or other messages)."""

    __slots__ = ("code", "params")

    def __init__(self, code: str, /, **params: Any):
        if code not in MESSAGES:
            raise KeyError(f"no message '{code}' in the catalogue (engine/messages/catalogue.py)")
        self.code = code
        self.params = {k: _stored(v) for k, v in params.items()}

    def text(self, locale: str | None = None, zone: str | None = None, diagram=None) -> str:
        """The message in `locale` (zh_CN by default), moments in `zone`; `diagram` translates the
        texts of a process diagram it names (labels, task names), when the reader has them."""
        return render(self.code, self.params, locale, zone, diagram)

    def to_dict(self) -> dict:
        return {"code": self.code, "params": self.params}

    @classmethod
    def from_dict(cls, found: dict) -> Msg:
        return cls(found["code"], **(found.get("params") or {}))

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"Msg({self.code!r}, {self.params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Msg) and (self.code, self.params) == (other.code, other.params)

    __hash__ = None  # type: ignore[assignment]


def _stored(value: Any) -> Any:
    """A parameter as it is kept (JSON): a message, also one in a list, as its {"code", "params"}."""
    if isinstance(value, Msg):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_stored(v) for v in value]
    return value
