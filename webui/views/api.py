"""The JSON API, /api/v1: the inbox, requests and task operations for scripts and other systems.

A caller is signed in by its session (then, like every form of the pages, each POST and DELETE
carries the CSRF token, here in the X-CSRFToken header; GET /api/v1/me hands it out) or by a
personal token (`Authorization: Bearer xz_...`, no CSRF: no browser sends it by itself). Tokens
sign in to the API only, never to the pages. Every answer is JSON; errors are {code, message, ...}
(webui/errors.py for the engine's named errors). A task the caller may not act on, a request the
caller may not read and a token of someone else's are answered 404, as if they did not exist.
The OpenAPI document (webui/openapi.py) is served at /api/v1/openapi.json. The commands take an
Idempotency-Key header (webui/idempotency.py): a retry gets the first answer instead of a second run.
The texts of the process diagrams (task names, form labels, option names) come as the diagrams have
them, whatever the caller's language: scripts match on them and send option values back, and a token
has no page language. Only the pages show them translated (webui.i18n.process_text).
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException

from engine.audit.history import history, verification
from engine.audit.history_replay import replay
from engine.bpmn.form_validation import json_type_errors
from engine.errors import FormInvalid, InvalidInput, NotFound, PermissionDenied
from engine.messages import Msg
from engine.notify.notices import TABS, describe_request, inbox_listing, open_task_request
from engine.org.accounts import create_token, list_tokens, revoke_token, token_account
from engine.requests.records import add_comment
from engine.requests.request_view import request_header
from engine.requests.requests import REQUEST_PROCESS, submit_request
from engine.tasks.batch import approve_batch
from engine.tasks.operations import (
    cc_task,
    delegate_task,
    resolve_delegation,
    transfer_task,
    urge_task,
    withdraw_request,
)
from engine.workflow.instances import (
    claim_task,
    complete_task,
    describe_instance,
    form_bounds,
    release_task,
    start_form,
    task_form,
)
from webui.auth import WebUser
from webui.errors import HTTP_CODES, error_body, http_headers, http_message
from webui.extensions import csrf, login_manager, services
from webui.idempotency import idempotent
from webui.openapi import document
from webui.permissions import require_auditor
from webui.views.audit import history_filter
from webui.views.inbox import inbox_filter, int_arg, not_yours, sort_arg

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # checked in require_csrf_for_sessions: token calls carry no CSRF token
login_manager.blueprint_login_views[bp.name] = None  # not signed in: 401, not a redirect to the login page

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_PER_PAGE = 200


@login_manager.request_loader
def load_token_user(req) -> WebUser | None:
    """The owner of the personal token in `Authorization: Bearer ...`, for API calls only."""
    scheme, _sep, token = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or not req.path.startswith(bp.url_prefix + "/"):
        return None
    found = token_account(services(), token.strip())
    if found is None:
        return None
    g.api_token = True
    return WebUser(found)


@bp.before_request
def require_csrf_for_sessions():
    # A session cookie is sent by the browser on its own; a token is not. Unauthenticated calls
    # go on to login_required, which answers 401.
    if request.method not in SAFE_METHODS and current_user.is_authenticated and not g.get("api_token"):
        csrf.protect()


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    code = exc.code or 500
    if isinstance(exc, CSRFError):
        kind, message = "csrf_failed", _("会话调用须在 X-CSRFToken 请求头中带上 CSRF 令牌（GET /api/v1/me 给出）。")
    else:
        kind, message = HTTP_CODES.get(code, "error"), http_message(exc) or exc.name
    answer = jsonify({"code": kind, "params": {}, "message": message})
    answer.headers.extend(http_headers(exc))
    if code == 401:
        answer.headers["WWW-Authenticate"] = 'Bearer realm="xiezuo"'
    return answer, code


@bp.errorhandler(500)
def server_error(exc):
    return jsonify({"code": "internal_error", "params": {}, "message": _("服务器内部错误。")}), 500


def _body() -> dict:
    data = request.get_json(force=True, silent=True) if request.get_data() else {}
    if not isinstance(data, dict):
        raise InvalidInput("api.not_object")
    return data


def _text(body: dict, name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise InvalidInput("text.not_text", what=name)
    return value


def _command(result) -> dict:
    return {"instance_id": result.instance_id, "status": result.status, "opened_tasks": result.opened_tasks}


# ---------------------------------------------------------------------------------- who, and the inbox
@bp.get("/me")
@login_required
def me():
    """The caller: id, name, department, groups; with a session also the CSRF token for POST and DELETE."""
    found = {"id": current_user.id, "name": current_user.name, "department_id": current_user.department_id,
             "department_name": current_user.department_name, "groups": sorted(current_user.groups),
             "is_admin": current_user.is_admin, "is_auditor": current_user.is_auditor,
             "locale": current_user.locale, "timezone": current_user.timezone,
             "auth": "token" if g.get("api_token") else "session"}
    if not g.get("api_token"):
        found["csrf_token"] = generate_csrf()
    return jsonify(found)


@bp.get("/inbox")
@login_required
def inbox():
    """One list of the caller's inbox (mine, group, cc, done), filtered, sorted and paged."""
    which = request.args.get("which", "mine")
    if which not in TABS:
        raise InvalidInput("choice.unknown", what=Msg("what.tab"), given=which[:40], known=list(TABS))
    page = inbox_listing(services(), current_user.id, which, inbox_filter(request.args), sort_arg(request.args),
                         int_arg(request.args, "page", 1), int_arg(request.args, "per_page", 50, high=MAX_PER_PAGE))
    return jsonify(page.to_dict())


# ---------------------------------------------------------------------------------- requests
@bp.post("/requests")
@login_required
@idempotent
def submit():
    """File a request (template 1); 201 with its number."""
    body = _body()
    wrong = json_type_errors(start_form(services(), REQUEST_PROCESS), body)  # JSON carries types; pages send text
    if wrong:
        raise FormInvalid(wrong)
    started = submit_request(services(), current_user.id, body)
    number = describe_instance(services(), started.instance_id)["business_key"]
    answer = jsonify({**_command(started), "request_no": number})
    answer.headers["Location"] = f"{bp.url_prefix}/requests/{started.instance_id}"
    return answer, 201


@bp.get("/requests/<instance_id>")
@login_required
def request_detail(instance_id: str):
    """A request, for its people, the admins and the auditors (404 for anyone else)."""
    return jsonify(describe_request(services(), instance_id, current_user.id))


@bp.get("/requests/<instance_id>/history")
@login_required
def request_history(instance_id: str):
    """A request's every event in order with actor, element and data changes, and its verification state
    (auditors and platform admins; filtered by type, actor, since, until as on the history page)."""
    require_auditor(current_user)
    request_header(services(), instance_id)
    f, problems = history_filter(request.args)
    if problems:
        raise InvalidInput("filter.invalid", problems=problems)
    rows = history(services(), instance_id, f, reader=current_user.id)
    return jsonify({"instance_id": instance_id, "filter": f.to_dict(),
                    "verification": verification(services(), instance_id),
                    "events": [{**r, "at": r["at"].isoformat()} for r in rows]})


@bp.get("/requests/<instance_id>/replay")
@login_required
def request_replay(instance_id: str):
    """A request's replay: the diagrams of its version, its scopes and its steps with the state after each
    (auditors and platform admins)."""
    require_auditor(current_user)
    request_header(services(), instance_id)
    return jsonify(replay(services(), instance_id, reader=current_user.id))


@bp.post("/requests/<instance_id>/withdraw")
@login_required
@idempotent
def withdraw(instance_id: str):
    """The requester withdraws the request while nobody else has acted on it."""
    body = _body()
    return jsonify(_command(withdraw_request(services(), instance_id, current_user.id, _text(body, "reason"))))


# ---------------------------------------------------------------------------------- tasks
@bp.get("/tasks/<task_id>")
@login_required
def task(task_id: str):
    """A task's form and data, for whoever may complete it."""
    with not_yours():
        return jsonify(task_form(services(), task_id, current_user.id))


@bp.post("/tasks/<task_id>/complete")
@login_required
@idempotent
def complete(task_id: str):
    """Complete a task with {"data": {...}} checked against its form (422 with the fields)."""
    data = _body().get("data", {})
    if not isinstance(data, dict):
        raise InvalidInput("data.not_object", what="data")
    with not_yours():
        return jsonify(_command(complete_task(services(), task_id, current_user.id, data)))


@bp.post("/tasks/batch-approve")
@login_required
@idempotent
def batch_approve():
    """批量审批: each task done as its step's batch decision with one comment; a result per task."""
    body = _body()
    ids = body.get("task_ids")
    if not isinstance(ids, list) or not all(isinstance(t, str) for t in ids):
        raise InvalidInput("api.not_list", what="task_ids")
    results = approve_batch(services(), current_user.id, ids, _text(body, "comment"))
    return jsonify({"results": [{**{k: v for k, v in r.items() if k != "error"},
                                 **({"error": error_body(r["error"])} if "error" in r else {})} for r in results]})


@bp.post("/tasks/<task_id>/claim")
@login_required
@idempotent
def claim(task_id: str):
    """Claim a task offered to the caller or their group."""
    with not_yours():
        return jsonify(_command(claim_task(services(), task_id, current_user.id)))


@bp.post("/tasks/<task_id>/release")
@login_required
@idempotent
def release(task_id: str):
    """Give a claimed task back to its candidates."""
    with not_yours():
        return jsonify(_command(release_task(services(), task_id, current_user.id)))


@bp.post("/tasks/<task_id>/transfer")
@login_required
@idempotent
def transfer(task_id: str):
    """转办: the task becomes another user's."""
    body = _body()
    with not_yours():
        return jsonify(_command(transfer_task(services(), task_id, current_user.id, _text(body, "to_user"),
                                              _text(body, "reason"))))


@bp.post("/tasks/<task_id>/delegate")
@login_required
@idempotent
def delegate(task_id: str):
    """委派: another user works on the task and hands it back."""
    body = _body()
    with not_yours():
        return jsonify(_command(delegate_task(services(), task_id, current_user.id, _text(body, "to_user"),
                                              _text(body, "reason"))))


@bp.post("/tasks/<task_id>/resolve")
@login_required
@idempotent
def resolve(task_id: str):
    """Hand a delegated task back to whoever delegated it."""
    body = _body()
    with not_yours():
        return jsonify(_command(resolve_delegation(services(), task_id, current_user.id, _text(body, "comment"))))


@bp.post("/tasks/<task_id>/cc")
@login_required
@idempotent
def cc(task_id: str):
    """抄送: copy the task to users for their information."""
    body = _body()
    to_users = body.get("to_users")
    if not isinstance(to_users, list) or not all(isinstance(u, str) for u in to_users):
        raise InvalidInput("value.not_ids", what="to_users")
    with not_yours():
        return jsonify(_command(cc_task(services(), task_id, current_user.id, to_users, _text(body, "note"))))


@bp.post("/tasks/<task_id>/urge")
@login_required
@idempotent
def urge(task_id: str):
    """催办: remind whoever has to act on the task (the requester and the admins may)."""
    body = _body()
    with not_yours():
        return jsonify(_command(urge_task(services(), task_id, current_user.id, _text(body, "message"))))


@bp.post("/tasks/<task_id>/comment")
@login_required
@idempotent
def comment(task_id: str):
    """Comment on an open task (a record of its request); 201 with the comment's id."""
    body = _body()
    with not_yours():
        record = add_comment(services(), open_task_request(services(), task_id), current_user.id,
                             _text(body, "body"), task_id=task_id)
    return jsonify({"id": record}), 201


# ---------------------------------------------------------------------------------- personal tokens
@bp.get("/tokens")
@login_required
def tokens():
    """The caller's personal tokens (never the tokens themselves)."""
    return jsonify({"items": list_tokens(services(), current_user.id)})


@bp.post("/tokens")
@login_required
def new_token():
    """A new personal token, shown this once; only a session (signed in with the password) may make one."""
    if g.get("api_token"):
        raise PermissionDenied("token.by_token")
    name = _text(_body(), "name")
    return jsonify({"name": name.strip(), "token": create_token(services(), current_user.id, name)}), 201


@bp.delete("/tokens/<int:token_id>")
@login_required
@idempotent
def revoke(token_id: int):
    """Revoke one of the caller's tokens."""
    with not_yours():
        revoke_token(services(), current_user.id, token_id)
    return "", 204


@bp.get("/openapi.json")
@login_required
def openapi():
    """This API described as OpenAPI 3.1, the request form as the deployed request process has it."""
    try:
        form = start_form(services(), REQUEST_PROCESS)
    except NotFound:
        return jsonify(document(None))
    return jsonify(document(form, form_bounds(services(), form, {})))
