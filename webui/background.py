"""The embedded default of background work: the web process sweeps timers and sends notices itself.

`xiezuo serve` and the WSGI entry point (each gunicorn worker) call `start_background`; it starts
engine.background's runner on a daemon thread unless the work is left to `xiezuo worker` processes
(XIEZUO_BACKGROUND=off) or to Celery workers (XIEZUO_BROKER_URL). Several web processes each running
it is safe: every timer and notice is claimed in the database by exactly one of them. (Under
gunicorn, do not --preload: a thread started before the fork does not survive it.)
"""

from __future__ import annotations

from flask import Flask

from engine.background import Runner, start_thread


def start_background(app: Flask) -> Runner | None:
    """Start the background runner for `app` when its configuration asks for it; the runner or None."""
    ctx = app.extensions["xiezuo"]
    if ctx.config.background != "thread" or ctx.config.broker_url:
        return None
    return start_thread(ctx)
