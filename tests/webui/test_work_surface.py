"""The work surface: a task page shows the request and what the step decides on above its form; the
request's page opens with where it stands and the request itself, offers the requester's actions,
folds empty sections and names fields in its timeline; dates read as people write them."""

from __future__ import annotations

import io
import re

import pytest

from engine.requests.records import list_records
from tests.scenarios import steps
from tests.scenarios.driver import MONDAY, Flow
from tests.webui.conftest import csrf_of, sign_in


@pytest.fixture
def flow(ctx, clock):
    clock.now = MONDAY
    return Flow(ctx, clock)


def _text(answer) -> str:
    return answer.get_data(as_text=True)


def _section(html: str, marker: str) -> str:
    """The markup from `marker` to the end of its element's block (up to the next story or the form)."""
    start = html.index(marker)
    ends = [i for i in (html.find("</details>", start),) if i > 0]
    return html[start:min(ends)]


def test_the_reviewer_sees_the_whole_request_and_the_heads_reasons_above_the_form(client, flow):
    steps.to_review(flow)
    task = flow.task("admin_review")
    sign_in(client, flow.actor(task))
    html = _text(client.get(f"/tasks/{task['task_id']}"))
    form_at = html.index('<section class="work-form">')
    request = _section(html, 'data-story="request"')
    assert html.index('data-story="request"') < form_at and html.index('data-story="deciding"') < form_at
    for shown in (steps.REQUEST["background"], steps.REQUEST["goal"], steps.REQUEST["details"],
                  "市场部、产品部、销售部", "XMBG-202611001", "小王 · 市场部", "13800000000"):
        assert shown in request, shown
    assert "需求背景" in request and "需求目标" in request  # labels without their guidance
    assert "要达到什么效果" not in request
    deciding = _section(html, 'data-story="deciding"')
    assert 'data-step="dept_head_signoff"' in deciding and "同意提交" in deciding and "张总监" in deciding
    assert "签批意见" in deciding and "11月2日 09:00" in deciding


def test_an_execution_page_names_its_plan_task_and_acceptance_sees_the_deliverable(client, ctx, flow):
    steps.to_execution(flow)
    owner = steps.PLAN[0]["owner"]
    flow.complete("execute_task", {**steps.SUBMIT_WORK, "deliverable_summary": "海报3张已交付"}, assignee=owner)
    accept = flow.task("accept_deliverable")
    sign_in(client, flow.actor(accept))
    html = _text(client.get(f"/tasks/{accept['task_id']}"))
    assert re.search(r"<h1>验收交付成果 <span class=\"about\">· 物料设计</span></h1>", html)
    plan_task = _section(html, 'data-plan-task="物料设计"')
    assert "海报3张，符合VI规范" in plan_task  # its delivery standard
    assert 'data-plan-record="deliverable"' in plan_task and "海报3张已交付" in plan_task
    assert "功能说明" not in plan_task  # the other plan task's records are not this one's
    assert [r["kind"] for r in list_records(ctx, flow.instance_id, "xiaowang") if r["kind"] == "deliverable"]


def test_the_request_page_opens_with_where_it_stands_and_the_request(client, flow):
    steps.to_review(flow)
    iid = flow.instance_id
    sign_in(client, "xiaowang")
    html = _text(client.get(f"/requests/{iid}"))
    standing = html[html.index('id="standing"'):html.index('id="request"')]
    assert 'data-open-task="admin_review"' in standing and "审核需求完整性与可行性" in standing
    assert "等待 " in standing and "（待认领）" in standing  # the admins' group task
    assert "自 11月2日 09:00 起" in standing and "截止" in standing
    assert 'data-op="urge"' in standing and 'data-op="withdraw"' in standing and 'data-op="add-files"' in standing
    assert html.index('id="standing"') < html.index('id="request"') < html.index('id="process"')
    assert steps.REQUEST["background"] in html[html.index('id="request"'):html.index('id="process"')]
    # empty sections are folded, sections with content open
    assert '<details class="panel" id="progress">' in html and '<details class="panel" id="discussion">' in html
    assert '<details class="panel" id="timeline" open>' in html
    # the timeline names the fields of a completion, and links the task still open
    assert re.search(r'data-pair="signoff_comment"><span class="label">签批意见</span> 同意提交', html)
    task = flow.task("admin_review")
    assert f'<a href="/tasks/{task["task_id"]}" data-link="task">审核需求完整性与可行性</a>' in html


def test_someone_of_an_involved_department_sees_the_request_without_the_requesters_actions(client, flow):
    steps.to_review(flow)
    sign_in(client, "xuming")  # 销售部, involved, holds no task
    html = _text(client.get(f"/requests/{flow.instance_id}"))
    assert 'id="standing"' in html and 'data-op="urge"' not in html and 'data-op="withdraw"' not in html
    assert 'data-link="task"' not in html  # not one of its people: no task page to open


def test_material_added_from_the_request_page_is_kept_and_a_refused_file_is_named(client, ctx, flow):
    steps.to_review(flow)
    iid = flow.instance_id
    sign_in(client, "xiaowang")
    token = csrf_of(_text(client.get(f"/requests/{iid}")))
    answer = client.post(f"/requests/{iid}/files", data={
        "csrf_token": token, "files": [(io.BytesIO("预算：20万元".encode()), "预算说明.txt"),
                                       (io.BytesIO(b"MZ\x90\x00"), "setup.exe")]},
        content_type="multipart/form-data")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/requests/{iid}")
    html = _text(client.get(f"/requests/{iid}"))
    assert "已上传：预算说明.txt" in html
    assert re.search(r"附件“setup.exe”未能保存：[^<]+", html)
    assert [r["filename"] for r in list_records(ctx, iid, "xiaowang") if r["kind"] == "attachment"] == ["预算说明.txt"]
    empty = client.post(f"/requests/{iid}/files", data={"csrf_token": token}, content_type="multipart/form-data")
    assert empty.status_code == 302 and "请选择要上传的文件。" in _text(client.get(f"/requests/{iid}"))


def test_a_stranger_cannot_add_material(client, flow):
    steps.to_review(flow)
    sign_in(client, "linna")  # 人力资源部: nothing to do with the request
    token = csrf_of(_text(client.get("/inbox")))
    answer = client.post(f"/requests/{flow.instance_id}/files", data={
        "csrf_token": token, "files": [(io.BytesIO(b"x"), "a.txt")]}, content_type="multipart/form-data")
    assert answer.status_code in (403, 404)


def test_english_pages_name_the_product_once_and_dates_read_in_english(client, flow):
    steps.to_review(flow)
    sign_in(client, "xiaowang")
    client.post("/language/en", data={"csrf_token": csrf_of(_text(client.get("/inbox"))), "next": "/inbox"})
    html = _text(client.get(f"/requests/{flow.instance_id}"))
    assert re.search(r'<a class="brand" href="/">Xiezuo</a>', html)
    assert "Xiezuo Xiezuo" not in html and "Xiezuo · Xiezuo" not in html
    assert "Nov 2 09:00" in html and "11月2日" not in html


def test_an_owner_posts_progress_from_the_task_page_without_submitting_and_a_past_date_is_refused(client, ctx, flow):
    steps.to_execution(flow)
    owner = steps.PLAN[0]["owner"]
    task = flow.task("execute_task", owner)
    sign_in(client, owner)
    url = f"/tasks/{task['task_id']}"
    token = csrf_of(_text(client.get(url)))
    typed = {"csrf_token": token, "plan_task_key": "", "status": "待支持", "work_done": "海报初稿完成",
             "problems": "等待产品参数", "risk": "true", "risk_note": "供应商延迟两天", "expected_finish": "2026-10-01"}
    refused = client.post(f"{url}/progress", data=typed)
    assert refused.status_code == 422
    html = _text(refused)
    assert re.search(r'id="progress-form" open', html)
    assert "不能早于今天（2026-11-02）" in html and "海报初稿完成" in html and "供应商延迟两天" in html  # kept
    assert not [r for r in list_records(ctx, flow.instance_id, owner) if r["kind"] == "progress_update"]
    done = client.post(f"{url}/progress", data={**typed, "expected_finish": "2026-11-25"})
    assert done.status_code == 302 and done.headers["Location"].endswith(url)
    posted = [r for r in list_records(ctx, flow.instance_id, owner) if r["kind"] == "progress_update"]
    assert [(p["plan_task_key"], p["status"], p["risk"], p["risk_note"]) for p in posted] == [
        ("T1", "待支持", True, "供应商延迟两天")]
    assert flow.task("execute_task", owner)["task_id"] == task["task_id"]  # the task stays open
    again = client.post(f"{url}/progress", data={**typed, "status": "进行中", "risk": "", "risk_note": "",
                                                  "expected_finish": ""})
    assert again.status_code == 302  # any number of times
    page = _text(client.get(f"/requests/{flow.instance_id}"))
    assert page.count('<tr data-progress=') == 2 and '<details class="panel" id="progress" open>' in page


def test_progress_from_the_request_page_for_the_owner_only(client, ctx, flow):
    steps.to_execution(flow)
    iid = flow.instance_id
    sign_in(client, "xuming")  # 销售部, sees the request, owns no plan task
    assert 'data-op="progress"' not in _text(client.get(f"/requests/{iid}"))
    token = csrf_of(_text(client.get(f"/requests/{iid}")))
    stranger = client.post(f"/requests/{iid}/progress", data={"csrf_token": token, "plan_task_key": "T1",
                                                               "status": "进行中", "work_done": "x"})
    assert stranger.status_code == 403
    client.post("/logout", data={"csrf_token": token})
    sign_in(client, "qianyun")  # owns T2
    html = _text(client.get(f"/requests/{iid}"))
    assert 'data-op="progress"' in html and 'name="plan_task_key" value="T2"' in html
    token = csrf_of(html)
    empty = client.post(f"/requests/{iid}/progress", data={"csrf_token": token, "plan_task_key": "T2",
                                                            "status": "进行中", "work_done": ""})
    assert empty.status_code == 422 and "必填" in _text(empty)
    done = client.post(f"/requests/{iid}/progress", data={"csrf_token": token, "plan_task_key": "T2",
                                                           "status": "进行中", "work_done": "功能说明完成一半"})
    assert done.status_code == 302
    assert [r["work_done"] for r in list_records(ctx, iid, "qianyun") if r["kind"] == "progress_update"] == [
        "功能说明完成一半"]


def test_inbox_rows_of_one_step_name_their_plan_task_and_can_be_searched_by_it(client, flow):
    steps.to_execution(flow)
    for task in steps.PLAN:
        flow.complete("execute_task", {**steps.SUBMIT_WORK, "deliverable_summary": "完成"}, assignee=task["owner"])
    sign_in(client, "xiaowang")  # accepts both deliverables
    html = _text(client.get("/inbox"))
    rows = re.findall(r'<tr data-task="[^"]+" data-element="accept_deliverable".*?</tr>', html, re.S)
    subjects = sorted(re.search(r'<span class="subject" data-subject>· ([^<]+)</span>', r).group(1) for r in rows)
    assert subjects == sorted(t["title"] for t in steps.PLAN)
    found = _text(client.get("/inbox?text=%E7%89%A9%E6%96%99"))  # 物料
    assert found.count('data-element="accept_deliverable"') == 1 and "· 物料设计" in found


def test_pickers_offer_the_dispatcher_as_follow_up_admin_and_the_departments_people_as_attendees(client, flow):
    steps.to_review(flow)
    flow.complete("admin_review", {"review_decision": "通过", "review_comment": "信息完整，可行"})
    dispatch = flow.task("dispatch_lead")
    sign_in(client, steps.PMO_OWNER)
    html = _text(client.get(f"/tasks/{dispatch['task_id']}"))
    form = html[html.index('<section class="work-form">'):]
    assert f'<option value="{steps.PMO_OWNER}" selected>' in form  # the dispatcher, usually the one to follow up
    flow.complete("dispatch_lead", {"lead_dept": "MKT", "pmo_owner": steps.PMO_OWNER, "dispatch_note": "请牵头"},
                  as_user=steps.PMO_OWNER)
    flow.complete("lead_confirm", {"lead_decision": "确认接收"})
    steps.give_feedback(flow)
    flow.complete("organise_coordination", {"coordination_mode": "召开协调会",
                                            "meeting_time": "2026-11-05T10:00:00+08:00"})
    notice = flow.task("send_meeting_notice")
    client.post("/logout", data={"csrf_token": csrf_of(html)})
    sign_in(client, flow.actor(notice))
    html = _text(client.get(f"/tasks/{notice['task_id']}"))
    form = html[html.index('<section class="work-form">'):]
    checked = sorted(re.findall(r'name="meeting_attendees" value="([a-z]+)" checked', form))
    expected = {p for d in steps.INVOLVED for p in (steps.HEADS[d], steps.INTERFACES[d])}
    assert checked == sorted(expected)  # each involved department's head and interface person


def test_a_server_error_page_speaks_the_readers_language(app):
    app.testing = False  # an unexpected error is handled as in production
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.add_url_rule("/broken", "broken", lambda: 1 / 0)
    client = app.test_client()
    answer = client.get("/broken", headers={"Accept-Language": "en"})
    assert answer.status_code == 500
    html = _text(answer)
    assert "Server error" in html and "ZeroDivisionError" not in html and "Internal Server Error" not in html
    chinese = client.get("/broken", headers={"Accept-Language": "zh-CN"})
    assert "服务器出错" in _text(chinese)
    api = client.get("/broken", headers={"Accept": "application/json"})
    assert api.status_code == 500 and api.get_json()["code"] == "server_error"


def test_every_date_field_says_what_it_accepts(client, flow):
    sign_in(client, "xiaowang")
    html = _text(client.get("/requests/new"))
    expected = re.search(r'data-field="expected_date".*?</div>', html, re.S).group(0)
    assert '<p class="help date-rule" data-date-rule>日期：不早于今天</p>' in expected
    steps.to_plan(flow)
    task = flow.task("write_plan")
    client.post("/logout", data={"csrf_token": csrf_of(html)})
    sign_in(client, flow.actor(task))
    plan = _text(client.get(f"/tasks/{task['task_id']}"))
    rules = re.findall(r"<p class=\"help date-rule\" data-date-rule>([^<]+)</p>", plan)
    assert "计划开始：不早于今天" in rules
    assert "计划完成：不早于“计划开始”，不晚于“期望完成时间”（写明“晚于期望完成时间的原因”后可晚于）" in rules


def test_the_no_progress_urge_links_to_the_progress_form_of_the_owners_task(client, flow):
    steps.to_execution(flow)
    owner = steps.PLAN[0]["owner"]
    task = flow.task("execute_task", owner)
    flow.advance(hours=24)
    sign_in(client, owner)
    html = _text(client.get("/notifications"))
    link = re.search(r'<li data-notification="\d+" data-kind="urge"[^>]*>.*?<a href="([^"]+)" data-link="task">',
                     html, re.S)
    assert link and link.group(1) == f"/tasks/{task['task_id']}?report=1#progress-form"
    page = _text(client.get(link.group(1).split("#")[0]))
    assert re.search(r'id="progress-form" open', page)
