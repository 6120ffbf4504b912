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
-- 0045's audit trigger for the watchdog's alerts would audit the same resolution a second time:
-- it is recreated here to leave this reason to this trigger, as it leaves 'discharged' to 0032.

ALTER TABLE alert DROP CONSTRAINT alert_resolved_reason_check;
ALTER TABLE alert ADD CONSTRAINT alert_resolved_reason_check
    CHECK (resolved_reason IN ('cleared', 'discharged', 'consent_withdrawn'));

-- SECURITY DEFINER: the withdrawing login (nabd_care) needs no privilege on alert or audit_log.
CREATE FUNCTION consent_withdrawal_ends_alerts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    closed record;
BEGIN
    PERFORM pg_advisory_xact_lock(1851878514);  -- ALERT_LOCK, 0x6E616C72
    IF consent_collection_periods(NEW.patient_id) @> now() THEN
        RETURN NULL;
    END IF;
    FOR closed IN
        UPDATE alert AS a SET state = 'resolved', resolved_at = now(), latched = false,
               resolved_reason = 'consent_withdrawn', updated_at = now()
        FROM alert AS before
        WHERE a.id = before.id AND a.patient_id = NEW.patient_id AND a.state <> 'resolved'
        RETURNING a.id, a.condition, a.priority, before.state AS state_before
    LOOP
        INSERT INTO audit_log (actor, action, subject, details) VALUES (
            session_user::text,
            'alert_resolved',
            'alert:' || closed.id,
            jsonb_build_object(
                'patient_id', NEW.patient_id, 'condition', closed.condition,
                'priority', closed.priority, 'state_before', closed.state_before,
                'reason', 'consent_withdrawn', 'withdrawn_at', NEW.withdrawn_at));
        PERFORM pg_notify('nabd_alerts', 'resolved:' || closed.id);
    END LOOP;
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
