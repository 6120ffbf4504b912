-- Analytics' registry read (nabd.analytics.service.source, every 5 s) asked
-- consent_collection_periods once per admitted patient: a SECURITY DEFINER function PostgreSQL
-- cannot inline, so three sub-queries per patient. At 7 000 beds it took 207 ms of the read's
-- 224 ms on a quiet server, 578 ms under the capacity benchmark's load (bench/capacity.py with
-- pg_stat_statements): the second costliest statement of the whole server.
-- consent_restricted_periods (0050) answers for a list of patients at once and returns only those
-- not collected at every instant (the usual case costs one index probe per patient); ingest
-- already uses it. Analytics may now too. It learns nothing more than before: the periods, never
-- who collected what.
GRANT EXECUTE ON FUNCTION consent_restricted_periods(text[]) TO nabd_analytics;
