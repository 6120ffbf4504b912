-- Care operations (nabd.care, `nabd ward|patient|device|gateway`, docs/care.md): wards and their
-- beds, admissions with identities, devices by Bluetooth address and their assignments, written
-- by people through one set of functions instead of the demo's own SQL or psql.
--
--   nabd_care: the role of those tools (an admissions desk, a ward's device engineer, later the
--              nurse station). It writes the registry and identities and appends audit entries;
--              it reads no observation, payload or dead letter.

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nabd_care') THEN
        CREATE ROLE nabd_care NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO nabd_care', current_database());
END $$;
GRANT USAGE ON SCHEMA public TO nabd_care;

-- ---- Beds -----------------------------------------------------------------------------------
-- A bed belongs to a ward and may name the gateway that serves it: a device worn by the bed's
-- patient is registered to that gateway (ingest accepts a device's readings only from its
-- gateway), so moving a patient to a bed on another gateway moves their devices with them.
CREATE TABLE bed (
    ward_id     text NOT NULL REFERENCES ward (id),
    id          text NOT NULL CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$'),
    gateway_id  text REFERENCES gateway (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ward_id, id)
);

-- An admission's bed. NULL for admissions made before beds existed (the demo's).
ALTER TABLE patient ADD COLUMN bed_id text;
ALTER TABLE patient ADD CONSTRAINT patient_bed_fk FOREIGN KEY (ward_id, bed_id)
    REFERENCES bed (ward_id, id);
-- One admitted patient per bed.
CREATE UNIQUE INDEX patient_bed_occupied_idx ON patient (ward_id, bed_id)
    WHERE discharged_at IS NULL AND bed_id IS NOT NULL;

-- ---- Identities -----------------------------------------------------------------------------
-- A `patient` row is one admission (its pseudonymous id never outlives the stay in anything a
-- dashboard shows), so a person re-admitted next month gets a new row and a new identity row
-- with the same MRN: the MRN is unique among *admitted* patients only, which nabd.care checks
-- under a per-MRN lock in the admitting transaction.
ALTER TABLE identity.patient_identity DROP CONSTRAINT patient_identity_mrn_key;
CREATE INDEX patient_identity_mrn_idx ON identity.patient_identity (mrn);

-- ---- Devices --------------------------------------------------------------------------------
-- The Bluetooth address a gateway connects to (upper-case, as the edge configuration writes it).
-- A device registered before it is worn need not have a gateway yet: it gets its patient's bed's
-- gateway when assigned. Ingest treats a device with no gateway like an unknown one.
ALTER TABLE device ADD COLUMN address text
    CHECK (address ~ '^[0-9A-F]{2}(:[0-9A-F]{2}){5}$');
CREATE UNIQUE INDEX device_address_idx ON device (address);
ALTER TABLE device ALTER COLUMN gateway_id DROP NOT NULL;

-- Who ended an assignment (unassign, discharge): the audit entry of the update names them
-- instead of whoever started it.
ALTER TABLE device_assignment ADD COLUMN ended_by text;

CREATE OR REPLACE FUNCTION audit_device_assignment() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    r device_assignment;
BEGIN
    r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    INSERT INTO audit_log (actor, action, subject, details) VALUES (
        CASE WHEN TG_OP = 'DELETE' THEN session_user::text
             WHEN TG_OP = 'UPDATE' AND NEW.ended_by IS DISTINCT FROM OLD.ended_by
                 THEN NEW.ended_by
             ELSE NEW.assigned_by END,
        'device_assignment',
        'device:' || r.device_id,
        jsonb_build_object(
            'op', lower(TG_OP), 'login', session_user::text,
            'patient_before', CASE WHEN TG_OP <> 'INSERT' THEN OLD.patient_id END,
            'valid_before', CASE WHEN TG_OP <> 'INSERT' THEN OLD.valid::text END,
            'patient_id', CASE WHEN TG_OP <> 'DELETE' THEN NEW.patient_id END,
            'valid', CASE WHEN TG_OP <> 'DELETE' THEN NEW.valid::text END));
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION audit_device_assignment() FROM PUBLIC;

-- ---- Privileges -----------------------------------------------------------------------------
GRANT SELECT, INSERT, UPDATE (name) ON ward TO nabd_care;
GRANT SELECT, INSERT, UPDATE (gateway_id) ON bed TO nabd_care;
GRANT SELECT, INSERT, UPDATE (ward_id, bed_id, discharged_at) ON patient TO nabd_care;
GRANT SELECT, INSERT, UPDATE (ward_id, revoked_at) ON gateway TO nabd_care;
GRANT SELECT, INSERT, UPDATE (gateway_id, model, serial) ON device TO nabd_care;
GRANT SELECT, INSERT, UPDATE (valid, ended_by) ON device_assignment TO nabd_care;
GRANT SELECT ON gateway_state, gateway_device_state, alert TO nabd_care;
GRANT SELECT, INSERT ON audit_log TO nabd_care;
GRANT USAGE ON SEQUENCE audit_log_seq TO nabd_care;
GRANT USAGE ON SCHEMA identity TO nabd_care;
GRANT SELECT, INSERT ON identity.patient_identity TO nabd_care;

-- Everyone else reads beds as they read wards; the per-ward dashboards only their wards' beds.
GRANT SELECT ON bed TO nabd_ingest, nabd_analytics, nabd_dashboards, nabd_clinical,
    nabd_ward_dashboards;
ALTER TABLE bed ENABLE ROW LEVEL SECURITY;
CREATE POLICY all_rows ON bed TO nabd_ingest, nabd_analytics, nabd_dashboards, nabd_clinical
    USING (true) WITH CHECK (true);
CREATE POLICY own_wards ON bed FOR SELECT TO nabd_ward_dashboards
    USING (ward_id IN (SELECT nabd_viewer_wards()));

-- Row-level security (0040): the care role sees and writes every ward's rows.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['ward', 'bed', 'patient', 'gateway', 'device', 'device_assignment',
                             'alert']
    LOOP
        EXECUTE format('CREATE POLICY care_rows ON %I TO nabd_care USING (true) WITH CHECK (true)',
                       t);
    END LOOP;
END
$$;
