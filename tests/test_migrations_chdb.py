"""Every migration and every report query, run on a modern ClickHouse engine (chdb, 26.x).

Production runs current ClickHouse while the local stack runs 18.16: the DDL and queries
must live in the subset both accept. The integration tests cover 18.16; this covers 26.x,
in-process, through the same code paths (migrate, BatchingSink, kpi_report) as the server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from projections.migrate import MigrationError, discover, migrate, split_statements
from projections.report import (
    format_report,
    kpi_report,
    operation_query_names,
    query_names,
    run_query,
)
from projections.rows import (
    COMPLAINT_EVENTS,
    DEAD_LETTERS,
    SLA_EVENTS,
    SLA_HOLIDAY_WARNINGS,
    SLA_OUTCOMES_TABLE,
    TABLES,
    TICKETS,
    Position,
    Row,
    Table,
    archive_row,
    dead_letter_row,
    holiday_warning_row,
    sla_event_row,
    sla_outcome_row,
    ticket_row,
)
from projections.sink import BatchingSink
from schemas.event import Event
from streams.deadletter import DeadLetter

chdb_session = pytest.importorskip("chdb.session")

T0_MS = 1_772_438_400_000  # 2026-03-02 08:00 UTC
MINUTE_MS = 60_000


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


class ChdbExecutor:
    """chdb behind clickhouse-driver's execute(): rows as tuples, data-carrying inserts."""

    def __init__(self, path: Path) -> None:
        self._session = chdb_session.Session(str(path))
        self._session.query("SET output_format_json_quote_64bit_integers = 0")

    def execute(self, query: str, rows: list[Row] | None = None,
                with_column_types: bool = False) -> Any:
        if rows is not None:  # "INSERT INTO t (cols) VALUES" + data, as the driver sends it
            query += " " + ", ".join("(" + ", ".join(map(_literal, row)) + ")" for row in rows)
        text = self._session.query(query, "JSONCompact").bytes()
        result = json.loads(text) if text else {"data": [], "meta": []}
        data = [tuple(row) for row in result["data"]]
        if with_column_types:
            return data, [(column["name"], column["type"]) for column in result["meta"]]
        return data

    def close(self) -> None:
        self._session.close()


@pytest.fixture(scope="module")
def chdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbExecutor]:
    executor = ChdbExecutor(tmp_path_factory.mktemp("chdb"))
    yield executor
    executor.close()  # chdb allows one embedded server per process at a time


@pytest.fixture(scope="module")
def migrated(chdb: ChdbExecutor) -> ChdbExecutor:
    assert migrate(chdb) == [m.version for m in discover()]
    return chdb


def test_statements_split_at_semicolons_ending_a_line() -> None:
    sql = "-- header only\n;\nCREATE TABLE a (s String DEFAULT 'x;y')\nENGINE = Log;\n\n" \
          "-- trailing comment\nSELECT 1 ;  \n-- the end\n"
    assert split_statements(sql) == [
        "CREATE TABLE a (s String DEFAULT 'x;y')\nENGINE = Log",
        "-- trailing comment\nSELECT 1",
    ]


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [m.version for m in discover()]
    assert versions == list(range(1, len(versions) + 1))
    assert all(m.statements() for m in discover())


def test_badly_named_migration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_first.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match="NNN_lower_name.sql"):
        discover(tmp_path)


def test_migrations_apply_once_and_are_recorded(migrated: ChdbExecutor) -> None:
    assert migrate(migrated) == []
    recorded = migrated.execute("SELECT version, name FROM schema_migrations ORDER BY version")
    assert recorded == [(m.version, m.name) for m in discover()]


def test_a_migration_that_added_a_column_before_failing_can_run_again(tmp_path: Path,
                                                                      migrated: ChdbExecutor
                                                                      ) -> None:
    # ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: the migrator skips a column that is
    # already there, so a half-applied migration is simply run again.
    migrated.execute("CREATE TABLE IF NOT EXISTS half (a String) ENGINE = MergeTree ORDER BY a")
    (tmp_path / "001_half.sql").write_text(
        "ALTER TABLE half ADD COLUMN b String DEFAULT '';\n"
        "ALTER TABLE half ADD COLUMN c String DEFAULT '';\n")
    migrated.execute("ALTER TABLE half ADD COLUMN b String DEFAULT ''")  # the first ran
    with _empty_ledger(migrated):
        assert migrate(migrated, tmp_path) == [1]
    columns = migrated.execute("SELECT name FROM system.columns WHERE database = "
                               "currentDatabase() AND table = 'half' ORDER BY position")
    assert columns == [("a",), ("b",), ("c",)]


def test_the_real_column_migration_can_run_again(tmp_path: Path, migrated: ChdbExecutor) -> None:
    # 005 opens with a comment; its ADD COLUMNs were applied by the module's migrate already.
    (real,) = [m for m in discover() if m.name == "pinned_calendars"]
    (tmp_path / "001_pinned_calendars.sql").write_text(real.path.read_text(encoding="utf-8"))
    with _empty_ledger(migrated):
        assert migrate(migrated, tmp_path) == [1]


@contextmanager
def _empty_ledger(chdb: ChdbExecutor) -> Iterator[None]:
    """schema_migrations emptied for the block (so another directory's migrations run), then
    put back for the other tests of the module."""
    chdb.execute("CREATE TABLE IF NOT EXISTS ledger_backup AS schema_migrations")
    chdb.execute("TRUNCATE TABLE ledger_backup")
    chdb.execute("INSERT INTO ledger_backup SELECT * FROM schema_migrations")
    chdb.execute("TRUNCATE TABLE schema_migrations")
    try:
        yield
    finally:
        chdb.execute("TRUNCATE TABLE schema_migrations")
        chdb.execute("INSERT INTO schema_migrations SELECT * FROM ledger_backup")


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_table_columns_are_the_ones_the_rows_fill(migrated: ChdbExecutor, table: Table) -> None:
    columns = migrated.execute(f"SELECT name FROM system.columns WHERE database = "
                               f"currentDatabase() AND table = '{table.name}' ORDER BY position")
    assert tuple(name for (name,) in columns) == table.columns


def _event(event_id: str, event_type: str, ticket_id: str, minute: int,
           **data: Any) -> Event:
    return Event(event_id, event_type, ticket_id, T0_MS + minute * MINUTE_MS, 1, data)


def _state(ticket_id: str, version: int, status: str, channel: str, minute: int,
           **state: Any) -> Event:
    data = {"status": status, "version": version, "kind": "complaint", "channel": channel,
            "category": "billing", "received_at": T0_MS, "updated_at": T0_MS + minute * MINUTE_MS,
            "transfer_count": 0, "reopen_count": 0, "escalation_level": 0,
            "compensation_total": 0.0, **state}
    return Event(f"{ticket_id}-{version}:state", "ticket.state_changed", ticket_id,
                 T0_MS + minute * MINUTE_MS, 1, data)


def _sla(event_id: str, event_type: str, ticket_id: str, minute: int) -> Event:
    data = {"metric": "first_response", "cycle": 1, "policy_version": "v1",
            "calendar": "24x7", "target_seconds": 1800, "deadline": T0_MS + 30 * MINUTE_MS,
            "elapsed_business_seconds": minute * 60}
    return Event(event_id, event_type, ticket_id, T0_MS + minute * MINUTE_MS, 1, data)


def small_batch() -> list[tuple[Table, Row]]:
    """Ticket a: closed after 5 applied events; ticket b: new, plus one refused event."""
    position = Position("complaints.events", 0, 0)
    inputs = [
        _event("a1", "complaint.received", "a", 0, channel="phone", category="billing"),
        _event("a2", "ticket.assigned", "a", 1, team="billing"),
        _event("a3", "ticket.first_response_sent", "a", 10),
        _event("a4", "ticket.resolved", "a", 40),
        _event("a5", "ticket.customer_confirmed", "a", 50),
        _event("b1", "complaint.received", "b", 0, channel="web", category="billing"),
        _event("b2", "ticket.customer_confirmed", "b", 5),
    ]
    refused = DeadLetter.for_event(inputs[-1], "ticket_state", "b is not resolved", T0_MS)
    sla_refused = DeadLetter(dlq_id="sla:b:1", stage="sla", ticket_id="b",
                             reason="UnknownCalendar: calendar 'x' ...", recorded_at=T0_MS)
    holiday_warning = Event("holiday-data:f:2027:provisional", "sla.holiday_data_warning", "a",
                            T0_MS, 1, {"calendar": "cn_business", "calendar_fingerprint": "f",
                                       "holiday_set": "cn", "year": 2027,
                                       "status": "provisional", "policy_version": "v1"})
    states = [
        _state("a", 5, "closed", "phone", 50, first_response_at=T0_MS + 10 * MINUTE_MS,
               first_resolved_at=T0_MS + 40 * MINUTE_MS, resolved_at=T0_MS + 40 * MINUTE_MS,
               closed_at=T0_MS + 50 * MINUTE_MS, csat=5, nps=10),
        _state("b", 1, "new", "web", 0),
    ]
    slas = [_sla("s1", "sla.warning", "a", 8), _sla("s2", "sla.met", "a", 10),
            _sla("s3", "sla.breached", "b", 30)]
    return [
        *((COMPLAINT_EVENTS, archive_row(e, position, 0)) for e in inputs),
        (DEAD_LETTERS, dead_letter_row(refused)),
        (DEAD_LETTERS, dead_letter_row(sla_refused)),
        (SLA_HOLIDAY_WARNINGS, holiday_warning_row(holiday_warning, 0)),
        *((TICKETS, ticket_row(e)) for e in states),
        *((SLA_EVENTS, sla_event_row(e, position, 0)) for e in slas),
        *((SLA_OUTCOMES_TABLE, sla_outcome_row(e)) for e in slas),
    ]


@pytest.fixture(scope="module")
def loaded(migrated: ChdbExecutor) -> ChdbExecutor:
    sink = BatchingSink(migrated)
    for _ in range(2):  # a re-delivered batch must change nothing
        sink.add_all(small_batch())
        sink.flush()
    return migrated


@pytest.mark.parametrize("name", query_names() + operation_query_names())
def test_every_report_query_runs(loaded: ChdbExecutor, name: str) -> None:
    assert isinstance(run_query(loaded, name), list)


def test_report_numbers_on_the_modern_engine(loaded: ChdbExecutor) -> None:
    report = kpi_report(loaded)
    assert report["total_tickets"] == 2
    assert report["volume_by_channel"] == {"phone": 1, "web": 1}
    assert report["open_backlog"] == {"new": 1}
    assert report["first_response_minutes"] == {"p50": 10.0, "p90": 10.0}
    assert report["resolution_minutes"] == {"p50": 40.0, "p90": 40.0}
    assert (report["resolution_rate"], report["closed_loop_rate"], report["reopen_rate"]) == \
        (0.5, 1.0, 0.0)
    assert (report["csat"], report["nps"]) == (1.0, 100.0)
    assert report["sla"]["first_response"] == {"clocks": 2, "met": 1, "breached": 1,
                                               "running": 0, "compliance": 0.5}
    assert report["daily_volume"] == {"2026-03-02": 2}
    assert report["reconciliation"] == {"archived": 7, "applied": 6, "dead_lettered": 1,
                                        "balanced": True}
    assert report["sla_dead_letters"] == {"letters": 1, "tickets": 1}
    assert [(w["calendar"], w["year"], w["status"]) for w in report["holiday_data_warnings"]] \
        == [("cn_business", 2027, "provisional")]
    text = format_report(report)
    assert re.search(r"archived == applied \+ dead-lettered +yes", text)
    assert re.search(r"死信.* 1 条，涉及 1 张工单", text)
    assert re.search(r"cn_business \(cn\) 2027 年 +暂定", text)
