"""Deploy-time validation: every problem names its file, element id and line; nothing is stored."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from engine.bpmn.forms import Form, form_from_xml
from engine.bpmn.parser import CAMUNDA_NS, UserTask, XiezuoParser
from engine.bpmn.safe_xml import parse_bpmn_bytes
from engine.bpmn.scripting import SandboxEnvironment, check_source
from engine.errors import InvalidProcess, Problem

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
RESERVED_IDS = {"Start", "End"}  # SpiffWorkflow names its own internal tasks so
# A bare ISO 8601 duration or recurrence Python reads as a name: PT24H, P3D, P1DT2H, R, R3 (of R3/PT1H).
_ISO_NAME = re.compile(r"R\d*|P(\d+[YMWD])*(T(\d+(\.\d+)?[HMS])+)?")
_PLACEHOLDER = re.compile(r"\$\{(.*?)\}")


@dataclass
class ParsedDeployment:
    """What a valid set of files yields: the parser, and each file's root and bytes."""

    parser: XiezuoParser
    files: dict[str, bytes]
    roots: dict[str, etree._Element]
    process_files: dict[str, str] = field(default_factory=dict)  # process id -> filename
    specs: dict[str, tuple] = field(default_factory=dict)  # process id -> (spec, subprocess specs)
    start_forms: dict[str, Form] = field(default_factory=dict)  # process id -> its start event's form


class _Where:
    """Finds the file and line of an element id across the deployment's files."""

    def __init__(self, roots: dict[str, etree._Element]):
        self.index: dict[str, tuple[str, int]] = {}
        self.in_file: dict[tuple[str, str], int] = {}  # ids are unique per file, not per deployment
        for filename, root in roots.items():
            for node in root.iter():
                if isinstance(node.tag, str) and node.get("id"):
                    self.index.setdefault(node.get("id"), (filename, node.sourceline))
                    self.in_file.setdefault((filename, node.get("id")), node.sourceline)

    def problem(self, message: str, element_id: str | None, filename: str | None = None) -> Problem:
        """Locate `element_id`, preferring the file it was found in when that is known."""
        if (filename, element_id) in self.in_file:
            return Problem(message, file=filename, element_id=element_id,
                           line=self.in_file[(filename, element_id)])
        found = self.index.get(element_id or "")
        return Problem(message, file=found[0] if found else filename, element_id=element_id,
                       line=found[1] if found else None)


def parse_deployment(files: dict[str, bytes]) -> ParsedDeployment:
    """Parse and check a set of BPMN files; raise InvalidProcess with every problem found."""
    if not files:
        raise InvalidProcess([Problem("no BPMN files given")])
    roots: dict[str, etree._Element] = {}
    problems: list[Problem] = []
    for filename, data in files.items():
        try:
            roots[filename] = parse_bpmn_bytes(data, filename)
        except InvalidProcess as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidProcess(problems)
    where = _Where(roots)
    parser = XiezuoParser()
    for filename, root in roots.items():
        problems.extend(_check_document(filename, root))
        if problems:
            continue
        try:
            parser.add_bpmn_xml(root, filename)
        except ValidationException as exc:
            problems.append(_from_validation(exc, where, filename))
    if problems:
        raise InvalidProcess(problems)
    parsed = ParsedDeployment(parser, dict(files), roots)
    executable = parser.get_process_ids()
    if not executable:
        raise InvalidProcess([Problem("no executable process (isExecutable=\"true\") in the files")])
    for pid in executable:
        parsed.process_files[pid] = parser.get_process_parser(pid).filename
        problems.extend(_check_process(parsed, pid, where))
    problems.extend(_check_field_access(parsed, where))
    if problems:
        raise InvalidProcess(_unique(problems))
    return parsed


def _check_field_access(parsed: ParsedDeployment, where: _Where) -> list[Problem]:
    """Each field a step hides or shows read-only is a field of the deployment: of a start form (the
    request) or of a user task's form."""
    tasks = [(each.file, ts) for spec, subs in parsed.specs.values() for each in (spec, *subs.values())
             for ts in each.task_specs.values() if isinstance(ts, UserTask)]
    known = {f.id for form in parsed.start_forms.values() for f in form.fields}
    known |= {f.id for _file, ts in tasks for f in ts.form.fields}
    return [where.problem(f"{'hiddenFields' if how == 'hidden' else 'readonlyFields'} names '{fid}', which is "
                          f"no field of a form in these files (known: {', '.join(sorted(known)) or 'none'})",
                          ts.bpmn_id, file)
            for file, ts in tasks for fid, how in ts.form.access.items() if fid not in known]


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _check_document(filename: str, root: etree._Element) -> list[Problem]:
    problems = []
    try:
        VALIDATOR.validate(root, filename)
    except ValidationException as exc:
        problems.append(Problem(f"not valid BPMN 2.0: {exc.message if hasattr(exc, 'message') else exc}",
                                file=filename, line=exc.line_number or None))
    for node in root.iter():
        if isinstance(node.tag, str) and node.get("id") in RESERVED_IDS and "/BPMN/" in node.tag:
            problems.append(Problem(
                f"the id '{node.get('id')}' is reserved by the engine; rename the element",
                file=filename, element_id=node.get("id"), line=node.sourceline))
    if not root.xpath(".//bpmn:startEvent", namespaces=NS):
        problems.append(Problem("the file has no start event", file=filename))
    # SpiffWorkflow would blame the first outgoing flow; the gateway is what needs a default or conditions.
    for gateway in root.xpath(".//bpmn:exclusiveGateway[not(@default)]", namespaces=NS):
        flows = root.xpath(".//bpmn:sequenceFlow[@sourceRef=$ref]", ref=gateway.get("id") or "", namespaces=NS)
        if len(flows) > 1 and not any(f.find("bpmn:conditionExpression", NS) is not None for f in flows):
            problems.append(Problem("exclusive gateway has neither conditions nor a default flow",
                                    file=filename, element_id=gateway.get("id"), line=gateway.sourceline))
    for cond in root.xpath(".//bpmn:sequenceFlow/bpmn:conditionExpression", namespaces=NS):
        error = check_source(cond.text or "", "eval") if (cond.text or "").strip() else None
        if error:
            flow = cond.getparent().get("id")
            problems.append(Problem(f"condition on sequence flow: {error}", file=filename,
                                    element_id=flow, line=cond.sourceline))
    return problems


def _from_validation(exc: ValidationException, where: _Where, filename: str) -> Problem:
    element_id = getattr(exc, "id", None) or None
    message = str(exc.args[0]) if exc.args else str(exc)
    found = where.problem(message, element_id, exc.file_name or filename)
    line = exc.line_number if isinstance(exc.line_number, int) and exc.line_number else found.line
    return Problem(message, file=exc.file_name or found.file or filename, element_id=element_id, line=line)


def _check_process(parsed: ParsedDeployment, pid: str, where: _Where) -> list[Problem]:
    parser = parsed.parser
    problems: list[Problem] = []
    try:
        spec = parser.get_spec(pid)
    except ValidationException as exc:
        return [_from_validation(exc, where, parsed.process_files[pid])]
    known = set(parser.get_process_ids()) | set(parser.process_parsers)
    specs = [spec]
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, CallActivity) and task_spec.spec not in known:
            problems.append(where.problem(
                f"call activity calls '{task_spec.spec}', which is not a process of this deployment",
                task_spec.bpmn_id, spec.file))
    if problems:
        return problems
    try:
        subs = parser.get_subprocess_specs(pid)
    except ValidationException as exc:
        return [_from_validation(exc, where, parsed.process_files[pid])]
    specs.extend(subs.values())
    for each in specs:
        for task_spec in each.task_specs.values():
            problems.extend(_check_task_spec(task_spec, where, each.file))
    form, form_problems = _start_form(parser.get_process_parser(pid).node, where, parsed.process_files[pid])
    problems.extend(form_problems)
    if not problems:
        parsed.specs[pid] = (spec, subs)
        parsed.start_forms[pid] = form
    return problems


def _start_form(process: etree._Element, where: _Where, filename: str) -> tuple[Form, list[Problem]]:
    """The form of the process's start event (Camunda's start form): what a new request asks for."""
    form, problems = Form(), []
    with_form = [node for node in process.findall("bpmn:startEvent", NS)
                 if node.find(f"bpmn:extensionElements/{{{CAMUNDA_NS}}}formData", NS) is not None]
    if len(with_form) > 1:
        problems.append(where.problem("only one start event of a process may have a form",
                                      with_form[1].get("id"), filename))
    for node in with_form[:1]:
        form, found = form_from_xml(node, NS["bpmn"], CAMUNDA_NS)
        problems.extend(where.problem(message, node.get("id"), filename) for message in found)
    return form, problems


def _check_task_spec(task_spec, where: _Where, filename: str | None = None) -> list[Problem]:
    element = getattr(task_spec, "bpmn_id", None)
    if element is None:
        return []
    problems = []

    def check(source: str | None, mode: str, what: str) -> None:
        if source is None or not str(source).strip():
            return
        error = check_source(source, mode)
        if error:
            problems.append(where.problem(f"{what}: {error}", element, filename))

    check(getattr(task_spec, "script", None), "exec", "script")
    check(getattr(task_spec, "prescript", None), "exec", "pre-script")
    check(getattr(task_spec, "postscript", None), "exec", "post-script")
    for attr in ("cardinality", "condition"):
        value = getattr(task_spec, attr, None)
        if isinstance(value, str):
            check(value, "eval", f"multi-instance {attr}")
    definition = getattr(task_spec, "event_definition", None)
    for timer in _timers(definition):
        message = check_timer_expression(timer)
        if message:
            problems.append(where.problem(message, element, filename))
    if isinstance(task_spec, UserTask):
        problems.extend(_check_user_task(task_spec, where, filename))
    return problems


def _timers(definition) -> list:
    if definition is None:
        return []
    if isinstance(definition, MultipleEventDefinition):
        return [d for d in definition.event_definitions if isinstance(d, TimerEventDefinition)]
    return [definition] if isinstance(definition, TimerEventDefinition) else []


def check_timer_expression(timer) -> str | None:
    """A message if the timer's expression cannot work, else None."""
    expression = (timer.expression or "").strip()
    if not expression:
        return "timer has no expression"
    error = check_source(expression, "eval")
    if error:
        return f"timer expression {expression!r}: {error}"
    try:
        value = SandboxEnvironment().evaluate(expression, {})
    except NameError as exc:
        name = getattr(exc, "name", None) or (str(exc).split("'")[1] if "'" in str(exc) else "")
        if name and _ISO_NAME.fullmatch(name):
            return (f"timer expression {expression!r} is not quoted; timer expressions are Python, "
                    f"write \"{expression}\"")
        return None  # refers to process data: checked when the timer starts
    except Exception as exc:
        return f"timer expression {expression!r} does not evaluate: {exc}"
    if hasattr(value, "isoformat"):
        return None
    try:
        kind = type(timer).__name__
        if "Cycle" in kind:
            TimerEventDefinition.parse_iso_recurring_interval(str(value))
        else:
            TimerEventDefinition.parse_time_or_duration(str(value))
    except Exception:
        return f"timer expression {expression!r} gives {value!r}, which is not an ISO 8601 date or duration"
    return None


def _check_user_task(task_spec: UserTask, where: _Where, filename: str | None) -> list[Problem]:
    problems = []
    if not (task_spec.assignee or task_spec.candidate_users or task_spec.candidate_groups or task_spec.lane):
        problems.append(where.problem("user task has no assignee, candidate users, candidate groups or lane",
                                      task_spec.bpmn_id, filename))
    for value in [task_spec.assignee, task_spec.due_date, task_spec.priority,
                  *task_spec.candidate_users, *task_spec.candidate_groups]:
        for expr in _PLACEHOLDER.findall(value or ""):
            error = check_source(expr, "eval")
            if error:
                problems.append(where.problem(f"expression ${{{expr}}}: {error}", task_spec.bpmn_id,
                                              filename))
    return problems
