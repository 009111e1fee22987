"""Filing a request and working on tasks through the pages: forms, drafts, files, tables, operations."""

from __future__ import annotations

import io
import re

import pytest

from engine.requests.records import list_records
from engine.requests.requests import submit_request
from engine.tasks.operations import cc_list
from engine.workflow.instances import describe_instance
from tests.scenarios import steps
from tests.scenarios.driver import MONDAY, Flow
from tests.webui.conftest import csrf_of, sign_in

FORM = {**steps.REQUEST, "related_project": "2026双十一"}  # template 1, every field but the files


def page(client, url: str) -> str:
    answer = client.get(url)
    assert answer.status_code == 200, (url, answer.status_code)
    return answer.get_data(as_text=True)


def post(client, url: str, data: dict, token_from: str | None = None):
    """POST a page's form: the CSRF token is read from the page at `token_from` (default: `url`)."""
    token = csrf_of(page(client, token_from or url))
    return client.post(url, data={**data, "csrf_token": token})


def field_html(html: str, field_id: str) -> str:
    """The markup of one form field (its label, input, help and error); on a task page, of its form
    (the request and the earlier steps above it show fields of their own)."""
    html = html[html.find('<section class="work-form">'):] if '<section class="work-form">' in html else html
    found = re.search(rf'<div class="field[^"]*" data-field="{field_id}".*?(?=<div class="field|<div class="actions|'
                      rf'<p class="help">|</form>)', html, re.S)
    assert found, f"no field {field_id} on the page"
    return found.group(0)


def open_task(ctx, instance_id: str, element_id: str) -> dict:
    found = [t for t in describe_instance(ctx, instance_id)["open_tasks"] if t["element_id"] == element_id]
    assert len(found) == 1, [t["element_id"] for t in describe_instance(ctx, instance_id)["open_tasks"]]
    return found[0]


def filed(ctx) -> str:
    """A request filed by 小王 through the engine: 张总监's sign-off is open."""
    return submit_request(ctx, "xiaowang", dict(steps.REQUEST)).instance_id


def flashes(client) -> str:
    return page(client, "/inbox")


def switch(client, user: str) -> None:
    """Sign out whoever is signed in and sign in as `user`."""
    client.post("/logout", data={"csrf_token": csrf_of(page(client, "/inbox"))})
    assert sign_in(client, user).status_code == 302


def test_a_full_request_filed_through_the_page_is_numbered_and_reaches_the_head(client, ctx):
    sign_in(client, "xiaowang")
    html = page(client, "/requests/new")
    for field_id in ("request_type", "title", "background", "goal", "involved_depts", "details", "expected_date",
                     "priority", "urgency", "contact", "related_project", "attachments"):
        assert f'data-field="{field_id}"' in html
    assert '<fieldset class="checklist" data-checklist="involved_depts" id="f-involved_depts"' in html
    assert '<input type="checkbox" name="involved_depts" value="PRD"> 产品部' in html
    assert 'type="date" name="expected_date"' in html
    assert 'type="file" name="attachments"' in html and 'enctype="multipart/form-data"' in html
    assert "需求背景" in html and "为什么做" in html  # the label, and its guidance as help text
    answer = client.post("/requests/new", data={
        **FORM, "action": "submit", "csrf_token": csrf_of(html),
        "attachments": [(io.BytesIO("活动方案：市场部负责物料".encode()), "方案.txt", "text/plain")]})
    assert answer.status_code == 302 and answer.headers["Location"] == f"/requests/{_only_instance(ctx)}"
    assert "需求已提交，编号 XMBG-202609001" in flashes(client)  # landing on the new request

    (started,) = [t for t in describe_instance(ctx, _only_instance(ctx))["open_tasks"]]
    assert started["element_id"] == "dept_head_signoff" and started["assignee"] == "zhangzongjian"
    assert started["business_key"] == "XMBG-202609001"
    files = [r for r in list_records(ctx, started["instance_id"], "xiaowang") if r["kind"] == "attachment"]
    assert [f["filename"] for f in files] == ["方案.txt"]
    switch(client, "zhangzongjian")
    assert "发起部门负责人签批" in page(client, "/inbox")
    assert "签批结果" in page(client, f"/tasks/{started['task_id']}")


def _only_instance(ctx) -> str:
    with ctx.db.read() as s:
        from engine.db.models import ProcessInstance

        (found,) = s.query(ProcessInstance.id).all()
        return found[0]


def test_a_missing_required_field_is_shown_next_to_it_and_the_input_is_kept(client, ctx):
    sign_in(client, "xiaowang")
    answer = post(client, "/requests/new", {**FORM, "title": "", "action": "submit"})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    title = field_html(html, "title")
    assert 'class="field has-error"' in title and '<p class="error" id="f-title-error" role="alert">必填</p>' in title
    assert "双十一大促需要市场、产品、销售协同" in field_html(html, "background")  # what was typed is kept
    assert 'name="involved_depts" value="SAL" checked' in field_html(html, "involved_depts")
    assert 'value="紧急" checked' in field_html(html, "urgency")
    assert "请修改标红的 1 项后再提交" in html
    with ctx.db.read() as s:
        from engine.db.models import ProcessInstance

        assert s.query(ProcessInstance).count() == 0


def test_bounds_are_stated_on_the_page_and_refusals_name_the_field(client, ctx):
    # The clock reads 30 September 2026 in Beijing.
    sign_in(client, "xiaowang")
    html = page(client, "/requests/new")
    assert re.search(r'<input type="date" name="expected_date"[^>]* min="2026-09-30">', html)
    assert 'maxlength="20000"' in field_html(html, "background")
    answer = post(client, "/requests/new", {**FORM, "background": "背" * 20_001, "expected_date": "2026-09-29",
                                            "involved_depts": ["PRD", "NOPE"], "action": "submit"})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "最多 20000 个字" in field_html(html, "background")
    assert "不能早于今天（2026-09-30）" in field_html(html, "expected_date")
    assert "“NOPE”不是已有的部门" in field_html(html, "involved_depts")
    assert _no_instance(ctx)


def _no_instance(ctx) -> bool:
    with ctx.db.read() as s:
        from engine.db.models import ProcessInstance

        return s.query(ProcessInstance).count() == 0


def test_a_wrong_file_is_refused_before_the_request_is_filed(client, ctx):
    sign_in(client, "xiaowang")
    token = csrf_of(page(client, "/requests/new"))
    answer = client.post("/requests/new", data={**FORM, "action": "submit", "csrf_token": token,
                                                "attachments": [(io.BytesIO(b"MZ\x90\x00binary"), "tool.exe", "")]})
    assert answer.status_code == 422
    assert "类型不在允许范围内" in field_html(answer.get_data(as_text=True), "attachments")
    with ctx.db.read() as s:
        from engine.db.models import ProcessInstance

        assert s.query(ProcessInstance).count() == 0


def test_a_draft_is_saved_restored_and_deleted(client, ctx, app):
    sign_in(client, "xiaowang")
    answer = post(client, "/requests/new", {"title": "草稿：物流协作", "involved_depts": ["LOG", "CS"],
                                            "expected_date": "2026-11-30", "action": "draft"})
    assert answer.status_code == 302
    html = page(client, "/requests/new")
    assert "草稿已保存" in html and "data-draft" in html
    assert 'value="草稿：物流协作"' in field_html(html, "title")
    assert 'name="involved_depts" value="LOG" checked' in html and 'name="involved_depts" value="CS" checked' in html
    assert 'value="2026-11-30"' in field_html(html, "expected_date")
    switch(client, "songyu")  # another user has no draft
    assert "data-draft" not in page(client, "/requests/new")
    switch(client, "xiaowang")
    assert post(client, "/requests/new", {"action": "discard"}).status_code == 302
    html = page(client, "/requests/new")
    assert "data-draft" not in html and "草稿：物流协作" not in html


def test_filing_drops_the_draft(client, ctx):
    sign_in(client, "xiaowang")
    post(client, "/requests/new", {**FORM, "action": "draft"})
    assert post(client, "/requests/new", {**FORM, "action": "submit"}).status_code == 302
    assert "data-draft" not in page(client, "/requests/new")


def test_the_conflict_process_is_offered_too(client, ctx):
    sign_in(client, "xiaowang")
    html = page(client, "/requests/new?process=conflict_resolution")
    assert 'data-field="conflict_parties"' in html and 'aria-current="page">问题协调' in html
    answer = post(client, "/requests/new?process=conflict_resolution", {
        "conflict_topic": "物流与客服争抢客服热线人手", "conflict_parties": ["LOG", "CS"],
        "conflict_description": "大促期间两部门都需要热线坐席", "action": "submit"})
    assert answer.status_code == 302
    assert "需求已提交，编号 XMBG-202609001" in flashes(client)
    assert client.get("/requests/new?process=nope").status_code == 404


def test_the_sign_off_is_completed_through_the_task_page(client, ctx):
    instance_id = filed(ctx)
    task = open_task(ctx, instance_id, "dept_head_signoff")
    sign_in(client, "zhangzongjian")
    url = f"/tasks/{task['task_id']}"
    html = page(client, url)
    assert "XMBG-202609001" in html and 'type="radio" name="signoff_decision" value="同意"' in html
    answer = post(client, url, {"signoff_decision": "退回", "signoff_comment": ""})
    assert answer.status_code == 422
    assert "必填" in field_html(answer.get_data(as_text=True), "signoff_comment")
    assert 'value="退回" checked' in answer.get_data(as_text=True)
    answer = post(client, url, {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/inbox"
    assert "已完成：发起部门负责人签批" in flashes(client)
    assert open_task(ctx, instance_id, "admin_review")["candidate_groups"] == ["platform_admins"]
    done = client.get(url)  # done: the task's page is gone, its request is shown instead
    assert done.status_code == 302 and done.headers["Location"] == f"/requests/{instance_id}"


def test_a_stranger_gets_404_and_the_requester_a_read_only_view(client, ctx):
    task = open_task(ctx, filed(ctx), "dept_head_signoff")
    url = f"/tasks/{task['task_id']}"
    sign_in(client, "linna")
    assert client.get(url).status_code == 404
    assert client.post(url, data={"csrf_token": csrf_of(page(client, "/inbox")),
                                  "signoff_decision": "同意"}).status_code == 404
    assert client.get("/tasks/00000000-0000-0000-0000-000000000000").status_code == 404
    switch(client, "xiaowang")
    html = page(client, url)
    assert 'data-form="complete"' not in html and 'data-op="urge"' in html and 'data-op="withdraw"' in html
    assert client.post(url, data={"csrf_token": csrf_of(html), "signoff_decision": "同意",
                                  "signoff_comment": "自己批"}).status_code == 404
    switch(client, "shenjie")  # the auditor reads, and neither urges nor comments
    html = page(client, url)
    assert 'data-op="urge"' not in html and 'data-op="comment"' not in html and "data-history" in html


def test_a_group_task_is_claimed_on_its_page(client, ctx, clock):
    flow = Flow(ctx, clock)
    flow.instance_id = filed(ctx)
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意"})
    task = open_task(ctx, flow.instance_id, "admin_review")
    sign_in(client, "xiaozhou")
    url = f"/tasks/{task['task_id']}"
    assert 'data-op="claim"' in page(client, url)
    assert post(client, f"{url}/claim", {}, token_from=url).status_code == 302
    assert open_task(ctx, flow.instance_id, "admin_review")["assignee"] == "xiaozhou"
    assert 'data-op="release"' in page(client, url)


def test_transfer_through_the_page_needs_a_reason(client, ctx):
    task = open_task(ctx, filed(ctx), "dept_head_signoff")
    url = f"/tasks/{task['task_id']}"
    sign_in(client, "zhangzongjian")
    answer = post(client, f"{url}/transfer", {"to_user": "songyu", "reason": ""}, token_from=url)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    transfer = re.search(r'<details class="op" data-op="transfer" open>.*?</details>', html, re.S).group(0)
    assert '<p class="error" role="alert">必填</p>' in transfer
    assert '<option value="songyu" selected>' in html  # the choice is kept
    assert 'value="shenjie"' not in transfer  # the auditor is offered no task
    answer = post(client, f"{url}/transfer", {"to_user": "shenjie", "reason": "请审计"}, token_from=url)
    assert answer.status_code == 422
    assert "所选的人是审计员：审计员只查看、不更改，任务不能交给审计员" in answer.get_data(as_text=True)
    answer = post(client, f"{url}/transfer", {"to_user": "songyu", "reason": "出差一周，由宋雨代签"}, token_from=url)
    assert answer.status_code == 302 and "已转办" in flashes(client)
    assert open_task(ctx, task["instance_id"], "dept_head_signoff")["assignee"] == "songyu"
    assert 'data-form="complete"' not in page(client, url)  # no longer 张总监's to do: he may only look
    switch(client, "songyu")
    html = page(client, url)
    assert "转办" in html and "出差一周，由宋雨代签" in html and "张总监" in html  # the history


def test_cc_through_the_page(client, ctx):
    task = open_task(ctx, filed(ctx), "dept_head_signoff")
    url = f"/tasks/{task['task_id']}"
    sign_in(client, "zhangzongjian")
    answer = post(client, f"{url}/cc", {"to_users": ["xiaozhou", "lijingli"], "note": "请知悉"}, token_from=url)
    assert answer.status_code == 302 and answer.headers["Location"] == url
    assert cc_list(ctx, "xiaozhou").total == 1 and cc_list(ctx, "lijingli").items[0]["note"] == "请知悉"
    html = page(client, url)
    assert "已抄送" in html and re.search(r"抄送 → 周晓、李经理", html)


def test_a_refused_operation_says_why_in_the_readers_language(client, ctx):
    task = open_task(ctx, filed(ctx), "dept_head_signoff")
    url = f"/tasks/{task['task_id']}"
    sign_in(client, "zhangzongjian")
    answer = post(client, f"{url}/cc", {"to_users": ["zhangzongjian"]}, token_from=url)
    assert answer.status_code == 422 and "不能抄送给自己" in answer.get_data(as_text=True)
    html = page(client, url)
    client.post("/language/en", data={"csrf_token": csrf_of(html), "next": url})
    answer = post(client, f"{url}/cc", {"to_users": ["zhangzongjian"]}, token_from=url)
    assert answer.status_code == 422 and "You cannot copy a task to yourself" in answer.get_data(as_text=True)
    assert cc_list(ctx, "zhangzongjian").total == 0


def test_delegate_and_hand_back_through_the_page(client, ctx):
    task = open_task(ctx, filed(ctx), "dept_head_signoff")
    url = f"/tasks/{task['task_id']}"
    sign_in(client, "zhangzongjian")
    assert post(client, f"{url}/delegate", {"to_user": "songyu", "reason": "请先核实预算"},
                token_from=url).status_code == 302
    switch(client, "songyu")
    html = page(client, url)
    assert 'data-op="resolve"' in html and 'data-form="complete"' not in html
    assert 'name="signoff_comment"' not in html  # the form is shown, read-only: the delegator completes it
    assert post(client, f"{url}/resolve", {"comment": "预算已核实"}, token_from=url).status_code == 302
    assert open_task(ctx, task["instance_id"], "dept_head_signoff")["assignee"] == "zhangzongjian"


def test_the_requester_urges_and_withdraws_from_the_task_page(client, ctx):
    instance_id = filed(ctx)
    task = open_task(ctx, instance_id, "dept_head_signoff")
    url = f"/tasks/{task['task_id']}"
    sign_in(client, "xiaowang")
    answer = post(client, f"{url}/urge", {"message": "本周五前请签批", "next": url}, token_from=url)
    assert answer.status_code == 302 and answer.headers["Location"] == url
    assert "已催办" in page(client, url)
    again = post(client, f"{url}/urge", {"message": "", "next": url}, token_from=url)
    assert again.headers["Location"] == url and "起可再次催办" in page(client, url)  # once an hour
    answer = post(client, f"/requests/{instance_id}/withdraw", {"reason": "", "next": url}, token_from=url)
    assert answer.headers["Location"] == url and "撤回需填写原因" in page(client, url)
    answer = post(client, f"/requests/{instance_id}/withdraw", {"reason": "需求已取消", "next": url}, token_from=url)
    assert answer.status_code == 302 and describe_instance(ctx, instance_id)["status"] == "cancelled"


def test_a_comment_from_the_task_page(client, ctx):
    task = open_task(ctx, filed(ctx), "dept_head_signoff")
    url = f"/tasks/{task['task_id']}"
    sign_in(client, "zhangzongjian")
    answer = post(client, f"{url}/comment", {"body": ""}, token_from=url)
    assert answer.status_code == 422 and 'data-op="comment" open' in answer.get_data(as_text=True)
    assert post(client, f"{url}/comment", {"body": "预算请再细化"}, token_from=url).status_code == 302
    comments = [r for r in list_records(ctx, task["instance_id"], "zhangzongjian") if r["kind"] == "comment"]
    assert [c["body"] for c in comments] == ["预算请再细化"]


def test_files_uploaded_on_a_task_form_are_attached_and_named_in_its_value(client, ctx, clock):
    flow = Flow(ctx, clock)
    flow.instance_id = filed(ctx)
    flow.complete("dept_head_signoff", {"signoff_decision": "退回", "signoff_comment": "请补充预算表"})
    task = open_task(ctx, flow.instance_id, "revise_request")
    url = f"/tasks/{task['task_id']}"
    sign_in(client, "xiaowang")
    html = page(client, url)
    assert "请补充预算表" in field_html(html, "signoff_comment")  # read-only, shown
    assert 'value="双十一大促跨部门协作"' in field_html(html, "title")  # what was filed, to revise
    answer = client.post(url, data={
        **FORM, "csrf_token": csrf_of(html),
        "attachments": [(io.BytesIO("预算：10万元".encode()), "预算表.csv", "text/csv")]})
    assert answer.status_code == 302
    (added,) = [r for r in list_records(ctx, flow.instance_id, "xiaowang") if r["kind"] == "attachment"]
    assert added["filename"] == "预算表.csv" and added["task_id"] == task["task_id"]
    [(_actor, data)] = flow.completed_by("revise_request")
    assert data["data"]["attachments"] == [str(added["id"])]


def test_a_refused_task_form_keeps_none_of_its_files(client, ctx, clock, tmp_path):
    """The files of a task form are kept with its completion, in one transaction: when the form or
    a file is refused, no attachment, event or file on disk remains, and the task stays open."""
    ctx.config.attachment_dir = str(tmp_path / "files")
    flow = Flow(ctx, clock)
    flow.instance_id = filed(ctx)
    flow.complete("dept_head_signoff", {"signoff_decision": "退回", "signoff_comment": "请补充预算表"})
    task = open_task(ctx, flow.instance_id, "revise_request")
    url = f"/tasks/{task['task_id']}"
    sign_in(client, "xiaowang")

    def attachments() -> list:
        return [r for r in list_records(ctx, flow.instance_id, "xiaowang") if r["kind"] == "attachment"]

    def events() -> list:
        return [e["type"] for e in describe_instance(ctx, flow.instance_id)["history"]]

    before = events()
    budget = ("预算表.csv", "text/csv", "预算：10万元".encode())
    wrong_form = client.post(url, data={**FORM, "title": "", "csrf_token": csrf_of(page(client, url)),
                                        "attachments": [(io.BytesIO(budget[2]), budget[0], budget[1])]})
    assert wrong_form.status_code == 422 and "必填" in field_html(wrong_form.get_data(as_text=True), "title")
    wrong_file = client.post(url, data={**FORM, "csrf_token": csrf_of(page(client, url)), "attachments": [
        (io.BytesIO(budget[2]), budget[0], budget[1]), (io.BytesIO(b"MZ\x90\x00binary"), "tool.exe", "")]})
    assert wrong_file.status_code == 422
    assert "tool.exe" in field_html(wrong_file.get_data(as_text=True), "attachments")
    assert attachments() == [] and events() == before
    assert not (tmp_path / "files").exists() or not any(p.is_file() for p in (tmp_path / "files").rglob("*"))
    assert open_task(ctx, flow.instance_id, "revise_request")["task_id"] == task["task_id"]

    answer = client.post(url, data={**FORM, "csrf_token": csrf_of(page(client, url)),
                                    "attachments": [(io.BytesIO(budget[2]), budget[0], budget[1])]})
    assert answer.status_code == 302
    (added,) = attachments()
    assert len([p for p in (tmp_path / "files").rglob("*") if p.is_file()]) == 1
    kinds = events()[len(before):]
    assert kinds[:2] == ["attachment_added", "task_completed"]  # in the completion's transaction, before it


def test_a_plan_table_is_rendered_and_submitted(client, ctx, clock):
    clock.now = MONDAY
    flow = Flow(ctx, clock)
    steps.to_plan(flow)
    task = flow.task("write_plan")
    url = f"/tasks/{task['task_id']}"
    sign_in(client, "zhangzongjian")
    html = page(client, url)
    table = field_html(html, "plan_tasks")
    for label in ("任务名称", "负责部门", "责任人", "计划开始", "计划完成", "交付标准"):
        assert label in table
    assert 'name="plan_tasks-0-title"' in table and 'data-row-template="plan_tasks"' in table
    assert 'name="plan_tasks-__row__-owner"' in table and 'data-add-row="plan_tasks"' in table
    assert 'name="action_items' not in html  # read-only: shown, not an input

    rows = {}
    for n, row in ((0, steps.PLAN[0]), (3, steps.PLAN[1])):  # a row removed in between leaves a gap
        rows.update({f"plan_tasks-{n}-{k}": v for k, v in row.items()})
    rows.update({f"plan_tasks-5-{k}": "" for k in steps.PLAN[0]})  # an empty row is no row
    wrong = post(client, url, {**rows, "plan_tasks-3-owner": "", "risk_plan": steps.RISK_PLAN})
    assert wrong.status_code == 422
    assert "第 2 行，责任人：必填" in field_html(wrong.get_data(as_text=True), "plan_tasks")
    assert 'value="功能说明"' in wrong.get_data(as_text=True)  # the rows are kept
    answer = post(client, url, {**rows, "risk_plan": steps.RISK_PLAN})
    assert answer.status_code == 302
    (plan,) = flow.records("plan")
    assert [(t["title"], t["owner"], str(t["planned_end"])) for t in plan["tasks"]] == [
        ("物料设计", "songyu", "2026-11-20"), ("功能说明", "qianyun", "2026-11-27")]
    assert flow.assignees("approve_plan") == ["chenzongjian", "huangjingli"]


def test_the_task_page_in_english(client, ctx):
    task = open_task(ctx, filed(ctx), "dept_head_signoff")
    url = f"/tasks/{task['task_id']}"
    sign_in(client, "zhangzongjian")
    client.post("/language/en", data={"csrf_token": csrf_of(page(client, "/inbox")), "next": url})
    html = page(client, url)
    for english in ("Request no.", "Submit", "Transfer", "Delegate", "Copy to", "Comment", "Reason", "History"):
        assert english in html, english
    answer = post(client, url, {"signoff_decision": "同意", "signoff_comment": ""})
    assert "Required" in field_html(answer.get_data(as_text=True), "signoff_comment")
    for chinese in ("提交", "转办", "原因", "必填"):
        assert f">{chinese}<" not in html


@pytest.mark.parametrize("datetime_input", ["2026-11-05T14:00"])
def test_a_local_time_is_read_in_the_readers_zone(datetime_input):
    from datetime import timezone
    from zoneinfo import ZoneInfo

    from werkzeug.datastructures import MultiDict

    from engine.bpmn.forms import Form, FormField
    from webui.forms_render import input_value, parse

    form = Form([FormField("meeting_time", "datetime")])
    values = parse(form, MultiDict({"meeting_time": datetime_input}), ZoneInfo("Asia/Shanghai"))
    assert values == {"meeting_time": "2026-11-05T14:00:00+08:00"}
    assert input_value(form.fields[0], "2026-11-05T06:00:00+00:00", ZoneInfo("Asia/Shanghai")) == "2026-11-05T14:00"
    assert input_value(form.fields[0], values["meeting_time"], timezone.utc) == "2026-11-05T06:00"
