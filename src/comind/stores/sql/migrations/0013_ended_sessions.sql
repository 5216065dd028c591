-- Dashboard sessions ended before their time. A session cookie is signed, not stored, so
-- signing out records the session's random id here and every request checks it; the id '*'
-- ends every session that expires by its expires_at (all those issued until then: `comind
-- token end-sessions`). A row is needed only until the sessions it ends would have expired
-- anyway, so rows past expires_at are deleted.
CREATE TABLE comind.ended_sessions (
    id         text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
