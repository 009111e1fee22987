"""What the request pages read (engine.requests.request_view) and the Excel export, on requests
driven through the real flow."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from engine.errors import InvalidInput, NotFound
from engine.requests.attachments import add_attachment
from engine.requests.diagram import diagram
from engine.requests.export import SHEETS, export_request
from engine.requests.records import add_feedback, add_retrospective, post_progress
from engine.requests.request_view import (
    RequestFilter,
    attachment_file,
    list_requests,
    request_departments,
    request_header,
    request_page,
    takes_part,
)
from engine.requests.requests import submit_request
from engine.tasks.operations import transfer_task
from tests.scenarios import steps
from tests.scenarios.driver import MONDAY, Flow, set_up_org


@pytest.fixture
def flow(ctx, clock):
    set_up_org(ctx)
    clock.now = MONDAY
    return Flow(ctx, clock)


def test_the_diagram_marks_where_a_request_is_and_the_path_it_took(ctx, flow):
    steps.to_review(flow)
    got = diagram(ctx, flow.instance_id)
    assert got["process_id"] == "collaboration_request" and got["version"] == 1
    assert 'id="admin_review"' in got["xml"]
    assert got["active"] == ["admin_review"]
    assert {"request_submitted", "register_request", "dept_head_signoff", "signoff_gw", "f_submit",
            "f_signoff_ok"} <= set(got["completed"])
    for ahead in ("admin_review", "f_review", "f_signoff_return", "review_gw"):
        assert ahead not in got["completed"]
    assert got["errored"] == []


def test_a_finished_subprocess_still_shows_the_path_it_took(ctx, flow):
    steps.to_archive(flow)  # the execution subprocesses ended and left the stored workflow
    got = diagram(ctx, flow.instance_id)
    assert got["active"] == ["archive_request"]
    done = set(got["completed"])
    assert {"execute_plan_task", "execute_task", "accept_deliverable", "f_executed_all"} <= done
    assert "rate_satisfaction" not in done and "retrospective" not in done


def test_a_rejected_request_ends_at_its_end_event(ctx, flow):
    steps.to_review(flow)
    flow.complete("admin_review", {"review_decision": "拒绝", "review_comment": "超出预算，不可行"})
    got = diagram(ctx, flow.instance_id)
    assert flow.status == "completed" and got["active"] == []
    assert {"review_gw", "notify_rejected", "request_rejected", "f_review_reject"} <= set(got["completed"])
    assert "dispatch_lead" not in got["completed"]
    assert request_header(ctx, flow.instance_id)["status"] == "completed"


def test_the_page_has_the_plan_with_red_warnings_and_its_raci(ctx, flow, clock):
    steps.to_execution(flow)
    iid = flow.instance_id
    clock.advance(days=8)  # Tuesday 10 November
    post_progress(ctx, iid, "qianyun", status="待支持", plan_task_key="T2", work_done="功能说明初稿",
                  problems="缺少销售数据")
    page = request_page(ctx, iid)
    assert page.header["request_no"] == "XMBG-202611001" and page.header["lead_dept"] == "MKT"
    plan = page.plan
    assert plan["version"] == 1
    assert (plan["first"].isoformat(), plan["last"].isoformat()) == ("2026-11-09", "2026-11-27")
    assert plan["days"] == 19 and plan["today"] == 1
    assert [(t["task_key"], t["offset"], t["days"], t["status"], t["red"]) for t in plan["tasks"]] == [
        ("T1", 0, 12, "未开始", []), ("T2", 0, 19, "待支持", ["needs_support"])]
    assert [n for n, _ in plan["ticks"]] == [0, 7, 14]
    assert plan["raci"] == {"tasks": ["物料设计", "功能说明"], "rows": [
        {"department_id": "MKT", "cells": ["R/A/C/I", "A/C/I"]},
        {"department_id": "PRD", "cells": ["C", "R/C"]},
        {"department_id": "SAL", "cells": ["C", "C"]}]}
    assert [e["type"] for e in page.timeline] == [e["type"] for e in flow.history()]
    assert page.timeline[1]["element_name"] == "发起部门负责人签批"
    assert sorted(page.records) == ["feedback", "plan", "progress_update"]
    assert page.task_titles == {"T1": "物料设计", "T2": "功能说明"}
    assert page.names.user("qianyun") == "钱云" and page.names.dept("PRD") == "产品部"


def test_a_request_without_a_plan_has_none(ctx, flow):
    steps.to_review(flow)
    page = request_page(ctx, flow.instance_id)
    assert page.plan is None and page.records == {}


def test_who_takes_part(ctx, flow):
    plan = [*steps.PLAN, {"title": "接口联调", "dept": "TEC", "owner": "yangfan", "start": "2026-11-10",
                          "end": "2026-11-18", "standard": "接口全部联调通过"}]
    steps.to_execution(flow, plan)
    iid = flow.instance_id
    assert request_departments(ctx, iid) == {"MKT", "PRD", "SAL"}
    assert takes_part(ctx, iid, "yangfan")  # owns a plan task outside the request's departments
    assert takes_part(ctx, iid, "xiaozhou")  # dispatched it (and is a platform admin)
    assert takes_part(ctx, iid, "shenjie")  # an auditor
    assert not takes_part(ctx, iid, "sunhao")  # 技术部 too, but no task of it
    assert not takes_part(ctx, iid, "xuming")  # 销售部 sees it through its department, not as a participant
    assert request_departments(ctx, "no-such-request") is None


def test_a_task_handed_over_makes_its_new_holder_take_part(ctx, flow):
    steps.to_review(flow)
    iid = flow.instance_id
    assert not takes_part(ctx, iid, "sunhao")
    transfer_task(ctx, flow.task("admin_review")["task_id"], "lijingli", "sunhao", "请技术部先评估可行性")
    assert takes_part(ctx, iid, "sunhao")  # 技术部 is none of the request's departments
    assert not takes_part(ctx, iid, "yangfan")


def test_lists_by_scope_filters_and_pages(ctx, flow):
    steps.to_lead_confirm(flow)  # dispatched: 市场部 leads
    other = submit_request(ctx, "wuqiang", {**steps.REQUEST, "title": "100%达成 仓储_扩容", "involved_depts": ["LOG"],
                                            "urgency": "特急"})
    everything = RequestFilter(scope="all")
    assert [r["request_no"] for r in list_requests(ctx, "lijingli", "PMO", everything).items] == \
        ["XMBG-202611002", "XMBG-202611001"]
    mine = list_requests(ctx, "wuqiang", "LOG", RequestFilter(scope="mine"))
    assert [r["instance_id"] for r in mine.items] == [other.instance_id] and mine.total == 1
    assert list_requests(ctx, "zhoujingli", "LOG", RequestFilter(scope="dept")).total == 1
    assert list_requests(ctx, "someone", None, RequestFilter(scope="dept")).total == 0
    assert list_requests(ctx, "x", "MKT", RequestFilter(scope="dept")).items[0]["lead_dept"] == "MKT"

    def numbers(**f) -> list[str]:
        return [r["request_no"] for r in list_requests(ctx, "lijingli", None, RequestFilter(scope="all", **f)).items]

    assert numbers(text="100%") == ["XMBG-202611002"]
    assert numbers(text="%") == ["XMBG-202611002"]  # a wildcard is searched for as the character
    assert numbers(text="_扩") == ["XMBG-202611002"]
    assert numbers(text="xmbg-202611001") == ["XMBG-202611001"]  # case does not matter
    assert numbers(urgency="特急") == ["XMBG-202611002"]
    assert numbers(request_type="项目协作", department="MKT") == ["XMBG-202611001"]
    assert numbers(department="SAL", status="running") == ["XMBG-202611001"]
    assert numbers(status="cancelled") == []
    paged = list_requests(ctx, "lijingli", None, everything, page=2, per_page=1)
    assert (paged.total, [r["request_no"] for r in paged.items]) == (2, ["XMBG-202611001"])
    for wrong in (RequestFilter(scope="everyone"), RequestFilter(scope="all", status="lost")):
        with pytest.raises(InvalidInput):
            list_requests(ctx, "lijingli", None, wrong)


def test_an_attachment_is_read_through_its_own_request_only(ctx, flow):
    steps.to_review(flow)
    first = flow.instance_id
    added = add_attachment(ctx, first, "xiaowang", "名单.csv", "姓名,部门\n小王,市场部\n".encode(), "text/csv")
    other = submit_request(ctx, "wuqiang", steps.REQUEST).instance_id
    found = attachment_file(ctx, first, added["id"])
    assert (found.filename, found.content_type) == ("名单.csv", "text/csv")
    assert found.content == "姓名,部门\n小王,市场部\n".encode()
    with pytest.raises(NotFound):
        attachment_file(ctx, other, added["id"])


def test_the_export_fills_the_four_forms(ctx, flow, clock):
    steps.to_execution(flow)
    iid = flow.instance_id
    add_feedback(ctx, iid, "xiaoli", content="=HYPERLINK(\"http://example.com\")", suggested_date="2026-11-12",
                 resources="客户名单", remarks="补充反馈")
    clock.advance(days=3)
    post_progress(ctx, iid, "songyu", status="进行中", plan_task_key="T1", work_done="海报2张", risk=True,
                  risk_note="印刷延迟2天", expected_finish="2026-11-22")
    add_retrospective(ctx, iid, "zhangzongjian", goal="销售额同比增长30%", result="增长35%", highlights="周会同步高效",
                      problems="推广计划延迟", improvements="提前15天确认人力", departments=["PRD", "SAL"])
    name, content = export_request(ctx, iid)
    assert name == "XMBG-202611001.xlsx"
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == list(SHEETS)

    def pairs(ws) -> dict:
        found = {}
        for row in ws.iter_rows(values_only=True):
            for i in range(0, len(row) - 1, 2):
                if row[i]:
                    found.setdefault(row[i], []).append(row[i + 1])
        return found

    form = pairs(book["需求申请表"])
    assert book["需求申请表"]["A1"].value == "跨部门沟通需求申请表"
    assert form["需求编号"] == ["XMBG-202611001"] and form["发起人"] == ["小王"] and form["发起部门"] == ["市场部"]
    assert form["需求类型"] == ["项目协作"] and form["优先级"] == ["高"] and form["紧急程度"] == ["紧急"]
    assert form["涉及部门"] == ["市场部、产品部、销售部"] and form["期望完成时间"] == ["2026-12-20"]
    assert form["需求背景与目标"] == [f"{steps.REQUEST['background']}\n{steps.REQUEST['goal']}"]
    assert form["发起部门负责人签字"] == ["张总监"] and form["平台管理员审核"] == ["李经理"]

    feedback = pairs(book["部门协调反馈表"])
    assert feedback["反馈部门"] == ["市场部", "产品部", "销售部", "销售部"]
    assert feedback["反馈人"] == ["小王", "赵经理", "小李", "小李"]
    assert feedback["反馈内容"][3] == "=HYPERLINK(\"http://example.com\")"  # text, not a formula
    cell = next(c for row in book["部门协调反馈表"].iter_rows() for c in row if c.value == feedback["反馈内容"][3])
    assert cell.data_type == "s"
    assert feedback["需协调资源"][3] == "客户名单" and feedback["反馈部门负责人签字"][3] == "黄经理"
    assert feedback["主责部门确认"] == ["张总监"] * 4

    progress = book["进度跟踪表"]
    assert progress["A2"].value == "需求编号" and progress.max_row == 3
    assert [c.value for c in progress[3]] == [
        "XMBG-202611001", "物料设计", "市场部", "宋雨", "2026-11-09", "2026-11-20", "进行中", "2026-11-05", "海报2张",
        None, "有（说明：印刷延迟2天）", "2026-11-22", "宋雨", "张总监"]

    retro = pairs(book["复盘表"])
    assert retro["复盘日期"] == ["2026-11-05"] and retro["主责部门"] == ["市场部"]
    assert retro["参与部门"] == ["产品部、销售部"] and retro["目标达成情况"] == ["增长35%"]
    assert retro["改进建议"] == ["提前15天确认人力"] and retro["主责部门负责人签字"] == ["张总监"]


def test_the_export_of_a_fresh_request_has_empty_forms(ctx, flow):
    steps.to_review(flow)
    book = load_workbook(io.BytesIO(export_request(ctx, flow.instance_id)[1]))
    assert book["部门协调反馈表"].max_row == 1 and book["进度跟踪表"].max_row == 2
    assert book["复盘表"]["B2"].value == "XMBG-202611001"
    form = book["需求申请表"]
    assert (form["C12"].value, form["D12"].value) == ("平台管理员审核", None)  # not reviewed yet


def test_a_process_instance_that_is_no_request_is_not_found(ctx, flow):
    with pytest.raises(NotFound):
        request_header(ctx, "00000000-0000-0000-0000-000000000000")


def test_the_timeline_names_the_steps_of_a_called_subprocess(ctx, flow):
    steps.to_plan(flow)
    steps.write_plan(flow)
    flow.complete_each("approve_plan", {steps.HEADS["PRD"]: steps.AGREE, steps.HEADS["SAL"]: {
        "approval_decision": "不同意", "approval_comment": "销售部11月人手不足"}})
    flow.complete("classify_conflict", steps.CLASSIFY)  # a step of conflict_resolution, called by the request
    names = {e["element_id"]: e["element_name"] for e in request_page(ctx, flow.instance_id).timeline
             if e["element_id"]}
    assert names["classify_conflict"] != "classify_conflict" and names["approve_plan"] != "approve_plan"


def test_a_plan_task_moves_through_delivered_returned_and_accepted_on_the_gantt(ctx, flow):
    steps.to_execution(flow)
    iid = flow.instance_id

    def stages() -> dict[str, str]:
        return {t["task_key"]: t["status"] for t in request_page(ctx, iid).plan["tasks"]}

    post_progress(ctx, iid, "songyu", status="进行中", plan_task_key="T1", work_done="海报2张")
    assert stages() == {"T1": "进行中", "T2": "未开始"}
    flow.complete("execute_task", {**steps.SUBMIT_WORK, "deliverable_summary": "海报3张"}, assignee="songyu")
    assert stages()["T1"] == "待验收"  # delivered, whatever the progress said
    flow.complete("accept_deliverable", {"acceptance_result": "退回修改", "acceptance_problem": "缺二维码"})
    assert stages()["T1"] == "退回修改"
    post_progress(ctx, iid, "songyu", status="进行中", plan_task_key="T1", work_done="加二维码")
    assert stages()["T1"] == "进行中"  # reworking
    flow.complete("execute_task", {**steps.SUBMIT_WORK, "deliverable_summary": "海报3张，已加二维码"},
                  assignee="songyu")
    flow.complete("accept_deliverable", steps.ACCEPT)
    assert stages() == {"T1": "已验收", "T2": "未开始"}
