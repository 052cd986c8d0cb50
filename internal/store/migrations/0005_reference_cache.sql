-- Owner and stage labels for SQL users, resolved inside PostgreSQL from the reference data
-- the workers cache (internal/refdata), so that a query never needs the CRM. The views read
-- the JSON the cache stores: owners as an array of crm.Owner ({"id", "email", "firstName",
-- "lastName", "archived", ...}) under kind 'owners' and object type '', pipelines as an array
-- of crm.Pipeline ({"id", "label", "archived", "stages": [{"id", "label", "displayOrder",
-- "closed"}]}) under kind 'pipelines' and the object type they belong to. Whatever copy is
-- stored is used, stale or not: a label a little out of date beats no label. Anything that is
-- not an array reads as empty rather than failing every query.

-- One row per cached owner. The label is the name, else the email, else the id: the same
-- rule as refdata.Owner.Label.
CREATE VIEW reference_owners AS
SELECT DISTINCT ON (d.integration, o->>'id')
       d.integration,
       o->>'id'                                                           AS owner_id,
       NULLIF(btrim(concat_ws(' ', o->>'firstName', o->>'lastName')), '') AS owner_name,
       NULLIF(o->>'email', '')                                            AS owner_email,
       COALESCE(NULLIF(btrim(concat_ws(' ', o->>'firstName', o->>'lastName')), ''),
                NULLIF(o->>'email', ''), o->>'id')                        AS owner_label,
       COALESCE((o->>'archived')::boolean, false)                         AS archived
FROM reference_data d
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(d.data) = 'array' THEN d.data ELSE '[]'::jsonb END) AS o
WHERE d.kind = 'owners' AND d.object_type = ''
ORDER BY d.integration, o->>'id';

-- One row per cached pipeline.
CREATE VIEW reference_pipelines AS
SELECT DISTINCT ON (d.integration, d.object_type, p->>'id')
       d.integration,
       d.object_type,
       p->>'id'                                   AS pipeline_id,
       p->>'label'                                AS pipeline_label,
       COALESCE((p->>'archived')::boolean, false) AS archived
FROM reference_data d
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(d.data) = 'array' THEN d.data ELSE '[]'::jsonb END) AS p
WHERE d.kind = 'pipelines'
ORDER BY d.integration, d.object_type, p->>'id';

-- One row per stage of a cached pipeline.
CREATE VIEW reference_stages AS
SELECT DISTINCT ON (d.integration, d.object_type, p->>'id', s->>'id')
       d.integration,
       d.object_type,
       p->>'id'                                 AS pipeline_id,
       s->>'id'                                 AS stage_id,
       s->>'label'                              AS stage_label,
       (s->>'displayOrder')::integer            AS display_order,
       COALESCE((s->>'closed')::boolean, false) AS closed
FROM reference_data d
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(d.data) = 'array' THEN d.data ELSE '[]'::jsonb END) AS p
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(p->'stages') = 'array' THEN p->'stages' ELSE '[]'::jsonb END) AS s
WHERE d.kind = 'pipelines'
ORDER BY d.integration, d.object_type, p->>'id', s->>'id';

-- Every record with its owner's and (deals) its pipeline's and stage's labels, by HubSpot's
-- property names. Plain joins, not per-row lookups into the JSON, so that the planner can
-- expand each reference array once and hash-join it. Labels are NULL where the record names
-- nothing or the cache does not know the id.
CREATE VIEW records_labeled AS
SELECT r.integration,
       r.object_type,
       r.crm_id,
       r.modified_at,
       r.deleted_at,
       r.properties->>'hubspot_owner_id' AS owner_id,
       o.owner_label,
       o.owner_name,
       o.owner_email,
       r.properties->>'pipeline'         AS pipeline_id,
       p.pipeline_label,
       r.properties->>'dealstage'        AS stage_id,
       s.stage_label,
       r.properties
FROM records r
LEFT JOIN reference_owners o
       ON o.integration = r.integration
      AND o.owner_id = r.properties->>'hubspot_owner_id'
LEFT JOIN reference_pipelines p
       ON p.integration = r.integration
      AND p.object_type = r.object_type
      AND p.pipeline_id = r.properties->>'pipeline'
LEFT JOIN reference_stages s
       ON s.integration = r.integration
      AND s.object_type = r.object_type
      AND s.pipeline_id = r.properties->>'pipeline'
      AND s.stage_id = r.properties->>'dealstage';
