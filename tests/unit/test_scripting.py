"""The script sandbox: through real SpiffWorkflow workflows and on the environment directly."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from types import FrameType
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.bpmn import scripting
from engine.bpmn.scripting import (
    SandboxEnvironment,
    SandboxViolation,
    check_source,
    create_script_engine,
)

DEFINITIONS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Definitions_1"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="Process_1" isExecutable="true">
{body}
  </bpmn:process>
</bpmn:definitions>
"""

SCRIPT_PROCESS = """
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Script_1"/>
    <bpmn:scriptTask id="Script_1" scriptFormat="python">
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Script_1" targetRef="EndEvent_1"/>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
"""

GATEWAY_PROCESS = """
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Script_1"/>
    <bpmn:scriptTask id="Script_1" scriptFormat="python">
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>
      <bpmn:script>amount = {amount}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Script_1" targetRef="Gateway_1"/>
    <bpmn:exclusiveGateway id="Gateway_1" default="Flow_Low">
      <bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:outgoing>Flow_High</bpmn:outgoing><bpmn:outgoing>Flow_Low</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="Flow_High" sourceRef="Gateway_1" targetRef="Script_High">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_Low" sourceRef="Gateway_1" targetRef="Script_Low"/>
    <bpmn:scriptTask id="Script_High" scriptFormat="python">
      <bpmn:incoming>Flow_High</bpmn:incoming><bpmn:outgoing>Flow_3</bpmn:outgoing>
      <bpmn:script>route = 'high'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:scriptTask id="Script_Low" scriptFormat="python">
      <bpmn:incoming>Flow_Low</bpmn:incoming><bpmn:outgoing>Flow_4</bpmn:outgoing>
      <bpmn:script>route = 'low'</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Script_High" targetRef="EndEvent_1"/>
    <bpmn:sequenceFlow id="Flow_4" sourceRef="Script_Low" targetRef="EndEvent_1"/>
    <bpmn:endEvent id="EndEvent_1">
      <bpmn:incoming>Flow_3</bpmn:incoming><bpmn:incoming>Flow_4</bpmn:incoming>
    </bpmn:endEvent>
"""


def make_workflow(body: str, time_limit: float = 1.0, services: dict | None = None) -> BpmnWorkflow:
    """Parse an inline process and return a workflow running on the sandboxed engine."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(DEFINITIONS.format(body=body).encode())
    engine = create_script_engine(time_limit=time_limit, services=services)
    return BpmnWorkflow(parser.get_spec("Process_1"), script_engine=engine)


def run_script(script: str, time_limit: float = 1.0, services: dict | None = None) -> dict:
    """Run a one-script-task process to completion and return the end task's data."""
    workflow = make_workflow(SCRIPT_PROCESS.format(script=escape(script)), time_limit, services)
    workflow.do_engine_steps()
    assert workflow.is_completed()
    return workflow.get_next_task(spec_name="EndEvent_1").data


def refused_in_workflow(script: str, time_limit: float = 1.0) -> WorkflowTaskException:
    """Run a script that must fail and return the exception SpiffWorkflow raised."""
    with pytest.raises(WorkflowTaskException) as info:
        run_script(script, time_limit)
    assert info.value.task.task_spec.bpmn_id == "Script_1"
    return info.value


def run_gateway(amount: int, condition: str = "amount > 100") -> BpmnWorkflow:
    """Run the gateway process with the given amount and condition."""
    workflow = make_workflow(GATEWAY_PROCESS.format(amount=amount, condition=escape(condition)))
    workflow.do_engine_steps()
    return workflow


# --- through SpiffWorkflow ------------------------------------------------------------------

def test_script_task_computes_values_into_task_data() -> None:
    data = run_script(
        "items = [{'price': 2.5, 'qty': 4}, {'price': 10, 'qty': 1}]\n"
        "total = sum(i['price'] * i['qty'] for i in items)\n"
        "names = sorted({'b', 'a'})\n"
        "due = date(2024, 1, 31) + timedelta(days=1)\n"
        "label = f'{total:.2f} EUR'\n"
    )
    assert data["total"] == 20.0
    assert data["names"] == ["a", "b"]
    assert data["due"].isoformat() == "2024-02-01"
    assert data["label"] == "20.00 EUR"


@pytest.mark.parametrize(("amount", "route"), [(150, "high"), (50, "low")])
def test_exclusive_gateway_condition_is_evaluated_in_the_sandbox(amount: int, route: str) -> None:
    workflow = run_gateway(amount)
    assert workflow.is_completed()
    assert workflow.get_next_task(spec_name="EndEvent_1").data["route"] == route


def test_refused_gateway_condition_names_the_gateway() -> None:
    with pytest.raises(WorkflowTaskException) as info:
        run_gateway(150, "getattr(amount, '__class__')")
    assert info.value.task.task_spec.bpmn_id == "Gateway_1"
    assert isinstance(info.value.__context__, SandboxViolation)
    assert "__class__" in str(info.value.__context__)


@pytest.mark.parametrize(("script", "expected"), [
    ("data = open('/etc/passwd').read()", "name 'open' is not defined"),
    ("import os", "import is not allowed"),
    ("from os import path", "import is not allowed"),
    ("x = __import__('os')", '"__import__" is an invalid variable name'),
    ("x = ().__class__.__base__.__subclasses__()", '"__class__" is an invalid attribute name'),
    ("x = getattr((), '__class__')", "access to attribute '__class__' is not allowed"),
    ("x = type(1)", "name 'type' is not defined"),
    ("x = vars()", "name 'vars' is not defined"),
    ("x = globals()", "name 'globals' is not defined"),
    ("x = eval('1')", "Eval calls are not allowed"),
    ("exec('x = 1')", "Exec calls are not allowed"),
    ("x = compile('1', 'f', 'eval')", "name 'compile' is not defined"),
    ("class Evil:\n    pass", "class definitions are not allowed"),
    ("x = '{0.__class__}'.format(1)", "format() is not allowed"),
])
def test_forbidden_operations_fail_the_script_task(script: str, expected: str) -> None:
    exc = refused_in_workflow(script)
    assert expected in str(exc)


def test_infinite_loop_is_stopped_by_the_time_limit() -> None:
    started = time.monotonic()
    exc = refused_in_workflow("while True: pass", time_limit=0.2)
    assert time.monotonic() - started < 3
    assert "time limit of 0.2 s exceeded" in str(exc)
    assert exc.error_type == "SandboxViolation"


def test_time_limit_error_cannot_be_swallowed_by_except_or_finally() -> None:
    script = (
        "while True:\n"
        "    try:\n"
        "        while True:\n"
        "            pass\n"
        "    except BaseException:\n"
        "        pass\n"
        "    finally:\n"
        "        x = 1\n"
    )
    started = time.monotonic()
    exc = refused_in_workflow(script, time_limit=0.2)
    assert time.monotonic() - started < 3
    assert "time limit" in str(exc)


@pytest.mark.parametrize("script", [
    "x = 'a' * 10**9",
    "x = [0] * 10**9",
    "x = 2 ** 10**9",
    "x = 1 << 10**9",
    "x = list(range(10**9))",
])
def test_huge_allocations_fail_the_script_task_quickly(script: str) -> None:
    started = time.monotonic()
    exc = refused_in_workflow(script)
    assert time.monotonic() - started < 0.5
    assert "refused to build a result" in str(exc)


def test_syntax_error_reports_the_line() -> None:
    exc = refused_in_workflow("x = 1\ny = (\n")
    assert exc.line_number == 2
    assert "Line 2" in str(exc)


def test_services_are_callable_and_script_functions_stay_out_of_task_data() -> None:
    sent: list[tuple[str, int]] = []

    def notify(message: str, count: int = 1) -> str:
        sent.append((message, count))
        return "queued"

    data = run_script(
        "def double(n):\n    return n * 2\n"
        "status = notify('hello', count=double(2))\nsquare = lambda v: v * v\n",
        services={"notify": notify},
    )
    assert sent == [("hello", 4)]
    assert data["status"] == "queued"
    assert "double" not in data and "square" not in data and "notify" not in data


# --- the environment directly ---------------------------------------------------------------

@pytest.fixture
def env() -> SandboxEnvironment:
    return SandboxEnvironment(time_limit=0.5)


def test_create_script_engine_uses_the_sandbox() -> None:
    engine = create_script_engine(time_limit=0.3, services={"f": len})
    assert isinstance(engine, PythonScriptEngine)
    assert isinstance(engine.environment, SandboxEnvironment)
    assert engine.environment.time_limit == 0.3
    assert engine.environment.globals == {"f": len}


def test_evaluate_reads_task_data_and_external_context(env: SandboxEnvironment) -> None:
    assert env.evaluate("amount * 2 if approved else 0", {"amount": 21, "approved": True}) == 42
    assert env.evaluate("limit - used", {"used": 3}, {"limit": 10}) == 7
    assert env.evaluate("x", {"x": "task"}, {"x": "external"}) == "task"
    assert env.evaluate("math.floor(2.7) + abs(-1)", {}) == 3
    assert env.evaluate("Decimal('0.1') + Decimal('0.2')", {}) == Decimal("0.3")
    assert env.evaluate("isinstance(Decimal('1'), Decimal)", {}) is True
    assert env.evaluate("datetime(2024, 1, 1, tzinfo=timezone.utc).year", {}) == 2024


def test_execute_applies_new_changed_and_deleted_variables(env: SandboxEnvironment) -> None:
    data = {"count": 1, "tmp": "x", "items": [1]}
    assert env.execute("count += 1\nitems.append(2)\ndel tmp\nnew = {'a': [1, 2]}\nprint('hi')", data) is True
    assert data == {"count": 2, "items": [1, 2], "new": {"a": [1, 2]}}


def test_execute_keeps_functions_external_names_and_services_out_of_task_data() -> None:
    env = SandboxEnvironment(services={"lookup": lambda key: key.upper()})
    data: dict = {}
    script = "def helper():\n    return 1\nvalue = lookup('k') + str(helper() + offset)"
    env.execute(script, data, {"offset": 1})
    assert data == {"value": "K2"}


def test_execute_refuses_task_data_that_shadows_a_service() -> None:
    env = SandboxEnvironment(services={"notify": print})
    with pytest.raises(ValueError, match="notify"):
        env.execute("x = 1", {"notify": "oops"})


def test_failed_script_leaves_task_data_unchanged(env: SandboxEnvironment) -> None:
    data = {"a": 1}
    with pytest.raises(ZeroDivisionError):
        env.execute("a = 2\nb = 3\nc = 1 / 0", data)
    assert data == {"a": 1}


@pytest.mark.parametrize("script", [
    "x = 'x'.ljust(10**9)",
    "x = f'{1:>1000000000}'",
    "x = '%1000000000d' % 1",
    "x = '%*d' % (10, 1)",
    "x = ','.join(['a' * 1000] * 10000)",
    "x = ('a' * 1000).replace('a', 'b' * 10000)",
    "s = 'a'\ns *= 10**9",
    "x = (1).to_bytes(10**9, 'big')",
    "x = str.ljust('a', 10**9)",
    "x = sum([[1]] * 10, [])",
    "x = round(5, -10**9)",
    "x = Decimal('1e1000000')",
    "x = 2 ** (10**5000)",
])
def test_size_guards_refuse_before_allocating(env: SandboxEnvironment, script: str) -> None:
    started = time.monotonic()
    with pytest.raises(SandboxViolation):
        env.execute(script, {})
    assert time.monotonic() - started < 0.5


def test_size_guards_leave_normal_operations_alone(env: SandboxEnvironment) -> None:
    data: dict = {}
    env.execute(
        "a = 'ab' * 3 + 'c'\nb = [0] * 3\nc = 2 ** 10\nd = 1 << 4\ne = '%05d|%s' % (42, 'x')\n"
        "f = ', '.join(['x', 'y'])\ng = '7'.zfill(3)\nh = f'{3.14159:.2f}|{\"q\"!r:>5}'\n"
        "i = round(2.567, 2)\n"
        "j = (258).to_bytes(2, 'big')\nk = sum(range(5))", data)
    assert data == {"a": "abababc", "b": [0, 0, 0], "c": 1024, "d": 16, "e": "00042|x", "f": "x, y",
                    "g": "007", "h": "3.14|  'q'", "i": 2.57, "j": b"\x01\x02", "k": 10}


def test_getattr_is_guarded_but_usable(env: SandboxEnvironment) -> None:
    assert env.evaluate("getattr(d, 'get')('k')", {"d": {"k": 1}}) == 1
    assert env.evaluate("getattr([], 'missing', 'dflt')", {}) == "dflt"
    with pytest.raises(SandboxViolation, match="__dict__"):
        env.evaluate("getattr(math, '__dict__')", {})
    with pytest.raises(AttributeError):
        env.evaluate("[].missing", {})


def test_writes_to_shared_objects_are_refused(env: SandboxEnvironment) -> None:
    with pytest.raises(TypeError):
        env.execute("math.floor = None", {})
    assert env.evaluate("math.floor(1.5)", {}) == 1


def test_time_limit_stops_loops_recursion_and_generators(env: SandboxEnvironment) -> None:
    for script in ("while True: pass",
                   "def f(n):\n    return f(n - 1) + f(n - 1) if n else 0\nx = f(60)",
                   "def g():\n    while True:\n        yield 1\nx = sum(g())"):
        started = time.monotonic()
        with pytest.raises(SandboxViolation, match="time limit of 0.5 s exceeded"):
            env.execute(script, {})
        assert time.monotonic() - started < 3


def test_time_limit_works_in_a_worker_thread() -> None:
    env = SandboxEnvironment(time_limit=0.2)

    def loop() -> str:
        try:
            env.execute("while True:\n    x = 1", {})
        except SandboxViolation as exc:
            return f"{threading.current_thread().name}: {exc}"
        return "not stopped"

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="worker") as pool:
        result = pool.submit(loop).result(timeout=5)
    assert result.startswith("worker") and "time limit of 0.2 s exceeded" in result


def test_previous_trace_function_is_restored(env: SandboxEnvironment) -> None:
    def marker(frame: FrameType, event: str, arg: object) -> None:
        return None

    previous = sys.gettrace()
    sys.settrace(marker)
    try:
        env.evaluate("1 + 1", {})
        with pytest.raises(SandboxViolation):
            env.execute("while True: pass", {})
        assert sys.gettrace() is marker
    finally:
        sys.settrace(previous)


def test_compiled_code_and_compile_errors_are_cached(env: SandboxEnvironment) -> None:
    before = scripting._compile.cache_info().hits
    for value in range(5):
        assert env.evaluate("value > 2", {"value": value}) == (value > 2)
    assert scripting._compile.cache_info().hits >= before + 4
    errors = []
    for _ in range(2):
        with pytest.raises(SandboxViolation) as info:
            env.execute("import os", {})
        errors.append(info.value)
    assert errors[0] is not errors[1]  # a fresh exception each time, so tracebacks do not pile up
    assert str(errors[0]) == str(errors[1]) == "Line 1: import is not allowed in scripts"


def test_syntax_errors_become_syntax_error_with_line(env: SandboxEnvironment) -> None:
    with pytest.raises(SyntaxError) as info:
        env.execute("a = 1\nb = 2\nc = (\n", {})
    assert info.value.lineno == 3
    assert "Line 3" in str(info.value)
    with pytest.raises(SyntaxError, match="Line 1"):
        env.evaluate("amount >", {"amount": 1})


def test_check_source() -> None:
    assert check_source("total = sum(x * 2 for x in values)") is None
    assert check_source("amount > 100 and status == 'open'", "eval") is None
    assert check_source("x = 1\nif x\n    y = 2") == "Line 2: SyntaxError: expected ':' at statement: 'if x'"
    assert check_source("x = 1\nimport os") == "Line 2: import is not allowed in scripts"
    assert check_source("__import__('os')").startswith('Line 1: "__import__" is an invalid variable name')
    assert check_source("_secret = 1").startswith('Line 1: "_secret" is an invalid variable name')
    assert check_source("x = 1", "eval").startswith("Line 1: SyntaxError")


def test_check_source_does_not_leak_warnings_about_user_code() -> None:
    # pytest runs with -W error: these would raise if the compile warnings escaped.
    assert check_source("x = '\\d'") is None
    assert check_source("print('hello')") is None
    assert check_source("x = 1 is 1") is None


def test_the_time_limit_counts_the_scripts_own_work_not_waiting_or_a_busy_machine() -> None:
    """A script that waits on a service (a database read) or shares the CPU with busy threads is not
    stopped: the limit is on the thread's CPU time; a loop still is."""
    env = SandboxEnvironment(time_limit=0.1, services={"slow_read": lambda: time.sleep(0.3) or 7})
    assert env.evaluate("slow_read() + 1", {}) == 8
    stop = threading.Event()

    def burn() -> None:
        while not stop.is_set():
            sum(range(1000))

    busy = [threading.Thread(target=burn) for _ in range(3)]
    for t in busy:
        t.start()
    try:
        assert env.execute("total = 0\nfor i in range(2000):\n    total = total + i", {"total": 0})
        with pytest.raises(SandboxViolation, match="time limit of 0.1 s exceeded"):
            env.execute("while True: pass", {})
    finally:
        stop.set()
        for t in busy:
            t.join()


def test_a_collection_the_script_happens_to_trigger_is_not_its_time():
    import gc

    from engine.bpmn.script_clock import script_cpu, watch_collections

    watch_collections()
    heap = [[i] for i in range(400_000)]  # a large heap: a full collection takes a while
    before, started = script_cpu(), time.thread_time()
    for _ in range(5):
        gc.collect()
    spent = time.thread_time() - started
    assert spent > 0.01 and script_cpu() - before < spent / 2
    del heap
