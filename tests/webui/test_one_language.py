"""One language at a time: each role signs in, opens every page its navigation reaches and the pages
those link to (a request, its tasks, its history and replay, a knowledge entry...), in Chinese and in
English, and no page shows an ISO timestamp, a department code, a form field's id, or chrome in the
other language. What people typed (names, departments, a request's texts, a diagram's own words) is
theirs and exempt."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from lxml import etree
from lxml import html as lxml_html
from sqlalchemy import select

from engine.db.models import AppUser, AuditEvent, Department, Notification
from tests.scenarios import steps
from tests.scenarios.driver import MONDAY, Flow, reloaded_state
from tests.webui.conftest import ROOT, csrf_of, sign_in

ROLES = ("xiaowang", "zhangzongjian", "songyu", "lijingli", "shenjie")
ISO_MOMENT = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff01-\uff5e]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*(?:-[A-Za-z]+)*")
# Latin words a Chinese page may show: the brand, the language switch, names of formats and standards
LATIN_IN_CHINESE = {"Xiezuo", "English", "BPMN", "DMN", "PMO", "XMBG", "CSV", "PDF", "Excel", "JSON", "API", "URL",
                    "SHA", "Token", "Webhook", "SMTP", "Markdown", "KB", "MB", "bpmn", "io", "RACI", "YAML", "Office",
                    "Camunda", "Modeler", "Bearer", "Authorization", "UTC"}
PAGES_PER_READER = 80
SKIP = ("/logout", "/static/", "/language/", ".csv", ".json", "/download", "/export", "/files/", "/api/")
TEXT_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


@pytest.fixture
def flow(ctx, clock):
    clock.now = MONDAY
    return Flow(ctx, clock)


def _typed(ctx, flow) -> set[str]:
    """What people typed and the organisation's own names: exempt from the language check."""
    found: set[str] = set()

    def walk(value):
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    with ctx.db.read() as s:
        found |= set(s.scalars(select(AppUser.display_name))) | set(s.scalars(select(Department.name)))
        found |= {m for m in s.scalars(select(Notification.message).where(Notification.code.is_(None))) if m}
        for data in s.scalars(select(AuditEvent.data).where(AuditEvent.instance_id == flow.instance_id)):
            walk(json.loads(data).get("data"))
    state = reloaded_state(ctx, flow.instance_id)
    for workflow in (state, *state["subprocesses"].values()):
        walk(workflow["data"])
        for task in workflow["tasks"].values():
            walk(task["data"])
    return {t.strip() for t in found if t and t.strip()}


def _texts(page: str) -> list[str]:
    """The page's words a reader sees: texts and the attributes read out (not the markup's own values),
    leaving out what the page marks as not to be translated (codes and names people typed, file names)
    or as in a language of its own (the language switch)."""
    tree = lxml_html.fromstring(page)
    for dropped in tree.xpath("//script|//style|//template|//noscript|//*[@translate='no']|//body//*[@lang]"):
        dropped.drop_tree()
    found = [t for t in tree.xpath("//body//text()")]
    for name in TEXT_ATTRIBUTES:
        found += tree.xpath(f"//body//@{name}")
    found += tree.xpath("//body//input[@type='submit' or @type='button']/@value")
    return [t.strip() for t in found if t.strip() and not t.strip().startswith(("http://", "https://"))]


def _links(page: str) -> list[str]:
    tree = lxml_html.fromstring(page)
    return [h for h in tree.xpath("//a/@href") if h.startswith("/") and not any(s in h for s in SKIP)]


def _problems(page: str, language: str, typed: set[str], codes: set[str], field_ids: set[str]) -> list[str]:
    found = []
    for text in _texts(page):
        rest = text
        for each in sorted((t for t in typed if t in rest), key=len, reverse=True):
            rest = rest.replace(each, " ")
        if ISO_MOMENT.search(rest):
            found.append(f"ISO moment: {text!r}")
        for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", rest):
            if word in codes:
                found.append(f"department code {word}: {text!r}")
            if word in field_ids:
                found.append(f"field id {word}: {text!r}")
        if language == "en" and CJK.search(rest):
            found.append(f"Chinese on an English page: {text!r}")
        if language == "zh":
            strays = [w for w in LATIN_WORD.findall(rest) if len(w) > 2 and w not in LATIN_IN_CHINESE]
            if strays:
                found.append(f"English on a Chinese page: {text!r}")
    return found


def test_every_page_speaks_one_language_and_names_things(app, ctx, flow):
    steps.to_execution(flow)
    owner = steps.PLAN[0]["owner"]
    flow.complete("execute_task", {**steps.SUBMIT_WORK, "deliverable_summary": "海报3张已交付"}, assignee=owner)
    flow.advance(hours=30)  # urges, reminders
    typed = _typed(ctx, flow)
    with ctx.db.read() as s:
        codes = set(s.scalars(select(Department.id))) - {"PMO"}  # PMO is also the department's name
    field_ids = {f for path in (ROOT / "processes").glob("*.bpmn")
                 for f in etree.parse(str(path)).xpath("//*[local-name()='formField']/@id") if "_" in f}
    report, reached = [], set()
    for user in ROLES:
        for language in ("zh", "en"):
            client = app.test_client()
            sign_in(client, user)
            inbox = client.get("/inbox").get_data(as_text=True)
            client.post(f"/language/{language}", data={"csrf_token": csrf_of(inbox), "next": "/inbox"})
            seen, queue = set(), ["/inbox"]
            while queue and len(seen) < PAGES_PER_READER:
                url = queue.pop(0)
                path = urlsplit(url).path
                if path in seen:
                    continue
                seen.add(path)
                answer = client.get(url)
                if answer.status_code != 200 or answer.mimetype != "text/html":
                    continue
                page = answer.get_data(as_text=True)
                reached.add(re.sub(r"/[0-9a-f-]{36}", "/<id>", path))
                report += [f"{user} {language} {path}: {p}" for p in _problems(page, language, typed, codes, field_ids)]
                queue += [u for u in _links(page) if urlsplit(u).path not in seen]
    assert report == [], "\n".join(report)
    # the walk reached the pages people work on, not only the navigation
    assert {"/inbox", "/requests/<id>", "/tasks/<id>", "/notifications", "/settings", "/knowledge", "/dashboard",
            "/audit/requests/<id>/history", "/audit/requests/<id>/replay", "/admin/org", "/admin/calendar",
            "/modeller"} <= reached, sorted(reached)
