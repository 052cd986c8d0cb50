-- Until when realtime calls (webhook batches, deltas) have been seen on a credential: while
-- set, backfill calls leave a share of every window free for them.
ALTER TABLE quota_ledger ADD COLUMN realtime_until timestamptz;
