"""Field permissions per step (字段权限): a user task's `hiddenFields` and `readonlyFields` extension
properties. A hidden field is never in the step's data, its form's opening values or the request as
the step's page tells it, and is refused when sent; a read-only field sent with another value is
refused with the field named, and nothing is written. The deploy check names the element and line
of a permission that names no field."""

from __future__ import annotations

import re

import pytest

from engine.bpmn.deploy import deploy
from engine.errors import FormInvalid, InvalidProcess
from engine.requests.request_view import request_page
from engine.tasks.task_page import task_page
from engine.workflow.instances import task_form
from tests.scenarios import steps
from tests.scenarios.driver import ROOT

MAIN_FILE = ROOT / "processes" / "collaboration_request.bpmn"
CONFLICT_FILE = ROOT / "processes" / "conflict_resolution.bpmn"


def _with_access(element: str, **properties: str) -> bytes:
    """The collaboration diagram with `properties` (hiddenFields, readonlyFields) on `element`."""
    xml = MAIN_FILE.read_text("utf-8")
    props = "".join(f'<camunda:property name="{k}" value="{v}"/>' for k, v in properties.items())
    opening = re.search(rf'<bpmn:userTask id="{element}"[^>]*>\s*<bpmn:extensionElements>', xml)
    assert opening, element
    return (xml[:opening.end()] + f"<camunda:properties>{props}</camunda:properties>" + xml[opening.end():]).encode()


def _deploy(ctx, main: bytes):
    return deploy(ctx, {MAIN_FILE.name: main, CONFLICT_FILE.name: CONFLICT_FILE.read_bytes()}, "lijingli")


def test_a_hidden_field_is_never_sent_to_the_step_and_is_refused_from_it(flow):
    _deploy(flow.ctx, _with_access("dept_head_signoff", hiddenFields="contact, details"))
    flow.submit(steps.REQUESTER, steps.REQUEST)
    task = flow.task("dept_head_signoff")
    head = flow.actor(task)
    shown = task_form(flow.ctx, task["task_id"], head)
    assert "contact" not in shown["data"] and "details" not in shown["data"] and "contact" not in shown["values"]
    assert shown["data"]["title"] == steps.REQUEST["title"]  # the rest of the request is there
    page = task_page(flow.ctx, task["task_id"], head)
    assert "contact" not in page.story.filed and "details" not in page.story.filed
    assert "contact" not in {f.id for f in page.story.form.fields}
    assert page.story.filed["goal"] == steps.REQUEST["goal"]

    with pytest.raises(FormInvalid) as refused:
        flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交",
                                            "contact": "13900000000"})
    assert refused.value.to_dict()["fields"] == {"contact": "此环节不显示也不接收“联系方式”"}
    assert refused.value.to_dict("en")["fields"]["contact"] == "“联系方式” is hidden at this step and is not taken"
    assert flow.open_elements() == ["dept_head_signoff"]
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    assert flow.open_elements() == ["admin_review"]
    # the next step hides nothing: it sees the whole request
    review = flow.task("admin_review")
    assert task_form(flow.ctx, review["task_id"], flow.actor(review))["data"]["contact"] == steps.REQUEST["contact"]


def test_a_read_only_field_keeps_its_value_and_a_changed_one_is_refused_by_name(flow):
    _deploy(flow.ctx, _with_access("revise_request", readonlyFields="title,expected_date"))
    flow.submit(steps.REQUESTER, steps.REQUEST)
    flow.complete("dept_head_signoff", {"signoff_decision": "退回", "signoff_comment": "目标须可衡量"})
    task = flow.task("revise_request")
    form = task_form(flow.ctx, task["task_id"], steps.REQUESTER)["form"]
    fields = {f["id"]: f for f in form["fields"]}
    assert fields["title"]["readonly"] and fields["expected_date"]["readonly"] and not fields["goal"]["readonly"]
    assert form["access"] == {"title": "readonly", "expected_date": "readonly"}
    revised = {**steps.REQUEST, "goal": "11月11日销售额同比增长30%"}
    with pytest.raises(FormInvalid) as refused:
        flow.complete("revise_request", {**revised, "title": "另一个标题"})
    assert refused.value.to_dict()["fields"] == {"title": "此环节只能查看“需求标题”，不能修改"}
    assert flow.open_elements() == ["revise_request"]
    flow.complete("revise_request", revised)  # the same title sent back, or none at all, is fine
    signoff = flow.task("dept_head_signoff")
    data = task_form(flow.ctx, signoff["task_id"], flow.actor(signoff))["data"]
    assert (data["title"], data["goal"]) == (steps.REQUEST["title"], revised["goal"])


@pytest.mark.parametrize(("properties", "words"), [
    ({"hiddenFields": "budget"}, "hiddenFields names 'budget', which is no field of a form in these files"),
    ({"readonlyFields": "titel"}, "readonlyFields names 'titel', which is no field of a form in these files"),
    ({"hiddenFields": "signoff_comment"}, "field 'signoff_comment' is on this task's own form and cannot be hidden"),
    ({"hiddenFields": "contact", "readonlyFields": "contact"},
     "field 'contact' is both in hiddenFields and in readonlyFields"),
])
def test_a_permission_that_names_no_field_is_refused_at_deploy_naming_the_element_and_line(org, properties, words):
    with pytest.raises(InvalidProcess) as refused:
        _deploy(org, _with_access("dept_head_signoff", **properties))
    problems = [p for p in refused.value.problems if words in p.message]
    assert problems, [p.message for p in refused.value.problems]
    assert problems[0].element_id == "dept_head_signoff" and problems[0].line
    assert problems[0].file == MAIN_FILE.name


def test_the_request_page_keeps_from_a_worker_what_their_step_hides_but_not_from_the_requester(flow):
    _deploy(flow.ctx, _with_access("dept_head_signoff", hiddenFields="contact"))
    flow.submit(steps.REQUESTER, steps.REQUEST)
    head = flow.actor(flow.task("dept_head_signoff"))
    assert "contact" not in request_page(flow.ctx, flow.instance_id, head).story.filed  # waiting on it
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    page = request_page(flow.ctx, flow.instance_id, head)  # and after: the same
    assert "contact" not in page.story.filed and steps.REQUEST["contact"] not in str(page.timeline)
    for reader in (steps.REQUESTER, "lijingli", "shenjie"):  # the requester, an admin, an auditor
        assert request_page(flow.ctx, flow.instance_id, reader).story.filed["contact"] == steps.REQUEST["contact"]
