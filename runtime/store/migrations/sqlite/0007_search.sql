-- wfc schema 7: find runs by their searchable variables, and index the run
-- filters that used to scan (updated_after/updated_before, needs_attention).
--
-- run_search holds one row per searchable variable with a value, written in
-- the same commit as the run's state, so it is never stale. value is the
-- typed text of wfc.runtime._search.index_value ("s=o-1", "i=42", "b=true",
-- a sha256 for long values). run_created is the run's created_at (it never
-- changes), so a page of runs by value, newest first, is one index range.

CREATE TABLE run_search (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    run_created REAL NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX run_search_by_value ON run_search (key, value, run_created, run_id);

-- The runs stored before, whose spec has a searchable variable: a serving
-- engine indexes them in the background (wfc.runtime._search_backfill).
CREATE TABLE run_search_pending (
    run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
) WITHOUT ROWID;
INSERT INTO run_search_pending (run_id)
SELECT r.id FROM runs AS r JOIN specs AS s ON s.name = r.workflow AND s.major = r.major AND s.revision = r.revision
WHERE EXISTS (SELECT 1 FROM json_each(s.body, '$.variables') AS v WHERE json_extract(v.value, '$.searchable') = 1);

-- Set by each commit from the run's state: FAILED with a compensation that
-- still failed after its retries. Flagged runs are few: a partial index.
ALTER TABLE runs ADD COLUMN needs_attention INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET needs_attention = 1
WHERE status = 'FAILED' AND coalesce(json_extract(state, '$.compensation_failed'), 0) = 1;
CREATE INDEX runs_needing_attention ON runs (created_at) WHERE needs_attention;

-- SQLite updates rows in place whatever is indexed: one more index entry
-- per commit.
CREATE INDEX runs_by_updated ON runs (updated_at);
