-- Every receive moves a row in messages_ready and every delete leaves a dead entry at the
-- head of it; receives scan past those until vacuum removes them. Vacuum the queue table
-- after a fixed number of changes instead of 20 % of its size, and without throttling.
ALTER TABLE comind.messages SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 2000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0.05
);
