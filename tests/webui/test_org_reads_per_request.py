"""A page reads the organisation once, however many of its parts ask it."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from tests.webui.conftest import sign_in

PAGES = ["/inbox", "/requests/new", "/admin/org", "/dashboard"]


@pytest.fixture
def revision_reads(ctx):
    """The statements that read the organisation's revision, counted as the database is sent them."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_rest):
        if "FROM revision" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)
    event.listen(ctx.db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(ctx.db.engine, "before_cursor_execute", count)


@pytest.mark.parametrize("page", PAGES)
def test_a_page_reads_the_organisation_once(client, revision_reads, page):
    sign_in(client, "lijingli")
    revision_reads.clear()
    answer = client.get(page)
    assert answer.status_code == 200 and len(revision_reads) <= 1
