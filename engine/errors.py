"""Named errors of the engine; the web layer maps them to HTTP in one place.

Each error is of a kind (`code`: what the caller did wrong, one HTTP status each) and says what
exactly by a message of the catalogue (`message_code` and `params`, engine.messages), rendered in
the reader's language where it is shown; `str()` is the Chinese text.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.messages import Msg


class XiezuoError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "error"

    def __init__(self, message_code: str, /, **params):
        self.msg = Msg(message_code, **params)
        super().__init__(message_code)

    @property
    def message_code(self) -> str:
        return self.msg.code

    @property
    def params(self) -> dict:
        return self.msg.params

    @property
    def message(self) -> str:
        return self.msg.text()

    def text(self, locale: str | None = None, zone: str | None = None, diagram=None) -> str:
        """The message in the reader's language and time zone."""
        return self.msg.text(locale, zone, diagram)

    def __str__(self) -> str:
        return self.message

    def to_dict(self, locale: str | None = None, zone: str | None = None, diagram=None) -> dict:
        return {"code": self.code, "message_code": self.msg.code, "params": self.msg.params,
                "message": self.text(locale, zone, diagram)}


@dataclass(frozen=True)
class Problem:
    """One problem found in a BPMN file: where it is and what is wrong (for the diagram's author, in
    the terms of BPMN and of the engine's checks)."""

    message: str
    file: str | None = None
    element_id: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p)
        if self.element_id:
            where = f"{where} [{self.element_id}]" if where else f"[{self.element_id}]"
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict:
        return {"message": self.message, "file": self.file, "element_id": self.element_id,
                "line": self.line}


class InvalidProcess(XiezuoError):
    """A deployment was refused; nothing was stored."""

    code = "invalid_process"

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("process.invalid", problems=[str(p) for p in self.problems])

    def to_dict(self, locale: str | None = None, zone: str | None = None, diagram=None) -> dict:
        return {**super().to_dict(locale, zone, diagram), "problems": [p.to_dict() for p in self.problems]}


class NotFound(XiezuoError):
    code = "not_found"


class TaskNotReady(XiezuoError):
    """The task is not (or no longer) waiting for this user's input."""

    code = "task_not_ready"


class StaleInstance(XiezuoError):
    """Someone else changed the instance since it was loaded; nothing was written."""

    code = "stale_instance"


class StateVersionUnsupported(XiezuoError):
    """An instance's stored state is in a format this code cannot read (newer, or another serializer's)."""

    code = "state_version_unsupported"


class PermissionDenied(XiezuoError):
    code = "permission_denied"


class FormInvalid(XiezuoError):
    """Submitted data does not satisfy the task's form; one message per field (or per key the
    caller sent), each a message of the catalogue."""

    code = "form_invalid"

    def __init__(self, errors: dict[str, Msg]):
        self.errors = dict(errors)
        super().__init__("form.invalid", fields=sorted(self.errors))

    def field_texts(self, locale: str | None = None, zone: str | None = None, diagram=None) -> dict[str, str]:
        """Each field's message in the reader's language."""
        return {k: v.text(locale, zone, diagram) for k, v in self.errors.items()}

    def __str__(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.field_texts().items())

    def to_dict(self, locale: str | None = None, zone: str | None = None, diagram=None) -> dict:
        return {**super().to_dict(locale, zone, diagram),
                "fields": self.field_texts(locale, zone, diagram),
                "field_codes": {k: v.to_dict() for k, v in self.errors.items()}}


class ScriptError(XiezuoError):
    """A script, condition or expression failed or was refused by the sandbox; `detail` is the
    interpreter's or the sandbox's own words, for the diagram's author."""

    code = "script_error"

    def __init__(self, detail: str, element_id: str | None = None, line: int | None = None):
        self.element_id = element_id
        self.line = line
        self.detail = detail
        super().__init__("script.failed", element=element_id or "", detail=detail)

    def to_dict(self, locale: str | None = None, zone: str | None = None, diagram=None) -> dict:
        return {**super().to_dict(locale, zone, diagram), "element_id": self.element_id, "line": self.line}


class InstanceErrored(XiezuoError):
    """The instance stopped on an error; it is kept and can be retried after a fix."""

    code = "instance_errored"

    def __init__(self, detail: str, element_id: str | None = None):
        self.element_id = element_id
        self.detail = detail
        super().__init__("instance.errored", element=element_id or "", detail=detail)

    def to_dict(self, locale: str | None = None, zone: str | None = None, diagram=None) -> dict:
        return {**super().to_dict(locale, zone, diagram), "element_id": self.element_id}


class CommandTooLarge(XiezuoError):
    """One command would write more task data than allowed; nothing of it was written. `why` names
    the task that grew most (a message of the catalogue)."""

    code = "command_too_large"

    def __init__(self, size: int, limit: int, element_id: str | None = None, element_name: str | None = None,
                 why: Msg | None = None):
        self.size, self.limit, self.element_id, self.element_name = size, limit, element_id, element_name
        if why is None:
            super().__init__("command.too_large", size=size, limit=limit)
        else:
            super().__init__("command.too_large_because", size=size, limit=limit, why=why)

    def to_dict(self, locale: str | None = None, zone: str | None = None, diagram=None) -> dict:
        return {**super().to_dict(locale, zone, diagram), "element_id": self.element_id, "size": self.size,
                "limit": self.limit}


class InvalidInput(XiezuoError):
    code = "invalid_input"


class OrgInvalid(XiezuoError):
    """An organisation import was refused; nothing was imported. One message per problem, located."""

    code = "org_invalid"

    def __init__(self, problems: list[Msg]):
        self.problems = list(problems)
        super().__init__("org.invalid", count=len(self.problems), problems=[p.to_dict() for p in self.problems])

    def to_dict(self, locale: str | None = None, zone: str | None = None, diagram=None) -> dict:
        return {**super().to_dict(locale, zone, diagram),
                "problems": [p.text(locale, zone, diagram) for p in self.problems]}


class SignInFailed(XiezuoError):
    """A sign-in was refused: the name or the password is wrong (which of them is not said)."""

    code = "sign_in_failed"

    def __init__(self, name: str):
        self.name = name
        super().__init__("sign_in.failed")


class AccountLocked(XiezuoError):
    """Too many failed sign-ins under a name: it is locked until `until` (or an admin unlocks it)."""

    code = "account_locked"

    def __init__(self, name: str, until):
        self.name = name
        self.until = until
        super().__init__("sign_in.locked", until=until.isoformat())

    def to_dict(self, locale: str | None = None, zone: str | None = None, diagram=None) -> dict:
        return {**super().to_dict(locale, zone, diagram), "locked_until": self.until.isoformat()}


class IdempotencyKeyReused(XiezuoError):
    """An Idempotency-Key came back with another request (method, path or body): refused, nothing ran."""

    code = "idempotency_key_reused"


class IdempotencyInProgress(XiezuoError):
    """The command of an Idempotency-Key is still running: the retry waits for its answer."""

    code = "idempotency_in_progress"


class IdempotencyAnswerLost(XiezuoError):
    """The command of an Idempotency-Key was carried out, but its answer was not kept (the server
    stopped between the two): the caller reads the resource to learn its state."""

    code = "idempotency_answer_lost"
