-- What ingest needs beyond 0003/0005: a place for readings nobody can be named for yet, and the
-- privileges of its write path.

-- Readings from a device that was assigned to no patient at the sample's time. They are kept,
-- never dropped (a nurse may assign the device late, an operator must see that a device streams
-- for nobody), but not in `observation`, whose patient_id is NOT NULL and which every clinical
-- view reads. Same identity as `observation`, so a re-sent reading is stored once here too.
CREATE TABLE unattributed_observation (
    time         timestamptz NOT NULL,  -- device time when the device has a clock, else receipt
    device_id    text NOT NULL,
    metric_id    smallint NOT NULL,
    seq          bigint NOT NULL,
    value        double precision,
    quality      text[] NOT NULL DEFAULT '{}',
    received_at  timestamptz NOT NULL,
    gateway_id   text NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (value IS NOT NULL OR 'unavailable' = ANY (quality))
);
SELECT create_hypertable('unattributed_observation', 'time', chunk_time_interval => interval '7 days');
CREATE UNIQUE INDEX unattributed_observation_identity_idx
    ON unattributed_observation (device_id, seq, metric_id, time);

-- Ingest writes by binary COPY; when a flush holds a reading that is stored already, it goes
-- through a temporary staging table and INSERT ... SELECT ... ON CONFLICT DO NOTHING instead,
-- which needs TEMPORARY on the database (0001 revoked it from PUBLIC).
DO $$ BEGIN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO nabd_ingest', current_database());
END $$;

GRANT INSERT ON unattributed_observation TO nabd_ingest;

-- Visible: dashboards list devices streaming for nobody; analytics may re-attribute later.
GRANT SELECT ON unattributed_observation TO nabd_dashboards, nabd_analytics;
