-- observation's unique index (device_id, seq, metric_id, time) (0003) is redundant since 0042:
-- ingest stores a reading only after registering its identity in reading_identity, in the same
-- transaction (the fast path's COPY into reading_identity fails first; the slow path inserts only
-- the rows whose identity its INSERT ... RETURNING registered), and re-attribution moves a row
-- whose identity is registered already. Maintaining it cost about what reading_identity costs
-- (a B-tree entry per reading, measured on the ingest login's backend: docs/ingest.md#benchmark).
-- unattributed_observation keeps its index: re-attribution finds a device's rows by it, and the
-- table is small.
--
-- A reading re-sent before 0042 may be in both tables with one identity and time (stored for
-- nobody, then again for its patient once an assignment existed); re-attribution relied on this
-- index to store it once. The copy in observation stays; the one in unattributed_observation is
-- what re-attribution would have deleted.
DELETE FROM unattributed_observation u
USING observation o
WHERE (o.device_id, o.seq, o.metric_id, o.time) = (u.device_id, u.seq, u.metric_id, u.time);

DROP INDEX observation_identity_idx;
