"""The inbox page (its four tabs, filters, markers, claim and release) and the notifications page."""

from __future__ import annotations

import re

import pytest

from engine.org.directory import add_substitute, remove_substitute
from engine.tasks.operations import cc_task, urge_task
from tests.scenarios.driver import MONDAY, Flow
from tests.scenarios.steps import HEADS, PLAN, REQUEST, REQUESTER, REQUESTER_HEAD, beijing, to_execution
from tests.webui.conftest import csrf_of, sign_in


@pytest.fixture
def flow(ctx, clock):
    clock.now = MONDAY
    return Flow(ctx, clock)


def signed_in(app, user: str):
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    return client


def page(client, url: str) -> str:
    answer = client.get(url)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_data(as_text=True)


def tasks_on(html: str) -> list[str]:
    return re.findall(r'<tr data-task="([^"]+)"', html)


def nav_count(html: str, key: str) -> int:
    found = re.search(rf'data-nav="{key}">[^<]*(?:<span class="count">(\d+)</span>)?', html)
    assert found, f"no {key} in the navigation"
    return int(found.group(1) or 0)


def test_my_tasks_and_my_groups_tasks_are_shown_to_the_right_people(app, flow):
    flow.submit(REQUESTER, REQUEST)
    signoff = flow.task("dept_head_signoff")
    head = signed_in(app, REQUESTER_HEAD)
    html = page(head, "/inbox")
    assert tasks_on(html) == [signoff["task_id"]]
    assert "双十一大促跨部门协作" in html and "XMBG-202611001" in html and 'data-urgency="紧急"' in html
    assert f'href="/tasks/{signoff["task_id"]}"' in html
    assert nav_count(html, "inbox") == 1
    requester = signed_in(app, REQUESTER)
    assert tasks_on(page(requester, "/inbox")) == []  # not the requester's to do
    assert tasks_on(page(requester, "/inbox?tab=group")) == []

    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    review = flow.task("admin_review")
    assert tasks_on(page(head, "/inbox")) == []
    done = page(head, "/inbox?tab=done")
    assert tasks_on(done) == [signoff["task_id"]] and "发起部门负责人签批" in done
    admin = signed_in(app, "lijingli")
    offered = page(admin, "/inbox?tab=group")
    assert tasks_on(offered) == [review["task_id"]] and 'data-action="claim"' in offered
    assert tasks_on(page(admin, "/inbox")) == []
    assert nav_count(offered, "inbox") == 1


def test_a_group_task_is_claimed_and_released_through_the_page(app, flow):
    flow.submit(REQUESTER, REQUEST)
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    task_id = flow.task("admin_review")["task_id"]
    admin, other = signed_in(app, "lijingli"), signed_in(app, "xiaozhou")
    html = page(admin, "/inbox?tab=group")
    answer = admin.post(f"/inbox/tasks/{task_id}/claim", data={"csrf_token": csrf_of(html)})
    assert answer.status_code == 302 and answer.headers["Location"] == "/inbox?tab=mine"
    mine = page(admin, "/inbox")
    assert tasks_on(mine) == [task_id] and 'data-action="release"' in mine and "已认领任务" in mine
    theirs = page(other, "/inbox?tab=group")
    assert tasks_on(theirs) == []  # gone from the other admin's group list
    assert flow.task("admin_review")["assignee"] == "lijingli"

    # Someone else may not release it; a stranger may not claim it: as if it did not exist.
    assert other.post(f"/inbox/tasks/{task_id}/release", data={"csrf_token": csrf_of(theirs)}).status_code == 404
    stranger = signed_in(app, "songyu")
    html = page(stranger, "/inbox")
    assert admin.post(f"/inbox/tasks/{task_id}/release", data={}).status_code == 400  # no CSRF token
    answer = admin.post(f"/inbox/tasks/{task_id}/release", data={"csrf_token": csrf_of(mine)})
    assert answer.status_code == 302 and answer.headers["Location"] == "/inbox?tab=group"
    assert tasks_on(page(other, "/inbox?tab=group")) == [task_id]
    assert stranger.post(f"/inbox/tasks/{task_id}/claim", data={"csrf_token": csrf_of(html)}).status_code == 404
    assert flow.task("admin_review")["assignee"] is None


def test_filters_by_request_type_department_urgency_and_overdue(app, flow, clock):
    flow.submit(REQUESTER, REQUEST)  # 项目协作, 紧急 (24 h), 市场部 + 产品部 + 销售部
    urgent = flow.task("dept_head_signoff")["task_id"]
    flow.submit(REQUESTER, {**REQUEST, "request_type": "资源申请", "urgency": "特急", "title": "物流车辆支援",
                            "involved_depts": ["MKT", "LOG"]})
    critical = flow.task("dept_head_signoff")["task_id"]
    head = signed_in(app, REQUESTER_HEAD)
    assert set(tasks_on(page(head, "/inbox"))) == {urgent, critical}
    assert tasks_on(page(head, "/inbox?request_type=资源申请")) == [critical]
    assert tasks_on(page(head, "/inbox?urgency=紧急")) == [urgent]
    assert tasks_on(page(head, "/inbox?department=PRD")) == [urgent]  # involved
    assert tasks_on(page(head, "/inbox?department=LOG")) == [critical]
    assert set(tasks_on(page(head, "/inbox?department=MKT"))) == {urgent, critical}  # the requester's
    assert tasks_on(page(head, "/inbox?department=TEC")) == []
    assert tasks_on(page(head, "/inbox?request_type=项目协作&urgency=特急")) == []
    assert tasks_on(page(head, "/inbox?sort=due")) == [critical, urgent]  # 4 h before 24 h
    html = page(head, "/inbox?overdue=1")
    assert tasks_on(html) == [] and 'value="资源申请"' in html and 'value="LOG"' in html

    clock.advance(hours=5)  # the 4 hours of 特急 are over (and the idle session with them: sign in again)
    head = signed_in(app, REQUESTER_HEAD)
    html = page(head, "/inbox?overdue=1")
    assert tasks_on(html) == [critical] and 'data-marker="overdue"' in html
    assert html.count('data-marker="overdue"') == 1
    assert tasks_on(page(head, "/inbox?tab=mine&overdue=1&urgency=紧急")) == []


def test_paging_keeps_the_filters(app, flow):
    for n in range(21):
        flow.submit(REQUESTER, {**REQUEST, "title": f"需求 {n}"})
    head = signed_in(app, REQUESTER_HEAD)
    first = page(head, "/inbox?urgency=紧急")
    assert len(tasks_on(first)) == 20 and "第 1 / 2 页" in first
    assert 'href="/inbox?urgency=%E7%B4%A7%E6%80%A5&amp;page=2"' in first
    second = page(head, "/inbox?urgency=紧急&page=2")
    assert len(tasks_on(second)) == 1 and 'rel="prev"' in second
    assert head.get("/inbox?page=x").status_code == 400 and head.get("/inbox?page=0").status_code == 400


def test_copied_tasks_are_listed_and_marked_read(app, ctx, flow):
    flow.submit(REQUESTER, REQUEST)
    task_id = flow.task("dept_head_signoff")["task_id"]
    cc_task(ctx, task_id, REQUESTER, ["songyu"], "请知悉")
    reader = signed_in(app, "songyu")
    html = page(reader, "/inbox?tab=cc")
    assert f'data-task="{task_id}"' in html and "请知悉" in html and "小王" in html
    assert 'class="unread"' in html and 'data-action="cc-read"' in html
    cc_id = re.search(r'data-cc="(\d+)"', html).group(1)
    other = signed_in(app, "qianyun")
    theirs = page(other, "/inbox?tab=cc")
    assert "请知悉" not in theirs
    assert other.post(f"/inbox/cc/{cc_id}/read", data={"csrf_token": csrf_of(theirs)}).status_code == 404
    answer = reader.post(f"/inbox/cc/{cc_id}/read", data={"csrf_token": csrf_of(html)})
    assert answer.status_code == 302 and answer.headers["Location"] == "/inbox?tab=cc"
    html = page(reader, "/inbox?tab=cc")
    assert 'class="read"' in html and 'data-action="cc-read"' not in html


def test_a_request_with_red_warnings_is_marked(app, flow, clock):
    to_execution(flow)
    owner = PLAN[0]["owner"]
    own = signed_in(app, owner)
    html = page(own, "/inbox")
    assert len(tasks_on(html)) == 1 and 'data-marker="red"' not in html
    clock.now = beijing(f"{PLAN[0]['end']} 08:00")  # its planned end is less than 24 hours away
    own = signed_in(app, owner)  # days later: a new session
    html = page(own, "/inbox")
    assert 'data-marker="red"' in html and 'data-marker="overdue"' not in html
    clock.now = beijing(f"{PLAN[0]['end']} 17:00")  # the last planned day is not over yet
    own = signed_in(app, owner)  # hours later: a new session
    html = page(own, "/inbox")
    assert 'data-marker="red"' in html and 'data-marker="overdue"' not in html
    clock.now = beijing(f"{PLAN[0]['end']} 19:00")  # due at the end of that working day, 18:00
    html = page(own, "/inbox")
    assert 'data-marker="red"' in html and 'data-marker="overdue"' in html
    assert 'data-marker="red"' in page(signed_in(app, HEADS["MKT"]), "/inbox?tab=done")


def test_notifications_newest_first_with_badges_unread_count_and_mark_read(app, ctx, flow):
    flow.submit(REQUESTER, REQUEST)  # the requester is told the number
    urge_task(ctx, flow.task("dept_head_signoff")["task_id"], REQUESTER, "今天内请签批")
    head = signed_in(app, REQUESTER_HEAD)
    html = page(head, "/inbox")
    assert nav_count(html, "notifications") == 2  # the new task, then the urge
    html = page(head, "/notifications")
    assert 'data-kind="urge"' in html and "催办" in html and "今天内请签批" in html and 'class="unread"' in html
    assert html.index("今天内请签批") < html.index("新任务：发起部门负责人签批（需求 XMBG-202611001）")
    signoff = flow.task("dept_head_signoff")["task_id"]
    assert f'href="/tasks/{signoff}" data-link="task"' in html  # a notice of an open task opens it
    requester = signed_in(app, REQUESTER)
    mine = page(requester, "/notifications")
    assert "需求已提交，编号 XMBG-202611001" in mine and 'data-kind="info"' in mine and "今天内请签批" not in mine
    first = re.search(r'data-notification="(\d+)"', mine).group(1)

    # Only one's own: someone else's notification does not exist for them.
    assert head.post(f"/notifications/{first}/read", data={"csrf_token": csrf_of(html)}).status_code == 404
    assert "需求已提交" not in html
    answer = requester.post(f"/notifications/{first}/read", data={"csrf_token": csrf_of(mine), "page": "1"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/notifications?page=1"
    mine = page(requester, "/notifications")
    assert 'class="read"' in mine and nav_count(mine, "notifications") == 0
    assert "暂无通知" in page(requester, "/notifications?unread=1")

    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    urge_task(ctx, flow.task("admin_review")["task_id"], REQUESTER, "")
    admin = signed_in(app, "lijingli")
    html = page(admin, "/notifications")
    assert nav_count(html, "notifications") == 2  # the group's new task, then the urge
    answer = admin.post("/notifications/read-all", data={"csrf_token": csrf_of(html)})
    assert answer.status_code == 302
    assert nav_count(page(admin, "/notifications"), "notifications") == 0
    assert 'class="unread"' not in page(admin, "/notifications")


def test_the_notification_list_is_newest_first_and_paged(app, ctx, flow, clock):
    flow.submit(REQUESTER, REQUEST)
    task_id = flow.task("dept_head_signoff")["task_id"]
    for n in range(21):
        clock.advance(hours=1)
        urge_task(ctx, task_id, REQUESTER, f"第{n}次催办")
    head = signed_in(app, REQUESTER_HEAD)
    html = page(head, "/notifications")
    assert html.index("第20次催办") < html.index("第19次催办") and "第0次催办" not in html
    assert nav_count(html, "notifications") == 22 and "第 1 / 2 页" in html  # the new task, 21 urges
    assert "第0次催办" in page(head, "/notifications?page=2")


def test_the_pages_are_in_english_too(app, flow):
    flow.submit(REQUESTER, REQUEST)
    head = signed_in(app, REQUESTER_HEAD)
    html = page(head, "/inbox")
    head.post("/language/en", data={"csrf_token": csrf_of(html), "next": "/inbox"})
    english = page(head, "/inbox")
    assert "Copied to me" in english and "Urgent" in english and "Project collaboration" in english
    assert "Notifications" in page(head, "/notifications")


def test_a_notice_of_a_task_done_since_opens_its_request(app, flow):
    flow.submit(REQUESTER, REQUEST)
    signoff = flow.task("dept_head_signoff")["task_id"]
    head = signed_in(app, REQUESTER_HEAD)
    assert head.get(f"/tasks/{signoff}").status_code == 200
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    answer = head.get(f"/tasks/{signoff}")  # as an email of the notice links it
    assert answer.status_code == 302 and answer.headers["Location"] == f"/requests/{flow.instance_id}"
    # who finished it and when, in the reader's time zone
    assert "这项任务已由 张总监 于 11月2日 09:00 办结；以下是它所属的需求。" in page(head, answer.headers["Location"])
    stranger = signed_in(app, "wuqiang")  # told nothing of it: the task does not exist for them
    assert stranger.get(f"/tasks/{signoff}").status_code == 404


def test_a_notice_of_a_task_one_no_longer_takes_part_in_opens_the_inbox(app, ctx, flow, clock):
    """孙浩 (技术部, not in the request) stood in for the absent 张总监 and was told of the sign-off;
    the absence was cut short and 张总监 signed off himself: the notice's link opens the inbox."""
    absence = add_substitute(ctx, REQUESTER_HEAD, "sunhao", clock.now.date(), clock.now.date(), "出差", "lijingli")
    flow.submit(REQUESTER, REQUEST)
    signoff = flow.task("dept_head_signoff")["task_id"]
    sunhao = signed_in(app, "sunhao")
    assert f'href="/tasks/{signoff}"' in page(sunhao, "/notifications")
    remove_substitute(ctx, absence, "lijingli")
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    answer = sunhao.get(f"/tasks/{signoff}")
    assert answer.status_code == 302 and answer.headers["Location"] == "/inbox"
    assert "这项任务已经办结，或已由他人处理" in page(sunhao, "/inbox")
    assert sunhao.get(f"/requests/{flow.instance_id}").status_code == 404


def _notice_on(html: str, notification_id: str) -> str:
    found = re.search(rf'data-notification="{notification_id}".*?<span class="message">(.*?)</span>', html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_a_notice_reads_in_the_readers_language_and_one_from_before_codes_as_it_was_written(app, ctx, flow, clock):
    from engine.db.models import Notification

    flow.submit(REQUESTER, REQUEST)
    urge_task(ctx, flow.task("dept_head_signoff")["task_id"], REQUESTER, "今天内请签批")
    with ctx.db.write() as s:  # a row written before notices had codes: its message only
        s.add(Notification(recipient=REQUESTER_HEAD, kind="info", message="旧通知：请于周五前提交材料",
                           created_at=clock.now))
    head = signed_in(app, REQUESTER_HEAD)
    chinese = page(head, "/notifications")
    urged = re.search(r'data-notification="(\d+)" data-kind="urge"', chinese).group(1)
    old = re.search(r'data-notification="(\d+)" data-kind="info"', chinese).group(1)
    head.post("/language/en", data={"csrf_token": csrf_of(chinese), "next": "/notifications"})
    english = page(head, "/notifications")
    assert _notice_on(chinese, urged) == \
        "小王 催办任务「发起部门负责人签批」（需求 XMBG-202611001），请尽快处理：今天内请签批"
    assert _notice_on(english, urged) == ("小王 urges the task “Sign-off by the initiating department&#39;s head” "
                                          "(request XMBG-202611001): please see to it soon: 今天内请签批")
    assert _notice_on(chinese, old) == _notice_on(english, old) == "旧通知：请于周五前提交材料"
    with ctx.db.read() as s:  # one row, told in each reader's language
        row = s.get(Notification, int(urged))
        assert (row.code, row.message) == ("notice.urged_message", _notice_on(chinese, urged))
