"""Browser test: a department head opens the dashboard and the bottleneck heat map after a scenario
run (two requests carried through the engine services on a hand-moved clock) and reads the numbers
of those requests in the charts' tables and on the diagram. Screenshots: test-artifacts/dashboard.png
and test-artifacts/heatmap.png."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import update
from werkzeug.serving import make_server

from engine.config import EngineConfig
from engine.db.models import AppUser
from engine.org.accounts import set_password
from tests.browser.conftest import PASSWORD, shot, sign_in
from tests.conftest import FakeClock
from tests.scenarios.driver import MONDAY, Flow, set_up_org
from tests.scenarios.steps import PMO_OWNER, REQUEST, REQUESTER
from webui import create_app
from webui.config import WebConfig


@pytest.fixture
def server(tmp_path):
    """The demo app on a clock the test moves, with two requests: one rejected after a 2-hour review,
    one dispatched to 市场部 whose head has not confirmed it for 30 hours (overdue)."""
    clock = FakeClock(MONDAY)
    config = WebConfig(engine=EngineConfig(database_url=f"sqlite:///{tmp_path / 'browser.db'}", clock=clock),
                       secret_key="browser-test", instance_path=str(tmp_path / "instance"))
    app = create_app(config)
    ctx = set_up_org(app.extensions["xiezuo"])
    set_password(ctx, "xiaowang", PASSWORD, must_change=False)
    with ctx.db.write() as s:
        stored = s.get(AppUser, "xiaowang").password_hash
        s.execute(update(AppUser).values(password_hash=stored))
    signoff = {"signoff_decision": "同意", "signoff_comment": "同意"}
    rejected = Flow(ctx, clock)
    rejected.submit(REQUESTER, {**REQUEST, "title": "被拒绝的需求"})
    clock.advance(hours=1)
    rejected.complete("dept_head_signoff", signoff)
    clock.advance(hours=2)
    rejected.complete("admin_review", {"review_decision": "拒绝", "review_comment": "不可行"})
    waiting = Flow(ctx, clock)
    waiting.submit(REQUESTER, REQUEST)
    clock.advance(hours=3)
    waiting.complete("dept_head_signoff", signoff)
    clock.advance(hours=4)
    waiting.complete("admin_review", {"review_decision": "通过", "review_comment": "可行"})
    waiting.complete("dispatch_lead", {"lead_dept": "MKT", "pmo_owner": PMO_OWNER, "dispatch_note": "请牵头"},
                     as_user=PMO_OWNER)
    clock.advance(hours=30)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}", ctx
    http.shutdown()
    ctx.db.dispose()


def column(page, section: str, key: str) -> list[str]:
    return page.locator(f'#{section} td[data-key="{key}"]').all_inner_texts()


def test_a_department_head_reads_the_dashboard_and_the_heat_map(page, server):
    sign_in(page, "chenzongjian")  # head of 产品部, involved in both requests
    page.click('nav.main a[data-nav="dashboard"]')
    page.wait_for_url(f"{page.base_url}/dashboard")
    for chart in ("open_overdue", "step_times", "sla", "matrix"):
        page.wait_for_selector(f'[data-chart="{chart}"][data-ready="true"] canvas')
    assert column(page, "open_overdue", "department") == ["市场部"]
    assert (column(page, "open_overdue", "open"), column(page, "open_overdue", "overdue")) == (["1"], ["1"])
    # sign-offs 1 h and 3 h; review and dispatch: the rejected one 2 h, the other 4 h until dispatched
    assert column(page, "step_times", "requests") == ["2", "1", "0", "0", "0", "0"]
    assert column(page, "step_times", "avg_hours")[:2] == ["2.0", "2.0"]
    assert column(page, "step_times", "p90_hours")[:2] == ["3.0", "2.0"]
    assert (column(page, "sla", "label"), column(page, "sla", "due"), column(page, "sla", "on_time")) == (
        ["紧急"], ["4"], ["4"])
    assert column(page, "matrix", "requests") == ["2", "2", "2"]
    shot(page, "dashboard")

    page.click("text=瓶颈热力图")
    page.wait_for_selector("#diagram.ready")
    review = page.locator('.heat-label[data-element="admin_review"]')
    assert (review.get_attribute("data-count"), review.get_attribute("data-avg")) == ("2", "3.0")
    assert "平均 3.0 / 90分位 4.0 小时 · 2次" in review.inner_text()
    assert page.locator('.flow-label[data-flow="f_review_reject"]').inner_text() == "×1"
    assert page.locator('.flow-label[data-flow="f_signoff"]').inner_text() == "×2"
    assert page.locator('#heatmap-tasks tr[data-element="dept_head_signoff"] td[data-key="avg_hours"]').inner_text() \
        == "2.0"
    shot(page, "heatmap")
