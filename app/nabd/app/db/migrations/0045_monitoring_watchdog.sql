-- Monitoring that stops is an alarm (issue 22, item 2; docs/reliability.md "Watchdog").
--
-- The ingest service runs a watchdog (nabd.ingest.watchdog): when analytics has not written an
-- `analytics_tick` for NABD_INGEST_WATCHDOG_STALE_S, it raises one technical alert
-- `monitoring_interrupted` per admitted patient in `alert`, so it reaches the nurse station,
-- the dashboards and (published by ingest) the wards' alerts topic like any other alert.
--
-- * `analytics_tick.written_at`: when the database stored the tick, on the database's clock. The
--   watchdog measures the age of the newest tick with it, so a skew between the analytics host's
--   clock (`time`) and the database's does not delay or fake an alarm. Older rows keep NULL.
-- * Ingest may read ticks and read and write `alert` rows of that one condition only (a
--   restrictive policy: it can neither see nor change a clinical alert).
-- * Every change the watchdog makes is audited by a trigger as the database login, as 0041 does
--   for limits: ingest gets no privilege on audit_log (which it could otherwise read whole).

ALTER TABLE analytics_tick ADD COLUMN written_at timestamptz;
ALTER TABLE analytics_tick ALTER COLUMN written_at SET DEFAULT clock_timestamp();

GRANT SELECT ON analytics_tick TO nabd_ingest;
GRANT SELECT, INSERT ON alert TO nabd_ingest;
GRANT UPDATE (state, latched, resolved_at, resolved_reason, updated_at) ON alert TO nabd_ingest;
CREATE POLICY watchdog_only ON alert AS RESTRICTIVE TO nabd_ingest
    USING (condition = 'monitoring_interrupted')
    WITH CHECK (condition = 'monitoring_interrupted' AND kind = 'technical');

-- SECURITY DEFINER: the writer needs no privilege on audit_log. Not for a nurse's
-- acknowledgement (`nabd alerts ack` audits it, naming the nurse) nor for a discharge (0032's
-- trigger audits it).
CREATE FUNCTION audit_monitoring_interrupted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    what text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        what := 'alert_raised';
    ELSIF NEW.state = 'resolved' AND OLD.state <> 'resolved' THEN
        what := 'alert_resolved';
    ELSIF NEW.latched AND NOT OLD.latched THEN
        what := 'alert_latched';
    ELSIF OLD.latched AND NOT NEW.latched THEN
        what := 'alert_unlatched';
    ELSE
        RETURN NULL;
    END IF;
    INSERT INTO audit_log (actor, action, subject, details) VALUES (
        session_user::text,
        what,
        'alert:' || NEW.id,
        jsonb_build_object(
            'patient_id', NEW.patient_id, 'condition', NEW.condition,
            'priority', NEW.priority, 'escalation_level', NEW.escalation_level,
            'at', NEW.updated_at, 'raised_at', NEW.raised_at));
    RETURN NULL;
END
$$;

CREATE TRIGGER alert_monitoring_interrupted_audit AFTER INSERT OR UPDATE OF state, latched ON alert
    FOR EACH ROW
    WHEN (NEW.condition = 'monitoring_interrupted' AND NEW.state <> 'acknowledged'
          AND NEW.resolved_reason IS DISTINCT FROM 'discharged')
    EXECUTE FUNCTION audit_monitoring_interrupted();

REVOKE ALL ON FUNCTION audit_monitoring_interrupted() FROM PUBLIC;
