"""Browser tests: the real app served on a free port, driven by Playwright in Debian's Chromium.

Chromium is installed with apt when missing (as root); Playwright's own browser download is not
used. Screenshots go to test-artifacts/ (linked from the README).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from werkzeug.serving import make_server

from engine.bpmn.deploy import deploy
from engine.config import EngineConfig
from engine.db.models import AppUser
from engine.org.accounts import set_password
from engine.org.importer import import_org, parse_yaml
from tests.scenarios.steps import REQUEST
from webui import create_app
from webui.config import WebConfig

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "xiezuo-demo"
# The served app runs on the real clock, so the dates a test types are counted from today in Beijing.
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()


def day(n: int) -> str:
    """The date `n` days from today (Beijing), as a date input takes it."""
    return (TODAY + timedelta(days=n)).isoformat()


# The demo request as filed today: it is due in two months (a date in the past is refused).
LIVE_REQUEST = {**REQUEST, "expected_date": day(60)}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        found = shutil.which("chromium")
    if not found:
        pytest.fail("Debian's chromium is needed for the browser tests: apt-get install -y chromium")
    _chinese_font()
    return found


def _chinese_font() -> None:
    """A font with Chinese glyphs (Debian's fonts-wqy-microhei, installed as root when none is there),
    so the screenshots show the pages' text; the tests themselves read text, not pixels."""
    listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True) if shutil.which("fc-list") \
        else None
    if listed is not None and listed.stdout.strip():
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "fonts-wqy-microhei"], capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium(), headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


def _buffered(app):
    """The app with each response body read whole before it is sent: when the browser drops a
    connection mid-file (leaving a page while an icon loads), werkzeug's development server skips
    closing the response, and the file it streamed would stay open (a ResourceWarning)."""
    def serve(environ, start_response):
        answer = app(environ, start_response)
        try:
            return [b"".join(answer)]
        finally:
            if hasattr(answer, "close"):
                answer.close()

    return serve


@pytest.fixture
def server(tmp_path):
    """The demo app (organisation, processes, passwords) on its own database, served on a free port."""
    config = WebConfig(engine=EngineConfig(database_url=f"sqlite:///{tmp_path / 'browser.db'}"),
                       secret_key="browser-test", instance_path=str(tmp_path / "instance"))
    app = create_app(config)
    ctx = app.extensions["xiezuo"]
    import_org(ctx, parse_yaml((ROOT / "demo" / "org.yaml").read_text("utf-8")), "setup", bootstrap=True)
    set_password(ctx, "xiaowang", PASSWORD, must_change=False)
    with ctx.db.write() as s:
        stored = s.get(AppUser, "xiaowang").password_hash
        s.execute(update(AppUser).values(password_hash=stored))
    deploy(ctx, {p.name: p.read_bytes() for p in (ROOT / "processes").glob("*.bpmn")}, "lijingli")
    http = make_server("127.0.0.1", 0, _buffered(app), threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}", ctx
    http.shutdown()
    ctx.db.dispose()


@pytest.fixture
def page(browser, server, request):
    # A desk's window; a test may ask for another width by parametrizing this fixture indirectly (390: a phone).
    width = getattr(request, "param", 1280)
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": width, "height": 900 if width > 600 else 844})
    tab = context.new_page()
    errors: list[str] = []
    # Script errors and Content-Security-Policy violations fail the test; an HTTP error status of a
    # page (a refused form answers 400) is the page's business and is checked by its assertions.
    tab.on("console", lambda m: errors.append(m.text)
           if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.base_url = server[0]
    yield tab
    context.close()
    assert errors == [], errors  # no script errors, no Content-Security-Policy violations


def sign_in(page, user: str) -> None:
    page.goto(f"{page.base_url}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{page.base_url}/inbox")


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
