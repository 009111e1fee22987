"""Records of a request: rows of their own tables, written by the request's people, chained in the
audit log without touching the workflow, listed as one timeline; the red warning derived from them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.audit import verify as audit_verify
from engine.bpmn.deploy import deploy
from engine.bpmn.forms import Form, FormField
from engine.db.models import ProcessInstance
from engine.errors import FormInvalid, InvalidInput, NotFound, PermissionDenied
from engine.knowledge.lessons import list_entries
from engine.messages import Msg
from engine.org.directory import add_substitute
from engine.org.importer import import_org, parse_yaml
from engine.org.users import add_user
from engine.requests.attachments import add_attachment
from engine.requests.record_access import may_read, may_write
from engine.requests.record_forms import FORM_KINDS, form_records, store_form_records
from engine.requests.records import (
    add_action_items,
    add_comment,
    add_feedback,
    add_retrospective,
    list_records,
    post_progress,
    rate_satisfaction,
    record_minutes,
    red_warnings,
    save_plan,
    schedule_meeting,
)
from engine.requests.requests import submit_request
from engine.workflow.instances import complete_task, describe_instance, start_instance
from tests.conftest import fixture_files
from tests.helpers import assert_reload_matches

DEMO = Path(__file__).parents[2] / "demo" / "org.yaml"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" \
      b"trailer<</Root 1 0 R>>\n%%EOF\n"
# The clock starts on Wed 30 Sep 2026 09:00 UTC, 17:00 in Beijing.
TASKS = [
    {"title": "促销页面开发", "department_id": "TEC", "owner": "yangfan", "planned_start": "2026-10-08",
     "planned_end": "2026-10-20", "delivery_standard": "页面上线，压测通过"},
    {"title": "商品选品", "department_id": "PRD", "owner": "qianyun", "planned_start": "2026-09-30",
     "planned_end": "2026-10-01", "delivery_standard": "提交3款促销商品说明"},
]


@pytest.fixture
def req(ctx):
    """A request of 小王 (市场部) waiting for his head 张总监's sign-off: (instance id, task id)."""
    import_org(ctx, parse_yaml(DEMO.read_text("utf-8")), "setup", bootstrap=True)
    deploy(ctx, fixture_files("request_form.bpmn", "sequential_8.bpmn"), "lijingli")
    started = submit_request(ctx, "xiaowang", {"title": "618 大促协作"}, process_id="request_form")
    return started.instance_id, started.opened_tasks[0]


def _plan(ctx, iid: str, tasks=TASKS, **kwargs) -> dict:
    return save_plan(ctx, iid, "zhangzongjian", tasks=tasks, risk_plan="选品延误时由销售部补位",
                     lead_department="MKT", **kwargs)


def _lock_version(ctx, iid: str) -> int:
    with ctx.db.read() as s:
        return s.scalar(select(ProcessInstance.lock_version).where(ProcessInstance.id == iid))


def test_every_record_is_a_row_in_the_timeline_with_its_audit_event(ctx, req, clock):
    iid, tid = req
    written = {"plan": _plan(ctx, iid, task_id=tid)["id"]}
    written["comment"] = add_comment(ctx, iid, "xiaowang", "请各部门本周内反馈", task_id=tid)
    written["attachment"] = add_attachment(ctx, iid, "xiaowang", "需求说明.pdf", PDF)["id"]
    written["meeting"] = schedule_meeting(ctx, iid, "zhangzongjian", starts_at="2026-10-02T10:00",
                                          agenda="明确分工和时间", place="3楼会议室", attendees=["yangfan", "qianyun"])
    written["minutes"] = record_minutes(ctx, iid, "zhangzongjian", content="技术部负责页面，产品部负责选品",
                                        attendees=["yangfan"], attachment_ids=[written["attachment"]])
    written["feedback"] = add_feedback(ctx, iid, "qianyun", content="可提供3款商品说明", suggested_date="2026-10-01",
                                       resources="设计1人")
    written["progress_update"] = post_progress(ctx, iid, "yangfan", plan_task_key="T1", status="进行中",
                                               work_done="完成页面设计", expected_finish=date(2026, 10, 18))
    written["action_items"] = add_action_items(ctx, iid, "lijingli", [
        {"action": "补充移动端设计", "owner": "yangfan", "deadline": "2026-10-09"}], decision="由技术部牵头")
    written["retrospective"] = add_retrospective(ctx, iid, "zhangzongjian", goal="销售额同比增长30%", result="增长32%",
                                                 highlights="提前锁定资源", problems="选品晚了1天",
                                                 improvements="选品提前一周", departments=["TEC", "PRD"])
    written["satisfaction"] = rate_satisfaction(ctx, iid, "xiaowang", 5, "协作顺畅")

    records = list_records(ctx, iid, "shenjie")  # the auditor reads everything
    assert [(r["kind"], r["id"]) for r in records] == list(written.items())
    by_kind = {r["kind"]: r for r in records}
    assert {r["request_no"] for r in records} == {describe_instance(ctx, iid)["business_key"]}
    assert by_kind["plan"]["version"] == 1 and by_kind["plan"]["task_id"] == tid
    assert by_kind["plan"]["element_id"] == "sign_off"
    assert [(t["task_key"], t["owner"], t["planned_end"]) for t in by_kind["plan"]["tasks"]] == [
        ("T1", "yangfan", "2026-10-20"), ("T2", "qianyun", "2026-10-01")]
    assert by_kind["meeting"]["starts_at"] == "2026-10-02T02:00:00+00:00"  # 10:00 in Beijing
    assert by_kind["meeting"]["attendees"] == ["yangfan", "qianyun"]
    assert by_kind["minutes"]["meeting_id"] == written["meeting"]
    assert by_kind["minutes"]["attachment_ids"] == [written["attachment"]]
    assert by_kind["feedback"]["department_id"] == "PRD" and by_kind["feedback"]["suggested_date"] == "2026-10-01"
    assert by_kind["progress_update"]["risk"] is False and by_kind["progress_update"]["plan_task_key"] == "T1"
    assert by_kind["action_items"]["items"][0]["deadline"] == "2026-10-09"
    assert by_kind["retrospective"]["departments"] == ["TEC", "PRD"]
    assert by_kind["satisfaction"]["score"] == 5 and by_kind["satisfaction"]["author"] == "xiaowang"
    assert by_kind["attachment"]["content_type"] == "application/pdf" and "content" not in by_kind["attachment"]

    events = [e for e in describe_instance(ctx, iid)["history"] if e["data"].get("record")]
    assert [(e["type"], e["data"]["id"]) for e in events] == [
        ("plan_saved", written["plan"]), ("comment_added", written["comment"]),
        ("attachment_added", written["attachment"]), ("meeting_scheduled", written["meeting"]),
        ("minutes_recorded", written["minutes"]), ("feedback_given", written["feedback"]),
        ("progress_posted", written["progress_update"]), ("action_items_added", written["action_items"]),
        ("retrospective_added", written["retrospective"]), ("satisfaction_rated", written["satisfaction"])]
    assert events[1]["actor"] == "xiaowang" and events[1]["at"] == clock.now.isoformat()
    assert events[0]["task_id"] == tid and events[0]["element_id"] == "sign_off"
    assert audit_verify.verify_all(ctx)["problems"] == []


def test_records_leave_the_workflow_and_its_cache_alone(ctx, req, monkeypatch):
    iid, tid = req
    before = _lock_version(ctx, iid)
    add_comment(ctx, iid, "xiaowang", "附上补充说明")
    add_attachment(ctx, iid, "zhangzongjian", "说明.txt", "第一条\n第二条\n".encode())
    _plan(ctx, iid)
    assert _lock_version(ctx, iid) == before
    assert_reload_matches(ctx, iid)  # the workflow cached under that version is still the committed one

    def reload(*_args):
        raise AssertionError("the workflow was read from the database again")

    monkeypatch.setattr(ctx.store, "_restore_tasks", reload)
    complete_task(ctx, tid, "zhangzongjian", {"approved": True})  # runs on the cached workflow
    monkeypatch.undo()
    assert describe_instance(ctx, iid)["status"] == "completed"
    add_comment(ctx, iid, "zhangzongjian", "已签字")  # a completed request still takes records
    assert [r["kind"] for r in list_records(ctx, iid, "xiaowang")] == ["comment", "attachment", "plan", "comment"]
    assert audit_verify.verify_all(ctx) == {"instances": 1, "problems": []}


def test_who_may_write_and_read(ctx, req, clock):
    iid, tid = req

    def rights(user: str, instance: str = iid) -> tuple[bool, bool]:
        with ctx.db.transaction(write=False) as tx:
            return may_read(ctx, tx, instance, user), may_write(ctx, tx, instance, user)

    assert rights("xiaowang") == (True, True)  # the initiator
    assert rights("zhangzongjian") == (True, True)  # holds the sign-off task
    assert rights("lijingli") == (True, True)  # platform admin
    assert rights("shenjie") == (True, False)  # auditor
    assert rights("yangfan") == (False, False)  # stranger
    with pytest.raises(PermissionDenied):
        add_comment(ctx, iid, "shenjie", "审计意见")
    with pytest.raises(PermissionDenied):
        add_comment(ctx, iid, "yangfan", "路过")
    with pytest.raises(PermissionDenied):
        list_records(ctx, iid, "yangfan")
    with pytest.raises(NotFound):
        list_records(ctx, "no-such-instance", "shenjie")

    # 宋雨 substitutes 张总监 from 1 to 7 October: only then is she one of the request's people.
    add_substitute(ctx, "zhangzongjian", "songyu", date(2026, 10, 1), date(2026, 10, 7), "出差", "lijingli")
    assert rights("songyu") == (False, False)
    clock.now = datetime(2026, 10, 3, 2, tzinfo=UTC)
    assert rights("songyu") == (True, True)
    complete_task(ctx, tid, "songyu", {"approved": True})
    clock.now = datetime(2026, 10, 9, 2, tzinfo=UTC)
    assert rights("songyu") == (True, True)  # she held (completed) one of its tasks
    assert rights("shenjie") == (True, False)

    # A member of a group a task is offered to.
    add_user(ctx, "yangfan", "杨帆", ["team"])
    other = start_instance(ctx, "sequential_8", "xiaowang").instance_id
    assert rights("yangfan", other) == (True, True)
    assert rights("xuming", other) == (False, False)
    assert rights("yangfan") == (False, False)


def test_progress_on_a_plan_task_is_for_its_owner_and_the_lead_head(ctx, req, clock):
    iid, _ = req
    _plan(ctx, iid)
    post_progress(ctx, iid, "yangfan", plan_task_key="T1", status="进行中")  # the owner
    post_progress(ctx, iid, "zhangzongjian", plan_task_key="T2", status="待支持")  # head of the lead MKT
    for user in ("qianyun", "xiaowang", "lijingli", "shenjie"):  # another owner, initiator, admin, auditor
        with pytest.raises(PermissionDenied):
            post_progress(ctx, iid, user, plan_task_key="T1", status="进行中")
    assert add_comment(ctx, iid, "yangfan", "页面设计稿已上传")  # owners are people of the request
    add_substitute(ctx, "yangfan", "sunhao", date(2026, 10, 1), date(2026, 10, 2), "休假", "lijingli")
    with pytest.raises(PermissionDenied):
        post_progress(ctx, iid, "sunhao", plan_task_key="T1", status="进行中")
    clock.now = datetime(2026, 10, 1, 2, tzinfo=UTC)
    post_progress(ctx, iid, "sunhao", plan_task_key="T1", status="进行中", work_done="代杨帆提交")
    with pytest.raises(FormInvalid) as err:
        post_progress(ctx, iid, "yangfan", plan_task_key="T9", status="进行中")
    assert list(err.value.errors) == ["plan_task_key"]


def test_input_errors_name_their_fields(ctx, req):
    iid, tid = req
    _plan(ctx, iid)
    with pytest.raises(FormInvalid) as err:
        post_progress(ctx, iid, "yangfan", plan_task_key="T1", status="快好了", expected_finish="国庆后")
    assert err.value.errors == {"status": Msg("record.not_option", known=["未开始", "进行中", "待支持", "已完成"],
                                              given="'快好了'"),
                                "expected_finish": Msg("record.not_date", given="'国庆后'")}
    assert err.value.field_texts() == {"status": "应为 未开始、进行中、待支持、已完成 之一，收到的是 '快好了'",
                                       "expected_finish": "应为日期（YYYY-MM-DD），收到的是 '国庆后'"}
    with pytest.raises(FormInvalid) as err:
        post_progress(ctx, iid, "yangfan", plan_task_key="T1", status="进行中", risk=True)
    assert err.value.field_texts() == {"risk_note": "报告风险时须说明风险"}
    with pytest.raises(FormInvalid) as err:
        add_feedback(ctx, iid, "qianyun", content=" ", suggested_date=None)
    assert err.value.errors == {"content": Msg("field.required"), "suggested_date": Msg("field.required")}
    assert err.value.field_texts() == {"content": "必填", "suggested_date": "必填"}
    with pytest.raises(FormInvalid) as err:
        _plan(ctx, iid, [{**TASKS[0], "owner": "nobody"}])
    assert err.value.field_texts() == {"tasks": "用户 nobody 不存在"}
    with pytest.raises(FormInvalid) as err:
        _plan(ctx, iid, [{**TASKS[0], "planned_end": "2026-10-01"}])
    assert err.value.errors == {"tasks": Msg("plan.ends_before_start", row=1)}
    assert err.value.field_texts() == {"tasks": "第 1 行，planned_end：计划完成日期早于计划开始日期"}
    with pytest.raises(FormInvalid) as err:
        _plan(ctx, iid, [{**TASKS[0], "title": ""}, {}])
    assert err.value.field_texts() == {"tasks": "第 1 行，title：必填"}
    with pytest.raises(FormInvalid) as err:
        add_action_items(ctx, iid, "lijingli", [])
    assert err.value.field_texts() == {"items": "至少需要一行"}
    with pytest.raises(FormInvalid) as err:
        schedule_meeting(ctx, iid, "zhangzongjian", starts_at="2026-10-05T10:00", agenda="分工", attendees=["ghost"])
    assert err.value.field_texts() == {"attendees": "用户 ghost 不存在"}
    with pytest.raises(FormInvalid) as err:
        record_minutes(ctx, iid, "zhangzongjian", content="纪要", attachment_ids=[999])
    assert err.value.field_texts() == {"attachment_ids": "附件 999 不属于本需求"}
    with pytest.raises(FormInvalid) as err:
        rate_satisfaction(ctx, iid, "xiaowang", 6)
    assert err.value.field_texts() == {"score": "应为 1 到 5 的整数，收到的是 6"}
    with pytest.raises(FormInvalid):
        rate_satisfaction(ctx, iid, "xiaowang", True)
    with pytest.raises(PermissionDenied):
        rate_satisfaction(ctx, iid, "zhangzongjian", 4)  # the requester rates
    rate_satisfaction(ctx, iid, "xiaowang", 4)
    with pytest.raises(InvalidInput, match="只评价一次"):
        rate_satisfaction(ctx, iid, "xiaowang", 5)
    with pytest.raises(NotFound):
        add_comment(ctx, iid, "xiaowang", "挂错任务", task_id="00000000-0000-0000-0000-000000000000")
    kinds = [r["kind"] for r in list_records(ctx, iid, "xiaowang")]
    assert kinds == ["plan", "satisfaction"]  # nothing of the refused ones was kept


def test_a_meeting_is_announced_at_least_24_hours_ahead(ctx, req, clock):
    iid, _ = req
    soon = clock.now + timedelta(hours=23, minutes=59)
    with pytest.raises(FormInvalid) as err:
        schedule_meeting(ctx, iid, "zhangzongjian", starts_at=soon, agenda="分工")
    assert list(err.value.errors) == ["starts_at"] and err.value.errors["starts_at"].code == "meeting.notice"
    earliest = clock.now + timedelta(hours=24)
    assert err.value.errors["starts_at"].params["earliest"] == earliest.isoformat()
    assert str(err.value.errors["starts_at"]) == "会议须至少提前24小时通知，最早可安排在 2026-10-01 17:00"
    # Without a zone a time is Beijing time: 2026-10-01 16:59 there is 08:59 UTC, under 24 h away.
    with pytest.raises(FormInvalid):
        schedule_meeting(ctx, iid, "zhangzongjian", starts_at="2026-10-01T16:59", agenda="分工")
    meeting = schedule_meeting(ctx, iid, "zhangzongjian", starts_at=clock.now + timedelta(hours=24), agenda="分工")
    assert [r["id"] for r in list_records(ctx, iid, "zhangzongjian")] == [meeting]


def test_a_plan_is_saved_as_versions_whose_tasks_keep_their_keys(ctx, req):
    iid, _ = req
    assert _plan(ctx, iid)["keys"] == ["T1", "T2"]
    post_progress(ctx, iid, "yangfan", plan_task_key="T1", status="进行中")
    renamed = {**TASKS[0], "title": "促销页面开发（含移动端）", "task_key": "T1"}
    added = {**TASKS[1], "title": "物流预案", "department_id": "LOG", "owner": "wuqiang"}
    second = _plan(ctx, iid, [TASKS[1], renamed, added])  # T2 found by title and department
    assert (second["version"], second["keys"]) == (2, ["T2", "T1", "T3"])
    third = _plan(ctx, iid, [TASKS[1]])
    assert (third["version"], third["keys"]) == (3, ["T2"])
    assert _plan(ctx, iid, [TASKS[0], TASKS[1], added])["keys"] == ["T4", "T2", "T5"]  # never reused
    for rows, said, message in (
            ([{**TASKS[0], "task_key": "T9"}], Msg("actions.task_unknown", row=1, key="T9"),
             "第 1 行，task_key：T9 不是本需求协调方案中已有的任务"),
            ([{**TASKS[0], "task_key": "T1"}, {**TASKS[1], "task_key": "T1"}],
             Msg("actions.task_twice", row=2, key="T1"), "第 2 行，task_key：T1 重复")):
        with pytest.raises(FormInvalid) as err:
            _plan(ctx, iid, rows)
        assert err.value.errors == {"tasks": said} and err.value.field_texts() == {"tasks": message}
    plans = [r for r in list_records(ctx, iid, "lijingli") if r["kind"] == "plan"]
    assert [p["version"] for p in plans] == [1, 2, 3, 4]
    assert [t["title"] for t in plans[1]["tasks"]] == ["商品选品", "促销页面开发（含移动端）", "物流预案"]


def test_red_warnings_follow_the_rule_with_the_clock(ctx, req, clock):
    iid, _ = req
    t0 = clock.now  # 30 Sep 17:00 Beijing; T2 ends on 1 Oct, that is at the end of its working day, 18:00 Beijing
    _plan(ctx, iid)

    def red() -> list[tuple[str, list[str]]]:
        return [(w["task_key"], w["reasons"]) for w in red_warnings(ctx, iid)]

    assert red() == []
    post_progress(ctx, iid, "yangfan", plan_task_key="T1", status="进行中", risk=True, risk_note="接口文档未到")
    assert red() == [("T1", ["risk"])]
    post_progress(ctx, iid, "yangfan", plan_task_key="T1", status="待支持", problems="需要产品部确认需求")
    assert red() == [("T1", ["needs_support"])]
    post_progress(ctx, iid, "yangfan", plan_task_key="T1", status="进行中")
    assert red() == []
    clock.now = t0 + timedelta(minutes=59)
    assert red() == []  # T2's end is 24 h and 1 minute away
    clock.now = t0 + timedelta(hours=1)
    assert red_warnings(ctx, iid) == [{"task_key": "T2", "title": "商品选品", "department_id": "PRD",
                                       "owner": "qianyun", "planned_end": "2026-10-01", "reasons": ["deadline"],
                                       "latest": None}]
    post_progress(ctx, iid, "qianyun", plan_task_key="T2", status="已完成")
    clock.now = t0 + timedelta(hours=24)
    assert red() == []  # T1's last update is exactly 24 h old; T2 is done, past its end or not
    clock.now = t0 + timedelta(hours=24, minutes=1)
    assert red() == [("T1", ["stale"])]
    late = {**TASKS[1], "title": "物流预案", "department_id": "LOG", "owner": "wuqiang", "planned_end": "2026-09-30"}
    _plan(ctx, iid, [TASKS[0], TASKS[1], late])  # a new version: T1 keeps its history
    assert red() == [("T1", ["stale"]), ("T3", ["deadline"])]
    post_progress(ctx, iid, "wuqiang", plan_task_key="T3", status="进行中", risk=True, risk_note="车辆不足")
    assert red() == [("T1", ["stale"]), ("T3", ["risk", "deadline"])]
    with pytest.raises(NotFound):
        red_warnings(ctx, "no-such-instance")


def test_form_fields_are_grouped_by_their_record_kind():
    def fld(fid: str, kind: str | None = None) -> FormField:
        return FormField(id=fid, type="text", properties={"record": kind} if kind else {})

    form = Form([fld("title", "request"), fld("approved"), fld("feedback_content", "feedback"),
                 fld("progress_risk", "progress_update"), fld("deliverable_summary", "deliverable")])
    clean = {"title": "x", "approved": True, "feedback_content": "可以", "progress_risk": False,
             "deliverable_summary": "已上线"}
    row = {"title": "促销页面开发", "dept": "TEC", "owner": "yangfan"}
    assert form_records(form, clean, {"plan_task": row}) == {
        "feedback": {"feedback_content": "可以"}, "deliverable": {"deliverable_summary": "已上线", "plan_task": row}}


def test_task_forms_write_records_in_the_commands_transaction(ctx, req, clock):
    iid, tid = req
    files = [str(add_attachment(ctx, iid, "zhangzongjian", "验收截图.pdf", PDF)["id"])]
    row_of_plan = {"title": "促销页面开发", "dept": "TEC", "owner": "yangfan"}
    fields = {
        "feedback": {"feedback_content": "可提供3款商品说明", "feedback_suggested_date": "2026-10-10"},
        "meeting": {"meeting_time": "2026-10-02T10:00", "meeting_agenda": "分工", "meeting_attendees": ["yangfan"],
                    "meeting_place": "3楼"},
        "minutes": {"meeting_minutes": "明确分工", "meeting_conclusions": "按计划推进", "minutes_files": files},
        "plan": {"plan_tasks": [{**row_of_plan, "start": "2026-10-08", "end": "2026-10-20", "standard": "上线"}],
                 "risk_plan": "延误时加派人手"},
        "progress_update": {"progress_status": "进行中", "progress_done": "设计完成", "plan_task": row_of_plan},
        "deliverable": {"work_outcome": "提交成果", "deliverable_summary": "页面已上线", "deliverable_files": files,
                        "plan_task": row_of_plan},
        "acceptance": {"acceptance_result": "退回修改", "acceptance_problem": "移动端样式错位",
                       "plan_task": row_of_plan},
        "conflict_position": {"position_statement": "人手不足", "position_demands": "延期两天"},
        "action_items": {"arbitration_decision": "延期两天",
                         "action_items": [{"action": "补齐移动端", "owner": "yangfan", "deadline": "2026-10-12"}]},
        "retrospective": {"retro_goal": "增长30%", "retro_result": "增长32%", "retro_highlights": "提前锁定资源",
                          "retro_problems": "选品晚1天", "retro_improvements": "提前一周选品",
                          "retro_participants": ["TEC"]},
        "satisfaction": {"satisfaction": 4, "satisfaction_comment": "响应及时"},
        "lesson": {"lesson_title": "大促协作要提前锁定资源", "lesson_body": "提前一周确认各部门人手",
                   "lesson_tags": "大促,资源"},
    }
    with ctx.db.transaction() as tx:
        row = ctx.store.row(tx, iid, lock=True)
        written = store_form_records(tx, row, tid, "sign_off", "zhangzongjian", ctx.now(), fields)
        ctx.store.write_row(tx, row)  # as complete_task does with the row whose chain moved
    assert list(written) == list(FORM_KINDS)
    records = {r["kind"]: r for r in list_records(ctx, iid, "shenjie")}
    assert records["meeting"]["starts_at"] == "2026-10-02T02:00:00+00:00"
    assert records["minutes"]["meeting_id"] == written["meeting"]
    assert records["minutes"]["attachment_ids"] == records["deliverable"]["attachment_ids"] == [int(files[0])]
    assert records["plan"]["tasks"][0]["task_key"] == "T1" and records["feedback"]["department_id"] == "MKT"
    assert {records[k]["plan_task_key"] for k in ("progress_update", "deliverable", "acceptance")} == {"T1"}
    assert records["progress_update"]["element_id"] == "sign_off" and records["progress_update"]["task_id"] == tid
    assert records["lesson"]["status"] == "proposed" and records["lesson"]["tags"] == ["大促", "资源"]
    assert list_entries(ctx, "proposed")[0]["request_no"] == describe_instance(ctx, iid)["business_key"]
    assert audit_verify.verify_all(ctx)["problems"] == []

    bad = {"feedback": {"feedback_content": "", "feedback_suggested_date": "下周"},
           "meeting": {"meeting_time": clock.now.isoformat(), "meeting_agenda": "临时会"}}
    for fields, errors in ((bad, ["feedback_content", "feedback_suggested_date"]), ({"meeting": bad["meeting"]},
                                                                                   ["meeting_time"])):
        with pytest.raises(FormInvalid) as err, ctx.db.transaction() as tx:
            row = ctx.store.row(tx, iid, lock=True)
            store_form_records(tx, row, tid, "sign_off", "zhangzongjian", ctx.now(), fields)
        assert list(err.value.errors) == errors
    with pytest.raises(InvalidInput) as refused, ctx.db.transaction() as tx:
        store_form_records(tx, ctx.store.row(tx, iid, lock=True), tid, "sign_off", "zhangzongjian", ctx.now(),
                           {"wish": {"x": 1}})
    assert refused.value.message_code == "record_forms.unknown_kind"
    assert (refused.value.params["element"], refused.value.params["given"]) == ("sign_off", ["wish"])
    assert len(list_records(ctx, iid, "shenjie")) == len(records)
