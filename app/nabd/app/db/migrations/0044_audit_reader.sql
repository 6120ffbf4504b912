-- The audit checkpoint writer's role (`nabd audit checkpoint`, docs/security.md): it reads the
-- audit log and nothing else, so the host that holds the signing key never holds a login that
-- can write clinical data or rewrite the chain.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nabd_audit') THEN
        CREATE ROLE nabd_audit NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO nabd_audit', current_database());
END $$;
GRANT USAGE ON SCHEMA public TO nabd_audit;
GRANT SELECT ON audit_log TO nabd_audit;
