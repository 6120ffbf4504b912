-- Analytics reads each flush's observations through the hand-off journal: entry n names the
-- flush's patients, its sample-time span and its transaction's `ingested_at`, and the rows are
-- the observations with that `ingested_at` (0007). With no index on `ingested_at`, PostgreSQL
-- found them through `observation_patient_metric_time_idx` (every row of each named patient
-- since midnight, the time being its third column) or by scanning the day's chunk: the cost of
-- a tick grew with the hours of the day. Measured at 1 000 beds with 12 minutes of the day
-- stored: 220 ms per tick (5 entries) instead of 21 ms, and growing; a day would have stopped
-- analytics (bench/capacity.py's 5-minute holds could not show it).
--
-- Rows are appended in `ingested_at` order, so a BRIN index (the smallest and value range of each
-- run of 128 pages) finds a flush's pages at almost no cost to inserts. `autosummarize` has
-- autovacuum summarise each run of pages as soon as it is full: a range not summarised yet would
-- be read whole for every entry (PostgreSQL: "BRIN Indexes", 71.1.1 Index Maintenance).
CREATE INDEX observation_ingested_brin ON observation USING brin (ingested_at)
    WITH (autosummarize = on);
