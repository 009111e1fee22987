"""The organisation: import from YAML and CSV with located errors, posts with history, substitutes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.bootstrap import bootstrap
from engine.config import EngineConfig
from engine.db.models import AppUser, Department, GroupMembership
from engine.errors import InvalidInput, OrgInvalid, PermissionDenied
from engine.messages import Msg
from engine.org.directory import add_substitute, directory, post_history, set_post
from engine.org.importer import import_org, parse_csv, parse_yaml
from tests.helpers import said

DEMO = Path(__file__).parents[2] / "demo" / "org.yaml"


@pytest.fixture
def demo(ctx):
    result = import_org(ctx, parse_yaml(DEMO.read_text("utf-8"), "org.yaml"), "setup", bootstrap=True)
    assert result.departments == 11 and result.users == 26
    return ctx


def _counts(ctx) -> tuple[int, int, int]:
    with ctx.db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Department, AppUser, GroupMembership))


def test_demo_organisation_answers_the_lookups_assignments_need(demo):
    d = directory(demo)
    names = {d.departments[x]["name"] for x in d.departments}
    assert {"PMO", "市场部", "产品部", "技术部", "销售部", "物流部", "财务部", "法务部", "客服部",
            "人力资源部"} <= names
    assert d.head("MKT") == "zhangzongjian" and d.interface_person("SAL") == "xiaoli"
    assert d.superior("xiaowang") == "zhangzongjian"
    assert d.superior("wangzong") is None
    assert d.common_superior(["xiaowang", "zhaojingli"]) == "wangzong"  # different departments
    assert d.common_superior(["xiaowang", "songyu"]) == "zhangzongjian"  # the same department
    assert d.common_superior(["zhangzongjian", "xiaowang"]) == "wangzong"  # a party is not its own arbiter
    assert d.department_of("zhaojingli") == "PRD"
    assert d.members("platform_admins") == ["lijingli", "xiaozhou"]
    assert d.substitute_of("chenzongjian", date(2026, 10, 3)) == "zhaojingli"
    assert d.substitute_of("chenzongjian", date(2026, 10, 8)) is None
    assert d.substituted_by("zhaojingli", date(2026, 10, 1)) == ["chenzongjian"]


def test_reimport_is_an_update_not_a_duplicate(demo):
    before = _counts(demo)
    result = import_org(demo, parse_yaml(DEMO.read_text("utf-8")), "lijingli")
    assert result.posts_changed == 0
    assert _counts(demo) == before


@pytest.mark.parametrize(("yaml_text", "code", "expected"), [
    ("users:\n  - {id: a, name: A, department: NOPE}\n", "org.department_unknown",
     "org.yaml users[1]: department 'NOPE' does not exist"),
    ("users:\n  - {id: a, name: A, superior: b}\n  - {id: b, name: B, superior: c}\n"
     "  - {id: c, name: C, superior: a}\n", "org.cycle_superior",
     "org.yaml users[1]: the superior chain of user 'a' is a cycle: a -> b -> c -> a"),
    ("users:\n  - {id: a, name: A}\n  - {id: a, name: A2}\n", "org.user_twice",
     "org.yaml users[2]: user 'a' is listed twice (first at org.yaml users[1])"),
    ("departments:\n  - {id: X, name: X部, head: nobody}\n", "org.post_not_user",
     "org.yaml departments[1]: head 'nobody' is not a user"),
    ("users:\n  - {id: a, name: A, roles: [lead_head]}\n", "org.role_per_request",
     "org.yaml users[1]: role 'lead_head' follows from each request and cannot be assigned"),
    ("users:\n  - {id: a}\n", "org.required", "org.yaml users[1]: 'name' is required"),
    ("users: [\n", "org.bad_yaml", "org.yaml:2: not valid YAML"),
])
def test_bad_organisation_data_is_refused_with_its_location_and_nothing_is_imported(demo, yaml_text, code, expected):
    before = _counts(demo)
    with pytest.raises(OrgInvalid) as err:
        import_org(demo, parse_yaml("departments:\n  - {id: NEW, name: 新部门}\n" + yaml_text
                                    if yaml_text.startswith("users:\n") else yaml_text), "lijingli")
    assert any(p.code == code and p.text("en").startswith(expected) for p in err.value.problems), \
        err.value.problems
    assert err.value.message_code == "org.invalid" and err.value.params["count"] == len(err.value.problems)
    assert _counts(demo) == before


def test_a_cycle_through_people_already_stored_is_found(demo):
    with pytest.raises(OrgInvalid) as err:
        import_org(demo, parse_yaml("users:\n  - {id: wangzong, name: 王总, department: GM, superior: xiaowang}\n"),
                   "lijingli")
    assert err.value.problems == [Msg("org.cycle_superior", where="org.yaml users[1]", id="wangzong",
                                      loop="wangzong -> xiaowang -> zhangzongjian -> wangzong")]
    assert [p.text() for p in err.value.problems] == [
        "org.yaml users[1]：用户“wangzong”的上级关系形成循环：wangzong -> xiaowang -> zhangzongjian -> wangzong"]


def test_csv_import_with_located_errors(ctx):
    departments = "id,name,parent,head,interface\nHQ,总部,,boss,\nOPS,运营部,HQ,ops_head,ops_contact\n"
    users = ("id,name,department,superior,email,phone,roles,groups\nboss,老板,HQ,,,,platform_admin,\n"
             "ops_head,运营负责人,OPS,boss,,,,\nops_contact,运营对接人,OPS,ops_head,,,,\n")
    result = import_org(ctx, parse_csv(departments, users), "setup", bootstrap=True)
    assert (result.departments, result.users, result.posts_changed) == (2, 3, 3)
    d = directory(ctx)
    assert d.head("OPS") == "ops_head" and d.interface_person("OPS") == "ops_contact"
    assert d.common_superior(["ops_contact", "ops_head"]) == "boss"

    bad = users + "x,某人,NOPE,,,,,\n"
    with pytest.raises(OrgInvalid) as err:
        import_org(ctx, parse_csv(departments, bad), "boss")
    assert err.value.problems == [Msg("org.department_unknown", where="users.csv:5", id="NOPE")]
    assert err.value.problems[0].text("en") == "users.csv:5: department 'NOPE' does not exist"
    with pytest.raises(OrgInvalid) as err:
        parse_csv("code,title\nA,B\n", None)
    assert err.value.problems == [Msg("org.missing_columns", where="departments.csv", names=["id", "name"])]
    assert str(err.value) == "组织数据有 1 处问题，未导入任何内容：departments.csv：缺少列 id、name"


def test_only_platform_admins_import_after_the_first_time(demo):
    with pytest.raises(PermissionDenied):
        import_org(demo, parse_yaml("users:\n  - {id: x, name: X}\n"), "xiaowang")
    with pytest.raises(PermissionDenied):
        set_post(demo, "MKT", "interface", "songyu", "xiaowang")


def test_interface_person_changes_keep_their_history(demo, clock):
    clock.advance(days=30)
    set_post(demo, "MKT", "interface", "songyu", "lijingli")
    assert directory(demo).interface_person("MKT") == "songyu"
    history = post_history(demo, "MKT", "interface")
    assert [(h["user_id"], h["to"] is None) for h in history] == [("xiaowang", False), ("songyu", True)]
    assert history[0]["to"] == history[1]["from"] == clock.now.isoformat()
    set_post(demo, "MKT", "interface", None, "lijingli")
    assert directory(demo).interface_person("MKT") is None
    with pytest.raises(InvalidInput) as refused:
        set_post(demo, "MKT", "chief", "songyu", "lijingli")
    assert said(refused) == ("choice.unknown", {"what": {"code": "what.post", "params": {}}, "given": "chief",
                                                "known": ["head", "interface"]})
    assert str(refused.value) == "未知的岗位“chief”（可选：head、interface）"


def test_substitutes_are_checked(demo):
    with pytest.raises(InvalidInput) as refused:
        add_substitute(demo, "chenzongjian", "qianyun", date(2026, 10, 6), date(2026, 10, 9), "出差", "lijingli")
    assert said(refused) == ("absence.overlaps", {"user": "chenzongjian", "start": "2026-10-01", "end": "2026-10-07"})
    assert str(refused.value) == "chenzongjian 在 2026-10-01 至 2026-10-07 已有代理人"
    with pytest.raises(InvalidInput) as refused:
        add_substitute(demo, "xiaowang", "songyu", date(2026, 10, 6), date(2026, 10, 1), "", "xiaowang")
    assert said(refused) == ("absence.ends_first", {"start": "2026-10-06", "end": "2026-10-01"})
    with pytest.raises(PermissionDenied):
        add_substitute(demo, "xiaowang", "songyu", date(2026, 11, 1), date(2026, 11, 2), "", "songyu")
    add_substitute(demo, "xiaowang", "songyu", date(2026, 11, 1), date(2026, 11, 2), "培训", "xiaowang")
    assert directory(demo).substitute_of("xiaowang", date(2026, 11, 2)) == "songyu"


def test_another_process_sees_an_organisation_change(demo, db_url, clock):
    other = bootstrap(EngineConfig(database_url=db_url, clock=clock), migrate=False)
    try:
        assert directory(other).head("SAL") == "huangjingli"
        set_post(demo, "SAL", "head", "xuming", "lijingli")
        assert directory(other).head("SAL") == "xuming"
    finally:
        other.db.dispose()


def test_each_database_has_its_own_directory_and_a_gone_one_leaves_none_behind(tmp_path, clock):
    # Two fresh organisations can have the same revision: snapshots must be kept per database
    # object (never by id(), which a later database may reuse), and dropped with it.
    import gc
    import weakref

    from engine.org.directory import _CACHES

    org_of = "departments:\n  - {{id: A, name: 甲部, head: {0}}}\nusers:\n  - {{id: {0}, name: 某人}}\n"
    first = bootstrap(EngineConfig(database_url=f"sqlite:///{tmp_path / 'a.db'}", clock=clock))
    second = bootstrap(EngineConfig(database_url=f"sqlite:///{tmp_path / 'b.db'}", clock=clock))
    import_org(first, parse_yaml(org_of.format("a")), "setup", bootstrap=True)
    import_org(second, parse_yaml(org_of.format("b")), "setup", bootstrap=True)
    assert (directory(first).head("A"), directory(second).head("A")) == ("a", "b")
    gone = weakref.ref(first.db)
    first.db.dispose()
    del first
    gc.collect()
    assert gone() is None  # the cache did not keep it (nor its id) alive
    assert second.db in _CACHES
    second.db.dispose()
