-- NEWS2 SpO2 scale per patient as a clinical action (`nabd nurse scale`, docs/analytics.md).
--
-- `patient.news2_scale2` (0002) switches a patient's SpO2 scoring to Scale 2: for confirmed
-- hypercapnic (type 2) respiratory failure with a prescribed 88-92 % target, decided by a
-- competent clinical decision-maker (RCP NEWS2, 2017). It decides whether a saturation of 88 %
-- pages anyone, so the nurses' tools (nabd_clinical) may now change it, and every change is
-- audited like a threshold change (0041): the row records who set the scale and when, and a
-- trigger appends the audit_log entry in the same transaction, whoever writes (`nabd nurse
-- scale`, the owner, psql).
--
-- Who: the writer names the clinician in `news2_scale_set_by` and gives `news2_scale_set_at` a
-- new value in the same UPDATE (the clinician may be the one who set the scale last time). A
-- writer that changes the scale without naming anyone (neither column differs from the row's,
-- e.g. `UPDATE patient SET news2_scale2 = true` in psql) is recorded as its database login
-- (session_user), never as the previous clinician. When: the trigger replaces the given time
-- with now(), so a writer cannot backdate a change. An UPDATE that leaves the scale as it was is
-- not a change: no stamp, no audit entry.

ALTER TABLE patient
    ADD COLUMN news2_scale_set_by text CHECK (news2_scale_set_by ~ '^\S.{0,99}$'),
    ADD COLUMN news2_scale_set_at timestamptz;

-- Runs as the caller (it only edits the row being written).
CREATE FUNCTION stamp_news2_scale() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    IF NEW.news2_scale_set_by IS NULL
       OR (NEW.news2_scale_set_by IS NOT DISTINCT FROM OLD.news2_scale_set_by
           AND NEW.news2_scale_set_at IS NOT DISTINCT FROM OLD.news2_scale_set_at) THEN
        NEW.news2_scale_set_by := session_user::text;
    END IF;
    NEW.news2_scale_set_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER patient_news2_scale_stamp BEFORE UPDATE OF news2_scale2 ON patient
    FOR EACH ROW WHEN (OLD.news2_scale2 IS DISTINCT FROM NEW.news2_scale2)
    EXECUTE FUNCTION stamp_news2_scale();

-- SECURITY DEFINER, as in 0041: the writer needs no INSERT on audit_log of its own; the chain
-- trigger of 0004 numbers and hashes the entry.
CREATE FUNCTION audit_news2_scale() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO audit_log (actor, action, subject, details) VALUES (
        NEW.news2_scale_set_by,
        'news2_scale_change',
        'patient:' || NEW.id,
        jsonb_build_object(
            'scale_before', CASE WHEN OLD.news2_scale2 THEN 2 ELSE 1 END,
            'scale', CASE WHEN NEW.news2_scale2 THEN 2 ELSE 1 END,
            'login', session_user::text));
    RETURN NULL;
END
$$;

CREATE TRIGGER patient_news2_scale_audit AFTER UPDATE OF news2_scale2 ON patient
    FOR EACH ROW WHEN (OLD.news2_scale2 IS DISTINCT FROM NEW.news2_scale2)
    EXECUTE FUNCTION audit_news2_scale();

REVOKE ALL ON FUNCTION stamp_news2_scale(), audit_news2_scale() FROM PUBLIC;

-- nabd_clinical already reads patient (0005); under row-level security (0040) its `all_rows`
-- policy is for every command, so these column grants are all it needs. A fresh database runs
-- this before 0040, one migrated earlier after 0041: neither order changes the result.
GRANT UPDATE (news2_scale2, news2_scale_set_by, news2_scale_set_at) ON patient TO nabd_clinical;
