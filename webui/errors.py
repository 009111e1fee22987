"""The engine's named errors become HTTP answers in this one place (HTML for pages, JSON for the API)."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request

from engine.errors import (
    AccountLocked,
    CommandTooLarge,
    FormInvalid,
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

STATUS = [(NotFound, 404), (PermissionDenied, 403), (TaskNotReady, 409), (StaleInstance, 409),
          (FormInvalid, 422), (InvalidProcess, 422), (OrgInvalid, 422), (CommandTooLarge, 422),
          (InvalidInput, 400), (SignInFailed, 400), (AccountLocked, 429),
          (StateVersionUnsupported, 500)]  # the server's data, not the request, is at fault


def status_of(exc: XiezuoError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 400)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def init_app(app: Flask) -> None:
    @app.errorhandler(XiezuoError)
    def engine_error(exc: XiezuoError):
        code = status_of(exc)
        if wants_json():
            return jsonify(exc.to_dict()), code
        return render_template("error.html", error=exc, code=code), code

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
            return jsonify({"code": {404: "not_found", 403: "forbidden", 405: "method_not_allowed",
                                     413: "too_large", 429: "too_many_requests"}.get(code, "error"),
                            "message": getattr(exc, "description", "")}), code
        # A limit's own text ("10 per 1 minute") is not for people: the page's title says it in their language.
        description = "" if code == 429 else getattr(exc, "description", "")
        return render_template("error.html", error=None, code=code, description=description), code
