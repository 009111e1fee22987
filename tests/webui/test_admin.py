"""The admin area: platform admins change the organisation, users, absences, the working calendar and
the review of lessons; auditors read it all and change nothing; everyone else is refused.

The demo organisation is loaded (lijingli and xiaozhou are platform admins, shenjie the auditor); the
clock reads 2026-09-30.
"""

from __future__ import annotations

import io
import re

import pytest

from engine.knowledge.lessons import list_entries, propose_lesson, search
from engine.org.calendar import list_days
from engine.org.directory import directory, list_absences, post_history
from tests.webui.conftest import PASSWORD, csrf_of, sign_in

PAGES = ["/admin/", "/admin/org", "/admin/org/MKT", "/admin/users", "/admin/users/xiaowang", "/admin/absences",
         "/admin/calendar", "/admin/knowledge"]
GOOD_YAML = """\
departments:
  - {id: QA, name: 质量部, parent: GM, head: zhouqing, interface: zhaolei}
users:
  - {id: zhouqing, name: 周青, department: QA, superior: wangzong}
  - {id: zhaolei, name: 赵磊, department: QA, superior: zhouqing}
"""
BAD_YAML = GOOD_YAML.replace("department: QA, superior: zhouqing", "department: QAX, superior: zhouqing")


def _signed_in(app, user: str):
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    return client


def _token(client, url: str = "/admin/") -> str:
    return csrf_of(client.get(url).get_data(as_text=True))


def _text(answer) -> str:
    return answer.get_data(as_text=True)


def _field_error(html: str, field: str) -> str:
    """The error shown next to a form field (data-field) of the page."""
    found = re.search(rf'data-field="{field}"(?:(?!data-field=).)*?<p class="error"[^>]*>([^<]+)</p>', html, re.S)
    assert found, f"no error next to the field {field}"
    return found.group(1)


@pytest.mark.parametrize("user", ["lijingli", "xiaozhou", "shenjie", "xiaowang", "zhangzongjian"])
def test_admins_use_the_area_auditors_read_it_and_everyone_else_is_refused(app, ctx, user):
    lesson = propose_lesson(ctx, title="会前发议程", body="协调会至少提前 24 小时发出议程。", user="xiaowang")
    client = _signed_in(app, user)
    nav = _text(client.get("/inbox"))
    may_read, may_change = user in ("lijingli", "xiaozhou", "shenjie"), user in ("lijingli", "xiaozhou")
    assert ('data-nav="admin"' in nav) is may_read
    for url in PAGES:
        answer = client.get(url)
        assert answer.status_code == (200 if may_read else 403), url
        if may_read and url not in ("/admin/", "/admin/users"):  # an auditor's pages have no changing form
            assert ('method="post" action="/admin' in _text(answer)) is may_change, url
    token = csrf_of(nav)
    answer = client.post("/admin/calendar", data={"csrf_token": token, "day": "2026-10-09", "kind": "rest"})
    assert answer.status_code == (302 if may_change else 403)
    assert [d["day"] for d in list_days(ctx, 2026)] == (["2026-10-09"] if may_change else [])
    answer = client.post(f"/admin/knowledge/{lesson}/review", data={"csrf_token": token, "decision": "approve"})
    assert answer.status_code == (302 if may_change else 403)
    assert list_entries(ctx)[0]["status"] == ("approved" if may_change else "proposed")


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    answer = client.get("/admin/users")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_an_org_file_with_a_problem_is_shown_located_and_nothing_is_imported_until_it_is_fixed(app, ctx):
    client = _signed_in(app, "lijingli")
    token = _token(client, "/admin/org")
    for language, problem in (("zh-CN", "质量部.yaml users[2]：部门“QAX”不存在"),
                              ("en", "质量部.yaml users[2]: department &#39;QAX&#39; does not exist")):
        bad = client.post("/admin/org/import", data={"csrf_token": token, "org_file": (
            io.BytesIO(BAD_YAML.encode()), "质量部.yaml")}, content_type="multipart/form-data",
            headers={"Accept-Language": language})
        assert bad.status_code == 422
        assert re.findall(r'<li class="error">([^<]+)</li>', _text(bad)) == [problem]
    assert "QA" not in directory(ctx).departments and "zhouqing" not in directory(ctx).users
    good = client.post("/admin/org/import", data={"csrf_token": token, "org_file": (io.BytesIO(GOOD_YAML.encode()),
                                                                                   "质量部.yaml")},
                       content_type="multipart/form-data")
    assert good.status_code == 302
    page = _text(client.get("/admin/org"))
    assert "已导入：1 个部门，2 名人员，2 处岗位变更，0 条代理安排。" in page
    assert re.search(r'data-dept="QA">.*?质量部.*?data-post="head">周青.*?data-post="interface">赵磊', page, re.S)


def test_the_two_csv_files_are_imported_and_a_wrong_upload_is_named_at_its_field(app, ctx):
    client = _signed_in(app, "xiaozhou")
    token = _token(client, "/admin/org")
    nothing = client.post("/admin/org/import", data={"csrf_token": token}, content_type="multipart/form-data")
    assert nothing.status_code == 400 and "请选择一个 YAML 文件" in _field_error(_text(nothing), "org_file")
    both = client.post("/admin/org/import", data={
        "csrf_token": token, "org_file": (io.BytesIO(GOOD_YAML.encode()), "org.yaml"),
        "users_file": (io.BytesIO(b"id,name\n"), "users.csv")}, content_type="multipart/form-data")
    assert both.status_code == 400 and "二选一" in _field_error(_text(both), "org_file")
    not_text = client.post("/admin/org/import", data={
        "csrf_token": token, "users_file": (io.BytesIO("id,name\nx,名\n".encode("gbk")), "users.csv")},
        content_type="multipart/form-data")
    assert not_text.status_code == 400 and "UTF-8" in _field_error(_text(not_text), "users_file")
    departments = "id,name,parent,head,interface\nQA,质量部,GM,,\n"
    users = "id,name,department,superior,email,phone,roles,groups\nzhouqing,周青,QA,wangzong,,,auditor,\n"
    done = client.post("/admin/org/import", data={
        "csrf_token": token, "departments_file": (io.BytesIO(departments.encode("utf-8-sig")), "部门.csv"),
        "users_file": (io.BytesIO(users.encode()), "人员.csv")}, content_type="multipart/form-data")
    assert done.status_code == 302
    org = directory(ctx)
    assert org.departments["QA"]["name"] == "质量部" and org.groups["zhouqing"] == {"auditors"}


def test_a_post_changes_hands_and_its_history_is_kept(app, ctx):
    client = _signed_in(app, "lijingli")
    token = _token(client, "/admin/org/MKT")
    moved = client.post("/admin/org/MKT/post", data={"csrf_token": token, "post": "interface", "user_id": "songyu"})
    assert moved.status_code == 302
    assert directory(ctx).interface_person("MKT") == "songyu"
    page = _text(client.get("/admin/org/MKT"))
    assert "宋雨 现为 市场部 的对接人。" in page
    history = re.search(r'data-history="interface">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr><td>([^<]+)</td><td>[^<]+</td><td>([^<]+)</td><td>(.*?)</td></tr>", history)
    rows = [(who, until, re.sub(r"<[^>]+>", "", by)) for who, until, by in rows]
    # newest first, Beijing time; the import ran from the command line as "setup", no account
    assert rows == [("宋雨", "至今", "李经理"), ("小王", "9月30日 17:00", "命令行 setup")]
    vacated = client.post("/admin/org/MKT/post", data={"csrf_token": token, "post": "interface", "user_id": ""})
    assert vacated.status_code == 302 and directory(ctx).interface_person("MKT") is None
    unknown = client.post("/admin/org/MKT/post", data={"csrf_token": token, "post": "head", "user_id": "nobody"})
    assert unknown.status_code == 400 and "nobody" in _field_error(_text(unknown), "head")
    missing = client.post("/admin/org/MKT/post", data={"csrf_token": token, "post": "head"})
    assert missing.status_code == 400 and "请选择人员" in _field_error(_text(missing), "head")
    assert directory(ctx).head("MKT") == "zhangzongjian"
    assert [h["user_id"] for h in post_history(ctx, "MKT", "interface")] == ["xiaowang", "songyu"]
    assert client.get("/admin/org/NOPE").status_code == 404


def test_users_are_listed_with_roles_switched_off_and_on_and_given_a_new_password(app, ctx):
    client = _signed_in(app, "lijingli")
    listed = _text(client.get("/admin/users?department=PMO"))
    assert re.findall(r'data-user-row="([^"]+)"', listed) == ["lijingli", "xiaozhou", "shenjie"]  # head, interface
    lijingli = re.search(r'data-user-row="lijingli">(.*?)</tr>', listed, re.S).group(1)
    assert "平台管理员" in lijingli and "流程负责人" in lijingli and "PMO负责人" in lijingli
    token = _token(client, "/admin/users/songyu")
    assert client.post("/admin/users/songyu/active", data={"csrf_token": token, "active": "0"}).status_code == 302
    assert _signed_in_as(app, "songyu", PASSWORD) is False
    assert "songyu" not in _text(client.get("/admin/users"))  # active users by default
    assert "songyu" in _text(client.get("/admin/users?status=inactive"))
    assert client.post("/admin/users/songyu/active", data={"csrf_token": token, "active": "1"}).status_code == 302
    assert _signed_in_as(app, "songyu", PASSWORD) is True
    self_off = client.post("/admin/users/lijingli/active", data={"csrf_token": token, "active": "0"})
    assert self_off.status_code == 400 and "不能停用自己的账号" in _field_error(_text(self_off), "active")
    short = client.post("/admin/users/songyu/password", data={"csrf_token": token, "password": "short",
                                                              "confirm": "short"})
    assert short.status_code == 400 and "至少 8 个字符" in _field_error(_text(short), "password")
    differ = client.post("/admin/users/songyu/password", data={"csrf_token": token, "password": "宋雨的新密码-1",
                                                               "confirm": "宋雨的新密码-2"})
    assert differ.status_code == 400 and "不一致" in _field_error(_text(differ), "confirm")
    assert _signed_in_as(app, "songyu", PASSWORD) is True  # nothing changed yet
    done = client.post("/admin/users/songyu/password", data={"csrf_token": token, "password": "宋雨的新密码-1",
                                                             "confirm": "宋雨的新密码-1"})
    assert done.status_code == 302
    assert _signed_in_as(app, "songyu", "宋雨的新密码-1") is True and _signed_in_as(app, "songyu", PASSWORD) is False
    assert client.post("/admin/users/nobody/active", data={"csrf_token": token, "active": "0"}).status_code == 404


def test_the_user_list_is_paged_with_its_filters(app, ctx):
    from engine.org.users import add_user

    for n in range(130):
        add_user(ctx, f"temp{n:03d}", f"临时工{n:03d}", [], by="lijingli")
    client = _signed_in(app, "lijingli")
    first = _text(client.get("/admin/users?status=all"))
    total = int(re.search(r'data-users-total="(\d+)"', first).group(1))
    assert total > 130 and len(re.findall(r"data-user-row=", first)) == 100
    assert 'rel="next"' in first and "第 1 / 2 页" in first
    second = _text(client.get("/admin/users?status=all&page=2"))
    rows = re.findall(r'data-user-row="([^"]+)"', first) + re.findall(r'data-user-row="([^"]+)"', second)
    assert len(rows) == total == len(set(rows))  # every user once
    temps = _text(client.get("/admin/users?q=temp&page=9"))  # the filter kept, a page past the end shows the last
    assert len(re.findall(r"data-user-row=", temps)) == 30 and "第 2 / 2 页" in temps
    assert re.search(r'href="/admin/users\?page=1&amp;q=temp&amp;status=active" rel="prev"', temps)
    for odd in ("0", "-3", "²", "x"):  # read as the first page
        assert "第 1 / 2 页" in _text(client.get(f"/admin/users?q=temp&page={odd}"))


def test_a_users_page_lists_the_changes_of_their_department_superior_state_and_roles(app, ctx, clock):
    client = _signed_in(app, "lijingli")
    token = _token(client, "/admin/org")
    clock.advance(hours=1)
    moved = "users:\n  - {id: songyu, name: 宋雨, department: PRD, superior: chenzongjian, roles: [auditor]}\n"
    assert client.post("/admin/org/import", data={"csrf_token": token, "org_file": (io.BytesIO(moved.encode()),
                                                                                    "调岗.yaml")},
                       content_type="multipart/form-data").status_code == 302
    clock.advance(hours=1)
    assert client.post("/admin/users/songyu/active", data={"csrf_token": token, "active": "0"}).status_code == 302
    page = _text(client.get("/admin/users/songyu"))
    table = re.search(r'data-history="changes">(.*?)</table>', page, re.S).group(1)
    rows = [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", r)]
            for r in re.findall(r"<tr data-change[^>]*>(.*?)</tr>", table, re.S)]
    assert rows[0] == ["9月30日 19:00", "账号状态", "在职", "已停用", "李经理"]  # newest first
    assert sorted(rows[1:4]) == [["9月30日 18:00", "上级", "张总监", "陈总监", "李经理"],
                                 ["9月30日 18:00", "角色 审计员", "—", "有", "李经理"],
                                 ["9月30日 18:00", "部门", "市场部", "产品部", "李经理"]]
    # the first import made 宋雨, from the command line as "setup" (no account)
    by = "命令行 setup"
    assert sorted((r[1], r[2], r[4]) for r in rows[4:]) == [("上级", "—", by), ("账号状态", "—", by), ("部门", "—", by)]
    others = _text(client.get("/admin/users/wangzong")).split('data-section="changes"')[1]
    assert "账号状态" in others and "已停用" not in others and "陈总监" not in others  # 王总's own rows only


def _signed_in_as(app, user: str, password: str) -> bool:
    return sign_in(app.test_client(), user, password).status_code == 302


def test_an_admin_records_an_absence_for_anyone_with_the_errors_at_their_fields(app, ctx):
    client = _signed_in(app, "xiaozhou")
    page = _text(client.get("/admin/absences"))
    assert re.findall(r'data-absence="(\d+)"', page) == ["1"]  # 陈总监's National Day holiday, from the demo
    token = csrf_of(page)
    form = {"csrf_token": token, "user_id": "zhaojingli", "substitute_id": "qianyun", "starts_on": "2026-10-12",
            "ends_on": "2026-10-10", "reason": "培训"}
    backwards = client.post("/admin/absences", data=form)
    assert backwards.status_code == 400 and "早于开始日期" in _field_error(_text(backwards), "ends_on")
    itself = client.post("/admin/absences", data=form | {"substitute_id": "zhaojingli", "ends_on": "2026-10-16"})
    assert itself.status_code == 400 and "不能是外出的人自己" in _field_error(_text(itself), "substitute_id")
    not_a_date = client.post("/admin/absences", data=form | {"starts_on": "10/12"})
    assert "不是有效的日期" in _field_error(_text(not_a_date), "starts_on")
    assert client.post("/admin/absences", data=form | {"ends_on": "2026-10-16"}).status_code == 302
    overlap = client.post("/admin/absences", data=form | {"starts_on": "2026-10-16", "ends_on": "2026-10-20"})
    assert overlap.status_code == 400 and "已有代理人" in _field_error(_text(overlap), "starts_on")
    (recorded,) = list_absences(ctx, user_id="zhaojingli")
    assert (recorded["substitute_id"], recorded["created_by"], recorded["reason"]) == ("qianyun", "xiaozhou", "培训")
    assert client.post(f"/admin/absences/{recorded['id']}/remove", data={"csrf_token": token}).status_code == 302
    assert list_absences(ctx, user_id="zhaojingli") == []


def test_everyone_records_and_cancels_their_own_absence_on_the_settings_page(app, ctx):
    client = _signed_in(app, "xiaowang")
    page = _text(client.get("/settings"))
    assert 'data-section="absences"' in page and 'name="user_id"' not in page  # only one's own
    token = csrf_of(page)
    over = client.post("/settings/absences", data={"csrf_token": token, "substitute_id": "songyu",
                                                   "starts_on": "2026-09-01", "ends_on": "2026-09-02"})
    assert over.status_code == 400 and "已经结束" in _field_error(_text(over), "ends_on")
    nobody = client.post("/settings/absences", data={"csrf_token": token, "starts_on": "2026-10-08",
                                                     "ends_on": "2026-10-09"})
    assert nobody.status_code == 400 and "请选择代理人" in _field_error(_text(nobody), "substitute_id")
    done = client.post("/settings/absences", data={"csrf_token": token, "substitute_id": "songyu",
                                                   "starts_on": "2026-10-08", "ends_on": "2026-10-09",
                                                   "reason": "调休", "user_id": "zhangzongjian"})
    assert done.status_code == 302
    (mine,) = list_absences(ctx, user_id="xiaowang")  # the user_id sent along is not theirs to choose
    assert list_absences(ctx, user_id="zhangzongjian") == []
    assert f'data-absence="{mine["id"]}"' in _text(client.get("/settings"))
    other = _signed_in(app, "songyu")
    other_token = csrf_of(_text(other.get("/settings")))
    assert other.post(f"/settings/absences/{mine['id']}/remove", data={"csrf_token": other_token}).status_code == 404
    assert other.post("/admin/absences", data={"csrf_token": other_token}).status_code == 403
    assert client.post(f"/settings/absences/{mine['id']}/remove", data={"csrf_token": token}).status_code == 302
    assert list_absences(ctx, user_id="xiaowang") == []


def test_the_calendar_shows_a_year_and_its_rulings_which_admins_set_and_clear(app, ctx):
    client = _signed_in(app, "lijingli")
    page = _text(client.get("/admin/calendar?year=2026"))
    assert 'data-day="2026-10-01" data-workday="false"' in page
    assert 'data-day="2026-10-10" data-workday="true"' in page  # a Saturday worked for the National Day
    assert "data-warning" not in page
    picked = _text(client.get("/admin/calendar?year=2026&day=2026-10-09"))
    assert 'value="2026-10-09"' in picked and 'value="rest" checked' in picked  # offers to flip a working day
    token = csrf_of(page)
    wrong = client.post("/admin/calendar", data={"csrf_token": token, "day": "2026-13-01", "kind": "rest"})
    assert wrong.status_code == 400 and "不是有效的日期" in _field_error(_text(wrong), "day")
    no_kind = client.post("/admin/calendar", data={"csrf_token": token, "day": "2026-10-09", "note": "周年庆"})
    assert no_kind.status_code == 400 and "请选择工作日或休息日" in _field_error(_text(no_kind), "kind")
    assert 'value="周年庆"' in _text(no_kind)  # what was typed stays
    done = client.post("/admin/calendar", data={"csrf_token": token, "day": "2026-10-09", "kind": "rest",
                                                 "note": "公司周年庆"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/calendar?year=2026")
    page = _text(client.get("/admin/calendar?year=2026"))
    assert re.search(r'class="day rest ruled" data-day="2026-10-09"', page)
    ruling = re.search(r'data-ruling="2026-10-09">(.*?)</tr>', page, re.S).group(1)
    assert "休息日" in ruling and "公司周年庆" in ruling and "李经理" in ruling
    assert client.post("/admin/calendar/clear", data={"csrf_token": token, "day": "2026-10-09"}).status_code == 302
    assert list_days(ctx, 2026) == []
    unknown = _text(client.get("/admin/calendar?year=2027"))
    assert "2027年的法定节假日安排尚未收录" in unknown
    overview = _text(client.get("/admin/"))
    assert "2027年的法定节假日安排尚未收录" in overview  # next year, on the overview, with a link to it
    assert re.search(r'data-warning>2027年[^<]*<a href="/admin/calendar\?year=2027"', overview)
    english = _text(client.get("/admin/calendar?year=2027", headers={"Accept-Language": "en"}))
    assert "The statutory holidays of 2027 are not known yet" in english and "2027年" not in english


def test_lessons_wait_for_review_are_approved_or_rejected_with_a_reason_and_then_found(app, ctx):
    good = propose_lesson(ctx, title="跨部门协作要先对齐目标", tags="协作,目标", request_no="XMBG-202609001",
                          body="需求发起前，与协同部门对齐可衡量的目标，避免“尽快配合”。", user="zhangzongjian")
    vague = propose_lesson(ctx, title="多沟通", body="大家要多沟通。", user="xiaowang")
    client = _signed_in(app, "lijingli")
    page = _text(client.get("/admin/knowledge"))
    assert re.findall(r'data-lesson="(\d+)"', page) == [str(vague), str(good)]  # newest first
    token = csrf_of(page)
    no_reason = client.post(f"/admin/knowledge/{vague}/review", data={"csrf_token": token, "decision": "reject"})
    assert no_reason.status_code == 400 and "驳回时请写明原因" in _text(no_reason)
    assert client.post(f"/admin/knowledge/{vague}/review", data={"csrf_token": token, "decision": "reject",
                                                                 "note": "太笼统，没有可执行的做法"}).status_code == 302
    assert client.post(f"/admin/knowledge/{good}/review", data={"csrf_token": token,
                                                                "decision": "approve"}).status_code == 302
    again = client.post(f"/admin/knowledge/{good}/review", data={"csrf_token": token, "decision": "reject",
                                                                 "note": "改主意"})
    assert again.status_code == 302 and "已审核" in _text(client.get("/admin/knowledge"))  # the engine's refusal
    assert [e["status"] for e in list_entries(ctx)] == ["rejected", "approved"]
    found = _text(client.get("/admin/knowledge?q=协同部门的目标"))
    assert re.findall(r'data-result="(\d+)"', found) == [str(good)] and search(ctx, "多沟通")["total"] == 0
    reviewed = re.search(rf'data-reviewed="{vague}">(.*?)</tr>', found, re.S).group(1)
    assert "驳回" in reviewed and "李经理" in reviewed and "太笼统" in reviewed
    assert "没有可搜索的词" in _text(client.get("/admin/knowledge?q=？？"))
    too_long = _text(client.get("/admin/knowledge?q=" + "协作" * 150))
    assert "200" in _field_error(too_long, "q")
