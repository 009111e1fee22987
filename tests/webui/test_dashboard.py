"""The dashboard and the heat map pages: who may open them (404 for others), the figures of a known
request in their tables, the period filter with its errors, the Excel exports and the heat map's JSON."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from openpyxl import load_workbook

from tests.scenarios.driver import MONDAY, Flow
from tests.scenarios.steps import PMO_OWNER, REQUEST, REQUESTER
from tests.webui.conftest import csrf_of, sign_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def one_request(ctx, clock):
    """A 紧急 request of 市场部 to 产品部 and 销售部: signed off after 2 h, reviewed after 3 h, dispatched to
    市场部 after 1 h, whose head has not confirmed it for 30 h."""
    clock.now = MONDAY
    f = Flow(ctx, clock)
    f.submit(REQUESTER, REQUEST)
    clock.advance(hours=2)
    f.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意"})
    clock.advance(hours=3)
    f.complete("admin_review", {"review_decision": "通过", "review_comment": "可行"})
    clock.advance(hours=1)
    f.complete("dispatch_lead", {"lead_dept": "MKT", "pmo_owner": PMO_OWNER, "dispatch_note": "请牵头"},
               as_user=PMO_OWNER)
    clock.advance(hours=30)
    return f


def cells(html: str, section: str, key: str) -> list[str]:
    """The texts of the `key` column of a section's table."""
    import re

    part = html.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]
    return re.findall(rf'<td data-key="{key}">(?:<a [^>]*>)?([^<]*)', part)


@pytest.mark.parametrize("user", ["lijingli", "shenjie", "zhangzongjian", "chenzongjian"])
def test_admins_auditors_and_heads_see_the_figures(client, one_request, user):
    sign_in(client, user)
    page = client.get("/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-nav="dashboard"' in html
    assert cells(html, "open_overdue", "department") == ["市场部"]
    assert (cells(html, "open_overdue", "open"), cells(html, "open_overdue", "overdue")) == (["1"], ["1"])
    assert cells(html, "step_times", "requests") == ["1", "0", "0", "0", "0", "0"]  # only the sign-off step ended
    assert cells(html, "step_times", "avg_hours")[0] == "2.0"
    assert (cells(html, "sla", "label"), cells(html, "sla", "due"), cells(html, "sla", "on_time")) == (
        ["紧急"], ["2"], ["2"])
    assert cells(html, "matrix", "to") == ["市场部", "产品部", "销售部"]
    assert cells(html, "matrix", "requests") == ["1", "1", "1"]
    assert 'src="/dashboard/assets/echarts/echarts.min.js"' in html
    assert 'data-chart="step_times"' in html


@pytest.mark.parametrize("user", ["xiaowang", "songyu", "zhaojingli"])
def test_everyone_else_gets_404_and_no_link(client, one_request, user):
    sign_in(client, user)
    for url in ("/dashboard", "/dashboard/export.xlsx", "/dashboard/heatmap", "/dashboard/heatmap.json",
                "/dashboard/heatmap.xlsx"):
        assert client.get(url).status_code == 404, url
    assert 'data-nav="dashboard"' not in client.get("/requests").get_data(as_text=True)


def test_signed_out_readers_are_sent_to_sign_in(client):
    assert client.get("/dashboard").status_code in (302, 401)


def test_a_head_sees_only_the_requests_of_their_departments(client, one_request):
    sign_in(client, "zhoujingli")  # 物流部 is not part of the request
    html = client.get("/dashboard").get_data(as_text=True)
    assert "物流部" in html
    assert cells(html, "open_overdue", "open") == [] and cells(html, "matrix", "requests") == []
    heat = client.get("/dashboard/heatmap.json").get_json()
    assert heat["tasks"] == {} and heat["flows"] == {}


def test_period_filter_and_its_errors(client, one_request):
    sign_in(client, "lijingli")
    html = client.get("/dashboard?from=2026-10-01&to=2026-10-31").get_data(as_text=True)
    assert cells(html, "step_times", "requests") == ["0"] * 6
    assert cells(html, "open_overdue", "open") == ["1"]  # now, whatever the period
    page = client.get("/dashboard?from=2026-11-31")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'role="alert"' in html and "from：日期“2026-11-31”格式不对" in html
    assert cells(html, "step_times", "requests")[0] == "1"  # the default period instead


def test_excel_exports_hold_the_tables(client, one_request):
    sign_in(client, "chenzongjian")
    whole = client.get("/dashboard/export.xlsx")
    assert whole.status_code == 200 and whole.mimetype == XLSX
    book = load_workbook(BytesIO(whole.data))
    assert len(book.sheetnames) == 6
    one = load_workbook(BytesIO(client.get("/dashboard/export.xlsx?section=matrix").data))
    ws = one.active
    assert [c.value for c in ws[1]] == ["发起部门", "被请求部门", "需求数", "已反馈", "平均响应（小时）"]
    assert [[c.value for c in row] for row in ws.iter_rows(min_row=2)] == [
        ["市场部", "市场部", 1, 0, None], ["市场部", "产品部", 1, 0, None], ["市场部", "销售部", 1, 0, None]]
    assert client.get("/dashboard/export.xlsx?section=nothing").status_code == 404
    heat = load_workbook(BytesIO(client.get("/dashboard/heatmap.xlsx").data))
    tasks = {row[0].value: (row[1].value, row[2].value) for row in heat.worksheets[0].iter_rows(min_row=2)}
    assert tasks == {"发起部门负责人签批": (1, 2.0), "审核需求完整性与可行性": (1, 3.0), "分派主责部门": (1, 1.0)}
    flows = {row[0].value: row[1].value for row in heat.worksheets[1].iter_rows(min_row=2)}
    assert flows["发起部门负责人签批 → 负责人是否同意？"] == 1


def test_heat_map_page_and_json(client, one_request, ctx):
    sign_in(client, "lijingli")
    page = client.get("/dashboard/heatmap")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="diagram"' in html and "/dashboard/heatmap.json?" in html
    assert '<tr data-element="admin_review"><td>审核需求完整性与可行性</td><td data-key="count">1</td>' in html
    assert re.search(r'<tr data-flow="f_dispatch"><td>[^<(]+ → [^<(]+</td>', html)  # named by its ends, no tuple
    data = client.get("/dashboard/heatmap.json").get_json()
    assert data["process_id"] == "collaboration_request" and data["xml"].startswith("<?xml")
    assert data["tasks"]["admin_review"]["avg_hours"] == 3.0
    assert data["flows"]["f_dispatch"] == 1
    assert client.get("/dashboard/heatmap?version=99999").status_code == 404
    versions = [v for v in client.get("/dashboard/heatmap").get_data(as_text=True).split('name="version"')[1:]]
    assert versions
    english = client.get("/dashboard/heatmap.json", headers={"Accept-Language": "en"}).get_json()
    assert english["tasks"]["admin_review"]["count"] == 1
    client.post("/language/en", data={"csrf_token": csrf_of(html), "next": "/inbox"})
    english_page = client.get("/dashboard/heatmap").get_data(as_text=True)
    row = re.search(r'<tr data-element="admin_review"><td>([^<]+)</td>', english_page).group(1)
    assert row == "Review the request for completeness and feasibility"
