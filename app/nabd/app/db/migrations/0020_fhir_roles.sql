-- The FHIR export's roles: read what FHIR exposes, append audit entries, nothing else.
--   nabd_fhir:          patients (pseudonymous), devices, assignments, metrics, observations,
--                       alerts and NEWS2 scores; audit entries for every read
--   nabd_fhir_identity: nabd_fhir plus names, MRN and birth date (identity.patient_identity),
--                       used only for callers whose token has the identity scope
-- The API sets one of them per request (SET LOCAL ROLE), so the database itself refuses identity
-- to a pseudonymous caller, whatever login the service uses.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['nabd_fhir', 'nabd_fhir_identity']
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
    IF NOT pg_has_role('nabd_fhir_identity', 'nabd_fhir', 'MEMBER') THEN
        GRANT nabd_fhir TO nabd_fhir_identity;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO nabd_fhir, nabd_fhir_identity',
                   current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO nabd_fhir;
GRANT SELECT ON patient, device, device_assignment, metric, observation, alert, news2_score
    TO nabd_fhir;
-- The audit trigger reads the previous row's hash as the inserting role: SELECT is needed too.
GRANT SELECT, INSERT ON audit_log TO nabd_fhir;
GRANT USAGE ON SEQUENCE audit_log_seq TO nabd_fhir;

GRANT USAGE ON SCHEMA identity TO nabd_fhir_identity;
GRANT SELECT ON identity.patient_identity TO nabd_fhir_identity;
