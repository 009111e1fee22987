"""The OpenAPI 3.1 document of /api/v1 (webui/views/api.py), served at /api/v1/openapi.json.

It says what the server enforces: the required fields, the lengths and types the services check
(the request form's from its deployed diagram), every status each call answers with, errors included.
Tests check that it lists exactly the routes the API registers, and run the API against it
(schemathesis): no server error, every answer as documented.
"""

from __future__ import annotations

from copy import deepcopy

from engine.bpmn.form_bounds import DEFAULT_MAX_LENGTH, Bounds, max_items
from engine.bpmn.forms import Form, FormField
from engine.requests.record_rows import TEXT_MAX
from engine.tasks.operations import CC_LIMIT, TEXT_LIMIT
from webui.bounds import MAX_JSON_DEPTH

S, INT, B = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
NULL_TIME = {"type": ["string", "null"], "format": "date-time"}
NULL_S = {"type": ["string", "null"]}
STRINGS = {"type": "array", "items": S}
OBJECT = {"type": "object"}
USER_ID = {"type": "string", "minLength": 1, "maxLength": 64, "description": "a user id"}


def _text(limit: int, required: bool = True) -> dict:
    """A text the server trims: required means something besides spaces (the pattern says so)."""
    return {"type": "string", "maxLength": limit, **({"minLength": 1, "pattern": r"\S"} if required else {})}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str] | None = None, **props) -> dict:
    found = {"type": "object", "properties": props}
    if required:
        found["required"] = required
    return found


def _page(item: dict) -> dict:
    return _obj(["items", "total", "page", "per_page"], items={"type": "array", "items": item}, total=INT, page=INT,
                per_page=INT)


REQUEST_SUMMARY = _obj(
    request_no=S, title=S, request_type=NULL_S, urgency=NULL_S, priority=NULL_S, requester=S, requester_name=S,
    requester_dept=NULL_S, requester_dept_name=NULL_S, lead_dept=NULL_S, lead_dept_name=NULL_S,
    involved_depts=STRINGS, submitted_at=TIME)
MARKERS = {"request": {"oneOf": [_ref("RequestSummary"), {"type": "null"}]},
           "overdue": {**B, "description": "due before now"},
           "red_warning": {**B, "description": "the request's plan has red warnings (红色预警)"}}
TASK = _obj(
    task_id=S, instance_id=S, process_id=S, process_version=INT, business_key=NULL_S, name=S, element_id=S,
    lane=NULL_S, assignee=NULL_S, candidate_users=STRINGS, candidate_groups=STRINGS, created_at=TIME,
    due_at=NULL_TIME, priority=INT, delegated_by=NULL_S)
INBOX_TASK = {**TASK, "properties": {**TASK["properties"], **MARKERS}}
CC_ITEM = _obj(id=INT, instance_id=S, business_key=NULL_S, task_id=S, element_id=NULL_S, task_name=S, from_user=S,
               to_user=S, note=S, created_at=TIME, read_at=NULL_TIME, **MARKERS)
DONE_ITEM = _obj(instance_id=S, business_key=NULL_S, title=NULL_S, process_id=S, instance_status=S, task_id=S,
                 element_id=S, name=S, completed_at=TIME, on_behalf_of=NULL_S, **MARKERS)
COMMAND = _obj(["instance_id", "status", "opened_tasks"], instance_id=S,
               status={"enum": ["running", "completed", "cancelled", "errored"]},
               opened_tasks={**STRINGS, "description": "ids of the tasks the command opened"})
SCHEMAS = {
    "Error": _obj(["code", "params", "message"],
                  code={**S, "description": "the kind of error, one per HTTP meaning (not_found, form_invalid, ...)"},
                  message_code={**S, "description": "engine errors: which message of the catalogue says what exactly "
                                                    "(e.g. user.unknown); with params a client may word it itself"},
                  params={"type": "object", "description": "the values the message names (ids, limits, ISO times)"},
                  message={**S, "description": "the message in the caller's language (the user's setting, else "
                                               "Accept-Language) and time zone"},
                  fields={"type": "object", "additionalProperties": S,
                          "description": "form_invalid: one message per field, in the caller's language"},
                  field_codes={"type": "object", "description": "form_invalid: each field's message as "
                                                                "{code, params}",
                               "additionalProperties": _obj(["code", "params"], code=S, params={"type": "object"})}),
    "Me": _obj(["id", "name", "groups", "auth"], id=S, name=S, department_id=NULL_S, department_name=NULL_S,
               groups=STRINGS, is_admin=B, is_auditor=B, locale=NULL_S, timezone=NULL_S,
               auth={"enum": ["session", "token"]},
               csrf_token={**S, "description": "session callers only: send it as X-CSRFToken"}),
    "RequestSummary": REQUEST_SUMMARY,
    "InboxTask": INBOX_TASK,
    "CcItem": CC_ITEM,
    "DoneItem": DONE_ITEM,
    "InboxPage": _page({"anyOf": [_ref("InboxTask"), _ref("CcItem"), _ref("DoneItem")]}),
    "CommandResult": COMMAND,
    "Submitted": {**COMMAND, "required": [*COMMAND["required"], "request_no"],
                  "properties": {**COMMAND["properties"], "request_no": {**S, "examples": ["XMBG-202611001"]}}},
    "Request": _obj(
        ["id", "process_id", "status", "open_tasks", "history"], id=S, process_id=S, version=INT,
        business_key=NULL_S, initiator=S, status=S, created_at=TIME, completed_at=NULL_TIME, next_due_at=NULL_TIME,
        error={"type": ["object", "null"]}, open_tasks={"type": "array", "items": TASK},
        history={"type": "array", "items": _obj(seq=INT, type=S, actor=S, at=TIME, element_id=NULL_S, task_id=NULL_S,
                                                 data=OBJECT)},
        request={"oneOf": [_ref("RequestSummary"), {"type": "null"}]},
        red_warnings={"type": "array", "items": _obj(task_key=S, title=S, department_id=S, owner=S,
                                                     planned_end={**S, "format": "date"}, reasons=STRINGS,
                                                     latest={"type": ["integer", "null"]})}),
    "TaskForm": _obj(["task_id", "form", "data"], task_id=S, element_id=S, name=S,
                     form=_obj(key=NULL_S, fields={"type": "array", "items": OBJECT},
                               access={"type": "object", "description": "field id -> readonly or hidden at this step",
                                       "additionalProperties": {"enum": ["readonly", "hidden"]}},
                               batch=_obj(["field", "value"], field=S, value=S, comment=S)), data=OBJECT),
    "BatchResult": _obj(["results"], results={"type": "array", "items": _obj(
        ["task_id", "ok"], task_id=S, ok=B, task=NULL_S, request=NULL_S,
        error={**OBJECT, "description": "why this task was not done (code, message_code, params, message)"})}),
    "History": _obj(
        ["instance_id", "events", "verification"], instance_id=S, filter=OBJECT,
        verification=_obj(["verified", "problems"], verified=B, problems={"type": "array", "items": OBJECT},
                          events=INT, anchored_at=NULL_TIME),
        events={"type": "array", "items": _obj(
            seq={"type": ["integer", "null"], "description": "position in the audit chain; null for a notification"},
            type=S, category={"enum": ["user", "engine", "timer", "notification", "record", "view"]}, actor=S,
            actor_name=NULL_S, at=TIME, element_id=NULL_S, element_name=NULL_S, task_id=NULL_S, data=OBJECT,
            changes={"type": "array", "items": _obj(field=S, label=NULL_S, before={}, after={}, changed=B,
                                                    before_text=S, after_text=S)})}),
    "Replay": _obj(
        ["instance_id", "scopes", "diagrams", "steps"], instance_id=S, request_no=NULL_S, status=S, process_id=S,
        version=INT, scopes={"type": "object", "description": "main, and one per run of a called process (by the "
                                                              "call's task id)"},
        diagrams={"type": "object", "description": "process id -> {name, xml}"},
        steps={"type": "array", "items": _obj(
            n=INT, seq=INT, first_seq=INT, type=S, actor=S, actor_name=NULL_S, at=TIME, element_id=NULL_S,
            scope=S, events={"type": "array", "items": OBJECT}, inputs={"type": "array", "items": OBJECT},
            data={"type": ["object", "null"]}, open={"type": "array", "items": OBJECT},
            scopes={"type": "object", "description": "scope -> {completed: {element: times}, flows, active, "
                                                     "errored}"})}),
    "Token": _obj(["id", "name", "created_at", "revoked"], id=INT, name=S, created_at=TIME, last_used_at=NULL_TIME,
                  revoked=B),
    "NewToken": _obj(["name", "token"], name=S, token={**S, "description": "shown once; keep it secret"}),
}

ERRORS = {
    "400": "invalid_input (a value the call does not take, JSON nested deeper than the limit, a bad "
           "Idempotency-Key), bad_request, or csrf_failed (a session call without X-CSRFToken)",
    "401": "unauthorized: no session and no valid token",
    "403": "permission_denied: not allowed to the caller",
    "404": "not_found: does not exist, or not the caller's to see or act on",
    "409": "task_not_ready or stale_instance: no longer open, or changed meanwhile; with an Idempotency-Key "
           "also idempotency_in_progress (its first call still runs) or idempotency_answer_lost (it ran, its "
           "answer was not kept)",
    "413": "too_large: the body is over the size limit",
    "422": "form_invalid (one message per field in `fields`), or idempotency_key_reused (the key came with "
           "another request)",
}
COMMAND_ERRORS = ("400", "401", "404", "409", "413", "422")  # a command, keyed or not, can answer each


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"},
    "description": "1-255 visible ASCII characters (e.g. a UUID), the caller's own: the call runs once; sent "
                   "again with the same body, the first answer comes back (Idempotent-Replayed: true); with "
                   "another request it is 422 idempotency_key_reused. Kept 24 hours (XIEZUO_IDEMPOTENCY_HOURS).",
}
REPLAYED = {"Idempotent-Replayed": {"description": "true: the answer of the first call with this Idempotency-Key",
                                    "schema": {"enum": ["true"]}}}


def _op(summary: str, answer: str | dict | None, *, code: str = "200", body: str | dict | None = None,
        errors: tuple[str, ...] = ("400", "401"), params: list[dict] | None = None, tag: str = "tasks",
        command: bool = False) -> dict:
    """One operation; a `command` takes an Idempotency-Key and may answer any of COMMAND_ERRORS."""
    content = {} if answer is None else _json(_ref(answer) if isinstance(answer, str) else answer)
    responses = {code: {"description": summary, **content}}
    params = list(params or [])
    if command:
        errors = tuple(sorted(set(errors) | set(COMMAND_ERRORS)))
        params.append(IDEMPOTENCY_KEY)
        responses[code]["headers"] = dict(REPLAYED)
    for status in errors:
        responses[status] = {"description": ERRORS[status], **_json(_ref("Error"))}
    found = {"summary": summary, "tags": [tag], "responses": responses}
    if body is not None:
        schema = _ref(body) if isinstance(body, str) else body
        found["requestBody"] = {"required": True, **_json(schema)}
    if params:
        found["parameters"] = params
    return found


def _path(name: str, schema: dict = S) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


TASK_ID = [_path("task_id")]
INSTANCE_ID = [_path("instance_id")]
PAGE = {**INT, "minimum": 1, "maximum": 10_000, "default": 1}
INBOX_QUERY = [
    _query("which", {"enum": ["mine", "group", "cc", "done"], "default": "mine"},
           "mine: my tasks; group: offered to my groups (unclaimed); cc: copied to me; done: completed by me"),
    _query("sort", {"enum": ["due", "-due", "priority", "-priority", "created", "-created", ""], "default": "due"},
           "mine and group only; empty: due"),
    _query("request_type", S, "mine and group only"), _query("urgency", S, "mine and group only"),
    _query("department", S, "a department the request involves (requester's, lead or involved); mine and group"),
    _query("overdue", S, "1, true, yes or on: only tasks due before now (anything else: all); mine and group"),
    _query("text", S, "in the task name or the request number; mine and group"),
    _query("process_id", S), _query("business_key", S),
    _query("page", PAGE), _query("per_page", {**INT, "minimum": 1, "maximum": 200, "default": 50}),
]


HISTORY_QUERY = [
    _query("type", S, "a category (user, engine, timer, notification, record, view), data (events that changed "
                      "data) or an event type"),
    _query("actor", S, "a user id"), _query("since", S, "a date (whole day) or a date-time"),
    _query("until", S, "a date (whole day) or a date-time")]
REASON = _text(TEXT_LIMIT)
HAND_OVER = _obj(["to_user", "reason"], to_user=USER_ID, reason=REASON)


def _task_op(summary: str, body: dict | None, answer: str | dict | None = "CommandResult", code: str = "200",
             tag: str = "tasks") -> dict:
    return {"post": _op(summary, answer, code=code, body=body, params=TASK_ID, command=True, tag=tag)}


PATHS = {
    "/me": {"get": _op("The caller", "Me", errors=("401",), tag="me")},
    "/inbox": {"get": _op("One list of the caller's inbox, filtered, sorted and paged", "InboxPage",
                          params=INBOX_QUERY, tag="inbox")},
    "/requests": {"post": _op("File a request (template 1, 跨部门沟通需求申请表); the number is assigned",
                              "Submitted", code="201", body="NewRequest", tag="requests", command=True)},
    "/requests/{instance_id}": {"get": _op(
        "A request: status, open tasks, history, summary and red warnings. Readable by its people (the "
        "requester, whoever holds or held one of its tasks, members of the groups its tasks were offered to, "
        "owners of its plan tasks, their substitutes today), the platform admins and the auditors",
        "Request", errors=("401", "404"), params=INSTANCE_ID, tag="requests")},
    "/requests/{instance_id}/history": {"get": _op(
        "A request's every audit event in order (user operations, engine steps, timers, notifications, records, "
        "auditors' views) with actor, element and before/after values, and its verification state; auditors and "
        "platform admins only (404 for anyone else). Dates are whole days in the caller's time zone",
        "History", errors=("400", "401", "404"), params=[*INSTANCE_ID, *HISTORY_QUERY], tag="audit")},
    "/requests/{instance_id}/replay": {"get": _op(
        "A request's replay: the BPMN of its version and of the processes it called, its scopes (one per call) "
        "and its steps, each with the open tasks, the elements passed, the flows taken and the active elements "
        "after it; auditors and platform admins only", "Replay", errors=("401", "404"), params=INSTANCE_ID,
        tag="audit")},
    "/requests/{instance_id}/withdraw": {"post": _op(
        "撤回: the requester cancels the request while nobody else has acted on it (403 for anyone else)",
        "CommandResult", body=_obj(["reason"], reason=REASON), errors=("403",), params=INSTANCE_ID,
        tag="requests", command=True)},
    "/tasks/{task_id}": {"get": _op("A task's form and data, for whoever may complete it", "TaskForm",
                                    errors=("401", "404", "409"), params=TASK_ID)},
    "/tasks/{task_id}/complete": _task_op(
        "Complete the task; data (default {}) is checked against its form: 422 with one message per field",
        _obj(data={**OBJECT, "description": "the form's values by field id, as GET /tasks/{task_id} lists them"})),
    "/tasks/batch-approve": {"post": _op(
        "批量审批: complete each task (of a step that allows it) as the step's batch decision with one comment; "
        "each is its own command, a refusal is reported for its task only", "BatchResult",
        body=_obj(["task_ids"], task_ids={"type": "array", "minItems": 1, "maxItems": 100, "items": S},
                  comment=_text(TEXT_LIMIT, required=False)), command=True)},
    "/tasks/{task_id}/claim": _task_op("Claim a task offered to the caller or their group", None),
    "/tasks/{task_id}/release": _task_op("Give a claimed task back to its candidates", None),
    "/tasks/{task_id}/transfer": _task_op("转办: the task becomes another user's", HAND_OVER),
    "/tasks/{task_id}/delegate": _task_op("委派: another user works on it and hands it back (claim a group task first)",
                                          HAND_OVER),
    "/tasks/{task_id}/resolve": _task_op("The delegate hands a delegated task back",
                                         _obj(comment=_text(TEXT_LIMIT, required=False))),
    "/tasks/{task_id}/cc": _task_op("抄送: copy the task to users for their information",
                                    _obj(["to_users"], to_users={"type": "array", "items": {**S, "maxLength": 64},
                                                                 "minItems": 1, "maxItems": CC_LIMIT,
                                                                 "description": "user ids (empty ones are skipped)"},
                                         note=_text(TEXT_LIMIT, required=False))),
    "/tasks/{task_id}/urge": _task_op("催办: remind whoever has to act (the requester or an admin; once an hour)",
                                      _obj(message=_text(TEXT_LIMIT, required=False))),
    "/tasks/{task_id}/comment": _task_op("Comment on an open task (a record of its request)",
                                         _obj(["body"], body=_text(TEXT_MAX)), _obj(["id"], id=INT), code="201"),
    "/tokens": {
        "get": _op("The caller's personal tokens (never the tokens themselves)",
                   _obj(["items"], items={"type": "array", "items": _ref("Token")}), errors=("401",), tag="tokens"),
        "post": _op("A new personal token, shown once; with a session only (403 with a token). It takes no "
                    "Idempotency-Key: the token is never kept to be shown again", "NewToken", code="201",
                    body=_obj(["name"], name={**_text(255), "description": "a longer name is cut to 255"}),
                    errors=("400", "401", "403", "413"), tag="tokens"),
    },
    "/tokens/{token_id}": {"delete": _op("Revoke one of the caller's tokens", None, code="204",
                                         params=[_path("token_id", INT)], tag="tokens",
                                         command=True)},
    "/openapi.json": {"get": _op("This document", OBJECT, errors=("401",), tag="me")},
}
NOTE = (f"Sign in with a session (send X-CSRFToken from GET /me on POST and DELETE) or a personal token "
        f"(Authorization: Bearer xz_...). Errors are {{code, message}}. A task, request or token the caller may "
        f"not act on or see is 404. Bodies without files are limited in size (413) and JSON in nesting "
        f"({MAX_JSON_DEPTH} levels, 400). A command (POST, DELETE) sent with an Idempotency-Key runs once.")
FIELD_TYPES = {"long": INT, "double": {"type": "number"}, "boolean": B, "date": {**S, "format": "date"},
               "datetime": {**S, "format": "date-time"}, "table": {"type": "array", "items": OBJECT}}


def _field_schema(fld: FormField, bounds: Bounds) -> dict:
    """What the server takes for one form field (engine.bpmn.forms.validate_submission, form_bounds)."""
    known = sorted(bounds.departments) if fld.type.startswith("department") and bounds.departments else None
    if fld.type == "enum":
        found = {"enum": [value for value, _name in fld.options]}
    elif fld.type in ("users", "departments", "files"):
        found = {"type": "array", "items": {"enum": known} if known else S, "maxItems": max_items(fld),
                 **({"minItems": fld.minlength} if fld.minlength else {})}
    elif fld.type == "department" and known:
        found = {"enum": known}
    elif fld.type in FIELD_TYPES:
        found = dict(FIELD_TYPES[fld.type])
        if fld.type == "date" and fld.properties.get("minDate") == "today" and bounds.today:
            # JSON Schema has no bound for a date: it is said, and today is the example.
            found.update(description=f"not before today ({bounds.today.isoformat()})",
                         examples=[bounds.today.isoformat()])
        found.update({"minimum": fld.min} if fld.min is not None and fld.type in ("long", "double") else {})
        found.update({"maximum": fld.max} if fld.max is not None and fld.type in ("long", "double") else {})
    else:  # string, text (at most DEFAULT_MAX_LENGTH characters unless the form says), user, department, file
        longest = fld.maxlength or (DEFAULT_MAX_LENGTH if fld.type in ("string", "text") else None)
        found = {**S, **({"maxLength": longest} if longest else {})}
        found.update({"minLength": fld.minlength or 1} if fld.required or fld.minlength else {})
        found.update({"pattern": fld.pattern} if fld.pattern else {})
    if fld.required and found.get("type") == "array":
        found["minItems"] = max(1, found.get("minItems", 0))
    if fld.default is not None:
        found["default"] = fld.default
    if not fld.required:  # null is a field left out
        found = {"anyOf": [found, {"type": "null"}]}
    if fld.label:
        found["description"] = f"{fld.label}: {found['description']}" if "description" in found else fld.label
    return found


def form_schema(form: Form | None, bounds: Bounds | None = None) -> dict:
    """The body a start form takes: its fields, the required ones without a default, nothing else;
    departments among those that exist, when `bounds` knows them."""
    if form is None or not form.fields:
        return {**OBJECT, "description": "the request process is not deployed"}
    fields = [f for f in form.fields if not f.readonly]
    required = [f.id for f in fields if f.required and f.default is None]
    return {**_obj(required, **{f.id: _field_schema(f, bounds or Bounds()) for f in fields}),
            "additionalProperties": False}


def document(request_form: Form | None = None, bounds: Bounds | None = None) -> dict:
    """The OpenAPI 3.1 document (a fresh copy), with the request form of the deployed request process."""
    return deepcopy({
        "openapi": "3.1.0",
        "info": {"title": "Xiezuo 协作 API", "version": "1", "description": NOTE},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerToken": []}, {"session": []}],
        "paths": PATHS,
        "components": {
            "schemas": {**SCHEMAS, "NewRequest": form_schema(request_form, bounds)},
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer", "description": "a personal token, xz_..."},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "the web session; POST and DELETE also need the X-CSRFToken header"},
            },
        },
    })
