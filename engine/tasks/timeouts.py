"""超时处理: a step's timeout action, due `timeoutAfter` working days (the organisation's Chinese
calendar) after its task opened (inbox_task.timeout_at, set when the row is written). The sweep runs
each due action once, whatever the number of workers: under the instance's lock it reads the row
again, and the action either ends the task or clears its timeout in the same transaction.

- approve / reject: the system completes the task with the step's batch decision or its
  timeoutReject, recorded as task_completed (actor system, `timeout` naming the rule), so the audit
  replay drives it like any completion;
- superior: the task is transferred to its holder's superior; group: it is offered to timeoutGroup
  (task_transferred by the system, with the holder before and after).
"""

from __future__ import annotations

from datetime import datetime

from engine.context import Services
from engine.db import chain as audit
from engine.db.tx import Tx
from engine.errors import NotFound, StaleInstance, TaskNotReady
from engine.messages import Msg
from engine.org.directory import directory
from engine.workflow.access import inbox_row, ready_task
from engine.workflow.notices import write_notices
from engine.workflow.reactions import Completion
from engine.workflow.runner import CommandResult, advance, load_workflow, lock_instance, run_command
from engine.workflow.step import completing

_DUE = "SELECT task_id FROM inbox_task WHERE timeout_at IS NOT NULL AND timeout_at <= ? ORDER BY timeout_at LIMIT ?"


def run_due_timeouts(ctx: Services, now: datetime | None = None, limit: int = 100) -> list[str]:
    """Run every timeout action due at `now` (default: the clock); the ids of the tasks acted on."""
    now = now or ctx.now()
    with ctx.db.transaction(write=False) as tx:
        due = [task_id for (task_id,) in tx.all(_DUE, (tx.stamp(now), limit))]
    done = []
    for task_id in due:
        try:
            if apply_timeout(ctx, task_id, now) is not None:
                done.append(task_id)
        except (StaleInstance, TaskNotReady, NotFound):
            continue  # done, taken or changed meanwhile: the next sweep looks again if still due
    return done


def apply_timeout(ctx: Services, task_id: str, now: datetime) -> CommandResult | None:
    """The timeout action of one task, if it is still due (None when another worker ran it first)."""
    def command(tx: Tx):
        inbox = inbox_row(tx, task_id)
        row = lock_instance(ctx, tx, inbox.instance_id)
        (due,) = tx.one("SELECT timeout_at FROM inbox_task WHERE task_id = ?", (task_id,)) or (None,)
        due = Tx.when(due)
        if due is None or due > now:
            return None, None, None  # run by another worker since the sweep looked
        wf = load_workflow(ctx, tx, row)
        task = ready_task(wf, task_id)
        form, rules = task.task_spec.form, task.task_spec.form.rules
        rule = {"action": rules["timeoutAction"], "after_working_days": int(rules["timeoutAfter"])}
        element = inbox.element_id
        if rules["timeoutAction"] in ("approve", "reject"):
            if rules["timeoutAction"] == "approve":
                name, value = form.batch["field"], form.batch["value"]
            else:
                name, _sep, value = rules["timeoutReject"].partition("=")
            values = {**form.unanswered(), name: value}
            audit.record(tx, row, "task_completed", "system", now, element, task_id,
                         {"data": values, "form": bool(form.fields), "timeout": rule})
            holder = inbox.assignee or inbox.delegated_by
            if holder:  # the one who held it learns the rule decided it
                write_notices(tx, row.id, [{"recipient": holder, "kind": "info", "message": Msg(
                    "notice.timed_out_decided", what=_label(row, inbox.task_name),
                    value=value)}], now)
            for react in ctx.reactions.completed:
                react(Completion(ctx, tx, row, task_id, element, "system", now, form, values, task.data))
            return row, wf, advance(ctx, tx, row, wf, "system", completing(task, ctx.reactions.data_of(form, values)))
        before = {"assignee": inbox.assignee, "delegated_by": inbox.delegated_by}
        if rules["timeoutAction"] == "superior":
            holder = inbox.assignee or inbox.delegated_by
            boss = directory(ctx).superior(holder) if holder else None
            if not boss:
                tx.queue("UPDATE inbox_task SET timeout_at = NULL WHERE task_id = ?", (task_id,))
                audit.record(tx, row, "task_timeout_skipped", "system", now, element, task_id,
                             {"timeout": rule, "reason": "no_superior"})
                row.updated_at = now
                return row, wf, CommandResult(row.id, row.status)
            after, groups = {"assignee": boss, "delegated_by": None}, []
        else:
            after, groups = {"assignee": None, "delegated_by": None}, [rules["timeoutGroup"]]
        tx.queue("UPDATE inbox_task SET assignee = ?, delegated_by = NULL, timeout_at = NULL, "
                 "candidate_groups = CASE WHEN ? = '' THEN candidate_groups ELSE ? END WHERE task_id = ?",
                 (after["assignee"], ",".join(groups), ",".join(groups), task_id))
        for group in groups:
            tx.queue("DELETE FROM inbox_candidate WHERE task_id = ?", (task_id,))
            tx.queue("INSERT INTO inbox_candidate (task_id, kind, name) VALUES (?, 'group', ?)", (task_id, group))
        audit.record(tx, row, "task_transferred", "system", now, element, task_id,
                     {"from": before["assignee"], "to": after["assignee"], "group": groups[0] if groups else None,
                      "timeout": rule, "before": before, "after": after})
        told = [after["assignee"]] if after["assignee"] else list(directory(ctx).members(groups[0]))
        write_notices(tx, row.id, [{"recipient": p, "kind": "task", "task_id": task_id,
                                    "message": Msg("notice.timed_out_to_you", what=_label(row, inbox.task_name))}
                                   for p in told if p], now)
        row.updated_at = now
        return row, wf, CommandResult(row.id, row.status)

    return run_command(ctx, command)


def _label(row, task_name: str) -> Msg:
    """The task a notice names, with its request's number."""
    if row.business_key:
        return Msg("notice.task_of_request", task=task_name, request=row.business_key)
    return Msg("notice.task", task=task_name)
