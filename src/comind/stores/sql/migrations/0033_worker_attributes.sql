-- Red team 21i: a flow's message attributes are checked as a send checks them (0030 read
-- their JSON text, where U+0008 and U+000C are written \b and \f, and looked at neither the
-- name, the type nor a number's value): a name SQS allows, a type String, Number or Binary
-- (with a label), a value that is not empty and, for a number, one; no character an XML
-- answer cannot carry, in the name or the value (M1b, L1b)
CREATE OR REPLACE FUNCTION comind.attributes_well_formed(doc jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN jsonb_typeof(doc) = 'object'
        AND (SELECT count(*) FROM jsonb_object_keys(doc) k WHERE k <> 'aws.trace') <= 10
        AND NOT EXISTS (SELECT 1 FROM jsonb_each(doc) a WHERE NOT coalesce(
            jsonb_typeof(a.value) = 'object'
            AND jsonb_typeof(a.value -> 't') = 'string'
            AND a.value - 't' - 's' - 'b' = '{}'::jsonb
            AND (a.value ? 's') <> (a.value ? 'b')
            AND jsonb_typeof(coalesce(a.value -> 's', a.value -> 'b')) = 'string'
            AND (a.key = 'aws.trace' OR (length(a.key) <= 256 AND a.key ~ '^[A-Za-z0-9_.-]+$'
                 AND a.key !~* '^(aws|amazon)\.' AND a.key !~ '(^\.|\.\.|\.$)'))
            AND a.value ->> 't' ~ '^(String|Number|Binary)(\..*)?$'
            AND (a.value ? 'b') = (a.value ->> 't' LIKE 'Binary%')
            AND coalesce(a.value ->> 's', a.value ->> 'b') <> ''
            AND (a.value ->> 't' NOT LIKE 'Number%'
                 OR a.value ->> 's' ~ '^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$')
            AND (a.value ->> 't') || coalesce(a.value ->> 's', '')
                !~ '[\x01-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]',
            false));
END $$;

-- I1: a check that could not decide (NULL) refuses too
CREATE OR REPLACE FUNCTION comind.must(allowed boolean, what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF allowed IS NOT TRUE THEN
        RAISE EXCEPTION 'permission denied for %', what USING ERRCODE = 'insufficient_privilege';
    END IF;
END $$;

-- I1: a token's scope is `dataset/NAME/FIELD` or `flow/NAME/FIELD`, nothing longer
CREATE OR REPLACE FUNCTION comind.may_scope(scope text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
        OR (scope ~ '^(dataset|flow)/[^/]+/[^/]+$' AND EXISTS (
            SELECT 1 FROM comind.worker_grants g
            WHERE g.role = session_user AND g.name = split_part(scope, '/', 2)
              AND g.kind = split_part(scope, '/', 1)));
END $$;
