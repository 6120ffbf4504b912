-- Per-ward FHIR tokens, enforced by the database as well as by the API.
--
--   nabd_fhir_ward:          what nabd_fhir reads, but only through the views of the schema
--                            nabd_fhir_ward, filtered to the wards named in the transaction's
--                            setting nabd.fhir_wards (comma-separated); no grant on the tables
--   nabd_fhir_ward_identity: nabd_fhir_ward plus the identities of those wards' patients
--
-- The API runs a ward-scoped token's request as `SET LOCAL ROLE nabd_fhir_ward`, sets
-- nabd.fhir_wards to the token's wards with set_config(..., true) (transaction-local) and puts
-- nabd_fhir_ward first on the search_path, so its unchanged SQL reads the views. A query that
-- forgets the ward, or names public.observation, reads nothing more: the role cannot read the
-- tables at all. An unset or empty setting shows no patient (fail closed).
--
-- What this defends: mistakes in the API's query layer. It does not defend against the FHIR
-- service's own login, which may take nabd_fhir (every ward) and set the setting: the login is
-- the trusted component that maps a token to its wards (docs/security.md).
--
-- Ordering: this file may run before 0040 (a fresh database) or after it (a database migrated
-- before per-ward tokens existed), so it touches only objects of migrations <= 0020. The views
-- are owned by the migrating owner, who is not subject to the row security 0040 enables, and
-- name their columns (a later column of the tables is not exposed).

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['nabd_fhir_ward', 'nabd_fhir_ward_identity']
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
    IF NOT pg_has_role('nabd_fhir_ward_identity', 'nabd_fhir_ward', 'MEMBER') THEN
        GRANT nabd_fhir_ward TO nabd_fhir_ward_identity;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO nabd_fhir_ward, nabd_fhir_ward_identity',
                   current_database());
END
$$;

-- The wards of the current transaction's token; NULL (no ward) when unset. A function in a
-- view runs as the caller, so it reads only the setting; the tables are read by the views'
-- own subqueries, with the owner's privileges.
CREATE FUNCTION nabd_fhir_wards() RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT string_to_array(nullif(current_setting('nabd.fhir_wards', true), ''), ',')
$$;
REVOKE ALL ON FUNCTION nabd_fhir_wards() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nabd_fhir_wards() TO nabd_fhir_ward;

CREATE SCHEMA nabd_fhir_ward;
REVOKE ALL ON SCHEMA nabd_fhir_ward FROM PUBLIC;
GRANT USAGE ON SCHEMA nabd_fhir_ward TO nabd_fhir_ward;

CREATE VIEW nabd_fhir_ward.patient WITH (security_barrier) AS
    SELECT id, ward_id, admitted_at, discharged_at FROM public.patient
    WHERE ward_id = ANY (nabd_fhir_wards());

-- A device of one of the wards' gateways, or one ever assigned to one of their patients.
CREATE VIEW nabd_fhir_ward.device WITH (security_barrier) AS
    SELECT d.id, d.gateway_id, d.kind, d.manufacturer, d.model, d.serial, d.firmware,
           d.battery_level
    FROM public.device d
    WHERE d.gateway_id IN (SELECT g.id FROM public.gateway g
                           WHERE g.ward_id = ANY (nabd_fhir_wards()))
       OR d.id IN (SELECT a.device_id FROM public.device_assignment a
                   WHERE a.patient_id IN (SELECT p.id FROM public.patient p
                     WHERE p.ward_id = ANY (nabd_fhir_wards())));

CREATE VIEW nabd_fhir_ward.device_assignment WITH (security_barrier) AS
    SELECT device_id, patient_id, valid FROM public.device_assignment
    WHERE patient_id IN (SELECT p.id FROM public.patient p
                     WHERE p.ward_id = ANY (nabd_fhir_wards()));

CREATE VIEW nabd_fhir_ward.observation WITH (security_barrier) AS
    SELECT time, patient_id, device_id, metric_id, seq, value, quality FROM public.observation
    WHERE patient_id IN (SELECT p.id FROM public.patient p
                     WHERE p.ward_id = ANY (nabd_fhir_wards()));

CREATE VIEW nabd_fhir_ward.news2_score WITH (security_barrier) AS
    SELECT time, patient_id, total, risk, complete, scale2, respiration_rate, spo2,
           air_or_oxygen, systolic_bp, heart_rate, consciousness, temperature
    FROM public.news2_score
    WHERE patient_id IN (SELECT p.id FROM public.patient p
                     WHERE p.ward_id = ANY (nabd_fhir_wards()));

CREATE VIEW nabd_fhir_ward.alert WITH (security_barrier) AS
    SELECT id, patient_id, condition, priority, state, message, raised_at, resolved_at, metric_id
    FROM public.alert
    WHERE patient_id IN (SELECT p.id FROM public.patient p
                     WHERE p.ward_id = ANY (nabd_fhir_wards()));

CREATE VIEW nabd_fhir_ward.patient_identity WITH (security_barrier) AS
    SELECT patient_id, mrn, given_name, family_name, birth_date FROM identity.patient_identity
    WHERE patient_id IN (SELECT p.id FROM public.patient p
                     WHERE p.ward_id = ANY (nabd_fhir_wards()));

GRANT SELECT ON nabd_fhir_ward.patient, nabd_fhir_ward.device, nabd_fhir_ward.device_assignment,
                nabd_fhir_ward.observation, nabd_fhir_ward.news2_score, nabd_fhir_ward.alert
    TO nabd_fhir_ward;
GRANT SELECT ON nabd_fhir_ward.patient_identity TO nabd_fhir_ward_identity;

-- No patient data in these: the metric catalogue, and the audit log the API appends to (the
-- chain trigger reads the previous row's hash as the inserting role).
GRANT USAGE ON SCHEMA public TO nabd_fhir_ward;
GRANT SELECT ON metric TO nabd_fhir_ward;
GRANT SELECT, INSERT ON audit_log TO nabd_fhir_ward;
GRANT USAGE ON SEQUENCE audit_log_seq TO nabd_fhir_ward;
