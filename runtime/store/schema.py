"""wfc's schema: the numbered, append-only migration files of each dialect
(``migrations/sqlite``, ``migrations/postgres``), read by one loader, and
the facts both dialects read off them."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

#: The dialects that have migration folders.
DialectName = Literal["sqlite", "postgres"]

_MIGRATION_FILE: Final = re.compile(r"^(\d{4})_(\w+)\.sql$")
_CREATE_TABLE: Final = re.compile(r"^\s*CREATE TABLE (?:IF NOT EXISTS )?(\w+)", re.IGNORECASE | re.MULTILINE)
_DROP_TABLE: Final = re.compile(r"^\s*DROP TABLE (?:IF EXISTS )?(\w+)", re.IGNORECASE | re.MULTILINE)
_TITLES: Final = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


class Migration(NamedTuple):
    """One migration file: ``NNNN_name.sql``."""

    version: int
    name: str
    sql: str


@functools.cache
def migrations(dialect: DialectName) -> tuple[Migration, ...]:
    """Every migration of ``dialect``, in order (read once per process).

    Raises:
        RuntimeError: the files are not numbered 1, 2, 3, ... (a packaging bug).
    """
    folder = _migration_folder(dialect)
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for index, migration in enumerate(found, start=1):
        if migration.version != index:
            raise RuntimeError(
                f"{_TITLES[dialect]} migrations must be numbered 1, 2, 3, ...: "
                f"found {migration.version:04d}_{migration.name}"
            )
    return tuple(found)


def _migration_folder(dialect: DialectName) -> Any:
    """The folder of ``dialect``'s migrations: next to this module when wfc
    is installed as files (importing :mod:`importlib.resources` costs more
    than opening a database), else through :mod:`importlib.resources`."""
    folder = Path(__file__).resolve().parent / "migrations" / dialect
    if folder.is_dir():
        return folder
    from importlib import resources

    return resources.files("wfc.runtime.store").joinpath("migrations", dialect)


def latest_version(dialect: DialectName) -> int:
    """The schema version this wfc writes on ``dialect``."""
    return len(migrations(dialect))


def expected_tables(dialect: DialectName, version: int) -> set[str]:
    """The tables a wfc database on ``dialect`` at schema ``version`` holds."""
    return tables_after(m.sql for m in migrations(dialect)[:version])


def tables_after(scripts: Iterable[str]) -> set[str]:
    """The tables that exist once the migration ``scripts`` ran, in order:
    what a database at that schema version must hold."""
    tables: set[str] = set()
    for sql in scripts:
        tables |= set(_CREATE_TABLE.findall(sql))
        tables -= set(_DROP_TABLE.findall(sql))
    return tables
