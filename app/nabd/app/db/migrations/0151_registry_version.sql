-- Ingest attributes every reading from the registry (which gateway a device belongs to, who wore
-- it when: nabd.ingest.attribution), and read those rows for every flush: at 3 000 beds about
-- 1 200 devices' rows per flush, 18 ms, five flushes a second (bench/capacity.py with
-- pg_stat_statements): a tenth of a core for rows that change a few times a day.
--
-- `registry_version` counts the changes that matter to attribution: a device registered,
-- removed or moved to another gateway, an assignment made, ended, corrected or removed. The count
-- changes in the same transaction as the change, so a flush that reads the count reads it as of
-- the same commits as the registry rows it would read: ingest keeps the rows it read and reads
-- them again only when the count moved (nabd.ingest.registry_cache). A battery level or a
-- reported firmware (columns updated all the time) does not count.
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
CREATE TRIGGER device_registry_version_moved AFTER UPDATE OF id, gateway_id ON device
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.gateway_id IS DISTINCT FROM NEW.gateway_id)
    EXECUTE FUNCTION bump_registry_version();
CREATE TRIGGER device_registry_version_truncated AFTER TRUNCATE ON device
    FOR EACH STATEMENT EXECUTE FUNCTION bump_registry_version();
CREATE TRIGGER assignment_registry_version AFTER INSERT OR UPDATE OR DELETE ON device_assignment
    FOR EACH ROW EXECUTE FUNCTION bump_registry_version();
CREATE TRIGGER assignment_registry_version_truncated AFTER TRUNCATE ON device_assignment
    FOR EACH STATEMENT EXECUTE FUNCTION bump_registry_version();

GRANT SELECT ON registry_version TO nabd_ingest;
