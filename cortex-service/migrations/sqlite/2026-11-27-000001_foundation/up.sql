-- Organizations and users with Cortex's roles, and instance-wide settings.
-- Cortex ids are names: an organization's id is its name, a user's id its login.
CREATE TABLE organizations (
    id TEXT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    roles TEXT NOT NULL,
    status TEXT NOT NULL,
    password_hash TEXT,
    password_changed_at BIGINT NOT NULL,
    api_key_hash TEXT UNIQUE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT
);
CREATE INDEX users_organization ON users (organization_id);

CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
