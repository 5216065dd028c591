-- A tamper-evident audit log: every entry carries a gapless `seq`, the hash of the entry
-- before it (`prev_hash`) and its own `hash` = SHA-256 over the canonical text of
-- (seq, prev_hash, at, actor, action, target, outcome, detail). A trigger sets them on every
-- insert, whoever inserts, serialized by the one-row chain head (an insert waits for the
-- one before it to commit or roll back, so seq has no gap). An edit changes an entry's
-- hash, a deletion leaves a gap in seq, an insertion breaks a prev_hash: `comind audit
-- verify` recomputes the chain and names the first broken entry. A superuser could rebuild
-- the whole chain after an edit: the anchors the platform writes to the backup store
-- (outside this database) catch that.
ALTER TABLE comind.audit_log ADD COLUMN seq bigint;
ALTER TABLE comind.audit_log ADD COLUMN prev_hash bytea;
ALTER TABLE comind.audit_log ADD COLUMN hash bytea;

CREATE FUNCTION comind.audit_text(seq bigint, prev bytea, at timestamptz, actor text,
                                  action text, target text, outcome text, detail jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT concat_ws(chr(31), seq::text, encode(prev, 'hex'),
                     to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                     actor, action, target, outcome, detail::text)
$$;

CREATE TABLE comind.audit_head (
    id   smallint PRIMARY KEY CHECK (id = 1),
    seq  bigint   NOT NULL,
    hash bytea    NOT NULL
);

-- the entries so far, chained in id order from a zero hash
WITH RECURSIVE ordered AS (
    SELECT id, row_number() OVER (ORDER BY id) AS seq FROM comind.audit_log
), chained AS (
    SELECT a.id, o.seq, decode(repeat('00', 32), 'hex') AS prev,
           sha256(convert_to(comind.audit_text(o.seq, decode(repeat('00', 32), 'hex'), a.at,
                  a.actor, a.action, a.target, a.outcome, a.detail), 'UTF8')) AS hash
    FROM comind.audit_log a JOIN ordered o USING (id) WHERE o.seq = 1
    UNION ALL
    SELECT a.id, o.seq, c.hash,
           sha256(convert_to(comind.audit_text(o.seq, c.hash, a.at, a.actor, a.action,
                  a.target, a.outcome, a.detail), 'UTF8'))
    FROM chained c JOIN ordered o ON o.seq = c.seq + 1 JOIN comind.audit_log a ON a.id = o.id
)
UPDATE comind.audit_log l SET seq = c.seq, prev_hash = c.prev, hash = c.hash
FROM chained c WHERE l.id = c.id;

INSERT INTO comind.audit_head (id, seq, hash)
SELECT 1, coalesce(max(seq), 0),
       coalesce((SELECT hash FROM comind.audit_log ORDER BY seq DESC LIMIT 1),
                decode(repeat('00', 32), 'hex'))
FROM comind.audit_log;

ALTER TABLE comind.audit_log ALTER COLUMN seq SET NOT NULL;
ALTER TABLE comind.audit_log ALTER COLUMN prev_hash SET NOT NULL;
ALTER TABLE comind.audit_log ALTER COLUMN hash SET NOT NULL;
CREATE UNIQUE INDEX audit_log_seq ON comind.audit_log (seq);

CREATE FUNCTION comind.audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head comind.audit_head;
BEGIN
    UPDATE comind.audit_head SET seq = seq + 1 WHERE id = 1 RETURNING * INTO head;
    NEW.seq := head.seq;
    NEW.prev_hash := head.hash;
    NEW.at := coalesce(NEW.at, now());
    NEW.hash := sha256(convert_to(comind.audit_text(NEW.seq, NEW.prev_hash, NEW.at,
                       NEW.actor, NEW.action, NEW.target, NEW.outcome, NEW.detail), 'UTF8'));
    UPDATE comind.audit_head SET hash = NEW.hash WHERE id = 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_chain BEFORE INSERT ON comind.audit_log
FOR EACH ROW EXECUTE FUNCTION comind.audit_chain();
