"""Collaboration requests: filing one numbers it (XMBG-YYYYMM###) and starts its process."""

from __future__ import annotations

from engine.bootstrap import Services
from engine.errors import NotFound
from engine.org.directory import directory
from engine.workflow.instances import CommandResult, start_instance

REQUEST_PROCESS = "collaboration_request"
NUMBER_PREFIX = "XMBG"


def submit_request(ctx: Services, user: str, data: dict, process_id: str = REQUEST_PROCESS) -> CommandResult:
    """File a request as `user`: the form is checked, the number taken and the flow started at once."""
    people = directory(ctx)
    if user not in people.users:
        raise NotFound(f"user {user} is not in the organisation")
    return start_instance(ctx, process_id, user, data, number_prefix=NUMBER_PREFIX,
                          context={"requester": user, "requester_dept": people.department_of(user)})
