-- Extensions and the least-privilege group roles every other migration grants to.
--
-- Roles are cluster-wide while grants are per database, so roles are created only when missing
-- (several Nabd databases, e.g. one per test module, share one cluster). They are NOLOGIN groups:
-- a deployment creates login users and grants them membership (`nabd stack` does it locally).
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE EXTENSION IF NOT EXISTS btree_gist;  -- exclusion constraint on assignment intervals

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['nabd_ingest', 'nabd_analytics', 'nabd_dashboards', 'nabd_clinical']
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

-- Nothing is readable unless granted below; PUBLIC keeps only what PostgreSQL needs.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
DO $$ BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO nabd_ingest, nabd_analytics, nabd_dashboards, nabd_clinical',
                   current_database());
END $$;
GRANT USAGE ON SCHEMA public TO nabd_ingest, nabd_analytics, nabd_dashboards, nabd_clinical;
