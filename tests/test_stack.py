"""The local stack: Tansu broker + ClickHouse 18.16 on loopback, started and stopped by PID."""

from __future__ import annotations

import json
import os
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from complaintflow import stack
from complaintflow.processes import (
    CLOCK_TICKS_PER_S,
    is_running,
    read_create_time_since_boot,
    read_start_ticks,
    stop,
)
from streams.topics import ALL_TOPICS, EVENTS


def _pid_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, stack.Endpoints]]:
    state_dir = tmp_path_factory.mktemp("stack")
    endpoints = stack.up(state_dir)
    try:
        yield state_dir, endpoints
    finally:
        stack.down(state_dir)


def test_clickhouse_config_listens_on_loopback_only(tmp_path: Path) -> None:
    config = ET.parse(stack.write_clickhouse_config(tmp_path, 19000, 18123)).getroot()
    assert [e.text for e in config.findall("listen_host")] == ["127.0.0.1"]
    assert config.findtext("tcp_port") == "19000"
    assert config.findtext("http_port") == "18123"
    for clashing in ("interserver_http_port", "https_port", "tcp_port_secure", "mysql_port"):
        assert config.find(clashing) is None
    for key in ("path", "tmp_path", "user_files_path", "format_schema_path"):
        value = config.findtext(key) or ""
        assert value.startswith(str(tmp_path.resolve())) and value.endswith("/")
    users = ET.parse(tmp_path / "clickhouse" / "users.xml").getroot()
    networks = [e.text for e in users.findall("users/default/networks/ip")]
    assert networks == ["127.0.0.1", "::1"]


def test_spawned_process_is_stopped_by_pid_not_reused_pid(tmp_path: Path) -> None:
    pid = stack.spawn_service(tmp_path, "sleeper", ["sleep", "600"])
    state_file = tmp_path / "state.json"
    original = json.loads(state_file.read_text())
    created = original["processes"]["sleeper"]["create_time_since_boot"]
    assert created == read_create_time_since_boot(pid)
    assert abs(created - psutil.Process(pid).create_time() + psutil.boot_time()) < 0.01

    # Pretend the PID now belongs to another program (started one clock tick earlier): down
    # must leave it alone.
    tampered = json.loads(state_file.read_text())
    tampered["processes"]["sleeper"]["create_time_since_boot"] -= 1 / CLOCK_TICKS_PER_S
    state_file.write_text(json.dumps(tampered))
    assert stack.down(tmp_path) == []
    assert not _pid_gone(pid)

    state_file.write_text(json.dumps(original))
    assert stack.down(tmp_path) == ["sleeper"]
    assert _pid_gone(pid)


def test_records_written_before_psutil_still_identify_their_process(tmp_path: Path) -> None:
    """A stack started by the earlier code recorded "start_ticks": it is still stopped."""
    pid = stack.spawn_service(tmp_path, "sleeper", ["sleep", "600"])
    state_file = tmp_path / "state.json"
    state = json.loads(state_file.read_text())
    record = state["processes"]["sleeper"]
    del record["create_time_since_boot"]
    record["start_ticks"] = read_start_ticks(pid) - 1
    state_file.write_text(json.dumps(state))
    assert not is_running(record)
    assert stack.down(tmp_path) == [] and not _pid_gone(pid)

    record["start_ticks"] += 1
    state_file.write_text(json.dumps(state))
    assert is_running(record)
    assert stack.down(tmp_path) == ["sleeper"]
    assert _pid_gone(pid)


def test_stop_ends_the_whole_process_tree(tmp_path: Path) -> None:
    """Children that left the service's process group are stopped too, and one that ignores
    SIGTERM gets SIGKILL."""
    script = ("trap '' TERM; setsid sleep 600 & echo child $!; "
              "sh -c 'trap \"\" TERM; echo grandchild $$; exec sleep 600' & wait")
    stack.spawn_service(tmp_path, "tree", ["sh", "-c", script])
    stack.wait_for_log(tmp_path, "tree", "grandchild", timeout=10)
    log = (tmp_path / "logs" / "tree.log").read_text().split()
    descendants = [int(log[log.index(word) + 1]) for word in ("child", "grandchild")]
    record = json.loads((tmp_path / "state.json").read_text())["processes"]["tree"]
    assert os.getpgid(descendants[0]) != record["pid"]  # out of reach of a group signal

    started = time.monotonic()
    assert stop(record, term_timeout=1.0) is True
    assert time.monotonic() - started < 5
    assert _pid_gone(record["pid"]) and all(_pid_gone(pid) for pid in descendants)
    assert stack.down(tmp_path) == []  # already stopped: only forgotten


def test_service_that_execs_is_still_stopped_and_log_waited_for(tmp_path: Path) -> None:
    argv = ["sh", "-c", "echo worker ready; exec sleep 600"]
    pid = stack.spawn_service(tmp_path, "worker", argv)
    stack.wait_for_log(tmp_path, "worker", "worker ready", timeout=10)
    with pytest.raises(stack.StackError, match="already runs"):
        stack.spawn_service(tmp_path, "worker", argv)
    stack.stop_service(tmp_path, "worker")
    assert _pid_gone(pid)
    assert stack.status(tmp_path)["processes"] == {}

    # A restarted service's wait_for_log ignores what the previous run logged.
    pid = stack.spawn_service(tmp_path, "worker", ["sh", "-c", "exec sleep 600"])
    with pytest.raises(stack.StackError, match="timed out"):
        stack.wait_for_log(tmp_path, "worker", "worker ready", timeout=0.5)
    assert stack.down(tmp_path) == ["worker"]
    assert _pid_gone(pid)


@pytest.mark.integration
def test_status_shows_running_endpoints(running: tuple[Path, stack.Endpoints]) -> None:
    state_dir, endpoints = running
    current = stack.status(state_dir)
    assert current["running"] is True
    for key, value in endpoints.as_dict().items():
        assert current[key] == value
    assert endpoints.kafka_bootstrap.startswith("127.0.0.1:")
    assert endpoints.api_url.startswith("http://127.0.0.1:")
    assert {name: proc["alive"] for name, proc in current["processes"].items()} == {
        "tansu": True,
        "clickhouse": True,
    }


@pytest.mark.integration
def test_kafka_round_trip_on_events_topic(running: tuple[Path, stack.Endpoints]) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    _, endpoints = running
    value = uuid.uuid4().bytes
    producer = KafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap, linger_ms=0)
    try:
        sent = producer.send(EVENTS.name, key=b"T-1", value=value).get(timeout=15)
    finally:
        producer.close()

    # Poll from the record's own offset: Tansu's end offsets are not trustworthy.
    partition = TopicPartition(EVENTS.name, sent.partition)
    consumer = KafkaConsumer(bootstrap_servers=endpoints.kafka_bootstrap, enable_auto_commit=False)
    try:
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        received: list[bytes] = []
        deadline = time.monotonic() + 15
        while value not in received and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                received.extend(record.value for record in records)
    finally:
        consumer.close()
    assert value in received


@pytest.mark.integration
def test_clickhouse_answers_on_native_and_http(running: tuple[Path, stack.Endpoints]) -> None:
    from urllib.request import urlopen

    from clickhouse_driver import Client

    _, endpoints = running
    client = Client(endpoints.clickhouse_host, port=endpoints.clickhouse_port)
    try:
        assert client.execute("SELECT 1") == [(1,)]
    finally:
        client.disconnect()
    http = f"http://{endpoints.clickhouse_host}:{endpoints.clickhouse_http_port}/?query=SELECT%201"
    with urlopen(http, timeout=10) as response:
        assert response.read() == b"1\n"


@pytest.mark.integration
def test_topics_exist_with_declared_partitions(running: tuple[Path, stack.Endpoints]) -> None:
    from kafka import KafkaAdminClient

    _, endpoints = running
    admin = KafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    try:
        described = admin.describe_topics([topic.name for topic in ALL_TOPICS])
    finally:
        admin.close()
    partitions = {topic["name"]: len(topic["partitions"]) for topic in described}
    assert partitions == {topic.name: topic.partitions for topic in ALL_TOPICS}


@pytest.mark.integration
def test_up_is_idempotent_and_down_stops_everything(tmp_path: Path) -> None:
    started = time.monotonic()
    first = stack.up(tmp_path)
    cold = time.monotonic() - started
    started = time.monotonic()
    assert stack.up(tmp_path) == first
    warm = time.monotonic() - started
    assert warm < 1.0, f"warm up took {warm:.2f} s (cold {cold:.2f} s)"

    sleeper = stack.spawn_service(tmp_path, "sleeper", ["sleep", "600"])
    processes = stack.status(tmp_path)["processes"]
    assert processes["sleeper"] == {
        "pid": sleeper,
        "alive": True,
        "log": str(tmp_path / "logs" / "sleeper.log"),
    }
    pids = [proc["pid"] for proc in processes.values()]

    assert sorted(stack.down(tmp_path)) == ["clickhouse", "sleeper", "tansu"]
    assert all(_pid_gone(pid) for pid in pids)
    after = stack.status(tmp_path)
    assert after["running"] is False and after["processes"] == {}
    assert stack.down(tmp_path) == []


def test_a_new_broker_starts_without_worker_state_built_from_an_earlier_log(tmp_path: Path):
    """The worker's state of an earlier log goes; ClickHouse's data stays: it is the archive
    the new broker's log is restored from."""
    worker_state = tmp_path / "worker-data" / "state" / "0" / "store.sst"
    archive = tmp_path / "clickhouse" / "data" / "default" / "t.bin"
    for path in (worker_state, archive):
        path.parent.mkdir(parents=True)
        path.write_text("from an earlier log")
    try:
        stack.up(tmp_path)
        assert not worker_state.exists()
        assert archive.exists()
    finally:
        stack.down(tmp_path)
