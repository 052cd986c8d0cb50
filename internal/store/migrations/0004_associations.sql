-- Associations between records (a contact's companies, a deal's companies and contacts): one
-- row per linked pair and association type, read from the from side. A sync replaces the
-- rows of a whole span of from-records at once, so links removed in the CRM disappear and
-- re-reading a span changes nothing.
CREATE TABLE associations (
    integration text        NOT NULL,
    from_type   text        NOT NULL,
    from_id     text        NOT NULL,
    to_type     text        NOT NULL,
    to_id       text        NOT NULL,
    type_id     integer     NOT NULL,
    -- Who defined the type (HubSpot: HUBSPOT_DEFINED, USER_DEFINED, INTEGRATOR_DEFINED).
    category    text        NOT NULL DEFAULT '',
    -- The type's label; '' for an unlabeled type.
    label       text        NOT NULL DEFAULT '',
    synced_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration, from_type, from_id, to_type, to_id, type_id)
);

-- The other direction: a company's contacts, a contact's deals.
CREATE INDEX associations_to_idx ON associations (integration, to_type, to_id, from_type);

-- Records in numeric id order, for keyset paging through an object's ids. CRM ids are
-- decimal strings of different lengths ("99" < "100"), so the order is length, then bytes.
CREATE INDEX records_id_order_idx ON records (integration, object_type, octet_length(crm_id), (crm_id COLLATE "C"));
