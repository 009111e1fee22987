"""What the servers say of themselves: `Server: Xiezuo`, never a server's name and version (a banner
tells a scanner which known holes to try)."""

from __future__ import annotations

import sys

from werkzeug.serving import WSGIRequestHandler

SERVER = "Xiezuo"


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
