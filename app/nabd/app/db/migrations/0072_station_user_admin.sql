-- Station users managed from the station's admin page (docs/station.md), not only by the owner.
--
-- Creating a user creates her NOLOGIN role (0070), which only the owner may do. These functions
-- are SECURITY DEFINER (they run with the owner's rights) and do exactly what `nabd web user
-- add` did and nothing more: the role's name is derived from the user's (`nabd_su_<name>`), it is
-- only ever made a member of `nabd_ward_dashboards` and granted to `nabd_station`, and every change
-- is audited with the name of the person who made it. Only `nabd_station` (and the owner) may
-- call them. Which wards an admin may give is the station's check, made under her own role
-- (row-level security) before it calls them; the functions check the values themselves.

-- At least one ward, every one of them known (both functions below).
CREATE FUNCTION station_check_wards(p_wards text[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
    missing text;
BEGIN
    IF coalesce(cardinality(p_wards), 0) = 0 THEN
        RAISE EXCEPTION 'give at least one ward' USING ERRCODE = '22023';
    END IF;
    SELECT string_agg(w, ', ' ORDER BY w) INTO missing
    FROM unnest(p_wards) AS w WHERE NOT EXISTS (SELECT 1 FROM ward WHERE id = w);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'unknown ward(s) %', missing USING ERRCODE = '22023';
    END IF;
END $$;
REVOKE ALL ON FUNCTION station_check_wards(text[]) FROM PUBLIC;

CREATE FUNCTION station_add_user(
    p_name text, p_display_name text, p_role text, p_password_hash text, p_lang text,
    p_sees_identity boolean, p_wards text[], p_by text
) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r text := 'nabd_su_' || translate(p_name, '.-', '__');
BEGIN
    IF p_name IS NULL OR p_name !~ '^[a-z0-9][a-z0-9._-]{0,62}$' THEN
        RAISE EXCEPTION 'user name % is not accepted: 1-63 lower-case letters, digits, ''.'', ''_'' or ''-''', quote_literal(coalesce(p_name, ''))
            USING ERRCODE = '22023';
    END IF;
    PERFORM station_check_wards(p_wards);
    IF EXISTS (SELECT 1 FROM station_user WHERE name = p_name) THEN
        RAISE EXCEPTION 'user % already exists', quote_literal(p_name) USING ERRCODE = '23505';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
    EXECUTE format('GRANT nabd_ward_dashboards TO %I', r);
    EXECUTE format('GRANT %I TO nabd_station', r);
    INSERT INTO ward_viewer (role_name, ward_id)
        SELECT r, w FROM unnest(p_wards) AS w ON CONFLICT DO NOTHING;
    INSERT INTO station_user (name, display_name, role, password_hash, lang, sees_identity, db_role)
        VALUES (p_name, btrim(p_display_name), p_role, p_password_hash, p_lang, p_sees_identity, r);
    INSERT INTO audit_log (actor, action, subject, details)
        VALUES (p_by, 'station_user_added', 'station_user:' || p_name,
                jsonb_build_object('role', p_role, 'wards', to_jsonb(p_wards)));
END $$;

-- Role, wards and whether she may sign in; disabling ends her sessions at once.
CREATE FUNCTION station_set_user(
    p_name text, p_role text, p_wards text[], p_disabled boolean, p_by text
) RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u station_user%ROWTYPE;
    before text[];
BEGIN
    SELECT * INTO u FROM station_user WHERE name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no user %', quote_literal(coalesce(p_name, '')) USING ERRCODE = '22023';
    END IF;
    PERFORM station_check_wards(p_wards);
    SELECT coalesce(array_agg(ward_id ORDER BY ward_id), '{}') INTO before
    FROM ward_viewer WHERE role_name = u.db_role;
    DELETE FROM ward_viewer WHERE role_name = u.db_role AND ward_id <> ALL (p_wards);
    INSERT INTO ward_viewer (role_name, ward_id)
        SELECT u.db_role, w FROM unnest(p_wards) AS w ON CONFLICT DO NOTHING;
    UPDATE station_user SET role = p_role,
           disabled_at = CASE WHEN p_disabled THEN coalesce(disabled_at, now()) END,
           failed_logins = CASE WHEN p_disabled THEN failed_logins ELSE 0 END,
           locked_until = CASE WHEN p_disabled THEN locked_until END
     WHERE name = p_name;
    IF p_disabled THEN
        DELETE FROM station_session WHERE user_name = p_name;
    END IF;
    INSERT INTO audit_log (actor, action, subject, details)
        VALUES (p_by, 'station_user_changed', 'station_user:' || p_name,
                jsonb_build_object('role', jsonb_build_array(u.role, p_role),
                                   'wards', jsonb_build_array(to_jsonb(before), to_jsonb(p_wards)),
                                   'disabled', jsonb_build_array(u.disabled_at IS NOT NULL,
                                                                 p_disabled)));
END $$;

REVOKE ALL ON FUNCTION station_add_user(text, text, text, text, text, boolean, text[], text),
                       station_set_user(text, text, text[], boolean, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION station_add_user(text, text, text, text, text, boolean, text[], text),
                          station_set_user(text, text, text[], boolean, text) TO nabd_station;
-- The users page lists each user's wards.
GRANT SELECT ON ward_viewer TO nabd_station;
