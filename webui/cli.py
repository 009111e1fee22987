"""The `xiezuo` command: the engine's commands plus `serve` and the account commands of the web app."""

from __future__ import annotations

import os

import click

from engine.cli.main import Cli, main


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_obj
def serve(cli: Cli, host: str, port: int):
    """Run the web app with the embedded server, timers and notices included (for production: gunicorn
    webui.wsgi:app, with `xiezuo worker` or Celery workers when XIEZUO_BACKGROUND=off or a broker is set)."""
    from webui import create_app
    from webui.config import WebConfig
    from webui.serving import QuietRequestHandler, start_background

    app = create_app(WebConfig.from_environ(os.environ, database_url=cli.url))
    runner = start_background(app)
    click.echo(f"Xiezuo is running: http://{host}:{port}/"
               + ("" if runner else " (timers and notices are left to `xiezuo worker`)"))
    app.run(host=host, port=port, debug=False, use_reloader=False, request_handler=QuietRequestHandler)


@main.command("set-password")
@click.argument("user_ids", nargs=-1)
@click.option("--all-without", is_flag=True, help="every user who has no password yet (e.g. a demo)")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--must-change/--no-must-change", default=True, show_default=True,
              help="whether the users choose their own password at their first sign-in (--no-must-change: a demo)")
@click.pass_obj
def set_password_command(cli: Cli, user_ids: tuple[str, ...], all_without: bool, password: str, must_change: bool):
    """Set the password of users (they sign in with their user id and choose their own at first)."""
    from engine.org.accounts import set_password, users_without_password

    users = list(user_ids)
    if all_without:
        users += users_without_password(cli.ctx)
    if not users:
        raise click.UsageError("name the users, or give --all-without")
    for user_id in users:
        set_password(cli.ctx, user_id, password, must_change=must_change)
    cli.out({"users": users}, f"password set for {len(users)} user(s)")


__all__ = ["main"]
