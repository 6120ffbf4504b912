-- A station user changes her own password; an admin resets another's (docs/station.md).
--
-- The station's login may not write `password_hash` itself: one SECURITY DEFINER function,
-- executable only by `nabd_station`, stores a new Argon2id hash, ends the user's other
-- sessions (all of them after a reset by someone else: whoever knew the old password is out),
-- clears her failed sign-ins and appends `station_password_changed` (herself) or
-- `station_password_reset` (an admin) to the audit log. Checking the current password, the
-- strength rule and the admin's ward scope is the station's (nabd.station.passwords, .account).
-- After a reset, `must_change_password` sends her to the change form at her next sign-in.

ALTER TABLE station_user
    ADD COLUMN must_change_password boolean NOT NULL DEFAULT false,
    ADD COLUMN password_changed_at  timestamptz;

CREATE FUNCTION station_set_password(
    p_name text, p_password_hash text, p_must_change boolean, p_by text, p_keep bytea
) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE station_user SET password_hash = p_password_hash,
           must_change_password = p_must_change, password_changed_at = now(),
           failed_logins = 0, locked_until = NULL
     WHERE name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no user %', quote_literal(coalesce(p_name, '')) USING ERRCODE = '22023';
    END IF;
    DELETE FROM station_session
     WHERE user_name = p_name AND token_sha256 IS DISTINCT FROM p_keep;
    INSERT INTO audit_log (actor, action, subject, details)
        VALUES (p_by,
                CASE WHEN p_by = p_name THEN 'station_password_changed'
                     ELSE 'station_password_reset' END,
                'station_user:' || p_name,
                jsonb_build_object('must_change', p_must_change));
END $$;

REVOKE ALL ON FUNCTION station_set_password(text, text, boolean, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION station_set_password(text, text, boolean, text, bytea) TO nabd_station;
