"""What the collaboration diagrams accept: texts of bounded length, departments and people that exist,
dates a person can keep. Each refusal names the field and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.db.models import AuditEvent, ProcessInstance
from engine.errors import FormInvalid
from engine.messages import Msg
from engine.requests.requests import submit_request
from tests.scenarios.steps import PLAN, REQUEST, REQUESTER, RISK_PLAN, to_plan


def _counts(ctx) -> tuple[int, int]:
    with ctx.db.read() as s:
        return s.scalar(select(func.count()).select_from(ProcessInstance)), \
            s.scalar(select(func.count()).select_from(AuditEvent))


def _refused(ctx, data: dict) -> dict:
    before = _counts(ctx)
    with pytest.raises(FormInvalid) as err:
        submit_request(ctx, REQUESTER, {**REQUEST, **data})
    assert _counts(ctx) == before  # nothing stored, no number taken
    return err.value.errors


def test_a_request_is_refused_field_by_field_and_nothing_is_stored(flow, org):
    # The clock reads Monday 2 November 2026 in Beijing.
    assert _refused(org, {"background": "背景" * 7_500_000}) == {"background": Msg("field.too_long", most=20000)}
    assert _refused(org, {"involved_depts": ["PRD", "NOPE"]}) == {
        "involved_depts": Msg("field.not_department", given="NOPE")}
    early = _refused(org, {"expected_date": "2026-11-01"})
    assert early == {"expected_date": Msg("field.before_today", day="2026-11-02")}
    assert (str(early["expected_date"]), early["expected_date"].text("en")) == (
        "不能早于今天（2026-11-02）", "Cannot be before today (2 Nov 2026)")
    flow.submit(REQUESTER, {**REQUEST, "expected_date": "2026-11-02"})  # today is still possible
    assert flow.describe()["business_key"] == "XMBG-202611001"


def test_a_plan_keeps_to_today_and_the_requests_deadline_unless_it_says_why(flow):
    to_plan(flow)  # expected completion: 2026-12-20
    task = flow.task("write_plan")

    def refused(plan: list[dict], **more) -> dict:
        with pytest.raises(FormInvalid) as err:
            flow.complete("write_plan", {"plan_tasks": plan, "risk_plan": RISK_PLAN, **more})
        assert flow.task("write_plan")["task_id"] == task["task_id"]  # still open, nothing written
        return err.value.errors

    late = [{**PLAN[0], "end": "2026-12-31"}, PLAN[1]]
    def cell(column: str, problem: Msg) -> dict:
        return {"plan_tasks": Msg("field.row_cell", row=1, column=column, problem=problem)}

    assert refused([{**PLAN[0], "start": "2026-10-30"}, PLAN[1]]) == cell(
        "计划开始", Msg("field.before_today", day="2026-11-02"))
    assert refused([{**PLAN[0], "end": "2026-11-08"}, PLAN[1]]) == cell(
        "计划完成", Msg("field.before_field", field="计划开始", day="2026-11-09"))
    why = "晚于期望完成时间的原因（有任务计划完成晚于期望完成时间时填写）"  # the field's label
    too_late = refused(late)
    assert too_late == cell("计划完成", Msg("field.late_unless", reason_field=why, problem=Msg(
        "field.after_field", field="期望完成时间", day="2026-12-20")))
    assert str(too_late["plan_tasks"]) == \
        f"第 1 行，计划完成：不能晚于“期望完成时间”（2026-12-20）；确需晚于时，请填写“{why}”"
    assert refused([{**PLAN[0], "owner": "shenjie"}, PLAN[1]]) == cell(
        "责任人", Msg("field.not_worker", given="shenjie"))
    flow.complete("write_plan", {"plan_tasks": late, "risk_plan": RISK_PLAN, "plan_late_reason": "海报需等待新品定稿"})
    assert flow.assignees("approve_plan") == ["chenzongjian", "huangjingli"]
