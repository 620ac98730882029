-- wfc schema 5: a feed of every run's journal for durable subscribers
-- (Engine.subscribe, wfc runs watch), and their cursors.
--
-- Many processes commit at once, and an id taken at insert is not in commit
-- order (a transaction holding a lower id may commit after a higher one was
-- read), so the feed is ordered by transaction instead: each row records the
-- id of the transaction that wrote it (feed_xid), and a reader only takes rows
-- whose feed_xid is below the oldest transaction still running
-- (pg_snapshot_xmin of its own snapshot). Every transaction below that
-- horizon has ended, so no row can appear below a position once read: the
-- feed, in (feed_xid, run_id, seq) order, only grows at its end.
--
-- A later writer of a run may hold a lower transaction id than the one that
-- wrote the run before it (it took its id locking another run first, then
-- waited for this one). After each insert, a statement trigger raises such
-- rows to the feed_xid of the run's previous row, so each run's entries stay
-- in seq order; never below the writer's own id, which is what makes the
-- horizon safe. It costs one look-up per run written, and an update only
-- when that rare case happens.
-- Rows stored before this migration have feed_xid 0 (they are all committed).

ALTER TABLE journal ADD COLUMN feed_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE journal ALTER COLUMN feed_xid SET DEFAULT pg_current_xact_id();

CREATE FUNCTION journal_feed_order() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    late record;
BEGIN
    FOR late IN
        SELECT f.run_id, f.first, p.feed_xid AS floor
        FROM (SELECT run_id, min(seq) AS first FROM inserted GROUP BY run_id) AS f
        CROSS JOIN LATERAL (
            SELECT q.feed_xid FROM journal AS q WHERE q.run_id = f.run_id AND q.seq < f.first
            ORDER BY q.seq DESC LIMIT 1
        ) AS p
        WHERE p.feed_xid > pg_current_xact_id()
    LOOP
        UPDATE journal SET feed_xid = late.floor
        WHERE run_id = late.run_id AND seq >= late.first AND feed_xid < late.floor;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER journal_feed_order AFTER INSERT ON journal
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION journal_feed_order();

CREATE INDEX journal_feed ON journal (feed_xid, run_id, seq);

-- A subscriber's position in the feed, saved when it has handled entries.
CREATE TABLE subscribers (
    name text PRIMARY KEY,
    position text NOT NULL,
    updated_at double precision NOT NULL
);
