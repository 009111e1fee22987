"""The modeller in Chromium: a process owner (刘总监) edits the sign-off form of the collaboration
process in the properties panel and deploys it; a request filed afterwards shows the new form while
an older running request keeps the old one. Invalid diagrams are refused with the element marked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from engine.org.directory import set_post
from engine.requests.requests import submit_request
from engine.workflow.instances import describe_instance
from tests.browser.conftest import LIVE_REQUEST as REQUEST
from tests.browser.conftest import shot, sign_in

OWNER = "liuzongjian"
TASK = "dept_head_signoff"
OLD_LABEL = "签批意见（退回时写明原因和需补充的内容）"
NEW_LABEL = "签批理由"


def become(page, user: str) -> None:
    if page.locator("[data-user]").count():
        with page.expect_navigation():
            page.click(".who button[type=submit]")
    sign_in(page, user)


def open_draft_of_latest(page) -> None:
    page.goto(f"{page.base_url}/modeller")
    with page.expect_navigation():
        page.click('tr[data-process="collaboration_request"] [data-action=edit-latest]')
    expect(page.locator("#modeller")).to_have_class("modeller ready", timeout=20000)


def select(page, element_id: str, kind: str = "用户任务") -> None:
    """Find an element with the modeller's search (Ctrl+F, its id, Enter): it is selected."""
    canvas = page.locator("[data-role=canvas]")
    box = canvas.bounding_box()  # a spot of the canvas (for its keyboard), within it on a phone too
    canvas.click(position={"x": min(500, box["width"] - 10), "y": min(600, box["height"] - 10)})
    page.keyboard.press("Control+f")
    page.keyboard.type(element_id)
    expect(page.locator(f'.djs-search-result[data-result-id="{element_id}"]')).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator(".bio-properties-panel-header-type")).to_have_text(kind, ignore_case=True)


def field_input(page, index: int, what: str):
    return page.locator(f"#bio-properties-panel-{TASK}-formField-{index}-{what}")


def task_page(page, ctx, instance_id: str):
    (task,) = describe_instance(ctx, instance_id)["open_tasks"]
    page.goto(f"{page.base_url}/tasks/{task['task_id']}")
    return page


def test_a_form_edited_in_the_modeller_is_deployed_and_only_new_requests_get_it(page, server):
    ctx = server[1]
    older = submit_request(ctx, "xiaowang", REQUEST)  # on version 1, waiting for 张总监's sign-off
    sign_in(page, OWNER)
    expect(page.locator('nav.main [data-nav="modeller"]')).to_have_count(1)
    open_draft_of_latest(page)
    select(page, TASK)

    forms = page.locator('[data-group-id="group-CamundaPlatform__FormData"]')
    forms.locator(".bio-properties-panel-group-header").click()
    page.locator(f'[data-entry-id="{TASK}-formField-1"] > .bio-properties-panel-collapsible-entry-header').click()
    expect(field_input(page, 1, "formFieldLabel")).to_have_value(OLD_LABEL)
    field_input(page, 1, "formFieldLabel").fill(NEW_LABEL)
    # A new field: id, label, type string, and a "required" constraint.
    forms.locator(".bio-properties-panel-group-header .bio-properties-panel-add-entry").click()
    new_entry = page.locator(f'[data-entry-id="{TASK}-formField-2"]')
    expect(new_entry).to_have_count(1)
    if not field_input(page, 2, "formFieldID").is_visible():
        new_entry.locator("> .bio-properties-panel-collapsible-entry-header").click()
    field_input(page, 2, "formFieldID").fill("signoff_phone")
    field_input(page, 2, "formFieldLabel").fill("签批人联系电话")
    field_input(page, 2, "formFieldType").select_option("string")
    page.locator(f'[data-entry-id="{TASK}-formField-2-formFieldConstraints"] .bio-properties-panel-add-entry').click()
    field_input(page, 2, "formFieldConstraints-constraint-0-name").fill("required")
    field_input(page, 2, "formFieldConstraints-constraint-0-name").press("Tab")
    expect(page.locator("#modeller")).to_have_attribute("data-dirty", "true")
    shot(page, "modeller")

    with page.expect_navigation():
        page.click("[data-action=deploy]")
    expect(page.locator("p.flash")).to_contain_text("已部署为版本 2")
    expect(page.locator('tr[data-version="2"]')).to_contain_text("刘总监")
    expect(page.locator('tr[data-version="2"] [data-summary]')).to_contain_text("修改 1")
    expect(page.locator('tr[data-version="1"]')).to_have_attribute("data-running", "1")

    newer = submit_request(ctx, "xiaowang", REQUEST)
    assert describe_instance(ctx, newer.instance_id)["version"] == 2
    become(page, "zhangzongjian")
    task_page(page, ctx, newer.instance_id)
    expect(page.locator("label[for=f-signoff_comment]")).to_contain_text(NEW_LABEL)
    expect(page.locator("#f-signoff_comment-help")).to_have_count(0)
    expect(page.locator("label[for=f-signoff_phone]")).to_contain_text("签批人联系电话")
    expect(page.locator("#f-signoff_phone")).to_have_attribute("required", "")
    task_page(page, ctx, older.instance_id)
    # The form shows a label's note in brackets as help below the field.
    expect(page.locator("label[for=f-signoff_comment]")).to_contain_text("签批意见")
    expect(page.locator("#f-signoff_comment-help")).to_contain_text("退回时写明原因和需补充的内容")
    expect(page.locator("#f-signoff_phone")).to_have_count(0)


def _diagram(defect: str) -> str:
    """A small process with its layout; `defect` breaks one element the engine must refuse."""
    timer = "PT24H" if defect == "timer" else '"PT24H"'
    assign = "" if defect == "assignee" else ' camunda:candidateGroups="platform_admins"'
    default = "" if defect == "gateway" else ' default="to_end"'
    condition = "" if defect == "gateway" else (
        '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">wait == True</bpmn:conditionExpression>')
    shapes = [("start", "startEvent", 100, 120, 36, 36), ("Review", "userTask", 180, 98, 100, 80),
              ("Decide", "exclusiveGateway", 330, 113, 50, 50),
              ("WaitADay", "intermediateCatchEvent", 430, 120, 36, 36), ("end", "endEvent", 520, 120, 36, 36),
              ("end_other", "endEvent", 430, 240, 36, 36)]
    flows = [("f1", "start", "Review"), ("f2", "Review", "Decide"), ("to_wait", "Decide", "WaitADay"),
             ("f4", "WaitADay", "end"), ("to_end", "Decide", "end_other")]
    centre = {i: (x + w // 2, y + h // 2) for i, _t, x, y, w, h in shapes}
    di = "".join(f'<bpmndi:BPMNShape id="{i}_di" bpmnElement="{i}"><dc:Bounds x="{x}" y="{y}" width="{w}" '
                 f'height="{h}"/></bpmndi:BPMNShape>' for i, _t, x, y, w, h in shapes)
    di += "".join(f'<bpmndi:BPMNEdge id="{i}_di" bpmnElement="{i}"><di:waypoint x="{centre[a][0]}" '
                  f'y="{centre[a][1]}"/><di:waypoint x="{centre[b][0]}" y="{centre[b][1]}"/></bpmndi:BPMNEdge>'
                  for i, a, b in flows)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="small_review" name="小流程" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Review" name="审核"{assign}><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:exclusiveGateway id="Decide" name="是否等待"{default}><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>to_wait</bpmn:outgoing><bpmn:outgoing>to_end</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:intermediateCatchEvent id="WaitADay" name="等一天"><bpmn:incoming>to_wait</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing><bpmn:timerEventDefinition id="wait_def">
      <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{timer}</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end" name="结束"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_other" name="不等待"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Review" targetRef="Decide"/>
    <bpmn:sequenceFlow id="to_wait" sourceRef="Decide" targetRef="WaitADay">{condition}</bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="WaitADay" targetRef="end"/>
    <bpmn:sequenceFlow id="to_end" sourceRef="Decide" targetRef="end_other"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="small_review">{di}</bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


@pytest.mark.parametrize(("defect", "element", "words"), [
    ("timer", "WaitADay", "not quoted"),
    ("gateway", "Decide", "neither conditions nor a default"),
    ("assignee", "Review", "no assignee"),
])
def test_an_invalid_diagram_is_refused_with_its_element_marked(page, server, tmp_path, defect, element, words):
    sign_in(page, OWNER)
    page.goto(f"{page.base_url}/modeller")
    upload = tmp_path / "small_review.bpmn"
    upload.write_text(_diagram(defect), "utf-8")
    page.set_input_files("#upload input[type=file]", str(upload))
    with page.expect_navigation():
        page.click("#upload button[type=submit]")
    expect(page.locator("#modeller")).to_have_class("modeller ready", timeout=20000)
    page.click("[data-action=deploy]")
    expect(page.locator("#modeller")).to_have_attribute("data-problems", element)
    expect(page.locator(f'.djs-element[data-element-id="{element}"]')).to_have_class(
        "djs-element djs-shape xz-problem")
    problem = page.locator(".problems li")
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text(words)
    expect(page.locator("[data-role=status]")).to_have_attribute("data-kind", "error")
    if defect == "timer":
        shot(page, "modeller-refused")
    # Nothing was deployed: the process does not exist, the draft is still open.
    page.goto(f"{page.base_url}/modeller")
    expect(page.locator('tr[data-process="small_review"]')).to_have_count(0)
    expect(page.locator("#drafts tr[data-draft]")).to_have_count(1)


def _groups(page) -> list[str]:
    return page.locator(".bio-properties-panel [data-group-id]").evaluate_all(
        "found => found.map(g => g.getAttribute('data-group-id').replace(/^group-/, ''))")


def _entries(page, group: str) -> list[str]:
    """The entry ids of a group of the panel, opened first."""
    found = page.locator(f'[data-group-id="group-{group}"]')
    if "open" not in (found.locator(".bio-properties-panel-group-header").get_attribute("class") or ""):
        found.locator(".bio-properties-panel-group-header").click()
    expect(found.locator(".bio-properties-panel-group-entries.open")).to_have_count(1)
    return found.locator(".bio-properties-panel-group-entries > [data-entry-id]").evaluate_all(
        "found => found.map(e => e.getAttribute('data-entry-id'))")


# Camunda 7 settings the engine does not read: the panel must not offer them.
UNREAD = {"CamundaPlatform__AsynchronousContinuations", "CamundaPlatform__JobExecution",
          "CamundaPlatform__TaskListener", "CamundaPlatform__ExecutionListener", "CamundaPlatform__Input",
          "CamundaPlatform__Output", "CamundaPlatform__ExtensionProperties", "CamundaPlatform__InMapping",
          "CamundaPlatform__OutMapping", "CamundaPlatform__HistoryCleanup", "CamundaPlatform__Tasklist",
          "CamundaPlatform__CandidateStarter"}


def test_the_panel_offers_only_what_the_engine_reads(page, server):
    sign_in(page, OWNER)
    open_draft_of_latest(page)
    select(page, TASK)
    groups = _groups(page)
    assert {"general", "CamundaPlatform__UserAssignment", "CamundaPlatform__FormData", "Xiezuo__Scripts"} <= set(
        groups), groups
    assert not UNREAD & set(groups), groups
    assert groups[-1] == "Xiezuo__Scripts"  # after the form and the assignment
    assert _entries(page, "CamundaPlatform__UserAssignment") == [
        "assignee", "candidateGroups", "candidateUsers", "dueDate", "priority"]  # no follow-up date

    # A call activity: the process it calls, not Camunda's binding, version, tenant or business key.
    page.locator("[data-role=canvas]").click(position={"x": 500, "y": 600})
    page.keyboard.press("Control+f")
    page.keyboard.type("plan_conflict")
    page.locator('.djs-search-result[data-result-id="plan_conflict"]').click()
    expect(page.locator(".bio-properties-panel-header-type")).to_have_text("引用流程")
    assert not UNREAD & set(_groups(page))
    assert _entries(page, "CamundaPlatform__CallActivity") == ["calledElementType", "calledElement"]
    expect(page.locator("#bio-properties-panel-calledElement")).to_have_value("conflict_resolution")

    # The process (its pool): no history cleanup, task list or candidate starters.
    page.locator("[data-role=canvas]").click(position={"x": 500, "y": 600})
    page.keyboard.press("Control+f")
    page.keyboard.type("collaboration_request_participant")
    page.locator('.djs-search-result[data-result-id="collaboration_request_participant"]').click()
    expect(page.locator(".bio-properties-panel-header-type")).to_have_text("池（参与者）")
    groups = _groups(page)
    assert "general" in groups and not UNREAD & set(groups), groups
    shot(page, "modeller-panel")


@pytest.mark.parametrize(("language", "width", "words"), [
    ("zh-CN", 1400, {"start": "创建开始事件", "type": "用户任务", "group": "通用", "lint": "个错误|个警告|没有问题"}),
    ("en", 1400, {"start": "Create start event", "type": "User Task", "group": "General", "lint": "Errors|No Issues"}),
    ("zh-CN", 390, {"start": "创建开始事件", "type": "用户任务", "group": "通用", "lint": "个错误|个警告|没有问题"}),
])
def test_the_modeller_speaks_the_pages_language_and_fills_the_window(browser, server, language, width, words):
    context = browser.new_context(locale=language, timezone_id="Asia/Shanghai",
                                  viewport={"width": width, "height": 900 if width > 600 else 844})
    page = context.new_page()
    page.base_url = server[0]
    sign_in(page, OWNER)
    open_draft_of_latest(page)
    start_event = page.locator('.djs-palette [data-action="create.start-event"]')
    expect(start_event).to_have_attribute("aria-label", words["start"])
    expect(page.locator(".bjsl-button")).to_contain_text(re.compile(words["lint"]))
    page.locator(".bjsl-button").hover()
    select(page, TASK, words["type"])
    expect(page.locator('[data-group-id="group-general"] .bio-properties-panel-group-header-title')).to_have_text(
        words["group"])
    canvas = page.locator("[data-role=canvas]").bounding_box()
    if width > 600:  # the canvas takes the window's height below the header and the toolbar
        assert canvas["height"] >= 900 - 260, canvas
    else:  # the diagram above its properties, nothing wider than the phone
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert canvas["width"] <= width and canvas["height"] >= 400
    shot(page, f"modeller-{language}-{width}")
    context.close()


def test_field_permissions_set_in_the_panel_are_deployed_and_kept_by_the_step(page, server):
    ctx = server[1]
    sign_in(page, OWNER)
    open_draft_of_latest(page)
    select(page, TASK)
    group = page.locator('[data-group-id="group-Xiezuo__FieldAccess"]')
    expect(group.locator(".bio-properties-panel-group-header-title")).to_have_text("字段权限")
    group.locator(".bio-properties-panel-group-header").click()
    contact = page.locator("#bio-properties-panel-xiezuoAccess-contact")
    expect(contact.locator("option")).to_have_text(["可编辑", "只读", "隐藏"])
    contact.select_option("hidden")
    own = page.locator("#bio-properties-panel-xiezuoAccess-signoff_comment")  # its own field: not hideable
    expect(own.locator("option")).to_have_text(["可编辑", "只读"])
    own.select_option("readonly")
    own.select_option("")  # and back: the property goes away again
    batch = page.locator('[data-group-id="group-Xiezuo__Batch"]')
    batch.locator(".bio-properties-panel-group-header").click()
    decision = page.locator("#bio-properties-panel-xiezuoBatchDecision")
    expect(decision).to_have_value("signoff_decision=同意")  # the product diagram allows the batch
    expect(page.locator("#bio-properties-panel-xiezuoBatchComment")).to_have_value("signoff_comment")
    decision.select_option("")  # no batch: no comment field either
    expect(page.locator("#bio-properties-panel-xiezuoBatchComment")).to_have_count(0)
    decision.select_option("signoff_decision=同意")
    page.locator("#bio-properties-panel-xiezuoBatchComment").select_option("signoff_comment")
    page.locator("#bio-properties-panel-xiezuoNoAssignee").select_option("superior")
    timeout = page.locator('[data-group-id="group-Xiezuo__Timeout"]')
    timeout.locator(".bio-properties-panel-group-header").click()
    page.locator("#bio-properties-panel-xiezuoTimeoutAction").select_option("superior")
    page.locator("#bio-properties-panel-xiezuoTimeoutAfter").fill("2")
    page.locator("#bio-properties-panel-xiezuoTimeoutAfter").press("Tab")
    select(page, "approve_plan")  # the heads' plan approval: 会签, every one decides
    vote = page.locator('[data-group-id="group-Xiezuo__Vote"]')
    vote.locator(".bio-properties-panel-group-header").click()
    expect(page.locator("#bio-properties-panel-xiezuoVoteRule")).to_have_value("all")
    expect(page.locator("#bio-properties-panel-xiezuoVoteAgree")).to_have_value("approval_decision=同意")
    expect(page.locator("#bio-properties-panel-xiezuoVoteRejection")).to_have_value("counted")
    page.locator("#bio-properties-panel-xiezuoVoteRule").select_option("ratio")
    page.locator("#bio-properties-panel-xiezuoVoteRatio").fill("2/3")
    page.locator("#bio-properties-panel-xiezuoVoteRatio").press("Tab")
    select(page, "collaboration_request_participant", "池（参与者）")  # the process's own rule, on its pool
    rules = page.locator('[data-group-id="group-Xiezuo__ApproverRules"]')
    rules.locator(".bio-properties-panel-group-header").click()
    rules.locator("#bio-properties-panel-xiezuoAutoPass").check()
    expect(page.locator("#modeller")).to_have_attribute("data-dirty", "true")
    shot(page, "modeller-field-access")
    with page.expect_navigation():
        page.click("[data-action=deploy]")
    expect(page.locator("p.flash")).to_contain_text("已部署为版本 2")

    newer = submit_request(ctx, "xiaowang", REQUEST)
    assert describe_instance(ctx, newer.instance_id)["version"] == 2
    become(page, "zhangzongjian")
    task_page(page, ctx, newer.instance_id)
    expect(page.locator('[data-story="request"]')).to_contain_text(REQUEST["goal"])
    expect(page.locator('[data-story="request"] [data-field="contact"]')).to_have_count(0)
    assert REQUEST["contact"] not in page.content()
    expect(page.locator("#f-signoff_comment")).to_be_editable()
    expect(page.locator("p.notice.timeout")).to_contain_text("将转给处理人的上级")  # two working days on
    # the head files one himself: his own sign-off passes by the process's rule
    own = submit_request(ctx, "zhangzongjian", REQUEST)
    assert [t["element_id"] for t in describe_instance(ctx, own.instance_id)["open_tasks"]] == ["admin_review"]
    # with 市场部's head post empty, the sign-off goes to the requester's superior
    set_post(ctx, "MKT", "head", None, "lijingli")
    orphan = submit_request(ctx, "xiaowang", REQUEST)
    (signoff,) = describe_instance(ctx, orphan.instance_id)["open_tasks"]
    assert (signoff["element_id"], signoff["assignee"]) == ("dept_head_signoff", "zhangzongjian")
