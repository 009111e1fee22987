"""Deploy-time checks of timer expressions: bare ISO 8601 values are refused, names of process data
and calls of the engine's functions are not (whatever letter they start with)."""

from __future__ import annotations

import pytest
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)

from engine.bpmn.validate import check_timer_expression


@pytest.mark.parametrize(("kind", "expression"), [
    (DurationTimerEventDefinition, "PT24H"), (DurationTimerEventDefinition, "P1DT2H"),
    (DurationTimerEventDefinition, "P3D"), (CycleTimerEventDefinition, "R/PT24H"),
    (CycleTimerEventDefinition, "R3/PT1H")])
def test_an_unquoted_iso_value_is_refused_with_the_quoted_form(kind, expression):
    assert check_timer_expression(kind("t", expression)) == (
        f"timer expression {expression!r} is not quoted; timer expressions are Python, write \"{expression}\"")


@pytest.mark.parametrize(("kind", "expression"), [
    (TimeDateEventDefinition, "response_due(urgency)"), (TimeDateEventDefinition, "reminder_at"),
    (TimeDateEventDefinition, "Plan_end"), (TimeDateEventDefinition, "due"),
    (DurationTimerEventDefinition, '"PT24H"'), (CycleTimerEventDefinition, '"R/P7D"'),
    (TimeDateEventDefinition, "before(plan_task['end'], 'P3D')")])
def test_data_names_and_function_calls_are_left_to_run_time(kind, expression):
    assert check_timer_expression(kind("t", expression)) is None
