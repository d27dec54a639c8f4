"""The ``churn-alert`` command line (docs/CONTRACT.md)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import datetime
from pathlib import Path

from schemas.errors import ChurnError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="churn-alert", description="Real-time churn alerts and retention offers.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="everything on this machine: broker, Redis, worker, simulator, live alerts")
    d.add_argument("--duration", type=float, default=None, help="stop after SECONDS and print a summary")
    d.add_argument("--customers", type=int, default=300)
    d.add_argument("--days-per-second", type=float, default=2.0, help="simulated days per wall second")
    d.add_argument("--seed", type=int, default=7)

    w = sub.add_parser("worker", help="one stream worker against the configured broker (CHURN_BOOTSTRAP_SERVERS) and Redis")
    w.add_argument("--embed-broker", action="store_true",
                   help="no broker configured: start an in-memory one on this machine (trials only; it keeps nothing)")

    sub.add_parser("api", help="the retention team's service: alert inbox API, live dashboard, approvals, notifications")
    tk = sub.add_parser("token", help="issue an API token of the team service (printed once)")
    tk.add_argument("name", help="the person or system the token is for; recorded on every action")
    tk.add_argument("--role", required=True, choices=["agent", "analyst", "admin"])

    s = sub.add_parser("simulate", help="produce synthetic customers' events (with known fates)")
    s.add_argument("--customers", type=int, default=1000)
    s.add_argument("--days", type=float, default=180.0, help="simulated days; churners churn within them")
    s.add_argument("--churn-share", type=float, default=0.3, help="share of customers who churn (shop kind)")
    s.add_argument("--kind", choices=["shop", "app"], default="shop",
                   help="shop: shoppers who fade away before leaving; app: subscribers whose churn follows from "
                        "how much they use particular app features")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--start", type=datetime.fromisoformat, default=datetime.fromisoformat("2024-01-01T00:00:00+00:00"))
    s.add_argument("--out", type=Path, default=None, help="write JSONL (and FILE.fates.json) instead of publishing")

    r = sub.add_parser("replay", help="publish recorded events to the input topics")
    r.add_argument("file", type=Path)

    b = sub.add_parser("backtest", help="score recorded events in event-time order, in process")
    b.add_argument("file", type=Path)
    b.add_argument("--as-of", required=True, type=datetime.fromisoformat, help="RFC 3339 time, e.g. 1997-09-30T23:59:59+00:00")
    b.add_argument("--horizon-days", type=float, default=None)
    b.add_argument("--out", type=Path, required=True)

    rp = sub.add_parser("report", help="offer effect: treated vs control, uplift with confidence interval")
    rp.add_argument("--demo", action="store_true", help="the last `churn-alert demo` run's offers (its own Redis keys)")

    sn = sub.add_parser("snooze", help="no risk alert for a customer until a time (a retention agent's snooze)")
    sn.add_argument("customer_id")
    until = sn.add_mutually_exclusive_group(required=True)
    until.add_argument("--until", type=datetime.fromisoformat, help="RFC 3339 time with offset, e.g. 2024-06-01T00:00:00+00:00")
    until.add_argument("--days", type=float, help="from now")

    sc = sub.add_parser("schemas", help="JSON Schema files of every topic")
    sc.add_argument("action", choices=["export"])
    sc.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent.parent / "schemas" / "json")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from config.settings import Settings

    try:
        settings = Settings()
        logging.basicConfig(level=settings.log_level.upper().replace("WARN", "WARNING"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return _dispatch(args, settings)
    except ChurnError as exc:
        print(f"churn-alert: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    if args.command == "demo":
        from cli.demo import run_demo

        return run_demo(settings, duration=args.duration, customers=args.customers,
                        days_per_second=args.days_per_second, seed=args.seed)
    if args.command == "worker":
        from cli.worker import run_worker

        return run_worker(settings, embed_broker=args.embed_broker)
    if args.command == "api":
        from team.serve import run_api

        return run_api(settings)
    if args.command == "token":
        from services import database
        from team.db import migrate
        from team.serve import create_token

        with database(settings) as s:
            migrate(s.database_url.get_secret_value())
            print(asyncio.run(create_token(s, args.name, args.role)))
        return 0
    if args.command == "simulate":
        from cli.commands import simulate

        return asyncio.run(simulate(settings, args.customers, args.days, args.seed, args.start, args.out,
                                    args.churn_share, args.kind))
    if args.command == "replay":
        from cli.commands import replay

        return asyncio.run(replay(settings, args.file))
    if args.command == "backtest":
        from engine.backtest import run_backtest_command

        return run_backtest_command(settings, args.file, as_of=args.as_of, horizon_days=args.horizon_days, out=args.out)
    if args.command == "report":
        from cli.commands import report

        if args.demo:
            from cli.demo import demo_redis_prefix

            settings = settings.with_updates(**{"redis_prefix": demo_redis_prefix(settings)})
        return asyncio.run(report(settings))
    if args.command == "snooze":
        from cli.commands import snooze

        return asyncio.run(snooze(settings, args.customer_id, until=args.until, days=args.days))
    if args.command == "schemas":
        from schemas.export import export

        for path in export(args.dir):
            print(path)
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
