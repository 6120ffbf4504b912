-- observation_latest is rewritten all the time: one UPDATE per (patient, metric) per flush,
-- about 12 000 a second at 3 000 beds (bench/capacity.py), where it was the ingest writer's
-- largest single statement. Its only index is the primary key and no update changes a key
-- column, so every update can be a heap-only tuple (HOT: no index entry, less WAL, pruned in
-- place) provided the row's page has room for the new version. With the default fillfactor
-- (100) pages fill up and updates spill to other pages with a new index entry each. Half-empty
-- pages keep the new versions on the same page; the table stays small (one row per patient and
-- metric), so the space costs nothing. New pages follow the setting; existing ones as they are
-- rewritten (PostgreSQL: "Storage Parameters", fillfactor; "Heap-Only Tuples").
ALTER TABLE observation_latest SET (fillfactor = 50);
