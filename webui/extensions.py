"""Flask extensions, created unbound and bound by create_app."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from engine.context import Services

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"
# Flask-Login's own notice is English; it is flashed in the reader's language, rendered at the time.
login_manager.login_message = lazy_gettext("请先登录后再访问此页面。")
login_manager.login_message_category = "info"
login_manager.localize_callback = str
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def services() -> Services:
    """The engine services of the running app."""
    return current_app.extensions["xiezuo"]


def web_config():
    """The running app's WebConfig."""
    return current_app.extensions["xiezuo_config"]
