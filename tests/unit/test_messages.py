"""The engine's messages: one catalogue, every code in both languages, rendered by code; no sentence
composed in Chinese elsewhere in the engine."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from engine.errors import FormInvalid, InvalidInput
from engine.messages import MESSAGES, Msg
from engine.messages.build import catalog
from engine.messages.en import ENGLISH
from engine.messages.render import PO

ROOT = Path(__file__).parents[2]
CJK = re.compile(r"[\u3400-\u9fff]")
# Data, not messages: values stored and compared (statuses, urgencies, the six steps), the Excel
# templates' own cells, the word lists of the search and separators.
ALLOWED_FILES = {"engine/requests/export.py", "engine/knowledge/words.py"}
ALLOWED = {"普通", "紧急", "特急", "未开始", "进行中", "待支持", "已完成", "验收通过", "退回修改", "待验收", "已验收",
           "需求发起", "审核分派", "协调方案", "执行跟踪", "结果验收", "归档复盘", "、", "，", "；", "是", "否",
           "[,，、;；]", '">「', "」</a>", "工作日", "休息日", " 负责人 ", "  对接人 ", "红色预警 "}


def test_every_code_has_its_english_with_the_same_placeholders():
    names = re.compile(r"%\((\w+)\)s")
    assert sorted(set(MESSAGES) - set(ENGLISH)) == [] and sorted(set(ENGLISH) - set(MESSAGES)) == []
    assert {c: t for c, t in MESSAGES.items() if set(names.findall(t)) != set(names.findall(ENGLISH[c]))} == {}


def test_the_english_catalogue_is_current():
    from babel.messages.pofile import read_po

    with PO.open("rb") as f:
        stored = {(m.context, m.id, m.string) for m in read_po(f) if m.id}
    assert stored == {(m.context, m.id, m.string) for m in catalog() if m.id}  # python -m engine.messages.build


def test_errors_render_in_the_readers_language_and_time_zone():
    refused = InvalidInput("urge.too_soon", at="2026-11-05T02:00:00+00:00", again="2026-11-05T03:00:00+00:00")
    assert str(refused) == "已于 2026-11-05 10:00 催办，2026-11-05 11:00 起可再次催办"
    assert refused.text("en", "Europe/London") == \
        "Urged at 5 Nov 2026, 02:00; it can be urged again from 5 Nov 2026, 03:00"
    body = refused.to_dict("en", "Asia/Shanghai")
    assert (body["code"], body["message_code"], body["params"]["at"]) == \
        ("invalid_input", "urge.too_soon", "2026-11-05T02:00:00+00:00")


def test_field_messages_nest_and_name_the_diagrams_texts():
    form = FormInvalid({"plan": Msg("field.row_cell", row=2, column="计划完成", problem=Msg("field.required"))})
    assert form.field_texts() == {"plan": "第 2 行，计划完成：必填"}
    assert form.field_texts("en", diagram={"计划完成": "Planned end"}.get) == {"plan": "Row 2, Planned end: Required"}


def _literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs and CJK.search(n.value)]


def test_no_chinese_sentence_is_composed_outside_the_catalogue():
    found = {}
    for path in sorted((ROOT / "engine").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(("engine/messages/", "engine/db/migrations/")) or name in ALLOWED_FILES:
            continue
        texts = [t for t in _literals(path) if t not in ALLOWED]
        if texts:
            found[name] = texts
    assert found == {}


def test_the_web_has_no_regular_expressions_translating_the_engine():
    source = (ROOT / "webui" / "forms_render.py").read_text()
    assert "_MESSAGES" not in source and "def error_text" not in source
