-- Threshold changes (alarm_limit) and device assignments are clinical actions: every insert,
-- update and delete of those rows appends an audit_log entry in the same transaction, whoever
-- writes them (a nurse's tool, the owner's admin commands, psql). A trigger rather than each
-- code path, so no writer can forget it. The functions run as their owner (SECURITY DEFINER)
-- so a writer needs no INSERT on audit_log of its own; the chain trigger of 0004 numbers and
-- hashes the entry as for any other writer.
--
-- The actor is the row's own author column (set_by, assigned_by) on insert and update, and the
-- database login (session_user) on delete, where the row names nobody new. Limits go into the
-- details as text: jsonb has no Infinity, and an infinite limit (one switched off) is common.

CREATE FUNCTION audit_alarm_limit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    r alarm_limit;
    actor text;
BEGIN
    r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    actor := CASE WHEN TG_OP = 'DELETE' THEN session_user::text ELSE NEW.set_by END;
    INSERT INTO audit_log (actor, action, subject, details) VALUES (
        actor,
        'threshold_change',
        CASE WHEN r.ward_id IS NOT NULL THEN 'ward:' || r.ward_id ELSE 'patient:' || r.patient_id END
            || ':' || r.metric,
        jsonb_build_object(
            'op', lower(TG_OP), 'metric', r.metric, 'login', session_user::text,
            'low_before', CASE WHEN TG_OP <> 'INSERT' THEN OLD.low::text END,
            'high_before', CASE WHEN TG_OP <> 'INSERT' THEN OLD.high::text END,
            'low', CASE WHEN TG_OP <> 'DELETE' THEN NEW.low::text END,
            'high', CASE WHEN TG_OP <> 'DELETE' THEN NEW.high::text END));
    RETURN NULL;
END
$$;

CREATE TRIGGER alarm_limit_audit AFTER INSERT OR UPDATE OR DELETE ON alarm_limit
    FOR EACH ROW EXECUTE FUNCTION audit_alarm_limit();

CREATE FUNCTION audit_device_assignment() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    r device_assignment;
BEGIN
    r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    INSERT INTO audit_log (actor, action, subject, details) VALUES (
        CASE WHEN TG_OP = 'DELETE' THEN session_user::text ELSE NEW.assigned_by END,
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

CREATE TRIGGER device_assignment_audit AFTER INSERT OR UPDATE OR DELETE ON device_assignment
    FOR EACH ROW EXECUTE FUNCTION audit_device_assignment();

REVOKE ALL ON FUNCTION audit_alarm_limit(), audit_device_assignment() FROM PUBLIC;
