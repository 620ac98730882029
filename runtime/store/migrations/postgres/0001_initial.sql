-- wfc schema 1 on PostgreSQL: the tables of SQLite's schema 1 (specs, runs
-- with their state and journal, the outbox of task dispatches and timers,
-- events and correlated waits, engines), plus what many processes sharing
-- the work need: leases on timers, and the PostgreSQL session of each engine
-- (a SIGKILLed process's session ends at once, so its leases are released
-- without waiting for them to expire).
-- Every table lives in the wfc schema of the URL (default "wfc"); the comment
-- on wfc_migrations marks the schema as a wfc database.
-- Foreign keys to runs are deferred: a transaction may route an event to, or
-- record a wait of, a run it inserts at commit.

CREATE TABLE wfc_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at double precision NOT NULL
);
COMMENT ON TABLE wfc_migrations IS 'wfc schema migrations';

CREATE TABLE specs (
    name text NOT NULL,
    major integer NOT NULL,
    revision integer NOT NULL,
    hash text NOT NULL,
    body text NOT NULL,
    deployed_at double precision NOT NULL,
    PRIMARY KEY (name, major, revision)
);

-- Updated on every transition: leave room on each page so updates stay HOT.
CREATE TABLE runs (
    id text PRIMARY KEY,
    workflow text NOT NULL,
    major integer NOT NULL,
    revision integer NOT NULL,
    status text NOT NULL,
    -- +1 on every committed transition; an update names the version it read.
    version bigint NOT NULL,
    state text NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    lease_owner text,
    lease_expires_at double precision,
    FOREIGN KEY (workflow, major, revision) REFERENCES specs (name, major, revision)
) WITH (fillfactor = 70);
CREATE INDEX runs_by_created ON runs (created_at);
CREATE INDEX runs_by_status ON runs (status, created_at);
CREATE INDEX runs_by_workflow ON runs (workflow, created_at);

CREATE TABLE journal (
    run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    seq integer NOT NULL,
    at double precision NOT NULL,
    thread integer NOT NULL,
    node text,
    kind text NOT NULL,
    attempt integer,
    detail text NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- The task outbox: one row per dispatched attempt not yet finished.
-- lease_expires_at stays set once an attempt was leased (also after its lease
-- is released): a claim tells a fresh dispatch from one to deliver again.
CREATE TABLE tasks (
    dispatch_id text PRIMARY KEY,
    run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    thread integer NOT NULL,
    node text NOT NULL,
    task text NOT NULL,
    args text NOT NULL,
    attempt integer NOT NULL,
    idempotency_key text NOT NULL,
    timeout double precision,
    workflow text NOT NULL,
    created_at double precision NOT NULL,
    lease_owner text,
    lease_expires_at double precision
);
CREATE INDEX tasks_by_run ON tasks (run_id);
CREATE INDEX tasks_unleased ON tasks (task, created_at) WHERE lease_owner IS NULL;
CREATE INDEX tasks_by_lease ON tasks (lease_expires_at);
CREATE INDEX tasks_by_owner ON tasks (lease_owner);

CREATE TABLE timers (
    run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    timer integer NOT NULL,
    due_at double precision NOT NULL,
    lease_owner text,
    lease_expires_at double precision,
    PRIMARY KEY (run_id, timer)
);
CREATE INDEX timers_by_due ON timers (due_at);
CREATE INDEX timers_by_owner ON timers (lease_owner);

-- Every event sent. run_id is NULL while an event sent by correlation key
-- waits for a wait with that key.
CREATE TABLE events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    name text NOT NULL,
    correlation text,
    payload text NOT NULL,
    run_id text REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    created_at double precision NOT NULL,
    delivered_at double precision
);
CREATE INDEX events_pending ON events (name, correlation, seq) WHERE run_id IS NULL;
CREATE INDEX events_by_run ON events (run_id);

-- Threads waiting for an event with a correlation key.
CREATE TABLE event_waits (
    run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    thread integer NOT NULL,
    event text NOT NULL,
    correlation text NOT NULL,
    since double precision NOT NULL,
    PRIMARY KEY (run_id, thread)
);
CREATE INDEX event_waits_by_key ON event_waits (event, correlation, since);

-- Engines and workers alive on this database. backend_pid/backend_start
-- name the PostgreSQL session each one holds open while it lives.
CREATE TABLE engines (
    id text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at double precision NOT NULL,
    heartbeat_at double precision NOT NULL,
    backend_pid integer,
    backend_start timestamptz
);
