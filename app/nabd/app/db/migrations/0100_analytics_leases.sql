-- Analytics without a single point of failure (issue 22, item 1; docs/reliability.md
-- "Several analytics workers").
--
-- Several `nabd analytics run` workers split the wards between them. A worker owns a ward while
-- it holds that ward's row in `analytics_lease` and renews it (every tick, in the tick's own
-- transaction) before `expires_at`; every time is the database's clock (clock_timestamp()), so
-- the workers' clocks do not matter. A lease that has expired may be claimed by any worker: the
-- claim bumps `epoch`. A worker writes alerts only in a transaction whose renewal of
-- (ward, worker, epoch) matched, so a worker that hung and woke up after its ward was taken
-- finds its lease gone and writes nothing for that ward (fencing).
--
-- * `analytics_worker`: the live workers (a heartbeat per tick), to split wards fairly.
-- * `analytics_lease.ticked_at`: the ward's newest committed tick, read by ingest's watchdog
--   (migration 0045), which then raises `monitoring_interrupted` per ward.

CREATE TABLE analytics_worker (
    worker_id   text PRIMARY KEY CHECK (length(worker_id) BETWEEN 1 AND 200),
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at  timestamptz NOT NULL
);

CREATE TABLE analytics_lease (
    ward_id      text PRIMARY KEY REFERENCES ward (id) ON DELETE CASCADE,
    worker_id    text NOT NULL CHECK (length(worker_id) BETWEEN 1 AND 200),
    epoch        bigint NOT NULL CHECK (epoch > 0),
    acquired_at  timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ticked_at    timestamptz
);

GRANT SELECT, INSERT, UPDATE, DELETE ON analytics_worker, analytics_lease TO nabd_analytics;
GRANT SELECT ON analytics_lease TO nabd_ingest, nabd_dashboards;
