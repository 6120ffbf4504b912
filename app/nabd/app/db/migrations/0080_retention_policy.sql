-- Retention as policy (`nabd privacy retention`, docs/privacy.md): one period per data class,
-- applied by `nabd privacy retention apply` (chunk drops for hypertables, batched DELETEs for
-- plain tables), and a way to remove the oldest audit_log rows without breaking its chain.
--
-- Which tables belong to which class, and the floors below which a period is refused, are the
-- code's (nabd.app.privacy.retention): this table only records what the hospital decided. No
-- row for a class: nothing of it is ever deleted by the policy (the default). `days` NULL: kept
-- for ever, decided explicitly. Only the owner reads or writes it (no grant): it runs the apply.
CREATE TABLE retention_policy (
    data_class  text PRIMARY KEY CHECK (data_class ~ '^[a-z][a-z0-9_]{0,62}$'),
    days        integer CHECK (days BETWEEN 1 AND 36500),
    set_by      text NOT NULL CHECK (set_by ~ '^\S.{0,99}$'),
    set_at      timestamptz NOT NULL DEFAULT now()
);

-- Every change is audited in the chain, whoever writes it (the command, psql), as 0041 does for
-- alarm limits: the actor is the row's set_by, the database login is in the details.
CREATE FUNCTION audit_retention_policy() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO audit_log (actor, action, subject, details) VALUES (
        CASE WHEN TG_OP = 'DELETE' THEN session_user::text ELSE NEW.set_by END,
        'retention_set',
        'retention:' || CASE WHEN TG_OP = 'DELETE' THEN OLD.data_class ELSE NEW.data_class END,
        jsonb_build_object(
            'op', lower(TG_OP), 'login', session_user::text,
            'days_before', CASE WHEN TG_OP <> 'INSERT' THEN OLD.days END,
            'days', CASE WHEN TG_OP <> 'DELETE' THEN NEW.days END));
    RETURN NULL;
END
$$;
CREATE TRIGGER retention_policy_audit AFTER INSERT OR UPDATE OR DELETE ON retention_policy
    FOR EACH ROW EXECUTE FUNCTION audit_retention_policy();
REVOKE ALL ON FUNCTION audit_retention_policy() FROM PUBLIC;

-- ---- The audit log's own retention ---------------------------------------------------------
-- audit_log stays append-only (0004) for every statement but one: a DELETE of rows up to the seq
-- named in the transaction-local setting nabd.audit_prune_through, which only audit_log_prune()
-- below sets. Nobody but the owner holds DELETE on audit_log, so nobody else reaches this
-- trigger; it keeps the owner (and psql mistakes) from deleting anything else. UPDATE and
-- TRUNCATE are still refused.
CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.seq <= coalesce(
               nullif(current_setting('nabd.audit_prune_through', true), '')::bigint, -1) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Remove the rows up to `through` (a prefix of the chain: seq order is chain order) and append,
-- in the same transaction, an `audit_log_pruned` entry naming the last removed row's seq and hash
-- and how many rows the log has lost since its first row. `nabd audit verify` starts the chain
-- from that entry's head: the first kept row must link to it, and the row counts of signed
-- checkpoints after it still match. The entry is itself chained (and checkpointed), so a forged
-- one breaks the chain like any other edit. Returns the rows removed (0: nothing to do).
CREATE FUNCTION audit_log_prune(through bigint, actor text, cutoff timestamptz)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    last_hash bytea;
    last_seq bigint;
    removed bigint;
    before_rows bigint;
BEGIN
    -- The chain lock (0004's trigger takes it too): no row is appended while the head moves.
    PERFORM pg_advisory_xact_lock(hashtext('nabd.audit_log'));
    SELECT seq, hash INTO last_seq, last_hash FROM audit_log
    WHERE seq <= through ORDER BY seq DESC LIMIT 1;
    IF last_seq IS NULL THEN
        RETURN 0;
    END IF;
    SELECT coalesce((details ->> 'rows')::bigint, 0) INTO before_rows FROM audit_log
    WHERE action = 'audit_log_pruned' ORDER BY seq DESC LIMIT 1;
    PERFORM set_config('nabd.audit_prune_through', last_seq::text, true);
    DELETE FROM audit_log WHERE seq <= last_seq;
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('nabd.audit_prune_through', '', true);
    INSERT INTO audit_log (actor, action, subject, details) VALUES (
        actor, 'audit_log_pruned', 'retention:audit_log',
        jsonb_build_object(
            'through_seq', last_seq, 'through_hash', encode(last_hash, 'hex'),
            'rows', coalesce(before_rows, 0) + removed, 'removed', removed,
            'cutoff', cutoff, 'login', session_user::text));
    RETURN removed;
END
$$;
REVOKE ALL ON FUNCTION audit_log_prune(bigint, text, timestamptz) FROM PUBLIC;

-- The latest prune entry, found without scanning the log (verify reads it first).
CREATE INDEX audit_log_pruned_idx ON audit_log (seq) WHERE action = 'audit_log_pruned';
