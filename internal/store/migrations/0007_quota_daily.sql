-- The daily allowance as the CRM last reported it, per integration, for `starter status`:
-- the quota ledger is keyed by a hash of the credential, which status cannot compute without
-- the secret. Workers write the CRM's figures at most every few seconds (observed_at says
-- when), and the daily pause they decide (paused_until, paused_why).
CREATE TABLE quota_daily (
    integration     text        PRIMARY KEY,
    daily_max       integer     NOT NULL DEFAULT 0,
    daily_remaining integer     NOT NULL DEFAULT 0,
    observed_at     timestamptz,
    paused_until    timestamptz,
    paused_why      text        NOT NULL DEFAULT ''
);
