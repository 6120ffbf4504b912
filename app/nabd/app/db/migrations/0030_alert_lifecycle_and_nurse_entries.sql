-- The analytics service (nabd.app.monitor, docs/analytics.md "Service"): the alert lifecycle in
-- the database, nurses' actions on alerts, nurses' NEWS2 entries, per-ward and per-patient alarm
-- limits, and what each tick measured.

-- ---- Alerts ------------------------------------------------------------------------------------
-- A silence is not a state: it expires by itself, and an alert can be acknowledged and silenced
-- at once. So `state` is raised (active, unacknowledged) / acknowledged / resolved, as on the
-- wire (nabd.contract.payloads.AlertState), and a silence is `silenced_until`.
ALTER TABLE alert DROP CONSTRAINT alert_state_check;
ALTER TABLE alert ADD CONSTRAINT alert_state_check
    CHECK (state IN ('raised', 'acknowledged', 'resolved'));

ALTER TABLE alert
    -- IEC 60601-1-8: a physiological alarm is about the patient, a technical one about the
    -- equipment (no data, sensor off, low battery, gateway offline).
    ADD COLUMN kind text NOT NULL DEFAULT 'physiological'
        CHECK (kind IN ('physiological', 'technical')),
    -- The highest priority the condition itself reached while open; `priority` adds escalation.
    ADD COLUMN condition_priority text
        CHECK (condition_priority IN ('low', 'medium', 'high', 'critical')),
    -- The condition has cleared, but a high-priority alert nobody acknowledged stays open.
    ADD COLUMN latched boolean NOT NULL DEFAULT false,
    ADD COLUMN silenced_until timestamptz,
    ADD COLUMN silenced_by text,
    -- Start of the escalation clock: raised, worsened, last escalated or silence ended.
    ADD COLUMN last_notified_at timestamptz,
    ADD COLUMN escalated_at timestamptz;

ALTER TABLE alert ADD CONSTRAINT alert_acknowledged_has_who
    CHECK (state <> 'acknowledged' OR (acknowledged_at IS NOT NULL AND acknowledged_by IS NOT NULL));
ALTER TABLE alert ADD CONSTRAINT alert_resolved_has_when
    CHECK (state <> 'resolved' OR resolved_at IS NOT NULL);
ALTER TABLE alert ADD CONSTRAINT alert_silence_has_who
    CHECK (silenced_until IS NULL OR silenced_by IS NOT NULL);

-- One open alert per patient and condition, whoever writes: a repeat is an update, never a row.
CREATE UNIQUE INDEX alert_one_open_idx ON alert (patient_id, condition) WHERE state <> 'resolved';

-- Nurses' actions, written by `nabd alerts ack|silence` in the same transaction as the alert
-- row's update and the audit entry. The analytics service feeds the pending ones (applied_at
-- NULL) into its lifecycle state at its next tick and marks them applied; both sides take the
-- same transaction-level advisory lock, so an action is either seen by a tick or waits for it.
CREATE TABLE alert_action (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id       uuid NOT NULL REFERENCES alert (id),
    action         text NOT NULL CHECK (action IN ('acknowledge', 'silence')),
    actor          text NOT NULL CHECK (actor ~ '^\S.{0,99}$'),
    at             timestamptz NOT NULL DEFAULT now(),
    silence_until  timestamptz,
    applied_at     timestamptz,
    CHECK ((action = 'silence') = (silence_until IS NOT NULL))
);
CREATE INDEX alert_action_pending_idx ON alert_action (id) WHERE applied_at IS NULL;
CREATE INDEX alert_action_alert_idx ON alert_action (alert_id);

-- ---- Nurses' entries for NEWS2 ----------------------------------------------------------------
-- Consciousness (ACVPU) and supplemental oxygen are observed by a nurse, not a wearable. Each
-- entry counts from observed_at until valid_until; after that the parameter is missing and the
-- NEWS2 score incomplete (never assumed normal).
CREATE TABLE nurse_entry (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id   text NOT NULL REFERENCES patient (id),
    parameter    text NOT NULL CHECK (parameter IN ('consciousness', 'supplemental_oxygen')),
    value        text NOT NULL,
    observed_at  timestamptz NOT NULL,
    valid_until  timestamptz NOT NULL,
    entered_by   text NOT NULL CHECK (entered_by ~ '^\S.{0,99}$'),
    entered_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_until > observed_at),
    CHECK (parameter <> 'consciousness' OR value IN ('A', 'C', 'V', 'P', 'U')),
    CHECK (parameter <> 'supplemental_oxygen' OR value IN ('air', 'oxygen'))
);
CREATE INDEX nurse_entry_valid_idx ON nurse_entry (valid_until);
CREATE INDEX nurse_entry_patient_idx ON nurse_entry (patient_id, parameter, observed_at DESC);

-- ---- Alarm limits per ward and per patient ----------------------------------------------------
-- Overrides of the defaults (nabd.analytics.limits.DEFAULT_LIMITS): a ward's row replaces the
-- default for its patients, a patient's row replaces the ward's. NULL keeps the limit it
-- overrides; +/-Infinity switches one off. Persistence and hysteresis stay the defaults'.
CREATE TABLE alarm_limit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ward_id     text REFERENCES ward (id),
    patient_id  text REFERENCES patient (id),
    metric      text NOT NULL
                CHECK (metric IN ('heart_rate', 'spo2', 'respiration_rate', 'systolic_bp',
                                  'body_temperature')),
    low         double precision CHECK (low <> 'NaN'),
    high        double precision CHECK (high <> 'NaN'),
    set_by      text NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((ward_id IS NULL) <> (patient_id IS NULL)),
    CHECK (low IS NULL OR high IS NULL OR low < high)
);
CREATE UNIQUE INDEX alarm_limit_ward_idx ON alarm_limit (ward_id, metric) WHERE ward_id IS NOT NULL;
CREATE UNIQUE INDEX alarm_limit_patient_idx ON alarm_limit (patient_id, metric)
    WHERE patient_id IS NOT NULL;

-- ---- What each tick measured (analytics_tick is 0010's) ---------------------------------------
ALTER TABLE analytics_tick
    ADD COLUMN samples         integer,  -- observations folded in by this tick
    ADD COLUMN events          integer,  -- alert transitions written
    ADD COLUMN detect_ms       real,     -- scoring and detectors
    ADD COLUMN store_ms        real,     -- the tick's transaction, to COMMIT
    ADD COLUMN handoff_lag_ms  real;     -- oldest hand-off commit folded in -> this tick's COMMIT

-- ---- Privileges ---------------------------------------------------------------------------------
GRANT SELECT, UPDATE (applied_at) ON alert_action TO nabd_analytics;
GRANT SELECT ON nurse_entry, alarm_limit TO nabd_analytics;

GRANT SELECT, INSERT ON alert_action TO nabd_clinical;
GRANT UPDATE (silenced_until, silenced_by) ON alert TO nabd_clinical;
GRANT SELECT, INSERT ON nurse_entry TO nabd_clinical;
GRANT SELECT, INSERT, UPDATE (low, high, set_by, set_at) ON alarm_limit TO nabd_clinical;

GRANT SELECT ON alert_action, nurse_entry, alarm_limit TO nabd_dashboards;

-- The service maps patient ids to its row indices in a temporary table on its own connection
-- (the database does the join; see nabd.app.monitor.source). 0001 revoked TEMPORARY from PUBLIC.
DO $$ BEGIN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO nabd_analytics', current_database());
END $$;
