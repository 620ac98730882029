-- wfc schema 5: a feed of every run's journal in commit order, for durable
-- subscribers (Engine.subscribe, wfc runs watch), and their cursors.
-- SQLite has one writer, so an id assigned at insert is in commit order: the
-- journal becomes a rowid table whose AUTOINCREMENT id ("feed") is that order
-- (AUTOINCREMENT: an id is never reused, also once the newest rows were
-- purged, so a subscriber's cursor never points past a new row). The rows
-- already stored are copied in the order they were written (time, run, seq).

ALTER TABLE journal RENAME TO journal_before_feed;

CREATE TABLE journal (
    feed INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    seq INTEGER NOT NULL,
    at REAL NOT NULL,
    thread INTEGER NOT NULL,
    node TEXT,
    kind TEXT NOT NULL,
    attempt INTEGER,
    detail TEXT NOT NULL,
    UNIQUE (run_id, seq)
);

INSERT INTO journal (run_id, seq, at, thread, node, kind, attempt, detail)
SELECT run_id, seq, at, thread, node, kind, attempt, detail FROM journal_before_feed ORDER BY at, run_id, seq;

DROP TABLE journal_before_feed;

-- A subscriber's position in the feed, saved when it has handled entries.
CREATE TABLE subscribers (
    name TEXT PRIMARY KEY,
    position TEXT NOT NULL,
    updated_at REAL NOT NULL
);
