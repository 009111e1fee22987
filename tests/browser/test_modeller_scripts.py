"""The modeller's "脚本" group in Chromium: a process owner (刘总监) writes the pre- and post-scripts
(spiffworkflow:preScript / postScript) the engine runs around a task, in the properties panel. A
post-script added there is saved, deployed and run by the engine; a script the engine refuses is
marked on its task at the check and at the deploy; undo brings the previous script back; a script
cleared to nothing leaves no element behind. The multi-instance group edits the data the engine
makes instances from."""

from __future__ import annotations

import re

from lxml import etree
from playwright.sync_api import expect

from engine.bpmn.versions import get_draft
from engine.requests.requests import submit_request
from engine.workflow.instances import complete_task, describe_instance, start_instance
from tests.browser.conftest import LIVE_REQUEST as REQUEST
from tests.browser.conftest import ROOT, shot, sign_in
from tests.browser.test_modeller import OWNER, _diagram, become, open_draft_of_latest

TASK = "dept_head_signoff"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
MARKED = re.compile(r"\bxz-problem\b")
NOTE = "notify(requester, 'info', '签批结果已记录：' + signoff_decision)"


def select(page, element_id: str, kind: str = "用户任务") -> None:
    """Find an element with the modeller's search (Ctrl+F, its id, Enter): it is selected."""
    page.locator("[data-role=canvas]").click(position={"x": 500, "y": 600})
    page.keyboard.press("Control+f")
    page.keyboard.type(element_id)
    expect(page.locator(f'.djs-search-result[data-result-id="{element_id}"]')).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator(".bio-properties-panel-header-type")).to_have_text(kind)
    expect(page.locator(".bio-properties-panel-header-label")).to_have_count(1)


def open_scripts(page):
    group = page.locator('[data-group-id="group-Xiezuo__Scripts"]')
    expect(group.locator(".bio-properties-panel-group-header-title")).to_have_text("脚本")
    if not page.locator("#bio-properties-panel-spiffPostScript").is_visible():
        group.locator(".bio-properties-panel-group-header").click()
    return group


def edit(page, what: str, value: str) -> None:
    """Type `value` into a script editor and wait until the modeller took it as a command."""
    before = page.locator("#modeller").get_attribute("data-changes")
    page.locator(f"#bio-properties-panel-{what}").fill(value)
    expect(page.locator("#modeller")).not_to_have_attribute("data-changes", before or "0")


def scripts_of(xml: str, element_id: str) -> dict[str, str]:
    root = etree.fromstring(xml.encode("utf-8"))
    (node,) = root.xpath("//*[@id=$id]", id=element_id)
    return {etree.QName(s).localname: s.text for s in node.xpath("bpmn:extensionElements/spiff:*",
                                                                  namespaces={"bpmn": BPMN, "spiff": SPIFF})}


def draft_xml(page, ctx) -> str:
    return get_draft(ctx, int(page.locator("#modeller").get_attribute("data-draft")))["xml"]


def test_a_post_script_written_in_the_panel_is_deployed_and_run_by_the_engine(page, server):
    ctx = server[1]
    original = (ROOT / "processes" / "collaboration_request.bpmn").read_text("utf-8")
    signoff_script = scripts_of(original, TASK)["postScript"]
    sign_in(page, OWNER)
    open_draft_of_latest(page)
    select(page, TASK)
    open_scripts(page)
    expect(page.locator("#bio-properties-panel-spiffPreScript")).to_have_value("")
    expect(page.locator("#bio-properties-panel-spiffPostScript")).to_have_value(signoff_script)
    edit(page, "spiffPostScript", signoff_script + "\n" + NOTE)
    shot(page, "modeller-scripts")
    page.click("[data-action=save]")
    expect(page.locator("[data-role=status]")).to_have_text("草稿已保存")

    saved = draft_xml(page, ctx)
    assert scripts_of(saved, TASK) == {"postScript": signoff_script + "\n" + NOTE}
    # What the panel does not touch survives the round trip: the other scripts, and where the
    # scripts of the multi-instance tasks run.
    for element in ("admin_review", "lead_confirm", "collect_feedback", "approve_plan", "accept_deliverable"):
        assert scripts_of(saved, element) == scripts_of(original, element), element
    assert saved.count('spiffworkflow:scriptsOnInstances="true"') == original.count(
        'spiffworkflow:scriptsOnInstances="true"') > 0

    with page.expect_navigation():
        page.click("[data-action=deploy]")
    expect(page.locator("p.flash")).to_contain_text("已部署为版本 2")

    started = submit_request(ctx, "xiaowang", REQUEST)
    assert describe_instance(ctx, started.instance_id)["version"] == 2
    (task,) = describe_instance(ctx, started.instance_id)["open_tasks"]
    complete_task(ctx, task["task_id"], "zhangzongjian", {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    become(page, "xiaowang")
    page.goto(f"{page.base_url}/notifications")
    expect(page.locator('.notification-list li[data-kind="info"]', has_text="签批结果已记录：同意")).to_have_count(1)


def test_a_script_the_engine_refuses_is_marked_and_undo_brings_the_old_one_back(page, server):
    original = (ROOT / "processes" / "collaboration_request.bpmn").read_text("utf-8")
    signoff_script = scripts_of(original, TASK)["postScript"]
    sign_in(page, OWNER)
    open_draft_of_latest(page)
    select(page, TASK)
    open_scripts(page)
    editor = page.locator("#bio-properties-panel-spiffPostScript")
    edit(page, "spiffPostScript", "import os\nos.remove('x')")

    page.click("[data-action=check]")
    expect(page.locator("#modeller")).to_have_attribute("data-problems", TASK)
    expect(page.locator(f'.djs-element[data-element-id="{TASK}"]')).to_have_class(MARKED)
    problem = page.locator(".problems li")
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text("post-script: Line 1: import is not allowed in scripts")
    expect(page.locator("[data-role=status]")).to_have_attribute("data-kind", "error")

    # A syntax error is refused at the deploy too, with its line; nothing is deployed.
    edit(page, "spiffPostScript", "if signoff_decision == '退回'\n    pass")
    page.click("[data-action=deploy]")
    expect(page.locator("[data-role=status]")).to_contain_text("部署被拒绝")
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text("post-script: Line 1: SyntaxError")
    expect(page.locator(f'.djs-element[data-element-id="{TASK}"]')).to_have_class(MARKED)
    shot(page, "modeller-script-refused")

    # Ctrl+Z in the panel undoes the last edit, then the one before: the diagram's own script is back.
    editor.click()
    page.keyboard.press("Control+z")
    expect(editor).to_have_value("import os\nos.remove('x')")
    page.keyboard.press("Control+z")
    expect(editor).to_have_value(signoff_script)
    page.click("[data-action=check]")
    expect(page.locator("[data-role=status]")).to_have_text("检查通过，可以部署")
    expect(page.locator(".problems li")).to_have_count(0)
    # Redo goes forward again.
    editor.click()
    page.keyboard.press("Control+y")
    expect(editor).to_have_value("import os\nos.remove('x')")
    page.goto(f"{page.base_url}/modeller/processes/collaboration_request")
    expect(page.locator("tr[data-version]")).to_have_count(1)


def test_a_pre_script_is_created_on_a_bare_task_and_clearing_it_removes_it(page, server, tmp_path):
    ctx = server[1]
    sign_in(page, OWNER)
    page.goto(f"{page.base_url}/modeller")
    upload = tmp_path / "small_review.bpmn"
    upload.write_text(_diagram("none"), "utf-8")
    page.set_input_files("#upload input[type=file]", str(upload))
    with page.expect_navigation():
        page.click("#upload button[type=submit]")
    expect(page.locator("#modeller")).to_have_class("modeller ready", timeout=20000)
    select(page, "Review")
    open_scripts(page)
    # Only a multi-instance task asks where its scripts run.
    expect(page.locator("#bio-properties-panel-spiffScriptsOnInstances")).to_have_count(0)
    edit(page, "spiffPreScript", "wait = False")
    edit(page, "spiffPostScript", "reviewed = True")
    page.click("[data-action=save]")
    expect(page.locator("[data-role=status]")).to_have_text("草稿已保存")
    assert scripts_of(draft_xml(page, ctx), "Review") == {"preScript": "wait = False", "postScript": "reviewed = True"}

    edit(page, "spiffPreScript", "")
    edit(page, "spiffPostScript", "  ")
    page.click("[data-action=save]")
    expect(page.locator("[data-role=status]")).to_have_text("草稿已保存")
    xml = draft_xml(page, ctx)
    assert scripts_of(xml, "Review") == {}
    root = etree.fromstring(xml.encode("utf-8"))
    assert root.xpath("//bpmn:userTask[@id='Review']/bpmn:extensionElements", namespaces={"bpmn": BPMN}) == []

    # Undo of the clearing brings the script back (one step per edit).
    editor = page.locator("#bio-properties-panel-spiffPostScript")
    editor.click()
    page.keyboard.press("Control+z")
    expect(editor).to_have_value("reviewed = True")
    expect(page.locator("#bio-properties-panel-spiffPreScript")).to_have_value("")
    page.keyboard.press("Control+z")
    expect(page.locator("#bio-properties-panel-spiffPreScript")).to_have_value("wait = False")


def test_a_multi_instance_task_says_whether_its_scripts_run_on_each_instance(page, server):
    ctx = server[1]
    sign_in(page, OWNER)
    open_draft_of_latest(page)
    select(page, "collect_feedback")
    open_scripts(page)
    each = page.locator("#bio-properties-panel-spiffScriptsOnInstances")
    expect(each).to_be_checked()
    expect(page.locator("#bio-properties-panel-spiffPostScript")).to_have_value("dept_feedback = feedback_dept")
    # The multi-instance group shows the data the engine reads, not Camunda's collection/element variable.
    page.locator('[data-group-id="group-multiInstance"] .bio-properties-panel-group-header').click()
    for what, value in [("spiffLoopInput", "involved_depts"), ("spiffInputItem", "feedback_dept"),
                        ("spiffLoopOutput", "dept_feedbacks"), ("spiffOutputItem", "dept_feedback")]:
        expect(page.locator(f"#bio-properties-panel-{what}")).to_have_value(value)
    expect(page.locator("#bio-properties-panel-collection")).to_have_count(0)
    expect(page.locator("#bio-properties-panel-elementVariable")).to_have_count(0)
    each.uncheck()
    page.click("[data-action=save]")
    expect(page.locator("[data-role=status]")).to_have_text("草稿已保存")
    root = etree.fromstring(draft_xml(page, ctx).encode("utf-8"))
    (loop,) = root.xpath("//*[@id='collect_feedback']/bpmn:multiInstanceLoopCharacteristics", namespaces={"bpmn": BPMN})
    assert loop.get(f"{{{SPIFF}}}scriptsOnInstances") is None
    each.check()
    page.click("[data-action=save]")
    expect(page.locator("[data-role=status]")).to_have_text("草稿已保存")
    root = etree.fromstring(draft_xml(page, ctx).encode("utf-8"))
    (loop,) = root.xpath("//*[@id='collect_feedback']/bpmn:multiInstanceLoopCharacteristics", namespaces={"bpmn": BPMN})
    assert loop.get(f"{{{SPIFF}}}scriptsOnInstances") == "true"


def test_a_task_made_multi_instance_in_the_panel_opens_one_task_per_item(page, server, tmp_path):
    ctx = server[1]
    sign_in(page, OWNER)
    page.goto(f"{page.base_url}/modeller")
    upload = tmp_path / "small_review.bpmn"
    upload.write_text(_diagram("none"), "utf-8")
    page.set_input_files("#upload input[type=file]", str(upload))
    with page.expect_navigation():
        page.click("#upload button[type=submit]")
    expect(page.locator("#modeller")).to_have_class("modeller ready", timeout=20000)
    select(page, "Review")
    page.click('.djs-context-pad [data-action="replace"]')
    page.click('.djs-popup [data-id="toggle-parallel-mi"]')
    page.locator('[data-group-id="group-multiInstance"] .bio-properties-panel-group-header').click()
    item = page.locator("#bio-properties-panel-spiffInputItem")
    error = page.locator('[data-entry-id="spiffInputItem"] .bio-properties-panel-error')
    item.fill("1st")
    expect(error).to_contain_text("变量名只能由字母、数字和下划线组成")
    item.fill("Review")
    expect(error).to_contain_text("该名称已是流程图中其他元素的 ID")
    edit(page, "spiffLoopInput", "reviewers")
    edit(page, "spiffInputItem", "reviewer")
    expect(error).to_have_count(0)
    open_scripts(page)
    edit(page, "spiffPostScript", "review_done = reviewer")
    page.click("[data-action=save]")
    expect(page.locator("[data-role=status]")).to_have_text("草稿已保存")
    root = etree.fromstring(draft_xml(page, ctx).encode("utf-8"))
    ns = {"bpmn": BPMN}
    assert root.xpath("//bpmn:process/bpmn:property/@id", namespaces=ns) == ["reviewers"]
    (loop,) = root.xpath("//bpmn:userTask[@id='Review']/bpmn:multiInstanceLoopCharacteristics", namespaces=ns)
    assert loop.findtext("bpmn:loopDataInputRef", namespaces=ns) == "reviewers"
    assert loop.find("bpmn:inputDataItem", ns).attrib == {"id": "reviewer", "name": "reviewer"}

    with page.expect_navigation():
        page.click("[data-action=deploy]")
    expect(page.locator("p.flash")).to_contain_text("已部署为版本 1")
    started = start_instance(ctx, "small_review", "lijingli", {"reviewers": ["甲", "乙"]})
    assert len(describe_instance(ctx, started.instance_id)["open_tasks"]) == 2


SPIFF_EXTRAS = """<bpmn:extensionElements>
        <spiffworkflow:variableName>review</spiffworkflow:variableName>
        <spiffworkflow:instructionsForEndUser>Read &lt;all&gt; of it</spiffworkflow:instructionsForEndUser>
        <spiffworkflow:properties><spiffworkflow:property name="weight" value="2"/></spiffworkflow:properties>
        <spiffworkflow:unitTests><spiffworkflow:unitTest id="t1"><spiffworkflow:inputJson>{}</spiffworkflow:inputJson>
          <spiffworkflow:expectedOutputJson>{"wait": false}</spiffworkflow:expectedOutputJson>
        </spiffworkflow:unitTest></spiffworkflow:unitTests>
        <spiffworkflow:postScript>wait = 1 &lt; 0</spiffworkflow:postScript>
      </bpmn:extensionElements>"""


def test_spiffworkflow_elements_the_panel_does_not_show_survive_an_edit_and_a_save(page, server, tmp_path):
    ctx = server[1]
    source = _diagram("none").replace(
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"',
        f'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:spiffworkflow="{SPIFF}"').replace(
        '<bpmn:incoming>f1</bpmn:incoming>', SPIFF_EXTRAS + '<bpmn:incoming>f1</bpmn:incoming>')
    sign_in(page, OWNER)
    page.goto(f"{page.base_url}/modeller")
    upload = tmp_path / "small_review.bpmn"
    upload.write_text(source, "utf-8")
    page.set_input_files("#upload input[type=file]", str(upload))
    with page.expect_navigation():
        page.click("#upload button[type=submit]")
    expect(page.locator("#modeller")).to_have_class("modeller ready", timeout=20000)
    select(page, "Review")
    open_scripts(page)
    expect(page.locator("#bio-properties-panel-spiffPostScript")).to_have_value("wait = 1 < 0")
    edit(page, "spiffPreScript", "wait = True")
    page.click("[data-action=save]")
    expect(page.locator("[data-role=status]")).to_have_text("草稿已保存")

    def extensions(xml: str) -> list[str]:
        root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(remove_blank_text=True))  # layout aside
        found = root.xpath("//bpmn:userTask[@id='Review']/bpmn:extensionElements/spiff:*",
                           namespaces={"bpmn": BPMN, "spiff": SPIFF})
        return [etree.tostring(each, method="c14n").decode() for each in found]

    saved = draft_xml(page, ctx)
    before, after = extensions(source), extensions(saved)
    assert len(before) == 5 and [e for e in after if ":preScript" not in e] == before
    assert scripts_of(saved, "Review")["preScript"] == "wait = True"
