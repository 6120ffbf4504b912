-- A reading's identity, (device_id, seq, metric_id), held once (docs/contract.md: "the database
-- stores it once"). The hypertables cannot hold it: TimescaleDB needs the partitioning column in
-- every unique index, so observation_identity_idx is (device_id, seq, metric_id, time) and the
-- same reading sent again with another time was stored twice, with different values (issue 17).
-- This plain table has the real unique constraint. Ingest writes the identities of a flush in
-- the same transaction as its rows and stores only readings whose identity is new, or known with
-- the same time (a re-sent copy, skipped by the hypertable's own index); a reading whose identity
-- is known with another time is not stored again (nabd.ingest.writer, nabd.ingest.staging).
--
-- `time` is the time of the reading stored under the identity: where to find it, and what a
-- retention policy on the hypertables would prune here too (none is installed today).
CREATE TABLE reading_identity (
    device_id  text NOT NULL,
    seq        bigint NOT NULL,
    metric_id  smallint NOT NULL,
    time       timestamptz NOT NULL,
    PRIMARY KEY (device_id, seq, metric_id)
);

-- The readings stored so far; an identity stored twice already keeps its earliest time (which of
-- the two arrived first is not recorded).
INSERT INTO reading_identity (device_id, seq, metric_id, time)
SELECT DISTINCT ON (device_id, seq, metric_id) device_id, seq, metric_id, time
FROM (SELECT device_id, seq, metric_id, time FROM observation
      UNION ALL
      SELECT device_id, seq, metric_id, time FROM unattributed_observation) AS stored
ORDER BY device_id, seq, metric_id, time;

GRANT SELECT, INSERT ON reading_identity TO nabd_ingest;
