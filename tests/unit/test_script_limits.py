"""What scripts may build: each value they leave in task data, and the memory they use while running."""

from __future__ import annotations

import json
import time
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.scripting import MAX_VALUE_BYTES, SandboxEnvironment, SandboxViolation, create_script_engine
from engine.config import EngineConfig
from engine.sizes import data_size, resident_bytes
from tests.unit.test_scripting import DEFINITIONS, SCRIPT_PROCESS

MB = 1_000_000


def _workflow(script: str, data: dict | None = None, **limits) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(DEFINITIONS.format(body=SCRIPT_PROCESS.format(script=escape(script))).encode())
    workflow = BpmnWorkflow(parser.get_spec("Process_1"), script_engine=create_script_engine(**limits))
    workflow.task_tree.data.update(data or {})
    return workflow


def _refused(script: str, data: dict | None = None, **limits) -> str:
    """Run a script that must be refused: the script task errors and its data stays as it was."""
    workflow = _workflow(script, data, **limits)
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    task = info.value.task
    assert task.task_spec.bpmn_id == "Script_1" and task.state == TaskState.ERROR
    assert task.data == (data or {})  # nothing the script built reached the task data
    assert info.value.error_type == "SandboxViolation"
    return str(info.value)


def _runs(script: str, data: dict | None = None, **limits) -> dict:
    workflow = _workflow(script, data, **limits)
    workflow.do_engine_steps()
    assert workflow.is_completed()
    return workflow.get_next_task(spec_name="EndEvent_1").data


# --- each way of growing a value, each within the per-operation guards, all refused by the value limit

@pytest.mark.parametrize("script", [
    pytest.param("x = ['a' * 1000000] * 40", id="list repetition (40 MB of task data from 1 MB)"),
    pytest.param("x = 'ab' * 200000", id="string repetition"),
    pytest.param("x = ['a' * 1000 for _ in range(1000)]", id="comprehension"),
    pytest.param("x = ','.join(['abcd'] * 100000)", id="join"),
    pytest.param("x = ''\nfor i in range(500):\n    x += 'a' * 1000", id="string concatenation in a loop"),
    pytest.param("x = []\nfor i in range(500):\n    x = x + ['a' * 1000]", id="list concatenation in a loop"),
    pytest.param("x = []\nfor i in range(1000):\n    x.append('a' * 1000)", id="append in a loop"),
    pytest.param("x = {}\nfor i in range(1000):\n    x[str(i)] = 'a' * 1000", id="dict filled in a loop"),
    pytest.param("x = []\nx.append(x)", id="a list that contains itself"),
])
def test_each_way_of_growing_a_value_is_refused_naming_the_variable(script):
    expected = f"variable 'x' would take more than {MAX_VALUE_BYTES:,} bytes of task data (the limit for one value)"
    assert expected in _refused(script)


def test_a_list_already_in_the_task_data_grown_in_place_is_refused():
    assert "variable 'items'" in _refused("items.extend(['a' * 1000] * 500)", {"items": ["first"]})


def test_values_within_the_limit_pass_and_temporaries_may_be_larger():
    data = _runs("x = ['a' * 1000] * 100\nn = len('b' * 1000000)\nnote = '中' * 1000")
    assert len(data["x"]) == 100 and data["n"] == MB and len(data["note"]) == 1000


def test_the_value_limit_is_configurable_and_counts_utf8_bytes():
    assert _runs("x = 'a' * 2000", value_limit=3000)["x"] == "a" * 2000
    assert "3,000 bytes" in _refused("x = '中' * 1000", value_limit=3000)  # 3,002 bytes as UTF-8 JSON


def test_an_expression_result_is_bounded_too():
    env = SandboxEnvironment(value_limit=10_000)
    assert env.evaluate("len(['a' * 1000] * 1000) > 10", {}) is True
    with pytest.raises(SandboxViolation, match="the expression's result would take more than 10,000 bytes"):
        env.evaluate("['a' * 1000] * 1000", {})


def test_the_size_walk_stops_early_on_huge_repetitions():
    started = time.perf_counter()
    assert data_size([["a" * MB] * MB] * MB, 1000) > 1000  # a list of a million lists: refused unwalked
    assert time.perf_counter() - started < 0.05
    data = {"title": "采购申请" * 10, "items": [{"name": "a" * 50, "qty": 12, "ok": True}] * 20, "n": None}
    exact = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
    assert exact * 0.9 < data_size(data, 10**6) < exact * 1.1


# --- the memory ceiling: growth that keeps every value small, or never finishes

@pytest.mark.skipif(resident_bytes() is None, reason="no /proc/self/statm here")
@pytest.mark.parametrize("script", [
    pytest.param("x = []\nfor i in range(150):\n    x.append('a' * 1000000)\nx = len(x)", id="append in a loop"),
    pytest.param("x = len(['a' * 1000000 for _ in range(150)])", id="comprehension"),
    pytest.param("x = []\nfor i in range(150):\n    try:\n        x.append('a' * 1000000)\n"
                 "    except Exception:\n        pass\nx = len(x)", id="the refusal caught in the loop"),
])
def test_memory_growth_is_stopped_at_the_ceiling_long_before_the_time_limit(script):
    # Without the ceiling each of these holds 150 MB and then leaves a small number in the task data.
    started = time.thread_time()
    message = _refused(script, memory_limit=32 * MB, time_limit=5.0)
    assert "memory limit of 32,000,000 bytes exceeded" in message
    assert time.thread_time() - started < 1.0
    assert _runs("x = 1", memory_limit=32 * MB)["x"] == 1  # the next script starts afresh


def test_the_limits_are_settings_read_from_the_environment():
    env = {"XIEZUO_SCRIPT_VALUE_MAX_BYTES": "1000", "XIEZUO_SCRIPT_MEMORY_MAX_BYTES": "2000",
           "XIEZUO_COMMAND_MAX_BYTES": "3000"}
    config = EngineConfig.from_environ(env)
    assert (config.script_value_max_bytes, config.script_memory_max_bytes, config.command_max_bytes) == (
        1000, 2000, 3000)
    assert EngineConfig.from_environ({}).command_max_bytes == 1_000_000
