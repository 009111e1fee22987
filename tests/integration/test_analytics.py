"""The dashboard's and the heat map's figures against a known set of requests, carried through the
engine services by the scenario driver on a hand-moved clock (no timer sweeps: the clock only
makes tasks take their time), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.analytics import figures as analytics
from engine.errors import InvalidInput, PermissionDenied
from engine.requests.records import post_progress, red_warnings, save_plan
from engine.workflow.instances import cancel_instance
from tests.scenarios.driver import MONDAY, Flow, set_up_org
from tests.scenarios.steps import (
    AGREE,
    HEADS,
    INTERFACES,
    PLAN,
    PMO_OWNER,
    REQUEST,
    REQUESTER,
    finish_task,
    to_execution,
    write_plan,
)

H = 3600
SIGNOFF = {"signoff_decision": "同意", "signoff_comment": "同意提交"}


def request_a(ctx, clock) -> Flow:
    """紧急, filed by 小王 (市场部) to 市场部, 产品部, 销售部; led by 市场部; 销售部 answers late; completed."""
    f = Flow(ctx, clock)
    f.submit(REQUESTER, REQUEST)
    clock.advance(hours=2)
    f.complete("dept_head_signoff", SIGNOFF)
    clock.advance(hours=3)
    f.complete("admin_review", {"review_decision": "通过", "review_comment": "可行"})
    clock.advance(hours=1)
    f.complete("dispatch_lead", {"lead_dept": "MKT", "pmo_owner": PMO_OWNER, "dispatch_note": "请牵头"},
               as_user=PMO_OWNER)
    clock.advance(hours=4)
    f.complete("lead_confirm", {"lead_decision": "确认接收"})
    clock.advance(hours=5)
    for dept in ("MKT", "PRD", "SAL"):
        if dept == "SAL":
            clock.advance(hours=25)
        f.complete("collect_feedback", {"feedback_content": f"{dept} 可按期配合",
                                        "feedback_suggested_date": "2026-11-10"}, assignee=INTERFACES[dept])
    f.complete("organise_coordination", {"coordination_mode": "在线讨论（不开会）"})
    write_plan(f)
    f.complete_each("approve_plan", {HEADS["PRD"]: AGREE, HEADS["SAL"]: AGREE})
    clock.advance(hours=10)
    finish_task(f, PLAN[0]["owner"])
    clock.advance(hours=20)
    finish_task(f, PLAN[1]["owner"])
    f.complete("archive_request", {"archive_complete": True, "archive_note": "已归档"}, as_user=PMO_OWNER)
    f.complete("rate_satisfaction", {"satisfaction": 4})
    f.complete("retrospective", {"retro_participants": ["MKT", "PRD", "SAL"], "retro_goal": "目标",
                                 "retro_result": "结果", "retro_highlights": "亮点", "retro_problems": "问题",
                                 "retro_improvements": "改进"})
    f.complete("distill_lessons", {"lesson_title": "经验", "lesson_body": "内容", "lesson_tags": "协作",
                                   "recognised_depts": ["PRD"]})
    assert f.status == "completed"
    return f


def request_b(ctx, clock) -> Flow:
    """普通, rejected at review after 2 hours."""
    f = Flow(ctx, clock)
    f.submit(REQUESTER, {**REQUEST, "urgency": "普通", "title": "被拒绝的需求"})
    clock.advance(hours=1)
    f.complete("dept_head_signoff", SIGNOFF)
    clock.advance(hours=2)
    f.complete("admin_review", {"review_decision": "拒绝", "review_comment": "不可行"})
    assert f.status == "completed"
    return f


def request_c(ctx, clock) -> Flow:
    """特急, reviewed late (5 h against 4 h), dispatched to 市场部, whose head has not confirmed for 30 h."""
    f = Flow(ctx, clock)
    f.submit(REQUESTER, {**REQUEST, "urgency": "特急", "title": "未确认的需求"})
    clock.advance(hours=1)
    f.complete("dept_head_signoff", SIGNOFF)
    clock.advance(hours=5)
    f.complete("admin_review", {"review_decision": "通过", "review_comment": "可行"})
    clock.advance(hours=1)
    f.complete("dispatch_lead", {"lead_dept": "MKT", "pmo_owner": PMO_OWNER, "dispatch_note": "请牵头"},
               as_user=PMO_OWNER)
    clock.advance(hours=30)
    return f


@pytest.fixture
def known(ctx, clock):
    clock.now = MONDAY
    set_up_org(ctx)
    flows = request_a(ctx, clock), request_b(ctx, clock), request_c(ctx, clock)
    assert analytics.refresh(ctx) == 3
    return flows


def test_dashboard_figures_match_the_known_requests(ctx, known):
    p = analytics.period(ctx)
    assert analytics.open_overdue(ctx, "lijingli") == [
        {"department_id": "MKT", "department": "市场部", "open": 1, "overdue": 1}]  # C's lead_confirm is late

    steps = {s["step"]: (s["requests"], s["avg_seconds"], s["p90_seconds"])
             for s in analytics.step_times(ctx, "lijingli", p)}
    assert steps == {
        1: (3, 4800.0, 2 * H),  # sign-offs of A, B, C: 2 h, 1 h, 1 h
        2: (2, 18000.0, 8 * H),  # A: review to confirmation 8 h; B: review 2 h; C still in step 2
        3: (1, 30.0 * H, 30 * H),  # A: feedback ready to the plan approved
        4: (1, 30.0 * H, 30 * H),  # A: execution, both tasks ready at once, the second delivered after 30 h
        5: (1, 20.0 * H, 20 * H),  # A: first acceptance task ready 10 h in, last accepted 30 h in
        6: (1, 0.0, 0),
    }

    # Tasks with a due time: A's sign-off, review, confirmation, 3 feedbacks (销售部's 30 h against 24 h),
    # plan, 2 approvals, 2 executions, retrospective; B's sign-off and review; C's sign-off and late review.
    assert analytics.sla(ctx, "lijingli", p) == [
        {"urgency": "特急", "due": 2, "on_time": 1, "late": 1, "rate": 50.0},
        {"urgency": "紧急", "due": 12, "on_time": 11, "late": 1, "rate": 91.7},
        {"urgency": "普通", "due": 2, "on_time": 2, "late": 0, "rate": 100.0},
    ]
    assert analytics.satisfaction(ctx, "lijingli", p) == [{"month": "2026-11", "ratings": 1, "average": 4.0}]

    matrix = {(m["from_id"], m["to_id"]): (m["requests"], m["answers"], m["avg_seconds"])
              for m in analytics.matrix(ctx, "lijingli", p)}
    assert matrix == {("MKT", "MKT"): (3, 1, 5.0 * H), ("MKT", "PRD"): (3, 1, 5.0 * H),
                      ("MKT", "SAL"): (3, 1, 30.0 * H)}
    assert analytics.red(ctx, "lijingli") == []


def test_heat_map_figures_and_flows_taken(ctx, known):
    p = analytics.period(ctx)
    heat = analytics.heatmap(ctx, "lijingli", "collaboration_request", None, p)
    tasks = {e: (t["count"], t["avg_seconds"], t["p90_seconds"]) for e, t in heat["tasks"].items()}
    assert tasks == {
        "dept_head_signoff": (3, 4800.0, 2 * H),
        "admin_review": (3, 10.0 / 3 * H, 5 * H),  # 3 h, 2 h, 5 h
        "dispatch_lead": (2, 1.0 * H, H),
        "lead_confirm": (1, 4.0 * H, 4 * H),  # C's is still open
        "collect_feedback": (3, 40.0 / 3 * H, 30 * H),  # 5 h, 5 h, 30 h
        "organise_coordination": (1, 0.0, 0), "write_plan": (1, 0.0, 0), "approve_plan": (2, 0.0, 0),
        "execute_task": (2, 20.0 * H, 30 * H), "accept_deliverable": (2, 0.0, 0),
        "archive_request": (1, 0.0, 0), "rate_satisfaction": (1, 0.0, 0), "retrospective": (1, 0.0, 0),
        "distill_lessons": (1, 0.0, 0),
    }
    assert heat["tasks"]["admin_review"]["avg_hours"] == 3.33
    flows = heat["flows"]
    # Every request: start -> register -> merge -> sign-off -> gateway (approved) -> review.
    for fid in ("f_submit", "f_register", "f_to_signoff", "f_signoff", "f_signoff_ok", "f_review"):
        assert flows[fid] == 3, fid
    assert (flows["f_review_pass"], flows["f_review_reject"], flows["f_rejected"]) == (2, 1, 1)
    assert (flows["f_to_dispatch"], flows["f_dispatch"]) == (2, 2)
    assert flows["f_confirm"] == 1 and "f_object" not in flows  # C waits at lead_confirm
    # A's plan ran two tasks in the multi-instance subprocess: each took its own way through it,
    # the subprocess was entered and left once.
    for fid in ("f_task_start", "f_task_started", "f_to_execute", "f_executed", "f_submitted", "f_accepted_check",
                "f_accepted", "f_task_done"):
        assert flows[fid] == 2, fid
    assert (flows["f_all_agree"], flows["f_executed_all"], flows["f_archived"]) == (1, 1, 1)
    assert "f_returned" not in flows and "f_blocked" not in flows
    assert set(flows) <= set(heat["flow_names"])


def test_scope_of_heads_admins_auditors_and_others(ctx, known):
    p = analytics.period(ctx)
    as_admin = analytics.dashboard(ctx, "lijingli", p)
    assert analytics.dashboard(ctx, "shenjie", p) | {"scope": None} == as_admin | {"scope": None}  # the auditor
    as_prd = analytics.dashboard(ctx, "chenzongjian", p)  # 产品部 is involved in all three
    assert as_prd["scope"] == ["PRD"]
    assert {k: v for k, v in as_prd.items() if k != "scope"} == {k: v for k, v in as_admin.items() if k != "scope"}
    as_log = analytics.dashboard(ctx, "zhoujingli", p)  # 物流部 is in none of them
    assert as_log["open_overdue"] == [] and as_log["matrix"] == [] and as_log["sla"] == []
    assert [s["requests"] for s in as_log["step_times"]] == [0] * 6
    assert analytics.heatmap(ctx, "zhoujingli", "collaboration_request", None, p)["tasks"] == {}
    assert analytics.heatmap(ctx, "zhoujingli", "collaboration_request", None, p)["flows"] == {}
    for user in ("xiaowang", "songyu", "nobody"):
        with pytest.raises(PermissionDenied):
            analytics.dashboard(ctx, user, p)
        assert not analytics.may_see_dashboard(ctx, user)


def test_periods_count_what_ended_inside_them(ctx, known, clock):
    before = analytics.period(ctx, "2026-10-01", "2026-10-31")
    assert analytics.sla(ctx, "lijingli", before) == []
    assert [s["requests"] for s in analytics.step_times(ctx, "lijingli", before)] == [0] * 6
    assert analytics.heatmap(ctx, "lijingli", "collaboration_request", 1, before)["flows"] == {}
    first_day = analytics.period(ctx, "2026-11-02", "2026-11-02")  # Beijing: A filed at 09:00, feedback at 24:00
    heat = analytics.heatmap(ctx, "lijingli", "collaboration_request", 1, first_day)
    assert {e: t["count"] for e, t in heat["tasks"].items()} == {
        "dept_head_signoff": 1, "admin_review": 1, "dispatch_lead": 1, "lead_confirm": 1}
    bad_periods = ((("2026-13-01", None), "from"), ((None, "yesterday"), "to"), (("2026-11-05", "2026-11-01"), "from"))
    for bad, where in bad_periods:
        with pytest.raises(InvalidInput) as refused:
            analytics.period(ctx, *bad)
        assert str(refused.value).startswith(where)


def test_refresh_is_incremental_and_idempotent(ctx, known, clock):
    assert analytics.refresh(ctx) == 0  # nothing moved
    c = known[2]
    c.complete("lead_confirm", {"lead_decision": "确认接收"})
    assert analytics.refresh(ctx) == 1  # only C's chain moved
    p = analytics.period(ctx)
    assert analytics.open_overdue(ctx, "lijingli") == [
        {"department_id": "MKT", "department": "市场部", "open": 1, "overdue": 0}]  # feedback just opened
    heat = analytics.heatmap(ctx, "lijingli", "collaboration_request", None, p)
    assert heat["tasks"]["lead_confirm"]["count"] == 2
    assert heat["flows"]["f_confirm"] == 2 and heat["flows"]["f_confirmed"] == 2
    assert analytics.refresh(ctx) == 0


def test_red_warnings_are_those_of_each_running_request(ctx, clock):
    clock.now = MONDAY
    set_up_org(ctx)
    f = Flow(ctx, clock)
    to_execution(f)
    post_progress(ctx, f.instance_id, "songyu", plan_task_key="T1", status="进行中", work_done="设计中", risk=True,
                  risk_note="素材未到")
    post_progress(ctx, f.instance_id, "qianyun", plan_task_key="T2", status="待支持", work_done="等数据")
    clock.advance(days=2)
    analytics.refresh(ctx)
    expected = red_warnings(ctx, f.instance_id)
    found = analytics.red(ctx, "lijingli")
    assert [(r["task_key"], r["reasons"]) for r in found] == [(r["task_key"], r["reasons"]) for r in expected] == [
        ("T1", ["risk", "stale"]), ("T2", ["needs_support"])]
    assert found[0]["request_no"] == "XMBG-202611001" and found[0]["owner_name"] == "宋雨"
    clock.advance(days=16)  # 物料设计 ends 20 November: within 24 hours of its end it is red for the deadline too
    assert [r["reasons"] for r in analytics.red(ctx, "lijingli")] == [r["reasons"] for r in red_warnings(
        ctx, f.instance_id)] == [["risk", "deadline", "stale"], ["needs_support"]]
    assert analytics.red(ctx, "zhoujingli") == []  # 物流部's head: not theirs
    assert len(analytics.red(ctx, "huangjingli")) == 2  # 销售部 is involved


def test_workbook_keeps_typed_text_as_text():
    from io import BytesIO

    from openpyxl import load_workbook

    content = analytics.workbook([("表", ["部门", "数"], [["=cmd()", 3], ["市场部", None]])])
    ws = load_workbook(BytesIO(content)).active
    assert (ws.title, ws["A1"].value, ws["A2"].value, ws["A2"].data_type, ws["B2"].value) == (
        "表", "部门", "=cmd()", "s", 3)


def test_period_defaults_to_the_last_90_days(ctx, clock):
    clock.now = MONDAY + timedelta(hours=20)  # Tuesday 05:00 in Beijing
    p = analytics.period(ctx)
    assert (p.first.isoformat(), p.last.isoformat()) == ("2026-08-06", "2026-11-03")  # 90 days, both ends in


def test_a_timer_that_fires_takes_its_flows_to_where_it_ends(ctx, known, clock):
    c = known[2]
    assert "lead_confirm_timer" not in c.timers_fired()
    c.advance(hours=1)  # the sweep: C's lead_confirm waited more than 24 hours
    assert "lead_confirm_timer" in c.timers_fired()
    analytics.refresh(ctx)
    flows = analytics.heatmap(ctx, "lijingli", "collaboration_request", None, analytics.period(ctx))["flows"]
    assert (flows["f_confirm_timeout"], flows["f_confirm_reminded"]) == (1, 1)
    assert flows["f_confirm"] == 1  # A's; C's head has still not confirmed


def test_the_dashboard_refreshes_lazily_once_a_minute_and_only_when_the_log_grew(ctx, known, clock):
    from datetime import UTC, datetime

    assert analytics.refresh_if_stale(ctx) is False  # refreshed a moment ago (by the fixture)
    minute_ago = datetime.now(UTC) - timedelta(minutes=2)
    newest = analytics._REFRESHED[ctx.db][1]
    analytics._REFRESHED[ctx.db] = (minute_ago, newest)
    assert analytics.refresh_if_stale(ctx) is False  # nothing was written since
    known[2].complete("lead_confirm", {"lead_decision": "确认接收"})
    assert analytics.refresh_if_stale(ctx) is False  # within the minute
    analytics._REFRESHED[ctx.db] = (minute_ago, newest)
    assert analytics.refresh_if_stale(ctx) is True
    assert analytics.open_overdue(ctx, "lijingli")[0]["overdue"] == 0


def test_red_warnings_follow_progress_revisions_time_and_closing(ctx, clock):
    """The red warnings the refresh derives agree with records.red_warnings at every moment: as
    progress is posted and the plan revised (after a refresh), as deadlines come near and updates grow
    old (with no refresh: time alone), at the edges of 24 hours, and none once the request closed."""
    clock.now = MONDAY
    set_up_org(ctx)
    f = Flow(ctx, clock)
    to_execution(f)
    iid = f.instance_id

    def red(refresh: bool = False) -> list[tuple[str, list[str]]]:
        if refresh:
            analytics.refresh(ctx)
        found = [(r["task_key"], r["reasons"]) for r in analytics.red(ctx, "lijingli")]
        assert found == [(r["task_key"], r["reasons"]) for r in red_warnings(ctx, iid)]
        return found

    assert red(refresh=True) == []
    post_progress(ctx, iid, "songyu", plan_task_key="T1", status="进行中", work_done="设计中", risk=True,
                  risk_note="素材未到")
    assert analytics.red(ctx, "lijingli") == []  # not refreshed yet
    assert red(refresh=True) == [("T1", ["risk"])]
    post_progress(ctx, iid, "songyu", plan_task_key="T1", status="进行中", work_done="素材已到")
    posted = clock.now
    assert red(refresh=True) == []
    clock.now = posted + timedelta(hours=24)
    assert red() == []  # exactly 24 hours old
    clock.now = posted + timedelta(hours=24, microseconds=1)
    assert red() == [("T1", ["stale"])]
    # T2 (功能说明) ends 27 November: at 18:00 in Beijing, the end of that working day, 10:00 UTC.
    clock.now = datetime(2026, 11, 26, 9, 59, 59, 999999, tzinfo=UTC)
    assert red() == [("T1", ["deadline", "stale"])]
    clock.now = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert red() == [("T1", ["deadline", "stale"]), ("T2", ["deadline"])]
    later = [{"task_key": key, "title": t["title"], "department_id": t["dept"], "owner": t["owner"],
              "planned_start": t["start"], "planned_end": end, "delivery_standard": t["standard"]}
             for key, t, end in (("T1", PLAN[0], PLAN[0]["end"]), ("T2", PLAN[1], "2026-12-15"))]
    save_plan(ctx, iid, "zhangzongjian", tasks=later, risk_plan="顺延", lead_department="MKT")
    assert red(refresh=True) == [("T1", ["deadline", "stale"])]  # T2 now ends 15 December
    post_progress(ctx, iid, "songyu", plan_task_key="T1", status="已完成", work_done="已交付")
    post_progress(ctx, iid, "qianyun", plan_task_key="T2", status="待支持", work_done="等数据")
    assert red(refresh=True) == [("T2", ["needs_support"])]
    assert [r["request_no"] for r in analytics.red(ctx, "chenzongjian")] == ["XMBG-202611001"]  # 产品部's head
    assert analytics.red(ctx, "zhoujingli") == []
    cancel_instance(ctx, iid, "lijingli", "不再需要")
    assert len(analytics.red(ctx, "lijingli")) == 1  # until the refresh reads the chain
    analytics.refresh(ctx)
    assert analytics.red(ctx, "lijingli") == []


def _from_rows(monkeypatch, run):
    """What `run` returns when every figure is counted from the task and flow rows, not the summaries."""
    with monkeypatch.context() as m:
        m.setattr(analytics.Scope, "summary", property(lambda self: None))
        return run()


def test_day_summaries_give_the_figures_of_the_rows(ctx, known, clock, monkeypatch):
    """Heat map and SLA figures from the per-day summaries equal those counted from the task rows,
    for every request and for one department's head, also after a refresh that moved spans,
    departments and flows (C confirmed by 市场部, a timer fired on the way)."""
    def figures():
        out = {}
        for user in ("lijingli", "chenzongjian", "zhangzongjian", "zhoujingli"):
            for p in (analytics.period(ctx), analytics.period(ctx, "2026-11-02", "2026-11-02"),
                      analytics.period(ctx, "2026-11-03", "2026-11-10")):
                out[(user, p.first)] = (analytics.sla(ctx, user, p), analytics.heatmap(
                    ctx, user, "collaboration_request", None, p))
        return out

    summed = figures()
    assert summed == _from_rows(monkeypatch, figures)
    first = analytics.period(ctx).first
    assert summed[("chenzongjian", first)] == summed[("lijingli", first)]  # 产品部 is in all three
    assert summed[("zhoujingli", first)][1]["tasks"] == {} and summed[("zhoujingli", first)][0] == []
    c = known[2]
    c.advance(hours=1)  # C's lead_confirm timer fires
    c.complete("lead_confirm", {"lead_decision": "确认接收"})
    clock.advance(hours=3)
    c.complete_each("collect_feedback", {INTERFACES[d]: {"feedback_content": "可以", "feedback_suggested_date":
                                                         "2026-11-10"} for d in ("MKT", "PRD", "SAL")})
    assert analytics.refresh(ctx) == 1
    summed = figures()
    assert summed == _from_rows(monkeypatch, figures)
    admin = summed[("lijingli", analytics.period(ctx).first)]
    assert admin[1]["tasks"]["collect_feedback"]["count"] == 6 and admin[1]["flows"]["f_confirm"] == 2
    assert sum(s["due"] for s in admin[0]) > 16
