-- Consent (issue 23 item 3, nabd.care.consents, `nabd consent`, docs/consent.md): what a patient
-- agreed to, per programme (scope), the version of the text they were shown, when and by whom it
-- was collected, and its withdrawal; and the deployment's policy on whether collection needs it.
--
-- One rule decides whether a patient's readings may be collected at an instant, in one place
-- (consent_collection_periods below), read by ingest (readings outside it become dead letters
-- of category 'no_consent'; re-attribution leaves them aside), by the gateway device lists (a
-- device of a patient outside it is not in its gateway's list, so the gateway disconnects it),
-- by analytics (it does not monitor such a patient now) and by the care operations (assigning a
-- device is refused).

-- The care role is created here when this migration runs before 0060 (a new database), as 0060
-- itself does (IF NOT EXISTS); 0060 grants it the rest.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nabd_care') THEN
        CREATE ROLE nabd_care NOLOGIN;
    END IF;
END $$;

-- ---- Records --------------------------------------------------------------------------------
-- One row per consent given; a withdrawal completes its row (never deletes it); consenting again
-- after a withdrawal is a new row. At most one open (not withdrawn) row per patient and scope.
CREATE TABLE consent (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id    text NOT NULL REFERENCES patient (id),
    scope         text NOT NULL CHECK (scope ~ '^[a-z][a-z0-9-]{0,39}$'),
    text_version  text NOT NULL CHECK (length(text_version) BETWEEN 1 AND 40),
    collected_at  timestamptz NOT NULL,
    collected_by  text NOT NULL CHECK (length(collected_by) BETWEEN 1 AND 100),
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    withdrawn_at  timestamptz,
    withdrawn_by  text CHECK (length(withdrawn_by) BETWEEN 1 AND 100),
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL)),
    CHECK (withdrawn_at IS NULL OR withdrawn_at >= collected_at)
);
CREATE UNIQUE INDEX consent_open_idx ON consent (patient_id, scope) WHERE withdrawn_at IS NULL;
CREATE INDEX consent_patient_idx ON consent (patient_id, scope, collected_at);

-- ---- Policy ---------------------------------------------------------------------------------
-- The deployment setting, one row: does collection need a recorded consent for the scope
-- 'remote-monitoring'? Default no, so a deployment (and the demo) that records none keeps
-- collecting; an explicit withdrawal is honoured either way. Held in the database, not in each
-- service's environment, so ingest, analytics and the care tools can never disagree, and a
-- change is audited (`nabd consent policy --required on|off`).
CREATE TABLE consent_policy (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    required    boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL DEFAULT 'migration 0050'
);
INSERT INTO consent_policy DEFAULT VALUES;

-- ---- The rule -------------------------------------------------------------------------------
-- When may a patient's readings be collected: the instants covered by a consent to
-- 'remote-monitoring' (from its collection to its withdrawal) when the policy requires one;
-- otherwise every instant except those from a withdrawal to the next consent given.
-- SECURITY DEFINER: ingest and analytics learn only this, never who collected what.
CREATE FUNCTION consent_collection_periods(patient text) RETURNS tstzmultirange
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT CASE
        WHEN (SELECT required FROM consent_policy) THEN
            coalesce((SELECT range_agg(tstzrange(c.collected_at, c.withdrawn_at))
                      FROM consent c
                      WHERE c.patient_id = patient AND c.scope = 'remote-monitoring'),
                     '{}'::tstzmultirange)
        ELSE
            '{(,)}'::tstzmultirange
            - coalesce((SELECT range_agg(tstzrange(
                                  c.withdrawn_at,
                                  (SELECT min(n.collected_at) FROM consent n
                                   WHERE n.patient_id = c.patient_id AND n.scope = c.scope
                                     AND n.collected_at >= c.withdrawn_at)))
                        FROM consent c
                        WHERE c.patient_id = patient AND c.scope = 'remote-monitoring'
                          AND c.withdrawn_at IS NOT NULL),
                       '{}'::tstzmultirange)
    END
$$;
REVOKE ALL ON FUNCTION consent_collection_periods(text) FROM PUBLIC;

-- The same for a flush's patients at once, returning only those not collected at every instant
-- (the policy requires consent, or they withdrew once): with consent not required and no
-- withdrawal, the usual case, it costs ingest one index probe per patient.
CREATE FUNCTION consent_restricted_periods(patients text[])
RETURNS TABLE (patient_id text, periods tstzmultirange)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT k.p, consent_collection_periods(k.p)
    FROM unnest(patients) AS k (p)
    WHERE (SELECT required FROM consent_policy)
       OR EXISTS (SELECT 1 FROM consent c
                  WHERE c.patient_id = k.p AND c.scope = 'remote-monitoring'
                    AND c.withdrawn_at IS NOT NULL)
$$;
REVOKE ALL ON FUNCTION consent_restricted_periods(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION consent_restricted_periods(text[]) TO nabd_ingest;
GRANT EXECUTE ON FUNCTION consent_collection_periods(text)
    TO nabd_ingest, nabd_analytics, nabd_care, nabd_clinical;

-- ---- Privileges -----------------------------------------------------------------------------
-- The care tools record and withdraw (audited by nabd.care in the same transaction) and set the
-- policy; the clinical role reads consents (a nurse station may show them). Nobody deletes one.
GRANT SELECT, INSERT, UPDATE (withdrawn_at, withdrawn_by) ON consent TO nabd_care;
GRANT SELECT, UPDATE (required, updated_at, updated_by) ON consent_policy TO nabd_care;
GRANT SELECT ON consent, consent_policy TO nabd_clinical;
-- Ingest, analytics and the dashboards may know whether consent is required (a dashboard can
-- explain why a patient has no data), not who consented.
GRANT SELECT ON consent_policy TO nabd_ingest, nabd_analytics, nabd_dashboards;
