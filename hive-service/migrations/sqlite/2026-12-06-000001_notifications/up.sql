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
-- A case's or an alert's trail (timeline, access); an organisation's, newest first
-- (listAudit). Kept to two: every write pays for them.
CREATE INDEX audits_root ON audits (root_id, created_at);
CREATE INDEX audits_organisation ON audits (organisation_id, created_at);
-- Transactions whose audit records the notification dispatcher has not handled yet: one
-- row per transaction, written in it, with the ids of its records (a JSON array).
CREATE TABLE notification_queue (
    id BIGINT PRIMARY KEY NOT NULL,
    audit_ids TEXT NOT NULL
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
-- What is still to send, small however many deliveries are kept.
CREATE INDEX notification_deliveries_pending ON notification_deliveries (next_attempt_at)
    WHERE status = 'pending';
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
