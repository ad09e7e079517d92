"""`complaintflow` command line: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from complaintflow.calendar_cli import add_calendar_command
from complaintflow.config import ConfigError, load_settings


def _stack(args: argparse.Namespace) -> int:
    from complaintflow import stack

    state_dir = Path(args.state_dir)
    if args.action == "up":
        endpoints = stack.up(state_dir)
        from complaintflow.services import migrate_clickhouse

        migrate_clickhouse(load_settings(state_dir=state_dir))
        from complaintflow.replay import restore_after_stack_up

        restore_after_stack_up(state_dir)  # a new broker gets its log back from the archive
        print(json.dumps(endpoints.as_dict(), indent=2))
    elif args.action == "down":
        stopped = stack.down(state_dir)
        print("stopped: " + (", ".join(stopped) or "nothing"))
    else:
        status = stack.status(state_dir)
        print(json.dumps(status, indent=2) if args.json else _status_lines(status))
    return 0


def _status_lines(status: dict) -> str:
    lines = [f"running: {status['running']}"]
    lines += [f"{k}: {v}" for k, v in status.items() if k not in ("running", "processes")]
    lines += [f"process {name}: pid {p['pid']} {'alive' if p['alive'] else 'dead'}"
              for name, p in status.get("processes", {}).items()]
    return "\n".join(lines)


def _api(args: argparse.Namespace) -> int:
    from streams.intake.api import run_api

    settings = load_settings()
    run_api(settings.kafka_bootstrap, args.host or settings.api_host,
            args.port or settings.api_port, settings.api_token)
    return 0


def _serve_metrics(args: argparse.Namespace) -> None:
    """Expose this process's Prometheus metrics, when a port is given."""
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr=args.metrics_host)


def _worker(args: argparse.Namespace) -> int:
    from streams.tickets.model import DAY_MS
    from streams.worker import run_worker

    _serve_metrics(args)
    sys.argv = [sys.argv[0], "worker", "-l", "info"]  # Faust's Worker reads its own argv
    settings = load_settings()
    run_worker(settings.kafka_bootstrap, settings.profile, settings.worker_data_dir,
               settings.sla_policy, round(settings.ticket_retention_days * DAY_MS))
    return 0


def _project(args: argparse.Namespace) -> int:
    from projections.projector import run_projector

    _serve_metrics(args)
    settings = load_settings()
    run_projector(settings.kafka_bootstrap, settings.clickhouse_host, settings.clickhouse_port,
                  stop_event=_stop_on_sigterm())
    return 0


def _stop_on_sigterm() -> threading.Event:
    """An event set by SIGTERM (what `stack down` sends): the loop then flushes what it holds
    and commits before it exits, instead of dying with its last batch (the local broker keeps
    no log, so that batch would be missing from the archive for good)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    return stop


def _alert(args: argparse.Namespace) -> int:
    from alerting.bridge import run_bridge

    settings = load_settings()
    if not settings.alertmanager_url:
        raise ConfigError("CF_ALERTMANAGER_URL is not set: the alert bridge posts to Alertmanager")
    _serve_metrics(args)
    run_bridge(settings.kafka_bootstrap, settings.alertmanager_url, stop_event=_stop_on_sigterm())
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from complaintflow.services import migrate_clickhouse

    applied = migrate_clickhouse(load_settings())
    print("applied: " + (", ".join(map(str, applied)) or "nothing (up to date)"))
    return 0


def _setup(_args: argparse.Namespace) -> int:
    from complaintflow.services import migrate_clickhouse
    from complaintflow.stack import create_topics

    settings = load_settings()
    create_topics(settings.kafka_bootstrap)
    applied = migrate_clickhouse(settings)
    print(f"topics ready; migrations applied: {applied or 'none (up to date)'}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from complaintflow.demo import simulate_and_report_progress

    simulate_and_report_progress(load_settings(), args.tickets, args.days, args.compression,
                                 args.seed)
    return 0


def _send(args: argparse.Namespace) -> int:
    from streams.intake.producer import EventProducer, import_file

    settings = load_settings()
    producer = EventProducer(settings.kafka_bootstrap, settings.profile)
    try:
        summary = import_file(Path(args.file), producer)
    finally:
        producer.close()
    for problem in summary.problems:
        print(problem, file=sys.stderr)
    print(f"sent {summary.sent}, dead-lettered {summary.dead_lettered}")
    return 1 if summary.dead_lettered else 0


def _replay(args: argparse.Namespace) -> int:
    from complaintflow.replay import run_replay_command

    return run_replay_command(load_settings(), from_archive=args.from_archive)


def _report(_args: argparse.Namespace) -> int:
    from complaintflow.services import clickhouse_client
    from projections.report import format_report, kpi_report

    print(format_report(kpi_report(clickhouse_client(load_settings()))))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from bench.run import main as bench_main

    return bench_main(args.bench_args)


def _demo(args: argparse.Namespace) -> int:
    from complaintflow.demo import run_demo

    return run_demo(Path(args.state_dir), tickets=args.tickets, days=args.days,
                    seconds=args.seconds, keep=args.keep)


def _policy(args: argparse.Namespace) -> int:
    from complaintflow.policy_check import run_policy_check

    return run_policy_check(args.file, args.against)


def _sla(args: argparse.Namespace) -> int:
    from complaintflow.services import clickhouse_client
    from complaintflow.sla_cli import run_recompute

    print(run_recompute(clickhouse_client(load_settings()), args.as_of_policy, args.as_of,
                        args.limit, args.json), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="complaintflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace], int], text: str
                ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(handler=handler)
        return p

    p = command("stack", _stack, "start, stop or inspect the local broker + ClickHouse")
    p.add_argument("action", choices=("up", "down", "status"))
    p.add_argument("--json", action="store_true", help="status as JSON")
    p.add_argument("--state-dir", default=".stack")
    p = command("api", _api, "run the HTTP intake (POST /v1/events)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    for name, handler, text in (("worker", _worker, "run the Faust stream processors"),
                                ("project", _project, "run the ClickHouse projector"),
                                ("alert", _alert, "post SLA breach alerts to Alertmanager")):
        p = command(name, handler, text)
        p.add_argument("--metrics-port", type=int, help="serve Prometheus metrics here")
        p.add_argument("--metrics-host", default="127.0.0.1",
                       help="address to serve metrics on (0.0.0.0 inside a container)")
    command("migrate", _migrate, "apply ClickHouse migrations")
    command("setup", _setup, "create the Kafka topics and apply migrations (production)")
    p = command("simulate", _simulate, "post simulated complaint traffic to the API")
    _simulation_options(p)
    p.add_argument("--compression", type=float, default=2000.0,
                   help="simulated seconds per wall second")
    p = command("send", _send, "bulk-import a JSON-lines file of events")
    p.add_argument("file")
    command("report", _report, "print the KPI report from ClickHouse")
    p = command("replay", _replay, "rebuild every ClickHouse projection from the topics "
                "(docs/replay.md)")
    p.add_argument("--from-archive", action="store_true", help="instead, restore the topics "
                   "of an empty broker from the ClickHouse archive (the worker and projector "
                   "then rebuild the rest)")
    p = command("bench", _bench, "run the benchmarks (options: see `complaintflow bench -h`)")
    p.add_argument("bench_args", nargs=argparse.REMAINDER)
    p = command("demo", _demo, "local stack + simulated traffic, ending in a KPI report")
    _simulation_options(p)
    p.add_argument("--seconds", type=float, default=90.0, help="wall time for the traffic")
    p.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    p.add_argument("--state-dir", default=".stack-demo",
                   help="the demo's own stack, emptied at each start")
    p = command("policy", _policy, "check an SLA policy file and summarise what it changes")
    p.add_argument("action", choices=("check",))
    p.add_argument("file", type=Path)
    p.add_argument("--against", type=Path, help="policy to compare with (default: CF_SLA_POLICY, "
                   "else the packaged default)")
    p = command("sla", _sla, "SLA outcomes as contracted beside those under another policy")
    p.add_argument("action", choices=("recompute",))
    p.add_argument("--as-of-policy", type=Path, required=True, metavar="FILE",
                   help="the policy to recompute under, as if in force from the start")
    p.add_argument("--as-of", help="judge running clocks at this time (ISO, default now; "
                   "without a zone: Asia/Shanghai)")
    p.add_argument("--limit", type=int, default=20, help="changed clocks to list")
    p.add_argument("--json", action="store_true", help="the comparison as JSON")
    add_calendar_command(sub)  # check | import-ics | seed: complaintflow/calendar_cli.py
    return parser


def _simulation_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tickets", type=int, default=2000)
    p.add_argument("--days", type=float, default=3.0, help="simulated span")
    p.add_argument("--seed", type=int, default=7)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # every later word is the benchmark's own option
        return _bench(argparse.Namespace(bench_args=argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
