"""Filing requests: gap-free numbers per month, assignment through the organisation, substitutes."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.bootstrap import bootstrap
from engine.bpmn.deploy import deploy
from engine.config import EngineConfig
from engine.db.models import AuditEvent, Notification, RequestCounter
from engine.errors import FormInvalid, PermissionDenied
from engine.messages import Msg
from engine.org.directory import set_post
from engine.org.importer import import_org, parse_yaml
from engine.requests.request_view import RequestFilter, list_requests
from engine.requests.requests import submit_request
from engine.tasks.inbox import group_tasks, my_tasks
from engine.workflow.instances import complete_task, describe_instance
from tests.conftest import fixture_files

DEMO = Path(__file__).parents[2] / "demo" / "org.yaml"
PROCESS = "request_form"
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def org(ctx):
    import_org(ctx, parse_yaml(DEMO.read_text("utf-8")), "setup", bootstrap=True)
    deploy(ctx, fixture_files("request_form.bpmn"), "lijingli")
    return ctx


def _submit(ctx, user="xiaowang", **data):
    return submit_request(ctx, user, {"title": "618 大促协作", **data}, process_id=PROCESS)


def test_numbers_count_up_per_month_without_gaps(org, clock):
    # The clock reads 2026-09-30 09:00 UTC: 17:00 in Beijing, still September.
    keys = [describe_instance(org, _submit(org).instance_id)["business_key"] for _ in range(2)]
    with pytest.raises(FormInvalid) as err:
        submit_request(org, "xiaowang", {"urgency": "很急"}, process_id=PROCESS)
    assert err.value.errors == {"title": Msg("field.required"),
                                "urgency": Msg("field.not_option", given="很急", known=["普通", "紧急", "特急"])}
    assert err.value.field_texts() == {"title": "必填", "urgency": "请从选项中选择"}
    keys.append(describe_instance(org, _submit(org).instance_id)["business_key"])
    assert keys == ["XMBG-202609001", "XMBG-202609002", "XMBG-202609003"]  # the refused one took none
    clock.now = datetime(2026, 9, 30, 16, 0, tzinfo=UTC)  # 00:00 on 1 October in Beijing
    assert describe_instance(org, _submit(org).instance_id)["business_key"] == "XMBG-202610001"


def test_the_request_reaches_its_department_head_with_the_response_due(org):
    started = _submit(org, urgency="普通", involved_depts=["PRD", "SAL"])
    detail = describe_instance(org, started.instance_id)
    (task,) = detail["open_tasks"]
    assert task["assignee"] == "zhangzongjian"  # head of 市场部, 小王's department
    # 3 working days after Wed 30 Sep 17:00 Beijing: the National Day holiday (1-7 Oct) does not
    # count, Sat 10 Oct is a make-up working day, so the third is 10 Oct.
    assert task["due_at"] == "2026-10-10T09:00:00+00:00"
    data = detail["history"][0]["data"]["data"]
    assert data["requester"] == "xiaowang" and data["requester_dept"] == "MKT"
    assert data["request_no"] == detail["business_key"]
    assert data["involved_depts"] == ["PRD", "SAL"]

    with pytest.raises(PermissionDenied):
        complete_task(org, task["task_id"], "xiaowang", {"approved": True})
    complete_task(org, task["task_id"], "zhangzongjian", {"approved": True})
    with org.db.read() as s:
        sent = s.execute(select(Notification.recipient, Notification.kind, Notification.message)
                         .where(Notification.instance_id == started.instance_id, Notification.kind != "task")).all()
    assert sorted(n.recipient for n in sent) == ["xiaowang", "zhangzongjian"]  # superior, MKT's interface
    assert {(n.kind, n.message) for n in sent} == {("info", f"需求 {detail['business_key']} 已签字")}


def test_nobody_found_goes_to_the_platform_admins_with_an_audit_event(org):
    set_post(org, "MKT", "head", None, "lijingli")
    started = _submit(org)
    (task,) = describe_instance(org, started.instance_id)["open_tasks"]
    assert task["assignee"] is None and task["candidate_groups"] == ["platform_admins"]
    assert [t["task_id"] for t in group_tasks(org, "xiaozhou").items] == [task["task_id"]]
    types = [e["type"] for e in describe_instance(org, started.instance_id)["history"]]
    assert "assignment_fallback" in types


def test_a_substitute_acts_for_an_absent_head_only_while_the_absence_lasts(org, clock):
    # 陈总监 (产品部) is away 1-7 October; 赵经理 substitutes him (demo organisation).
    started = _submit(org, user="qianyun")
    (task,) = describe_instance(org, started.instance_id)["open_tasks"]
    assert task["assignee"] == "chenzongjian"
    assert my_tasks(org, "zhaojingli").total == 0  # 30 September: not yet
    with pytest.raises(PermissionDenied):
        complete_task(org, task["task_id"], "zhaojingli", {"approved": True})

    clock.now = datetime(2026, 10, 3, 2, 0, tzinfo=UTC)
    assert [t["task_id"] for t in my_tasks(org, "zhaojingli").items] == [task["task_id"]]
    assert my_tasks(org, "qianyun").total == 0
    with pytest.raises(PermissionDenied):
        complete_task(org, task["task_id"], "qianyun", {"approved": True})
    complete_task(org, task["task_id"], "zhaojingli", {"approved": True})
    with org.db.read() as s:
        done = s.execute(select(AuditEvent.actor, AuditEvent.data).where(
            AuditEvent.instance_id == started.instance_id, AuditEvent.event_type == "task_completed")).one()
    assert done.actor == "zhaojingli" and '"on_behalf_of": "chenzongjian"' in done.data

    clock.now += timedelta(days=5)  # 8 October: he is back
    second = _submit(org, user="qianyun")
    assert my_tasks(org, "zhaojingli").total == 0
    assert my_tasks(org, "chenzongjian").items[0]["instance_id"] == second.instance_id


def _submit_many(url: str, user: str, count: int, barrier, results) -> None:
    services = bootstrap(EngineConfig(database_url=url, clock=lambda: datetime(2026, 11, 21, 2, tzinfo=UTC)),
                         migrate=False)
    try:
        barrier.wait(60)
        keys = [submit_request(services, user, {"title": f"并发 {n}"}, process_id=PROCESS) for n in range(count)]
        results.put(("ok", [k.instance_id for k in keys]))
    except Exception as exc:
        results.put(("error", repr(exc)))
    finally:
        services.db.dispose()


def test_parallel_submitters_get_unique_consecutive_numbers(org, db_url):
    # 990 requests were filed this month already: the parallel ones cross the 999th and go on.
    with org.db.write() as s:
        s.add(RequestCounter(period="XMBG-202611", last_number=990))
    users, per_user = ["xiaowang", "songyu", "qianyun", "xuming"], 5
    barrier, results = SPAWN.Barrier(len(users)), SPAWN.Queue()
    procs = [SPAWN.Process(target=_submit_many, args=(db_url, u, per_user, barrier, results)) for u in users]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert [kind for kind, _ in outcomes] == ["ok"] * len(users), outcomes
    ids = [i for _, got in outcomes for i in got]
    keys = {describe_instance(org, i)["business_key"] for i in ids}
    assert keys == {f"XMBG-202611{n}" for n in range(991, 991 + len(users) * per_user)}
    # Filed within the same second (the clock stands still): newest first by the number's value.
    listed = list_requests(org, "wangzong", None, RequestFilter(scope="all"), per_page=50).items
    assert [r["request_no"] for r in listed] == [f"XMBG-202611{n}" for n in range(1010, 990, -1)]


def test_a_task_whose_expression_finds_nobody_in_a_lane_still_goes_to_the_admins(org):
    # dept_head_signoff sits in the lane 发起部门负责人; with no head set it must not go to a group
    # named after the lane (nobody is in it) but to the platform admins.
    processes = Path(__file__).parents[2] / "processes"
    deploy(org, {p.name: p.read_bytes() for p in processes.glob("*.bpmn")}, "lijingli")
    set_post(org, "MKT", "head", None, "lijingli")
    started = submit_request(org, "xiaowang", {
        "request_type": "项目协作", "title": "618 大促", "background": "提升转化", "goal": "销售额同比增长30%",
        "involved_depts": ["PRD", "SAL"], "details": "产品部：5月10日前提供功能说明", "expected_date": "2026-12-20",
        "priority": "高", "urgency": "普通", "contact": "8888"})
    (task,) = describe_instance(org, started.instance_id)["open_tasks"]
    assert task["element_id"] == "dept_head_signoff"
    assert (task["assignee"], task["candidate_groups"]) == (None, ["platform_admins"])
    assert "assignment_fallback" in [e["type"] for e in describe_instance(org, started.instance_id)["history"]]
