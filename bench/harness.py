"""What every benchmark needs: a throw-away local stack, the project's processes on it, bounded
waits, CPU and memory readings of processes, and percentiles."""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from clickhouse_driver import Client
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from complaintflow import stack
from complaintflow.config import Settings, load_settings
from complaintflow.services import clickhouse_client, migrate_clickhouse

REPO_ROOT = Path(__file__).resolve().parent.parent
# JSON object of Faust settings that bench.worker applies on top of the project's app.
WORKER_SETTINGS_ENV = "BENCH_FAUST_SETTINGS"
WORKER = "worker"
PROJECTOR = "project"
WORKER_READY = "[^Worker]: Ready"  # Faust logs it once the tables are recovered


class BenchError(RuntimeError):
    """A measurement could not finish: a timeout, a stall, or a process that died."""


@dataclass(frozen=True)
class BenchStack:
    """One local stack (broker + ClickHouse) in its own temporary state directory."""

    state_dir: Path
    settings: Settings
    clients: list[Client] = field(default_factory=list)  # handed out, closed by bench_stack

    def clickhouse(self) -> Client:
        client = clickhouse_client(self.settings)
        self.clients.append(client)
        return client

    def process_env(self) -> dict[str, str]:
        # Spelled out, so CF_* variables of the caller's shell never point a process elsewhere.
        settings = self.settings
        python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        return {"CF_STATE_DIR": str(self.state_dir), "CF_PROFILE": "local",
                "CF_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
                "CF_CLICKHOUSE_HOST": settings.clickhouse_host,
                "CF_CLICKHOUSE_PORT": str(settings.clickhouse_port),
                "PYTHONPATH": python_path}

    def spawn(self, name: str, module: str, *args: str,
              env: Mapping[str, str] | None = None) -> int:
        """Run `python -m module args` in the background, recorded so stack.down stops it."""
        return stack.spawn_service(self.state_dir, name, [sys.executable, "-m", module, *args],
                                   env={**self.process_env(), **(env or {})})

    def start_worker(self, faust_settings: Mapping[str, Any],
                     sla_policy: Path | None = None) -> int:
        env = {WORKER_SETTINGS_ENV: json.dumps(dict(faust_settings))}
        if sla_policy is not None:
            env["CF_SLA_POLICY"] = str(sla_policy)
        return self.spawn(WORKER, "bench.worker", env=env)

    def start_projector(self) -> int:
        return self.spawn(PROJECTOR, "complaintflow.cli", "project")

    def stop(self, name: str) -> None:
        stack.stop_service(self.state_dir, name)

    def pids(self) -> dict[str, int]:
        """Every process of this stack that is alive: servers and services."""
        processes = stack.status(self.state_dir)["processes"]
        return {name: p["pid"] for name, p in processes.items() if p["alive"]}

    def pid(self, name: str) -> int:
        return self.pids()[name]

    def log_path(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def wait_for_log(self, name: str, text: str, timeout_s: float) -> None:
        try:
            stack.wait_for_log(self.state_dir, name, text, timeout_s)
        except stack.StackError as exc:
            raise BenchError(str(exc)) from exc

    def wait_worker_ready(self, timeout_s: float) -> None:
        self.wait_for_log(WORKER, WORKER_READY, timeout_s)

    @contextmanager
    def log_on_failure(self, name: str) -> Iterator[None]:
        """Add the tail of a process's log to a BenchError raised inside."""
        try:
            yield
        except BenchError as exc:
            raise BenchError(f"{exc}; {name} log ends:\n{log_tail(self.log_path(name))}"
                             ) from exc

    def require_alive(self, *names: str) -> None:
        alive = self.pids()
        for name in names:
            if name not in alive:
                raise BenchError(f"{name} exited; its log {self.log_path(name)} ends:\n"
                                 f"{log_tail(self.log_path(name))}")


@contextmanager
def bench_stack(label: str) -> Iterator[BenchStack]:
    """A fresh stack (empty log, empty ClickHouse, migrated), stopped and deleted afterwards."""
    state_dir = Path(tempfile.mkdtemp(prefix=f"cf-bench-{label}-")).resolve()
    env: BenchStack | None = None
    try:
        stack.up(state_dir)
        settings = load_settings(env={"CF_PROFILE": "local"}, state_dir=state_dir)
        migrate_clickhouse(settings)
        env = BenchStack(state_dir, settings)
        yield env
    finally:
        # ClickHouse 18.16 takes 10 s to stop while a client is still connected.
        for client in env.clients if env else []:
            client.disconnect()
        stack.down(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def log_json_line(path: Path, marker: str) -> dict[str, Any]:
    """The JSON object printed after `marker` on the last line that has it."""
    found = [line for line in path.read_text(errors="replace").splitlines() if marker in line]
    if not found:
        raise BenchError(f"no {marker!r} line in {path}")
    return json.loads(found[-1].split(marker, 1)[1])


# ---------------------------------------------------------------- waiting


@dataclass(frozen=True)
class Progress:
    """Monotonic instants of one run: started, first progress seen, done."""

    started: float
    first_progress: float
    finished: float

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    @property
    def startup_seconds(self) -> float:
        return self.first_progress - self.started

    def rate(self, items: int) -> float:
        """Items per second from the start (start-up and group joins included)."""
        return items / max(self.seconds, 1e-9)

    def steady_rate(self, items: int) -> float:
        """Items per second from the first progress seen (start-up excluded)."""
        return items / max(self.finished - self.first_progress, 1e-9)


def follow(read: Callable[[], tuple[int, bool]], started: float, what: str, *,
           timeout_s: float, stall_s: float = 90.0, interval_s: float = 1.0,
           check: Callable[[], None] = lambda: None) -> Progress:
    """Poll read() -> (progress count, done) until done; fail on a timeout, on no progress for
    stall_s, or when check() raises (e.g. a process died)."""
    first: float | None = None
    last_value, last_change = 0, time.monotonic()
    while True:
        value, done = read()
        now = time.monotonic()
        if value > 0 and first is None:
            first = now
        if done:
            return Progress(started, first if first is not None else now, now)
        if value != last_value:
            last_value, last_change = value, now
        if now - started > timeout_s:
            raise BenchError(f"{what}: not done after {timeout_s:.0f} s (progress {value})")
        if now - last_change > stall_s:
            raise BenchError(f"{what}: no progress for {stall_s:.0f} s (stuck at {value})")
        check()
        time.sleep(interval_s)


def wait_until(check: Callable[[], bool], timeout_s: float, what: str,
               interval_s: float = 0.2) -> float:
    """Poll check() until True; return the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            raise BenchError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)
    return time.monotonic() - started


# ---------------------------------------------------------------- offsets

WORKER_GROUP = "complaintflow"  # the worker app's id is its consumer group
PROJECTOR_GROUP = "complaintflow-projector"  # run_projector's default group


class Offsets:
    """Committed offsets of consumer groups and end offsets of topics, summed over partitions.

    End offsets are only right for topics written one record per batch (the worker's output
    on the local profile): Tansu reports the base offset of a partition's last batch + 1.
    """

    def __init__(self, bootstrap: str) -> None:
        self._admin = KafkaAdminClient(bootstrap_servers=bootstrap,
                                       client_id="complaintflow-bench")
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap,
                                       client_id="complaintflow-bench")

    def committed(self, group: str, topic: str | None = None) -> int:
        offsets = self._admin.list_group_offsets({group: None}).get(group, {})
        return sum(max(0, meta.offset) for tp, meta in offsets.items()
                   if topic is None or tp.topic == topic)

    def end(self, topic: str) -> int:
        partitions = self._consumer.partitions_for_topic(topic) or set()
        ends = self._consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())

    def close(self) -> None:
        self._admin.close()
        self._consumer.close()


# ---------------------------------------------------------------- processes


def _process(pid: int) -> psutil.Process:
    """psutil's view of pid; a process that is gone raises ProcessLookupError (an OSError),
    as reading its /proc files did, so callers that skip exited processes keep working."""
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess as exc:
        raise ProcessLookupError(f"no process {pid}") from exc


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    try:
        times = _process(pid).cpu_times()
    except psutil.NoSuchProcess as exc:
        raise ProcessLookupError(f"no process {pid}") from exc
    return times.user + times.system


# memory_kb's fields, named as in /proc/PID/status, and the psutil readings that give them.
_PSUTIL_MEMORY = {
    "VmRSS": ("memory_info", "rss"),  # resident set size now
    "VmSize": ("memory_info", "vms"),  # virtual memory size
}
# Peak resident set size. psutil has it on some platforms (Windows: peak_wset) and, in
# versions that add it, as peak_rss; psutil 7.2 on Linux does not, so there it is the
# kernel's high-water mark, the VmHWM line of /proc/PID/status. Either way it is the
# largest RSS the process ever had, not the largest of our samples: a spike between two
# readings still counts.
_PSUTIL_PEAK_RSS = ("peak_rss", "peak_wset")


def memory_kb(pid: int, field: str = "VmHWM") -> int:
    """A memory figure of the process in kB, named as in /proc/PID/status: VmHWM (default)
    is the peak resident set size, VmRSS the resident set size now."""
    proc = _process(pid)
    try:
        if field == "VmHWM":
            info = proc.memory_info()
            peak = next((getattr(info, name) for name in _PSUTIL_PEAK_RSS
                         if hasattr(info, name)), None)
            return peak // 1024 if peak is not None else _proc_status_kb(pid, field)
        if field in _PSUTIL_MEMORY:
            method, attribute = _PSUTIL_MEMORY[field]
            return getattr(getattr(proc, method)(), attribute) // 1024
    except psutil.NoSuchProcess as exc:
        raise ProcessLookupError(f"no process {pid}") from exc
    return _proc_status_kb(pid, field)


def _proc_status_kb(pid: int, field: str) -> int:
    """A kB line of /proc/PID/status, for what psutil does not report (see _PSUTIL_PEAK_RSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {field}")


class CpuMeter:
    """CPU seconds used by each process of a stack (and by the bench itself) between two points,
    in cores: 1.0 means one core busy for the whole interval."""

    def __init__(self, env: BenchStack) -> None:
        self._env = env
        self._start = self._read()
        self._started = time.monotonic()

    def _read(self) -> dict[str, float]:
        readings = {"bench": time.process_time()}
        for name, pid in self._env.pids().items():
            try:
                readings[name] = cpu_seconds(pid)
            except OSError:
                continue  # exited between listing and reading
        return readings

    def cores(self) -> dict[str, float]:
        end, wall = self._read(), time.monotonic() - self._started
        return {name: round((end[name] - self._start[name]) / max(wall, 1e-9), 2)
                for name in end if name in self._start}


# ---------------------------------------------------------------- numbers


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the closest ranks; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
