"""How the app's processes serve: the headers of every response (no framing, no sniffing, a strict
content policy, no caching of anything but public assets), what the servers say of themselves
(`Server: Xiezuo`, never a server's name and version: a banner tells a scanner which known holes to
try), and the embedded default of background work.

Background work: `xiezuo serve` and the WSGI entry point (each gunicorn worker) call
`start_background`; it starts engine.background's runner on a daemon thread unless the work is left
to `xiezuo worker` processes (XIEZUO_BACKGROUND=off) or to Celery workers (XIEZUO_BROKER_URL).
Several web processes each running it is safe: every timer and notice is claimed in the database by
exactly one of them. (Under gunicorn, do not --preload: a thread started before the fork does not
survive it.)
"""

from __future__ import annotations

import sys

from flask import Flask, request
from werkzeug.serving import WSGIRequestHandler

from engine.background import Runner, start_thread

SERVER = "Xiezuo"
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'")


def security_headers(app: Flask) -> None:
    """Set the security headers on every response of `app`."""
    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        # Pages and API answers carry request data: none may stay in a browser's or a proxy's cache (a
        # shared computer, the back button after signing out). Static files and the npm libraries are public.
        if request.endpoint != "static" and not response.cache_control.public:
            response.headers["Cache-Control"] = "private, no-store"
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


class QuietRequestHandler(WSGIRequestHandler):
    """The embedded server of `xiezuo serve`, without its "Werkzeug/x.y Python/x.y" banner."""

    def version_string(self) -> str:
        return SERVER


def quiet_gunicorn() -> None:
    """Have gunicorn, when it serves this app, send SERVER in place of its own name."""
    if "gunicorn" not in sys.modules:
        return
    import gunicorn.http.wsgi

    # Gunicorn has no setting for it: each response takes the module's SERVER when it is made.
    gunicorn.http.wsgi.SERVER = SERVER


def start_background(app: Flask) -> Runner | None:
    """Start the background runner for `app` when its configuration asks for it; the runner or None."""
    ctx = app.extensions["xiezuo"]
    if ctx.config.background != "thread" or ctx.config.broker_url:
        return None
    return start_thread(ctx)
