"""A message of the catalogue in a reader's language (Babel): the Chinese source text, or its English
from en.po; moments in the reader's time zone, dates, numbers and lists as that language writes them."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from engine.messages.catalogue import DATES, DIAGRAM, MESSAGES, MOMENTS, NUMBERS, SENTENCES

LOCALES = ("zh_CN", "en")
PO = Path(__file__).parent / "en.po"
DEFAULT_ZONE = "Asia/Shanghai"
# As people write them: Chinese pages keep the numeric form used everywhere in the app.
_FORMATS = {"zh_CN": ("yyyy-MM-dd", "yyyy-MM-dd HH:mm"), "en": ("d MMM yyyy", "d MMM yyyy, HH:mm")}
_LIST = {"zh_CN": "、", "en": ", "}
_SENTENCES = {"zh_CN": "；", "en": "; "}


def language(locale: str | None) -> str:
    """One of LOCALES for a locale as a browser, a setting or a header names it (zh by default)."""
    return "en" if str(locale or "").lower().replace("-", "_").split("_")[0] == "en" else "zh_CN"


@cache
def english() -> dict[str, str]:
    """The English catalogue by code (msgctxt), read once."""
    with PO.open("rb") as f:
        return {m.context: m.string for m in read_po(f, locale="en") if m.id and m.context and m.string}


def template(code: str, locale: str | None = None) -> str:
    """The text of `code` with its %(name)s placeholders, in `locale`."""
    if language(locale) == "en":
        return english().get(code) or MESSAGES[code]
    return MESSAGES[code]


def render(code: str, params: dict | None = None, locale: str | None = None, zone: str | None = None,
           diagram=None) -> str:
    """The message `code` with `params` in `locale` and time zone `zone` (the organisation's)."""
    lang = language(locale)
    shown = {name: _value(name, value, lang, zone or DEFAULT_ZONE, diagram) for name, value in (params or {}).items()}
    text = template(code, lang)
    try:
        return text % shown if "%(" in text else text
    except (KeyError, ValueError, TypeError):
        return text  # a catalogue text naming a parameter the message lacks still says something


def _value(name: str, value: Any, lang: str, zone: str, diagram) -> Any:
    if isinstance(value, dict) and "code" in value and value.get("code") in MESSAGES:
        return render(value["code"], value.get("params"), lang, zone, diagram)
    if isinstance(value, list):
        joint = (_SENTENCES if name in SENTENCES else _LIST)[lang]
        return joint.join(str(_value(name, v, lang, zone, diagram)) for v in value)
    if value is None:
        return ""
    if name in MOMENTS:
        return _moment(value, lang, zone)
    if name in DATES:
        return _day(value, lang)
    if name in NUMBERS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_decimal(value, locale=lang)
    if name in DIAGRAM and diagram is not None and isinstance(value, str):
        return diagram(value)
    return value


def _moment(value: Any, lang: str, zone: str) -> str:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return format_datetime(moment.astimezone(ZoneInfo(zone)), _FORMATS[lang][1], tzinfo=ZoneInfo(zone), locale=lang)


def _day(value: Any, lang: str) -> str:
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return format_date(day, _FORMATS[lang][0], locale=lang)
