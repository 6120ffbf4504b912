-- Analytics finds each flush's observations by the flush's `ingested_at` (0007, 0141). The BRIN
-- index of 0141 answers only for page ranges autovacuum has summarised, and autovacuum runs on a
-- database once per `autovacuum_naptime` (a minute by default): every range filled since is
-- returned whole for every lookup (PostgreSQL: "BRIN Indexes", 71.1.1 Index Maintenance). At
-- 3 000 beds (12 000 readings a second, bench/capacity.py with pg_stat_statements) that was about
-- 14 000 pages read per analytics fetch, 47 ms a fetch for ~12 000 rows: the largest statement
-- of the whole server, ahead of ingest's own writes, and growing with any lag.
--
-- A B-tree finds exactly the flush's rows. `ingested_at` only grows (one value per flush), so
-- inserts go to the rightmost leaf and deduplication (PostgreSQL 13+) stores each flush's value
-- once: cheap to maintain, small to keep.
CREATE INDEX observation_ingested_at_idx ON observation (ingested_at);
DROP INDEX observation_ingested_brin;

-- Two flushes share an `ingested_at` only if their transactions began in the same microsecond;
-- analytics then checks those entries' rows against their patients, and finds out whether an
-- entry shares its `ingested_at` through this index (nabd.analytics.service.source).
CREATE INDEX observation_commit_ingested_idx ON observation_commit (ingested_at);
