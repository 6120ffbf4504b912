-- The nurse station (`nabd web run`, docs/station.md): people who sign in, and their sessions.
--
-- Each station user has her own NOLOGIN role (`db_role`), a member of `nabd_ward_dashboards`,
-- mapped in `ward_viewer` to the wards she works on. The station's login (group `nabd_station`)
-- is granted each such role, and every page reads under `SET LOCAL ROLE <db_role>`: the per-ward
-- row-level security of 0040 decides what she sees, not the station's code. Writes (acknowledge,
-- silence, a nurse's entry) check visibility the same way, then run as `nabd_clinical`, audited
-- with her name. Only the owner creates users (`nabd web user add`), since that creates a role.

CREATE TABLE station_user (
    name           text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    display_name   text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    role           text NOT NULL CHECK (role IN ('nurse', 'charge_nurse', 'admin')),
    password_hash  text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    lang           text NOT NULL DEFAULT 'fr' CHECK (lang IN ('fr', 'en', 'ar')),
    sees_identity  boolean NOT NULL DEFAULT false,
    db_role        text NOT NULL UNIQUE,
    failed_logins  integer NOT NULL DEFAULT 0,
    locked_until   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    disabled_at    timestamptz
);

-- A session is known to the server only by the SHA-256 of its cookie: a database dump does not
-- let anyone sign in as a nurse.
CREATE TABLE station_session (
    token_sha256  bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    user_name     text NOT NULL REFERENCES station_user (name) ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX station_session_user_idx ON station_session (user_name);

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nabd_station') THEN
        CREATE ROLE nabd_station NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO nabd_station', current_database());
END $$;
GRANT USAGE ON SCHEMA public TO nabd_station;
-- Nurses' actions are the clinical role's (alerts, nurse entries, audit), and identities for
-- the users allowed them.
GRANT nabd_clinical TO nabd_station;
GRANT SELECT ON station_user TO nabd_station;
GRANT UPDATE (failed_logins, locked_until) ON station_user TO nabd_station;
GRANT SELECT, INSERT, UPDATE (last_seen_at), DELETE ON station_session TO nabd_station;
GRANT USAGE ON SCHEMA nabd_ward TO nabd_station;
