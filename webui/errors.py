"""The engine's named errors become HTTP answers in this one place (HTML for pages, JSON for the API)."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import get_locale, get_timezone, lazy_gettext

from engine.errors import (
    AccountLocked,
    CommandTooLarge,
    FormInvalid,
    IdempotencyAnswerLost,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidInput,
    InvalidProcess,
    NotFound,
    OrgInvalid,
    PermissionDenied,
    SignInFailed,
    StaleInstance,
    StateVersionUnsupported,
    TaskNotReady,
    XiezuoError,
)
from webui.bounds import too_large_message
from webui.i18n import process_text

STATUS = [(NotFound, 404), (PermissionDenied, 403), (TaskNotReady, 409), (StaleInstance, 409),
          (FormInvalid, 422), (InvalidProcess, 422), (OrgInvalid, 422), (CommandTooLarge, 422),
          (InvalidInput, 400), (SignInFailed, 400), (AccountLocked, 429),
          (IdempotencyKeyReused, 422), (IdempotencyInProgress, 409), (IdempotencyAnswerLost, 409),
          (StateVersionUnsupported, 500)]  # the server's data, not the request, is at fault
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              413: "too_large", 415: "unsupported_media_type", 429: "too_many_requests", 500: "server_error"}
# Werkzeug's own texts are English; a reader gets these in their language instead.
HTTP_MESSAGES = {
    401: lazy_gettext("未登录：没有会话，也没有有效的令牌。"),
    403: lazy_gettext("无权访问。"),
    404: lazy_gettext("找不到此页面或资源。"),
    405: lazy_gettext("此地址不接受该请求方法。"),
    415: lazy_gettext("不支持该内容类型。"),
    429: lazy_gettext("尝试次数过多，请稍后再试。"),
    500: lazy_gettext("服务器出了问题，您的操作未完成；请稍后再试，或告知平台管理员。"),
}


def http_message(exc) -> str:
    """The text of a werkzeug HTTP error in the reader's language (413 names the limit that applied)."""
    code = getattr(exc, "code", None)
    if code == 413:
        return too_large_message()
    return str(HTTP_MESSAGES.get(code, getattr(exc, "description", "") or ""))


def http_headers(exc) -> list[tuple[str, str]]:
    """The headers an HTTP error carries besides its body (Allow on a 405, Retry-After)."""
    found = exc.get_headers() if hasattr(exc, "get_headers") else []
    return [(k, v) for k, v in found if k.lower() != "content-type"]


def status_of(exc: XiezuoError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 400)


def error_body(exc: XiezuoError) -> dict:
    """The JSON of an engine error: its kind (`code`), its message's code and parameters, the message in
    the caller's language and time zone, and its details."""
    return exc.to_dict(str(get_locale() or ""), str(get_timezone() or "") or None, process_text)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def init_app(app: Flask) -> None:
    @app.errorhandler(XiezuoError)
    def engine_error(exc: XiezuoError):
        code = status_of(exc)
        if wants_json():
            return jsonify(error_body(exc)), code
        return render_template("error.html", error=exc, code=code), code

    @app.errorhandler(500)
    def server_error(exc):
        # An unexpected failure: nothing of it is shown (it is in the log), the reader gets their language.
        if wants_json():
            return jsonify({"code": "server_error", "params": {}, "message": str(HTTP_MESSAGES[500])}), 500
        return render_template("error.html", error=None, code=500, description=HTTP_MESSAGES[500]), 500

    @app.errorhandler(404)
    @app.errorhandler(403)
    @app.errorhandler(405)
    @app.errorhandler(413)
    @app.errorhandler(429)
    def http_error(exc):
        if getattr(exc, "response", None) is not None:
            return exc.response  # made for the occasion already (a throttled form's own page)
        code = getattr(exc, "code", 500) or 500
        if wants_json():
            answer = jsonify({"code": HTTP_CODES.get(code, "error"), "params": {}, "message": http_message(exc)})
            return answer, code, http_headers(exc)
        # The page's heading already says what a 403, 404 or 429 is; the others need the text.
        description = None if code in (403, 404, 429) else http_message(exc)
        return render_template("error.html", error=None, code=code, description=description), code, http_headers(exc)
