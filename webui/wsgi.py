"""The WSGI entry point for production servers: `gunicorn webui.wsgi:app` (settings from XIEZUO_*)."""

from __future__ import annotations

import os

from webui import create_app
from webui.config import WebConfig
from webui.serving import quiet_gunicorn, start_background

quiet_gunicorn()
app = create_app(WebConfig.from_environ(os.environ))
start_background(app)
