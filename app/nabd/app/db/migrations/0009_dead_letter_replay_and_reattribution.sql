-- Operating on what ingest set aside (docs/ingest.md, "Dead letters" and "Re-attribution"):
-- dead letters are listed, replayed through the write path once their cause is fixed, and
-- deleted after a retention period; readings of devices that were assigned late move from
-- unattributed_observation to observation. Both run as the ingest login (the write path's own
-- role), so nabd_ingest gets exactly what they need and nothing more.

-- Why a message was refused, coarsely (the Prometheus label; nabd.ingest.validate.Category), so
-- operators can filter and replay by it. NULL for dead letters written before this migration.
ALTER TABLE dead_letter
    ADD COLUMN category        text,
    ADD COLUMN replayed_at     timestamptz,  -- a replay stored it (or found it stored): done
    ADD COLUMN replay_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN last_replay_at  timestamptz;
CREATE INDEX dead_letter_category_idx ON dead_letter (category, received_at);

-- Replay reads the raw bytes back and records the outcome (a new reason when it still fails);
-- retention deletes old dead letters. Ingest receives every raw message anyway, so reading them
-- back gives it nothing new; it still cannot change a message's bytes, topic or receipt time.
GRANT SELECT ON dead_letter TO nabd_ingest;
GRANT UPDATE (category, reason, field, replayed_at, replay_attempts, last_replay_at)
    ON dead_letter TO nabd_ingest;
GRANT DELETE ON dead_letter TO nabd_ingest;

-- Re-attribution reads the readings set aside and deletes them in the transaction that inserts
-- them into observation (INSERT there is granted since 0005).
GRANT SELECT, DELETE ON unattributed_observation TO nabd_ingest;

-- Dashboards see the new bookkeeping columns, never the payload.
GRANT SELECT (category, replayed_at, replay_attempts, last_replay_at) ON dead_letter
    TO nabd_dashboards;
