-- Who read a patient's identity, when, and through which channel (issue 23, item 4;
-- docs/patient-rights.md). `nabd privacy access-log PATIENT` lists it; `nabd patient export`
-- includes it.
--
-- Enforced at the data, not in each page: after this migration no role but the owner may
-- SELECT identity.patient_identity. Every reader (the nurse station's login through
-- nabd_clinical, the FHIR API's nabd_fhir_identity and nabd_fhir_ward_identity, the care tools'
-- nabd_care, the CLI as owner) reads identities through identity.read_identities(), a SECURITY
-- DEFINER function that appends one identity_access row per identity it returns, in the
-- reader's own transaction. A new page or endpoint that forgets to record an access cannot read
-- a name at all: the database refuses it (permission denied), and a read that rolls back leaves
-- no trace because nothing was shown.
--
-- Who "the reader" is: the function runs as its owner, so it takes the caller's role from the
-- `role` setting (what SET [LOCAL] ROLE set; it only accepts roles the login is a member of),
-- else the login. What it may see follows the grants it replaces:
--   nabd_clinical, nabd_care, nabd_fhir_identity (and the owner): every patient;
--   nabd_fhir_ward_identity: the patients of the wards in the transaction's nabd.fhir_wards
--     setting (migration 0021), as the view it replaces did;
--   anyone else (the per-ward dashboards, a station user's own role, nabd_fhir): refused.
-- The actor (station user, FHIR client, OS user of the CLI) is told by the component that
-- authenticated the person, which the database trusts as it trusted it before; the login and the
-- role are recorded next to it by the database itself.
--
-- Volume: the ward board refreshes every few seconds. An access identical to one recorded in the
-- last 5 minutes (same patient, channel, actor, what and login) is not recorded again: the log
-- says who looked and from when, not every repaint.
--
-- The table is append-only like audit_log (trigger, whoever asks) but for one statement: the
-- retention job's DELETE of rows older than the cutoff it names in the transaction-local setting
-- nabd.retention_cutoff (`nabd privacy retention`, class identity_access; nobody but the owner
-- holds DELETE on the table). It names patients by pseudonym only, so it stays after an identity
-- is erased.

CREATE TABLE identity_access (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    patient_id  text NOT NULL REFERENCES patient (id),
    channel     text NOT NULL CHECK (channel IN ('station', 'fhir', 'cli', 'export')),
    actor       text NOT NULL CHECK (actor ~ '^\S.{0,99}$'),
    what        text NOT NULL CHECK (length(what) BETWEEN 1 AND 200),
    login       text NOT NULL,
    db_role     text NOT NULL
);
CREATE INDEX identity_access_patient_idx ON identity_access (patient_id, at);

CREATE FUNCTION identity_access_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.at < coalesce(
           nullif(current_setting('nabd.retention_cutoff', true), '')::timestamptz,
           '-infinity') THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'identity_access is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER identity_access_append_only BEFORE UPDATE OR DELETE ON identity_access
    FOR EACH ROW EXECUTE FUNCTION identity_access_guard();
CREATE TRIGGER identity_access_no_truncate BEFORE TRUNCATE ON identity_access
    FOR EACH STATEMENT EXECUTE FUNCTION identity_access_guard();

CREATE FUNCTION identity.read_identities(ids text[], via text, reader text, what text)
RETURNS TABLE (patient_id text, mrn text, given_name text, family_name text, birth_date date)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
#variable_conflict use_column
DECLARE
    caller text := coalesce(nullif(current_setting('role'), 'none'), session_user::text);
    every_ward boolean;
    wards text[];
BEGIN
    IF caller = current_user::text
       OR pg_has_role(caller, 'nabd_clinical', 'USAGE')
       OR pg_has_role(caller, 'nabd_care', 'USAGE')
       OR pg_has_role(caller, 'nabd_fhir_identity', 'USAGE') THEN
        every_ward := true;
    ELSIF pg_has_role(caller, 'nabd_fhir_ward_identity', 'USAGE') THEN
        every_ward := false;
        wards := string_to_array(nullif(current_setting('nabd.fhir_wards', true), ''), ',');
    ELSE
        RAISE EXCEPTION 'role % may not read patient identities', caller
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF via IS NULL OR via NOT IN ('station', 'fhir', 'cli', 'export') THEN
        RAISE EXCEPTION 'an identity read names its channel: station, fhir, cli or export'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF reader IS NULL OR reader !~ '^\S.{0,99}$' OR what IS NULL
       OR length(what) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'an identity read names who reads (1-100 characters) and what (1-200)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH hit AS (
        SELECT i.patient_id, i.mrn, i.given_name, i.family_name, i.birth_date
        FROM identity.patient_identity i
        WHERE i.patient_id = ANY (ids)
          AND (every_ward
               OR i.patient_id IN (SELECT p.id FROM patient p WHERE p.ward_id = ANY (wards)))
    ), recorded AS (
        INSERT INTO identity_access (patient_id, channel, actor, what, login, db_role)
        SELECT h.patient_id, via, reader, what, session_user::text, caller FROM hit h
        WHERE NOT EXISTS (
            SELECT 1 FROM identity_access a
            WHERE a.patient_id = h.patient_id AND a.at > clock_timestamp() - interval '5 minutes'
              AND a.channel = via AND a.actor = reader AND a.what = read_identities.what
              AND a.login = session_user::text)
    )
    SELECT h.patient_id, h.mrn, h.given_name, h.family_name, h.birth_date FROM hit h;
END
$$;

-- The admitting desk's one identity question, "is this MRN admitted now, and as whom?",
-- answered without reading any identity (so without an access to record).
CREATE FUNCTION identity.admitted_with_mrn(wanted text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT p.id FROM identity.patient_identity i JOIN patient p ON p.id = i.patient_id
    WHERE i.mrn = wanted AND p.discharged_at IS NULL
    ORDER BY p.admitted_at DESC LIMIT 1
$$;

REVOKE ALL ON FUNCTION identity.read_identities(text[], text, text, text),
                       identity.admitted_with_mrn(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION identity.read_identities(text[], text, text, text)
    TO nabd_clinical, nabd_care, nabd_fhir_identity, nabd_fhir_ward_identity;
GRANT EXECUTE ON FUNCTION identity.admitted_with_mrn(text) TO nabd_care;
GRANT USAGE ON SCHEMA identity TO nabd_fhir_ward_identity;

-- The direct reads this replaces.
REVOKE SELECT ON identity.patient_identity FROM nabd_clinical, nabd_care, nabd_fhir_identity;
REVOKE SELECT ON nabd_fhir_ward.patient_identity FROM nabd_fhir_ward_identity;

-- Rectifying and erasing identities (`nabd patient rectify|erase`) stay the owner's: the
-- care role admits, it never rewrites or deletes who a patient is.

-- Who may list the log: the care tools (`nabd privacy access-log`) and the audit reader.
GRANT SELECT ON identity_access TO nabd_care, nabd_audit;

-- Every admission of a person by MRN (`nabd privacy access-log MRN`, `nabd patient export MRN`):
-- pseudonyms only, for someone who already holds the MRN.
CREATE FUNCTION identity.admissions_with_mrn(wanted text) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT p.id FROM identity.patient_identity i JOIN patient p ON p.id = i.patient_id
    WHERE i.mrn = wanted ORDER BY p.admitted_at, p.id
$$;
REVOKE ALL ON FUNCTION identity.admissions_with_mrn(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION identity.admissions_with_mrn(text) TO nabd_care;
