-- Row-level security per ward: a ward's dashboards see only that ward's patients.
--
-- Who may see a ward is decided by the database from the login itself, never from anything the
-- client sends (a session variable set by Grafana could be set to any ward by whoever holds the
-- login). `ward_viewer` maps a role to a ward; a login sees the wards of every mapped role it is
-- a member of (pg_has_role(current_user, ...)), so a ward may be mapped to one login per ward or
-- to a group of logins. Only the owner writes the mapping (`nabd db ward-viewer add`).
--
-- `nabd_ward_dashboards` is the role of those per-ward logins: the dashboards' SELECT grants on
-- the tables that carry patient data, each filtered by a policy.
--
-- Hypertables are the exception. TimescaleDB copies a hypertable's GRANTs to every chunk it
-- creates but not its row security, so a role allowed to read `observation` could read
-- `_timescaledb_internal._hyper_*_chunk` directly and see every ward. The per-ward role is
-- therefore granted nothing on the hypertables (`observation`, `news2_score`,
-- `unattributed_observation`): it reads them through security-barrier views of the same names
-- in the schema `nabd_ward`, first on its search_path (`nabd db ward-viewer add` sets it), which
-- filter with the same functions as the policies. The dashboards' SQL is unchanged.
--
-- Every other role that reads
-- these tables (ingest, analytics, clinical, FHIR, and the whole-hospital `nabd_dashboards` of
-- operators) has an explicit all-rows policy: enabling RLS without one would silently hide every
-- row from it. The owner is not subject to RLS (no FORCE): it runs migrations and admin commands.
-- tests/security/test_ward_rls.py checks that every role with a privilege on a table under RLS
-- is named by one of its policies, so a new role cannot be forgotten.

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nabd_ward_dashboards') THEN
        CREATE ROLE nabd_ward_dashboards NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO nabd_ward_dashboards', current_database());
END $$;
GRANT USAGE ON SCHEMA public TO nabd_ward_dashboards;

CREATE TABLE ward_viewer (
    role_name  text NOT NULL,
    ward_id    text NOT NULL REFERENCES ward (id),
    added_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role_name, ward_id)
);

-- The wards the current login may see. SECURITY INVOKER (the default), so current_user is the
-- querying role; a mapped role that was dropped is simply ignored (pg_has_role on a missing name
-- would raise and break every query).
CREATE FUNCTION nabd_viewer_wards() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT v.ward_id FROM ward_viewer v JOIN pg_roles r ON r.rolname = v.role_name
    WHERE pg_has_role(current_user, r.oid, 'MEMBER')
$$;

-- The patients of those wards (past and present: a discharged patient's history stays visible).
CREATE FUNCTION nabd_viewer_patients() RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT p.id FROM patient p WHERE p.ward_id IN (SELECT nabd_viewer_wards())
$$;

REVOKE ALL ON FUNCTION nabd_viewer_wards(), nabd_viewer_patients() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nabd_viewer_wards(), nabd_viewer_patients() TO nabd_ward_dashboards;
GRANT SELECT ON ward_viewer TO nabd_ward_dashboards;

-- What a ward's dashboards read (docs/dashboards.md), minus the operators' tables that carry
-- no ward (dead letters, ingested batches, the hand-off journal that lists patient ids).
GRANT SELECT ON ward, patient, gateway, device, device_assignment, metric,
                observation_latest, alert, alert_action, nurse_entry, alarm_limit,
                ingest_health, analytics_tick
    TO nabd_ward_dashboards;

-- Every role but the per-ward one sees every row, as before this migration.
DO $$
DECLARE
    t text;
    everyone text;
BEGIN
    FOREACH t IN ARRAY ARRAY['ward', 'patient', 'gateway', 'device', 'device_assignment',
                             'observation_latest', 'alert', 'alert_action', 'nurse_entry',
                             'alarm_limit']
    LOOP
        SELECT string_agg(quote_ident(r), ', ') INTO everyone
        FROM unnest(ARRAY['nabd_ingest', 'nabd_analytics', 'nabd_dashboards', 'nabd_clinical',
                          'nabd_fhir']) AS r
        WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY all_rows ON %I TO %s USING (true) WITH CHECK (true)',
                       t, everyone);
    END LOOP;
END
$$;

CREATE POLICY own_wards ON ward FOR SELECT TO nabd_ward_dashboards
    USING (id IN (SELECT nabd_viewer_wards()));
CREATE POLICY own_wards ON patient FOR SELECT TO nabd_ward_dashboards
    USING (ward_id IN (SELECT nabd_viewer_wards()));
CREATE POLICY own_wards ON gateway FOR SELECT TO nabd_ward_dashboards
    USING (ward_id IN (SELECT nabd_viewer_wards()));
CREATE POLICY own_wards ON device FOR SELECT TO nabd_ward_dashboards
    USING (gateway_id IN (SELECT g.id FROM gateway g WHERE g.ward_id IN (SELECT nabd_viewer_wards())));
CREATE POLICY own_wards ON alarm_limit FOR SELECT TO nabd_ward_dashboards
    USING (ward_id IN (SELECT nabd_viewer_wards())
           OR patient_id IN (SELECT nabd_viewer_patients()));
CREATE POLICY own_wards ON alert_action FOR SELECT TO nabd_ward_dashboards
    USING (alert_id IN (SELECT a.id FROM alert a
                        WHERE a.patient_id IN (SELECT nabd_viewer_patients())));

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['device_assignment', 'observation_latest', 'alert', 'nurse_entry']
    LOOP
        EXECUTE format('CREATE POLICY own_wards ON %I FOR SELECT TO nabd_ward_dashboards'
                       ' USING (patient_id IN (SELECT nabd_viewer_patients()))', t);
    END LOOP;
END
$$;

-- The hypertables, for the per-ward role only: owned by the owner (who is not subject to RLS),
-- so the WHERE clause is the filter; security_barrier keeps a caller's functions from seeing
-- rows before it. current_user inside a view is still the caller.
CREATE SCHEMA nabd_ward;
REVOKE ALL ON SCHEMA nabd_ward FROM PUBLIC;
GRANT USAGE ON SCHEMA nabd_ward TO nabd_ward_dashboards;
CREATE VIEW nabd_ward.observation WITH (security_barrier) AS
    SELECT * FROM public.observation WHERE patient_id IN (SELECT nabd_viewer_patients());
CREATE VIEW nabd_ward.news2_score WITH (security_barrier) AS
    SELECT * FROM public.news2_score WHERE patient_id IN (SELECT nabd_viewer_patients());
CREATE VIEW nabd_ward.unattributed_observation WITH (security_barrier) AS
    SELECT * FROM public.unattributed_observation
    WHERE gateway_id IN (SELECT g.id FROM gateway g WHERE g.ward_id IN (SELECT nabd_viewer_wards()));
GRANT SELECT ON nabd_ward.observation, nabd_ward.news2_score, nabd_ward.unattributed_observation
    TO nabd_ward_dashboards;
