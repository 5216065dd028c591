-- Review of 0030: the lease policy let a flow move any message of a queue it reads ahead of
-- every message waiting (visible_at in the past); a lease, a visibility change or a retry's
-- delay is never in the past
DROP POLICY lease ON comind.messages;
CREATE POLICY lease ON comind.messages FOR UPDATE
    USING (queue_id IN (SELECT comind.worker_receives()))
    WITH CHECK (queue_id IN (SELECT comind.worker_receives())
                AND visible_at BETWEEN now() AND now() + interval '12 hours');
