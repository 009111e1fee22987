"""One BPMN parser: spiffworkflow extensions plus Camunda 7 forms and assignment attributes."""

from __future__ import annotations

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
        return form_from_xml(self.node, self.nsmap["bpmn"], CAMUNDA_NS, self.node.get(f"{{{CAMUNDA_NS}}}formKey"))


class XiezuoParser(SpiffBpmnParser):
    """The parser every deployment goes through."""

    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (UserTaskParser, UserTask),
    }

    def __init__(self):
        super().__init__(namespaces={**DEFAULT_NSMAP, "camunda": CAMUNDA_NS})
