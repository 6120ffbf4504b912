-- Patients at home (issue 21, docs/home-monitoring.md): admission without a bed, the home
-- gateway that carries their devices' readings, and their care plan.
--
-- A home patient is admitted to a **remote-monitoring ward**: an ordinary `ward` row that stands
-- for the remote-monitoring team (e.g. `remote-hf`), so the per-ward row security of 0040, the
-- per-ward dashboards and FHIR tokens, alert routing by ward and the nurse station's ward scope
-- all apply unchanged: the remote nurse of that team sees its patients and no ward's.

-- ---- Home gateway -----------------------------------------------------------------------------
-- The gateway at the patient's home plays the part of a bed's gateway: devices assigned to the
-- patient are registered to it. A patient has a bed or a home gateway, not both; a home gateway
-- serves one admitted patient at a time.
ALTER TABLE patient ADD COLUMN home_gateway_id text REFERENCES gateway (id);
ALTER TABLE patient ADD CONSTRAINT patient_bed_or_home
    CHECK (bed_id IS NULL OR home_gateway_id IS NULL);
CREATE UNIQUE INDEX patient_home_gateway_idx ON patient (home_gateway_id)
    WHERE discharged_at IS NULL AND home_gateway_id IS NOT NULL;
GRANT UPDATE (home_gateway_id) ON patient TO nabd_care;

-- ---- Care plans -------------------------------------------------------------------------------
-- One current plan per admission: the JSON of nabd.contract.careplan.CarePlan (validated by that
-- model before it is written: the database only checks the shape it indexes). Every change is
-- appended to the audit log by nabd.care as who, when, why and old -> new JSON, so this table
-- holds only the current plan (and when the first was set). `programmes` repeats the plan's list for dashboards and reports.
CREATE TABLE care_plan (
    patient_id  text PRIMARY KEY REFERENCES patient (id),
    plan        jsonb NOT NULL CHECK (jsonb_typeof(plan) = 'object'),
    programmes  text[] NOT NULL CHECK (cardinality(programmes) >= 1),
    version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    -- When the patient was first put on a plan (kept by later changes): scheduled measurements
    -- before it are not counted as missed.
    started_at  timestamptz NOT NULL DEFAULT now(),
    set_at      timestamptz NOT NULL DEFAULT now(),
    set_by      text NOT NULL,
    reason      text
);

GRANT SELECT, INSERT, UPDATE ON care_plan TO nabd_care;
GRANT SELECT ON care_plan TO nabd_analytics, nabd_dashboards, nabd_clinical, nabd_fhir,
    nabd_ward_dashboards;

ALTER TABLE care_plan ENABLE ROW LEVEL SECURITY;
CREATE POLICY all_rows ON care_plan
    TO nabd_analytics, nabd_dashboards, nabd_clinical, nabd_fhir, nabd_care
    USING (true) WITH CHECK (true);
CREATE POLICY own_wards ON care_plan FOR SELECT TO nabd_ward_dashboards
    USING (patient_id IN (SELECT nabd_viewer_patients()));
