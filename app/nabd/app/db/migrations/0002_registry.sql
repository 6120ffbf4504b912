-- Who and what: wards, patients (pseudonymous), their identities (kept apart), gateways, devices,
-- and which device measures which patient when.

CREATE TABLE ward (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Everything outside the identity schema knows a patient only by this pseudonymous id.
CREATE TABLE patient (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    ward_id       text NOT NULL REFERENCES ward (id),
    news2_scale2  boolean NOT NULL DEFAULT false,  -- set by a clinician (hypercapnic resp. failure)
    admitted_at   timestamptz NOT NULL DEFAULT now(),
    discharged_at timestamptz
);
CREATE INDEX patient_ward_idx ON patient (ward_id);

-- Identity lives in its own schema that only the clinical role may read: dashboards, ingest and
-- analytics never see a name, and nothing on the wire carries one.
CREATE SCHEMA identity;
REVOKE ALL ON SCHEMA identity FROM PUBLIC;
CREATE TABLE identity.patient_identity (
    patient_id   text PRIMARY KEY REFERENCES patient (id),
    mrn          text NOT NULL UNIQUE,  -- the hospital's medical record number
    given_name   text NOT NULL,
    family_name  text NOT NULL,
    birth_date   date
);

CREATE TABLE gateway (
    id             text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    ward_id        text REFERENCES ward (id),
    registered_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    last_status    text CHECK (last_status IN ('online', 'offline')),
    last_seen_at   timestamptz
);

CREATE TABLE device (
    id             text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    gateway_id     text NOT NULL REFERENCES gateway (id),
    kind           text NOT NULL,  -- heart_rate, pulse_oximeter, thermometer, ...
    manufacturer   text,
    model          text,
    serial         text,
    firmware       text,
    registered_at  timestamptz NOT NULL DEFAULT now(),
    battery_level  real,
    last_seen_at   timestamptz
);
CREATE INDEX device_gateway_idx ON device (gateway_id);

-- A device measures at most one patient at a time; history is kept, never overwritten.
CREATE TABLE device_assignment (
    device_id   text NOT NULL REFERENCES device (id),
    patient_id  text NOT NULL REFERENCES patient (id),
    valid       tstzrange NOT NULL CHECK (NOT isempty(valid)),
    assigned_by text NOT NULL,
    PRIMARY KEY (device_id, valid),
    EXCLUDE USING gist (device_id WITH =, valid WITH &&)
);
CREATE INDEX device_assignment_patient_idx ON device_assignment (patient_id);
