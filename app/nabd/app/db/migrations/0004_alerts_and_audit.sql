-- Alerts nurses act on, and the append-only, hash-chained audit log of clinical actions.

CREATE TABLE alert (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id        text NOT NULL REFERENCES patient (id),
    condition         text NOT NULL,  -- e.g. news2_high, spo2_low, atrial_fibrillation, sensor_off
    priority          text NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    state             text NOT NULL DEFAULT 'raised'
                      CHECK (state IN ('raised', 'acknowledged', 'silenced', 'resolved')),
    metric_id         smallint REFERENCES metric (id),
    message           text NOT NULL,
    raised_at         timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    acknowledged_at   timestamptz,
    acknowledged_by   text,
    resolved_at       timestamptz,
    escalation_level  smallint NOT NULL DEFAULT 0
);
CREATE INDEX alert_open_idx ON alert (priority, raised_at) WHERE state <> 'resolved';
CREATE INDEX alert_patient_idx ON alert (patient_id, raised_at DESC);

-- Append-only: rows are never updated or deleted (a trigger refuses it, whoever asks), and each
-- row's hash covers the previous row's hash, so a change to any past row breaks the chain.
-- The chain is computed here, under a lock, so every writer produces a valid chain.
CREATE SEQUENCE audit_log_seq;
CREATE TABLE audit_log (
    seq        bigint PRIMARY KEY,        -- set by the trigger, under the chain lock
    at         timestamptz NOT NULL,      -- set by the trigger: the writer cannot backdate
    actor      text NOT NULL,
    action     text NOT NULL,  -- acknowledge, silence, threshold_change, device_assignment, ...
    subject    text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}',
    prev_hash  bytea NOT NULL,
    hash       bytea NOT NULL UNIQUE
);

CREATE FUNCTION audit_log_row_digest(prev bytea, seq bigint, at timestamptz, actor text,
                                     action text, subject text, details jsonb)
RETURNS bytea LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT sha256(prev || convert_to(
        concat_ws(E'\x1f', seq::text,
                  to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                  actor, action, subject, details::text), 'UTF8'))
$$;

CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Serialise writers until commit, and number rows only once the lock is held, so that the
    -- order of seq is the order of the chain.
    PERFORM pg_advisory_xact_lock(hashtext('nabd.audit_log'));
    NEW.seq := nextval('audit_log_seq');
    NEW.at := clock_timestamp();
    SELECT hash INTO NEW.prev_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
    NEW.prev_hash := coalesce(NEW.prev_hash, '\x'::bytea);
    NEW.hash := audit_log_row_digest(NEW.prev_hash, NEW.seq, NEW.at, NEW.actor, NEW.action,
                                     NEW.subject, NEW.details);
    RETURN NEW;
END
$$;

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
