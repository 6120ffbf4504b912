-- Discharge ends a patient's alerts, and nothing clinical is recorded for a patient no longer
-- admitted (issue 16). In the database, so every path that discharges (the demo, a future
-- `nabd patient discharge`, an admission system, psql) and every writer gets it.
--
-- When `patient.discharged_at` goes from NULL to a time, a trigger, in the discharging
-- transaction:
--   * takes the alert lock (0x6E616C72, nabd.analytics.service.store.ALERT_LOCK), so it never
--     interleaves with an analytics tick or a nurse's action;
--   * numbers the discharge (`discharge_seq`, from a sequence, under that lock, so the order of
--     the numbers is the order of the commits): the analytics service reads the discharges past
--     the last number it saw at each tick, under the same lock, and drops the patient's alerts
--     from its memory at once, without waiting for its next registry refresh (it never writes
--     or re-raises an alert for a discharged patient);
--   * resolves every open alert of the patient with `resolved_reason = 'discharged'` and appends
--     one `alert_resolved` audit_log entry per alert (actor: the database login; the chain
--     trigger of 0004 numbers and hashes it), and notifies `nabd_alerts` as the service does.
--
-- A nurse's entry (nurse_entry), a patient's alarm limit (alarm_limit) and a new alert for a
-- patient who is discharged are refused with SQLSTATE 23514 (check_violation), constraint name
-- `patient_admitted` and a message in people's words; an unknown patient is already refused by
-- the foreign keys.

ALTER TABLE alert ADD COLUMN resolved_reason text
    CHECK (resolved_reason IN ('cleared', 'discharged'));

CREATE SEQUENCE patient_discharge_seq;
ALTER TABLE patient ADD COLUMN discharge_seq bigint;
CREATE UNIQUE INDEX patient_discharge_seq_idx ON patient (discharge_seq)
    WHERE discharge_seq IS NOT NULL;

-- SECURITY DEFINER: the discharging login needs no privilege on alert, audit_log or the sequence.
CREATE FUNCTION discharge_ends_alerts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    closed record;
BEGIN
    PERFORM pg_advisory_xact_lock(1851878514);  -- ALERT_LOCK, 0x6E616C72
    NEW.discharge_seq := nextval('patient_discharge_seq');
    FOR closed IN
        UPDATE alert AS a SET state = 'resolved', resolved_at = now(), latched = false,
               resolved_reason = 'discharged', updated_at = now()
        FROM alert AS before
        WHERE a.id = before.id AND a.patient_id = NEW.id AND a.state <> 'resolved'
        RETURNING a.id, a.condition, a.priority, before.state AS state_before
    LOOP
        INSERT INTO audit_log (actor, action, subject, details) VALUES (
            session_user::text,
            'alert_resolved',
            'alert:' || closed.id,
            jsonb_build_object(
                'patient_id', NEW.id, 'condition', closed.condition,
                'priority', closed.priority, 'state_before', closed.state_before,
                'reason', 'discharged', 'discharged_at', NEW.discharged_at));
        PERFORM pg_notify('nabd_alerts', 'resolved:' || closed.id);
    END LOOP;
    RETURN NEW;
END
$$;

CREATE TRIGGER patient_discharge_ends_alerts BEFORE UPDATE OF discharged_at ON patient
    FOR EACH ROW WHEN (OLD.discharged_at IS NULL AND NEW.discharged_at IS NOT NULL)
    EXECUTE FUNCTION discharge_ends_alerts();

-- SECURITY DEFINER: the writer may not be allowed to read every patient (row-level security).
CREATE FUNCTION refuse_discharged_patient() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    gone timestamptz;
BEGIN
    IF NEW.patient_id IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT discharged_at INTO gone FROM patient WHERE id = NEW.patient_id;
    IF gone IS NOT NULL THEN
        RAISE EXCEPTION 'patient % was discharged at %: nothing more is recorded for them',
            NEW.patient_id, to_char(gone AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')
            USING ERRCODE = 'check_violation', CONSTRAINT = 'patient_admitted',
                  TABLE = TG_TABLE_NAME, COLUMN = 'patient_id';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER nurse_entry_patient_admitted BEFORE INSERT OR UPDATE OF patient_id ON nurse_entry
    FOR EACH ROW EXECUTE FUNCTION refuse_discharged_patient();
CREATE TRIGGER alarm_limit_patient_admitted BEFORE INSERT OR UPDATE ON alarm_limit
    FOR EACH ROW EXECUTE FUNCTION refuse_discharged_patient();
CREATE TRIGGER alert_patient_admitted BEFORE INSERT ON alert
    FOR EACH ROW EXECUTE FUNCTION refuse_discharged_patient();

REVOKE ALL ON FUNCTION discharge_ends_alerts(), refuse_discharged_patient() FROM PUBLIC;
-- The analytics service reads the discharge numbers with its SELECT on patient (0005).
