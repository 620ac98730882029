"""How ``wfc runs history`` tells the journal entries of a migration."""

from __future__ import annotations

import datetime as dt
from typing import Any

from wfc.cli.run_views import describe_entry
from wfc.runtime import HistoryEntry


def _entry(kind: str, detail: dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(seq=4, timestamp=dt.datetime.now(dt.UTC), thread=0, node=None, kind=kind, attempt=None,
                        detail=detail)  # fmt: skip


def test_a_migration_names_both_versions_the_plan_the_moves_and_the_new_values() -> None:
    entry = _entry("MIGRATED", {"from": "1.0", "to": "1.1", "plan": "056b2a4feef2", "automatic": True,
                                "threads": [{"thread": 0, "from": "ship", "to": "dispatch"}],
                                "variables": {"channel": "web", "pin": "***"}})  # fmt: skip
    assert describe_entry(entry, None) == (
        '1.0 -> 1.1 (plan 056b2a4f, automatically): thread 0 ship -> dispatch; channel = "web"; pin = "***"'
    )
    plain = _entry("MIGRATED", {"from": "1.0", "to": "2.0", "plan": "abc"})
    assert describe_entry(plain, None) == "1.0 -> 2.0 (plan abc)"


def test_a_pending_migration_says_where_each_thread_must_get_to() -> None:
    gates = [{"thread": 0, "node": "wait", "wait_until": ["if", "ship"]}]
    entry = _entry("MIGRATION_PENDING", {"plan": "056b2a4feef2", "to": "1.1", "wait_until": gates})
    assert describe_entry(entry, None) == "moves to 1.1 once thread 0 at if or ship (plan 056b2a4f)"
    dropped = _entry("MIGRATION_DROPPED", {"plan": "x", "reasons": ["it is compensating"]})
    assert describe_entry(dropped, None) == "move dropped: it is compensating"
