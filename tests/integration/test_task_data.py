"""Records, not task data: a request's feedback, minutes, plan, progress, deliverables, acceptances,
retrospective and rating live in their own tables, and its workflow does not grow with them.

A form field marked as a record is kept in its record's table only; the few the process reads
later (a gateway, a script, a multi-instance collection, a read-only field of a later form) say
data="true" and are task data too. Progress is posted as records and never touches the workflow.
"""

from __future__ import annotations

import json

import pytest
from lxml import etree
from sqlalchemy import func, select

from engine.audit.verify import verify_all
from engine.bpmn.deploy import deploy
from engine.bpmn.forms import field_from_xml
from engine.bpmn.parser import CAMUNDA_NS
from engine.db.models import InstanceTask
from engine.errors import InvalidProcess
from engine.requests.records import post_progress
from tests.helpers import reloaded_state
from tests.scenarios.driver import MONDAY, ROOT, Flow, set_up_org
from tests.scenarios.steps import (
    ACCEPT,
    AGREE,
    HEADS,
    INTERFACES,
    INVOLVED,
    PLAN,
    PMO_OWNER,
    REQUEST,
    REQUESTER,
    RISK_PLAN,
    SUBMIT_WORK,
    beijing,
    finish_task,
)

AUDITOR = "shenjie"
LEAD = HEADS["MKT"]
FEEDBACK = {d: {"feedback_content": f"{d}：可投入2人配合", "feedback_suggested_date": "2026-11-10",
                "feedback_resources": f"{d}：需要会议室一间", "feedback_remarks": f"{d}：双十一前后人手紧张"}
            for d in INVOLVED}
NOTICE = {"meeting_agenda": "明确各部门分工和验收口径", "meeting_place": "3楼会议室",
          "meeting_attendees": ["chenzongjian", "huangjingli", "xiaowang"]}
MINUTES = {"meeting_minutes": "三方确认分工与排期", "meeting_conclusions": "产品部27日前交付功能说明"}
PROGRESS = [  # (owner, plan task key, status, work done, risk note)
    ("songyu", "T1", "进行中", "海报初稿完成1张", ""),
    ("qianyun", "T2", "进行中", "功能说明完成大纲", ""),
    ("songyu", "T1", "待支持", "海报初稿完成2张", "二维码素材未到，可能延期1天"),
]
PROBLEM = "物料设计未包含活动二维码，需补充"
RETRO = {"retro_participants": INVOLVED, "retro_goal": "复盘目标：销售额同比增长30%",
         "retro_result": "复盘结果：销售额同比增长35%", "retro_highlights": "复盘亮点：协调会一次定分工",
         "retro_problems": "复盘问题：二维码素材提供较晚", "retro_improvements": "复盘改进：素材需求提前10天提出"}
RATING = {"satisfaction": 4, "satisfaction_comment": "评价：响应及时，二维码返工一次"}
LESSON = {"lesson_title": "经验：素材需求提前提出", "lesson_body": "经验正文：素材涉及多个部门，需预留时间",
          "lesson_tags": "大促,素材"}
# the fields of this request's forms that are kept as records only (the risk plan and the deliverable's
# summary and files stay in the data as well: the approval and the acceptance show them read-only)
RECORD_ONLY = {
    "feedback_content", "feedback_suggested_date", "feedback_resources", "feedback_remarks",
    "meeting_minutes", "meeting_conclusions", "minutes_files",
    "progress_status", "progress_done", "progress_open_issues", "progress_risk", "progress_risk_note",
    *RETRO, *RATING, *LESSON,
}
# what they said: none of it may turn up anywhere in the stored workflow
SAID = [*(f[k] for f in FEEDBACK.values() for k in ("feedback_content", "feedback_resources", "feedback_remarks")),
        *MINUTES.values(), *(p[3] for p in PROGRESS), PROGRESS[2][4],
        *(v for k, v in RETRO.items() if k != "retro_participants"), RATING["satisfaction_comment"], *LESSON.values()]


@pytest.fixture
def flow(ctx, clock):
    set_up_org(ctx)
    clock.now = MONDAY
    yield Flow(ctx, clock)
    assert verify_all(ctx)["problems"] == []


def _stored(flow) -> dict:
    return reloaded_state(flow.ctx, flow.instance_id)


def _data_keys(state: dict) -> set[str]:
    """Every variable of the workflow's data and of every task's data, called subprocesses included."""
    keys = set()
    for workflow in (state, *state["subprocesses"].values()):
        keys |= set(workflow["data"])
        for task in workflow["tasks"].values():
            keys |= set(task["data"])
    return keys


def _task_bytes(flow) -> int:
    with flow.ctx.db.read() as s:
        return s.scalar(select(func.sum(func.length(InstanceTask.body)))
                        .where(InstanceTask.instance_id == flow.instance_id))


def _assert_kept_out(flow) -> set[str]:
    state = _stored(flow)
    keys = _data_keys(state)
    assert not keys & RECORD_ONLY
    text = json.dumps(state, ensure_ascii=False)
    assert [said for said in SAID if said in text] == []
    return keys


def _post(flow, owner: str, key: str, status: str, done: str, risk_note: str = "") -> int:
    return post_progress(flow.ctx, flow.instance_id, owner, plan_task_key=key, status=status, work_done=done,
                         risk=bool(risk_note), risk_note=risk_note)


def test_records_are_kept_in_their_tables_and_out_of_the_task_data(flow):
    flow.submit(REQUESTER, REQUEST)
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    flow.complete("admin_review", {"review_decision": "通过", "review_comment": "信息完整，可行"})
    flow.complete("dispatch_lead", {"lead_dept": "MKT", "pmo_owner": PMO_OWNER}, as_user=PMO_OWNER)
    flow.complete("lead_confirm", {"lead_decision": "确认接收"})
    flow.complete_each("collect_feedback", {INTERFACES[d]: FEEDBACK[d] for d in INVOLVED})
    flow.complete("organise_coordination", {"coordination_mode": "召开协调会", "meeting_time": "2026-11-05T10:00"})
    flow.complete("send_meeting_notice", NOTICE)
    flow.advance_to(beijing("2026-11-05 10:00"), days=1)
    flow.complete("record_minutes", MINUTES)
    flow.complete("write_plan", {"plan_tasks": PLAN, "risk_plan": RISK_PLAN})
    flow.complete_each("approve_plan", {HEADS["PRD"]: AGREE, HEADS["SAL"]: AGREE})
    assert flow.assignees("execute_task") == ["qianyun", "songyu"]

    for owner, key, status, done, risk_note in PROGRESS:
        flow.advance(hours=3)
        _post(flow, owner, key, status, done, risk_note)
    _assert_kept_out(flow)

    # twenty more updates: twenty more rows, not a byte more of workflow
    size, state = _task_bytes(flow), json.dumps(_stored(flow))
    for n in range(20):
        _post(flow, "songyu", "T1", "进行中", f"第{n + 1}次更新：海报修改中")
    assert (_task_bytes(flow), json.dumps(_stored(flow))) == (size, state)
    assert len(flow.records("progress_update", as_user=AUDITOR)) == len(PROGRESS) + 20

    # a deliverable returned with its problem, then re-submitted and accepted
    flow.complete("execute_task", {**SUBMIT_WORK, "deliverable_summary": "海报3张（第一版）"}, assignee="songyu")
    flow.complete("accept_deliverable", {"acceptance_result": "退回修改", "acceptance_problem": PROBLEM})
    assert flow.form("execute_task", assignee="songyu")["acceptance_problem"] == PROBLEM  # data="true"
    flow.complete("execute_task", {**SUBMIT_WORK, "deliverable_summary": "海报3张，已加二维码"}, assignee="songyu")
    flow.complete("accept_deliverable", ACCEPT)
    finish_task(flow, "qianyun", "3款产品功能说明已交付")
    keys = _assert_kept_out(flow)
    # what the process routes on or shows later is still task data
    assert {"meeting_agenda", "meeting_attendees", "meeting_place", "plan_tasks", "work_outcome",
            "acceptance_result", "acceptance_problem", "dept_feedbacks"} <= keys

    flow.complete("archive_request", {"archive_complete": True, "archive_note": "已归档"}, as_user=PMO_OWNER)
    flow.complete("rate_satisfaction", RATING)
    flow.complete("retrospective", RETRO)
    flow.complete("distill_lessons", LESSON)
    assert flow.status == "completed"
    _assert_kept_out(flow)
    assert sorted(flow.data()["dept_feedbacks"]) == sorted(INVOLVED)

    # ... and every value is in the request's records, as its page lists them
    records = flow.records(as_user=AUDITOR)
    by_kind: dict[str, list[dict]] = {}
    for record in records:
        by_kind.setdefault(record["kind"], []).append(record)
    assert sorted((f["department_id"], f["content"], f["suggested_date"], f["resources"], f["remarks"])
                  for f in by_kind["feedback"]) == sorted(
        (d, *(FEEDBACK[d][k] for k in ("feedback_content", "feedback_suggested_date", "feedback_resources",
                                      "feedback_remarks"))) for d in INVOLVED)
    ((meeting,), (minutes,)) = by_kind["meeting"], by_kind["minutes"]
    assert (meeting["agenda"], meeting["place"], meeting["attendees"]) == tuple(NOTICE.values())
    assert (minutes["content"], minutes["conclusions"], minutes["meeting_id"]) == (*MINUTES.values(), meeting["id"])
    (plan,) = by_kind["plan"]
    assert (plan["risk_plan"], [(t["task_key"], t["title"]) for t in plan["tasks"]]) == (
        RISK_PLAN, [("T1", "物料设计"), ("T2", "功能说明")])
    posted = [(p["author"], p["plan_task_key"], p["status"], p["work_done"], p["risk_note"])
              for p in by_kind["progress_update"]]
    assert posted[:3] == PROGRESS
    assert posted[3:23] == [("songyu", "T1", "进行中", f"第{n + 1}次更新：海报修改中", "") for n in range(20)]
    assert [(p["author"], p["plan_task_key"], p["status"]) for p in by_kind["progress_update"][23:]] == [
        ("songyu", "T1", "已完成"), ("songyu", "T1", "已完成"), ("qianyun", "T2", "已完成")]  # from the forms
    assert [(d["plan_task_key"], d["note"]) for d in by_kind["deliverable"]] == [
        ("T1", "海报3张（第一版）"), ("T1", "海报3张，已加二维码"), ("T2", "3款产品功能说明已交付")]
    assert [(a["plan_task_key"], a["decision"], a["problem"]) for a in by_kind["acceptance"]] == [
        ("T1", "退回修改", PROBLEM), ("T1", "验收通过", ""), ("T2", "验收通过", "")]
    (retro,) = by_kind["retrospective"]
    assert (retro["goal"], retro["result"], retro["highlights"], retro["problems"], retro["improvements"],
            retro["departments"], retro["author"]) == (*list(RETRO.values())[1:], INVOLVED, LEAD)
    (rating,) = by_kind["satisfaction"]
    assert (rating["score"], rating["remark"], rating["author"]) == (*RATING.values(), REQUESTER)
    (lesson,) = by_kind["lesson"]
    assert (lesson["title"], lesson["body"], lesson["tags"]) == (LESSON["lesson_title"], LESSON["lesson_body"],
                                                                 ["大促", "素材"])


# ---------------------------------------------------------------- the `data` property at deploy

def _field(properties: str):
    node = etree.fromstring(f'<camunda:formField xmlns:camunda="{CAMUNDA_NS}" id="risk_plan" type="text">'
                            f'<camunda:properties><camunda:property id="record" value="plan"/>{properties}'
                            '</camunda:properties></camunda:formField>')
    return field_from_xml(node, CAMUNDA_NS)


def test_data_is_true_or_left_out():
    assert _field("")[1] == [] and _field('<camunda:property id="data" value="true"/>')[1] == []
    fld, problems = _field('<camunda:property id="data" value="yes"/>')
    assert fld.properties["data"] == "yes"
    assert problems == ["field 'risk_plan' has data 'yes' (write data=\"true\" to keep a record field in the task "
                        "data too, or leave the property out)"]


def test_a_diagram_with_another_data_value_is_refused(ctx):
    files = {p.name: p.read_bytes() for p in sorted((ROOT / "processes").glob("*.bpmn"))}
    main = "collaboration_request.bpmn"
    marked = b'<camunda:property id="record" value="plan"/>\n              <camunda:property id="data" value="true"/>'
    assert marked in files[main]
    files[main] = files[main].replace(marked, marked.replace(b'value="true"', b'value="false"'), 1)
    with pytest.raises(InvalidProcess) as refused:
        deploy(ctx, files, "lijingli")
    assert any("field 'plan_tasks' has data 'false'" in p.message for p in refused.value.problems)
