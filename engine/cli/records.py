"""`xiezuo records|comment|progress|attach|lessons`: a request's records and the knowledge base."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("instance_id")
@click.option("--as", "user", required=True)
@click.pass_obj
def records(cli, instance_id, user):
    """A request's records, oldest first, and its plan tasks under a red warning."""
    from engine.requests.records import list_records, red_warnings

    timeline, red = list_records(cli.ctx, instance_id, user), red_warnings(cli.ctx, instance_id)
    lines = [f"{r.get('created_at', '')}  {r['kind']:<16} {r.get('author', '')}  "
             f"{json.dumps({k: v for k, v in r.items() if k not in ('kind', 'created_at', 'author', 'id')}, ensure_ascii=False, default=str)[:100]}"  # noqa: E501
             for r in timeline]
    lines += [f"红色预警 {w.get('task_key', '')} {w.get('title', '')}: {'; '.join(w.get('reasons', []))}" for w in red]
    cli.out({"records": timeline, "red_warnings": red}, "\n".join(lines) or "no records")


@click.command()
@click.argument("instance_id")
@click.argument("text")
@click.option("--as", "user", required=True)
@click.pass_obj
def comment(cli, instance_id, text, user):
    """Comment on a request."""
    from engine.requests.records import add_comment

    cli.out({"id": add_comment(cli.ctx, instance_id, user, text)}, "comment added")


@click.command()
@click.argument("instance_id")
@click.option("--as", "user", required=True)
@click.option("--task", "plan_task_key", default=None, help="the plan task's key (T1, T2, ...)")
@click.option("--status", required=True, type=click.Choice(["未开始", "进行中", "待支持", "已完成"]))
@click.option("--done", "work_done", default="")
@click.option("--problems", default="")
@click.option("--risk", "risk_note", default=None, help="a delay risk and its explanation")
@click.pass_obj
def progress(cli, instance_id, user, plan_task_key, status, work_done, problems, risk_note):
    """Post progress on a plan task (template 3)."""
    from engine.requests.records import post_progress

    row = post_progress(cli.ctx, instance_id, user, status=status, plan_task_key=plan_task_key, work_done=work_done,
                        problems=problems, risk=risk_note is not None, risk_note=risk_note or "")
    cli.out({"id": row}, f"progress posted ({status})")


@click.command()
@click.argument("instance_id")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "user", required=True)
@click.pass_obj
def attach(cli, instance_id, path, user):
    """Attach a file to a request (size and type are checked)."""
    from engine.requests.attachments import add_attachment

    found = add_attachment(cli.ctx, instance_id, user, path.name, path.read_bytes())
    cli.out(found, f"attachment {found['id']}: {found['filename']} ({found['content_type']}, {found['size']} bytes)")


@click.group()
def lessons():
    """The knowledge base of lessons learnt."""


@lessons.command("search")
@click.argument("query")
@click.option("--limit", default=20, show_default=True)
@click.pass_obj
def lessons_search(cli, query, limit):
    """Search approved lessons (Chinese text is matched by words)."""
    from engine.knowledge.lessons import search

    found = search(cli.ctx, query, limit=limit)
    cli.out(found, "\n".join([f"{found['total']} lesson(s)"] +
                             [f"  #{i['id']} {i['title']}  {i.get('excerpt', '')}" for i in found["items"]]))


@lessons.command("list")
@click.option("--status", type=click.Choice(["proposed", "approved", "rejected"]), default=None)
@click.pass_obj
def lessons_list(cli, status):
    """Lessons, newest first (proposed ones await a platform admin)."""
    from engine.knowledge.lessons import list_entries

    entries = list_entries(cli.ctx, status)
    cli.out(entries, "\n".join(f"#{e['id']} [{e['status']}] {e['title']}" for e in entries) or "none")


@lessons.command("review")
@click.argument("entry_id", type=int)
@click.option("--approve/--reject", required=True)
@click.option("--note", default="")
@click.option("--as", "user", required=True)
@click.pass_obj
def lessons_review(cli, entry_id, approve, note, user):
    """Approve a proposed lesson (it becomes searchable) or reject it."""
    from engine.knowledge.lessons import review_lesson

    entry = review_lesson(cli.ctx, entry_id, user, approve, note)
    cli.out(entry, f"lesson #{entry_id} {entry['status']}")


COMMANDS = [records, comment, progress, attach, lessons]
