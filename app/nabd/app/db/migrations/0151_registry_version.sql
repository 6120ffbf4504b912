-- Ingest attributes every reading from the registry (which gateway a device belongs to, who wore
-- it when: nabd.ingest.attribution), and read those rows for every flush: at 3 000 beds about
-- 1 200 devices' rows per flush, 18 ms, five flushes a second (bench/capacity.py with
-- pg_stat_statements): a tenth of a core for rows that change a few times a day. Its gateway-list
-- pass (nabd.ingest.gateway_configs) likewise read every assignment, device and consent every
-- 2 s (108 ms a pass at 5 000 beds).
--
-- `registry_version` counts the changes that matter to either: a device registered, removed,
-- moved to another gateway or given another address or kind; an assignment made, ended,
-- corrected or removed; a gateway added, removed or revoked; a consent recorded or withdrawn, or
-- the consent policy changed. The count changes in the same transaction as the change, so a
-- reader that reads the count reads it as of the same commits as the rows it would read: ingest
-- keeps what it read and reads again only when the count moved (nabd.ingest.registry_cache).
-- A battery level or a reported firmware (columns updated all the time) does not count.
CREATE TABLE registry_version (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint  NOT NULL DEFAULT 0
);
INSERT INTO registry_version DEFAULT VALUES;

-- Who changes the registry (the owner, nabd_clinical, the station) needs no right on the
-- counter itself: the trigger function runs as the owner.
CREATE FUNCTION bump_registry_version() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE registry_version SET version = version + 1;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION bump_registry_version() FROM PUBLIC;

CREATE TRIGGER device_registry_version AFTER INSERT OR DELETE ON device
    FOR EACH ROW EXECUTE FUNCTION bump_registry_version();
CREATE TRIGGER device_registry_version_changed AFTER UPDATE OF id, gateway_id, address, kind
    ON device FOR EACH ROW
    WHEN ((OLD.id, OLD.gateway_id, OLD.address, OLD.kind)
          IS DISTINCT FROM (NEW.id, NEW.gateway_id, NEW.address, NEW.kind))
    EXECUTE FUNCTION bump_registry_version();
CREATE TRIGGER assignment_registry_version AFTER INSERT OR UPDATE OR DELETE ON device_assignment
    FOR EACH ROW EXECUTE FUNCTION bump_registry_version();
CREATE TRIGGER gateway_registry_version AFTER INSERT OR DELETE ON gateway
    FOR EACH ROW EXECUTE FUNCTION bump_registry_version();
CREATE TRIGGER gateway_registry_version_changed AFTER UPDATE OF id, revoked_at ON gateway
    FOR EACH ROW WHEN ((OLD.id, OLD.revoked_at) IS DISTINCT FROM (NEW.id, NEW.revoked_at))
    EXECUTE FUNCTION bump_registry_version();
CREATE TRIGGER consent_registry_version AFTER INSERT OR UPDATE OR DELETE ON consent
    FOR EACH ROW EXECUTE FUNCTION bump_registry_version();
CREATE TRIGGER consent_policy_registry_version AFTER INSERT OR UPDATE OR DELETE ON consent_policy
    FOR EACH ROW EXECUTE FUNCTION bump_registry_version();
CREATE TRIGGER registry_version_truncated AFTER TRUNCATE ON device
    FOR EACH STATEMENT EXECUTE FUNCTION bump_registry_version();
CREATE TRIGGER registry_version_truncated AFTER TRUNCATE ON device_assignment
    FOR EACH STATEMENT EXECUTE FUNCTION bump_registry_version();
CREATE TRIGGER registry_version_truncated AFTER TRUNCATE ON gateway
    FOR EACH STATEMENT EXECUTE FUNCTION bump_registry_version();
CREATE TRIGGER registry_version_truncated AFTER TRUNCATE ON consent
    FOR EACH STATEMENT EXECUTE FUNCTION bump_registry_version();

GRANT SELECT ON registry_version TO nabd_ingest;
