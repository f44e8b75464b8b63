-- The engine: enabled workers, base configurations, jobs with their reports and artifacts,
-- and the instances running them (a heartbeat tells a live runner from a dead one).
CREATE TABLE workers (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    definition_id TEXT NOT NULL,
    definition TEXT NOT NULL,
    data_types TEXT NOT NULL,
    configuration TEXT NOT NULL,
    rate BIGINT,
    rate_unit TEXT,
    job_cache DOUBLE PRECISION,
    job_timeout DOUBLE PRECISION,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);
CREATE UNIQUE INDEX workers_org_name ON workers (organization_id, kind, name);

CREATE TABLE base_configs (
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, kind, name)
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    worker_id TEXT NOT NULL,
    worker_name TEXT NOT NULL,
    worker_definition_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    data_type TEXT NOT NULL,
    data TEXT,
    attachment TEXT,
    tlp INTEGER NOT NULL,
    pap INTEGER NOT NULL,
    message TEXT NOT NULL,
    parameters TEXT NOT NULL,
    label TEXT,
    cache_tag TEXT NOT NULL,
    start_date BIGINT,
    end_date BIGINT,
    error_message TEXT,
    input TEXT,
    report TEXT,
    runner TEXT,
    attempts INTEGER NOT NULL,
    published BOOLEAN NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);
CREATE INDEX jobs_org_created ON jobs (organization_id, created_at);
CREATE INDEX jobs_worker_created ON jobs (worker_id, created_at);
CREATE INDEX jobs_cache ON jobs (cache_tag, start_date);
CREATE INDEX jobs_status ON jobs (status);

CREATE TABLE artifacts (
    id TEXT PRIMARY KEY NOT NULL,
    job_id TEXT NOT NULL REFERENCES jobs (id),
    position INTEGER NOT NULL,
    data_type TEXT NOT NULL,
    data TEXT,
    attachment TEXT,
    tlp INTEGER NOT NULL,
    tags TEXT NOT NULL,
    message TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX artifacts_job ON artifacts (job_id, position);

CREATE TABLE instances (
    id TEXT PRIMARY KEY NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
