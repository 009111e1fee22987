"""The requests area: lists with search, filters and scopes, a request's page, its diagram JSON,
attachments, the Excel export, and 404 for everyone who may not see a request."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from openpyxl import load_workbook

from engine.org.accounts import set_preferences
from engine.requests.attachments import add_attachment
from engine.requests.records import add_comment, post_progress
from engine.requests.requests import submit_request
from tests.scenarios import steps
from tests.scenarios.driver import MONDAY, Flow
from tests.webui.conftest import csrf_of, sign_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def listed(client, query: str = "") -> list[str]:
    page = client.get(f"/requests{query}")
    assert page.status_code == 200
    return re.findall(r'<tr data-request="([^"]+)"', page.get_data(as_text=True))


@pytest.fixture
def flow(ctx, clock):
    clock.now = MONDAY
    return Flow(ctx, clock)


@pytest.fixture
def executing(flow, ctx):
    """小王's request with its plan approved; 宋雨 reported a risk on T1; a comment and a file."""
    steps.to_execution(flow)
    iid = flow.instance_id
    post_progress(ctx, iid, "songyu", status="进行中", plan_task_key="T1", work_done="海报初稿完成",
                  problems="等待产品参数", risk=True, risk_note="供应商延迟两天")
    add_comment(ctx, iid, "zhaojingli", "产品参数周三前给到")
    add_attachment(ctx, iid, "xiaowang", "会议记录.txt", "参会：市场部、产品部\n".encode(), "text/plain")
    return flow


def other_requests(ctx) -> tuple[str, str]:
    """吴强 (物流部) files a critical resource request with 财务部; 小王 files a process improvement."""
    logistics = submit_request(ctx, "wuqiang", {**steps.REQUEST, "title": "仓储扩容协调", "request_type": "资源申请",
                                                "involved_depts": ["LOG", "FIN"], "urgency": "特急"})
    second = submit_request(ctx, "xiaowang", {**steps.REQUEST, "title": "客服话术优化", "involved_depts": ["CS"],
                                              "request_type": "流程优化", "urgency": "普通"})
    return logistics.instance_id, second.instance_id


def test_lists_show_each_user_what_they_may_see(client, ctx, executing):
    other_requests(ctx)
    first, logistics, second = "XMBG-202611001", "XMBG-202611002", "XMBG-202611003"
    sign_in(client, "xiaowang")  # a requester: his own by default
    assert listed(client) == [second, first]
    assert listed(client, "?scope=all") == [second, first]  # not his to choose: his own again
    assert 'data-scope="all"' not in client.get("/requests").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/requests").get_data(as_text=True))})

    sign_in(client, "zhangzongjian")  # the head of 市场部: his department's by default
    assert listed(client) == [second, first]
    assert listed(client, "?scope=mine") == []
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/requests").get_data(as_text=True))})

    sign_in(client, "xiaoli")  # 销售部 is involved in the first only
    assert listed(client, "?scope=dept") == [first]
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/requests").get_data(as_text=True))})

    sign_in(client, "lijingli")  # a platform admin: all of them
    assert listed(client) == [second, logistics, first]
    assert listed(client, "?q=XMBG-202611002") == [logistics]
    assert listed(client, "?q=%E4%BB%93%E5%82%A8") == [logistics]  # 仓储, in the title
    assert listed(client, "?q=%25") == []  # a LIKE wildcard is searched for literally
    assert listed(client, "?type=%E8%B5%84%E6%BA%90%E7%94%B3%E8%AF%B7") == [logistics]  # 资源申请
    assert listed(client, "?urgency=%E7%B4%A7%E6%80%A5") == [first]  # 紧急
    assert listed(client, "?dept=SAL") == [first]
    assert listed(client, "?dept=LOG&status=running") == [logistics]
    assert listed(client, "?status=completed") == []
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/requests").get_data(as_text=True))})

    sign_in(client, "shenjie")  # an auditor reads everything
    assert listed(client) == [second, logistics, first]
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/requests").get_data(as_text=True))})

    sign_in(client, "linna")  # 人力资源部 has nothing to do with any of them
    for query in ("", "?scope=all", "?scope=dept", "?dept=MKT", "?q=XMBG"):
        assert listed(client, query) == []


def test_lists_are_paged(client, ctx, clock):
    clock.now = MONDAY
    for n in range(23):
        submit_request(ctx, "xiaowang", {**steps.REQUEST, "title": f"需求 {n}"})
    sign_in(client, "xiaowang")
    first = client.get("/requests").get_data(as_text=True)
    assert len(re.findall(r"<tr data-request=", first)) == 20
    assert 'data-total="23"' in first and 'rel="next"' in first
    second = listed(client, "?page=2")
    assert second == ["XMBG-202611003", "XMBG-202611002", "XMBG-202611001"]
    assert listed(client, "?page=abc")[0] == "XMBG-202611023"


def test_the_request_page_shows_plan_raci_records_and_timeline(client, ctx, executing):
    iid = executing.instance_id
    set_preferences(ctx, "xuming", timezone="Europe/Berlin")
    sign_in(client, "xuming")  # a member of 销售部, an involved department, who holds no task
    page = client.get(f"/requests/{iid}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-request="XMBG-202611001"' in html and "双十一大促跨部门协作" in html
    assert '<dd data-field="requester">小王</dd>' in html
    assert '<dd data-field="lead_dept">市场部</dd>' in html
    assert '<dd data-field="involved_depts">市场部、产品部、销售部</dd>' in html
    assert 'data-status="running"' in html
    # the Gantt chart: one bar per plan task, the one with a reported risk in red
    assert re.findall(r'<g class="row( red)?" data-task="(T\d)"', html) == [(" red", "T1"), ("", "T2")]
    assert '<span class="warning" data-reason="risk">' in html
    # RACI: 市场部 files, leads, answered and owns T1; 产品部 owns T2; 销售部 is consulted
    cells = dict(re.findall(r'<td data-raci="([A-Z]+-\d)">([^<]*)</td>', html))
    assert cells == {"MKT-0": "R/A/C/I", "MKT-1": "A/C/I", "PRD-0": "C", "PRD-1": "R/C", "SAL-0": "C", "SAL-1": "C"}
    # records
    assert len(re.findall(r'<article class="record" data-feedback=', html)) == 3
    assert "海报初稿完成" in html and "供应商延迟两天" in html
    assert "产品参数周三前给到" in html
    assert re.search(rf'href="/requests/{iid}/attachments/\d+">会议记录.txt</a>', html)
    # the timeline: every audit event, in the reader's time zone (Berlin: 02:00 on 2 November)
    history = executing.describe()["history"]
    assert len(re.findall(r'<li data-event="', html)) == len(history)
    assert re.findall(r'<li data-event="([a-z_]+)"', html) == [e["type"] for e in history]
    assert "<time>11月2日 02:00</time>" in html and "09:00</time>" not in html
    assert '<span class="actor">张总监</span>' in html
    # the diagram is drawn by the viewer from the node_modules route, with no inline script or style
    assert f'data-source="/requests/{iid}/diagram.json"' in html
    assert "/requests/assets/bpmn-js/bpmn-navigated-viewer.production.min.js" in html  # drag and zoom
    assert "<script>" not in html and "style=" not in html and "<style" not in html


def test_the_diagram_json_names_active_and_completed_elements(client, executing):
    sign_in(client, "qianyun")  # owns plan task T2
    got = client.get(f"/requests/{executing.instance_id}/diagram.json")
    assert got.status_code == 200 and got.mimetype == "application/json"
    data = got.get_json()
    assert data["xml"].startswith("<?xml") and 'id="collaboration_request"' in data["xml"]
    assert data["active"] == ["execute_plan_task", "execute_task"]
    for passed in ("request_submitted", "dept_head_signoff", "admin_review", "write_plan", "approve_plan",
                   "f_review_pass", "f_to_execute"):
        assert passed in data["completed"]
    assert "archive_request" not in data["completed"] and "notify_rejected" not in data["completed"]
    assert "f_review_reject" not in data["completed"]


def test_attachments_download_with_their_type_and_name(client, ctx, executing):
    iid = executing.instance_id
    sign_in(client, "chenzongjian")
    html = client.get(f"/requests/{iid}").get_data(as_text=True)
    link = re.search(rf'href="(/requests/{iid}/attachments/\d+)"', html).group(1)
    got = client.get(link)
    assert got.status_code == 200
    assert got.data == "参会：市场部、产品部\n".encode()
    assert got.mimetype == "text/plain"
    disposition = got.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E4%BC%9A%E8%AE%AE%E8%AE%B0%E5%BD%95.txt" in disposition
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in got.headers["Cache-Control"]
    # the attachment through another request's address, and for a stranger: not found
    logistics, _ = other_requests(ctx)
    number = link.rsplit("/", 1)[1]
    client.post("/logout", data={"csrf_token": csrf_of(html)})
    sign_in(client, "lijingli")
    assert client.get(f"/requests/{logistics}/attachments/{number}").status_code == 404
    assert client.get(f"/requests/{iid}/attachments/999999").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/requests").get_data(as_text=True))})
    sign_in(client, "yangfan")
    assert client.get(link).status_code == 404


def test_the_export_fills_the_four_forms(client, ctx, executing):
    iid = executing.instance_id
    sign_in(client, "shenjie")  # auditors read everything
    got = client.get(f"/requests/{iid}/export.xlsx")
    assert got.status_code == 200 and got.mimetype == XLSX
    assert got.headers["Content-Disposition"] == "attachment; filename=XMBG-202611001.xlsx"
    book = load_workbook(io.BytesIO(got.data))
    assert book.sheetnames == ["需求申请表", "部门协调反馈表", "进度跟踪表", "复盘表"]
    form = book["需求申请表"]
    assert (form["A2"].value, form["B2"].value, form["C2"].value, form["D2"].value) == \
        ("需求编号", "XMBG-202611001", "发起日期", "2026-11-02")
    assert (form["B3"].value, form["D3"].value) == ("市场部", "小王")
    feedback = book["部门协调反馈表"]
    departments = [row[3] for row in feedback.iter_rows(values_only=True) if row[2] == "反馈部门"]
    assert departments == ["市场部", "产品部", "销售部"]
    progress = book["进度跟踪表"]
    assert [c.value for c in progress[3]][:7] == ["XMBG-202611001", "物料设计", "市场部", "宋雨", "2026-11-09",
                                                   "2026-11-20", "进行中"]
    assert progress["K3"].value == "有（说明：供应商延迟两天）"
    assert book["复盘表"]["B2"].value == "XMBG-202611001"


def test_a_stranger_gets_not_found_everywhere(client, executing):
    iid = executing.instance_id
    sign_in(client, "yangfan")  # 技术部: no department, task or role of the request
    for path in ("", "/diagram.json", "/export.xlsx", "/attachments/1"):
        assert client.get(f"/requests/{iid}{path}").status_code == 404
    assert client.get(f"/requests/{uuid.uuid4()}").status_code == 404
    assert client.get("/requests/not-a-request").status_code == 404


def test_pages_need_a_signed_in_user(client, executing):
    for path in ("/requests", f"/requests/{executing.instance_id}", f"/requests/{executing.instance_id}/diagram.json",
                 "/requests/assets/bpmn-js/bpmn-viewer.production.min.js"):
        got = client.get(path)
        assert got.status_code in (302, 401) and "/login" in got.headers.get("Location", "/login")


def test_the_viewer_is_served_from_node_modules_only(client):
    sign_in(client, "xiaowang")
    with client.get("/requests/assets/bpmn-js/bpmn-viewer.production.min.js") as got:
        assert got.status_code == 200 and "javascript" in got.mimetype
        assert "max-age=86400" in got.headers["Cache-Control"] and got.headers.get("ETag")
        assert b"BpmnJS" in got.data
    with client.get("/requests/assets/bpmn-js/assets/bpmn-js.css") as got:
        assert got.status_code == 200 and got.mimetype == "text/css"
    for escape in ("../package.json", "..%2F..%2Fbpmn-moddle/package.json", "../../../pyproject.toml",
                   "/etc/passwd"):
        assert client.get(f"/requests/assets/bpmn-js/{escape}", follow_redirects=True).status_code == 404


def test_pages_in_english(client, executing):
    sign_in(client, "xiaowang")
    page = client.get("/requests")
    client.post("/language/en", data={"csrf_token": csrf_of(page.get_data(as_text=True)), "next": "/requests"})
    html = client.get("/requests").get_data(as_text=True)
    assert "Filed by me" in html and "Request no." in html and "In progress" in html and "我发起的" not in html
    html = client.get(f"/requests/{executing.instance_id}").get_data(as_text=True)
    for text in ("Coordination plan", "Gantt chart", "RACI matrix", "Timeline", "Department feedback",
                 "Risk reported", "Export to Excel", "Task completed", "Project collaboration"):
        assert text in html, text
    assert "<h2>协调方案" not in html and "时间线" not in html  # element names of the diagram stay as drawn


def test_what_shows_request_data_is_never_cached_while_public_assets_are(client, ctx, executing):
    iid = executing.instance_id
    sign_in(client, "chenzongjian")
    html = client.get(f"/requests/{iid}").get_data(as_text=True)
    attachment = re.search(rf'href="(/requests/{iid}/attachments/\d+)"', html).group(1)
    for path in (f"/requests/{iid}", f"/requests/{iid}/diagram.json", attachment, f"/requests/{iid}/export.xlsx",
                 "/inbox", f"/api/v1/requests/{iid}", "/api/v1/me"):
        with client.get(path) as got:
            assert got.status_code == 200, path
            assert got.headers["Cache-Control"] == "private, no-store", path
    with client.get("/static/xiezuo.css") as got:
        assert "no-store" not in got.headers["Cache-Control"]
    with client.get("/requests/assets/bpmn-js/assets/bpmn-js.css") as got:
        assert got.headers["Cache-Control"] == "public, max-age=86400"
