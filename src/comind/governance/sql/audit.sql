-- name: head
SELECT seq, hash FROM comind.audit_head WHERE id = 1;

-- name: last
SELECT coalesce(max(seq), 0) FROM comind.audit_log;

-- name: page
-- the canonical text is spelled out here, not read from comind.audit_text: a verifier must
-- not trust a function of the database it verifies
SELECT id, seq, prev_hash, hash,
       sha256(convert_to(concat_ws(chr(31), seq::text, encode(prev_hash, 'hex'),
              to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
              actor, action, target, outcome, detail::text), 'UTF8')) AS expected,
       -- the platform writes no field with the separator in it (nor an empty one, which
       -- concat_ws skips): one that has could have moved bytes across fields unseen
       concat(actor, action, target, outcome) LIKE '%%' || chr(31) || '%%'
           OR num_nulls(actor, action, target, outcome, detail) > 0 AS ambiguous
FROM comind.audit_log WHERE seq > %(after)s ORDER BY seq LIMIT %(limit)s;

-- name: at_seq
SELECT hash FROM comind.audit_log WHERE seq = %(seq)s;

-- name: export
SELECT seq, id, at, actor, action, target, outcome, detail, encode(prev_hash, 'hex'),
       encode(hash, 'hex')
FROM comind.audit_log WHERE seq > %(after)s AND at >= %(since)s ORDER BY seq LIMIT %(limit)s;
