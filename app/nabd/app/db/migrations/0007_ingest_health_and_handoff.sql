-- Ingest's pipeline health (for the dashboards) and the hand-off of committed observations to
-- analytics (a commit-ordered journal plus NOTIFY).

-- One row per ingest worker, rewritten in its flush transactions and by a heartbeat when idle.
-- Counters are totals since `started_at` (a restart resets them); rates come from Prometheus.
-- A row whose updated_at is old belongs to a worker that is down or stuck.
CREATE TABLE ingest_health (
    worker_id           text PRIMARY KEY CHECK (worker_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    started_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    mqtt_connected      boolean NOT NULL,
    pending_messages    integer NOT NULL,   -- received, not yet committed (not yet acknowledged)
    messages            bigint NOT NULL,    -- committed: stored, duplicate or dead-lettered
    batches             bigint NOT NULL,    -- new batches stored
    duplicate_batches   bigint NOT NULL,    -- batches already stored (re-delivered or re-sent)
    rows_stored         bigint NOT NULL,    -- into observation
    rows_unattributed   bigint NOT NULL,    -- into unattributed_observation
    dead_letters        bigint NOT NULL,
    flushes             bigint NOT NULL,
    db_errors           bigint NOT NULL,    -- failed flush attempts (retried, nothing acknowledged)
    last_flush_at       timestamptz,
    last_flush_seconds  double precision,
    last_lag_seconds    double precision    -- newest sample of a batch to its commit, worst of the flush
);
GRANT SELECT, INSERT, UPDATE ON ingest_health TO nabd_ingest;
GRANT SELECT ON ingest_health TO nabd_dashboards, nabd_analytics;

-- The hand-off journal: one row per flush that stored observations, numbered in COMMIT order.
-- `seq` comes from the single counter row, updated as the flush transaction's last statement:
-- the row lock is held until COMMIT, so a transaction can take number n+1 only after n is
-- visible, and a reader that has seen n can never later find a smaller number appear. The rows
-- of entry n are the observations with ingested_at = n.ingested_at (the flush transaction's
-- now()) for its patients between first_time and last_time.
CREATE TABLE observation_commit_counter (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq  bigint NOT NULL
);
INSERT INTO observation_commit_counter (one, seq) VALUES (true, 0);

CREATE TABLE observation_commit (
    seq           bigint PRIMARY KEY,
    worker_id     text NOT NULL,
    ingested_at   timestamptz NOT NULL,
    committed_at  timestamptz NOT NULL,
    rows_stored   integer NOT NULL CHECK (rows_stored > 0),
    patients      text[] NOT NULL,
    first_time    timestamptz NOT NULL,
    last_time     timestamptz NOT NULL
);
CREATE INDEX observation_commit_committed_idx ON observation_commit (committed_at);

GRANT SELECT, UPDATE ON observation_commit_counter TO nabd_ingest;
GRANT SELECT, INSERT, DELETE ON observation_commit TO nabd_ingest;  -- DELETE: retention
GRANT SELECT ON observation_commit TO nabd_analytics, nabd_dashboards;
