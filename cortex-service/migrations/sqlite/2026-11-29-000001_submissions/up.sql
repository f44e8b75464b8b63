-- Jobs submitted with the submitter's own id (RabbitMQ submissions, REST `requestId`): a
-- redelivered submission finds its job instead of making a second one. `announced` is the
-- final status whose event the broker confirmed: until it matches, the heartbeat publishes
-- the final event again, so a submitter never misses the end of its job.
ALTER TABLE jobs ADD COLUMN request_id TEXT;
ALTER TABLE jobs ADD COLUMN announced TEXT;
CREATE UNIQUE INDEX jobs_request ON jobs (organization_id, request_id);
CREATE INDEX jobs_unannounced ON jobs (end_date) WHERE request_id IS NOT NULL AND announced IS NULL;
