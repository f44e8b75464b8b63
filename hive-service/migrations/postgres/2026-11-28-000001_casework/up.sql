-- Case work: alerts, cases, observables, attachments, tasks, logs, case templates, custom
-- field values. Ids are allocated by the application; tags are JSON arrays in their row.

-- Named counters; `case_number` numbers cases instance-wide.
CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('case_number', 0);

-- Files, stored by SHA-256 in the datastore; `owner_id` is the case, alert, log or
-- organisation holding it (NULL when an observable holds it).
CREATE TABLE attachments (
    id BIGINT PRIMARY KEY NOT NULL,
    organisation_id BIGINT NOT NULL,
    owner_id BIGINT,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    md5 TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_owner ON attachments (owner_id);
CREATE INDEX attachments_sha256 ON attachments (sha256);

CREATE TABLE case_templates (
    id BIGINT PRIMARY KEY NOT NULL,
    organisation_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    title_prefix TEXT,
    description TEXT,
    severity INTEGER,
    tags TEXT NOT NULL,
    flag BOOLEAN NOT NULL,
    tlp INTEGER,
    pap INTEGER,
    summary TEXT,
    tasks TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT,
    UNIQUE (organisation_id, name)
);

CREATE TABLE cases (
    id BIGINT PRIMARY KEY NOT NULL,
    number BIGINT NOT NULL UNIQUE,
    organisation_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    severity INTEGER NOT NULL,
    start_date BIGINT NOT NULL,
    end_date BIGINT,
    tags TEXT NOT NULL,
    flag BOOLEAN NOT NULL,
    tlp INTEGER NOT NULL,
    pap INTEGER NOT NULL,
    status TEXT NOT NULL,
    stage TEXT NOT NULL,
    summary TEXT,
    impact_status TEXT,
    assignee TEXT,
    case_template TEXT,
    access_kind TEXT NOT NULL,
    access_users TEXT,
    in_progress_date BIGINT,
    closed_date BIGINT,
    alert_date BIGINT,
    alert_new_date BIGINT,
    alert_imported_date BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);
CREATE INDEX cases_organisation ON cases (organisation_id, id);
CREATE INDEX cases_organisation_created ON cases (organisation_id, created_at);

CREATE TABLE alerts (
    id BIGINT PRIMARY KEY NOT NULL,
    organisation_id BIGINT NOT NULL,
    alert_type TEXT NOT NULL,
    source TEXT NOT NULL,
    source_ref TEXT NOT NULL,
    external_link TEXT,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    severity INTEGER NOT NULL,
    date BIGINT NOT NULL,
    tags TEXT NOT NULL,
    flag BOOLEAN NOT NULL,
    tlp INTEGER NOT NULL,
    pap INTEGER NOT NULL,
    follow BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    stage TEXT NOT NULL,
    summary TEXT,
    assignee TEXT,
    case_template TEXT,
    case_id BIGINT,
    is_read BOOLEAN NOT NULL,
    last_sync_date BIGINT,
    in_progress_date BIGINT,
    closed_date BIGINT,
    imported_date BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT,
    UNIQUE (organisation_id, alert_type, source, source_ref)
);
CREATE INDEX alerts_organisation ON alerts (organisation_id, id);
CREATE INDEX alerts_organisation_created ON alerts (organisation_id, created_at);
CREATE INDEX alerts_case ON alerts (case_id);

-- Custom field values of cases, alerts and templates (`entity_id`); `value` is JSON.
CREATE TABLE custom_values (
    id BIGINT PRIMARY KEY NOT NULL,
    entity_id BIGINT NOT NULL,
    field_id BIGINT NOT NULL,
    position INTEGER NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX custom_values_entity ON custom_values (entity_id);
CREATE INDEX custom_values_field ON custom_values (field_id);

-- Observables belong to a case or to an alert.
CREATE TABLE observables (
    id BIGINT PRIMARY KEY NOT NULL,
    organisation_id BIGINT NOT NULL,
    case_id BIGINT,
    alert_id BIGINT,
    data_type TEXT NOT NULL,
    data TEXT,
    attachment_id BIGINT,
    -- SHA-256 of `data`, or of the file: what similarity and uniqueness compare (values
    -- can be too long for an index).
    data_hash TEXT NOT NULL,
    tlp INTEGER NOT NULL,
    pap INTEGER NOT NULL,
    tags TEXT NOT NULL,
    ioc BOOLEAN NOT NULL,
    sighted BOOLEAN NOT NULL,
    sighted_at BIGINT,
    ignore_similarity BOOLEAN NOT NULL,
    message TEXT,
    reports TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);
CREATE INDEX observables_case ON observables (case_id);
CREATE INDEX observables_alert ON observables (alert_id);
CREATE INDEX observables_data ON observables (data_type, data_hash);

CREATE TABLE tasks (
    id BIGINT PRIMARY KEY NOT NULL,
    case_id BIGINT NOT NULL,
    organisation_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    group_name TEXT NOT NULL,
    description TEXT,
    status TEXT NOT NULL,
    flag BOOLEAN NOT NULL,
    start_date BIGINT,
    end_date BIGINT,
    task_order BIGINT NOT NULL,
    due_date BIGINT,
    assignee TEXT,
    mandatory BOOLEAN NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);
CREATE INDEX tasks_case ON tasks (case_id);

CREATE TABLE logs (
    id BIGINT PRIMARY KEY NOT NULL,
    task_id BIGINT NOT NULL,
    organisation_id BIGINT NOT NULL,
    message TEXT NOT NULL,
    date BIGINT NOT NULL,
    owner TEXT NOT NULL,
    include_in_timeline BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);
CREATE INDEX logs_task ON logs (task_id);
