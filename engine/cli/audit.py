"""`xiezuo audit`: verify the hash chains and anchors, anchor the chains' heads, replay instances."""

from __future__ import annotations

import sys
import time

import click


class _Progress:
    """A progress bar on stderr: "replaying [#######.............]  350/1000  35%  812/s"."""

    WIDTH = 30

    def __init__(self, label: str, shown: bool):
        self.label = label
        self.shown = shown
        self.started = time.monotonic()
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.shown or total <= 0:
            return
        filled = self.WIDTH * done // total
        rate = done / max(time.monotonic() - self.started, 1e-9)
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done:>{len(str(total))}}/"
                         f"{total} {100 * done // total:>3}% {rate:,.0f}/s")
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _progress_shown(option: bool | None) -> bool:
    return sys.stderr.isatty() if option is None else option


@click.group()
def audit():
    """The audit log: integrity of its hash chains, anchors, replay of instances."""


@audit.command("verify")
@click.argument("instance_id", required=False)
@click.option("--progress/--no-progress", default=None, help="A progress bar on stderr (default: on a terminal).")
@click.option("--witness", type=click.Path(dir_okay=False),
              help="A copy of the anchors kept elsewhere (default: XIEZUO_ANCHOR_WITNESS) to compare them with.")
@click.pass_obj
def audit_verify(cli, instance_id, progress, witness):
    """Check the hash chain of one instance, or of all (the processes' chains of deploys and migrations
    too), against the chains' heads and the anchors.

    Each edited, deleted, inserted or reordered row is listed with its position; exit code 1 if any.
    """
    from engine.audit.verify import verify

    bar = _Progress("verifying", _progress_shown(progress) and not instance_id)
    try:
        report = verify(cli.ctx, instance_id, progress=bar, witness=witness)
    finally:
        bar.close()
    anchor = report["anchor"]
    lines = [f"{report['instances']} instance(s) and {report['processes']} process chain(s) checked, "
             f"{report['anchors']} anchor(s)"
             + (f", the latest #{anchor['id']} at {anchor['at']} ({anchor['hash']})" if anchor else "")
             + (f", {report['witnessed']} held by the witness" if report["witnessed"] is not None else "")
             + f", {len(report['problems'])} problem(s)"]
    for p in report["problems"]:
        where = (f"anchor #{p['position']}" if p["instance_id"] is None
                 else f"process {p['process_id']} #{p['position']}" if p.get("process_id")
                 else f"{p['instance_id']} #{p['position']}")
        lines.append(f"  {where} {p['kind']}: {p['detail']}")
    shown = {"instances": report["instances"], "problems": report["problems"]}
    if anchor:  # the latest anchor's hash, to compare with a copy kept elsewhere
        shown.update(anchors=report["anchors"], anchor=anchor, witnessed=report["witnessed"])
    cli.out(shown, "\n".join(lines))
    if report["problems"]:
        sys.exit(1)


@audit.command("anchor")
@click.option("--as", "user", default="system", show_default=True)
@click.pass_obj
def audit_anchor(cli, user):
    """Anchor the head of every chain (and the previous anchor) in one hash; keep it somewhere else too."""
    from engine.audit.anchors import make_anchor

    made = make_anchor(cli.ctx, user)
    cli.out(made, f"anchor #{made['id']} at {made['at']} over {made['chains']} chain(s) "
                  f"({made['moved']} moved since the previous one): {made['hash']}")


@audit.command("replay")
@click.argument("instance_id", required=False)
@click.option("--all", "replay_all", is_flag=True, help="Replay every instance.")
@click.option("--progress/--no-progress", default=None, help="A progress bar on stderr (default: on a terminal).")
@click.pass_obj
def audit_replay(cli, instance_id, replay_all, progress):
    """Re-execute instances from their recorded inputs and compare with the stored state.

    Nothing is written and nobody is notified; exit code 1 if any instance does not match.
    """
    from engine.audit.replay import replay_check

    if bool(instance_id) == bool(replay_all):
        raise click.UsageError("give an INSTANCE or --all")
    bar = _Progress("replaying", _progress_shown(progress) and replay_all)
    try:
        report = replay_check(cli.ctx, None if replay_all else [instance_id], progress=bar)
    finally:
        bar.close()
    lines = [f"{report['instances']} instance(s) replayed, {len(report['mismatches'])} with mismatches"]
    for item in report["mismatches"]:
        lines.append(f"  {item['instance_id']}" + (f" ({item['business_key']})" if item["business_key"] else "")
                     + f": {len(item['problems'])} difference(s)")
        lines += [f"    {p['where']}: {p['detail']}" for p in item["problems"][:20]]
        if len(item["problems"]) > 20:
            lines.append(f"    ... and {len(item['problems']) - 20} more")
    cli.out(report, "\n".join(lines))
    if report["mismatches"]:
        sys.exit(1)


COMMANDS = [audit]
