"""Facts about wfc's schema that both dialects read off their migration files."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

_CREATE_TABLE: Final = re.compile(r"^\s*CREATE TABLE (?:IF NOT EXISTS )?(\w+)", re.IGNORECASE | re.MULTILINE)
_DROP_TABLE: Final = re.compile(r"^\s*DROP TABLE (?:IF EXISTS )?(\w+)", re.IGNORECASE | re.MULTILINE)


def tables_after(scripts: Iterable[str]) -> set[str]:
    """The tables that exist once the migration ``scripts`` ran, in order:
    what a database at that schema version must hold."""
    tables: set[str] = set()
    for sql in scripts:
        tables |= set(_CREATE_TABLE.findall(sql))
        tables -= set(_DROP_TABLE.findall(sql))
    return tables
