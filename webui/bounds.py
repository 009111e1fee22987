"""Bounds on what a request may carry: ids an id column holds, body sizes, JSON nesting, no NUL
characters in texts (PostgreSQL stores none).

Each bound turns input the database or the parser cannot take into a client error (404, 413, 400)
before any view runs, instead of an overflow or a recursion error deep inside (a 500).
"""

from __future__ import annotations

import json

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from engine.errors import InvalidInput
from engine.sizes import size_text
from webui.config import WebConfig

# The largest id an INTEGER column holds on every database: 32 bits on PostgreSQL (64 on SQLite). Every
# id in a URL is such a column; a route over a BIGINT one says so with <int(max=...):...>.
ID_MAX = 2**31 - 1
MAX_JSON_DEPTH = 32  # far beyond any form (a table in a task's data is four levels deep)
UPLOAD_OVERHEAD = 1024 * 1024  # multipart framing and the form's other fields beside the files
# A body may carry files up to this many times the limit of one: a file over the limit is then refused
# by the form, by name, with everything else typed kept (no script needed); beyond it the body is 413.
UPLOAD_FILES = 3


class IdConverter(IntegerConverter):
    """`<int:...>` bounded to what an id column holds: a larger number matches no route (404), where the
    database would have failed on it (a 500)."""

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, *args, **kwargs)
        self.max = ID_MAX if self.max is None else self.max


def _within(value, limit: int) -> bool:
    """Whether `value` nests lists and objects at most `limit` deep (no recursion: any depth is safe)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def _has_nul(value) -> bool:
    """Whether a text anywhere in `value` (a key, a value, an item) holds a NUL character."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def _refuse_nul() -> None:
    raise InvalidInput("text.nul")


class BoundedJSONProvider(DefaultJSONProvider):
    """Request bodies parsed with a nesting limit: too deep is 400 (invalid_input), never a RecursionError;
    a text with a NUL character is 400 too, on every database."""

    def loads(self, s, **kwargs):
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            value = None
            deep = True
        else:
            deep = not _within(value, MAX_JSON_DEPTH)
        if deep:
            raise InvalidInput("api.too_deep", levels=MAX_JSON_DEPTH)
        if _has_nul(value):
            _refuse_nul()
        return value


def too_large_message() -> str:
    """The 413 text in the reader's language, naming the limit that applied."""
    config: WebConfig = current_app.extensions["xiezuo_config"]
    if request.mimetype == "multipart/form-data":
        return _("上传内容过大：每个文件最多 %(size)s。", size=size_text(config.engine.attachment_max_bytes))
    return _("请求内容过大：最多 %(size)s。", size=size_text(request.max_content_length or config.max_body_bytes))


def init_app(app: Flask, config: WebConfig) -> None:
    """Install the bounds; call before any blueprint is registered and before CSRF reads the form."""
    app.url_map.converters["int"] = IdConverter
    app.json = BoundedJSONProvider(app)
    uploads = max(UPLOAD_FILES * config.engine.attachment_max_bytes + UPLOAD_OVERHEAD, config.max_body_bytes)
    app.config.update(MAX_CONTENT_LENGTH=uploads, MAX_FORM_MEMORY_SIZE=min(config.max_body_bytes, 500_000))

    @app.before_request
    def body_limit():
        # Only a multipart body carries files; anything else (JSON, a plain form) gets the small limit,
        # or the one its view declares. It applies from the first read of the body, which CSRF
        # protection does next.
        if request.mimetype != "multipart/form-data":
            view = app.view_functions.get(request.endpoint or "")
            request.max_content_length = max(getattr(view, "max_body_bytes", 0), config.max_body_bytes)

    @app.context_processor
    def upload_bounds():
        # What every file input says of itself and checks before sending (work.js).
        return {"upload_limit": size_text(config.engine.attachment_max_bytes),
                "upload_bytes": config.engine.attachment_max_bytes}

    @app.before_request
    def no_nul():
        # A form or a query string with a NUL character (%00) is refused whatever the database; `next`
        # is never stored, and safe_next turns any unsafe one into the inbox.
        given = [item for values in (request.args, request.form) for item in values.lists() if item[0] != "next"]
        if _has_nul(given):
            _refuse_nul()


def large_body(limit: int):
    """Let a view take a body without files of up to `limit` bytes (a diagram's XML in JSON)."""
    def mark(view):
        view.max_body_bytes = limit
        return view
    return mark
