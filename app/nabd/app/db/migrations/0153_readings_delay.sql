-- Readings that arrive late are one fact about the pipeline, not one alarm per patient
-- (issue 22; docs/reliability.md "Overload: readings arrive late").
--
-- On an overloaded server every reading reached analytics 17-60 s after it was taken
-- (bench/capacity.py, eighth session): every continuous metric looked silent for longer than its
-- 10 s, and every patient got a `stale_data` alert at once, 6 000 of them, for what was one slow
-- server. Analytics now measures how late the freshest readings it is given arrive
-- (nabd.analytics.service.readings_delay) and, while that delay is above its threshold, judges a
-- patient's silence beyond it. It writes the delay with each tick:
--
-- * `analytics_lease.readings_delay_s`: per ward, stamped by the owner's tick with `ticked_at`;
--   NULL while readings arrive on time. The nurse station shows one line for the ward: the
--   readings, and so the alarms, are that late.
-- * `analytics_tick.readings_delay_ms`: the same per tick, for the pipeline dashboard and
--   benchmarks; NULL when not delayed (and in rows written before this migration).
ALTER TABLE analytics_lease ADD COLUMN readings_delay_s real CHECK (readings_delay_s >= 0);
ALTER TABLE analytics_tick ADD COLUMN readings_delay_ms real CHECK (readings_delay_ms >= 0);

-- The station reads, for the wards its nurse may see, only whether and how late readings arrive
-- and when the ward was last scored: no patient data.
GRANT SELECT (ward_id, ticked_at, readings_delay_s) ON analytics_lease TO nabd_station;
