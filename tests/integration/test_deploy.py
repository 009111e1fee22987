"""Deploying BPMN: hostile files are refused with located errors, versions, call activities, forms."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH
from sqlalchemy import func, select

from engine.bpmn.deploy import deploy, list_versions
from engine.bpmn.safe_xml import MAX_BYTES
from engine.bpmn.validate import parse_deployment
from engine.db.models import Base, InboxTask, ProcessInstance, ProcessVersion
from engine.errors import FormInvalid, InvalidProcess, Problem
from engine.messages import Msg
from engine.tasks.inbox import group_tasks
from engine.workflow.instances import complete_task, start_instance
from tests.conftest import FIXTURES, fixture_files
from tests.helpers import add_user, reloaded_state

HOSTILE = FIXTURES / "hostile"
BPMN_XSD = etree.XMLSchema(etree.parse(XSD_PATH))

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_1" '
    'targetNamespace="http://bpmn.io/schema/bpmn">\n'
)

FORM_BPMN = HEADER + """  <bpmn:process id="form_all_types" name="Form with every field type" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="StartEvent_1" targetRef="FillForm" />
    <bpmn:userTask id="FillForm" name="Fill the form" camunda:candidateGroups="team">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="title" label="Title" type="string">
            <camunda:validation>
              <camunda:constraint name="required" />
              <camunda:constraint name="minlength" config="3" />
              <camunda:constraint name="maxlength" config="20" />
              <camunda:constraint name="pattern" config="[A-Z][A-Za-z ]*" />
            </camunda:validation>
          </camunda:formField>
          <camunda:formField id="count" label="Count" type="long" defaultValue="3">
            <camunda:validation>
              <camunda:constraint name="min" config="1" />
              <camunda:constraint name="max" config="10" />
            </camunda:validation>
          </camunda:formField>
          <camunda:formField id="urgent" label="Urgent" type="boolean" defaultValue="false" />
          <camunda:formField id="due" label="Due date" type="date">
            <camunda:validation><camunda:constraint name="required" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="colour" label="Colour" type="enum" defaultValue="green">
            <camunda:value id="red" name="Red" />
            <camunda:value id="green" name="Green" />
          </camunda:formField>
        </camunda:formData>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="FillForm" targetRef="EndEvent_1" />
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


# ---------------------------------------------------------------- helpers

def table_counts(ctx) -> dict[str, int]:
    """Rows in every table of the schema."""
    with ctx.db.read() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def seed(ctx) -> None:
    """Some rows in most tables, so an unchanged database is not trivially an empty one."""
    add_user(ctx, "alice", "team")
    deploy(ctx, fixture_files("loop_2task.bpmn"), "admin")
    start_instance(ctx, "loop_2task", "alice", {}, "seed-1")


def refused(ctx, files: dict[str, bytes]) -> list[Problem]:
    """Deploy `files`, expecting a refusal that leaves every table as it was."""
    before = table_counts(ctx)
    with pytest.raises(InvalidProcess) as info:
        deploy(ctx, files, "admin")
    assert table_counts(ctx) == before
    assert info.value.problems, "InvalidProcess without problems"
    return info.value.problems


def line_of(data: bytes, needle: str) -> int:
    """1-based line of the first occurrence of `needle` in `data`."""
    pos = data.find(needle.encode())
    assert pos >= 0, f"{needle!r} not in the file"
    return data.count(b"\n", 0, pos) + 1


def big_bpmn(size: int) -> bytes:
    """A valid BPMN document of at least `size` bytes: only its size is wrong."""
    text = (FIXTURES / "call_child.bpmn").read_text()
    padding = "Lorem ipsum dolor sit amet. " * (size // 28 + 1)
    return text.replace('isExecutable="true">',
                        f'isExecutable="true">\n    <bpmn:documentation>{padding}</bpmn:documentation>',
                        1).encode()


# ---------------------------------------------------------------- hostile files

# file, element id (or None), line (an int, a needle whose line is meant, or None), message patterns
HOSTILE_CASES = [
    ("xxe_external_entity.bpmn", None, 2, [r"DTDs and entity declarations are not allowed"]),
    ("billion_laughs.bpmn", None, 2, [r"DTDs and entity declarations are not allowed"]),
    ("not_xml.bpmn", None, 1, [r"not well-formed XML"]),
    ("no_start_event.bpmn", None, None, [r"no start event"]),
    ("unknown_call_target.bpmn", "CallMissing", 'id="CallMissing"',
     [r"call activity calls 'no_such_process'", r"not a process of this deployment"]),
    ("script_syntax_error.bpmn", "ComputeTotal", 'id="ComputeTotal"', [r"^script: ", r"Line 2", r"SyntaxError"]),
    ("unquoted_timer.bpmn", "WaitADay", 'id="WaitADay"', [r"'PT24H' is not quoted", r'write "PT24H"']),
    ("reserved_id_end.bpmn", "End", 'id="End"', [r"the id 'End' is reserved"]),
    ("reserved_id_start.bpmn", "Start", 'id="Start"', [r"the id 'Start' is reserved"]),
    ("unknown_form_field_type.bpmn", "EnterAmount", 'id="EnterAmount"',
     [r"form field 'amount' has unknown type 'currency'"]),
    ("gateway_without_default.bpmn", "Decide", 'id="Decide"',
     [r"exclusive gateway has neither conditions nor a default flow"]),
    ("user_task_unassigned.bpmn", "Orphan", 'id="Orphan"',
     [r"user task has no assignee, candidate users, candidate groups or lane"]),
    ("condition_syntax_error.bpmn", "large", "<bpmn:conditionExpression",
     [r"^condition on sequence flow: ", r"SyntaxError"]),
    ("script_import_os.bpmn", "RunShell", 'id="RunShell"', [r"^script: ", r"import is not allowed"]),
]


@pytest.mark.parametrize(("filename", "element_id", "line", "patterns"), HOSTILE_CASES,
                         ids=[c[0].removesuffix(".bpmn") for c in HOSTILE_CASES])
def test_hostile_file_is_refused_with_a_located_error(ctx, filename, element_id, line, patterns):
    seed(ctx)
    data = (HOSTILE / filename).read_bytes()
    problems = refused(ctx, {filename: data})
    assert len(problems) == 1, [str(p) for p in problems]  # fails for the one reason it is named after
    problem = problems[0]
    assert problem.file == filename
    assert problem.element_id == element_id
    assert problem.line == (line_of(data, line) if isinstance(line, str) else line)
    for pattern in patterns:
        assert re.search(pattern, problem.message), problem.message


def test_every_hostile_case_has_a_fixture_and_a_test():
    assert {p.name for p in HOSTILE.glob("*.bpmn")} == {c[0] for c in HOSTILE_CASES}


def test_external_entity_is_never_read(ctx):
    problems = refused(ctx, fixture_files("hostile/xxe_external_entity.bpmn"))
    passwd = Path("/etc/passwd").read_text() if Path("/etc/passwd").exists() else "root:x:0:0"
    assert all(passwd.splitlines()[0] not in p.message for p in problems)


def test_20_megabyte_file_is_refused_before_parsing(ctx, tmp_path):
    seed(ctx)
    path = tmp_path / "huge.bpmn"
    path.write_bytes(big_bpmn(20 * 1024 * 1024))
    data = path.read_bytes()
    assert len(data) >= 20 * 1024 * 1024
    problems = refused(ctx, {"huge.bpmn": data})
    assert problems == [Problem(f"file is {len(data)} bytes, larger than the limit of {MAX_BYTES} bytes",
                                file="huge.bpmn")]


def test_a_file_just_under_the_limit_deploys(ctx):
    data = big_bpmn(MAX_BYTES - 64 * 1024)
    assert len(data) <= MAX_BYTES
    assert [v.process_id for v in deploy(ctx, {"big.bpmn": data}, "admin")] == ["call_child"]


def test_one_hostile_file_refuses_the_whole_deployment(ctx):
    seed(ctx)
    files = {**fixture_files("call_parent.bpmn", "call_child.bpmn"),
             **fixture_files("hostile/user_task_unassigned.bpmn")}
    problems = refused(ctx, files)
    assert [(p.file, p.element_id) for p in problems] == [("hostile/user_task_unassigned.bpmn", "Orphan")]
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).where(ProcessVersion.process_id == "call_child")) == 0


def test_problem_is_located_in_its_own_file_when_ids_repeat_across_files(ctx):
    """Element ids are unique per file only: the problem must point at the file it is in."""
    bad = (HOSTILE / "user_task_unassigned.bpmn").read_bytes().replace(b"Orphan", b"TaskA")
    problems = refused(ctx, {**fixture_files("loop_2task.bpmn"), "bad.bpmn": bad})
    assert [(p.file, p.element_id, p.line) for p in problems] == [("bad.bpmn", "TaskA", line_of(bad, 'id="TaskA"'))]


def test_non_utf8_encodings_are_refused_with_a_named_error(ctx):
    """A UTF-16 file would slip a DOCTYPE past a byte search, and cannot be stored as text."""
    seed(ctx)
    xxe = (HOSTILE / "xxe_external_entity.bpmn").read_text().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    valid = (FIXTURES / "call_child.bpmn").read_text().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    for data in (xxe.encode("utf-16"), valid.encode("utf-16"), valid.encode("utf-16-le"), valid.encode("utf-32")):
        assert refused(ctx, {"wide.bpmn": data}) == [
            Problem("file is not UTF-8 text; save BPMN files as UTF-8", file="wide.bpmn")]


def test_doctype_hidden_by_the_declared_encoding_is_refused(ctx):
    """In UTF-7 the bytes "<!DOCTYPE" never appear, but the parsed document has a DTD."""
    seed(ctx)
    text = (HOSTILE / "xxe_external_entity.bpmn").read_text().replace('encoding="UTF-8"', 'encoding="UTF-7"')
    for plain, hidden in (("<!DOCTYPE", "+ADw-!DOCTYPE"), ("<!ENTITY", "+ADw-!ENTITY"), ("&xxe;", "+ACY-xxe;")):
        text = text.replace(plain, hidden)
    assert b"<!DOCTYPE" not in text.encode()
    assert refused(ctx, {"seven.bpmn": text.encode()}) == [
        Problem("DTDs and entity declarations are not allowed", file="seven.bpmn")]


def _xsd_errors(data: bytes) -> list[str]:
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True))
    return [] if BPMN_XSD.validate(root) else [str(e) for e in BPMN_XSD.error_log]


@pytest.mark.parametrize("name", ["call_parent.bpmn", "call_child.bpmn", *(
    f"hostile/{c[0]}" for c in HOSTILE_CASES if c[0] not in (
        "not_xml.bpmn", "xxe_external_entity.bpmn", "billion_laughs.bpmn"))])
def test_fixtures_are_valid_bpmn_20(name):
    assert _xsd_errors((FIXTURES / name).read_bytes()) == []


def test_entity_fixtures_are_valid_bpmn_20_without_their_dtd():
    for name, entity in (("xxe_external_entity.bpmn", "&xxe;"), ("billion_laughs.bpmn", "&lol9;")):
        text = (HOSTILE / name).read_text()
        text = re.sub(r"<!DOCTYPE.*?\]>\n", "", text, flags=re.S).replace(entity, "text")
        assert _xsd_errors(text.encode()) == []


def test_form_fixture_is_valid_bpmn_20():
    assert _xsd_errors(FORM_BPMN.encode()) == []


# ---------------------------------------------------------------- versions

def _instance(ctx, instance_id: str) -> ProcessInstance:
    with ctx.db.read() as s:
        row = s.get(ProcessInstance, instance_id)
        s.expunge(row)
        return row


def test_same_content_twice_is_the_same_version(ctx):
    first = deploy(ctx, fixture_files("loop_2task.bpmn"), "admin")
    assert [(v.process_id, v.version, v.created) for v in first] == [("loop_2task", 1, True)]
    counts = table_counts(ctx)
    again = deploy(ctx, fixture_files("loop_2task.bpmn"), "bob")
    assert [(v.process_id, v.version, v.version_id, v.created) for v in again] == [
        ("loop_2task", 1, first[0].version_id, False)]
    renamed = deploy(ctx, {"other_name.bpmn": (FIXTURES / "loop_2task.bpmn").read_bytes()}, "bob")
    assert [(v.version, v.created) for v in renamed] == [(1, False)]
    assert [v["version"] for v in list_versions(ctx, "loop_2task")] == [1]
    assert table_counts(ctx)["process_version"] == counts["process_version"]


def test_changed_content_is_a_new_version_and_running_instances_keep_theirs(ctx):
    add_user(ctx, "alice", "team")
    v1 = deploy(ctx, fixture_files("loop_2task.bpmn"), "admin")[0]
    old = start_instance(ctx, "loop_2task", "alice", {}, "old")
    changed = (FIXTURES / "loop_2task.bpmn").read_bytes().replace(b'name="Task B"', b'name="Task B revised"')
    v2 = deploy(ctx, {"loop_2task.bpmn": changed}, "admin")[0]
    assert (v2.process_id, v2.version, v2.created) == ("loop_2task", 2, True)
    assert v2.version_id != v1.version_id
    new = start_instance(ctx, "loop_2task", "alice", {}, "new")

    assert (_instance(ctx, old.instance_id).process_version, _instance(ctx, old.instance_id).process_version_id) \
        == (1, v1.version_id)
    assert (_instance(ctx, new.instance_id).process_version, _instance(ctx, new.instance_id).process_version_id) \
        == (2, v2.version_id)

    # Both go on running their own version: task B's name tells the versions apart.
    complete_task(ctx, old.opened_tasks[0], "alice", {"note": "x"})
    complete_task(ctx, new.opened_tasks[0], "alice", {"note": "y"})
    names = {(t["business_key"], t["process_version"]): t["name"] for t in group_tasks(ctx, "alice").items}
    assert names == {("old", 1): "Task B", ("new", 2): "Task B revised"}
    assert _instance(ctx, old.instance_id).process_version == 1

    # Redeploying version 1's content gives version 1 back; new instances still start on the latest.
    assert [(v.version, v.created) for v in deploy(ctx, fixture_files("loop_2task.bpmn"), "admin")] == [(1, False)]
    third = start_instance(ctx, "loop_2task", "alice", {}, "third")
    assert _instance(ctx, third.instance_id).process_version == 2
    assert [v["version"] for v in list_versions(ctx, "loop_2task")] == [1, 2]


def test_call_activity_target_resolves_within_one_deployment(ctx):
    add_user(ctx, "alice", "team")
    deployed = deploy(ctx, fixture_files("call_parent.bpmn", "call_child.bpmn"), "admin")
    assert sorted((v.process_id, v.version, v.created) for v in deployed) == [
        ("call_child", 1, True), ("call_parent", 1, True)]
    started = start_instance(ctx, "call_parent", "alice", {"amount": 5}, "call-1")
    assert started.status == "running"
    assert len(started.opened_tasks) == 1
    inbox = group_tasks(ctx, "alice").items
    assert [(t["task_id"], t["instance_id"], t["element_id"], t["name"]) for t in inbox] == [
        (started.opened_tasks[0], started.instance_id, "ChildTask", "Child task")]
    done = complete_task(ctx, started.opened_tasks[0], "alice", {"answer": "42"})
    assert done.status == "completed"
    assert group_tasks(ctx, "alice").items == []


@pytest.mark.parametrize("child_deployed_before", [False, True], ids=["fresh", "child-deployed"])
def test_call_parent_alone_is_refused(ctx, child_deployed_before):
    if child_deployed_before:
        deploy(ctx, fixture_files("call_child.bpmn"), "admin")
    data = (FIXTURES / "call_parent.bpmn").read_bytes()
    problems = refused(ctx, {"call_parent.bpmn": data})
    assert [(p.file, p.element_id, p.line) for p in problems] == [
        ("call_parent.bpmn", "CallChild", line_of(data, 'id="CallChild"'))]
    assert "call activity calls 'call_child', which is not a process of this deployment" in problems[0].message


# ---------------------------------------------------------------- forms

def test_form_fields_of_every_type_are_parsed():
    parsed = parse_deployment({"form.bpmn": FORM_BPMN.encode()})
    spec = parsed.specs["form_all_types"][0]
    form = spec.task_specs["FillForm"].form
    fields = {f.id: f for f in form.fields}
    assert [(f.id, f.type) for f in form.fields] == [
        ("title", "string"), ("count", "long"), ("urgent", "boolean"), ("due", "date"), ("colour", "enum")]
    title = fields["title"]
    assert (title.required, title.minlength, title.maxlength, title.pattern) == (True, 3, 20, "[A-Z][A-Za-z ]*")
    assert (fields["count"].min, fields["count"].max, fields["count"].default) == (1, 10, 3)
    assert fields["urgent"].default is False
    assert fields["due"].required
    assert (fields["colour"].options, fields["colour"].default) == ([("red", "Red"), ("green", "Green")], "green")


BAD_SUBMISSIONS = [
    ({"title": "ab", "count": 11, "urgent": "maybe", "due": "31/12/2026", "colour": "blue"}, {
        "title": Msg("field.too_short", least=3), "count": Msg("field.above_max", most="10"),
        "urgent": Msg("field.not_boolean", given="maybe"), "due": Msg("field.not_date", given="31/12/2026"),
        "colour": Msg("field.not_option", given="blue", known=["red", "green"])}),
    ({"title": "lowercase start", "count": 0, "due": "2026-10-01"}, {
        "title": Msg("field.pattern", pattern="[A-Z][A-Za-z ]*"), "count": Msg("field.below_min", least="1")}),
    ({"title": "A title far too long for the field", "count": "2.5", "due": "2026-10-01"}, {
        "title": Msg("field.too_long", most=20), "count": Msg("field.not_integer", given="2.5")}),
    ({"count": 2}, {"title": Msg("field.required"), "due": Msg("field.required")}),
    ({"title": "Fine", "due": "2026-10-01", "bogus": 1}, {"bogus": Msg("field.unknown")}),
]


def test_form_validation_at_completion(ctx):
    add_user(ctx, "alice", "team")
    [version] = deploy(ctx, {"form.bpmn": FORM_BPMN.encode()}, "admin")
    assert (version.process_id, version.version) == ("form_all_types", 1)
    started = start_instance(ctx, "form_all_types", "alice", {}, "form-1")
    [task_id] = started.opened_tasks
    before = reloaded_state(ctx, started.instance_id)
    counts = table_counts(ctx)

    for data, expected in BAD_SUBMISSIONS:
        with pytest.raises(FormInvalid) as info:
            complete_task(ctx, task_id, "alice", data)
        assert info.value.errors == expected
        assert reloaded_state(ctx, started.instance_id) == before
        assert table_counts(ctx) == counts
        assert _instance(ctx, started.instance_id).status == "running"

    with pytest.raises(FormInvalid) as info:
        complete_task(ctx, task_id, "alice", BAD_SUBMISSIONS[0][0])
    assert info.value.field_texts() == {"title": "至少 3 个字", "count": "不能大于 10", "urgent": "请选择是或否",
                                        "due": "请填写日期（年-月-日）", "colour": "请从选项中选择"}
    assert info.value.field_texts("en") == {
        "title": "At least 3 characters", "count": "Must be at most 10", "urgent": "Choose yes or no",
        "due": "Enter a date (year-month-day)", "colour": "Choose one of the options"}

    done = complete_task(ctx, task_id, "alice", {"title": "Quarterly report", "count": "7", "urgent": "true",
                                                  "due": "2026-12-31", "colour": "red"})
    assert done.status == "completed"
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(InboxTask)) == 0
    state = reloaded_state(ctx, started.instance_id)
    assert {k: state["data"].get(k) for k in ("title", "count", "urgent", "due", "colour")} == {
        "title": "Quarterly report", "count": 7, "urgent": True, "due": "2026-12-31", "colour": "red"}
