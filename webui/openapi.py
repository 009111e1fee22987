"""The OpenAPI 3.1 document of /api/v1 (webui/views/api.py), served at /api/v1/openapi.json.

A test checks that it lists exactly the routes the API registers, with their methods.
"""

from __future__ import annotations

from copy import deepcopy

S, INT, B = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
NULL_TIME = {"type": ["string", "null"], "format": "date-time"}
NULL_S = {"type": ["string", "null"]}
STRINGS = {"type": "array", "items": S}
OBJECT = {"type": "object"}


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
NEW_REQUEST = _obj(
    ["request_type", "title", "background", "goal", "involved_depts", "details", "expected_date", "priority",
     "urgency", "contact"],
    request_type={"enum": ["项目协作", "资源申请", "问题协调", "流程优化", "故障投诉", "其他"]},
    title={**S, "maxLength": 100}, background=S, goal={**S, "description": "measurable, with a deadline (SMART)"},
    involved_depts={**STRINGS, "minItems": 1, "description": "department ids"}, details=S,
    expected_date={**S, "format": "date"}, priority={"enum": ["高", "中", "低"]},
    urgency={"enum": ["普通", "紧急", "特急"]}, contact=S, related_project=S,
    attachments={**STRINGS, "description": "ids of uploaded attachments"})
COMMAND = _obj(["instance_id", "status", "opened_tasks"], instance_id=S,
               status={"enum": ["running", "completed", "cancelled", "errored"]},
               opened_tasks={**STRINGS, "description": "ids of the tasks the command opened"})
SCHEMAS = {
    "Error": _obj(["code", "message"], code=S, message=S,
                  fields={"type": "object", "additionalProperties": S,
                          "description": "form_invalid: one message per field"}),
    "Me": _obj(["id", "name", "groups", "auth"], id=S, name=S, department_id=NULL_S, department_name=NULL_S,
               groups=STRINGS, is_admin=B, is_auditor=B, locale=NULL_S, timezone=NULL_S,
               auth={"enum": ["session", "token"]},
               csrf_token={**S, "description": "session callers only: send it as X-CSRFToken"}),
    "RequestSummary": REQUEST_SUMMARY,
    "InboxTask": INBOX_TASK,
    "CcItem": CC_ITEM,
    "DoneItem": DONE_ITEM,
    "InboxPage": _page({"anyOf": [_ref("InboxTask"), _ref("CcItem"), _ref("DoneItem")]}),
    "NewRequest": NEW_REQUEST,
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
                     form=_obj(key=NULL_S, fields={"type": "array", "items": OBJECT}), data=OBJECT),
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
    "400": ("invalid_input, bad_request or csrf_failed (a session call without X-CSRFToken)", "Error"),
    "401": ("not signed in: no session and no valid token", "Error"),
    "403": ("permission_denied: not allowed to the caller", "Error"),
    "404": ("does not exist, or not the caller's to see or act on", "Error"),
    "409": ("task_not_ready or stale_instance: no longer open, or changed meanwhile", "Error"),
    "422": ("form_invalid: one message per field in `fields`", "Error"),
}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _op(summary: str, answer: str | None, *, code: str = "200", body: str | dict | None = None,
        errors: tuple[str, ...] = ("400", "401"), params: list[dict] | None = None, tag: str = "tasks") -> dict:
    responses = {code: {"description": summary, **(_json(_ref(answer)) if answer else {})}}
    for status in errors:
        text, schema = ERRORS[status]
        responses[status] = {"description": text, **_json(_ref(schema))}
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
ON_TASK = ("400", "401", "404", "409")
INBOX_QUERY = [
    _query("which", {"enum": ["mine", "group", "cc", "done"], "default": "mine"},
           "mine: my tasks; group: offered to my groups (unclaimed); cc: copied to me; done: completed by me"),
    _query("sort", {"enum": ["due", "-due", "priority", "-priority", "created", "-created"], "default": "due"},
           "mine and group only"),
    _query("request_type", S, "mine and group only"), _query("urgency", S, "mine and group only"),
    _query("department", S, "a department the request involves (requester's, lead or involved); mine and group"),
    _query("overdue", {"enum": ["1", "true"]}, "only tasks due before now; mine and group"),
    _query("text", S, "in the task name or the request number; mine and group"),
    _query("process_id", S), _query("business_key", S),
    _query("page", {**INT, "minimum": 1, "default": 1}), _query("per_page", {**INT, "minimum": 1, "maximum": 200,
                                                                          "default": 50}),
]


HISTORY_QUERY = [
    _query("type", S, "a category (user, engine, timer, notification, record, view), data (events that changed "
                      "data) or an event type"),
    _query("actor", S, "a user id"), _query("since", S, "a date (whole day) or a date-time"),
    _query("until", S, "a date (whole day) or a date-time")]


def _task_op(summary: str, body: dict | None) -> dict:
    return {"post": _op(summary, "CommandResult", body=body, errors=ON_TASK, params=TASK_ID)}


PATHS = {
    "/me": {"get": _op("The caller", "Me", errors=("401",), tag="me")},
    "/inbox": {"get": _op("One list of the caller's inbox, filtered, sorted and paged", "InboxPage",
                          params=INBOX_QUERY, tag="inbox")},
    "/requests": {"post": _op("File a request (template 1, 跨部门沟通需求申请表); the number is assigned",
                              "Submitted", code="201", body="NewRequest", errors=("400", "401", "422"),
                              tag="requests")},
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
        "CommandResult", body=_obj(["reason"], reason=S), errors=("400", "401", "403", "404", "409"),
        params=INSTANCE_ID, tag="requests")},
    "/tasks/{task_id}": {"get": _op("A task's form and data, for whoever may complete it", "TaskForm",
                                    errors=("401", "404", "409"), params=TASK_ID)},
    "/tasks/{task_id}/complete": {"post": _op(
        "Complete the task; data is checked against its form", "CommandResult",
        body=_obj(["data"], data=OBJECT), errors=(*ON_TASK, "422"), params=TASK_ID)},
    "/tasks/{task_id}/claim": _task_op("Claim a task offered to the caller or their group", None),
    "/tasks/{task_id}/release": _task_op("Give a claimed task back to its candidates", None),
    "/tasks/{task_id}/transfer": _task_op("转办: the task becomes another user's",
                                          _obj(["to_user", "reason"], to_user=S, reason=S)),
    "/tasks/{task_id}/delegate": _task_op("委派: another user works on it and hands it back (claim a group task first)",
                                          _obj(["to_user", "reason"], to_user=S, reason=S)),
    "/tasks/{task_id}/resolve": _task_op("The delegate hands a delegated task back", _obj(comment=S)),
    "/tasks/{task_id}/cc": _task_op("抄送: copy the task to users for their information",
                                    _obj(["to_users"], to_users={**STRINGS, "minItems": 1, "maxItems": 50},
                                         note=S)),
    "/tasks/{task_id}/urge": _task_op("催办: remind whoever has to act (the requester or an admin; once an hour)",
                                      _obj(message=S)),
    "/tasks/{task_id}/comment": {"post": _op(
        "Comment on an open task (a record of its request)", None, code="201", body=_obj(["body"], body=S),
        errors=("400", "401", "404", "422"), params=TASK_ID)},
    "/tokens": {
        "get": _op("The caller's personal tokens (never the tokens themselves)", None, errors=("401",),
                   tag="tokens"),
        "post": _op("A new personal token, shown once; with a session only (403 with a token)", "NewToken",
                    code="201", body=_obj(["name"], name=S), errors=("400", "401", "403"), tag="tokens"),
    },
    "/tokens/{token_id}": {"delete": _op("Revoke one of the caller's tokens", None, code="204",
                                         errors=("401", "404"), params=[_path("token_id", INT)], tag="tokens")},
    "/openapi.json": {"get": _op("This document", None, errors=("401",), tag="me")},
}
PATHS["/tokens"]["get"]["responses"]["200"].update(_json(_obj(["items"], items={"type": "array",
                                                                              "items": _ref("Token")})))
PATHS["/tasks/{task_id}/comment"]["post"]["responses"]["201"].update(_json(_obj(["id"], id=INT)))
PATHS["/openapi.json"]["get"]["responses"]["200"].update(_json(OBJECT))


def document() -> dict:
    """The OpenAPI 3.1 document (a fresh copy: callers may change it)."""
    return deepcopy({
        "openapi": "3.1.0",
        "info": {"title": "Xiezuo 协作 API", "version": "1",
                 "description": "Sign in with a session (send X-CSRFToken from GET /me on POST and DELETE) or "
                                "a personal token (Authorization: Bearer xz_...). Errors are {code, message}. "
                                "A task, request or token the caller may not act on or see is 404."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerToken": []}, {"session": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer", "description": "a personal token, xz_..."},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "the web session; POST and DELETE also need the X-CSRFToken header"},
            },
        },
    })
