"""A command reads the organisation once, and still sees every change made before it or by itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from engine.org.directory import directory, set_post
from engine.org.scope import org_snapshot
from engine.workflow.instances import complete_task
from tests.db_trips import DatabaseTrips
from tests.scenarios.steps import HEADS, REQUEST, REQUESTER, admins, to_lead_confirm, today

NEW_HEAD = "songyu"  # of MKT, instead of zhangzongjian


@pytest.fixture
def revision_reads(ctx):
    """The statements that read the organisation's revision, counted as the driver sends them (the
    reads on the command path's cursor too)."""
    trips = DatabaseTrips(ctx.db.engine)
    yield trips.statements(lambda s: "FROM revision" in s and s.lstrip().upper().startswith("SELECT"))
    trips.close()


def test_a_collaboration_command_reads_the_organisation_once(flow, revision_reads):
    to_lead_confirm(flow)
    flow.complete("lead_confirm", {"lead_decision": "确认接收"})
    suggested = (today(flow) + timedelta(days=8)).isoformat()
    feedback = {"feedback_content": "可按期配合", "feedback_suggested_date": suggested}
    for task in flow.tasks("collect_feedback"):  # the last one opens the lead's organising of the talks
        revision_reads.clear()
        complete_task(flow.ctx, task["task_id"], flow.actor(task), feedback)
        assert len(revision_reads) <= 1, revision_reads


def test_a_new_department_head_is_asked_by_the_next_request(flow):
    flow.submit(REQUESTER, REQUEST)
    assert flow.assignees("dept_head_signoff") == [HEADS["MKT"]]
    flow.clock.advance(minutes=5)  # a post's term starts after the first request's task was given
    set_post(flow.ctx, "MKT", "head", NEW_HEAD, admins(flow.ctx)[0])
    flow.submit(REQUESTER, REQUEST)
    assert flow.assignees("dept_head_signoff") == [NEW_HEAD]


def test_a_change_of_the_organisation_ends_the_snapshot_of_its_own_command(flow, revision_reads):
    with org_snapshot(flow.ctx):
        assert directory(flow.ctx).head("MKT") == HEADS["MKT"]
        assert directory(flow.ctx).head("MKT") == HEADS["MKT"] and len(revision_reads) == 1
        flow.clock.advance(minutes=5)
        set_post(flow.ctx, "MKT", "head", NEW_HEAD, admins(flow.ctx)[0])
        assert directory(flow.ctx).head("MKT") == NEW_HEAD
    revision_reads.clear()
    assert directory(flow.ctx).head("MKT") == NEW_HEAD and len(revision_reads) == 1  # outside: read each time


def test_a_collaboration_command_reads_the_organisation_and_calendar_on_its_own_connection(flow):
    """The revision and the working calendar are read in the command's transaction: one pooled
    connection per command, where each used to take one more per read."""
    checkouts: list[object] = []

    def count(*_args):
        checkouts.append(1)
    to_lead_confirm(flow)
    (task,) = flow.tasks("lead_confirm")
    event.listen(flow.ctx.db.engine, "checkout", count)
    try:  # the lead's confirmation opens the departments' feedback tasks, due in working days
        complete_task(flow.ctx, task["task_id"], flow.actor(task), {"lead_decision": "确认接收"})
        assert len(checkouts) == 1, len(checkouts)
    finally:
        event.remove(flow.ctx.db.engine, "checkout", count)
