-- Records of every integration and object type, keyed by the CRM's own identity. The typed
-- columns are what the sync itself needs (ordering, deletes); everything the CRM sent stays
-- in properties.
CREATE TABLE records (
    integration text        NOT NULL,
    object_type text        NOT NULL,
    crm_id      text        NOT NULL,
    created_at  timestamptz,
    modified_at timestamptz NOT NULL,
    -- When the CRM archived (soft-deleted) the record; NULL while it is live.
    deleted_at  timestamptz,
    synced_at   timestamptz NOT NULL DEFAULT now(),
    properties  jsonb       NOT NULL,
    PRIMARY KEY (integration, object_type, crm_id)
);

CREATE INDEX records_modified_idx ON records (integration, object_type, modified_at);

-- One row per sync stream: a backfill's position in the CRM's full listing, or a delta's
-- high-water (modified, id) cursor. Each page's records and its cursor are written in one
-- transaction, so the row never claims more than what is stored.
CREATE TABLE sync_cursors (
    integration  text        NOT NULL,
    object_type  text        NOT NULL,
    stream       text        NOT NULL,
    -- Backfill: the opaque token of the next page ('' = the first page).
    position     text        NOT NULL DEFAULT '',
    -- Delta: everything at or before (cursor_at, cursor_id) has been read.
    cursor_at    timestamptz,
    cursor_id    text        NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    pages        bigint      NOT NULL DEFAULT 0,
    records      bigint      NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration, object_type, stream)
);

-- Reference data read from the CRM (property definitions now; owners and pipelines later),
-- shared by every worker so that one fetch serves the whole fleet until it goes stale.
CREATE TABLE reference_data (
    integration text        NOT NULL,
    kind        text        NOT NULL,
    object_type text        NOT NULL DEFAULT '',
    data        jsonb       NOT NULL,
    fetched_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration, kind, object_type)
);
