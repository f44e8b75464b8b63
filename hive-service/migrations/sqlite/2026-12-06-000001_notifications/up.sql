-- The audit trail: one row per change, written in the change's transaction (action create,
-- update, delete or merge; TheHive 5's object names; details = the fields set, JSON).
CREATE TABLE audits (
    id BIGINT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL,
    action TEXT NOT NULL,
    main_action BOOLEAN NOT NULL,
    object_type TEXT NOT NULL,
    object_id BIGINT,
    details TEXT NOT NULL,
    root_type TEXT,
    root_id BIGINT,
    organisation_id BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    job_id BIGINT
);
CREATE INDEX audits_root ON audits (root_id, created_at);
CREATE INDEX audits_object ON audits (object_id, created_at);
CREATE INDEX audits_organisation ON audits (organisation_id, created_at);
CREATE INDEX audits_request ON audits (request_id);
-- Audits the notification dispatcher has not handled yet (written with the audit while
-- anything consumes notifications).
CREATE TABLE notification_queue (
    id BIGINT PRIMARY KEY NOT NULL,
    audit_id BIGINT NOT NULL
);
-- One delivery of one event to one endpoint (a webhook, RabbitMQ, a mail): the outbox the
-- deliverer works through in id order per endpoint.
CREATE TABLE notification_deliveries (
    id BIGINT PRIMARY KEY NOT NULL,
    endpoint TEXT NOT NULL,
    audit_id BIGINT NOT NULL,
    organisation_id BIGINT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX notification_deliveries_endpoint ON notification_deliveries (endpoint, status, id);
-- Configuration set through the API: per organisation (`notification`), or for the
-- platform (organisation 0: `notification.webhook.endpoints`). JSON values.
CREATE TABLE config_items (
    organisation_id BIGINT NOT NULL,
    path TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, path)
);
-- Work one instance does at a time (the notification dispatcher): who holds it, until when.
CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
