-- wfc schema 1: specs, runs with their state and journal, the outbox (task
-- dispatches and timers), events and correlated waits, engine leases.
-- Columns for later issues are here already: runs.version (optimistic
-- concurrency), lease owner/expiry on runs and task dispatches (many engines
-- claiming work), event_waits (routing events by correlation key).
-- Foreign keys to runs are deferred: a transaction may route an event to, or
-- record a wait of, a run it inserts at commit.

CREATE TABLE wfc_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at REAL NOT NULL
);

CREATE TABLE specs (
    name TEXT NOT NULL,
    major INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    hash TEXT NOT NULL,
    body TEXT NOT NULL,
    deployed_at REAL NOT NULL,
    PRIMARY KEY (name, major, revision)
);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    major INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    status TEXT NOT NULL,
    -- +1 on every committed transition; an update names the version it read.
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    lease_owner TEXT,
    lease_expires_at REAL,
    FOREIGN KEY (workflow, major, revision) REFERENCES specs (name, major, revision)
);
CREATE INDEX runs_by_created ON runs (created_at);
CREATE INDEX runs_by_status ON runs (status, created_at);
CREATE INDEX runs_by_workflow ON runs (workflow, created_at);

CREATE TABLE journal (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    seq INTEGER NOT NULL,
    at REAL NOT NULL,
    thread INTEGER NOT NULL,
    node TEXT,
    kind TEXT NOT NULL,
    attempt INTEGER,
    detail TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- The task outbox: one row per dispatched attempt not yet finished.
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
);
CREATE INDEX tasks_by_run ON tasks (run_id);
CREATE INDEX tasks_by_lease ON tasks (lease_expires_at);

CREATE TABLE timers (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    timer INTEGER NOT NULL,
    due_at REAL NOT NULL,
    PRIMARY KEY (run_id, timer)
) WITHOUT ROWID;
CREATE INDEX timers_by_due ON timers (due_at);

-- Every event sent. run_id is NULL while an event sent by correlation key
-- waits for a wait with that key.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    correlation TEXT,
    payload TEXT NOT NULL,
    run_id TEXT REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    created_at REAL NOT NULL,
    delivered_at REAL
);
CREATE INDEX events_pending ON events (name, correlation, seq) WHERE run_id IS NULL;

-- Threads waiting for an event with a correlation key.
CREATE TABLE event_waits (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    thread INTEGER NOT NULL,
    event TEXT NOT NULL,
    correlation TEXT NOT NULL,
    since REAL NOT NULL,
    PRIMARY KEY (run_id, thread)
) WITHOUT ROWID;
CREATE INDEX event_waits_by_key ON event_waits (event, correlation, since);

-- Engines alive on this database, for task leases.
CREATE TABLE engines (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
