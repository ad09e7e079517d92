"""`python -m bench` / `complaintflow bench`: run the measurements, print one table, write JSON.

Each measurement starts its own local stack in a temporary directory and stops it after, so
one never sees another's log or tables. Measurements run one after the other (the machines
have 2 cores); a measurement that fails is reported as FAILED and the others still run.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import breach, dashboard, freshness, memory, replay, throughput
from bench.harness import REPO_ROOT, BenchError, bench_stack
from bench.machine import machine_facts
from bench.sizes import SIZES, Options
from bench.table import RESULTS_DIR, Measurement, format_table, result_path, write_result


@dataclass(frozen=True)
class Benchmark:
    key: str
    title: str
    measure: Callable[[Options], Measurement]


BENCHMARKS = (
    Benchmark("P1", "throughput", throughput.measure),
    Benchmark("P2", "freshness", freshness.measure),
    Benchmark("P3", "SLA breach latency", breach.measure),
    Benchmark("P4", "replay", replay.measure),
    Benchmark("P5", "dashboard queries", dashboard.measure),
    Benchmark("P6", "worker memory", memory.measure),
)
KEYS = tuple(b.key for b in BENCHMARKS)


def _setting(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def _keys(text: str) -> list[str]:
    keys = [key.strip().upper() for key in text.split(",") if key.strip()]
    unknown = [key for key in keys if key not in KEYS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(KEYS)}")
    return keys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="complaintflow bench", description=__doc__)
    parser.add_argument("--size", choices=tuple(SIZES), default="small")
    parser.add_argument("--only", type=_keys, default=list(KEYS),
                        help="comma-separated measurements, e.g. P1,P3 (default: all)")
    parser.add_argument("--worker-setting", type=_setting, action="append", default=[],
                        metavar="NAME=VALUE",
                        help="a Faust setting applied on top of the project's app, for "
                             "tuning experiments (repeatable; VALUE is JSON or text)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    return parser


def _run_one(benchmark: Benchmark, options: Options) -> Measurement:
    started = time.monotonic()
    print(f"[{benchmark.key}] {benchmark.title} ...", flush=True)
    try:
        measurement = benchmark.measure(options)
    except (BenchError, OSError, RuntimeError, ValueError) as exc:
        traceback.print_exc()
        measurement = Measurement(benchmark.key, benchmark.title, error=str(exc))
    measurement.details["wall_seconds"] = round(time.monotonic() - started, 1)
    print(f"[{benchmark.key}] done in {measurement.details['wall_seconds']} s", flush=True)
    return measurement


def _commit() -> str | None:
    """The repository's HEAD commit (with "+changes" when the tree differs), if known."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no")
                       else "")
    except (OSError, subprocess.SubprocessError):
        return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = Options(SIZES[args.size], dict(args.worker_setting))
    started_at = datetime.now(UTC)
    path = result_path(args.results_dir)
    run: dict[str, Any] = {"size": args.size, "only": args.only,
                           "worker_settings": options.worker_settings,
                           "started_at": started_at.isoformat(timespec="seconds"),
                           "host": platform.node(), "commit": _commit()}
    with bench_stack("machine") as env:
        machine = machine_facts(env.clickhouse())
    measurements: list[Measurement] = []
    for benchmark in BENCHMARKS:
        if benchmark.key in args.only:
            measurements.append(_run_one(benchmark, options))
            # Written after each measurement, so an interrupted run still leaves its numbers.
            run["seconds"] = round((datetime.now(UTC) - started_at).total_seconds(), 1)
            write_result(path, run, machine, measurements)
    print()
    print(f"complaintflow bench --size {args.size}: {machine['cpu_count']} × "
          f"{machine['cpu_model']}, Python {machine['python']}, "
          f"ClickHouse {machine['clickhouse_server']}, {machine['tansu']}")
    print(format_table(measurements))
    print(f"\nresult: {path}")
    return 1 if any(m.error for m in measurements) else 0


if __name__ == "__main__":
    sys.exit(main())
