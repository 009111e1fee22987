"""What the knowledge page, the collaboration guide, the 协作之星 board and the directory read, from
requests carried through the real flow (the scenario driver) on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect

from engine.db.migrate import alembic_config, upgrade
from engine.errors import FormInvalid, InvalidInput, NotFound, PermissionDenied
from engine.knowledge import guide, recognition
from engine.knowledge.browse import approved_entry, approved_titles, browse
from engine.knowledge.lessons import propose_lesson, review_lesson
from engine.messages import Msg
from engine.org.directory import post_directory, set_post
from tests.scenarios.driver import MONDAY, Flow, set_up_org
from tests.scenarios.steps import PLAN, PMO_OWNER, beijing, finish_task, to_execution, to_review

ADMIN = PMO_OWNER  # 周晓, a platform admin
RETRO = {"retro_participants": ["MKT", "PRD", "SAL"], "retro_goal": "销售额同比增长30%",
         "retro_result": "销售额同比增长35%", "retro_problems": "客户数据提供较晚",
         "retro_improvements": "数据需求提前10天提出"}


LESSON = ("大促协作经验", "数据需求提前10天提出", "大促")


def close_request(flow, *, score: int, highlights: str, named: list[str], late: tuple[str, ...] = (),
                  late_until=None, lesson: tuple[str, str, str] = LESSON) -> dict:
    """The demo request filed, planned, executed (the owners in `late` deliver only at `late_until`),
    archived, rated `score`, reviewed in a retrospective with `highlights`, its lesson distilled with
    `named` departments to recognise and approved: {instance_id, request_no, lesson_id}."""
    to_execution(flow)
    for task in PLAN:
        if task["owner"] not in late:
            finish_task(flow, task["owner"], f"{task['title']}已完成")
    if late:
        flow.advance_to(late_until, hours=12)
        for task in PLAN:
            if task["owner"] in late:
                finish_task(flow, task["owner"], f"{task['title']}已完成")
    flow.complete("archive_request", {"archive_complete": True, "archive_note": "已归档"}, as_user=ADMIN)
    flow.complete("rate_satisfaction", {"satisfaction": score})
    flow.complete("retrospective", {**RETRO, "retro_highlights": highlights})
    title, body, tags = lesson
    flow.complete("distill_lessons", {"lesson_title": title, "lesson_body": body, "lesson_tags": tags,
                                      "recognised_depts": named}, as_user=ADMIN)
    assert flow.status == "completed"
    (entry,) = flow.records("lesson")
    review_lesson(flow.ctx, entry["id"], ADMIN, True)
    return {"instance_id": flow.instance_id, "request_no": flow.describe()["business_key"], "lesson_id": entry["id"]}


@pytest.fixture
def flow(ctx, clock):
    clock.now = MONDAY
    return Flow(set_up_org(ctx), clock)


# --- the knowledge page: search, facets, links to the request ------------------------------------

def test_lessons_are_browsed_by_request_type_and_department_and_searched_by_chinese_words(flow):
    ctx = flow.ctx
    first = close_request(flow, score=5, highlights="产品部按时交付", named=[],
                          lesson=("大促协作：数据需求提前提出", "客户数据涉及保密审核，需预留时间", "大促,数据"))
    to_review(flow, request_type="资源申请", title="借调两名测试工程师", involved_depts=["TEC"])
    other = flow.describe()["business_key"]
    resource = propose_lesson(ctx, title="借调人员要提前确认工时", body="技术部人员借调需提前一周确认工时安排",
                              user="xiaowang", instance_id=flow.instance_id, request_no=other)
    review_lesson(ctx, resource, ADMIN, True)
    loose = propose_lesson(ctx, title="会议纪要当天发出", body="协调会纪要应在会议当天发给所有参会部门",
                           user="xiaowang")
    review_lesson(ctx, loose, ADMIN, True)
    waiting = propose_lesson(ctx, title="数据需求的另一条经验", body="尚未审核", user="xiaowang",
                             instance_id=first["instance_id"])

    everything = browse(ctx)
    assert [i["id"] for i in everything["items"]] == [loose, resource, first["lesson_id"]]  # latest approved first
    assert everything["total"] == 3 and everything["match"] is None
    assert everything["facets"]["types"] == [{"value": "资源申请", "count": 1}, {"value": "项目协作", "count": 1}]
    assert everything["facets"]["departments"] == [
        {"value": "MKT", "count": 2}, {"value": "PRD", "count": 1}, {"value": "SAL", "count": 1},
        {"value": "TEC", "count": 1}]
    item = everything["items"][2]
    assert (item["request_no"], item["instance_id"], item["request_type"], item["request_title"]) == (
        first["request_no"], first["instance_id"], "项目协作", "双十一大促跨部门协作")
    assert item["departments"] == ["MKT", "PRD", "SAL"]
    assert everything["items"][0]["request_no"] is None and everything["items"][0]["departments"] == []

    tec = browse(ctx, department="TEC")
    assert [i["id"] for i in tec["items"]] == [resource]
    assert tec["facets"]["types"] == [{"value": "资源申请", "count": 1}]  # counted under the department chosen
    assert len(tec["facets"]["departments"]) == 4  # the department facet ignores its own choice
    project = browse(ctx, request_type="项目协作")
    assert [i["id"] for i in project["items"]] == [first["lesson_id"]]
    assert project["facets"]["departments"] == [{"value": d, "count": 1} for d in ("MKT", "PRD", "SAL")]
    assert browse(ctx, request_type="项目协作", department="TEC")["total"] == 0

    found = browse(ctx, "保密审核")
    assert [i["id"] for i in found["items"]] == [first["lesson_id"]] and found["match"] == "all"
    assert "保密审核" in found["items"][0]["excerpt"]
    assert waiting not in [i["id"] for i in browse(ctx, "数据")["items"]]  # only approved lessons
    assert browse(ctx, "保密审核", department="TEC")["total"] == 0
    assert browse(ctx, "工时 保密")["match"] == "any"
    assert browse(ctx, "？？")["match"] == "none"

    paged = browse(ctx, limit=2, offset=2)
    assert (paged["total"], [i["id"] for i in paged["items"]]) == (3, [first["lesson_id"]])
    for bad in ({"limit": 0}, {"offset": -1}, {"department": "X" * 40}, {"query": "字" * 201}):
        with pytest.raises(InvalidInput):
            browse(ctx, **bad)

    # The resource request's lesson was approved before the request had a lead: once 销售部 is
    # dispatched to lead it, the lesson concerns 销售部 too (and after a second dispatch, only the
    # new lead); 数据 found over facets and pages counted in full.
    flow.complete("admin_review", {"review_decision": "通过", "review_comment": "可行"})
    flow.complete("dispatch_lead", {"lead_dept": "SAL", "pmo_owner": PMO_OWNER, "dispatch_note": "请牵头"},
                  as_user=PMO_OWNER)
    assert [i["id"] for i in browse(ctx, department="SAL")["items"]] == [resource, first["lesson_id"]]
    assert browse(ctx, department="SAL")["items"][0]["departments"] == ["MKT", "SAL", "TEC"]
    flow.complete("lead_confirm", {"lead_decision": "提出异议", "objection": "人手不足，建议物流部牵头"})
    flow.complete("dispatch_lead", {"lead_dept": "LOG", "pmo_owner": PMO_OWNER, "dispatch_note": "改由物流部牵头"},
                  as_user=PMO_OWNER)
    assert [i["id"] for i in browse(ctx, department="SAL")["items"]] == [first["lesson_id"]]
    assert browse(ctx, department="LOG")["items"][0]["departments"] == ["LOG", "MKT", "TEC"]

    shown = approved_entry(ctx, first["lesson_id"])
    assert (shown["request_no"], shown["instance_id"], shown["request_type"]) == (
        first["request_no"], first["instance_id"], "项目协作")
    with pytest.raises(NotFound):
        approved_entry(ctx, waiting)
    titles = approved_titles(ctx, [first["lesson_id"], waiting, 999])
    assert titles == {first["lesson_id"]: "大促协作：数据需求提前提出"}


def test_upgrading_gives_lessons_written_before_their_facets(flow):
    """Migration 0019 derives each existing entry's request type and departments from its request
    (by instance, else by number alone); downgrading drops them, the full-text search still works."""
    ctx = flow.ctx
    first = close_request(flow, score=4, highlights="按期交付", named=[],
                          lesson=("大促协作经验", "数据需求提前提出", "大促"))
    by_number = propose_lesson(ctx, title="按编号提出的经验", body="只写了需求编号", user="xiaowang",
                               request_no=first["request_no"])
    review_lesson(ctx, by_number, ADMIN, True)
    before = browse(ctx)
    assert before["facets"]["types"] == [{"value": "项目协作", "count": 2}]
    assert [i["departments"] for i in before["items"]] == [["MKT", "PRD", "SAL"]] * 2

    cfg = alembic_config(ctx.db.url)
    with ctx.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0018")
    with ctx.db.engine.connect() as conn:
        assert "knowledge_entry_dept" not in inspect(conn).get_table_names()
    upgrade(ctx.db)
    assert browse(ctx) == before
    assert [i["id"] for i in browse(ctx, "编号")["items"]] == [by_number]


# --- the collaboration guide -------------------------------------------------------------------

def test_guide_pages_are_edited_by_admins_with_every_revision_kept(flow):
    ctx = flow.ctx
    entry = propose_lesson(ctx, title="预算审批提前两周", body="大促预算审批需提前两周", user="xiaowang")
    review_lesson(ctx, entry, ADMIN, True)
    waiting = propose_lesson(ctx, title="未审核", body="未审核", user="xiaowang")

    with pytest.raises(PermissionDenied):
        guide.create_page(ctx, "xiaowang", title="总则", body="正文")
    with pytest.raises(FormInvalid) as refused:
        guide.create_page(ctx, ADMIN, title=" ", body=f"见 [[kb:{entry}]]\n以及 [[kb:{waiting}]]")
    assert refused.value.errors["title"] == Msg("text.required", what=Msg("what.guide_title"))
    assert refused.value.errors["body"] == Msg("guide.citations", problems=[
        Msg("guide.citation_unknown", line=2, entry=waiting)])
    assert refused.value.field_texts() == {
        "title": "请填写标题", "body": f"第 2 行引用的知识条目 [[kb:{waiting}]] 不存在或尚未通过审核"}
    assert guide.list_pages(ctx) == []  # nothing half-written
    with pytest.raises(FormInvalid) as refused:  # lines counted in paragraphs, lists and tables
        guide.create_page(ctx, ADMIN, title="表", body=f"# 引用\n\n- 甲\n- 乙 [[kb:{waiting}]]\n\n| 列 |\n|---|\n"
                          f"| [[kb:{waiting}]] |\n")
    assert refused.value.errors["body"] == Msg("guide.citations", problems=[
        Msg("guide.citation_unknown", line=4, entry=waiting), Msg("guide.citation_unknown", line=8, entry=waiting)])
    assert str(refused.value.errors["body"]) == (f"第 4 行引用的知识条目 [[kb:{waiting}]] 不存在或尚未通过审核；"
                                                 f"第 8 行引用的知识条目 [[kb:{waiting}]] 不存在或尚未通过审核")
    assert refused.value.errors["body"].text("en") == (
        f"Line 4 cites lesson [[kb:{waiting}]], which does not exist or is not approved; "
        f"Line 8 cites lesson [[kb:{waiting}]], which does not exist or is not approved")
    # How to cite, shown in code, escaped or in a link's text, cites nothing: no entry 99999 is needed.
    syntax = guide.create_page(ctx, ADMIN, title="写法", body="引用写作 `[[kb:编号]]`，如：\n\n    [[kb:99999]]\n\n"
                               "```\n[[kb:88888]]\n```\n\n或转义 \\[\\[kb:77777\\]\\]，"
                               "[链接里的 [[kb:66666]]](https://example.com)\n")
    assert guide.get_page(ctx, syntax)["citations"] == []
    guide.retire_page(ctx, ADMIN, syntax)

    rules = guide.create_page(ctx, ADMIN, title="总则", body="# 总则\n对事不对人。")
    flow.clock.advance(hours=1)
    budget = guide.create_page(ctx, ADMIN, title="预算", body=f"参见 [[kb:{entry}]]。", note="初稿")
    assert [p["id"] for p in guide.list_pages(ctx)] == [rules, budget]
    assert guide.get_page(ctx, budget)["citations"] == [entry]

    assert guide.edit_page(ctx, "lijingli", rules, title="总则", body="对事不对人；先沟通后升级。", base_revision=1,
                           note="补充升级原则") == 2
    with pytest.raises(FormInvalid) as stale:  # edited from revision 1 after revision 2 was saved
        guide.edit_page(ctx, ADMIN, rules, title="总则", body="旧稿", base_revision=1)
    assert stale.value.errors["revision"].code == "guide.stale"
    assert "第 2 版" in str(stale.value.errors["revision"])
    with pytest.raises(FormInvalid):
        guide.edit_page(ctx, ADMIN, rules, title="总则", body="对事不对人；先沟通后升级。", base_revision=2)
    page = guide.get_page(ctx, rules)
    assert (page["body"], page["revision"], page["updated_by"]) == ("对事不对人；先沟通后升级。", 2, "lijingli")

    assert guide.move_page(ctx, ADMIN, budget, "up") == [budget, rules]
    assert guide.move_page(ctx, ADMIN, budget, "up") == [budget, rules]  # already first
    guide.retire_page(ctx, ADMIN, budget, "并入总则")
    assert [p["id"] for p in guide.list_pages(ctx)] == [rules]
    with pytest.raises(NotFound):
        guide.get_page(ctx, budget)
    assert guide.get_page(ctx, budget, include_retired=True)["retired"] is True
    with pytest.raises(InvalidInput):
        guide.edit_page(ctx, ADMIN, budget, title="预算", body="改", base_revision=2)
    guide.restore_page(ctx, ADMIN, budget)
    assert [p["id"] for p in guide.list_pages(ctx)] == [rules, budget]  # back at the end

    history = guide.page_history(ctx, budget)
    assert [(r["number"], r["action"], r["author"], r["note"]) for r in history] == [
        (3, "restored", ADMIN, ""), (2, "retired", ADMIN, "并入总则"), (1, "created", ADMIN, "初稿")]
    first = guide.get_revision(ctx, rules, 1)
    assert (first["body"], first["author"]) == ("# 总则\n对事不对人。", ADMIN)
    with pytest.raises(NotFound):
        guide.get_revision(ctx, rules, 9)
    with pytest.raises(InvalidInput):
        guide.move_page(ctx, ADMIN, rules, "left")


# --- 协作之星: recognition from the records --------------------------------------------------------

def test_the_recognition_board_counts_what_the_records_of_each_request_say(flow):
    ctx = flow.ctx
    # 1: all on time, rated 5; the highlights name 产品部; the admin names 销售部 (no plan task of its own).
    one = close_request(flow, score=5, highlights="产品部提前交付功能说明", named=["SAL"])
    # 2: 市场部's task delivered after its planned end (20 November), rated 4; the highlights name 市场部.
    two = close_request(flow, score=4, highlights="市场部组织得力", named=[], late=("songyu",),
                        late_until=beijing("2026-11-21 10:00"))
    # 3: everything on time and named in the highlights, but rated 3: nobody, the admin named nobody.
    three = close_request(flow, score=3, highlights="产品部、市场部配合默契", named=[])
    # 4: filed on 1 December, every task delivered late (after 28 December), rated 5; both named in the
    # highlights.
    flow.advance_to(beijing("2026-12-01 10:00"), days=1)
    four = close_request(flow, score=5, highlights="市场部与产品部配合默契", named=[], late=("songyu", "qianyun"),
                         late_until=beijing("2026-12-28 10:00"))

    november = recognition.board(ctx, "2026-11")
    assert (november["period"], november["from"], november["to"]) == ("2026-11", "2026-11-01", "2026-11-30")
    stars = {d["department_id"]: (d["stars"], d["reasons"],
                                  [(r["request_no"], r["reasons"]) for r in d["requests"]])
             for d in november["departments"]}
    assert stars == {
        "PRD": (2, {"named": 0, "highlight": 1, "on_time": 2},
                [(one["request_no"], ["highlight", "on_time"]), (two["request_no"], ["on_time"])]),
        "MKT": (2, {"named": 0, "highlight": 1, "on_time": 1},
                [(one["request_no"], ["on_time"]), (two["request_no"], ["highlight"])]),
        "SAL": (1, {"named": 1, "highlight": 0, "on_time": 0}, [(one["request_no"], ["named"])]),
    }
    assert [d["department_id"] for d in november["departments"]] == ["MKT", "PRD", "SAL"]  # stars, then org order
    assert three["request_no"] not in {r["request_no"] for d in november["departments"] for r in d["requests"]}
    assert november["departments"][1]["requests"][0]["score"] == 5

    quarter = recognition.board(ctx, "2026-q4")
    assert quarter["period"] == "2026-Q4"
    assert {d["department_id"]: d["stars"] for d in quarter["departments"]} == {"MKT": 3, "PRD": 3, "SAL": 1}
    assert quarter["departments"][0]["requests"][-1] == {**quarter["departments"][0]["requests"][-1],
                                                          "request_no": four["request_no"], "reasons": ["highlight"]}
    assert recognition.board(ctx, "2026-10")["departments"] == []
    assert recognition.board(ctx, "2026")["to"] == "2026-12-31"

    with pytest.raises(PermissionDenied):
        recognition.set_note(ctx, "xiaowang", "2026-11", "PRD", "好")
    with pytest.raises(NotFound):
        recognition.set_note(ctx, ADMIN, "2026-11", "NOPE", "好")
    for bad in ("2026-13", "2026-Q5", "11/2026", "", None):
        with pytest.raises(InvalidInput):
            recognition.board(ctx, bad)
    recognition.set_note(ctx, ADMIN, "2026-11", "PRD", "功能说明两次提前交付，特此表彰")
    prd = next(d for d in recognition.board(ctx, "2026-11")["departments"] if d["department_id"] == "PRD")
    assert (prd["note"]["note"], prd["note"]["author"]) == ("功能说明两次提前交付，特此表彰", ADMIN)
    assert all(d["note"] is None for d in recognition.board(ctx, "2026-Q4")["departments"])  # notes are per period
    recognition.set_note(ctx, ADMIN, "2026-11", "PRD", "")
    assert all(d["note"] is None for d in recognition.board(ctx, "2026-11")["departments"])


# --- the directory ------------------------------------------------------------------------------

def test_the_directory_lists_heads_and_interface_persons_with_their_history(flow):
    ctx = flow.ctx
    flow.clock.advance(days=3)
    set_post(ctx, "PRD", "interface", "qianyun", "lijingli")
    found = {d["id"]: d for d in post_directory(ctx)}
    prd = found["PRD"]
    assert prd["name"] == "产品部"
    assert (prd["head"]["user_id"], prd["head"]["name"]) == ("chenzongjian", "陈总监")
    assert prd["interface"]["user_id"] == "qianyun" and prd["interface"]["to"] is None
    assert [(h["user_id"], h["to"] is None, h["changed_by"]) for h in prd["history"]["interface"]] == [
        ("qianyun", True, "lijingli"), ("zhaojingli", False, "setup")]
    assert prd["history"]["interface"][1]["to"] == prd["history"]["interface"][0]["from"]
    assert set(prd["head"]) >= {"email", "phone", "department_id", "active"}
    assert len(found) == 11  # 总经办 and the ten departments
