-- An alert's sentence in every language Nabd speaks, for readers that cannot render its facts
-- (the Grafana dashboards, which only run SQL): `messages` maps a language (`fr`, `en`, `ar`)
-- to `nabd.contract.alert_text.render(facts, lang)`, written by whoever writes `facts`
-- (analytics at raise and worsen, ingest's watchdog at raise), in the same statement, so it is
-- never out of step with them. A dashboard reads `coalesce(messages ->> 'fr', message)`.
--
-- Why stored, not rendered in SQL: one renderer. The sentences, their number formats (decimal
-- comma in French, one decimal for some units), units as printed and durations live in Python
-- (nabd.contract.alert_text, shared with the nurse station); a SQL copy would drift from it.
-- Why a column, not a side table keyed by alert and language: it is written with the row, read
-- without a join, and inherits the alert's grants, its per-ward row-level security (0040) and
-- its retention, with no policy of its own to keep in step.
--
-- Alerts written before this migration keep NULL here (SQL cannot render facts): the dashboards
-- show their stored English `message`. Analytics fills `messages` of the open ones that have
-- facts when it restores them (its next start), or when it worsens one; resolved alerts, and
-- watchdog alerts from before this migration (no facts), keep their English.
ALTER TABLE alert ADD COLUMN messages jsonb
    CHECK (messages IS NULL OR jsonb_typeof(messages) = 'object');
