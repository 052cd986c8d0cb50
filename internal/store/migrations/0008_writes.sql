-- The outbound write queue: applications queue writes to the CRM here, by INSERT inside
-- their own transactions or through the HTTP intake, and crmsync's WriteQueue workflows send
-- them in batches under the integration's quota.

-- The (integration, object) pairs that take writes, as the workers' config says: a write
-- to anything else is refused at INSERT time, inside the application's transaction.
CREATE TABLE write_targets (
    integration text NOT NULL,
    object      text NOT NULL,
    -- The unique property that names a record besides its CRM id ("email"); '' when
    -- records are written by CRM id only.
    id_property text NOT NULL DEFAULT '',
    -- The largest properties document accepted, in bytes of its JSON text.
    max_bytes   integer NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration, object)
);

-- One row per queued write. seq is the queued version: the idempotency key of the write
-- as crmsync sends it (objectWriteTraceId), so that no version is sent twice.
CREATE TABLE write_outbox (
    seq             bigserial PRIMARY KEY,
    integration     text NOT NULL,
    object          text NOT NULL,
    -- The record's CRM id, for writes to an existing record by id; else the target's
    -- id_property must be among the properties.
    record_id       text,
    -- Property name -> value (strings, numbers, booleans or null).
    properties      jsonb NOT NULL,
    -- The caller's key for this write: a second write with the same key is the same
    -- write, and is not queued again.
    idempotency_key text,
    app             text NOT NULL DEFAULT 'sql',
    queued_at       timestamptz NOT NULL DEFAULT now(),
    -- Filled in by the trigger: how the record is named ('' = by CRM id) and the name.
    id_property     text NOT NULL DEFAULT '',
    record_key      text NOT NULL DEFAULT '',
    -- pending -> sending -> sent, or -> dead (see write_dead_letters).
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'dead')),
    batch_id        bigint,
    attempts        integer NOT NULL DEFAULT 0,
    -- A write whose last attempt failed retryably waits until then.
    not_before      timestamptz,
    -- Send alone: its batch was refused as a whole, so each write goes by itself to find
    -- the one the CRM refuses.
    isolate         boolean NOT NULL DEFAULT false,
    last_error      text,
    crm_id          text,
    done_at         timestamptz
);
CREATE UNIQUE INDEX write_outbox_idempotency ON write_outbox (integration, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX write_outbox_open ON write_outbox (integration, object, seq) WHERE state IN ('pending', 'sending');
-- Every write to a record, sent ones included: a write committed late is merged under the
-- newer ones already sent.
CREATE INDEX write_outbox_key ON write_outbox (integration, object, id_property, record_key, seq);
CREATE INDEX write_outbox_done ON write_outbox (done_at) WHERE state = 'sent';

-- A batch on its way to the CRM. A batch still here when its sender is gone is in doubt:
-- the CRM may or may not have applied it, and the next sender reads the records back
-- before sending any of it again.
CREATE TABLE write_batches (
    id          bigserial PRIMARY KEY,
    integration text NOT NULL,
    object      text NOT NULL,
    op          text NOT NULL CHECK (op IN ('upsert', 'update')),
    id_property text NOT NULL,
    -- The activity (workflow id / activity id) and attempt that claimed it.
    claimed_by  text NOT NULL,
    attempt     integer NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    -- After this, the batch is in doubt whoever asks.
    lease_until timestamptz NOT NULL
);
CREATE INDEX write_batches_stream ON write_batches (integration, object);

-- Writes the CRM will never accept as sent, with its words. Fix the data (edit properties
-- here, or the CRM's settings), then `starter writes replay` queues them again.
CREATE TABLE write_dead_letters (
    seq             bigint PRIMARY KEY,
    integration     text NOT NULL,
    object          text NOT NULL,
    record_id       text,
    id_property     text NOT NULL,
    record_key      text NOT NULL,
    properties      jsonb NOT NULL,
    app             text NOT NULL,
    idempotency_key text,
    queued_at       timestamptz NOT NULL,
    attempts        integer NOT NULL,
    category        text NOT NULL,
    message         text NOT NULL,
    dead_at         timestamptz NOT NULL DEFAULT now(),
    -- Set when replayed: the seq of the write queued in its place.
    replayed_at     timestamptz,
    replayed_as     bigint
);
CREATE INDEX write_dead_letters_open ON write_dead_letters (integration, object, seq) WHERE replayed_at IS NULL;

-- Checks a queued write against its target and names its record, so that a bad write fails
-- the application's own INSERT with a clear message instead of failing later; and wakes
-- the workers (crmsync_writes) when the application's transaction commits.
-- The function keeps the search_path it was created with, so that an application that
-- names the table with its schema (crmsync.write_outbox) is checked against the same
-- write_targets.
CREATE FUNCTION crmsync_write_queued() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    t write_targets%ROWTYPE;
    bad text;
BEGIN
    SELECT * INTO t FROM write_targets WHERE integration = NEW.integration AND object = NEW.object;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'crmsync: integration "%" takes no writes to "%"', NEW.integration, NEW.object
            USING ERRCODE = '22023', HINT = 'Add the object to the integration''s writes.objects in crmsync.yaml; workers register the targets when they start.';
    END IF;
    IF NEW.properties IS NULL OR jsonb_typeof(NEW.properties) <> 'object' THEN
        RAISE EXCEPTION 'crmsync: properties must be a JSON object of property name to value' USING ERRCODE = '22023';
    END IF;
    IF NEW.properties = '{}'::jsonb THEN
        RAISE EXCEPTION 'crmsync: properties is empty: nothing to write' USING ERRCODE = '22023';
    END IF;
    IF octet_length(NEW.properties::text) > t.max_bytes THEN
        RAISE EXCEPTION 'crmsync: properties are % bytes, more than the % allowed for %/%',
            octet_length(NEW.properties::text), t.max_bytes, NEW.integration, NEW.object USING ERRCODE = '54000';
    END IF;
    SELECT key INTO bad FROM jsonb_each(NEW.properties) WHERE jsonb_typeof(value) IN ('object', 'array') LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'crmsync: property "%" is not a string, number, boolean or null', bad USING ERRCODE = '22023';
    END IF;
    IF coalesce(btrim(NEW.record_id), '') <> '' THEN
        NEW.id_property := '';
        NEW.record_key := btrim(NEW.record_id);
    ELSIF t.id_property <> '' AND coalesce(btrim(NEW.properties->>t.id_property), '') <> '' THEN
        NEW.id_property := t.id_property;
        NEW.record_key := btrim(NEW.properties->>t.id_property);
        IF t.id_property = 'email' THEN
            -- CRMs match e-mail addresses without regard to case.
            NEW.record_key := lower(NEW.record_key);
        END IF;
    ELSIF t.id_property <> '' THEN
        RAISE EXCEPTION 'crmsync: a write to %/% needs record_id or the property "%"', NEW.integration, NEW.object, t.id_property
            USING ERRCODE = '23502';
    ELSE
        RAISE EXCEPTION 'crmsync: a write to %/% needs record_id (the object has no writes.objects.%.id_property)',
            NEW.integration, NEW.object, NEW.object USING ERRCODE = '23502';
    END IF;
    NEW.state := 'pending';
    NEW.batch_id := NULL;
    NEW.attempts := 0;
    NEW.not_before := NULL;
    NEW.isolate := false;
    PERFORM pg_notify('crmsync_writes', NEW.integration || '/' || NEW.object);
    RETURN NEW;
END
$$;
CREATE TRIGGER write_outbox_queued BEFORE INSERT ON write_outbox FOR EACH ROW EXECUTE FUNCTION crmsync_write_queued();

-- Until when queued writes are being sent on a credential, and how many more calls the
-- write queue expects to need: meanwhile backfill calls leave that many calls of every
-- window to them (at most half), as writes rank below realtime calls and above backfills.
ALTER TABLE quota_ledger ADD COLUMN writes_until timestamptz;
ALTER TABLE quota_ledger ADD COLUMN writes_wanted integer NOT NULL DEFAULT 0;
