-- The platform's own advisory locks in this database (the leader's, the migrations') take one
-- bigint key; a flow's login, connected here for its queues and state, could take them first
-- and keep every replica from leading (red team 21g). Only the superuser may take them now:
-- flows keep the two-key form, which is another lock space, for their partitions.
REVOKE EXECUTE ON FUNCTION pg_advisory_lock(bigint), pg_try_advisory_lock(bigint),
    pg_advisory_xact_lock(bigint), pg_try_advisory_xact_lock(bigint),
    pg_advisory_lock_shared(bigint), pg_try_advisory_lock_shared(bigint),
    pg_advisory_xact_lock_shared(bigint), pg_try_advisory_xact_lock_shared(bigint)
    FROM PUBLIC;
