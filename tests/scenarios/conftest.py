"""Scenario fixtures: the demo organisation, both product diagrams deployed, and a driver
(tests.scenarios.driver.Flow). After every scenario every audit chain must verify and every instance
must replay from its record to the state stored."""

from __future__ import annotations

import pytest

from engine.audit.replay import replay_check
from engine.audit.verify import verify_all
from tests.scenarios.driver import MONDAY, Flow, set_up_org


@pytest.fixture
def org(ctx):
    """The demo organisation imported and both product diagrams deployed."""
    return set_up_org(ctx)


@pytest.fixture
def flow(org, clock):
    """A driver on the demo organisation; the clock starts on an ordinary Monday morning in Beijing."""
    clock.now = MONDAY
    yield Flow(org, clock)
    assert verify_all(org)["problems"] == []
    replayed = replay_check(org)  # every instance the scenario left behind, re-executed from its record
    assert replayed["mismatches"] == [], [(m["business_key"], m["problems"][:5]) for m in replayed["mismatches"]]
