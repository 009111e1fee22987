"""Sign-in and sign-out (Flask-Login over sessions kept on the server, argon2 passwords, failed attempts
throttled per address and locked per name), choosing one's own password, language and time zone."""

from __future__ import annotations

import hmac
import math
import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from engine.errors import AccountLocked, FormInvalid, SignInFailed
from engine.org.accounts import MIN_PASSWORD, Account, change_password, set_preferences
from engine.org.sign_in import session_account, sign_in, sign_out
from webui.errors import status_of, wants_json
from webui.extensions import limiter, login_manager, services, web_config
from webui.i18n import message

bp = Blueprint("auth", __name__)
SESSION_TOKEN = "sid"  # the key of the session's token in the cookie (its hash is the user_session row)
# What a user who must first choose their own password may still open.
OPEN_BEFORE_CHOOSING = {"auth.choose_password", "auth.logout", "auth.language", "static"}


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
    """The session's user, unless it was signed out, idle or too old on the server, the user was switched
    off, or the password changed since the session signed in."""
    user_id, _bar, stamp = session_id.rpartition("|")
    found = session_account(services(), user_id, session.get(SESSION_TOKEN), web_config().sign_in_policy)
    if found is None or not hmac.compare_digest(found.stamp, stamp):
        return None
    return WebUser(found)


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(), Length(max=256)])


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


def _minutes_until(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


def _too_many_sign_ins(limit):
    """The sign-in page when this address failed too often (in the reader's language, not the limit's text)."""
    seconds = limit.reset_at - time.time()
    flash(_("此网络地址登录失败次数过多，请 %(minutes)s 分钟后再试。", minutes=_minutes_until(seconds)), "error")
    answer = render_template("login.html", form=LoginForm()), 429
    return _with_retry_after(answer, seconds)


def too_many_attempts(limit):
    """An error page for a throttled form (e.g. wrong current passwords), saying when to try again."""
    seconds = limit.reset_at - time.time()
    answer = render_template("error.html", error=None, code=429,
                             description=_("请 %(minutes)s 分钟后再试。", minutes=_minutes_until(seconds))), 429
    return _with_retry_after(answer, seconds)


def _with_retry_after(answer, seconds: float):
    response = make_response(answer)
    response.headers["Retry-After"] = str(max(1, int(seconds)))  # whole seconds, never 0
    return response


def _failed_only(response) -> bool:
    # Only failures count against the throttle: a successful sign-in answers with a redirect.
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: web_config().login_limit, key_func=get_remote_address, methods=["POST"],
               deduct_when=_failed_only, on_breach=_too_many_sign_ins)
def login():
    """Sign in."""
    if current_user.is_authenticated:
        return redirect(url_for("pages.inbox"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("login.html", form=form), 400 if request.method == "POST" else 200
    try:
        done = sign_in(services(), form.username.data, form.password.data, request.remote_addr,
                       request.user_agent.string, web_config().sign_in_policy)
    except SignInFailed as exc:
        flash(_("用户名或密码不正确。"), "error")
        return render_template("login.html", form=form), status_of(exc)
    except AccountLocked as exc:
        seconds = (exc.until - services().now()).total_seconds()
        flash(_("登录失败次数过多，该账号已暂时锁定：请 %(minutes)s 分钟后（%(time)s 起）再试，或请平台管理员解锁。",
                minutes=_minutes_until(seconds), time=format_datetime(exc.until, "HH:mm")), "error")
        return _with_retry_after((render_template("login.html", form=form), status_of(exc)), seconds)
    session.clear()  # a fresh session on sign-in
    session[SESSION_TOKEN] = done.token
    login_user(WebUser(done.account))
    if done.account.locale:
        session["locale"] = done.account.locale
    return redirect(safe_next(request.args.get("next")))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out: the session ends on the server too, so a copy of its cookie opens nothing."""
    sign_out(services(), session.get(SESSION_TOKEN), request.remote_addr, request.user_agent.string)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.before_app_request
def own_password_first():
    """Someone whose password an admin gave chooses their own before anything else."""
    if request.endpoint in OPEN_BEFORE_CHOOSING or not current_user.is_authenticated or g.get("api_token"):
        return None
    if not current_user.must_change_password:
        return None
    if wants_json():
        return jsonify({"code": "password_change_required", "params": {},
                        "message": _("请先设置您自己的密码（在 /password 页面）。")}), 403
    target = (request.full_path if request.query_string else request.path) if request.method == "GET" else None
    return redirect(url_for("auth.choose_password", next=target))


def change_own_password(form, revoke_tokens: bool) -> tuple[Account | None, dict]:
    """Change the signed-in user's password from a form (current, new, confirm): the account with its
    new stamp, or the errors by field. This session stays signed in; every other one ends."""
    current, new, confirm = (form.get(k, "") for k in ("current", "new", "confirm"))
    if new != confirm:
        return None, {"confirm": _("两次输入的新密码不一致。")}
    try:
        changed = change_password(services(), current_user.id, current, new, revoke_tokens=revoke_tokens)
    except FormInvalid as exc:
        texts = {"current": _("当前密码不正确。"),
                 "new": _("新密码至少 %(n)s 个字符，最多 256 个，且不能与当前密码相同。", n=MIN_PASSWORD)}
        return None, {k: texts.get(k, message(v)) for k, v in exc.errors.items()}
    login_user(WebUser(changed))
    return changed, {}


@bp.route("/password", methods=["GET", "POST"])
@login_required
@limiter.limit(lambda: web_config().password_change_limit, key_func=lambda: f"password|{current_user.id}",
               methods=["POST"], deduct_when=_failed_only, on_breach=too_many_attempts)
def choose_password():
    """Choose one's own password in place of the one an admin gave."""
    if not current_user.must_change_password:
        return redirect(safe_next(request.args.get("next")))
    errors = {}
    if request.method == "POST":
        changed, errors = change_own_password(request.form, revoke_tokens=False)
        if changed is not None:
            flash(_("密码已设置，以后请用新密码登录。"), "success")
            return redirect(safe_next(request.args.get("next")))
    return render_template("choose_password.html", errors=errors, min_password=MIN_PASSWORD), 400 if errors else 200


@bp.route("/language/<locale>", methods=["POST"])
def language(locale: str):
    """Switch the language (remembered for a signed-in user)."""
    if locale not in web_config().locales:
        abort(404)
    session["locale"] = locale
    if current_user.is_authenticated:
        set_preferences(services(), current_user.id, locale=locale)
    return redirect(safe_next(request.form.get("next")))
