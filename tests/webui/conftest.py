"""Web tests: the app on a fresh database with the demo organisation; every demo user's password is known."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import update

from engine.bpmn.deploy import deploy
from engine.config import EngineConfig
from engine.db.models import AppUser
from engine.org.accounts import set_password
from engine.org.importer import import_org, parse_yaml
from webui import create_app
from webui.config import WebConfig

ROOT = Path(__file__).parents[2]
PASSWORD = "xiezuo-demo"


@pytest.fixture
def app(db_url, clock, tmp_path, request):
    # A test may set engine settings by parametrizing this fixture indirectly with a dict of them.
    engine = EngineConfig(database_url=db_url, clock=clock, script_time_limit=2.0, **getattr(request, "param", {}))
    config = WebConfig(engine=engine,
                       secret_key="test-secret", testing=True, instance_path=str(tmp_path / "instance"))
    app = create_app(config)
    ctx = app.extensions["xiezuo"]
    data = parse_yaml((ROOT / "demo" / "org.yaml").read_text("utf-8"))
    import_org(ctx, data, "setup", bootstrap=True)
    # One argon2 hash (deliberately slow) serves every demo user: same password, same check.
    set_password(ctx, "xiaowang", PASSWORD, must_change=False)
    with ctx.db.write() as s:
        stored = s.get(AppUser, "xiaowang").password_hash
        s.execute(update(AppUser).values(password_hash=stored))
    deploy(ctx, {p.name: p.read_bytes() for p in (ROOT / "processes").glob("*.bpmn")}, "lijingli")
    yield app
    ctx.db.dispose()


@pytest.fixture
def ctx(app):
    return app.extensions["xiezuo"]


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client, user: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"username": user, "password": password,
                                       "csrf_token": csrf_of(page.get_data(as_text=True))})
