"""Step 6: archive, then the retrospective and the satisfaction rating in parallel, then lessons."""

from __future__ import annotations

import pytest

from engine.errors import FormInvalid
from engine.notify.jobs import scheduled_timers
from tests.scenarios.steps import HEADS, PMO_OWNER, REQUESTER, beijing, to_archive

LEAD = HEADS["MKT"]
RETRO = {"retro_participants": ["MKT", "PRD", "SAL"], "retro_goal": "销售额同比增长30%",
         "retro_result": "销售额同比增长35%，满意度92%", "retro_highlights": "协调会一次定分工",
         "retro_problems": "客户数据提供较晚", "retro_improvements": "数据需求提前10天提出"}
LESSON = {"lesson_title": "大促协作：数据需求提前10天提出", "lesson_body": "客户数据涉及保密审核，需预留时间",
          "lesson_tags": "大促,数据", "recognised_depts": ["PRD"]}


def test_archive_retrospective_satisfaction_and_lessons_complete_the_request(flow):
    to_archive(flow)
    archive = flow.task("archive_request")
    assert (archive["assignee"], archive["candidate_groups"]) == (None, ["platform_admins"])
    note = "申请表、方案、纪要、成果、验收报告已归档"
    flow.complete("archive_request", {"archive_complete": True, "archive_note": note}, as_user=PMO_OWNER)

    assert flow.open_elements() == ["rate_satisfaction", "retrospective"]
    assert flow.task("rate_satisfaction")["assignee"] == REQUESTER
    retro = flow.task("retrospective")
    assert (retro["assignee"], retro["due_at"]) == (LEAD, beijing("2026-11-09 09:00"))  # 5 working days

    for score in (0, 6):
        with pytest.raises(FormInvalid) as refused:
            flow.complete("rate_satisfaction", {"satisfaction": score})
        assert list(refused.value.errors) == ["satisfaction"]
    assert flow.completed_by("rate_satisfaction") == []
    assert flow.open_elements() == ["rate_satisfaction", "retrospective"]  # nothing changed

    flow.complete("rate_satisfaction", {"satisfaction": 5, "satisfaction_comment": "响应及时"})
    assert flow.open_elements() == ["retrospective"]  # the join waits for the retrospective
    flow.complete("retrospective", RETRO)
    lessons = flow.task("distill_lessons")
    assert lessons["candidate_groups"] == ["platform_admins"]
    # the admin reads the score and the retrospective from the request's records, not the task data
    shown = flow.form("distill_lessons")
    assert not {"satisfaction", "satisfaction_comment", *RETRO} & set(shown)
    (rating,) = flow.records("satisfaction", as_user=PMO_OWNER)
    (retro,) = flow.records("retrospective", as_user=PMO_OWNER)
    assert (rating["score"], rating["remark"], rating["author"]) == (5, "响应及时", REQUESTER)
    assert (retro["improvements"], retro["departments"], retro["author"]) == (
        "数据需求提前10天提出", RETRO["retro_participants"], LEAD)
    flow.complete("distill_lessons", LESSON)

    assert flow.status == "completed"
    assert flow.open_tasks() == []
    assert "request_closed" in flow.reached()
    assert "request_rejected" not in flow.reached()
    assert (flow.history()[-1]["type"], flow.history()[-1]["element_id"]) == ("instance_completed", "request_closed")
    data = flow.data()
    assert (data["archive_complete"], data["recognised_depts"]) == (True, ["PRD"])
    assert not {"satisfaction", "lesson_title", "lesson_body", "retro_goal"} & set(data)
    (lesson,) = flow.records("lesson")
    assert (lesson["title"], lesson["tags"], lesson["status"]) == (LESSON["lesson_title"], ["大促", "数据"], "proposed")
    assert [e["element_id"] for e in flow.history("task_completed")][-4:] == [
        "archive_request", "rate_satisfaction", "retrospective", "distill_lessons"]


def test_a_retrospective_not_held_within_5_working_days_is_urged(flow):
    to_archive(flow)  # Monday 2 November, 09:00
    flow.complete("archive_request", {"archive_complete": True, "archive_note": "已归档"})
    flow.complete("rate_satisfaction", {"satisfaction": 4})
    flow.notifications()
    # the admins' list of timers names the retrospective's; the join waiting beside it is none
    (listed,) = scheduled_timers(flow.ctx).items
    assert listed["timers"] == [{"element_id": "retro_timer", "name": "5个工作日未复盘",
                                 "due_at": "2026-11-09T01:00:00+00:00"}]  # 09:00 in Beijing

    flow.advance_to(beijing("2026-11-09 08:59"), days=1)
    assert flow.notifications() == []
    flow.advance(minutes=1)
    assert flow.notifications() == [
        (LEAD, "urge", "需求 XMBG-202611001 的协作复盘须在5个工作日内完成"),
        (PMO_OWNER, "escalation", "需求 XMBG-202611001 的协作复盘已超过5个工作日"),
    ]
    flow.complete("retrospective", RETRO)
    flow.complete("distill_lessons", LESSON)
    assert flow.status == "completed"
