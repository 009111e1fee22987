"""Named errors of the engine; the web layer maps them to HTTP in one place."""

from __future__ import annotations

from dataclasses import dataclass


class XiezuoError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Problem:
    """One problem found in a BPMN file: where it is and what is wrong."""

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
        super().__init__("; ".join(str(p) for p in self.problems))

    def to_dict(self) -> dict:
        return {**super().to_dict(), "problems": [p.to_dict() for p in self.problems]}


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
    """Submitted data does not satisfy the task's form; one message per field."""

    code = "form_invalid"

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))

    def to_dict(self) -> dict:
        return {**super().to_dict(), "fields": self.errors}


class ScriptError(XiezuoError):
    """A script, condition or expression failed or was refused by the sandbox."""

    code = "script_error"

    def __init__(self, message: str, element_id: str | None = None, line: int | None = None):
        self.element_id = element_id
        self.line = line
        where = f"[{element_id}] " if element_id else ""
        super().__init__(f"{where}{message}")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "element_id": self.element_id, "line": self.line}


class InstanceErrored(XiezuoError):
    """The instance stopped on an error; it is kept and can be retried after a fix."""

    code = "instance_errored"

    def __init__(self, message: str, element_id: str | None = None):
        self.element_id = element_id
        super().__init__(message)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "element_id": self.element_id}


class CommandTooLarge(XiezuoError):
    """One command would write more task data than allowed; nothing of it was written."""

    code = "command_too_large"

    def __init__(self, size: int, limit: int, element_id: str | None = None, element_name: str | None = None,
                 why: str = ""):
        self.size, self.limit, self.element_id, self.element_name = size, limit, element_id, element_name
        super().__init__(f"this step would write {size:,} bytes of task data, more than the {limit:,} one "
                         f"command may write{'; ' + why if why else ''}; nothing of it was saved")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "element_id": self.element_id, "size": self.size, "limit": self.limit}


class InvalidInput(XiezuoError):
    code = "invalid_input"


class OrgInvalid(XiezuoError):
    """An organisation import was refused; nothing was imported. One line per problem, located."""

    code = "org_invalid"

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the organisation data: " + "; ".join(self.problems))

    def to_dict(self) -> dict:
        return {**super().to_dict(), "problems": self.problems}


class SignInFailed(XiezuoError):
    """A sign-in was refused: the name or the password is wrong (which of them is not said)."""

    code = "sign_in_failed"

    def __init__(self, name: str):
        self.name = name
        super().__init__("the user name or the password is wrong")


class AccountLocked(XiezuoError):
    """Too many failed sign-ins under a name: it is locked until `until` (or an admin unlocks it)."""

    code = "account_locked"

    def __init__(self, name: str, until):
        self.name = name
        self.until = until
        super().__init__(f"too many failed sign-ins: locked until {until.isoformat()}")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "locked_until": self.until.isoformat()}
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
