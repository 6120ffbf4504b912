-- Consent to 'fhir-sharing' decides what the FHIR API serves (issue 23; docs/consent.md
-- "FHIR sharing", docs/fhir.md "Consent"). One rule, here, like consent_collection_periods
-- (0050) for collection, and the same deployment setting (consent_policy.required):
--   * policy required: a patient's resources are shared only while a consent to fhir-sharing
--     is open (given and not withdrawn);
--   * policy not required: shared unless the patient withdrew that consent and has not
--     consented again since.
-- Sharing is judged now, at each request (not at the data's time): a withdrawal stops the
-- disclosure of everything, earlier data included, from the moment it is recorded.
--
-- SECURITY DEFINER: the FHIR roles learn only yes or no, never who collected what.
CREATE FUNCTION fhir_sharing_allowed(patient text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT CASE
        WHEN (SELECT required FROM consent_policy) THEN
            EXISTS (SELECT 1 FROM consent c
                    WHERE c.patient_id = patient AND c.scope = 'fhir-sharing'
                      AND c.withdrawn_at IS NULL AND c.collected_at <= now())
        ELSE
            NOT EXISTS (SELECT 1 FROM consent c
                        WHERE c.patient_id = patient AND c.scope = 'fhir-sharing'
                          AND c.withdrawn_at IS NOT NULL
                          AND NOT EXISTS (SELECT 1 FROM consent n
                                          WHERE n.patient_id = c.patient_id
                                            AND n.scope = c.scope
                                            AND n.collected_at >= c.withdrawn_at))
    END
$$;
REVOKE ALL ON FUNCTION fhir_sharing_allowed(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fhir_sharing_allowed(text)
    TO nabd_fhir, nabd_fhir_identity, nabd_fhir_ward, nabd_fhir_ward_identity, nabd_clinical,
       nabd_care;
