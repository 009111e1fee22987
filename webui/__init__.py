"""Xiezuo's web app: `create_app(config)` builds it around one set of engine services."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask

from webui.config import WebConfig


def _secret_key(app: Flask, config: WebConfig) -> str:
    if config.secret_key:
        return config.secret_key
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _one_connection_a_request(app: Flask) -> None:
    # A page's reads (who is signed in, what they may see, the lists, the counts) share one pooled
    # connection and one read transaction; a command it runs commits on that connection too.
    from flask import g

    db = app.extensions["xiezuo"].db

    @app.before_request
    def share_a_connection():
        g.db_connection = db.share_connection()

    @app.teardown_request
    def give_the_connection_back(_exc):
        token = g.pop("db_connection", None)
        if token is not None:
            db.release_connection(token)


def _read_the_organisation_once_a_request(app: Flask) -> None:
    # A page asks the organisation several things (names, heads, who may see what): one reading
    # serves them all. A request that changes the organisation reads afresh after its change.
    from flask import g

    from engine.org import scope as org_scope

    @app.before_request
    def open_org_scope():
        g.org_scope = org_scope.enter(app.extensions["xiezuo"])

    @app.teardown_request
    def close_org_scope(_exc):
        token = g.pop("org_scope", None)
        if token is not None:
            org_scope.leave(token)


def create_app(config: WebConfig | None = None) -> Flask:
    """The Flask application for `config` (default: the embedded SQLite database)."""
    from flask_login import current_user

    from engine.bootstrap import bootstrap
    from engine.knowledge.words import load_segmenter
    from webui import auth, bounds, errors, forms_render, i18n, permissions, serving, views
    from webui.extensions import csrf, limiter, login_manager

    config = config or WebConfig()
    app = Flask(__name__, instance_path=config.instance_path, instance_relative_config=False)
    app.config.update(
        SECRET_KEY=_secret_key(app, config), TESTING=config.testing,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.session_cookie_secure, REMEMBER_COOKIE_SECURE=config.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True, WTF_CSRF_TIME_LIMIT=None, RATELIMIT_STORAGE_URI=config.ratelimit_storage_uri,
        RATELIMIT_HEADERS_ENABLED=True)
    bounds.init_app(app, config)  # first: its converter serves every route, its body limit precedes CSRF
    app.extensions["xiezuo"] = bootstrap(config.engine)
    load_segmenter()  # here, not on the first lesson of the first user
    app.extensions["xiezuo_config"] = config
    _one_connection_a_request(app)
    _read_the_organisation_once_a_request(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app, config)
    serving.security_headers(app)
    errors.init_app(app)
    permissions.init_app(app)
    app.register_blueprint(auth.bp)
    for blueprint in views.blueprints():
        app.register_blueprint(blueprint)

    @app.context_processor
    def endpoints():
        # Navigation shows the areas this app has (each lives in webui/views/) to those who may enter them.
        return {"has_endpoint": lambda name: name in app.view_functions,
                "may_enter": lambda area: permissions.may_enter(current_user, area),
                "date_bound": forms_render.date_bound, "text_limit": forms_render.text_limit}

    return app
