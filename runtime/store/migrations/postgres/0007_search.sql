-- wfc schema 7: find runs by their searchable variables, and index the run
-- filters that used to scan (updated_after/updated_before, needs_attention).
--
-- run_search holds one row per searchable variable with a value, written in
-- the same commit as the run's state, so it is never stale. value is the
-- typed text of wfc.runtime._search.index_value ("s=o-1", "i=42", "b=true",
-- a sha256 for long values). run_created is the run's created_at (it never
-- changes), so a page of runs by value, newest first, is one index range
-- (run_id in code point order, like every keyset page).

CREATE TABLE run_search (
    run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    key text NOT NULL,
    value text NOT NULL,
    run_created double precision NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX run_search_by_value ON run_search (key, value, run_created, run_id COLLATE "C");

-- The runs stored before, whose spec has a searchable variable: a serving
-- engine indexes them in the background (wfc.runtime._search_backfill).
CREATE TABLE run_search_pending (
    run_id text PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
INSERT INTO run_search_pending (run_id)
SELECT r.id FROM runs AS r JOIN specs AS s ON s.name = r.workflow AND s.major = r.major AND s.revision = r.revision
WHERE EXISTS (
    SELECT 1 FROM json_each(s.body::json -> 'variables') AS v WHERE coalesce((v.value ->> 'searchable')::boolean, false)
);

-- Set by each commit from the run's state: FAILED with a compensation that
-- still failed after its retries. Flagged runs are few: a partial index. A
-- commit writes the same value almost always, which keeps updates HOT.
ALTER TABLE runs ADD COLUMN needs_attention boolean NOT NULL DEFAULT false;
UPDATE runs SET needs_attention = true
WHERE status = 'FAILED' AND coalesce((state::json ->> 'compensation_failed')::boolean, false);
CREATE INDEX runs_needing_attention ON runs (created_at) WHERE needs_attention;

-- updated_at changes on every commit: a B-tree on it would make every update
-- of a run a non-HOT one (new entries in every index of runs). A BRIN index
-- is summarizing, and from PostgreSQL 16 it leaves updates HOT; runs are
-- stored roughly in the order they start and last change soon after, so its
-- page ranges narrow an updated_at range well. autosummarize: autovacuum
-- summarizes each range as it fills (an unsummarized range is always read).
-- PostgreSQL 15 and older count any index on updated_at against HOT (measured:
-- 70 % of run updates HOT without it, none with it), so there the filter
-- stays unindexed, read along runs_by_created.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 160000 THEN
        EXECUTE 'CREATE INDEX runs_by_updated ON runs USING brin (updated_at) WITH (autosummarize = on)';
    END IF;
END
$$;
