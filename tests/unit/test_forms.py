"""Table fields: typed rows with per-row, per-column errors; bad column specs are named at deploy."""

from __future__ import annotations

from lxml import etree

from engine.bpmn.form_bounds import DEFAULT_MAX_LENGTH
from engine.bpmn.form_validation import json_type_errors, validate_submission
from engine.bpmn.forms import Form, FormField, field_from_xml
from engine.bpmn.parser import CAMUNDA_NS
from engine.messages import Msg


def _field(xml: str):
    node = etree.fromstring(f'<camunda:formField xmlns:camunda="{CAMUNDA_NS}" {xml}</camunda:formField>')
    return field_from_xml(node, CAMUNDA_NS)


PLAN = ('id="plan_tasks" label="任务分解" type="table"><camunda:properties><camunda:property id="columns" '
        'value="title!:string:任务名称,owner!:user:责任人,end!:date:计划完成,hours:long:工时" />'
        '</camunda:properties><camunda:validation><camunda:constraint name="required" />'
        '<camunda:constraint name="maxlength" config="2" /></camunda:validation>')


def test_table_columns_are_parsed_with_types_labels_and_required():
    fld, problems = _field(PLAN)
    assert problems == []
    assert [(c.id, c.type, c.label, c.required) for c in fld.columns] == [
        ("title", "string", "任务名称", True), ("owner", "user", "责任人", True), ("end", "date", "计划完成", True),
        ("hours", "long", "工时", False)]
    assert Form.from_dict(Form([fld]).to_dict()).fields[0].columns == fld.columns


def test_table_rows_are_coerced_and_errors_name_row_and_column():
    form = Form([_field(PLAN)[0]])
    clean, errors = validate_submission(form, {"plan_tasks": [
        {"title": "物料设计", "owner": "xiaowang", "end": "2024-05-15", "hours": "16"}]})
    assert errors == {}
    assert clean == {"plan_tasks": [{"title": "物料设计", "owner": "xiaowang", "end": "2024-05-15", "hours": 16}]}

    cases = [  # each message by its code, in both languages
        ([{"title": "a", "owner": "u"}], "第 1 行，计划完成：必填", "Row 1, 计划完成: Required"),
        ([{"title": "a", "owner": "u", "end": "2024-05-15"}, {"title": "b", "owner": "u", "end": "May 15"}],
         "第 2 行，计划完成：请填写日期（年-月-日）", "Row 2, 计划完成: Enter a date (year-month-day)"),
        ([{"title": "a", "owner": "u", "end": "2024-05-15", "cost": 1}], "第 1 行：cost 不是表格的列",
         "Row 1: cost is not a column of the table"),
        ("not rows", "表格数据无效", "The table could not be read"),
        ([{"title": "a", "owner": "u", "end": "2024-05-15"}] * 3, "最多填写 2 行", "Fill in at most 2 rows"),
        ([], "必填", "Required"),
    ]
    for value, chinese, english in cases:
        clean, errors = validate_submission(form, {"plan_tasks": value})
        assert clean == {} and list(errors) == ["plan_tasks"], value
        assert (str(errors["plan_tasks"]), errors["plan_tasks"].text("en")) == (chinese, english), value


def test_bad_column_specs_are_problems():
    assert _field('id="t" type="table">')[1] == ["table field 't' needs a 'columns' property (id[!]:type:label,...)"]
    problems = _field('id="t" type="table"><camunda:properties><camunda:property id="columns" '
                      'value="a:string:A,b:files:B" /></camunda:properties>')[1]
    assert len(problems) == 1 and "bad column 'b:files:B'" in problems[0]


def test_a_date_and_time_without_offset_is_read_in_the_organisations_zone():
    from zoneinfo import ZoneInfo

    form = Form([_field('id="meeting_time" type="datetime">')[0]])
    shanghai = ZoneInfo("Asia/Shanghai")
    assert validate_submission(form, {"meeting_time": "2026-11-04T14:00"}, shanghai)[0] == {
        "meeting_time": "2026-11-04T14:00:00+08:00"}
    assert validate_submission(form, {"meeting_time": "2026-11-04T14:00+00:00"}, shanghai)[0] == {
        "meeting_time": "2026-11-04T14:00:00+00:00"}  # an explicit offset is kept


def test_a_field_required_only_when_another_has_a_value():
    decision = ('id="result" label="验收结果" type="enum"><camunda:value id="验收通过" name="验收通过" />'
                '<camunda:value id="退回修改" name="退回修改" />')
    problem = ('id="problem" label="具体问题" type="text"><camunda:properties>'
               '<camunda:property id="requiredIf" value="result=退回修改" /></camunda:properties>')
    form = Form([_field(decision)[0], _field(problem)[0]])
    assert validate_submission(form, {"result": "验收通过"}) == ({"result": "验收通过"}, {})
    refused = validate_submission(form, {"result": "退回修改"})[1]
    assert refused == {"problem": Msg("field.required_if", field="验收结果", value="退回修改")}
    assert (str(refused["problem"]), refused["problem"].text("en")) == (
        "“验收结果”为“退回修改”时必填", "Required when “验收结果” is “退回修改”")
    assert validate_submission(form, {"result": "退回修改", "problem": "缺二维码"})[1] == {}
    assert _field('id="p" type="text"><camunda:properties><camunda:property id="requiredIf" value="x" />'
                  '</camunda:properties>')[1] == [
        "field 'p' has a bad requiredIf 'x' (write other_field=value or other_field=value1|value2)"]


def test_a_condition_on_a_missing_field_is_a_deploy_problem():
    from engine.bpmn.forms import form_from_xml

    xml = (f'<task xmlns:bpmn="B" xmlns:camunda="{CAMUNDA_NS}"><bpmn:extensionElements><camunda:formData>'
           '<camunda:formField id="p" type="text"><camunda:properties>'
           '<camunda:property id="requiredIf" value="nope=1" /></camunda:properties></camunda:formField>'
           '</camunda:formData></bpmn:extensionElements></task>')
    assert form_from_xml(etree.fromstring(xml), "B", CAMUNDA_NS)[1] == [
        "field 'p' is required if 'nope' ..., which is not a field of this form"]


# ------------------------------------------------------------------------------------- bounds
def test_every_text_has_a_length_limit_and_every_list_a_count_limit():
    from engine.bpmn.form_bounds import DEFAULT_MAX_ITEMS, DEFAULT_MAX_LENGTH, DEFAULT_MAX_ROWS

    text = Form([_field('id="background" type="text">')[0]])
    assert validate_submission(text, {"background": "背" * DEFAULT_MAX_LENGTH})[1] == {}
    assert validate_submission(text, {"background": "背" * 15_000_000})[1] == {
        "background": Msg("field.too_long", most=DEFAULT_MAX_LENGTH)}
    depts = Form([_field('id="involved_depts" type="departments">')[0]])
    assert validate_submission(depts, {"involved_depts": ["MKT"] * (DEFAULT_MAX_ITEMS + 1)})[1] == {
        "involved_depts": Msg("field.choose_fewer", most=DEFAULT_MAX_ITEMS)}
    table = Form([_field(PLAN.replace('<camunda:constraint name="maxlength" config="2" />', ""))[0]])
    row = {"title": "物料设计", "owner": "xiaowang", "end": "2024-05-15"}
    assert validate_submission(table, {"plan_tasks": [row] * (DEFAULT_MAX_ROWS + 1)})[1] == {
        "plan_tasks": Msg("field.rows_too_many", most=DEFAULT_MAX_ROWS)}
    too_long = validate_submission(table, {"plan_tasks": [{**row, "title": "长" * (DEFAULT_MAX_LENGTH + 1)}]})[1]
    assert too_long == {"plan_tasks": Msg("field.row_cell", row=1, column="任务名称",
                                          problem=Msg("field.too_long", most=DEFAULT_MAX_LENGTH))}
    assert too_long["plan_tasks"].text("en") == f"Row 1, 任务名称: At most {DEFAULT_MAX_LENGTH} characters"


def test_people_and_departments_must_exist_and_take_work():
    from engine.bpmn.form_bounds import Bounds

    form = Form([_field('id="depts" type="departments">')[0], _field('id="owner" type="user">')[0]])
    bounds = Bounds(departments={"MKT", "PRD"}, users={"xiaowang"})
    assert validate_submission(form, {"depts": ["MKT", "PRD"], "owner": "xiaowang"}, bounds=bounds)[1] == {}
    refused = validate_submission(form, {"depts": ["MKT", "XXX"], "owner": "shenjie"}, bounds=bounds)[1]
    assert refused == {"depts": Msg("field.not_department", given="XXX"),
                       "owner": Msg("field.not_worker", given="shenjie")}
    assert {k: v.text("en") for k, v in refused.items()} == {
        "depts": "“XXX” is not a department", "owner": "“shenjie” is not an active person who can take work"}
    table = Form([_field(PLAN)[0]])
    refused = validate_submission(table, {"plan_tasks": [{"title": "a", "owner": "nobody", "end": "2024-05-15"}]},
                                  bounds=bounds)
    assert refused[1] == {"plan_tasks": Msg("field.row_cell", row=1, column="责任人",
                                            problem=Msg("field.not_worker", given="nobody"))}
    assert str(refused[1]["plan_tasks"]) == "第 1 行，责任人：“nobody”不是可以接收任务的在职人员"


BOUNDED = ('id="plan_tasks" label="任务分解" type="table"><camunda:properties><camunda:property id="columns" '
           'value="title!:string:任务名称,start!:date:计划开始,end!:date:计划完成" />'
           '<camunda:property id="minDate.start" value="today" />'
           '<camunda:property id="minDate.end" value="start:计划开始" />'
           '<camunda:property id="maxDate.end" value="expected_date:期望完成时间" />'
           '<camunda:property id="maxDateUnless.end" value="late_reason" />'
           '</camunda:properties>')


def test_dates_are_bounded_by_today_other_fields_and_the_task_data():
    from datetime import date

    from engine.bpmn.form_bounds import Bounds

    form = Form([_field(BOUNDED)[0], _field('id="late_reason" label="晚于期望的原因" type="text">')[0],
                 _field('id="expected" type="date"><camunda:properties><camunda:property id="minDate" '
                        'value="today" /></camunda:properties>')[0]])
    bounds = Bounds(today=date(2026, 12, 7), data={"expected_date": "2026-12-20"})

    def errors(start: str, end: str, **more) -> dict:
        return validate_submission(form, {"plan_tasks": [{"title": "t", "start": start, "end": end}], **more},
                                   bounds=bounds)[1]

    assert errors("2026-12-07", "2026-12-20") == {}
    def english(found: dict) -> dict:
        return {k: v.text("en") for k, v in found.items()}

    assert errors("2026-12-06", "2026-12-20") == {"plan_tasks": Msg(
        "field.row_cell", row=1, column="计划开始", problem=Msg("field.before_today", day="2026-12-07"))}
    assert english(errors("2026-12-06", "2026-12-20")) == {
        "plan_tasks": "Row 1, 计划开始: Cannot be before today (7 Dec 2026)"}
    assert errors("2026-12-10", "2026-12-09") == {"plan_tasks": Msg(
        "field.row_cell", row=1, column="计划完成",
        problem=Msg("field.before_field", field="计划开始", day="2026-12-10"))}
    assert english(errors("2026-12-10", "2026-12-09")) == {
        "plan_tasks": "Row 1, 计划完成: Cannot be before “计划开始” (10 Dec 2026)"}
    late = errors("2026-12-10", "2026-12-21")
    assert late == {"plan_tasks": Msg("field.row_cell", row=1, column="计划完成", problem=Msg(
        "field.late_unless", problem=Msg("field.after_field", field="期望完成时间", day="2026-12-20"),
        reason_field="晚于期望的原因"))}
    assert str(late["plan_tasks"]) == \
        "第 1 行，计划完成：不能晚于“期望完成时间”（2026-12-20）；确需晚于时，请填写“晚于期望的原因”"
    assert english(late) == {"plan_tasks": "Row 1, 计划完成: Cannot be after “期望完成时间” (20 Dec 2026); "
                                           "if it must be later, give the reason in “晚于期望的原因”"}
    assert errors("2026-12-10", "2026-12-21", late_reason="供应商交期顺延") == {}
    assert errors("2026-12-07", "2026-12-20", expected="2026-12-06") == {
        "expected": Msg("field.before_today", day="2026-12-07")}
    # Without a date to compare with (no today, a field not filled), no bound applies.
    assert validate_submission(form, {"plan_tasks": [{"title": "t", "start": "2020-01-01", "end": "2030-01-01"}]})[
        1] == {}
def test_a_text_field_without_a_maxlength_takes_at_most_the_default():
    form = Form([FormField("note", "text"), FormField("code", "string", maxlength=5)])
    assert validate_submission(form, {"note": "字" * DEFAULT_MAX_LENGTH})[1] == {}
    assert validate_submission(form, {"note": "字" * (DEFAULT_MAX_LENGTH + 1)})[1] == {
        "note": Msg("field.too_long", most=DEFAULT_MAX_LENGTH)}
    refused = validate_submission(form, {"code": "123456"})[1]
    assert refused == {"code": Msg("field.too_long", most=5)}
    assert (str(refused["code"]), refused["code"].text("en")) == ("最多 5 个字", "At most 5 characters")


def test_a_json_body_gives_each_field_its_own_type():
    form = Form([FormField("title", "string"), FormField("hours", "long"), FormField("rate", "double"),
                 FormField("urgent", "boolean"), FormField("depts", "departments"), FormField("due", "date"),
                 FormField("rows", "table")])
    good = {"title": "采购", "hours": 3, "rate": 1.5, "urgent": False, "depts": ["PRD"], "due": "2026-11-02",
            "rows": [{"a": 1}], "unknown": 1}
    assert json_type_errors(form, good) == {}
    assert json_type_errors(form, {"title": None, "hours": None}) == {}  # null: left out
    assert json_type_errors(form, {"title": 8888, "hours": "3", "rate": True, "urgent": "yes", "depts": "PRD,SAL",
                                   "due": 20261102, "rows": [[1]]}) == {
        "title": Msg("json.not_text"), "hours": Msg("json.not_integer"), "rate": Msg("json.not_number"),
        "urgent": Msg("json.not_boolean"), "depts": Msg("json.not_ids"), "due": Msg("json.not_text"),
        "rows": Msg("json.not_rows")}
    assert {k: v.text("en") for k, v in json_type_errors(form, {"hours": "3", "rows": [[1]]}).items()} == {
        "hours": "Must be a whole number", "rows": "Must be a list of rows (objects)"}
