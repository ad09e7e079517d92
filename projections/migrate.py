"""Versioned ClickHouse migrations: migrations/NNN_name.sql, applied once each, in order.

Applied versions are recorded in `schema_migrations`. Every statement uses IF NOT EXISTS, so
a migration that failed half-way can simply be run again; ClickHouse 18.16 has no IF NOT
EXISTS for columns, so an ``ALTER TABLE t ADD COLUMN c`` is skipped when ``c`` exists. Two
migrators racing on one database are not guarded against: run migrations from one process
(the projector does it at start-up).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
# A statement ends with ';' at the end of a line (trailing blanks allowed).
_STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)
_ADD_COLUMN = re.compile(r"ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+(\w+)\b", re.IGNORECASE)

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    applied_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""


class Executor(Protocol):
    """The part of clickhouse_driver.Client this package uses (tests adapt chdb to it)."""

    def execute(self, query: str, *args: Any, **kwargs: Any) -> Any: ...


class MigrationError(RuntimeError):
    """A migration file is malformed or one of its statements failed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def statements(self) -> list[str]:
        return split_statements(self.path.read_text(encoding="utf-8"))


def split_statements(sql: str) -> list[str]:
    """The statements of a file, without the ones that are only comments or blank."""
    chunks = (chunk.strip() for chunk in _STATEMENT_END.split(sql))
    return [chunk for chunk in chunks if _has_code(chunk)]


def _has_code(chunk: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """All migrations of the directory, by version; a badly named .sql file is an error."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNN_lower_name.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"{path.name}: version {version} is also "
                                 f"{migrations[version].path.name}")
        migrations[version] = Migration(version, match.group(2), path)
    return [migrations[v] for v in sorted(migrations)]


def applied_versions(client: Executor) -> set[int]:
    client.execute(_CREATE_LEDGER)
    return {int(version) for (version,) in
            client.execute("SELECT DISTINCT version FROM schema_migrations")}


def migrate(client: Executor, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply the migrations not applied yet, in order; return their versions."""
    done = applied_versions(client)
    applied: list[int] = []
    for migration in discover(directory):
        if migration.version in done:
            continue
        for number, statement in enumerate(migration.statements(), start=1):
            if _adds_existing_column(client, statement):
                continue
            try:
                client.execute(statement)
            except Exception as exc:  # server, network and chdb errors share no base class
                raise MigrationError(f"{migration.path.name}, statement {number}: {exc}") \
                    from exc
        # INSERT … SELECT rather than inline VALUES: clickhouse-driver would wait for a data
        # block after an inline VALUES. Version and name match _FILE_NAME, so are safe inline.
        client.execute(f"INSERT INTO schema_migrations (version, name) "
                       f"SELECT {migration.version}, '{migration.name}'")
        applied.append(migration.version)
    return applied


def _adds_existing_column(client: Executor, statement: str) -> bool:
    code = "\n".join(line for line in statement.splitlines()
                     if not line.strip().startswith("--"))
    match = _ADD_COLUMN.match(code.strip())
    if match is None:
        return False
    table, column = match.groups()
    # Names come from the migration files (\w+ only), so they are safe inline.
    rows = client.execute("SELECT count() FROM system.columns WHERE database = "
                          f"currentDatabase() AND table = '{table}' AND name = '{column}'")
    return bool(rows[0][0])
