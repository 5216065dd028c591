-- Restore tests of every backup (issue 21): how long the last test took, how long its
-- restore took until the copy served (what the RTO is measured from) and the WAL replay
-- rate it saw, and how many tests ran. The result stays in verify_status / verified_at /
-- verify_error.
ALTER TABLE comind.backups
    ADD COLUMN verify_seconds          double precision,
    ADD COLUMN restore_seconds         double precision,
    ADD COLUMN replay_bytes_per_second double precision,
    ADD COLUMN verify_count            integer NOT NULL DEFAULT 0;
CREATE INDEX backups_untested ON comind.backups (finished_at)
    WHERE status = 'complete' AND verify_status IS NULL;
