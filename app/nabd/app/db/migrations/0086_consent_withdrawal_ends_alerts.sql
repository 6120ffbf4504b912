-- A withdrawal of consent to remote-monitoring ends the patient's open alerts, as a discharge
-- does (migration 0032; issue 23, docs/consent.md "Withdrawal and alerts").
--
-- Once a withdrawal stops collection (consent_collection_periods no longer covers now), no
-- reading of the patient is stored, analytics stops monitoring them at its next registry refresh
-- (5 s) and ingest's watchdog stops watching them: an alert left open would ring for a patient
-- nobody monitors any more. So, when `consent.withdrawn_at` goes from NULL to a time for the
-- scope 'remote-monitoring', a trigger, in the withdrawing transaction:
--   * takes the alert lock (0x6E616C72, nabd.analytics.service.store.ALERT_LOCK), so it never
--     interleaves with an analytics tick, the watchdog or a nurse's action;
--   * if collection is no longer allowed now, resolves every open alert of the patient with
--     `resolved_reason = 'consent_withdrawn'` and appends one `alert_resolved` audit_log entry
--     per alert (actor: the database login; details: reason and withdrawn_at), and notifies
--     `nabd_alerts` as the service does.
-- A withdrawal that leaves collection allowed (another scope, or a withdrawal dated before a
-- newer consent) closes nothing.
--
-- Both this and 0032's discharge now end alerts through one function, end_open_alerts.
--
-- 0045's audit trigger for the watchdog's alerts would audit the same resolution a second time:
-- it is recreated here to leave this reason to this trigger, as it leaves 'discharged' to 0032.

ALTER TABLE alert DROP CONSTRAINT alert_resolved_reason_check;
ALTER TABLE alert ADD CONSTRAINT alert_resolved_reason_check
    CHECK (resolved_reason IN ('cleared', 'discharged', 'consent_withdrawn'));

-- The one way the database ends a patient's open alerts (a discharge, a withdrawal): resolve each
-- with `reason`, append one `alert_resolved` audit entry per alert (actor: the database login;
-- details: patient, condition, priority, state before, reason, and `extra`) and notify
-- `nabd_alerts` as the service does. The caller holds the alert lock.
-- SECURITY DEFINER: the discharging or withdrawing login needs no privilege on alert or audit_log.
CREATE FUNCTION end_open_alerts(patient text, reason text, extra jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    closed record;
BEGIN
    FOR closed IN
        UPDATE alert AS a SET state = 'resolved', resolved_at = now(), latched = false,
               resolved_reason = reason, updated_at = now()
        FROM alert AS before
        WHERE a.id = before.id AND a.patient_id = patient AND a.state <> 'resolved'
        RETURNING a.id, a.condition, a.priority, before.state AS state_before
    LOOP
        INSERT INTO audit_log (actor, action, subject, details) VALUES (
            session_user::text,
            'alert_resolved',
            'alert:' || closed.id,
            jsonb_build_object(
                'patient_id', patient, 'condition', closed.condition,
                'priority', closed.priority, 'state_before', closed.state_before,
                'reason', reason) || extra);
        PERFORM pg_notify('nabd_alerts', 'resolved:' || closed.id);
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION end_open_alerts(text, text, jsonb) FROM PUBLIC;

-- 0032's discharge trigger, now through end_open_alerts (same rows, audit entries and notices).
CREATE OR REPLACE FUNCTION discharge_ends_alerts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1851878514);  -- ALERT_LOCK, 0x6E616C72
    NEW.discharge_seq := nextval('patient_discharge_seq');
    PERFORM end_open_alerts(NEW.id, 'discharged',
                            jsonb_build_object('discharged_at', NEW.discharged_at));
    RETURN NEW;
END
$$;

CREATE FUNCTION consent_withdrawal_ends_alerts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1851878514);  -- ALERT_LOCK, 0x6E616C72
    IF NOT consent_collection_periods(NEW.patient_id) @> now() THEN
        PERFORM end_open_alerts(NEW.patient_id, 'consent_withdrawn',
                                jsonb_build_object('withdrawn_at', NEW.withdrawn_at));
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION consent_withdrawal_ends_alerts() FROM PUBLIC;

CREATE TRIGGER consent_withdrawal_ends_alerts AFTER UPDATE OF withdrawn_at ON consent
    FOR EACH ROW
    WHEN (OLD.withdrawn_at IS NULL AND NEW.withdrawn_at IS NOT NULL
          AND NEW.scope = 'remote-monitoring')
    EXECUTE FUNCTION consent_withdrawal_ends_alerts();

DROP TRIGGER alert_monitoring_interrupted_audit ON alert;
CREATE TRIGGER alert_monitoring_interrupted_audit AFTER INSERT OR UPDATE OF state, latched ON alert
    FOR EACH ROW
    WHEN (NEW.condition = 'monitoring_interrupted' AND NEW.state <> 'acknowledged'
          AND (NEW.resolved_reason IS NULL
               OR NEW.resolved_reason NOT IN ('discharged', 'consent_withdrawn')))
    EXECUTE FUNCTION audit_monitoring_interrupted();

-- A resolved alert stays resolved. Analytics drops a withdrawn patient from its memory at its next
-- registry refresh (up to NABD_ANALYTICS_REGISTRY_S, 5 s, after the withdrawal), not at once as
-- it does for a discharge; an update it writes meanwhile for an alert the withdrawal resolved
-- (a "worsened" sets state back to 'raised') would reopen it for a patient nobody monitors. Such
-- an update is skipped: nothing in Nabd reopens a resolved alert (a new episode is a new row).
CREATE FUNCTION alert_resolved_is_final() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION alert_resolved_is_final() FROM PUBLIC;

CREATE TRIGGER alert_resolved_is_final BEFORE UPDATE ON alert
    FOR EACH ROW WHEN (OLD.state = 'resolved' AND NEW.state <> 'resolved')
    EXECUTE FUNCTION alert_resolved_is_final();
