-- The quota ledger: per credential and limit, recent CRM calls, shared by every worker so
-- that a rolling window is enforced exactly across the fleet. Each call reserves a send time
-- (pending) before it is sent; once answered it is kept at its answer's time (ours), the
-- latest the CRM can have counted it. Calls the CRM saw from other consumers of the same
-- credential (inferred from its rate-limit headers) are kept as "others", and a wait the CRM
-- told us to respect (a 429) holds every worker until blocked_until.
CREATE TABLE quota_ledger (
    credential    text          NOT NULL,
    kind          text          NOT NULL,
    pending       timestamptz[] NOT NULL DEFAULT '{}',
    ours          timestamptz[] NOT NULL DEFAULT '{}',
    others        timestamptz[] NOT NULL DEFAULT '{}',
    blocked_until timestamptz,
    blocked_why   text          NOT NULL DEFAULT '',
    updated_at    timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (credential, kind)
);

-- A backfill reads an object as disjoint id ranges in parallel: one cursor row per range
-- (stream 'backfill/<first id>'), beside the 'backfill' row that says when the whole
-- backfill started and finished. range_end is the first id of the next range ('' = open).
ALTER TABLE sync_cursors ADD COLUMN range_end text NOT NULL DEFAULT '';
