-- wfc schema 4: a feed of every run's journal for durable subscribers
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
-- waited for this one). The trigger gives its rows at least the feed_xid of
-- the run's previous row, so each run's entries stay in seq order; still never
-- below its own transaction id, which is what makes the horizon safe.
-- Rows stored before this migration have feed_xid 0 (they are all committed).

ALTER TABLE journal ADD COLUMN feed_xid xid8 NOT NULL DEFAULT '0';

CREATE FUNCTION journal_feed_xid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.feed_xid := greatest(
        pg_current_xact_id(),
        (SELECT j.feed_xid FROM journal AS j WHERE j.run_id = NEW.run_id AND j.seq < NEW.seq
         ORDER BY j.seq DESC LIMIT 1));
    RETURN NEW;
END
$$;

CREATE TRIGGER journal_feed_xid BEFORE INSERT ON journal
    FOR EACH ROW EXECUTE FUNCTION journal_feed_xid();

CREATE INDEX journal_feed ON journal (feed_xid, run_id, seq);

-- A subscriber's position in the feed, saved when it has handled entries.
CREATE TABLE subscribers (
    name text PRIMARY KEY,
    position text NOT NULL,
    updated_at double precision NOT NULL
);
