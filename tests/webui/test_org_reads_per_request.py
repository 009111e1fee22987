"""A page reads the organisation once, however many of its parts ask it."""

from __future__ import annotations

import pytest

from tests.db_trips import DatabaseTrips
from tests.webui.conftest import sign_in

PAGES = ["/inbox", "/requests/new", "/admin/org", "/dashboard"]


@pytest.fixture
def revision_reads(ctx):
    """The statements that read the organisation's revision, counted as the driver sends them (the
    reads on the command path's cursor too)."""
    trips = DatabaseTrips(ctx.db.engine)
    yield trips.statements(lambda s: "FROM revision" in s and s.lstrip().upper().startswith("SELECT"))
    trips.close()


@pytest.mark.parametrize("page", PAGES)
def test_a_page_reads_the_organisation_once(client, revision_reads, page):
    sign_in(client, "lijingli")
    revision_reads.clear()
    answer = client.get(page)
    assert answer.status_code == 200 and len(revision_reads) <= 1
