"""Approver rules (审批人规则): a process's autoPassSameApprover passes a step whose approver just
completed the step before it (with the step's batch decision, recorded as task_auto_passed); a step's
noAssignee sends a task nobody can take to the platform admins (as before), to the requester's
superior, or passes it with empty fields (task_skipped). Each is worked out by the one step function,
so the audit replay re-executes it (the scenario fixture checks every instance)."""

from __future__ import annotations

import re

import pytest

from engine.bpmn.deploy import deploy
from engine.errors import InvalidProcess
from engine.org.directory import set_post
from tests.scenarios import steps
from tests.scenarios.driver import ROOT

MAIN_FILE = ROOT / "processes" / "collaboration_request.bpmn"
CONFLICT_FILE = ROOT / "processes" / "conflict_resolution.bpmn"
PROPERTIES = '<bpmn:extensionElements><camunda:properties>{}</camunda:properties></bpmn:extensionElements>'


def _property(name: str, value: str) -> str:
    return f'<camunda:property name="{name}" value="{value}"/>'


def _variant(process: dict | None = None, **tasks: dict) -> bytes:
    """The collaboration diagram with extension properties on the process and on user tasks."""
    xml = MAIN_FILE.read_text("utf-8")
    if process:
        # after the process's documentation, as BPMN orders them
        opening = re.search(r'<bpmn:process id="collaboration_request"[^>]*>\s*'
                            r'(<bpmn:documentation>.*?</bpmn:documentation>)?', xml, re.S)
        xml = xml[:opening.end()] + PROPERTIES.format("".join(_property(*p) for p in process.items())) + \
            xml[opening.end():]
    for element, props in tasks.items():
        start = xml.index(f'<bpmn:userTask id="{element}"')
        end = xml.index("</bpmn:userTask>", start)
        block = xml[start:end]
        for name in props:  # the diagram's own setting of that name gives way
            block = re.sub(rf'\s*<camunda:property name="{name}" value="[^"]*"/>', "", block)
        xml = xml[:start] + block + xml[end:]
        opening = re.search(rf'<bpmn:userTask id="{element}"[^>]*>\s*<bpmn:extensionElements>', xml)
        xml = xml[:opening.end()] + "<camunda:properties>" + "".join(_property(*p) for p in props.items()) + \
            "</camunda:properties>" + xml[opening.end():]
    return xml.encode()


def _deploy(ctx, main: bytes):
    return deploy(ctx, {MAIN_FILE.name: main, CONFLICT_FILE.name: CONFLICT_FILE.read_bytes()}, "lijingli")


def test_a_head_who_files_a_request_passes_his_own_sign_off_by_the_process_rule(flow):
    _deploy(flow.ctx, _variant({"autoPassSameApprover": "true"}))
    head = steps.HEADS["MKT"]
    flow.submit(head, steps.REQUEST)  # 张总监 files for 市场部: the sign-off would be his
    assert flow.open_elements() == ["admin_review"]
    ready, passed = flow.history("task_ready")[0], flow.history("task_auto_passed")[0]
    assert ready["element_id"] == passed["element_id"] == "dept_head_signoff" and passed["actor"] == "system"
    assert passed["data"] == {"rule": "autoPassSameApprover", "approver": head,
                              "data": {"signoff_decision": "同意", "signoff_comment": ""}}
    assert flow.inbox(head) == {}  # the sign-off never reached his inbox


def test_the_rule_passes_nothing_when_the_approver_is_someone_else_or_the_process_does_not_allow_it(flow):
    _deploy(flow.ctx, _variant({"autoPassSameApprover": "true"}))
    flow.submit(steps.REQUESTER, steps.REQUEST)  # 小王 files: 张总监 signs off himself
    assert flow.open_elements() == ["dept_head_signoff"] and not flow.history("task_auto_passed")
    _deploy(flow.ctx, _variant({"autoPassSameApprover": "false"}))
    flow.submit(steps.HEADS["MKT"], steps.REQUEST)
    assert flow.open_elements() == ["dept_head_signoff"]


def test_a_step_nobody_can_take_goes_to_the_requesters_superior_by_its_rule(flow):
    _deploy(flow.ctx, _variant(dept_head_signoff={"noAssignee": "superior"}))
    set_post(flow.ctx, "MKT", "head", None, "lijingli")  # 市场部 has no head for now
    flow.submit(steps.REQUESTER, steps.REQUEST)
    task = flow.task("dept_head_signoff")
    assert task["assignee"] == "zhangzongjian"  # 小王's superior as recorded
    (fallback,) = flow.history("assignment_fallback")
    assert fallback["data"]["rule"] == "superior"


def test_a_step_nobody_can_take_passes_with_a_record_when_its_rule_is_skip(flow):
    _deploy(flow.ctx, _variant(dept_head_signoff={"noAssignee": "skip"}))
    set_post(flow.ctx, "MKT", "head", None, "lijingli")
    flow.submit(steps.REQUESTER, steps.REQUEST)
    assert flow.open_elements() == ["admin_review"]  # the empty decision takes the default flow
    (skipped,) = flow.history("task_skipped")
    assert skipped["element_id"] == "dept_head_signoff" and skipped["data"] == {"rule": "noAssignee=skip"}


def test_without_a_rule_nobody_found_still_goes_to_the_platform_admins(flow):
    set_post(flow.ctx, "MKT", "head", None, "lijingli")
    flow.submit(steps.REQUESTER, steps.REQUEST)
    task = flow.task("dept_head_signoff")
    assert task["assignee"] is None and task["candidate_groups"] == ["platform_admins"]
    (fallback,) = flow.history("assignment_fallback")
    assert fallback["data"] == {"group": "platform_admins"}


@pytest.mark.parametrize(("change", "words"), [
    ({"dept_head_signoff": {"noAssignee": "boss"}}, "noAssignee is 'boss'; it is one of admins, superior, skip"),
    ({"process": {"autoPassSameApprover": "yes"}}, "the process's autoPassSameApprover is 'yes'; it is true or false"),
])
def test_an_unknown_rule_is_refused_at_deploy_with_the_element_and_line(org, change, words):
    process = change.pop("process", None)
    with pytest.raises(InvalidProcess) as refused:
        _deploy(org, _variant(process, **change))
    found = [p for p in refused.value.problems if words in p.message]
    assert found and found[0].element_id and found[0].line, [p.message for p in refused.value.problems]
