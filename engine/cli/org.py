"""`xiezuo org`, `xiezuo calendar` and `xiezuo submit`: the organisation, working days, requests."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click


def _date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{what} '{value}' is not a date (YYYY-MM-DD)") from None


@click.group()
def org():
    """Departments, heads, interface persons, substitutes."""


@org.command("import")
@click.argument("yaml_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--departments", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="departments CSV")
@click.option("--users", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="users CSV")
@click.option("--as", "user", default="setup", show_default=True)
@click.option("--first", is_flag=True, help="The first import of an empty organisation (no admin exists yet).")
@click.pass_obj
def org_import(cli, yaml_file, departments, users, user, first):
    """Import from a YAML file, or from departments/users CSV files; all or nothing."""
    from engine.org.importer import import_org, parse_csv, parse_yaml

    if yaml_file and (departments or users) or not (yaml_file or departments or users):
        raise click.UsageError("give a YAML file, or --departments and/or --users CSV files")
    if yaml_file:
        data = parse_yaml(yaml_file.read_text("utf-8"), yaml_file.name)
    else:
        data = parse_csv(departments.read_text("utf-8") if departments else None,
                         users.read_text("utf-8") if users else None,
                         (departments.name if departments else "departments.csv",
                          users.name if users else "users.csv"))
    result = import_org(cli.ctx, data, user, bootstrap=first)
    cli.out(result.to_dict(), f"{result.departments} department(s), {result.users} user(s), "
            f"{result.posts_changed} post change(s), {result.substitutes} substitute(s) imported")


@org.command("show")
@click.pass_obj
def org_show(cli):
    """The departments with their heads and interface persons."""
    from engine.org.directory import directory

    d = directory(cli.ctx)
    rows = [{"id": k, "name": v["name"], "parent": v["parent_id"], "head": d.head(k),
             "interface": d.interface_person(k)} for k, v in sorted(d.departments.items(),
                                                                   key=lambda kv: kv[1]["sort_order"])]
    name = {u: v["name"] for u, v in d.users.items()}
    cli.out(rows, "\n".join(f"{r['id']:<6} {r['name']:<8} 负责人 {name.get(r['head'], '-')}  "
                            f"对接人 {name.get(r['interface'], '-')}" for r in rows))


@org.command("post")
@click.argument("department")
@click.argument("post", type=click.Choice(["head", "interface"]))
@click.argument("user_id", required=False)
@click.option("--as", "by", required=True)
@click.pass_obj
def org_post(cli, department, post, user_id, by):
    """Give a department's post to a user (no user: leave it empty); the previous holder is kept as history."""
    from engine.org.directory import set_post

    set_post(cli.ctx, department, post, user_id, by)
    cli.out({"department": department, "post": post, "user": user_id},
            f"{department} {post}: {user_id or '(empty)'}")


@org.command("away")
@click.argument("user_id")
@click.option("--substitute", required=True)
@click.option("--from", "starts", required=True, help="first day away (YYYY-MM-DD)")
@click.option("--to", "ends", required=True, help="last day away (YYYY-MM-DD)")
@click.option("--reason", default="")
@click.option("--as", "by", required=True)
@click.pass_obj
def org_away(cli, user_id, substitute, starts, ends, reason, by):
    """Record an absence: the substitute receives the user's tasks on those days."""
    from engine.org.directory import add_substitute

    row = add_substitute(cli.ctx, user_id, substitute, _date(starts, "--from"), _date(ends, "--to"), reason, by)
    cli.out({"id": row}, f"{substitute} substitutes {user_id} from {starts} to {ends}")


@click.group()
def calendar():
    """Working days: China's statutory calendar plus the admins' rulings."""


@calendar.command("set")
@click.argument("day")
@click.option("--workday/--rest", required=True)
@click.option("--note", default="")
@click.option("--as", "by", required=True)
@click.pass_obj
def calendar_set(cli, day, workday, note, by):
    """Rule a date a working day or a rest day."""
    from engine.org.calendar import set_day

    cli.out(set_day(cli.ctx, _date(day, "day"), workday, note, by), f"{day}: {'工作日' if workday else '休息日'}")


@calendar.command("show")
@click.argument("year", type=int)
@click.pass_obj
def calendar_show(cli, year):
    """The admins' rulings of a year, and a warning if the year's statutory calendar is unknown."""
    from engine.org.calendar import calendar_warnings, list_days

    days, warnings = list_days(cli.ctx, year), calendar_warnings(cli.ctx, [year])
    cli.out({"days": days, "warnings": [cli.message(w) for w in warnings]}, "\n".join(
        [*map(cli.say, warnings), *(f"{d['day']}  {'工作日' if d['workday'] else '休息日'}  {d['note']}"
                                    for d in days)]))


@click.command()
@click.option("--as", "user", required=True)
@click.option("--data", required=True, help="The request form as a JSON object.")
@click.option("--process", "process_id", default="collaboration_request", show_default=True)
@click.pass_obj
def submit(cli, user, data, process_id):
    """File a request: it gets its number (XMBG-YYYYMM###) and enters the flow."""
    from engine.requests.requests import submit_request
    from engine.workflow.instances import describe_instance

    try:
        values = json.loads(data)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"--data is not valid JSON: {exc}") from None
    if not isinstance(values, dict):
        raise click.BadParameter("--data must be a JSON object")
    result = submit_request(cli.ctx, user, values, process_id)
    number = describe_instance(cli.ctx, result.instance_id)["business_key"]
    cli.out({**result.to_dict(), "request_no": number},
            f"request {number} submitted; open tasks: {', '.join(result.opened_tasks) or 'none'}")


COMMANDS = [org, calendar, submit]
