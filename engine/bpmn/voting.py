"""会签 / 或签 by rule: a parallel multi-instance user task whose step sets voteRule closes as soon
as its outcome is certain, and its result is put in the data for the gateways after it.

The step's settings (forms.Form.rules, from the task's extension properties):
- voteRule: all (every approver must agree), any (the first decision decides), or ratio with
  voteRatio (e.g. 2/3: at least that share of all approvers agree);
- voteAgree: "field=option", the decision that counts as agreeing;
- voteRejection: first (one refusal decides: the step closes at once) or counted (refusals are
  counted: the step closes as soon as passing is certain, else when every approver decided);
- voteResult: the variable the outcome goes to (default vote_result): passed or failed.

When the step closes early SpiffWorkflow cancels the approvers' tasks still open (task_cancelled
events; their holders are told). The check runs inside the step, so replay repeats it.
"""

from __future__ import annotations

import math
from fractions import Fraction

from SpiffWorkflow.spiff.specs.defaults import ParallelMultiInstanceTask
from SpiffWorkflow.util.task import TaskState

PASSED, FAILED = "passed", "failed"  # the outcome's values, as the diagram's conditions compare them


class VotingMultiInstance(ParallelMultiInstanceTask):
    """A parallel multi-instance task that closes by its step's vote rule."""

    def _rules(self) -> dict:
        return _step_rules(self._wf_spec.task_specs.get(self.task_spec))

    def vote(self, my_task) -> str | None:
        """The outcome once certain (passed / failed), else None."""
        rules = self._rules()
        field, _sep, agree = rules["voteAgree"].partition("=")
        merged = set(my_task.internal_data.get("merged", []))
        decided = [c.data.get(field) for c in my_task.children if str(c.id) in merged]
        total = len(self.data_input.get(my_task)) if self.data_input is not None else \
            my_task.internal_data.get("cardinality", 0)
        yes = sum(1 for d in decided if d == agree)
        no, left = len(decided) - yes, total - len(decided)
        rule, first = rules["voteRule"], rules.get("voteRejection", "counted") == "first"
        if rule == "any":
            return (PASSED if yes else FAILED) if decided else None
        need = total if rule == "all" else math.ceil(Fraction(rules["voteRatio"]) * total)
        if yes >= need and (not first or no == 0):
            return PASSED
        if first and no:
            return FAILED
        return None if left else (PASSED if yes >= need else FAILED)

    def check_completion_condition(self, my_task):
        if not self._rules().get("voteRule"):
            return super().check_completion_condition(my_task)
        return self.vote(my_task) is not None

    def merge_child(self, workflow, child):
        super().merge_child(workflow, child)
        my_task = child.parent
        if self._rules().get("voteRule") and my_task.state == TaskState.READY:
            my_task.data[self._rules().get("voteResult") or "vote_result"] = self.vote(my_task) or FAILED


def _step_rules(child) -> dict:
    """The rules of the step a multi-instance task repeats (its child user task's form)."""
    return getattr(getattr(child, "form", None), "rules", None) or {}


def use_voting(specs) -> None:
    """Make every parallel multi-instance user task whose step sets voteRule close by it."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if type(task_spec) is ParallelMultiInstanceTask and \
                    _step_rules(spec.task_specs.get(task_spec.task_spec)).get("voteRule"):
                task_spec.__class__ = VotingMultiInstance
