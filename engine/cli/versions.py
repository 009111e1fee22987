"""`xiezuo versions PROCESS` and `xiezuo migrate FROM TO [--preview]`: process versions and moving requests."""

from __future__ import annotations

import click


@click.command()
@click.argument("process_id")
@click.pass_obj
def versions(cli, process_id):
    """A process's versions, newest first: author, time, what changed, requests running on each."""
    from engine.bpmn.versions import list_versions

    rows = list_versions(cli.ctx, process_id)
    lines = []
    for v in rows:
        c = v["changes"]
        changed = ("first version" if c is None else
                   f"+{len(c['added'])} -{len(c['removed'])} ~{len(c['changed'])}"
                   + (" (layout)" if c["layout_changed"] else ""))
        lines.append(f"v{v['version']:<4} id={v['version_id']:<5} {v['created_at'][:16]}  {v['created_by']:<14} "
                     f"{changed:<24} running {v['running']} of {v['instances']}")
    cli.out(rows, "\n".join(lines))


@click.command()
@click.argument("from_version_id", type=int)
@click.argument("to_version_id", type=int)
@click.option("--as", "user", default=None, help="the process owner who moves them (not needed for --preview)")
@click.option("--preview", is_flag=True, help="only say which requests can move and why the others cannot")
@click.option("--instance", "instances", multiple=True, help="move only these instances")
@click.pass_obj
def migrate(cli, from_version_id, to_version_id, user, preview, instances):
    """Move running requests of one process version (by id) to a newer one."""
    from engine.workflow.migration import migrate_instances, preview_migration

    if preview:
        found = preview_migration(cli.ctx, from_version_id, to_version_id)
        lines = [f"{i['business_key'] or i['instance_id']}: "
                 + ("can move" if i["movable"] else "; ".join(f"[{r['element_id'] or '-'}] {r['message']}"
                                                               for r in i["reasons"]))
                 for i in found["instances"]]
        cli.out(found, "\n".join(lines) or "no running request on this version")
        return
    if not user:
        raise click.UsageError("--as USER is needed to move requests (a process owner)")
    done = migrate_instances(cli.ctx, from_version_id, to_version_id, user, list(instances) or None)
    lines = [f"moved {m['business_key'] or m['instance_id']}" for m in done["moved"]]
    lines += [f"not moved {r['business_key'] or r['instance_id']}: " + "; ".join(x["message"] for x in r["reasons"])
              for r in done["refused"]]
    cli.out(done, "\n".join(lines) or "nothing to move")


COMMANDS = [versions, migrate]
