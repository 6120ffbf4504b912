-- What the analytics service writes for the dashboards: every patient's NEWS2 score over time,
-- and one row per analytics tick (pipeline health). docs/dashboards.md is the contract.
--
-- Row-level security per ward (a nurse sees only her ward's patients) is a later issue: until
-- then the nabd_dashboards role reads every ward, and Grafana's folder permissions are the only
-- separation.

-- One row per patient per scoring instant. Sub-scores are -1 where the parameter was missing
-- (nabd.analytics.news2.MISSING), never 0; `total` then sums only the parameters present and is
-- a lower bound, so `complete` must always be shown with it. No foreign key to patient, as on
-- observation: a tick writes every patient at once and must not take row locks on the registry.
CREATE TABLE news2_score (
    time              timestamptz NOT NULL,  -- the instant the score describes (the tick)
    patient_id        text NOT NULL,
    total             smallint NOT NULL CHECK (total BETWEEN 0 AND 20),
    risk              text NOT NULL CHECK (risk IN ('low', 'low-medium', 'medium', 'high')),
    complete          boolean NOT NULL,
    scale2            boolean NOT NULL,      -- the SpO2 scale used, which RCP asks to store
    respiration_rate  smallint NOT NULL CHECK (respiration_rate BETWEEN -1 AND 3),
    spo2              smallint NOT NULL CHECK (spo2 BETWEEN -1 AND 3),
    air_or_oxygen     smallint NOT NULL CHECK (air_or_oxygen IN (-1, 0, 2)),
    systolic_bp       smallint NOT NULL CHECK (systolic_bp BETWEEN -1 AND 3),
    heart_rate        smallint NOT NULL CHECK (heart_rate BETWEEN -1 AND 3),
    consciousness     smallint NOT NULL CHECK (consciousness IN (-1, 0, 3)),
    temperature       smallint NOT NULL CHECK (temperature BETWEEN -1 AND 3),
    -- The arithmetic of Chart 1 holds in every row: a writer bug cannot store a wrong total.
    CHECK (total = greatest(respiration_rate, 0) + greatest(spo2, 0) + greatest(air_or_oxygen, 0)
                 + greatest(systolic_bp, 0) + greatest(heart_rate, 0)
                 + greatest(consciousness, 0) + greatest(temperature, 0)),
    CHECK (complete = (least(respiration_rate, spo2, air_or_oxygen, systolic_bp, heart_rate,
                             consciousness, temperature) >= 0))
);
SELECT create_hypertable('news2_score', 'time', chunk_time_interval => interval '7 days');
-- "Newest score of each patient" (ward overview) and "one patient's scores over time" (trend);
-- unique, so a tick written twice (a retry after a lost commit) is stored once.
CREATE UNIQUE INDEX news2_score_patient_time_idx ON news2_score (patient_id, time DESC);

-- One row per analytics tick: when it started, how long scoring took, how many patients.
CREATE TABLE analytics_tick (
    time         timestamptz NOT NULL,
    duration_ms  real NOT NULL CHECK (duration_ms >= 0),
    patients     integer NOT NULL CHECK (patients >= 0)
);
SELECT create_hypertable('analytics_tick', 'time', chunk_time_interval => interval '7 days');

GRANT SELECT, INSERT ON news2_score, analytics_tick TO nabd_analytics;
GRANT SELECT ON news2_score, analytics_tick TO nabd_dashboards;
GRANT SELECT ON news2_score TO nabd_clinical;
