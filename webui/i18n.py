"""Languages (zh-CN first, English second) and time zones for what the pages show."""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from babel import dates as babel_dates
from babel.dates import format_skeleton
from flask import Flask, request, session
from flask_babel import Babel, format_datetime, get_locale, get_timezone, gettext
from flask_login import current_user
from markupsafe import Markup

from engine.errors import XiezuoError
from engine.messages import Msg
from engine.workflow.notices import notice_text
from webui.config import WebConfig
from webui.extensions import services

babel = Babel()
TRANSLATIONS = Path(__file__).parent / "translations"


def process_text(text):
    """A text of a process diagram (an element's name, a field's label or guidance, an option, a column) in
    the reader's language. The diagrams' Chinese texts are msgids of the catalogue (webui/bpmn_messages.py);
    a text typed in the modeller since the last extraction is not, and shows as it is."""
    if not isinstance(text, str) or not text.strip():
        return text  # gettext("") would answer the catalogue's header
    return gettext(text)  # no keyword arguments: a "%" in a label is not a placeholder


def message(found) -> str:
    """A message of the engine (an error, a field's Msg, or a stored {"code", "params"}) in the reader's
    language and time zone, the diagram's texts it names included; a text the web made is shown as it is."""
    if isinstance(found, dict) and "code" in found:
        found = Msg.from_dict(found)
    if isinstance(found, (XiezuoError, Msg)):
        return found.text(str(get_locale() or ""), str(get_timezone() or "") or None, process_text)
    return "" if found is None else str(found)


def notice(found) -> str:
    """A notification (its row's dict) in the reader's language and time zone: by its code when the
    engine composed it, else as written."""
    return notice_text(found, str(get_locale() or ""), str(get_timezone() or "") or None, process_text)


def messages(found: dict) -> dict[str, str]:
    """Each field's message (FormInvalid.errors) in the reader's language."""
    return {key: message(value) for key, value in found.items()}


def init_app(app: Flask, config: WebConfig) -> None:
    def locale() -> str:
        chosen = session.get("locale")
        if chosen in config.locales:
            return chosen
        if current_user and current_user.is_authenticated and current_user.locale in config.locales:
            return current_user.locale
        best = request.accept_languages.best_match(["zh_CN", "zh", "en"]) if request else None
        if best:
            return "en" if best == "en" else "zh_CN"
        return config.default_locale  # the browser asks for neither: the organisation's language

    def timezone() -> str:
        if current_user and current_user.is_authenticated and current_user.timezone:
            return current_user.timezone
        return config.engine.timezone

    app.config.update(BABEL_DEFAULT_LOCALE=config.default_locale, BABEL_DEFAULT_TIMEZONE=config.engine.timezone,
                      BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS))
    babel.init_app(app, locale_selector=locale, timezone_selector=timezone)

    app.add_template_filter(format_when, "when")

    app.add_template_filter(format_day, "day")
    app.add_template_filter(bracketed, "paren")
    app.add_template_global(actor_name, "who")

    app.add_template_filter(process_text, "bpmn_text")
    app.add_template_filter(message, "message")
    app.add_template_filter(notice, "notice")
    app.add_template_filter(label_text, "bpmn_label")

    @app.context_processor
    def language():
        locale = str(get_locale())
        # After a label: the full-width colon in Chinese, a colon and a space in English.
        return {"current_locale": locale, "locales": config.locales, "colon": ": " if locale.startswith("en") else "：",
                "sep": ", " if locale.startswith("en") else "、"}


def format_when(value) -> str:
    """A moment in the reader's time zone and language: 12月8日 20:15 / Dec 8 20:15 this year,
    with the year otherwise (2025年12月8日 20:15 / Dec 8, 2025 20:15); a naive one is in the
    organisation's zone."""
    if not value:
        return "—"
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)  # not a moment after all: as it was written
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(services().config.timezone))
    local = moment.astimezone(get_timezone())
    return f"{_day_text(local.date())} {format_datetime(moment, 'HH:mm')}"


def actor_name(names: dict, actor: str | None):
    """Who did something, for a page: a person by name, the engine as 系统, and anyone else (an
    operator of the command line, whose name is no account) by that name, marked as not a word."""
    if not actor:
        return "—"
    if actor in names:
        return names[actor]
    if actor == "system":
        return gettext("系统")
    return Markup('{} <small class="muted" translate="no">{}</small>').format(gettext("命令行"), actor)


def bracketed(value) -> str:
    """A remark in the brackets of the reader's language: （市场部） / " (Marketing)"."""
    return gettext("（%(text)s）", text=value)


def format_day(value) -> str:
    """A calendar date in the reader's language: 12月12日 / Dec 12, with the year when not this one;
    a value that is no date shows as it is."""
    if not value:
        return "—"
    try:
        found = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return _day_text(found)


def _day_text(found: date) -> str:
    this_year = services().now().astimezone(get_timezone()).year
    return format_skeleton("MMMd" if found.year == this_year else "yMMMd", found, locale=get_locale())


_HELP = re.compile(r"^(.+?)[（(](.+)[）)]\s*$", re.S)


def split_label(label: str) -> tuple[str, str]:
    """"需求目标（要达到什么效果…）" -> ("需求目标", "要达到什么效果…"): the diagrams put guidance in brackets."""
    found = _HELP.match(label or "")
    return (found.group(1).strip(), found.group(2).strip()) if found else (label, "")


def label_text(label: str) -> str:
    """A whole label in the reader's language: its label and its guidance are translated apart, as the
    catalogue has them (webui/bpmn_messages.py)."""
    text, guidance = split_label(label)
    if not guidance:
        return process_text(label)
    shown = process_text(text), process_text(guidance)
    return label if shown == (text, guidance) else f"{shown[0]} ({shown[1]})"


# The zones people here choose from first; every other zone of a continent or an ocean follows.
COMMON_ZONES = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo", "Europe/London",
                "Europe/Berlin", "America/New_York", "America/Los_Angeles", "UTC")
_REGIONS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Indian/", "Pacific/")


def zone_choices(current: str | None = None) -> list[tuple[str, str]]:
    """(IANA zone, its name in the reader's language with its offset from UTC now): 中国（上海）时间 · UTC+8.
    Aliases that name the same place once more are left out, but never the reader's own zone."""
    found = list(_zone_labels(str(get_locale() or "zh_CN")))
    if current and current not in dict(found):
        found.append((current, current))
    return found


@functools.lru_cache(maxsize=8)
def _zone_labels(locale: str) -> tuple[tuple[str, str], ...]:
    others = sorted(z for z in available_timezones() if z.startswith(_REGIONS) and z not in COMMON_ZONES)
    seen: set[str] = set()
    found = []
    for zone in (*COMMON_ZONES, *others):
        place = (gettext("协调世界时") if zone == "UTC" else
                 babel_dates.get_timezone_location(zone, locale=locale))
        if place in seen:
            continue
        seen.add(place)
        offset = datetime.now(ZoneInfo(zone)).utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "−"
        hours, rest = divmod(abs(minutes), 60)
        found.append((zone, f"{place} · UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")))
    return tuple(found)
