"""Operations on a task: transfer, delegate and hand back, copy, urge, withdraw; done-by-me and a task's history.

The demo request: 小王 (xiaowang, 市场部) files it; 张总监 (zhangzongjian), head of 市场部, signs
it off; then the platform admins (李经理 lijingli, 周晓 xiaozhou) review it as a group task.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from engine.audit.replay import replay_check
from engine.audit.verify import verify_all
from engine.bpmn.deploy import deploy
from engine.db.models import AppUser, GroupMembership, Notification
from engine.errors import InvalidInput, NotFound, PermissionDenied, TaskNotReady
from engine.org.directory import add_substitute, bump_revision, set_post
from engine.requests.records import add_comment, list_records
from engine.requests.requests import submit_request
from engine.tasks.inbox import group_tasks, my_tasks
from engine.tasks.operations import (
    cc_list,
    cc_task,
    delegate_task,
    mark_cc_read,
    resolve_delegation,
    transfer_task,
    urge_task,
    withdraw_request,
)
from engine.tasks.reads import done_by, task_history
from engine.workflow.instances import (
    claim_task,
    complete_task,
    describe_instance,
    release_task,
    start_instance,
    task_form,
)
from tests.conftest import fixture_files
from tests.helpers import assert_reload_matches, said
from tests.scenarios.driver import MONDAY, set_up_org
from tests.scenarios.steps import REQUEST

SIGNOFF = {"signoff_decision": "同意", "signoff_comment": "同意提交"}
HEAD, REQUESTER = "zhangzongjian", "xiaowang"
KEY = "XMBG-202611001"
LABEL = f"「发起部门负责人签批」（需求 {KEY}）"
NOBODY = {"assignee": None, "delegated_by": None}


@pytest.fixture
def org(ctx, clock):
    clock.now = MONDAY
    set_up_org(ctx)
    yield ctx
    assert verify_all(ctx)["problems"] == []


def _file(ctx) -> tuple[str, str]:
    """File the demo request as 小王: (instance id, id of the sign-off task 张总监 holds)."""
    instance_id = submit_request(ctx, REQUESTER, REQUEST).instance_id
    (task,) = describe_instance(ctx, instance_id)["open_tasks"]
    assert (task["element_id"], task["assignee"]) == ("dept_head_signoff", HEAD)
    return instance_id, task["task_id"]


def _to_review(ctx) -> tuple[str, str]:
    """Filed and signed off: (instance id, id of the review task offered to the platform admins)."""
    instance_id, signoff = _file(ctx)
    complete_task(ctx, signoff, HEAD, SIGNOFF)
    (task,) = describe_instance(ctx, instance_id)["open_tasks"]
    assert (task["element_id"], task["candidate_groups"]) == ("admin_review", ["platform_admins"])
    return instance_id, task["task_id"]


def _mine(ctx, user: str) -> list[str]:
    return [t["task_id"] for t in my_tasks(ctx, user).items]


def _offered(ctx, user: str) -> list[str]:
    return [t["task_id"] for t in group_tasks(ctx, user).items]


def _events(ctx, instance_id: str, kind: str) -> list[dict]:
    return [e for e in describe_instance(ctx, instance_id)["history"] if e["type"] == kind]


def _notes(ctx, instance_id: str, kind: str | None = None) -> list[tuple]:
    with ctx.db.read() as s:
        q = select(Notification.recipient, Notification.kind, Notification.message, Notification.task_id).where(
            Notification.instance_id == instance_id).order_by(Notification.id)
        rows = s.execute(q).all()
    return [tuple(r) for r in rows if kind is None or r.kind == kind]


def test_transfer_gives_the_task_to_another_user_and_records_who_had_it(org):
    instance_id, task_id = _file(org)
    transfer_task(org, task_id, HEAD, "songyu", "出差一周，请宋雨代为签批")
    assert_reload_matches(org, instance_id)  # the workflow stays cached under the new lock version
    assert _mine(org, HEAD) == [] and _mine(org, "songyu") == [task_id]
    (event,) = _events(org, instance_id, "task_transferred")
    assert (event["actor"], event["element_id"], event["task_id"]) == (HEAD, "dept_head_signoff", task_id)
    assert event["at"] == MONDAY.isoformat()
    assert event["data"] == {"from": HEAD, "to": "songyu", "reason": "出差一周，请宋雨代为签批",
                             "before": {**NOBODY, "assignee": HEAD}, "after": {**NOBODY, "assignee": "songyu"}}
    assert _notes(org, instance_id)[-1] == ("songyu", "info", f"张总监 将任务{LABEL}转办给你：出差一周，请宋雨代为签批",
                                            task_id)

    with pytest.raises(PermissionDenied):
        complete_task(org, task_id, HEAD, SIGNOFF)  # not theirs any more
    with pytest.raises(PermissionDenied) as refused:
        transfer_task(org, task_id, REQUESTER, "songyu", "想换人")
    assert said(refused) == ("task.not_yours", {"user": REQUESTER, "task": task_id})
    assert str(refused.value) == "用户 xiaowang 不能处理此任务"
    add_comment(org, instance_id, "songyu", "收到，今天处理")  # the new holder is one of the request's people
    complete_task(org, task_id, "songyu", SIGNOFF)
    assert_reload_matches(org, instance_id)
    assert [t["element_id"] for t in describe_instance(org, instance_id)["open_tasks"]] == ["admin_review"]


def test_a_transfer_needs_a_reason_and_an_active_user_other_than_the_holder(org):
    instance_id, task_id = _file(org)
    with org.db.write() as s:
        s.execute(update(AppUser).where(AppUser.id == "xuming").values(active=False))
    for to_user, reason, code, params, text in [
            ("songyu", "  ", "text.required", {"what": {"code": "what.transfer_reason", "params": {}}},
             "请填写转办原因"),
            ("nobody", "请处理", "user.unknown", {"user": "nobody"}, "用户 nobody 不存在"),
            ("xuming", "请处理", "user.inactive", {"user": "xuming"}, "用户 xuming 已停用"),
            (HEAD, "请处理", "task.hand_to_holder", {"user": HEAD}, "任务已经由 zhangzongjian 处理")]:
        with pytest.raises(InvalidInput) as refused:
            transfer_task(org, task_id, HEAD, to_user, reason)
        assert (said(refused), str(refused.value)) == ((code, params), text)
    assert _mine(org, HEAD) == [task_id]
    assert _events(org, instance_id, "task_transferred") == []


def test_a_transferred_group_task_leaves_every_group_list(org):
    instance_id, task_id = _to_review(org)
    assert _offered(org, "xiaozhou") == [task_id] and _offered(org, "lijingli") == [task_id]
    transfer_task(org, task_id, "xiaozhou", "lijingli", "李经理熟悉该项目")
    assert _offered(org, "xiaozhou") == [] and _offered(org, "lijingli") == []
    assert _mine(org, "lijingli") == [task_id] and _mine(org, "xiaozhou") == []
    (event,) = _events(org, instance_id, "task_transferred")
    assert (event["data"]["from"], event["data"]["before"], event["data"]["after"]) == (
        "xiaozhou", NOBODY, {**NOBODY, "assignee": "lijingli"})
    release_task(org, task_id, "lijingli")  # back to the group it was offered to
    assert _offered(org, "xiaozhou") == [task_id]


def test_a_substitute_transfers_for_the_absent_head_who_is_told(org):
    add_substitute(org, HEAD, "songyu", date(2026, 11, 2), date(2026, 11, 6), "出差", HEAD)
    instance_id, task_id = _file(org)
    transfer_task(org, task_id, "songyu", "wangzong", "请王总签批")
    (event,) = _events(org, instance_id, "task_transferred")
    assert (event["actor"], event["data"]["from"], event["data"]["on_behalf_of"]) == ("songyu", HEAD, HEAD)
    assert _notes(org, instance_id)[-2:] == [
        ("wangzong", "info", f"宋雨 将任务{LABEL}转办给你：请王总签批", task_id),
        (HEAD, "info", f"你的代理人 宋雨 已将任务{LABEL}转办给 王总：请王总签批", task_id)]
    assert _mine(org, "songyu") == [] and _mine(org, "wangzong") == [task_id]


def test_delegation_comes_back_to_the_delegator_who_completes_the_task(org):
    instance_id, task_id = _file(org)
    delegate_task(org, task_id, HEAD, "songyu", "请先核对预算")
    assert _mine(org, HEAD) == []
    (row,) = my_tasks(org, "songyu").items
    assert (row["task_id"], row["assignee"], row["delegated_by"]) == (task_id, "songyu", HEAD)
    assert task_form(org, task_id, "songyu")["data"]["title"] == REQUEST["title"]  # the delegate sees the form
    for user in ("songyu", HEAD):
        with pytest.raises(TaskNotReady) as refused:
            complete_task(org, task_id, user, SIGNOFF)
        assert said(refused) == ("task.delegated", {"task": task_id, "delegator": HEAD, "user": "songyu"})
    with pytest.raises(TaskNotReady):
        release_task(org, task_id, "songyu")
    with pytest.raises(TaskNotReady):
        transfer_task(org, task_id, "songyu", "xiaowang", "转给小王")
    with pytest.raises(TaskNotReady):
        delegate_task(org, task_id, "songyu", "xiaowang", "再委派")
    with pytest.raises(PermissionDenied) as refused:
        resolve_delegation(org, task_id, HEAD, "收回")
    assert said(refused) == ("task.only_delegate", {"user": "songyu"})
    assert refused.value.text("en") == "Only songyu, to whom the task is delegated, may hand it back"

    resolve_delegation(org, task_id, "songyu", "预算已核对，无问题")
    (row,) = my_tasks(org, HEAD).items
    assert (row["task_id"], row["delegated_by"]) == (task_id, None)
    assert _mine(org, "songyu") == []
    delegated, resolved = _events(org, instance_id, "task_delegated") + _events(org, instance_id,
                                                                                "delegation_resolved")
    assert (delegated["actor"], delegated["data"]) == (HEAD, {
        "from": HEAD, "to": "songyu", "reason": "请先核对预算",
        "before": {**NOBODY, "assignee": HEAD}, "after": {"assignee": "songyu", "delegated_by": HEAD}})
    assert (resolved["actor"], resolved["data"]) == ("songyu", {
        "from": "songyu", "to": HEAD, "comment": "预算已核对，无问题",
        "before": {"assignee": "songyu", "delegated_by": HEAD}, "after": {**NOBODY, "assignee": HEAD}})
    assert _notes(org, instance_id)[-2:] == [
        ("songyu", "info", f"张总监 将任务{LABEL}委派给你，处理后请交回：请先核对预算", task_id),
        (HEAD, "info", f"宋雨 已处理你委派的任务{LABEL}，请办理：预算已核对，无问题", task_id)]

    with pytest.raises(InvalidInput) as refused:
        resolve_delegation(org, task_id, HEAD, "")
    assert said(refused) == ("task.not_delegated", {})
    complete_task(org, task_id, HEAD, SIGNOFF)
    assert_reload_matches(org, instance_id)
    assert [(e["actor"], e["element_id"]) for e in _events(org, instance_id, "task_completed")] == [
        (HEAD, "dept_head_signoff")]


def test_a_group_task_is_claimed_before_it_is_delegated(org):
    _, task_id = _to_review(org)
    with pytest.raises(InvalidInput) as refused:
        delegate_task(org, task_id, "xiaozhou", "songyu", "请协助")
    assert (said(refused), str(refused.value)) == (("task.delegate_group", {}), "这是组任务，请先认领再委派")
    claim_task(org, task_id, "xiaozhou")
    delegate_task(org, task_id, "xiaozhou", "songyu", "请先核对材料")
    assert _mine(org, "songyu") == [task_id] and _offered(org, "lijingli") == []
    resolve_delegation(org, task_id, "songyu")
    assert _mine(org, "xiaozhou") == [task_id]


def test_copies_reach_their_recipients_who_mark_them_read(org, clock):
    instance_id, task_id = _file(org)
    with pytest.raises(PermissionDenied):
        cc_task(org, task_id, "wangzong", ["xiaozhou"], "看看")  # neither on the task nor its requester
    for to, code, params in [([], "cc.nobody", {}), ([HEAD], "cc.self", {}),
                             (["xiaozhou", "nobody"], "user.unknown", {"user": "nobody"})]:
        with pytest.raises(InvalidInput) as refused:
            cc_task(org, task_id, HEAD, to, "")
        assert said(refused) == (code, params)
    assert str(refused.value) == "用户 nobody 不存在"

    with pytest.raises(PermissionDenied):
        list_records(org, instance_id, "songyu")
    cc_task(org, task_id, HEAD, ["xiaozhou", "songyu", "xiaozhou"], "请知悉预算")
    assert [r["kind"] for r in list_records(org, instance_id, "songyu")] == []  # a copy lets them read
    with pytest.raises(PermissionDenied):
        add_comment(org, instance_id, "songyu", "我也说两句")  # ... not write
    clock.advance(minutes=5)
    cc_task(org, task_id, REQUESTER, "xiaozhou")  # the requester may copy it too
    assert _mine(org, HEAD) == [task_id] and _mine(org, "xiaozhou") == []  # nobody's inbox changed
    (event, again) = _events(org, instance_id, "task_copied")
    assert (event["actor"], event["task_id"], event["data"]) == (HEAD, task_id, {
        "to": ["xiaozhou", "songyu"], "note": "请知悉预算",
        "before": {**NOBODY, "assignee": HEAD}, "after": {**NOBODY, "assignee": HEAD}})
    assert again["data"]["to"] == ["xiaozhou"]
    assert _notes(org, instance_id)[-3:] == [
        ("xiaozhou", "info", f"张总监 抄送给你：任务{LABEL}：请知悉预算", task_id),
        ("songyu", "info", f"张总监 抄送给你：任务{LABEL}：请知悉预算", task_id),
        ("xiaozhou", "info", f"小王 抄送给你：任务{LABEL}", task_id)]

    page = cc_list(org, "xiaozhou")
    assert page.total == 2
    newest, oldest = page.items
    assert (newest["from_user"], newest["note"], newest["read_at"]) == (REQUESTER, "", None)
    assert (oldest["from_user"], oldest["business_key"], oldest["task_name"], oldest["element_id"]) == (
        HEAD, KEY, "发起部门负责人签批", "dept_head_signoff")
    assert cc_list(org, "xiaozhou", per_page=1, page=2).items == [oldest]

    with pytest.raises(PermissionDenied):
        mark_cc_read(org, oldest["id"], "songyu")
    with pytest.raises(NotFound):
        mark_cc_read(org, 999999, "xiaozhou")
    read = mark_cc_read(org, oldest["id"], "xiaozhou")
    assert read["read_at"] == clock.now.isoformat()
    clock.advance(hours=1)
    assert mark_cc_read(org, oldest["id"], "xiaozhou")["read_at"] == read["read_at"]  # the first read counts
    assert [c["id"] for c in cc_list(org, "xiaozhou", unread_only=True).items] == [newest["id"]]
    assert cc_list(org, "songyu", unread_only=True).total == 1


def test_urging_is_for_the_requester_and_the_admins_once_an_hour(org, clock):
    instance_id, task_id = _file(org)
    with pytest.raises(PermissionDenied) as refused:
        urge_task(org, task_id, "songyu", "快点")
    assert said(refused) == ("urge.not_requester", {"user": REQUESTER})
    urge_task(org, task_id, REQUESTER, "活动临近，请今天签批")
    assert _notes(org, instance_id, "urge") == [
        (HEAD, "urge", f"小王 催办任务{LABEL}，请尽快处理：活动临近，请今天签批", task_id)]
    clock.advance(minutes=59)
    with pytest.raises(InvalidInput) as refused:
        urge_task(org, task_id, REQUESTER)
    assert said(refused) == ("urge.too_soon", {"at": MONDAY.isoformat(),
                                               "again": (MONDAY + timedelta(hours=1)).isoformat()})
    assert str(refused.value) == "已于 2026-11-02 09:00 催办，2026-11-02 10:00 起可再次催办"
    urge_task(org, task_id, "xiaozhou")  # each urger has their own hour
    clock.advance(minutes=1)
    urge_task(org, task_id, REQUESTER)
    events = _events(org, instance_id, "task_urged")
    assert [(e["actor"], e["at"]) for e in events] == [
        (REQUESTER, MONDAY.isoformat()), ("xiaozhou", (MONDAY + timedelta(minutes=59)).isoformat()),
        (REQUESTER, (MONDAY + timedelta(hours=1)).isoformat())]
    assert events[0]["data"] == {"to": [HEAD], "message": "活动临近，请今天签批",
                                 "before": {**NOBODY, "assignee": HEAD}, "after": {**NOBODY, "assignee": HEAD}}
    assert _mine(org, HEAD) == [task_id]
    assert_reload_matches(org, instance_id)


def test_an_urge_reaches_the_members_of_a_group_and_the_substitute_of_an_assignee(org):
    instance_id, task_id = _to_review(org)
    urge_task(org, task_id, REQUESTER)
    assert sorted(n[0] for n in _notes(org, instance_id, "urge")) == ["lijingli", "xiaozhou"]
    urge_task(org, task_id, "lijingli")  # an admin urging the admins: the others only
    assert [n[0] for n in _notes(org, instance_id, "urge")][2:] == ["xiaozhou"]

    add_substitute(org, HEAD, "songyu", date(2026, 11, 2), date(2026, 11, 6), "出差", HEAD)
    second, signoff = _file(org)
    urge_task(org, signoff, REQUESTER)
    assert [n[0] for n in _notes(org, second, "urge")] == [HEAD, "songyu"]


def test_the_requester_withdraws_before_anyone_acted(org):
    instance_id, task_id = _file(org)
    urge_task(org, task_id, "xiaozhou")  # an urge is not acting on the request
    with pytest.raises(PermissionDenied) as refused:
        withdraw_request(org, instance_id, HEAD, "不需要了")
    assert said(refused) == ("withdraw.not_requester", {"user": REQUESTER, "request": KEY})
    with pytest.raises(InvalidInput) as refused:
        withdraw_request(org, instance_id, REQUESTER, "")
    assert said(refused) == ("text.required", {"what": {"code": "what.withdraw_reason", "params": {}}})
    result = withdraw_request(org, instance_id, REQUESTER, "需求已由其他渠道解决")
    assert result.status == "cancelled"
    assert_reload_matches(org, instance_id)
    detail = describe_instance(org, instance_id)
    assert (detail["status"], detail["open_tasks"]) == ("cancelled", [])
    assert _mine(org, HEAD) == []
    types = [e["type"] for e in detail["history"]]
    assert types[-1] == "request_withdrawn" and types.index("task_cancelled") > types.index("task_urged")
    event = detail["history"][-1]
    assert (event["actor"], event["data"]) == (REQUESTER, {
        "reason": "需求已由其他渠道解决", "before": {"status": "running"}, "after": {"status": "cancelled"}})
    assert _notes(org, instance_id, "info")[-1] == (
        HEAD, "info", f"需求 {KEY} 已由发起人 小王 撤回：需求已由其他渠道解决", None)
    with pytest.raises(InvalidInput) as refused:
        withdraw_request(org, instance_id, REQUESTER, "再撤一次")
    assert said(refused) == ("request.ended", {"request": KEY,
                                               "status": {"code": "status.cancelled", "params": {}}})
    assert str(refused.value) == f"需求 {KEY} 已结束（已取消）"


EVENTS = {"complete": "task_completed", "claim": "task_claimed", "transfer": "task_transferred",
          "comment": "comment_added"}


@pytest.mark.parametrize("act", list(EVENTS))
def test_withdrawal_is_refused_once_someone_else_acted(org, act):
    if act == "claim":  # no head in 市场部: the sign-off goes to the platform admins as a group task
        set_post(org, "MKT", "head", None, "lijingli")
        instance_id = submit_request(org, REQUESTER, REQUEST).instance_id
        (task,) = describe_instance(org, instance_id)["open_tasks"]
        claim_task(org, task["task_id"], "xiaozhou")
        who = "xiaozhou"
    else:
        instance_id, task_id = _file(org)
        who = HEAD
        if act == "complete":
            complete_task(org, task_id, HEAD, {"signoff_decision": "退回", "signoff_comment": "请补充目标"})
            assert _mine(org, REQUESTER) != []  # returned to the requester: the head has acted all the same
        elif act == "transfer":
            transfer_task(org, task_id, HEAD, "songyu", "请宋雨处理")
        else:
            add_comment(org, instance_id, HEAD, "预算是否已批？")
    with pytest.raises(InvalidInput) as refused:
        withdraw_request(org, instance_id, REQUESTER, "不需要了")
    assert said(refused) == ("withdraw.acted", {"request": KEY, "user": who, "event": EVENTS[act],
                                                "at": MONDAY.isoformat()})
    assert str(refused.value) == f"需求 {KEY} 已有人处理（{who}，2026-11-02 09:00），不能撤回"
    assert describe_instance(org, instance_id)["status"] == "running"
    assert _events(org, instance_id, "request_withdrawn") == []


def test_done_by_lists_completed_tasks_newest_first(org, clock):
    first, signoff = _file(org)
    complete_task(org, signoff, HEAD, SIGNOFF)
    clock.advance(hours=2)
    second, other = _file(org)
    complete_task(org, other, HEAD, SIGNOFF)
    (review,) = describe_instance(org, second)["open_tasks"]
    complete_task(org, review["task_id"], "xiaozhou", {"review_decision": "通过", "review_comment": "可行"})
    assert_reload_matches(org, second)

    page = done_by(org, HEAD)
    assert page.total == 2
    assert [(d["business_key"], d["task_id"], d["name"], d["element_id"]) for d in page.items] == [
        ("XMBG-202611002", other, "发起部门负责人签批", "dept_head_signoff"),
        (KEY, signoff, "发起部门负责人签批", "dept_head_signoff")]
    newest = page.items[0]
    assert (newest["instance_id"], newest["title"], newest["completed_at"], newest["on_behalf_of"]) == (
        second, REQUEST["title"], clock.now.isoformat(), None)
    assert [d["task_id"] for d in done_by(org, HEAD, page=2, per_page=1).items] == [signoff]
    (mine,) = done_by(org, "xiaozhou").items
    assert (mine["name"], mine["business_key"]) == ("审核需求完整性与可行性", "XMBG-202611002")
    assert done_by(org, REQUESTER).total == 0
    with pytest.raises(InvalidInput):
        done_by(org, HEAD, page=0)


def test_task_history_tells_every_operation_on_one_task_in_order(org, clock):
    instance_id, task_id = _file(org)
    urge_task(org, task_id, REQUESTER)
    clock.advance(minutes=10)
    delegate_task(org, task_id, HEAD, "songyu", "请核对")
    cc_task(org, task_id, "songyu", ["xiaozhou"], "请知悉")
    resolve_delegation(org, task_id, "songyu", "已核对")
    complete_task(org, task_id, HEAD, SIGNOFF)

    history = task_history(org, task_id)
    assert [(e["type"], e["actor"]) for e in history] == [
        ("task_ready", "system"), ("task_urged", REQUESTER), ("task_delegated", HEAD), ("task_copied", "songyu"),
        ("delegation_resolved", "songyu"), ("task_completed", HEAD)]
    assert {e["element_id"] for e in history} == {"dept_head_signoff"}
    assert history[1]["at"] == MONDAY.isoformat() and history[2]["at"] == clock.now.isoformat()
    assert history[2]["data"]["after"] == {"assignee": "songyu", "delegated_by": HEAD}
    assert task_history(org, task_id, instance_id) == history
    with pytest.raises(NotFound):
        task_history(org, "00000000-0000-0000-0000-000000000000")
    with pytest.raises(TaskNotReady):  # closed: no operation applies any more
        urge_task(org, task_id, REQUESTER)


# ---------------------------------------------------------------------------------- auditors act on nothing
AUDITOR = "shenjie"  # 沈洁, the demo organisation's auditor


def test_no_task_can_be_handed_to_an_auditor(org):
    _instance, task = _file(org)
    for hand in (transfer_task, delegate_task):
        with pytest.raises(InvalidInput) as refused:
            hand(org, task, HEAD, AUDITOR, "请审计处理")
        assert said(refused) == ("task.hand_to_auditor", {"user": AUDITOR})
    assert task_history(org, task)[-1]["type"] == "task_ready"  # nothing was recorded
    assert _mine(org, AUDITOR) == []


def test_an_auditor_acts_on_no_task_and_files_nothing(org):
    instance_id, review = _to_review(org)
    with pytest.raises(PermissionDenied) as refused:
        submit_request(org, AUDITOR, REQUEST)
    assert said(refused) == ("auditor.read_only", {"user": AUDITOR})
    for act in (lambda: claim_task(org, review, AUDITOR), lambda: complete_task(org, review, AUDITOR, {}),
                lambda: urge_task(org, review, AUDITOR), lambda: cc_task(org, review, AUDITOR, [REQUESTER]),
                lambda: withdraw_request(org, instance_id, AUDITOR, "审计撤回"),
                lambda: add_comment(org, instance_id, AUDITOR, "审计意见")):
        with pytest.raises(PermissionDenied):
            act()
    # Made an admin too, the auditor still changes nothing: the stricter role wins.
    with org.db.write() as s:
        s.add(GroupMembership(user_id=AUDITOR, group_name="platform_admins"))
        bump_revision(s, org.now(), "lijingli")
    with pytest.raises(PermissionDenied) as refused:
        claim_task(org, review, AUDITOR)
    assert said(refused) == ("auditor.read_only", {"user": AUDITOR})
    assert str(refused.value) == "用户 shenjie 是审计员：审计员只查看、不更改"
    assert [e["type"] for e in describe_instance(org, instance_id)["history"]][-1] == "task_ready"


def test_a_diagram_naming_an_auditor_passes_them_over(org):
    deploy(org, fixture_files("named_people.bpmn"), "lijingli")
    alone = start_instance(org, "named_people", REQUESTER, {"owner": AUDITOR, "others": []})
    (task,) = describe_instance(org, alone.instance_id)["open_tasks"]
    assert task["assignee"] is None and task["candidate_groups"] == ["platform_admins"]
    events = {e["type"]: e["data"] for e in describe_instance(org, alone.instance_id)["history"]}
    assert events["task_ready"]["auditors_passed_over"] == [AUDITOR]
    assert events["assignment_fallback"] == {"group": "platform_admins"}

    shared = start_instance(org, "named_people", REQUESTER, {"owner": None, "others": [AUDITOR, "songyu"]})
    (task,) = describe_instance(org, shared.instance_id)["open_tasks"]
    assert (task["assignee"], task["candidate_users"]) == (None, ["songyu"])
    assert replay_check(org, [alone.instance_id, shared.instance_id])["mismatches"] == []
