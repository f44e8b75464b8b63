DROP INDEX jobs_unannounced;
DROP INDEX jobs_request;
ALTER TABLE jobs DROP COLUMN announced;
ALTER TABLE jobs DROP COLUMN request_id;
