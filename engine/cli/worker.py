"""`xiezuo worker`: the background work (timers, notifications, periodic jobs) in a process of its own."""

from __future__ import annotations

import logging
import signal

import click


@click.command("worker")
@click.option("--celery/--no-celery", "use_celery", default=None,
              help="Take the work from the Celery broker (default: when XIEZUO_BROKER_URL is set).")
@click.option("--beat/--no-beat", default=True, show_default=True,
              help="With Celery: also send the periodic sweep from this worker.")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 64),
              help="With Celery: sweeps run at once in this worker.")
@click.option("--once", is_flag=True, help="Do what is due now, print it, and exit.")
@click.pass_obj
def worker(cli, use_celery: bool | None, beat: bool, concurrency: int, once: bool):
    """Run the timer sweep, the notification sender and the periodic jobs until stopped.

    Run as many as you like, on one machine or several: each timer fires once and each notice is
    sent once. Without a broker each worker looks at the database every XIEZUO_SWEEP_INTERVAL
    seconds (1); with XIEZUO_BROKER_URL (e.g. redis://127.0.0.1:6379/0) they are Celery workers.
    """
    from engine.background import Runner, tick

    ctx = cli.ctx
    if once:
        result = tick(ctx)
        cli.out({"fired": result.fired, "dispatched": result.dispatched, "delivered": result.delivered,
                 "jobs": result.jobs, "errors": result.errors},
                f"{len(result.fired)} timer(s) fired, {result.dispatched} notice(s) dispatched, "
                f"{result.delivered} delivered, jobs: {', '.join(result.jobs) or 'none'}"
                + "".join(f"\n  error: {e}" for e in result.errors))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from engine.knowledge.words import load_segmenter

    load_segmenter()  # a long-running worker loads jieba's dictionary once, before the first sweep
    if use_celery is None:
        use_celery = bool(ctx.config.broker_url)
    if use_celery:
        if not ctx.config.broker_url:
            raise click.UsageError("--celery needs a broker: set XIEZUO_BROKER_URL")
        from engine.celery_app import run_worker

        run_worker(ctx, beat=beat, concurrency=concurrency)
        return
    runner = Runner(ctx)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: runner.stop())
    click.echo(f"xiezuo worker: sweeping every {runner.interval:g} s (stop with Ctrl-C)", err=True)
    runner.run_forever()


COMMANDS = [worker]
