"""A database that refuses a value, the way a CHECK constraint does: a
trigger on the runs and run_threads tables rejects any run state holding
:data:`MARKER`. The
engine must set such a run aside instead of trying its commit for ever."""

from __future__ import annotations

import sqlite3

from rtdb import Db

MARKER = "refused-by-the-database"
"""Text that the test's database trigger refuses in a run's state."""


def refuse_marker_in_runs(db: Db) -> None:
    """Make the database refuse any run state holding :data:`MARKER`, the way
    a CHECK constraint refuses a value."""
    if db.kind == "sqlite":
        with sqlite3.connect(str(db.path)) as conn:
            conn.execute(
                f"CREATE TRIGGER wfc_test_refuse BEFORE UPDATE ON runs WHEN instr(NEW.state, '{MARKER}') > 0 "
                "BEGIN SELECT RAISE(ABORT, 'the test database refuses this value'); END"
            )
            # A run's threads are stored in rows of their own (run_threads).
            for verb in ("INSERT", "UPDATE"):
                conn.execute(
                    f"CREATE TRIGGER wfc_test_refuse_{verb.lower()} BEFORE {verb} ON run_threads "
                    f"WHEN instr(NEW.state, '{MARKER}') > 0 "
                    "BEGIN SELECT RAISE(ABORT, 'the test database refuses this value'); END"
                )
        conn.close()
        return
    schema = f'"{db.schema}"'
    db.execute(
        f"CREATE FUNCTION {schema}.wfc_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF position('{MARKER}' in NEW.state) > 0 THEN "
        "RAISE EXCEPTION 'the test database refuses this value' USING ERRCODE = 'check_violation'; END IF; "
        "RETURN NEW; END $$"
    )
    for table in ("runs", "run_threads"):  # a run's threads are stored in rows of their own
        db.execute(
            f"CREATE TRIGGER wfc_test_refuse BEFORE INSERT OR UPDATE ON {schema}.{table} "
            f"FOR EACH ROW EXECUTE FUNCTION {schema}.wfc_test_refuse()"
        )
