"""The API against its own OpenAPI document (schemathesis): for every operation, the boundary cases of
its parameters and bodies (schemathesis' coverage phase) and generated calls, valid and invalid
(bounded and deterministic), on ids that do not exist and on a request that does. No call may end in a
server error, every answer must be one the document describes (status, content type, headers, body),
and a call the document says is invalid must be refused: the document says what the server enforces."""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.scenarios.driver import MONDAY
from tests.scenarios.steps import REQUEST, REQUESTER, REQUESTER_HEAD
from tests.webui.test_api import API, session_of, token_of

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]
EXAMPLES = int(os.environ.get("XIEZUO_API_EXAMPLES", "12"))  # generated calls per operation (more: a longer hunt)
# The head signs the request off, the requester urges, an admin audits: each call may do its work.
CALLER = {"tasks": REQUESTER_HEAD, "audit": "lijingli", "POST /tasks/{task_id}/urge": REQUESTER}
PEOPLE = {"to_user": "songyu", "to_users": ["songyu"]}  # on a real task, someone who exists to hand it to


class Run:
    """One operation's calls and what came of them."""

    def __init__(self, operation, auth: dict, real: dict):
        self.operation, self.auth = operation, auth
        self.ids = {name: value for name, value in real.items() if f"{{{name}}}" in operation.path}
        self.failures: list[str] = []
        self.statuses: set[tuple[str, int]] = set()

    def call(self, case) -> None:
        try:
            answer = case.call_and_validate(headers=self.auth, checks=CHECKS)
            self.statuses.add((self.operation.label, answer.status_code))
        except (Exception, FailureGroup) as exc:  # every failure is reported, not only the first
            why = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            self.failures.append(f"{self.operation.label} {case.path_parameters} {case.query} "
                                 f"{str(case.body)[:200]}: {type(exc).__name__}: {why[:800]}")

    def on_real_ids(self, case):
        """The case on the real request's ids (and, when valid, with someone to hand a task to)."""
        case.path_parameters = {**(case.path_parameters or {}), **self.ids}
        if isinstance(case.body, dict) and case.meta.generation.mode.is_positive:
            case.body.update({name: value for name, value in PEOPLE.items() if name in case.body})
        return case

    def boundaries(self, schema) -> None:
        """The coverage phase: each parameter's and field's edge values, valid and invalid."""
        config = schema.config.generation_for(operation=self.operation, phase="coverage")
        for case in schema.iter_coverage_cases(self.operation, generation_modes=list(GenerationMode),
                                               generation_config=config):
            self.call(case)
            if self.ids and not _negative_path(case):
                self.call(self.on_real_ids(case))

    def generated(self) -> None:
        """EXAMPLES generated calls, half of them on the real request's ids."""
        strategies = [self.operation.as_strategy(mode) for mode in GenerationMode]
        if self.ids:
            strategies += [self.operation.as_strategy(mode, path_parameters=self.ids).map(self.on_real_ids)
                           for mode in GenerationMode]

        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=st.one_of(strategies))
        def call(case):
            self.call(case)

        call()


def _negative_path(case) -> bool:
    """Whether the case is invalid in its path (replacing the path by real ids would make it valid)."""
    data = case.meta.phase.data
    return case.meta.generation.mode.is_negative and getattr(data, "parameter_location", None) == "path"


def test_the_api_answers_every_call_as_its_document_says(app, clock):
    clock.now = MONDAY
    tokens = {user: token_of(app, user) for user in (REQUESTER, REQUESTER_HEAD, "lijingli")}
    session, csrf = session_of(app, REQUESTER)
    assert session.post(f"{API}/tokens", json={"name": "备用"}, headers=csrf).status_code == 201
    spare = max(t["id"] for t in session.get(f"{API}/tokens").get_json()["items"])  # not the one calling
    document = app.test_client().get(f"{API}/openapi.json", headers=tokens[REQUESTER]).get_json()
    assert document["components"]["schemas"]["NewRequest"]["properties"]["title"]["maxLength"] == 100
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    failures: list[str] = []
    statuses: set = set()
    for found in schema.get_all_operations():
        operation = found.ok()
        # Each operation on a request of its own: one operation's withdrawal leaves the next one's open.
        started = app.test_client().post(f"{API}/requests", json=REQUEST, headers=tokens[REQUESTER]).get_json()
        real = {"task_id": started["opened_tasks"][0], "instance_id": started["instance_id"], "token_id": spare}
        caller = CALLER.get(operation.label) or CALLER.get(operation.definition.raw["tags"][0], REQUESTER)
        run = Run(operation, tokens[caller], real)
        run.boundaries(schema)
        run.generated()
        failures += run.failures
        statuses |= run.statuses
    assert not failures, "\n\n".join(failures)
    # The calls reached the commands' work, not only their refusals.
    assert {("POST /requests", 201), ("POST /tasks/{task_id}/complete", 422), ("GET /requests/{instance_id}", 200),
            ("POST /tasks/{task_id}/transfer", 200), ("POST /tasks/{task_id}/comment", 201),
            ("DELETE /tokens/{token_id}", 204)} <= statuses, sorted(statuses)
