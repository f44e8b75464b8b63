-- Analyzer jobs and responder actions run on Cortex servers. One row per job, which is also
-- the outbox of its submission: `dispatch` is `pending` until the server (REST) or the
-- broker (RabbitMQ) took it, `sent` while its result is awaited, `done` once applied.
CREATE TABLE cortex_jobs (
    id BIGINT PRIMARY KEY NOT NULL,
    organisation_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id BIGINT NOT NULL,
    cortex_id TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    worker_name TEXT NOT NULL,
    worker_definition TEXT NOT NULL,
    request_id TEXT NOT NULL,
    cortex_job_id TEXT,
    status TEXT NOT NULL,
    start_date BIGINT NOT NULL,
    end_date BIGINT,
    report TEXT,
    operations TEXT NOT NULL,
    parameters TEXT NOT NULL,
    tlp INTEGER,
    dispatch TEXT NOT NULL,
    transport TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);
CREATE UNIQUE INDEX cortex_jobs_request ON cortex_jobs (request_id);
CREATE INDEX cortex_jobs_object ON cortex_jobs (object_type, object_id);
CREATE INDEX cortex_jobs_org ON cortex_jobs (organisation_id, kind);
CREATE INDEX cortex_jobs_dispatch ON cortex_jobs (dispatch, next_attempt);
