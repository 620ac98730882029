-- wfc schema 10: the task outbox is stored in one B-tree keyed by its
-- dispatch id (WITHOUT ROWID), not in a rowid table beside an index on that
-- id, and loses its index on lease_expires_at, which no query of SQLite's
-- uses (claims, stuck runs and the workload look for unheld rows with
-- "lease_owner IS NULL OR lease_expires_at < ?", which scans). Every step
-- inserts and deletes an outbox row: two B-trees fewer to change, and two
-- pages fewer written to the WAL, per commit; and a heartbeat, which moves
-- the lease of every attempt its engine holds, no longer rewrites an index.
-- (A row over about 1,000 bytes, a task with large arguments, spills to an
-- overflow page in a WITHOUT ROWID table where a rowid table kept it whole:
-- two pages per insert either way. Rows of the outbox live only while their
-- attempt runs, so the table stays as small as the work in flight.)

ALTER TABLE tasks RENAME TO tasks_before_keyed;

CREATE TABLE tasks (
    dispatch_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    thread INTEGER NOT NULL,
    node TEXT NOT NULL,
    task TEXT NOT NULL,
    args TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL,
    timeout REAL,
    workflow TEXT NOT NULL,
    created_at REAL NOT NULL,
    lease_owner TEXT,
    lease_expires_at REAL
) WITHOUT ROWID;

INSERT INTO tasks (dispatch_id, run_id, thread, node, task, args, attempt, idempotency_key, timeout, workflow,
                   created_at, lease_owner, lease_expires_at)
SELECT dispatch_id, run_id, thread, node, task, args, attempt, idempotency_key, timeout, workflow,
       created_at, lease_owner, lease_expires_at
FROM tasks_before_keyed;

DROP TABLE tasks_before_keyed;

CREATE INDEX tasks_by_run ON tasks (run_id);
