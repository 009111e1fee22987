"""The process diagrams' texts in the reader's language: extracted from processes/*.bpmn into the catalogue,
shown in English on the task page, the inbox, the request page and the audit history, Chinese by default;
the values stored and submitted stay those of the diagram, and a text the catalogue lacks shows as it is."""

from __future__ import annotations

import io
import re
from html import unescape
from pathlib import Path

import pytest
from babel.messages.extract import extract

from engine.bpmn.deploy import deploy
from engine.errors import InvalidProcess
from engine.requests.requests import submit_request
from tests.scenarios import steps
from tests.scenarios.driver import MONDAY, Flow
from tests.webui.conftest import csrf_of, sign_in
from tests.webui.test_work import field_html, page, post

ROOT = Path(__file__).parents[2]
MAIN = ROOT / "processes" / "collaboration_request.bpmn"
CONFLICT = ROOT / "processes" / "conflict_resolution.bpmn"


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text("utf-8").splitlines(), 1) if needle in line)


def _extracted(path: Path) -> list[tuple[int, str, list[str]]]:
    with path.open("rb") as f:
        return [(line, text, comments) for line, text, comments, _ctx in
                extract("webui.bpmn_messages:extract_bpmn", f)]


def english(client, url: str) -> str:
    """Switch the signed-in user to English and read `url`."""
    client.post("/language/en", data={"csrf_token": csrf_of(page(client, "/inbox")), "next": url})
    return page(client, url)


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def flow(ctx, clock):
    clock.now = MONDAY
    return Flow(ctx, clock)


# ------------------------------------------------------------------------------------------ extraction
def test_the_extractor_finds_names_labels_guidance_options_and_columns_with_their_lines():
    found = _extracted(MAIN)
    at = {text: (line, comments) for line, text, comments in reversed(found)}  # first occurrence wins
    task_line = _line_of(MAIN, 'id="lead_confirm" name=')
    field_line = _line_of(MAIN, 'id="objection" label="异议说明（')
    assert at["确认主责（24小时内）"] == (task_line, ["userTask lead_confirm"])
    assert at["异议说明"] == (field_line, ["form field objection"])
    guidance = "提出异议时填写：为何不应由本部门牵头、建议的主责部门"
    assert at[guidance] == (field_line, ["guidance of form field objection"])
    assert at["提出异议"][1] == ["option 提出异议 of lead_decision"]
    assert at["任务名称"] == (_line_of(MAIN, "title!:string:任务名称"), ["column title of plan_tasks"])
    for text, kind in (("发起部门负责人", "lane"), ("有部门不同意", "sequenceFlow"),
                       ("负责人是否同意？", "exclusiveGateway"), ("二次协调（问题协调）", "callActivity"),
                       ("24小时未确认", "boundaryEvent")):
        assert at[text][1][0].startswith(kind + " "), text
    texts = {text for _line, text, _c in found}
    assert f"异议说明（{guidance}）" not in texts  # split, as the form shows it
    assert not texts & {"feedback_dept", "dept_feedback", "required"}  # data items, constraints: not shown
    assert ("问题协调（二次协调）", ["process conflict_resolution"]) in [(t, c) for _l, t, c in _extracted(CONFLICT)]


def test_a_help_property_is_extracted_and_a_broken_file_named():
    bpmn = MAIN.read_text("utf-8").replace(
        '<camunda:formField id="dispatch_note" label="分派说明" type="text"/>',
        '<camunda:formField id="dispatch_note" label="分派说明" type="text">\n<camunda:properties>\n'
        '<camunda:property id="help" value="写明分派理由"/>\n</camunda:properties>\n</camunda:formField>')
    fileobj = io.BytesIO(bpmn.encode("utf-8"))
    fileobj.name = "edited.bpmn"
    found = [(line, text, comments) for line, text, comments, _ctx in extract("webui.bpmn_messages:extract_bpmn",
                                                                              fileobj)]
    assert (_line_of(MAIN, 'id="dispatch_note"') + 2, "写明分派理由", ["guidance of form field dispatch_note"]) in found
    broken = io.BytesIO(b"<bpmn:definitions>")
    broken.name = "broken.bpmn"
    with pytest.raises(InvalidProcess, match="broken.bpmn"):
        list(extract("webui.bpmn_messages:extract_bpmn", broken))


# ------------------------------------------------------------------------------------------ the task page
def test_the_task_page_in_english_labels_options_guidance_and_the_condition(client, flow):
    steps.to_lead_confirm(flow)
    url = f"/tasks/{flow.task('lead_confirm')['task_id']}"
    sign_in(client, "zhangzongjian")
    html = english(client, url)
    assert "<h1>Confirm the lead (within 24 hours)</h1>" in html
    decision = field_html(html, "lead_decision")
    assert "Accept the lead?" in decision
    # The names are English; the values submitted stay the diagram's.
    assert re.search(r'value="确认接收"[^>]*> Accept</label>', decision)
    assert re.search(r'value="提出异议"[^>]*> Object</label>', decision)
    objection = text_of(field_html(html, "objection"))
    assert "Objection" in objection
    assert "When objecting: why this department should not lead, and which department should" in objection
    assert "Required when “Accept the lead?” is “Object”" in objection
    assert "是否接收" not in html and "提出异议时填写" not in html

    refused = post(client, url, {"lead_decision": "提出异议", "objection": ""})
    assert refused.status_code == 422
    assert "Required when “Accept the lead?” is “Object”" in text_of(
        re.search(r'<p class="error" id="f-objection-error".*?</p>', refused.get_data(as_text=True), re.S).group(0))
    done = post(client, url, {"lead_decision": "提出异议", "objection": "应由产品部牵头"})
    assert done.status_code == 302
    ((who, completed),) = flow.completed_by("lead_confirm")
    assert (who, completed["data"]) == ("zhangzongjian", {"lead_decision": "提出异议", "objection": "应由产品部牵头"})
    assert "Done: Confirm the lead (within 24 hours)" in page(client, "/inbox")


def test_the_task_page_is_chinese_by_default(client, flow):
    steps.to_lead_confirm(flow)
    sign_in(client, "zhangzongjian")
    html = page(client, f"/tasks/{flow.task('lead_confirm')['task_id']}")
    assert "<h1>确认主责（24小时内）</h1>" in html
    assert re.search(r'value="提出异议"[^>]*> 提出异议</label>', html)
    objection = text_of(field_html(html, "objection"))
    assert "提出异议时填写：为何不应由本部门牵头、建议的主责部门" in objection
    assert "“是否接收”为“提出异议”时必填" in objection
    assert "Accept the lead?" not in html


def test_a_table_in_english_column_labels_and_row_errors(client, flow):
    steps.to_plan(flow)
    url = f"/tasks/{flow.task('write_plan')['task_id']}"
    sign_in(client, "zhangzongjian")
    html = english(client, url)
    table = field_html(html, "plan_tasks")
    for label in ("Task", "Responsible department", "Owner", "Planned start", "Planned end", "Delivery standard"):
        assert f"<th>{label}<span" in table, label
    assert "For each task: responsible department, owner, planned start and end, delivery standard" in text_of(table)
    assert 'name="plan_tasks-0-title"' in table and "任务名称" not in table
    row = {f"plan_tasks-0-{k}": v for k, v in steps.PLAN[0].items()}
    refused = post(client, url, {**row, "plan_tasks-0-owner": "", "risk_plan": steps.RISK_PLAN})
    assert refused.status_code == 422
    assert "Row 1, Owner: Required" in text_of(field_html(refused.get_data(as_text=True), "plan_tasks"))


# ------------------------------------------------------------------------------------------ lists and pages
def test_the_inbox_names_tasks_in_english(client, flow):
    steps.to_review(flow)
    sign_in(client, "lijingli")
    html = english(client, "/inbox?tab=group")
    assert "Review the request for completeness and feasibility" in html
    assert "审核需求完整性与可行性" not in html
    done = english(client, "/inbox?tab=done")
    assert "审核需求完整性与可行性" not in done


def test_the_request_page_timeline_audit_history_and_diagram_in_english(client, flow):
    steps.to_lead_confirm(flow)
    iid = flow.instance_id
    sign_in(client, "lijingli")
    html = english(client, f"/requests/{iid}")
    timeline = re.search(r'<details class="panel" id="timeline" open>.*?</details>', html, re.S).group(0)
    assert "Sign-off by the initiating department's head" in unescape(timeline)
    assert "Dispatch a lead department" in timeline and "分派主责部门" not in timeline
    assert "Agree" in timeline  # the sign-off's decision, stored as 同意
    assert "Sign-off note" in timeline  # named by its field's label
    assert "签批" not in timeline and "：" not in timeline
    xml = client.get(f"/requests/{iid}/diagram.json").get_json()["xml"]
    assert 'name="Confirm the lead (within 24 hours)"' in xml and 'id="lead_confirm"' in xml
    assert 'name="确认主责（24小时内）"' not in xml

    client.post("/logout", data={"csrf_token": csrf_of(page(client, "/inbox"))})
    sign_in(client, "shenjie")
    history = english(client, f"/audit/requests/{iid}/history")
    assert "Review the request for completeness and feasibility" in history
    assert "Sign-off" in text_of(history) and "签批结果" not in history


def test_the_request_page_diagram_is_unchanged_in_chinese(client, ctx, flow):
    steps.to_review(flow)
    sign_in(client, "xiaowang")
    xml = client.get(f"/requests/{flow.instance_id}/diagram.json").get_json()["xml"]
    assert xml == MAIN.read_text("utf-8")


def test_a_label_not_in_the_catalogue_is_shown_as_it_is(client, ctx):
    # A process owner relabels the sign-off in the modeller and deploys: the new texts are in no catalogue.
    source = MAIN.read_text("utf-8")
    edited = source.replace('<camunda:formField id="signoff_decision" label="签批结果"',
                            '<camunda:formField id="signoff_decision" label="负责人签字确认（100%把关）"')
    edited = edited.replace('name="发起部门负责人签批"', 'name="部门负责人审批 &lt;b&gt;"')
    assert edited.count("负责人签字确认") == 1 and edited.count("部门负责人审批 &lt;b&gt;") == 1
    deploy(ctx, {"collaboration_request.bpmn": edited.encode("utf-8"),
                 "conflict_resolution.bpmn": CONFLICT.read_bytes()}, "lijingli")
    iid = submit_request(ctx, "xiaowang", dict(steps.REQUEST)).instance_id
    sign_in(client, "zhangzongjian")
    inbox = english(client, "/inbox")
    assert "部门负责人审批 &lt;b&gt;" in inbox  # as typed, and escaped
    task_url = re.search(r'href="(/tasks/[^"]+)">部门负责人审批 &lt;b&gt;', inbox).group(1)
    html = page(client, task_url)
    decision = field_html(html, "signoff_decision")
    assert "负责人签字确认" in decision and "100%把关" in text_of(decision)  # the "%" is no placeholder
    assert re.search(r'value="同意"[^>]*> Agree</label>', decision)  # the options are still known
    assert iid
