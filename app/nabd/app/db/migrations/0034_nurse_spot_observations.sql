-- A nurse's spot observations count (issue 20 item 2): SpO2, pulse, blood pressure and
-- temperature measured at the bedside round, besides the counted respiratory rate (0033).
--
-- Many beds have no connected oximeter, cuff or thermometer: the nurse measures with the ward's
-- own and the value must reach NEWS2 (RCP NEWS2, 2017: the score is of the observations taken,
-- whoever took them). Each is a `nurse_entry` row: the catalogue key as `parameter`, the value as
-- text, `entered_by` the nurse, valid from `observed_at` until `valid_until`; the analytics
-- service scores it while valid and when it is the freshest value of its parameter (a device's
-- newer reading wins). A blood pressure is two rows of one transaction (same observed_at).
--
-- The value checks are the application's plausibility ranges (nabd.analytics.service.actions
-- MANUAL_RANGES, a local policy documented in docs/analytics.md), repeated here so that no other
-- writer stores a typo: whole numbers for SpO2 (50-100 %), pulse (20-250 /min) and blood pressure
-- (systolic 40-300, diastolic 20-200 mmHg), temperature in degrees Celsius with at most one
-- decimal (25.0-45.0).

-- CASE, not OR: PostgreSQL does not promise to evaluate OR's operands in order, and the cast of
-- another parameter's value ('A', 'air') or a malformed one would fail with an error instead of
-- the check.
ALTER TABLE nurse_entry DROP CONSTRAINT nurse_entry_parameter_check;
ALTER TABLE nurse_entry
    ADD CONSTRAINT nurse_entry_parameter_check
        CHECK (parameter IN ('consciousness', 'supplemental_oxygen', 'respiration_rate', 'spo2',
                             'pulse_rate', 'systolic_bp', 'diastolic_bp', 'body_temperature')),
    ADD CONSTRAINT nurse_entry_spo2_check
        CHECK (CASE WHEN parameter <> 'spo2' THEN true
                    WHEN value !~ '^[1-9][0-9]{1,2}$' THEN false
                    ELSE value::int BETWEEN 50 AND 100 END),
    ADD CONSTRAINT nurse_entry_pulse_rate_check
        CHECK (CASE WHEN parameter <> 'pulse_rate' THEN true
                    WHEN value !~ '^[1-9][0-9]{1,2}$' THEN false
                    ELSE value::int BETWEEN 20 AND 250 END),
    ADD CONSTRAINT nurse_entry_systolic_bp_check
        CHECK (CASE WHEN parameter <> 'systolic_bp' THEN true
                    WHEN value !~ '^[1-9][0-9]{1,2}$' THEN false
                    ELSE value::int BETWEEN 40 AND 300 END),
    ADD CONSTRAINT nurse_entry_diastolic_bp_check
        CHECK (CASE WHEN parameter <> 'diastolic_bp' THEN true
                    WHEN value !~ '^[1-9][0-9]{1,2}$' THEN false
                    ELSE value::int BETWEEN 20 AND 200 END),
    ADD CONSTRAINT nurse_entry_body_temperature_check
        CHECK (CASE WHEN parameter <> 'body_temperature' THEN true
                    WHEN value !~ '^[1-9][0-9](\.[0-9])?$' THEN false
                    ELSE value::numeric BETWEEN 25.0 AND 45.0 END);
