"""The `xiezuo` command line: deploy, start, list and complete tasks, fire timers, inspect."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from engine.bootstrap import bootstrap
from engine.config import EngineConfig
from engine.context import Services
from engine.errors import XiezuoError
from engine.messages import Msg

DEFAULT_URL = "sqlite:///xiezuo.db"


def default_database_url() -> str:
    return os.environ.get("XIEZUO_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_URL


class Cli:
    def __init__(self, url: str, as_json: bool):
        self.url = url
        self.as_json = as_json
        self.config = EngineConfig.from_environ(os.environ, url)
        self._ctx: Services | None = None

    @property
    def ctx(self) -> Services:
        if self._ctx is None:
            self._ctx = bootstrap(self.config)
        return self._ctx

    def say(self, found) -> str:
        """A message of the engine (a Msg or an error) in the organisation's language and time zone;
        anything else as it is."""
        return found.text(self.config.locale, self.config.timezone) if hasattr(found, "text") else str(found)

    def message(self, found: Msg) -> dict:
        """A message for --json: its code and parameters, and its text in the organisation's language."""
        return {**found.to_dict(), "message": self.say(found)}

    def out(self, obj, text: str | None = None) -> None:
        if self.as_json:
            click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))
        else:
            click.echo(text if text is not None else json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _json_arg(value: str | None, what: str) -> dict:
    if not value:
        return {}
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"{what} must be a JSON object")
    return data


class XiezuoGroup(click.Group):
    """Turns the engine's named errors into a message on stderr and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except XiezuoError as exc:
            # In the organisation's language (XIEZUO_LOCALE), moments in its time zone.
            cli = ctx.obj if isinstance(ctx.obj, Cli) else Cli(default_database_url(), False)
            if cli.as_json:
                click.echo(json.dumps(exc.to_dict(cli.config.locale, cli.config.timezone), ensure_ascii=False),
                           err=True)
            else:
                click.echo(f"error ({exc.code}): {cli.say(exc)}", err=True)
                for problem in getattr(exc, "problems", []):
                    click.echo(f"  - {cli.say(problem)}", err=True)
                for field, message in getattr(exc, "errors", {}).items():
                    click.echo(f"  - {field}: {cli.say(message)}", err=True)
            sys.exit(2)


@click.group(cls=XiezuoGroup)
@click.option("--database-url", default=None, help="SQLAlchemy URL (default: $XIEZUO_DATABASE_URL or "
              "$DATABASE_URL or sqlite:///xiezuo.db)")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def main(click_ctx, database_url=None, as_json=False):
    """Xiezuo (协作): cross-department collaboration on a BPMN engine."""
    url = database_url or default_database_url()
    click_ctx.obj = Cli(url, as_json)


@main.command("init-db")
@click.pass_obj
def init_db(cli: Cli):
    """Create or upgrade the database schema."""
    cli.ctx  # noqa: B018 - bootstrapping runs the migrations
    cli.out({"database": cli.url, "status": "ok"}, f"database ready: {cli.url}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--as", "user", default="admin", show_default=True)
@click.pass_obj
def deploy(cli: Cli, paths, user):
    """Deploy BPMN files (or every .bpmn in the given folders) as one deployment."""
    from engine.bpmn.deploy import deploy as do_deploy

    files: dict[str, bytes] = {}
    for path in paths:
        for f in sorted(path.glob("*.bpmn")) if path.is_dir() else [path]:
            files[f.name] = f.read_bytes()
    results = do_deploy(cli.ctx, files, user)
    cli.out([r.to_dict() for r in results], "\n".join(
        f"{r.process_id} v{r.version} {'deployed' if r.created else 'unchanged'}" for r in results))


@main.command()
@click.argument("process_id")
@click.option("--as", "user", required=True)
@click.option("--data", default=None, help="Start data as a JSON object.")
@click.option("--business-key", default=None)
@click.pass_obj
def start(cli: Cli, process_id, user, data, business_key):
    """Start an instance of the latest version of PROCESS_ID."""
    from engine.workflow.instances import start_instance

    result = start_instance(cli.ctx, process_id, user, _json_arg(data, "--data"), business_key)
    cli.out(result.to_dict(), f"instance {result.instance_id} {result.status}; open tasks: "
            f"{', '.join(result.opened_tasks) or 'none'}")


@main.command()
@click.option("--as", "user", required=True)
@click.option("--which", type=click.Choice(["all", "mine", "group"]), default="all", show_default=True)
@click.option("--sort", default="due", show_default=True)
@click.option("--page", default=1, show_default=True)
@click.option("--per-page", default=50, show_default=True)
@click.option("--process", "process_id", default=None)
@click.pass_obj
def tasks(cli: Cli, user, which, sort, page, per_page, process_id):
    """List the open tasks of USER: assigned to them and offered to their groups."""
    from engine.tasks.inbox import InboxFilter, group_tasks, my_tasks

    f = InboxFilter(process_id=process_id)
    pages = {}
    if which in ("all", "mine"):
        pages["mine"] = my_tasks(cli.ctx, user, f, sort, page, per_page)
    if which in ("all", "group"):
        pages["group"] = group_tasks(cli.ctx, user, f, sort, page, per_page)
    lines = []
    for name, p in pages.items():
        lines.append(f"{name} ({p.total}):")
        lines += [f"  {t['task_id']}  {t['name']}  [{t['process_id']} v{t['process_version']}"
                  f"{' ' + t['business_key'] if t['business_key'] else ''}]  due {t['due_at'] or '-'}"
                  for t in p.items]
    cli.out({k: v.to_dict() for k, v in pages.items()}, "\n".join(lines))


@main.command()
@click.argument("task_id")
@click.option("--as", "user", required=True)
@click.pass_obj
def claim(cli: Cli, task_id, user):
    """Claim a group task."""
    from engine.workflow.instances import claim_task

    cli.out(claim_task(cli.ctx, task_id, user).to_dict(), f"task {task_id} claimed by {user}")


@main.command()
@click.argument("task_id")
@click.option("--as", "user", required=True)
@click.pass_obj
def release(cli: Cli, task_id, user):
    """Give a claimed task back to its group."""
    from engine.workflow.instances import release_task

    cli.out(release_task(cli.ctx, task_id, user).to_dict(), f"task {task_id} released")


@main.command()
@click.argument("task_id")
@click.option("--as", "user", required=True)
@click.option("--data", default=None, help="Form data as a JSON object.")
@click.pass_obj
def complete(cli: Cli, task_id, user, data):
    """Complete a task with form data."""
    from engine.workflow.instances import complete_task

    result = complete_task(cli.ctx, task_id, user, _json_arg(data, "--data"))
    cli.out(result.to_dict(), f"task {task_id} completed; instance {result.instance_id} {result.status}; "
            f"open tasks: {', '.join(result.opened_tasks) or 'none'}")


@main.command()
@click.argument("instance_id")
@click.pass_obj
def show(cli: Cli, instance_id):
    """Show an instance: status, open tasks, history."""
    from engine.workflow.instances import describe_instance

    d = describe_instance(cli.ctx, instance_id)
    lines = [f"instance {d['id']}  {d['process_id']} v{d['version']}  {d['status']}",
             f"business key: {d['business_key'] or '-'}  initiator: {d['initiator']}  "
             f"created: {d['created_at']}  next timer: {d['next_due_at'] or '-'}"]
    if d["error"]:
        lines.append(f"error at {d['error']['element_id']}: {d['error']['message']}")
    lines.append("open tasks:")
    lines += [f"  {t['task_id']}  {t['name']} ({t['element_id']})  assignee {t['assignee'] or '-'}  "
              f"groups {','.join(t['candidate_groups']) or '-'}" for t in d["open_tasks"]] or ["  none"]
    lines.append("history:")
    lines += [f"  {e['seq']:>4}  {e['at']}  {e['type']:<20} {e['actor']:<12} {e['element_id'] or ''}"
              for e in d["history"]]
    cli.out(d, "\n".join(lines))


@main.command()
@click.argument("instance_id")
@click.option("--as", "user", required=True)
@click.option("--reason", default="")
@click.pass_obj
def cancel(cli: Cli, instance_id, user, reason):
    """Cancel an instance."""
    from engine.workflow.instances import cancel_instance

    cli.out(cancel_instance(cli.ctx, instance_id, user, reason).to_dict(), f"instance {instance_id} cancelled")


@main.command()
@click.argument("instance_id")
@click.option("--as", "user", required=True)
@click.option("--data", default=None, help="Corrected data for the failed task, as JSON.")
@click.pass_obj
def retry(cli: Cli, instance_id, user, data):
    """Run an errored instance again from the task that failed."""
    from engine.workflow.instances import retry_instance

    result = retry_instance(cli.ctx, instance_id, user, _json_arg(data, "--data"))
    cli.out(result.to_dict(), f"instance {instance_id} {result.status}")


@main.group()
def timers():
    """Timer events."""


@timers.command("run-due")
@click.option("--now", default=None, help="ISO time to fire at (default: now).")
@click.pass_obj
def run_due(cli: Cli, now):
    """Fire every timer that is due."""
    from engine.workflow.timers import run_due_timers

    at = datetime.fromisoformat(now) if now else datetime.now(timezone.utc)
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    fired = run_due_timers(cli.ctx, at)
    cli.out({"fired": fired}, f"{len(fired)} instance(s) advanced" + "".join(f"\n  {i}" for i in fired))


@main.group()
def users():
    """Users and their groups."""


@users.command("add")
@click.argument("user_id")
@click.option("--name", default=None)
@click.option("--group", "groups", multiple=True)
@click.pass_obj
def users_add(cli: Cli, user_id, name, groups):
    """Add a user (or add groups to an existing one)."""
    from engine.org.users import add_user

    add_user(cli.ctx, user_id, name or user_id, list(groups))
    cli.out({"user": user_id, "groups": list(groups)}, f"user {user_id} in {', '.join(groups) or 'no groups'}")


def _register() -> None:
    from engine.cli import audit as cli_audit
    from engine.cli import org as cli_org
    from engine.cli import records as cli_records
    from engine.cli import versions as cli_versions
    from engine.cli import worker as cli_worker

    for command in [*cli_org.COMMANDS, *cli_records.COMMANDS, *cli_audit.COMMANDS, *cli_versions.COMMANDS,
                    *cli_worker.COMMANDS]:
        main.add_command(command)


_register()

if __name__ == "__main__":
    main()
