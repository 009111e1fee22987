"""Sign-in and sign-out (Flask-Login, argon2 passwords, throttled), language and time zone."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from engine.services.accounts import Account, account, check_password, set_preferences
from webui.extensions import limiter, login_manager, services, web_config

bp = Blueprint("auth", __name__)


class WebUser(UserMixin):
    """The signed-in user: the engine's account."""

    def __init__(self, acc: Account):
        self.account = acc
        self.id = acc.id

    def __getattr__(self, name):
        return getattr(self.account, name)

    def get_id(self) -> str:
        """What the session keeps: the user and the stamp of the password signed in with."""
        return f"{self.id}|{self.account.stamp}"


@login_manager.user_loader
def load_user(session_id: str) -> WebUser | None:
    """The session's user, unless switched off or the password changed since the session signed in."""
    user_id, _bar, stamp = session_id.rpartition("|")
    found = account(services(), user_id) if user_id else None
    if found is None or not hmac.compare_digest(found.stamp, stamp):
        return None
    return WebUser(found)


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(), Length(max=256)])


def _login_key() -> str:
    return f"{request.remote_addr}|{(request.form.get('username') or '').strip().lower()}"


def safe_next(target: str | None) -> str:
    """`target` if it is a path on this site, else the inbox: a crafted ?next= must not send a signed-in
    user to another site, nor put a line break into the Location header."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("pages.inbox")
    # Browsers drop tabs and line breaks inside a URL ("/\t/evil.example" becomes "//evil.example"), and
    # a line break cannot go into a header: any space, control or invisible character is refused.
    if any(ch.isspace() or not ch.isprintable() for ch in target):
        return url_for("pages.inbox")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("pages.inbox")
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: web_config().login_limit, key_func=_login_key, methods=["POST"])
def login():
    """Sign in."""
    if current_user.is_authenticated:
        return redirect(url_for("pages.inbox"))
    form = LoginForm()
    if form.validate_on_submit():
        found = check_password(services(), form.username.data.strip(), form.password.data)
        if found is not None:
            session.clear()  # a fresh session on sign-in
            login_user(WebUser(found))
            if found.locale:
                session["locale"] = found.locale
            return redirect(safe_next(request.args.get("next")))
        flash(_("用户名或密码不正确。"), "error")
    return render_template("login.html", form=form), 400 if request.method == "POST" else 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/language/<locale>", methods=["POST"])
def language(locale: str):
    """Switch the language (remembered for a signed-in user)."""
    if locale not in web_config().locales:
        abort(404)
    session["locale"] = locale
    if current_user.is_authenticated:
        set_preferences(services(), current_user.id, locale=locale)
    return redirect(safe_next(request.form.get("next")))
