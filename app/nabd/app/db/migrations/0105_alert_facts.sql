-- What raised an alert, as data (nabd.contract.payloads.AlertFacts: the condition, the value and
-- its unit, the limit in force, the patient's usual value, how long it held, the devices or
-- parameters concerned), so that every reader renders it in its own user's language
-- (nabd.contract.alert_text). `message` stays: the default (English) rendering, for readers
-- that do not render facts and for alerts written before this column or by ingest's watchdog
-- (NULL facts). Nothing identifying goes in it.
ALTER TABLE alert ADD COLUMN facts jsonb CHECK (facts IS NULL OR jsonb_typeof(facts) = 'object');
