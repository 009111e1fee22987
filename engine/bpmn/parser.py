"""One BPMN parser: spiffworkflow extensions plus Camunda 7 forms and assignment attributes."""

from __future__ import annotations

import re
from fractions import Fraction

from SpiffWorkflow.bpmn.parser.node_parser import DEFAULT_NSMAP
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import UserTaskParser as SpiffUserTaskParser
from SpiffWorkflow.spiff.specs.defaults import UserTask as SpiffUserTask

from engine.bpmn.forms import Form, form_from_xml

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


def split_list(value: str | None) -> list[str]:
    """Split Camunda's comma-separated candidate lists."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


class UserTask(SpiffUserTask):
    """A user task with a form and who may work on it."""

    def __init__(self, wf_spec, bpmn_id, form=None, assignee=None, candidate_users=None,
                 candidate_groups=None, due_date=None, priority=None, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.form = form if isinstance(form, Form) else Form.from_dict(form)
        self.assignee = assignee
        self.candidate_users = list(candidate_users or [])
        self.candidate_groups = list(candidate_groups or [])
        self.due_date = due_date
        self.priority = priority


class UserTaskParser(SpiffUserTaskParser):
    """Reads `camunda:formData`, `camunda:assignee`, `camunda:candidateUsers/Groups`."""

    def create_task(self):
        ext = self.parse_extensions()
        form, problems = self.read_form()
        if problems:
            self.raise_validation_exception("; ".join(problems))
        attr = self.node.get
        return UserTask(
            self.spec, self.bpmn_id,
            form=form,
            assignee=attr(f"{{{CAMUNDA_NS}}}assignee"),
            candidate_users=split_list(attr(f"{{{CAMUNDA_NS}}}candidateUsers")),
            candidate_groups=split_list(attr(f"{{{CAMUNDA_NS}}}candidateGroups")),
            due_date=attr(f"{{{CAMUNDA_NS}}}dueDate"),
            priority=attr(f"{{{CAMUNDA_NS}}}priority"),
            variable=ext.get("variableName"),
            prescript=ext.get("preScript"),
            postscript=ext.get("postScript"),
            **self.bpmn_attributes,
        )

    def read_form(self) -> tuple[Form, list[str]]:
        form, problems = form_from_xml(self.node, self.nsmap["bpmn"], CAMUNDA_NS,
                                       self.node.get(f"{{{CAMUNDA_NS}}}formKey"))
        properties = task_properties(self.node, self.nsmap["bpmn"])
        process = task_properties(self.process_parser.node, self.nsmap["bpmn"])
        loop = self.node.find(f"{{{self.nsmap['bpmn']}}}multiInstanceLoopCharacteristics")
        parallel = loop is not None and loop.get("isSequential", "false").lower() != "true"
        return form, (problems + step_access(form, properties) + step_batch(form, properties)
                      + step_rules(form, properties, process) + step_vote(form, properties, parallel))


def task_properties(node, bpmn_ns: str) -> dict[str, str]:
    """A task's own Camunda extension properties (`<camunda:property name=... value=...>`), by name."""
    path = f"{{{bpmn_ns}}}extensionElements/{{{CAMUNDA_NS}}}properties/{{{CAMUNDA_NS}}}property"
    return {p.get("name"): p.get("value") or "" for p in node.findall(path) if p.get("name")}


def step_access(form: Form, properties: dict[str, str]) -> list[str]:
    """Field permissions of a step from its `hiddenFields` and `readonlyFields` properties (comma lists
    of field ids): recorded on the form; a read-only field of the form itself becomes read-only there.
    The problems: a field both hidden and read-only, or one of the step's own fields hidden."""
    hidden, readonly = split_list(properties.get("hiddenFields")), split_list(properties.get("readonlyFields"))
    own = {f.id: f for f in form.fields}
    problems = [f"field '{fid}' is both in hiddenFields and in readonlyFields" for fid in hidden if fid in readonly]
    problems += [f"field '{fid}' is on this task's own form and cannot be hidden there: remove it from the form"
                 for fid in hidden if fid in own]
    form.access = {**{fid: "readonly" for fid in readonly}, **{fid: "hidden" for fid in hidden}}
    for fid in readonly:
        if fid in own:
            own[fid].readonly = True
    return problems


class XiezuoParser(SpiffBpmnParser):
    """The parser every deployment goes through."""

    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (UserTaskParser, UserTask),
    }

    def __init__(self):
        super().__init__(namespaces={**DEFAULT_NSMAP, "camunda": CAMUNDA_NS})


def step_batch(form: Form, properties: dict[str, str]) -> list[str]:
    """批量审批 of a step from its `batchDecision` ("field=value": an option of one of its enum
    fields) and `batchComment` (one of its text fields): recorded on the form; the problems found."""
    decision, comment = properties.get("batchDecision", "").strip(), properties.get("batchComment", "").strip()
    if not decision:
        return ["batchComment is set without batchDecision"] if comment else []
    name, _sep, value = (part.strip() for part in decision.partition("="))
    own = {f.id: f for f in form.fields}
    if name not in own or own[name].type != "enum":
        return [f"batchDecision names '{name}', which is no choice field of this task's form"]
    if value not in [option for option, _label in own[name].options]:
        return [f"batchDecision gives '{value}', which is no option of '{name}' "
                f"(options: {', '.join(o for o, _label in own[name].options)})"]
    if comment and (comment not in own or own[comment].type not in ("string", "text")):
        return [f"batchComment names '{comment}', which is no text field of this task's form"]
    form.batch = {"field": name, "value": value, **({"comment": comment} if comment else {})}
    return []


NO_ASSIGNEE = ("admins", "superior", "skip")


def step_rules(form: Form, properties: dict[str, str], process: dict[str, str]) -> list[str]:
    """Approver rules of a step: its `noAssignee` (admins, the default; superior: the requester's
    superior; skip: the step passes with a record) and its process's `autoPassSameApprover` (true:
    a step whose approver just completed the step before passes by itself, with its batch decision)."""
    problems = []
    rule = properties.get("noAssignee", "").strip()
    if rule and rule not in NO_ASSIGNEE:
        problems.append(f"noAssignee is '{rule}'; it is one of {', '.join(NO_ASSIGNEE)}")
    elif rule and rule != "admins":
        form.rules["noAssignee"] = rule
    problems += step_timeout(form, properties)
    auto = process.get("autoPassSameApprover", "").strip().lower()
    if auto not in ("", "true", "false"):
        problems.append(f"the process's autoPassSameApprover is '{auto}'; it is true or false")
    elif auto == "true" and form.batch:
        form.rules["autoPass"] = "sameApprover"
    return problems


TIMEOUT_ACTIONS = ("approve", "reject", "superior", "group")


def _decision(form: Form, raw: str) -> str | None:
    """A decision written "field=option" (an option of one of the step's own choice fields), tidied,
    or None when it names no such option."""
    name, _sep, value = (part.strip() for part in raw.partition("="))
    found = next((f for f in form.fields if f.id == name and f.type == "enum"), None)
    return f"{name}={value}" if found and value in [o for o, _label in found.options] else None


def step_timeout(form: Form, properties: dict[str, str]) -> list[str]:
    """超时处理 of a step: `timeoutAfter` working days (the Chinese calendar) after the task opens,
    `timeoutAction` approve (its batch decision), reject (`timeoutReject` "field=option"), superior
    (transferred to the holder's superior) or group (offered to `timeoutGroup`)."""
    action, after = properties.get("timeoutAction", "").strip(), properties.get("timeoutAfter", "").strip()
    if not action and not after:
        return []
    if action not in TIMEOUT_ACTIONS:
        return [f"timeoutAction is '{action}'; it is one of {', '.join(TIMEOUT_ACTIONS)}"]
    if not after.isdigit() or not 0 < int(after) <= 365:
        return [f"timeoutAfter is '{after}'; it is a number of working days from 1 to 365"]
    rule = {"timeoutAction": action, "timeoutAfter": after}
    if action == "approve" and not form.batch:
        return ["timeoutAction approve needs the step's batchDecision: the decision it takes"]
    if action == "reject":
        decision = _decision(form, properties.get("timeoutReject", ""))
        if decision is None:
            return [f"timeoutReject is '{properties.get('timeoutReject', '')}'; it is field=option of one of "
                    "the step's choice fields"]
        rule["timeoutReject"] = decision
    if action == "group":
        group = properties.get("timeoutGroup", "").strip()
        if not group:
            return ["timeoutAction group needs timeoutGroup: the group that is offered the task"]
        rule["timeoutGroup"] = group
    form.rules.update(rule)
    return []


VOTE_RULES, REJECTIONS = ("all", "any", "ratio"), ("first", "counted")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def step_vote(form: Form, properties: dict[str, str], parallel: bool) -> list[str]:
    """会签 / 或签 of a parallel multi-instance step (engine.bpmn.voting): voteRule, voteRatio,
    voteAgree, voteRejection and voteResult, recorded on the form; the problems found."""
    rule = properties.get("voteRule", "").strip()
    if not rule:
        return []
    if not parallel:
        return ["voteRule is for a parallel multi-instance task: make the task parallel multi-instance"]
    if rule not in VOTE_RULES:
        return [f"voteRule is '{rule}'; it is one of {', '.join(VOTE_RULES)}"]
    found = {"voteRule": rule}
    if rule == "ratio":
        ratio = properties.get("voteRatio", "").strip()
        try:
            share = Fraction(ratio)
        except (ValueError, ZeroDivisionError):
            share = Fraction(-1)
        if not 0 < share <= 1:
            return [f"voteRatio is '{ratio}'; it is a share above 0 and at most 1, such as 2/3"]
        found["voteRatio"] = ratio
    agree = _decision(form, properties.get("voteAgree", ""))
    if agree is None:
        return [f"voteAgree is '{properties.get('voteAgree', '')}'; it is field=option of one of the step's "
                "choice fields, the decision that counts as agreeing"]
    found["voteAgree"] = agree
    rejection = properties.get("voteRejection", "counted").strip() or "counted"
    if rejection not in REJECTIONS:
        return [f"voteRejection is '{rejection}'; it is one of {', '.join(REJECTIONS)}"]
    found["voteRejection"] = rejection
    result = properties.get("voteResult", "vote_result").strip() or "vote_result"
    if not _NAME.fullmatch(result):
        return [f"voteResult is '{result}'; it is a variable name"]
    found["voteResult"] = result
    form.rules.update(found)
    return []
