-- The webhook events already recorded, per integration, so that HubSpot's redeliveries (it
-- retries any delivery it did not see answered in time) are recorded once. An event is
-- inserted in the same transaction as its recording, so a failed recording leaves no row
-- and the retry is recorded. Rows only need to outlive HubSpot's retries; PruneWebhookEvents
-- drops older ones.
CREATE TABLE webhook_events (
    integration text        NOT NULL,
    event_id    bigint      NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration, event_id)
);

CREATE INDEX webhook_events_received_idx ON webhook_events (received_at);
